//! How a closed activity ended, and its failures in plain fields.

use super::*;

/// How a closed activity ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityOutcome {
    /// It returned; the payload is its result (`None` when the worker sent none).
    Completed(Option<Payload>),
    /// It failed, timed out, was canceled or terminated.
    Failed(ActivityFailure),
}

impl ActivityOutcome {
    pub(super) fn from_proto(outcome: ActivityExecutionOutcome) -> Option<Self> {
        let retry_state = outcome.retry_state;
        Some(match outcome.value? {
            activity_execution_outcome::Value::Result(payloads) => ActivityOutcome::Completed(
                payloads.payloads.into_iter().next().map(Payload::from_wire),
            ),
            activity_execution_outcome::Value::Failure(failure) => {
                let mut failure = ActivityFailure::from_proto(failure);
                failure.retry_state = retry_state_name(retry_state);
                ActivityOutcome::Failed(failure)
            }
        })
    }
}

/// A Temporal `Failure`, with its cause chain, in plain fields.
///
/// For an activity that failed with an application error, the server reports the
/// application failure itself at the top level (`kind == "application"`, no cause); a
/// timeout is `kind == "timeout"`, whose `cause` is the previous attempt's failure if one
/// failed; a cancellation is `kind == "canceled"` (the reason is in its raw details).
/// [`application`](Self::application) finds the application failure wherever it is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActivityFailure {
    /// The failure message.
    pub message: String,
    /// `application`, `timeout`, `canceled`, `terminated`, `server`, `activity`,
    /// `child_workflow`, `nexus_operation`, `nexus_handler`, `reset_workflow` or `unknown`.
    pub kind: String,
    /// The application failure type (e.g. `ParseIntError`), for `kind == "application"`.
    pub failure_type: Option<String>,
    /// Whether the application failure forbade retries.
    pub non_retryable: bool,
    /// `START_TO_CLOSE`, `SCHEDULE_TO_START`, `SCHEDULE_TO_CLOSE` or `HEARTBEAT`, for
    /// `kind == "timeout"`.
    pub timeout_type: Option<String>,
    /// Why the server stopped retrying (e.g. `NON_RETRYABLE_FAILURE`,
    /// `MAXIMUM_ATTEMPTS_REACHED`); set on an outcome's top-level failure only.
    pub retry_state: Option<String>,
    /// The failure that caused this one.
    pub cause: Option<Box<ActivityFailure>>,
    pub(crate) raw: Box<Failure>,
}

impl ActivityFailure {
    /// The failure as the server sent it, as `temporalio-protos` generates it (feature
    /// `protocol`). Not covered by legwork's semver: it follows that crate's versions.
    #[cfg(feature = "protocol")]
    pub fn raw(&self) -> &crate::protocol::failure::v1::Failure {
        &self.raw
    }

    /// Converts a protocol failure and its causes.
    pub(crate) fn from_proto(failure: Failure) -> Self {
        let mut converted = ActivityFailure {
            message: failure.message.clone(),
            kind: failure_kind(failure.failure_info.as_ref()).to_owned(),
            failure_type: None,
            non_retryable: false,
            timeout_type: None,
            retry_state: None,
            cause: failure
                .cause
                .clone()
                .map(|cause| Box::new(ActivityFailure::from_proto(*cause))),
            raw: Box::new(failure),
        };
        match &converted.raw.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => {
                converted.failure_type = Some(info.r#type.clone());
                converted.non_retryable = info.non_retryable;
            }
            Some(FailureInfo::TimeoutFailureInfo(info)) => {
                converted.timeout_type =
                    TimeoutType::try_from(info.timeout_type).ok().map(|kind| {
                        kind.as_str_name()
                            .trim_start_matches("TIMEOUT_TYPE_")
                            .to_owned()
                    });
            }
            _ => {}
        }
        converted
    }

    /// This failure and its causes, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &ActivityFailure> {
        std::iter::successors(Some(self), |failure| failure.cause.as_deref())
    }

    /// The innermost application failure in the chain (the error the activity returned),
    /// or `None` if the activity never failed with one (e.g. canceled before it ran).
    pub fn application(&self) -> Option<&ActivityFailure> {
        self.chain()
            .filter(|failure| failure.kind == "application")
            .last()
    }

    /// Whether this is a cancellation.
    pub fn is_canceled(&self) -> bool {
        self.kind == "canceled"
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        self.kind == "timeout"
    }
}

impl std::fmt::Display for ActivityFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.failure_type, &self.timeout_type) {
            (Some(failure_type), _) => write!(f, "{failure_type}: {}", self.message)?,
            (None, Some(timeout_type)) => write!(f, "{timeout_type} timeout: {}", self.message)?,
            (None, None) => write!(f, "{}: {}", self.kind, self.message)?,
        }
        if let Some(cause) = &self.cause {
            write!(f, " (caused by {cause})")?;
        }
        Ok(())
    }
}

fn failure_kind(info: Option<&FailureInfo>) -> &'static str {
    match info {
        Some(FailureInfo::ApplicationFailureInfo(_)) => "application",
        Some(FailureInfo::TimeoutFailureInfo(_)) => "timeout",
        Some(FailureInfo::CanceledFailureInfo(_)) => "canceled",
        Some(FailureInfo::TerminatedFailureInfo(_)) => "terminated",
        Some(FailureInfo::ServerFailureInfo(_)) => "server",
        Some(FailureInfo::ResetWorkflowFailureInfo(_)) => "reset_workflow",
        Some(FailureInfo::ActivityFailureInfo(_)) => "activity",
        Some(FailureInfo::ChildWorkflowExecutionFailureInfo(_)) => "child_workflow",
        Some(FailureInfo::NexusOperationExecutionFailureInfo(_)) => "nexus_operation",
        Some(FailureInfo::NexusHandlerFailureInfo(_)) => "nexus_handler",
        None => "unknown",
    }
}

fn retry_state_name(state: i32) -> Option<String> {
    RetryState::try_from(state)
        .ok()
        .filter(|state| *state != RetryState::Unspecified)
        .map(|state| {
            state
                .as_str_name()
                .trim_start_matches("RETRY_STATE_")
                .to_owned()
        })
}
