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
//! The logic here is pure; `PollerGate` (`poller_gate.rs`) puts it behind a lock for the poll
//! loop.

use std::time::Duration;

use super::pollers::Behavior;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::polling::pollers::Pollers;

    fn autoscaling() -> Scaler {
        Scaler::new(
            Pollers::default().resolve(true).unwrap(),
            false, // the capability is not needed once a decision was seen
        )
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
}
