//! Event-loop lag: how late work runs on a runtime. A runtime whose threads are all
//! blocked runs nothing, so its lag grows for as long as it is blocked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::Histogram;
use tokio::runtime::Handle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Rare enough that an idle worker stays idle; a blocked runtime shows anyway, as the
/// age of the probe still waiting.
pub(crate) const TICK: Duration = Duration::from_millis(500);

/// Lag seen on one runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lag {
    /// The longest any probe waited to run, counting one still waiting.
    pub max: Duration,
    /// The mean wait of the probes that ran.
    pub mean: Duration,
    /// How many probes have run since the worker started: one per 500 ms while the
    /// runtime keeps up (for the event loop: while it has async activities to poll),
    /// fewer while it is blocked.
    pub samples: u64,
}

/// Both runtimes' lag, from one timer on the control runtime (one wake per `TICK`): how
/// late the timer fires is `control`'s lag; and while the event loop has work (`busy`:
/// a poll started since the last tick, or one in progress), a probe task spawned there
/// measures `event_loop`'s, from the spawn to the moment it runs. While a probe waits,
/// its age counts, so a runtime blocked for good still shows a growing lag. An idle event
/// loop is not woken to be measured: it has nothing to be late with.
pub(crate) async fn probe(
    control: Arc<LagMonitor>,
    event_loop: Arc<LagMonitor>,
    target: Handle,
    mut busy: impl FnMut() -> bool,
    stop: CancellationToken,
) {
    let waiting = Arc::new(AtomicBool::new(false));
    let mut sent = Instant::now();
    let mut due = Instant::now() + TICK;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = stop.cancelled() => return,
        }
        let now = Instant::now();
        control.record(now.saturating_duration_since(due));
        due = now + TICK;
        if waiting.load(Ordering::Acquire) {
            event_loop.note_max(sent.elapsed());
            continue;
        }
        if !busy() {
            continue;
        }
        waiting.store(true, Ordering::Release);
        sent = Instant::now();
        let (monitor, waiting) = (event_loop.clone(), waiting.clone());
        target.spawn(async move {
            monitor.record(sent.elapsed());
            waiting.store(false, Ordering::Release);
        });
    }
}

#[derive(Default)]
pub(crate) struct LagMonitor {
    max_micros: AtomicU64,
    total_micros: AtomicU64,
    samples: AtomicU64,
    /// Every sample, in ms, for `/metrics` (`legwork_*_lag`).
    histogram: Option<Histogram>,
}

impl LagMonitor {
    /// A monitor that also records each sample in `histogram`.
    pub(crate) fn recording(histogram: Histogram) -> Self {
        LagMonitor {
            histogram: Some(histogram),
            ..LagMonitor::default()
        }
    }

    fn record(&self, lag: Duration) {
        if let Some(histogram) = &self.histogram {
            histogram.observe(crate::telemetry::metrics::duration_ms(lag));
        }
        self.note_max(lag);
        self.total_micros
            .fetch_add(lag.as_micros() as u64, Ordering::Relaxed);
        self.samples.fetch_add(1, Ordering::Relaxed);
    }

    fn note_max(&self, lag: Duration) {
        self.max_micros
            .fetch_max(lag.as_micros() as u64, Ordering::Relaxed);
    }

    pub(crate) fn lag(&self) -> Lag {
        let samples = self.samples.load(Ordering::Relaxed);
        let total = self.total_micros.load(Ordering::Relaxed);
        Lag {
            max: Duration::from_micros(self.max_micros.load(Ordering::Relaxed)),
            mean: Duration::from_micros(total.checked_div(samples).unwrap_or(0)),
            samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_max_and_mean() {
        let monitor = LagMonitor::default();
        monitor.record(Duration::from_millis(1));
        monitor.record(Duration::from_millis(5));
        let lag = monitor.lag();
        assert_eq!(
            (lag.max, lag.mean, lag.samples),
            (Duration::from_millis(5), Duration::from_millis(3), 2)
        );
    }

    #[test]
    fn a_runtime_blocked_for_good_shows_a_growing_lag() {
        let control = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let target = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (blocked, release) = std::sync::mpsc::channel::<()>();
        target.spawn(async move {
            let _ = release.recv(); // blocks the only thread until the test ends
        });
        let monitor = Arc::new(LagMonitor::default());
        let stop = CancellationToken::new();
        control.block_on(async {
            let prober = tokio::spawn(probe(
                Arc::default(),
                monitor.clone(),
                target.handle().clone(),
                || true,
                stop.clone(),
            ));
            tokio::time::sleep(TICK * 5).await;
            stop.cancel();
            prober.await.unwrap();
        });
        assert!(monitor.lag().max >= TICK * 3, "{:?}", monitor.lag());
        drop(blocked);
        target.shutdown_background();
    }
}
