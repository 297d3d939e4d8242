//! The in-flight ledger: every attempt not yet reported, by task token, and the rule that
//! each is reported exactly once: whoever takes a token out of the ledger reports it (the
//! attempt's own task when it ends, or shutdown at the end of the grace period), and
//! nobody else does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::respond::Report;
use crate::attempt::{Attempt, CancelReason};

pub(crate) type TaskToken = Vec<u8>;
/// An attempt not yet reported: its activity type and shared state.
pub(crate) type Outstanding = (String, Arc<Attempt>);

#[derive(Default)]
pub(crate) struct InFlight {
    attempts: Mutex<HashMap<TaskToken, Outstanding>>,
    all_reported: Notify,
    completed: AtomicU64,
    failed: AtomicU64,
    canceled: AtomicU64,
}

/// Reports counted so far, by kind.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) canceled: u64,
}

impl InFlight {
    pub(crate) fn register(&self, token: TaskToken, activity: String, attempt: Arc<Attempt>) {
        self.lock().insert(token, (activity, attempt));
    }

    /// Takes the attempt out: the caller, and only it, reports it.
    pub(crate) fn take(&self, token: &[u8]) -> Option<Outstanding> {
        let mut attempts = self.lock();
        let entry = attempts.remove(token);
        if attempts.is_empty() {
            self.all_reported.notify_waiters();
        }
        entry
    }

    /// Every attempt still outstanding, taken out for the caller to report.
    pub(crate) fn take_all(&self) -> Vec<(TaskToken, Outstanding)> {
        let taken: Vec<_> = self.lock().drain().collect();
        self.all_reported.notify_waiters();
        taken
    }

    /// Cancels the attempt holding `token`, if this worker holds it.
    pub(crate) fn cancel(&self, token: &[u8], reason: CancelReason) -> bool {
        let attempt = self.lock().get(token).map(|(_, attempt)| attempt.clone());
        attempt.map(|attempt| attempt.cancel(reason)).is_some()
    }

    pub(crate) fn cancel_all(&self, reason: CancelReason) {
        for (_, attempt) in self.lock().values() {
            attempt.cancel(reason);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no attempt is outstanding by `deadline`.
    pub(crate) async fn wait_until_empty(&self, deadline: Instant) -> bool {
        loop {
            let all_reported = self.all_reported.notified();
            if self.lock().is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline.into(), all_reported)
                .await
                .is_err()
            {
                return self.lock().is_empty();
            }
        }
    }

    /// Counts a report about to be sent.
    pub(crate) fn count(&self, report: &Report) {
        let counter = match report {
            Report::Completed(_) => &self.completed,
            Report::Failed { .. } => &self.failed,
            Report::Canceled { .. } => &self.canceled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            completed: self.completed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            canceled: self.canceled.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskToken, Outstanding>> {
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    fn attempt() -> Arc<Attempt> {
        Attempt::new(CancellationToken::new(), None)
    }

    #[tokio::test]
    async fn a_token_is_taken_once_and_emptiness_is_announced() {
        let ledger = Arc::new(InFlight::default());
        let first = attempt();
        ledger.register(vec![1], "a".into(), first.clone());
        ledger.register(vec![2], "b".into(), attempt());
        assert!(ledger.cancel(&[1], CancelReason::CancelRequested));
        assert!(!ledger.cancel(&[9], CancelReason::CancelRequested));
        assert_eq!(first.cancel_reason(), Some(CancelReason::CancelRequested));
        assert!(ledger.take(&[1]).is_some());
        assert!(ledger.take(&[1]).is_none(), "a second taker gets nothing");
        let waiter = tokio::spawn({
            let ledger = ledger.clone();
            async move {
                ledger
                    .wait_until_empty(Instant::now() + Duration::from_secs(10))
                    .await
            }
        });
        assert_eq!(ledger.take_all().len(), 1);
        assert!(waiter.await.unwrap());
        assert!(InFlight::default().wait_until_empty(Instant::now()).await);
        let busy = InFlight::default();
        busy.register(vec![3], "c".into(), attempt());
        assert!(!busy.wait_until_empty(Instant::now()).await);
    }
}
