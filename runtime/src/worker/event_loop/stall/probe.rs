//! What the stall detector costs and how fast it reports, for `benches/event_loop.rs`
//! (feature `bench-internals`); `PENDING` also serves the unit test below.

#[cfg(feature = "bench-internals")]
use {
    super::StallWatch,
    crate::invoke::BoxOutcome,
    crate::telemetry::metrics::WorkerMetrics,
    std::sync::atomic::{AtomicU64, Ordering},
    std::sync::{Arc, Weak},
    std::time::{Duration, Instant},
};

use crate::registry::ActivityDescriptor;

/// An async activity that never finishes: what the watch needs of a descriptor is its
/// name and location.
pub(super) static PENDING: ActivityDescriptor = ActivityDescriptor {
    name: "pending",
    function: "pending",
    location: crate::registry::SourceLocation {
        file: file!(),
        line: line!(),
        column: 1,
    },
    invoker: crate::registry::Invoker::Async(|_, _| Box::pin(std::future::pending())),
    max_concurrent: None,
};

#[cfg(feature = "bench-internals")]
fn bench_watch(threshold: Duration, stalls: Arc<AtomicU64>) -> StallWatch {
    let metrics = WorkerMetrics::new("bench", "bench", 1, []);
    StallWatch::new(threshold, stalls, metrics, Weak::new())
}

/// Nanoseconds per poll of a future that is pending every time: plain, then watched.
#[cfg(feature = "bench-internals")]
pub(crate) fn stall_detector_cost(polls: u32) -> (f64, f64) {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Waker};

    use crate::invoke::Outcome;

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
    let watch = bench_watch(Duration::from_millis(100), Arc::default());
    let watched =
        time(&mut watch.watch(pending(), &PENDING, "bench".to_owned(), 1, Arc::default()));
    (plain, watched)
}

/// How long after a poll begins to block the sweep reports it, for `samples` polls that
/// each block for twice `threshold`, started at staggered moments (so that they fall at
/// every phase of a periodic sweep). The sweep runs as in a worker, on a runtime of its
/// own; a probe thread sees the report as the stall counter moves.
#[cfg(feature = "bench-internals")]
pub(crate) fn stall_report_delay(threshold: Duration, samples: u32) -> Vec<Duration> {
    let stalls = Arc::new(AtomicU64::new(0));
    let watch = bench_watch(threshold, stalls.clone());
    let stop = tokio_util::sync::CancellationToken::new();
    let control = std::thread::spawn({
        let (watch, stop) = (watch.clone(), stop.clone());
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the sweep");
            runtime.block_on(watch.sweep(stop));
        }
    });
    let event_loop = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the blocking polls");
    let mut delays = Vec::new();
    for sample in 0..samples {
        // Staggered by a golden-ratio fraction of the threshold each time, which spreads
        // the starts over every phase of a sweep whose period divides the threshold.
        std::thread::sleep(threshold.mul_f64((f64::from(sample) * 0.618_034).fract()));
        let before = stalls.load(Ordering::Acquire);
        let began = Arc::new(std::sync::OnceLock::new());
        let blocking: BoxOutcome = Box::pin({
            let (began, hold) = (began.clone(), threshold * 2);
            async move {
                let _ = began.set(Instant::now());
                std::thread::sleep(hold);
                Ok(crate::payload::Payload::default())
            }
        });
        let watched = watch.watch(blocking, &PENDING, "bench".into(), 1, Arc::default());
        let probe = std::thread::spawn({
            let (stalls, began) = (stalls.clone(), began.clone());
            move || {
                while stalls.load(Ordering::Acquire) == before {
                    std::hint::spin_loop();
                }
                let seen = Instant::now();
                began.get().map(|began| seen.duration_since(*began))
            }
        });
        let _ = event_loop.block_on(watched);
        if let Ok(Some(delay)) = probe.join() {
            delays.push(delay);
        }
    }
    stop.cancel();
    let _ = control.join();
    delays
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Weak};
    use std::time::Duration;

    use super::PENDING;
    use crate::invoke::BoxOutcome;
    use crate::telemetry::metrics::WorkerMetrics;
    use crate::worker::event_loop::stall::StallWatch;

    /// A poll the sweep sees past the threshold counts in its loop's `held` until it ends.
    #[test]
    fn a_flagged_poll_holds_its_loop_until_it_returns() {
        let metrics = WorkerMetrics::new("test", "test", 1, []);
        let stalls = Arc::new(AtomicU64::new(0));
        let watch = StallWatch::new(
            Duration::from_millis(20),
            stalls.clone(),
            metrics,
            Weak::new(),
        );
        let held = Arc::new(AtomicUsize::new(0));
        let blocking: BoxOutcome = Box::pin(async {
            std::thread::sleep(Duration::from_millis(300));
            Ok(crate::payload::Payload::default())
        });
        let watched = watch.watch(blocking, &PENDING, "a".to_owned(), 1, held.clone());
        let poller = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(watched)
        });
        std::thread::sleep(Duration::from_millis(100));
        watch.look();
        assert_eq!(held.load(Ordering::Acquire), 1, "flagged while it blocks");
        watch.look();
        assert_eq!(held.load(Ordering::Acquire), 1, "flagged once");
        poller.join().unwrap().unwrap();
        assert_eq!(
            held.load(Ordering::Acquire),
            0,
            "released when the poll returns"
        );
        assert_eq!(stalls.load(Ordering::Relaxed), 1, "one stall, warned once");
    }
}
