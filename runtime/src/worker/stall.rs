//! The stall detector. Every poll of an async activity's future is timed; a poll that
//! holds its event-loop thread past the threshold is code that blocks, and gets one
//! warning naming the activity. A sweep from the control runtime finds polls that are
//! still running, so an activity that blocks for good is named too, while it blocks.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::registry::{ActivityDescriptor, BoxOutcome, Outcome};
use crate::telemetry::metrics::WorkerMetrics;

/// Shared by every async activity of a worker.
#[derive(Clone)]
pub(crate) struct StallWatch {
    threshold: Duration,
    stalls: Arc<AtomicU64>,
    polling: Arc<Mutex<HashMap<u64, Arc<PollClock>>>>,
    next_id: Arc<AtomicU64>,
    /// Wakes the sweep when an async activity starts; it sleeps while none runs.
    started: Arc<Notify>,
    metrics: WorkerMetrics,
}

/// One activity's poll in progress, stamped in nanoseconds since `epoch()` (0: none).
struct PollClock {
    descriptor: &'static ActivityDescriptor,
    activity_id: String,
    attempt: u32,
    poll_started: AtomicU64,
    /// The start stamp of the latest poll already warned about.
    warned: AtomicU64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamp(at: Instant) -> u64 {
    at.duration_since(epoch()).as_nanos() as u64 + 1
}

impl StallWatch {
    pub(crate) fn new(threshold: Duration, stalls: Arc<AtomicU64>, metrics: WorkerMetrics) -> Self {
        epoch();
        StallWatch {
            threshold,
            stalls,
            metrics,
            polling: Arc::default(),
            next_id: Arc::default(),
            started: Arc::default(),
        }
    }

    pub(crate) fn watch(
        &self,
        future: BoxOutcome,
        descriptor: &'static ActivityDescriptor,
        activity_id: String,
        attempt: u32,
    ) -> Watched {
        let clock = Arc::new(PollClock {
            descriptor,
            activity_id,
            attempt,
            poll_started: AtomicU64::new(0),
            warned: AtomicU64::new(0),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.polling.lock().unwrap().insert(id, clock.clone());
        self.started.notify_one();
        Watched {
            future,
            watch: self.clone(),
            clock,
            id,
        }
    }

    /// Warns about polls still running past the threshold, until `stop`. Looks every half
    /// threshold while async activities run, and sleeps while none does.
    pub(crate) async fn sweep(self, stop: CancellationToken) {
        let period = (self.threshold / 2).max(Duration::from_millis(5));
        loop {
            if self.polling.lock().unwrap().is_empty() {
                tokio::select! {
                    _ = self.started.notified() => {}
                    _ = stop.cancelled() => return,
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.cancelled() => return,
            }
            let now = stamp(Instant::now());
            let clocks: Vec<Arc<PollClock>> =
                self.polling.lock().unwrap().values().cloned().collect();
            for clock in clocks {
                let started = clock.poll_started.load(Ordering::Acquire);
                let held = Duration::from_nanos(now.saturating_sub(started));
                if started != 0 && held > self.threshold && self.claim(&clock, started) {
                    warn_stall(&clock, held, "so far, and is still running");
                }
            }
        }
    }

    /// True for the first of the sweep and the poll itself to report the poll at `started`.
    fn claim(&self, clock: &PollClock, started: u64) -> bool {
        let first = clock.warned.fetch_max(started, Ordering::AcqRel) < started;
        if first {
            self.stalls.fetch_add(1, Ordering::Relaxed);
            self.metrics.stalled(clock.descriptor.name);
        }
        first
    }
}

fn warn_stall(clock: &PollClock, held: Duration, how: &str) {
    let descriptor = clock.descriptor;
    warn!(
        activity = descriptor.name,
        location = %descriptor.location,
        activity_id = %clock.activity_id,
        attempt = clock.attempt,
        held_ms = held.as_millis() as u64,
        "async activity `{}` ({}) has held its event-loop thread for {held:?} {how}: it \
         blocks; make it a plain #[activity] fn or move the blocking call into \
         legwork::run_blocking",
        descriptor.name,
        descriptor.location,
    );
}

/// An async activity's future, timed poll by poll.
pub(crate) struct Watched {
    future: BoxOutcome,
    watch: StallWatch,
    clock: Arc<PollClock>,
    id: u64,
}

impl Future for Watched {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        let began = Instant::now();
        let started = stamp(began);
        this.clock.poll_started.store(started, Ordering::Release);
        let poll = this.future.as_mut().poll(cx);
        this.clock.poll_started.store(0, Ordering::Release);
        let held = began.elapsed();
        if held > this.watch.threshold {
            let activity = this.clock.descriptor.name;
            this.watch.metrics.stall_ended(activity, held);
            if this.watch.claim(&this.clock, started) {
                warn_stall(&this.clock, held, "in one poll");
            } else {
                info!(
                    activity = this.clock.descriptor.name,
                    activity_id = %this.clock.activity_id,
                    "async activity released its event-loop thread after {held:?}"
                );
            }
        }
        poll
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.watch.polling.lock().unwrap().remove(&self.id);
    }
}

/// Nanoseconds per poll of a future that is pending every time: plain, then watched.
pub(crate) fn stall_detector_cost(polls: u32) -> (f64, f64) {
    use std::task::Waker;

    static NOOP: ActivityDescriptor = ActivityDescriptor {
        name: "noop",
        function: "noop",
        location: crate::registry::SourceLocation {
            file: file!(),
            line: line!(),
            column: 1,
        },
        invoker: crate::registry::Invoker::Async(|_, _| Box::pin(std::future::pending())),
    };
    let pending = || -> BoxOutcome { Box::pin(std::future::pending()) };
    let mut cx = Context::from_waker(Waker::noop());
    let mut time = |future: &mut (dyn Future<Output = Outcome> + Unpin)| {
        let began = Instant::now();
        for _ in 0..polls {
            let _ = std::hint::black_box(Pin::new(&mut *future).poll(&mut cx));
        }
        began.elapsed().as_nanos() as f64 / f64::from(polls)
    };
    let plain = time(&mut pending());
    let metrics = WorkerMetrics::new("bench", "bench", 1, []);
    let watch = StallWatch::new(Duration::from_millis(100), Arc::default(), metrics);
    let watched = time(&mut watch.watch(pending(), &NOOP, "bench".to_owned(), 1));
    (plain, watched)
}
