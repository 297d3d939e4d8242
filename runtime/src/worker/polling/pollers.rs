//! How many `PollActivityTaskQueue` calls a worker keeps open, and how that number follows
//! the server's `poller_scaling_decision`, with sdk-core's rules (`PollScaler` in
//! `crates/sdk-core/src/pollers/poll_buffer.rs`):
//!
//! - a decision below zero always lowers the target; one above zero raises it only when
//!   the last 100 ms ingested at least 1.1× the tasks of the 100 ms before (more polls that
//!   bring no more tasks only cost the server); both are clamped to the bounds;
//! - an empty poll without a decision lowers the target by one, once the server has shown
//!   it scales (a decision seen, or the namespace's `poller_autoscaling` capability), so
//!   an idle worker settles at the minimum;
//! - `ResourceExhausted` halves the target, other errors lower it by one.
//!
//! The logic here is pure; [`PollerGate`] puts it behind a lock for the poll loop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// How many polls a worker keeps open. [`Pollers::Auto`] by default.
///
/// ```
/// use legwork::worker::{Pollers, WorkerOptions};
///
/// let mut options = WorkerOptions::new("images");
/// options.pollers = Pollers::Fixed(2);
/// options.pollers = Pollers::autoscaling(1, 5, 100);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pollers {
    /// Autoscaling with the SDKs' bounds (minimum 1, initial 5, maximum 100) where the
    /// namespace asks workers to enrol (its `poller_autoscaling_auto_enroll` capability),
    /// else a fixed 5, as Go's SDK does with poller settings left at their defaults.
    #[default]
    Auto,
    /// Exactly this many polls, whatever the server suggests.
    Fixed(usize),
    /// Follow the server's suggestions within `minimum..=maximum`, starting at `initial`.
    Autoscaling {
        /// The fewest polls kept open; at least 1.
        minimum: usize,
        /// The polls opened at start; at least `minimum`.
        initial: usize,
        /// The most polls open at once; at least `initial`.
        maximum: usize,
    },
}

impl Pollers {
    /// The SDKs' autoscaling bounds (sdk-go `internal_worker.go`, sdk-python `_worker.py`):
    /// the fewest polls an autoscaling worker keeps open.
    pub const DEFAULT_MINIMUM: usize = 1;
    /// Polls an autoscaling worker starts with, and the fixed count of [`Pollers::Auto`]
    /// on namespaces that do not enrol workers.
    pub const DEFAULT_INITIAL: usize = 5;
    /// The most polls an autoscaling worker keeps open.
    pub const DEFAULT_MAXIMUM: usize = 100;

    /// Autoscaling within `minimum..=maximum`, starting at `initial`.
    pub fn autoscaling(minimum: usize, initial: usize, maximum: usize) -> Self {
        Pollers::Autoscaling {
            minimum,
            initial,
            maximum,
        }
    }

    /// What the worker does on a namespace that does (or does not) ask workers to enrol;
    /// an error names the setting that cannot work.
    pub(crate) fn resolve(self, auto_enroll: bool) -> Result<Behavior, String> {
        match self {
            Pollers::Auto if auto_enroll => Ok(Behavior::Autoscaling {
                minimum: Pollers::DEFAULT_MINIMUM,
                initial: Pollers::DEFAULT_INITIAL,
                maximum: Pollers::DEFAULT_MAXIMUM,
            }),
            Pollers::Auto => Ok(Behavior::Fixed(Pollers::DEFAULT_INITIAL)),
            Pollers::Fixed(0) => Err("pollers (--pollers) must be at least 1".to_owned()),
            Pollers::Fixed(count) => Ok(Behavior::Fixed(count)),
            Pollers::Autoscaling {
                minimum,
                initial,
                maximum,
            } if minimum >= 1 && minimum <= initial && initial <= maximum => {
                Ok(Behavior::Autoscaling {
                    minimum,
                    initial,
                    maximum,
                })
            }
            Pollers::Autoscaling {
                minimum,
                initial,
                maximum,
            } => Err(format!(
                "poller autoscaling needs 1 <= minimum <= initial <= maximum, got minimum \
                 {minimum}, initial {initial}, maximum {maximum}; fix --pollers MIN..MAX"
            )),
        }
    }
}

/// The poller setting a worker runs with, once the namespace is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Behavior {
    Fixed(usize),
    Autoscaling {
        minimum: usize,
        initial: usize,
        maximum: usize,
    },
}

impl Behavior {
    pub(crate) fn is_autoscaling(self) -> bool {
        matches!(self, Behavior::Autoscaling { .. })
    }
}

/// How often ingestion is compared with the period before, as sdk-core does.
pub(crate) const INGESTION_PERIOD: Duration = Duration::from_millis(100);
/// The poll deadline while tasks arrive often, so that polls opened during a burst do
/// not linger for a minute after it (sdk-core's value).
pub(crate) const BUSY_POLL_DEADLINE: Duration = Duration::from_secs(11);

/// The target number of polls and what it is derived from.
#[derive(Debug)]
pub(crate) struct Scaler {
    minimum: usize,
    maximum: usize,
    target: usize,
    autoscaling: bool,
    ever_saw_decision: bool,
    server_supports_autoscaling: bool,
    ingested_this_period: usize,
    ingested_last_period: usize,
    scale_up_allowed: bool,
}

impl Scaler {
    pub(crate) fn new(behavior: Behavior, server_supports_autoscaling: bool) -> Self {
        let (minimum, initial, maximum, autoscaling) = match behavior {
            Behavior::Fixed(count) => (1, count, count, false),
            Behavior::Autoscaling {
                minimum,
                initial,
                maximum,
            } => (minimum, initial, maximum, true),
        };
        Scaler {
            minimum,
            maximum,
            target: initial,
            autoscaling,
            ever_saw_decision: false,
            server_supports_autoscaling,
            ingested_this_period: 0,
            ingested_last_period: 0,
            scale_up_allowed: true,
        }
    }

    /// How many polls should be open now.
    pub(crate) fn target(&self) -> usize {
        self.target
    }

    /// A poll answered: with a task or empty, with or without a decision.
    pub(crate) fn on_response(&mut self, has_task: bool, decision: Option<i32>) {
        if !self.autoscaling {
            return;
        }
        if has_task {
            self.ingested_this_period += 1;
        }
        match decision {
            Some(delta) if delta < 0 => {
                self.change(|target| target.saturating_sub(delta.unsigned_abs() as usize))
            }
            Some(delta) if delta > 0 && self.scale_up_allowed => {
                self.change(|target| target.saturating_add(delta as usize))
            }
            Some(_) => {}
            None if !has_task && self.can_scale_down() => {
                self.change(|target| target.saturating_sub(1))
            }
            None => {}
        }
        if decision.is_some() {
            self.ever_saw_decision = true;
        }
    }

    /// A poll failed.
    pub(crate) fn on_error(&mut self, resource_exhausted: bool) {
        if !self.autoscaling || !self.can_scale_down() {
            return;
        }
        if resource_exhausted {
            self.change(|target| target / 2);
        } else {
            self.change(|target| target.saturating_sub(1));
        }
    }

    /// Every [`INGESTION_PERIOD`]: scaling up stays allowed while it brings more tasks.
    pub(crate) fn tick(&mut self) {
        let ingested = std::mem::take(&mut self.ingested_this_period);
        let before = std::mem::replace(&mut self.ingested_last_period, ingested);
        self.scale_up_allowed = ingested as f64 >= before as f64 * 1.1;
    }

    /// A shorter deadline for the next poll while tasks arrive often.
    pub(crate) fn poll_deadline(&self, normal: Duration) -> Duration {
        if self.ingested_this_period > 1 {
            BUSY_POLL_DEADLINE.min(normal)
        } else {
            normal
        }
    }

    fn can_scale_down(&self) -> bool {
        self.ever_saw_decision || self.server_supports_autoscaling
    }

    fn change(&mut self, change: impl FnOnce(usize) -> usize) {
        self.target = change(self.target).clamp(self.minimum, self.maximum);
    }
}

/// The scaler shared by the poll loop and its polls, with the count of polls open.
pub(crate) struct PollerGate {
    scaler: Mutex<Scaler>,
    active: Mutex<usize>,
    changed: Notify,
    autoscaling: bool,
}

impl PollerGate {
    pub(crate) fn new(behavior: Behavior, server_supports_autoscaling: bool) -> Arc<Self> {
        Arc::new(PollerGate {
            scaler: Mutex::new(Scaler::new(behavior, server_supports_autoscaling)),
            active: Mutex::new(0),
            changed: Notify::new(),
            autoscaling: behavior.is_autoscaling(),
        })
    }

    pub(crate) fn is_autoscaling(&self) -> bool {
        self.autoscaling
    }

    /// Polls open now (started and not yet done with, backoff included).
    pub(crate) fn active(&self) -> usize {
        *self.active.lock().unwrap()
    }

    /// The scaler's target now.
    pub(crate) fn target(&self) -> usize {
        self.scaler.lock().unwrap().target()
    }

    /// Waits until one more poll may open, and counts it open until the guard drops.
    pub(crate) async fn open(self: &Arc<Self>) -> OpenPoll {
        loop {
            let changed = self.changed.notified();
            {
                let target = self.target();
                let mut active = self.active.lock().unwrap();
                if *active < target {
                    *active += 1;
                    return OpenPoll(self.clone());
                }
            }
            changed.await;
        }
    }

    /// The deadline for the next poll (shorter while busy, when autoscaling).
    pub(crate) fn poll_deadline(&self, normal: Duration) -> Duration {
        self.scaler.lock().unwrap().poll_deadline(normal)
    }

    /// Applies `update` to the scaler and wakes the poll loop, whose limit may have moved.
    pub(crate) fn update<T>(&self, update: impl FnOnce(&mut Scaler) -> T) -> T {
        let result = update(&mut self.scaler.lock().unwrap());
        self.changed.notify_waiters();
        result
    }

    /// Runs the ingestion check every [`INGESTION_PERIOD`] until `stop`.
    pub(crate) async fn run_ingestion_check(
        self: Arc<Self>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        if !self.autoscaling {
            return;
        }
        let mut interval = tokio::time::interval(INGESTION_PERIOD);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = interval.tick() => self.update(Scaler::tick),
            }
        }
    }
}

/// One open poll; dropping it lets the next one open.
pub(crate) struct OpenPoll(Arc<PollerGate>);

impl Drop for OpenPoll {
    fn drop(&mut self) {
        *self.0.active.lock().unwrap() -= 1;
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn autoscaling() -> Scaler {
        Scaler::new(
            Pollers::default().resolve(true).unwrap(),
            false, // the capability is not needed once a decision was seen
        )
    }

    #[test]
    fn auto_follows_the_namespace_and_bad_bounds_are_refused() {
        assert_eq!(Pollers::Auto.resolve(false).unwrap(), Behavior::Fixed(5));
        assert_eq!(
            Pollers::Auto.resolve(true).unwrap(),
            Behavior::Autoscaling {
                minimum: 1,
                initial: 5,
                maximum: 100
            }
        );
        assert_eq!(Pollers::Fixed(3).resolve(true).unwrap(), Behavior::Fixed(3));
        assert!(Pollers::Fixed(0).resolve(false).is_err());
        let error = Pollers::autoscaling(2, 1, 10).resolve(false).unwrap_err();
        assert!(error.contains("minimum 2, initial 1"), "{error}");
        assert!(Pollers::autoscaling(0, 1, 10).resolve(false).is_err());
    }

    #[test]
    fn decisions_move_the_target_within_bounds() {
        let mut scaler = autoscaling();
        assert_eq!(scaler.target(), 5);
        scaler.on_response(true, Some(1));
        assert_eq!(scaler.target(), 6);
        scaler.on_response(true, Some(300));
        assert_eq!(scaler.target(), 100);
        scaler.on_response(true, Some(-3));
        assert_eq!(scaler.target(), 97);
        scaler.on_response(true, Some(-1000));
        assert_eq!(scaler.target(), 1);
        scaler.on_response(true, Some(0));
        assert_eq!(scaler.target(), 1);
    }

    #[test]
    fn scaling_up_needs_ingestion_to_grow() {
        let mut scaler = autoscaling();
        for _ in 0..10 {
            scaler.on_response(true, None);
        }
        scaler.tick();
        assert!(scaler.scale_up_allowed, "10 tasks after 0");
        for _ in 0..10 {
            scaler.on_response(true, None);
        }
        scaler.tick();
        // 10 after 10: more polls did not bring more tasks.
        scaler.on_response(true, Some(1));
        assert_eq!(scaler.target(), 5);
        scaler.on_response(true, Some(-1));
        assert_eq!(scaler.target(), 4, "scaling down is always allowed");
        for _ in 0..11 {
            scaler.on_response(true, None);
        }
        scaler.tick();
        scaler.on_response(true, Some(1));
        assert_eq!(scaler.target(), 5, "11 after 10 is 1.1×");
    }

    #[test]
    fn empty_polls_scale_down_only_once_the_server_has_shown_it_scales() {
        let behavior = Pollers::Auto.resolve(true).unwrap();
        let mut unsure = Scaler::new(behavior, false);
        unsure.on_response(false, None);
        unsure.on_error(true);
        assert_eq!(unsure.target(), 5);
        unsure.on_response(true, Some(0));
        unsure.on_response(false, None);
        assert_eq!(unsure.target(), 4);

        let mut capable = Scaler::new(behavior, true);
        for _ in 0..10 {
            capable.on_response(false, None);
        }
        assert_eq!(capable.target(), 1, "never below the minimum");
    }

    #[test]
    fn errors_shrink_the_target() {
        let mut scaler = Scaler::new(
            Pollers::autoscaling(2, 40, 100).resolve(false).unwrap(),
            true,
        );
        scaler.on_error(true);
        assert_eq!(scaler.target(), 20);
        scaler.on_error(false);
        assert_eq!(scaler.target(), 19);
        for _ in 0..10 {
            scaler.on_error(true);
        }
        assert_eq!(scaler.target(), 2);
    }

    #[test]
    fn a_fixed_count_ignores_the_server() {
        let mut scaler = Scaler::new(Behavior::Fixed(3), true);
        scaler.on_response(true, Some(5));
        scaler.on_response(false, None);
        scaler.on_error(true);
        assert_eq!(scaler.target(), 3);
        assert_eq!(
            scaler.poll_deadline(Duration::from_secs(70)),
            Duration::from_secs(70)
        );
    }

    #[test]
    fn busy_periods_shorten_the_poll_deadline() {
        let mut scaler = autoscaling();
        let normal = Duration::from_secs(70);
        scaler.on_response(true, None);
        assert_eq!(scaler.poll_deadline(normal), normal);
        scaler.on_response(true, None);
        assert_eq!(scaler.poll_deadline(normal), BUSY_POLL_DEADLINE);
        scaler.tick();
        assert_eq!(scaler.poll_deadline(normal), normal);
    }

    #[tokio::test]
    async fn the_gate_keeps_open_polls_at_the_target() {
        let gate = PollerGate::new(Behavior::Fixed(2), false);
        let first = gate.open().await;
        let _second = gate.open().await;
        assert_eq!(gate.active(), 2);
        let third = tokio::time::timeout(Duration::from_millis(50), gate.open()).await;
        assert!(third.is_err(), "a third poll opened past the target");
        drop(first);
        let _third = tokio::time::timeout(Duration::from_secs(1), gate.open())
            .await
            .expect("a poll opens once one closes");
        assert_eq!(gate.active(), 2);
    }
}
