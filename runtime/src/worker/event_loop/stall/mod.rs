//! The stall detector. Every poll of an async activity's future is timed; a poll that
//! holds its event-loop thread past the threshold is code that blocks, and gets one
//! warning naming the activity. A sweep from the control runtime finds polls that are
//! still running, so an activity that blocks for good is named too, while it blocks.
//!
//! The sweep also flags such a poll as holding its loop (one counter per loop, see
//! `spare.rs`): when every thread of a loop is held, new async activities go to a spare.

mod in_progress;
mod poll_clock;
#[cfg(any(test, feature = "bench-internals"))]
mod probe;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use self::in_progress::InProgress;
use self::poll_clock::PollClock;
#[cfg(feature = "bench-internals")]
pub(crate) use self::probe::{stall_detector_cost, stall_report_delay};
use super::spare::{EventLoops, Route};
use crate::invoke::{BoxOutcome, Outcome};
use crate::registry::ActivityDescriptor;
use crate::telemetry::metrics::WorkerMetrics;

/// Shared by every async activity of a worker.
#[derive(Clone)]
pub(crate) struct StallWatch {
    threshold: Duration,
    stalls: Arc<AtomicU64>,
    /// The poll each event-loop thread is in, if any; wakes the sweep.
    in_progress: Arc<InProgress>,
    metrics: WorkerMetrics,
    /// Weak: the futures it watches hold a `StallWatch`, and may run on a spare.
    loops: Weak<EventLoops>,
}

/// Set in `poll_started` by the sweep when it flags the poll in progress as holding its
/// thread; stamps never reach it (2^63 ns is 292 years).
const FLAGGED: u64 = 1 << 63;

/// How long past a poll's threshold the sweep looks at it: room for the clock reads on
/// either side, so that a poll still running then is past the threshold for sure.
const MARGIN: Duration = Duration::from_millis(1);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamp(at: Instant) -> u64 {
    at.duration_since(epoch()).as_nanos() as u64 + 1
}

impl StallWatch {
    pub(crate) fn new(
        threshold: Duration,
        stalls: Arc<AtomicU64>,
        metrics: WorkerMetrics,
        loops: Weak<EventLoops>,
    ) -> Self {
        epoch();
        StallWatch {
            threshold,
            stalls,
            metrics,
            loops,
            in_progress: Arc::new(InProgress::new()),
        }
    }

    pub(crate) fn watch(
        &self,
        future: BoxOutcome,
        descriptor: &'static ActivityDescriptor,
        activity_id: String,
        attempt: u32,
        held: Arc<AtomicUsize>,
    ) -> Watched {
        let clock = Arc::new(PollClock {
            descriptor,
            activity_id,
            attempt,
            poll_started: AtomicU64::new(0),
            held,
            warned: AtomicU64::new(0),
        });
        Watched {
            future,
            watch: self.clone(),
            clock,
        }
    }

    /// Warns about polls still running past the threshold and flags them as holding
    /// their loop, until `stop`; then lets the spares rebalance (start one, retire idle
    /// ones). At `stop` (worker end) the spares are dropped.
    ///
    /// It looks only when a poll could have become a stall: while no poll is in progress
    /// it sleeps until one starts; then until the threshold after the start of the
    /// oldest poll not yet reported (`MARGIN` past it). So a poll that holds its thread
    /// is reported `MARGIN` plus timer slack after the threshold, and an idle worker,
    /// however many activities are parked, costs the sweep nothing. While spares exist
    /// it also looks every half threshold, to retire them once their stalls end.
    pub(crate) async fn sweep(self, stop: CancellationToken) {
        let period = (self.threshold / 2).max(Duration::from_millis(5));
        loop {
            let next = self.look();
            let spares = self.loops.upgrade().is_some_and(|loops| loops.has_spares());
            let wake = match next {
                Some(due) if spares => due.min(Instant::now() + period),
                Some(due) => due,
                None if spares => Instant::now() + period,
                None => {
                    tokio::select! {
                        _ = self.in_progress.await_poll() => {}
                        _ = stop.cancelled() => break,
                    }
                    // The poll that woke us began now: no stall before the threshold.
                    Instant::now() + self.threshold + MARGIN
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = stop.cancelled() => break,
            }
        }
        if let Some(loops) = self.loops.upgrade() {
            loops.shutdown();
        }
    }

    /// One look of the sweep: reports and flags the polls past the threshold, and says
    /// when the oldest poll in progress not yet past it will be.
    fn look(&self) -> Option<Instant> {
        let now = Instant::now();
        let now_stamp = stamp(now);
        let threshold = u64::try_from(self.threshold.as_nanos()).unwrap_or(u64::MAX);
        let mut overdue = Vec::new();
        let mut oldest_pending: Option<u64> = None;
        for clock in self.in_progress.current() {
            let raw = clock.poll_started.load(Ordering::Acquire);
            let started = raw & !FLAGGED;
            if started == 0 {
                continue;
            }
            if now_stamp.saturating_sub(started) > threshold {
                overdue.push((clock, raw));
            } else {
                oldest_pending = Some(oldest_pending.map_or(started, |old| old.min(started)));
            }
        }
        self.report(overdue, now_stamp);
        oldest_pending.map(|started| {
            let age = Duration::from_nanos(now_stamp.saturating_sub(started));
            now + self.threshold.saturating_sub(age) + MARGIN
        })
    }

    /// Flags each overdue poll, warns about those not warned about yet, and rebalances.
    fn report(&self, overdue: Vec<(Arc<PollClock>, u64)>, now: u64) {
        let mut warn = Vec::new();
        for (clock, raw) in overdue {
            let started = raw & !FLAGGED;
            let held = Duration::from_nanos(now.saturating_sub(started));
            if raw & FLAGGED == 0 {
                flag(&clock, raw);
            }
            if self.claim(&clock, started) {
                warn.push((clock, held));
            }
        }
        let route = match self.loops.upgrade() {
            Some(loops) => loops.rebalance(),
            None => Route::Primary,
        };
        let takeover = route.describe();
        for (clock, held) in warn {
            warn_stall(&clock, held, "so far, and is still running", &takeover);
        }
    }

    /// Whether an async activity was polled since `*seen` was taken (updating it), or is
    /// being polled now: the event loop has work.
    pub(crate) fn polled_since(&self, seen: &mut u64) -> bool {
        self.in_progress.polled_since(seen)
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

/// Counts the poll that began at `raw` in its loop's `held`, unless it has ended since.
fn flag(clock: &PollClock, raw: u64) {
    // Counted first, so that the count never goes below zero when the poll ends at once.
    clock.held.fetch_add(1, Ordering::AcqRel);
    let flagged = clock.poll_started.compare_exchange(
        raw,
        raw | FLAGGED,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    if flagged.is_err() {
        clock.held.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `takeover` is empty, or says where new async activities go now (`Route::describe`).
fn warn_stall(clock: &PollClock, held: Duration, how: &str, takeover: &str) {
    let descriptor = clock.descriptor;
    warn!(
        activity = descriptor.name,
        location = %descriptor.location,
        activity_id = %clock.activity_id,
        attempt = clock.attempt,
        held_ms = held.as_millis() as u64,
        "async activity `{}` ({}) has held its event-loop thread for {held:?} {how}: it \
         blocks; make it a plain #[activity] fn or move the blocking call into \
         legwork::run_blocking{takeover}",
        descriptor.name,
        descriptor.location,
    );
}

/// An async activity's future, timed poll by poll.
pub(crate) struct Watched {
    future: BoxOutcome,
    watch: StallWatch,
    clock: Arc<PollClock>,
}

impl Future for Watched {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        let began = Instant::now();
        let started = stamp(began);
        this.clock.poll_started.store(started, Ordering::Release);
        let (future, clock) = (&mut this.future, &this.clock);
        let poll = this
            .watch
            .in_progress
            .publish(clock, || future.as_mut().poll(cx));
        // A swap, not a store: the sweep may have flagged this poll meanwhile.
        if this.clock.poll_started.swap(0, Ordering::AcqRel) & FLAGGED != 0 {
            this.clock.held.fetch_sub(1, Ordering::AcqRel);
        }
        let held = began.elapsed();
        if held > this.watch.threshold {
            let activity = this.clock.descriptor.name;
            this.watch.metrics.stall_ended(activity, held);
            if this.watch.claim(&this.clock, started) {
                warn_stall(&this.clock, held, "in one poll", "");
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
