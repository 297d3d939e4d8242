//! Backoff for RPCs, with sdk-core's parameters.

use std::time::Duration;

use tonic::{Code, Status};

pub(crate) struct Backoff {
    initial: Duration,
    multiplier: f64,
    max_interval: Duration,
}

/// Completions: 100 ms, ×1.7, at most 5 s apart, until the attempt's deadline.
pub(crate) const CALL: Backoff = Backoff {
    initial: Duration::from_millis(100),
    multiplier: 1.7,
    max_interval: Duration::from_secs(5),
};

/// Long polls: 200 ms, ×2, at most 10 s apart, forever.
pub(crate) const POLL: Backoff = Backoff {
    initial: Duration::from_millis(200),
    multiplier: 2.0,
    max_interval: Duration::from_secs(10),
};

impl Backoff {
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(30) as i32);
        self.initial.mul_f64(factor).min(self.max_interval)
    }
}

/// The codes sdk-core retries, except "message larger than max", which never succeeds.
pub(crate) fn is_retryable(status: &Status) -> bool {
    match status.code() {
        Code::ResourceExhausted => !status.message().contains("larger than max"),
        Code::DataLoss
        | Code::Internal
        | Code::Unknown
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::Cancelled => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap() {
        assert_eq!(POLL.delay(1), Duration::from_millis(200));
        assert_eq!(POLL.delay(2), Duration::from_millis(400));
        assert_eq!(POLL.delay(20), Duration::from_secs(10));
        assert_eq!(CALL.delay(2), Duration::from_millis(170));
    }

    #[test]
    fn oversized_messages_are_final() {
        assert!(!is_retryable(&Status::resource_exhausted(
            "message larger than max (5 vs 4)"
        )));
        assert!(is_retryable(&Status::unavailable("down")));
        assert!(!is_retryable(&Status::not_found("gone")));
    }
}
