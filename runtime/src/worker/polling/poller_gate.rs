//! `PollerGate`: the poll scaler behind a lock, with the count of polls open, for the poll
//! loop (which waits on it before each poll) and its polls (which report to it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::poll_scaler::{Scaler, INGESTION_PERIOD};
use super::pollers::Behavior;

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
