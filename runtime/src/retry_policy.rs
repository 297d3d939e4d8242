//! [`RetryPolicy`]: how the server retries a failed activity. One type for both sides:
//! what an attempt reads in [`ActivityInfo`](crate::ActivityInfo) and what the client
//! sends with a start.

use std::time::Duration;

use crate::proto;

/// How the server retries a failed activity. Unset fields take the server's defaults
/// (1 s initial interval, backoff 2.0, maximum 100 × initial, unlimited attempts).
///
/// ```
/// use std::time::Duration;
/// use legwork::RetryPolicy;
///
/// let mut policy = RetryPolicy::default();
/// policy.initial_interval = Some(Duration::from_millis(200));
/// policy.maximum_attempts = Some(5);
/// policy.non_retryable_error_types = vec!["InvalidOrder".into()];
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The wait before the first retry.
    pub initial_interval: Option<Duration>,
    /// Each further wait is the previous one times this.
    pub backoff_coefficient: Option<f64>,
    /// The cap on the wait between retries.
    pub maximum_interval: Option<Duration>,
    /// Total attempts, the first included; `None` for unlimited.
    pub maximum_attempts: Option<u32>,
    /// Failure types ([`ActivityError::with_type`](crate::ActivityError::with_type)) that
    /// end the activity without a retry.
    pub non_retryable_error_types: Vec<String>,
}

impl RetryPolicy {
    /// The policy as the server sent it; its zeros mean "unset".
    pub(crate) fn from_proto(policy: &proto::RetryPolicy) -> Self {
        RetryPolicy {
            initial_interval: duration(policy.initial_interval),
            backoff_coefficient: (policy.backoff_coefficient != 0.0)
                .then_some(policy.backoff_coefficient),
            maximum_interval: duration(policy.maximum_interval),
            maximum_attempts: u32::try_from(policy.maximum_attempts)
                .ok()
                .filter(|attempts| *attempts > 0),
            non_retryable_error_types: policy.non_retryable_error_types.clone(),
        }
    }

    /// The policy for the wire; an unset field is a zero, which the server fills in.
    pub(crate) fn to_proto(&self) -> proto::RetryPolicy {
        proto::RetryPolicy {
            initial_interval: self.initial_interval.and_then(wire_duration),
            backoff_coefficient: self.backoff_coefficient.unwrap_or(0.0),
            maximum_interval: self.maximum_interval.and_then(wire_duration),
            maximum_attempts: self
                .maximum_attempts
                .map_or(0, |attempts| i32::try_from(attempts).unwrap_or(i32::MAX)),
            non_retryable_error_types: self.non_retryable_error_types.clone(),
        }
    }
}

fn duration(value: Option<prost_wkt_types::Duration>) -> Option<Duration> {
    value
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
}

fn wire_duration(value: Duration) -> Option<prost_wkt_types::Duration> {
    prost_wkt_types::Duration::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_wire_with_zeros_as_unset() {
        let unset = RetryPolicy::default();
        assert_eq!(RetryPolicy::from_proto(&unset.to_proto()), unset);
        let set = RetryPolicy {
            initial_interval: Some(Duration::from_millis(200)),
            backoff_coefficient: Some(1.5),
            maximum_interval: Some(Duration::from_secs(30)),
            maximum_attempts: Some(4),
            non_retryable_error_types: vec!["Bad".into()],
        };
        assert_eq!(RetryPolicy::from_proto(&set.to_proto()), set);
    }
}
