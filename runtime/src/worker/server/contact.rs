//! Whether the worker can reach the server. An outage is one warning when it begins and
//! one line when it ends, however many polls, heartbeats and completions fail meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::Notify;
use tonic::{Code, Status};
use tracing::{info, warn};

/// Shared by every call the worker makes.
#[derive(Debug, Default)]
pub(crate) struct Contact {
    /// Read on every call; the mutex is taken only when contact changes.
    lost: AtomicBool,
    since: Mutex<Option<Instant>>,
    /// Wakes pollers backing off, so that polling resumes the moment any call gets through.
    back: Notify,
}

impl Contact {
    /// Notes how a call ended: any answer from the server is contact, a transport failure
    /// or a deadline is not.
    pub(crate) fn observe<T>(&self, result: &Result<T, Status>) {
        match result {
            Err(status) if is_unreachable(status) => self.lost(status),
            _ => self.reached(),
        }
    }

    fn lost(&self, status: &Status) {
        if self.lost.load(Ordering::Relaxed) {
            return;
        }
        let mut since = self.since.lock().unwrap();
        if since.is_none() {
            *since = Some(Instant::now());
            self.lost.store(true, Ordering::Relaxed);
            warn!(
                cause = %cause(status),
                "lost contact with the Temporal server; polls, heartbeats and results are \
                 retried with backoff until it answers"
            );
        }
    }

    fn reached(&self) {
        if !self.lost.load(Ordering::Relaxed) {
            return;
        }
        let mut since = self.since.lock().unwrap();
        if let Some(lost_at) = since.take() {
            self.lost.store(false, Ordering::Relaxed);
            info!(
                outage = ?lost_at.elapsed(),
                "in contact with the Temporal server again"
            );
            self.back.notify_waiters();
        }
    }

    /// Resolves when contact comes back (after an outage this call saw begin).
    pub(crate) async fn back(&self) {
        self.back.notified().await
    }
}

/// Failures that mean "no answer": the connection is down, reset or silent. Anything
/// else is the server answering, which proves contact.
pub(crate) fn is_unreachable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded => true,
        // tonic's own deadline passing; a plain "operation was canceled" is a call cut
        // short by the server rotating its connections (GOAWAY), which is not an outage.
        Code::Cancelled => status.message().contains("Timeout expired"),
        // tonic reports a broken HTTP/2 connection as Unknown, with the cause attached.
        Code::Unknown => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

/// The status in one line, without tonic's metadata and details.
fn cause(status: &Status) -> String {
    let message = status.message().split_whitespace().collect::<Vec<_>>();
    format!("{:?}: {}", status.code(), message.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_transition_each_way() {
        let contact = Contact::default();
        contact.observe::<()>(&Err(Status::unavailable("down")));
        assert!(contact.lost.load(Ordering::Relaxed));
        let first = *contact.since.lock().unwrap();
        contact.observe::<()>(&Err(Status::deadline_exceeded("silent")));
        assert_eq!(
            *contact.since.lock().unwrap(),
            first,
            "still the same outage"
        );
        // The server answering with an error is contact.
        contact.observe::<()>(&Err(Status::not_found("gone")));
        assert!(!contact.lost.load(Ordering::Relaxed));
        assert!(contact.since.lock().unwrap().is_none());
        contact.observe(&Ok(()));
        assert!(!contact.lost.load(Ordering::Relaxed));
    }

    #[test]
    fn what_counts_as_unreachable() {
        assert!(is_unreachable(&Status::unavailable("x")));
        assert!(is_unreachable(&Status::deadline_exceeded("x")));
        assert!(!is_unreachable(&Status::unknown("the server said so")));
        assert!(!is_unreachable(&Status::invalid_argument("x")));
        assert!(!is_unreachable(&Status::unauthenticated("x")));
        assert!(is_unreachable(&Status::cancelled("Timeout expired")));
        assert!(!is_unreachable(&Status::cancelled(
            "operation was canceled"
        )));
    }
}
