//! Backoff for RPCs, with sdk-core's parameters and its jitter: each delay is drawn
//! uniformly within ±20 % of the exponential one (sdk-core's `randomization_factor`), so
//! that after an outage a fleet of workers does not retry in lockstep.

use std::time::Duration;

use tonic::{Code, Status};

pub(crate) struct Backoff {
    initial: Duration,
    multiplier: f64,
    max_interval: Duration,
    /// Each delay is the exponential one times a factor drawn from `1 ± jitter`.
    jitter: f64,
}

/// Completions: 100 ms, ×1.7, at most 5 s apart, until the attempt's deadline.
pub(crate) const CALL: Backoff = Backoff {
    initial: Duration::from_millis(100),
    multiplier: 1.7,
    max_interval: Duration::from_secs(5),
    jitter: 0.2,
};

/// Long polls: 200 ms, ×2, at most 10 s apart, forever.
pub(crate) const POLL: Backoff = Backoff {
    initial: Duration::from_millis(200),
    multiplier: 2.0,
    max_interval: Duration::from_secs(10),
    jitter: 0.2,
};

impl Backoff {
    /// The wait before retry number `attempt` (1 for the first), jittered.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        self.delay_at(attempt, fastrand::f64())
    }

    /// The wait with `unit`, in `[0, 1)`, as the random draw.
    fn delay_at(&self, attempt: u32, unit: f64) -> Duration {
        let factor = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(30) as i32);
        let exponential = self.initial.mul_f64(factor).min(self.max_interval);
        exponential.mul_f64(1.0 - self.jitter + 2.0 * self.jitter * unit)
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
        assert_eq!(POLL.delay_at(1, 0.5), Duration::from_millis(200));
        assert_eq!(POLL.delay_at(2, 0.5), Duration::from_millis(400));
        assert_eq!(POLL.delay_at(20, 0.5), Duration::from_secs(10));
        assert_eq!(CALL.delay_at(2, 0.5), Duration::from_millis(170));
        // The ends of the jitter: ±20 %.
        assert_eq!(POLL.delay_at(1, 0.0), Duration::from_millis(160));
        assert_eq!(POLL.delay_at(20, 1.0), Duration::from_secs(12));
    }

    #[test]
    fn jittered_delays_stay_within_their_bounds_and_spread() {
        for (backoff, attempt, base) in [
            (&POLL, 1, Duration::from_millis(200)),
            (&POLL, 30, Duration::from_secs(10)),
            (&CALL, 3, Duration::from_millis(289)),
        ] {
            let draws: Vec<_> = (0..1000).map(|_| backoff.delay(attempt)).collect();
            let (low, high) = (base.mul_f64(0.8), base.mul_f64(1.2));
            assert!(draws.iter().all(|d| *d >= low && *d <= high), "{draws:?}");
            // Spread over the range, not stuck in one place: both outer fifths are hit.
            let span = high - low;
            assert!(draws.iter().any(|d| *d < low + span / 5));
            assert!(draws.iter().any(|d| *d > high - span / 5));
        }
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
