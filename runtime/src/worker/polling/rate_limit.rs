//! The worker's own activity rate limit (`WorkerOptions::max_activities_per_second`).
//!
//! As sdk-core's `max_worker_activities_per_second`, it spaces the *starts of polls* by
//! 1/rate, with no burst: each poll brings at most one task, so tasks arrive no faster
//! than the limit, and a task the worker may not start yet stays on the server, where
//! another worker can take it, instead of waiting in this one's memory.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::worker::invalid_option::InvalidOption;

/// Spaces events by a fixed period; cheap enough to sit before every poll.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    period: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `None` when `per_second` sets no limit (absent, zero or not a number).
    pub(crate) fn new(per_second: Option<f64>) -> Option<Self> {
        let per_second = per_second.filter(|rate| rate.is_finite() && *rate > 0.0)?;
        Some(RateLimiter {
            period: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(None),
        })
    }

    /// Books the next free instant at or after `now`, and returns it.
    pub(crate) fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap();
        // No burst: time not used while idle is not saved up.
        let at = next.map_or(now, |next| next.max(now));
        *next = Some(at + self.period);
        at
    }

    /// Waits for the next free instant.
    pub(crate) async fn acquire(&self) {
        let at = self.reserve(Instant::now());
        tokio::time::sleep_until(at).await;
    }
}

/// Checks a rate given in the options or on the command line.
pub(crate) fn validate(
    option: &'static str,
    flag: &'static str,
    rate: Option<f64>,
) -> Result<(), InvalidOption> {
    match rate {
        Some(rate) if !(rate.is_finite() && rate > 0.0) => Err(InvalidOption::new(
            option,
            flag,
            format!("must be a positive number of activities per second, got {rate}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_spaced_by_the_period_without_burst() {
        let limiter = RateLimiter::new(Some(20.0)).unwrap();
        let start = Instant::now();
        let times: Vec<_> = (0..5).map(|_| limiter.reserve(start)).collect();
        for (i, at) in times.iter().enumerate() {
            assert_eq!(*at - start, Duration::from_millis(50) * i as u32);
        }
        // An idle second saves nothing up: the next two are still 50 ms apart.
        let later = start + Duration::from_secs(5);
        assert_eq!(limiter.reserve(later), later);
        assert_eq!(limiter.reserve(later), later + Duration::from_millis(50));
    }

    #[test]
    fn no_limit_and_bad_limits() {
        assert!(RateLimiter::new(None).is_none());
        assert!(RateLimiter::new(Some(0.0)).is_none());
        let check = |rate| validate("rate", "--rate", rate);
        assert!(check(Some(0.5)).is_ok());
        assert!(check(None).is_ok());
        let error = check(Some(-1.0)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid rate: must be a positive number of activities per second, got -1"
        );
        assert!(check(Some(f64::NAN)).is_err());
        assert!(check(Some(0.0)).is_err());
    }

    #[tokio::test]
    async fn acquire_waits_for_the_booked_instant() {
        let limiter = RateLimiter::new(Some(10.0)).unwrap();
        let start = Instant::now();
        for _ in 0..4 {
            limiter.acquire().await;
        }
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
    }
}
