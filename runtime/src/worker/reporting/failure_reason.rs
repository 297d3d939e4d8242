//! A failed attempt's reason, as sdk-core names it: the `failure_reason` label of
//! `temporal_activity_execution_failed` and the `cause` of `RespondActivityTaskFailed`.

use crate::error::failure_type;
use crate::proto::{ActivityTaskFailedCause, Failure, FailureInfo};

/// Why an attempt failed, in sdk-core's three activity reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureReason {
    /// The activity's own failure, or anything not more specific.
    Activity,
    /// A result or details over the server's payload limit.
    PayloadsTooLarge,
    /// A payload could not be stored externally or fetched back.
    ExternalStorage,
}

impl FailureReason {
    /// The reason of a failure legwork reports, read from its application failure type.
    pub(crate) fn of(failure: &Failure) -> Self {
        let Some(FailureInfo::ApplicationFailureInfo(info)) = &failure.failure_info else {
            return FailureReason::Activity;
        };
        match info.r#type.as_str() {
            failure_type::PAYLOAD_TOO_LARGE => FailureReason::PayloadsTooLarge,
            kind if kind.starts_with("ExternalStorage") => FailureReason::ExternalStorage,
            _ => FailureReason::Activity,
        }
    }

    /// The metric label's value (sdk-core's `FailureReason` display).
    pub(crate) fn label(self) -> &'static str {
        match self {
            FailureReason::Activity => "ActivityError",
            FailureReason::PayloadsTooLarge => "PayloadsTooLarge",
            FailureReason::ExternalStorage => "ExternalStorageError",
        }
    }

    /// The failed call's `cause`.
    pub(crate) fn cause(self) -> ActivityTaskFailedCause {
        match self {
            FailureReason::Activity => ActivityTaskFailedCause::ActivityWorkerUnhandledFailure,
            FailureReason::PayloadsTooLarge => ActivityTaskFailedCause::PayloadsTooLarge,
            FailureReason::ExternalStorage => ActivityTaskFailedCause::ExternalStorageFailure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ActivityError;

    #[test]
    fn reasons_follow_the_failure_type() {
        let reason = |error: ActivityError| FailureReason::of(&error.to_failure());
        assert_eq!(reason(ActivityError::new("boom")).label(), "ActivityError");
        let large = ActivityError::new("big").with_type(failure_type::PAYLOAD_TOO_LARGE);
        assert_eq!(reason(large).label(), "PayloadsTooLarge");
        let missing = ActivityError::new("gone").with_type("ExternalStorageObjectNotFound");
        assert_eq!(reason(missing), FailureReason::ExternalStorage);
        assert_eq!(
            FailureReason::ExternalStorage.cause(),
            ActivityTaskFailedCause::ExternalStorageFailure
        );
    }
}
