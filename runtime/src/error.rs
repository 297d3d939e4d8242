//! The error an activity returns, and how it becomes a Temporal failure.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::attempt::CancelReason;
use crate::payload::encode_json;
use crate::proto::{
    ApplicationErrorCategory, ApplicationFailureInfo, Failure, FailureInfo, Payloads,
};

/// Failure types legwork itself reports, named as the other SDKs name them.
pub(crate) mod failure_type {
    /// The activity type is not registered on this worker (as in the Python SDK).
    pub const NOT_FOUND: &str = "NotFoundError";
    /// The activity panicked (as the Go SDK's `PanicError`).
    pub const PANIC: &str = "PanicError";
    /// An argument payload could not be decoded into the parameter's type.
    pub const DECODE: &str = "PayloadDecodeError";
    /// The number of argument payloads does not match the function's parameters.
    pub const ARGUMENT_COUNT: &str = "ArgumentCountError";
    /// The result could not be encoded.
    pub const ENCODE: &str = "PayloadEncodeError";
    /// The worker shut down before the activity finished (as sdk-core).
    pub const WORKER_SHUTDOWN: &str = "WorkerShutdown";
    /// The result is larger than the server accepts.
    pub const PAYLOAD_TOO_LARGE: &str = "PayloadTooLargeError";
    /// A payload codec (encryption, compression) failed.
    pub const CODEC: &str = "PayloadCodecError";
    /// An isolated activity's child overflowed its stack.
    pub const STACK_OVERFLOW: &str = "StackOverflow";
    /// An isolated activity's child ran past its `memory_limit`.
    pub const MEMORY_LIMIT: &str = "MemoryLimitExceeded";
    /// An isolated activity's child died of a signal (the message names it).
    pub const PROCESS_CRASHED: &str = "ProcessCrashed";
    /// An isolated activity's child exited before answering (the message gives the code).
    pub const PROCESS_EXITED: &str = "ProcessExited";
    /// An attempt stopped by a pause (the heartbeat said so) and ended by its cancellation
    /// error (as the Python SDK reports it).
    pub const ACTIVITY_PAUSE: &str = "ActivityPause";
    /// An attempt stopped by a reset, likewise (as the Python SDK).
    pub const ACTIVITY_RESET: &str = "ActivityReset";
    /// The type given to an [`ActivityError`](super::ActivityError) made from a message alone.
    pub const DEFAULT: &str = "ActivityError";
}

/// An activity's failure, reported to the server as an `ApplicationFailureInfo`.
///
/// Any error that implements [`std::error::Error`] converts into it with `?`; its type
/// name becomes the failure type, as the Python SDK uses the exception's class name.
///
/// ```
/// use legwork::ActivityError;
///
/// fn check(width: u32) -> Result<(), ActivityError> {
///     if width == 0 {
///         return Err(ActivityError::new("width must be positive")
///             .with_type("InvalidWidth")
///             .non_retryable());
///     }
///     let _n: u32 = "42".parse()?; // a ParseIntError becomes a retryable failure
///     Ok(())
/// }
/// assert!(check(0).unwrap_err().is_non_retryable());
/// ```
#[derive(Clone, PartialEq)]
pub struct ActivityError {
    message: String,
    error_type: String,
    non_retryable: bool,
    next_retry_delay: Option<Duration>,
    details: Option<Payloads>,
    benign: bool,
    cancelled: Option<CancelReason>,
    complete_async: bool,
}

impl ActivityError {
    /// A retryable failure with this message and the type `ActivityError`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            error_type: failure_type::DEFAULT.to_owned(),
            non_retryable: false,
            next_retry_delay: None,
            details: None,
            benign: false,
            cancelled: None,
            complete_async: false,
        }
    }

    /// Ends the attempt without a result: something else will complete it, holding the
    /// attempt's [`task_token`](crate::ActivityContext::task_token) (Go's
    /// `ErrResultPending`, Python's `raise_complete_async`). The worker frees the slot and
    /// tells the server nothing; the attempt then counts as neither failed nor timed out,
    /// until its start-to-close (or heartbeat) timeout, which still applies.
    ///
    /// ```
    /// use legwork::{ActivityContext, ActivityError};
    ///
    /// fn request_approval(ctx: &ActivityContext, document: String) -> Result<String, ActivityError> {
    ///     let token = ctx.task_token();
    ///     // Hand `token.to_string()` to the reviewing system, which calls
    ///     // `client.async_activity(token).complete(&verdict)` when a person decides.
    ///     # let _ = (token, document);
    ///     Err(ActivityError::complete_async())
    /// }
    /// ```
    pub fn complete_async() -> Self {
        let mut error = ActivityError::new("the activity will be completed asynchronously")
            .with_type("CompleteAsyncError")
            // Expected, not an error: a span or metric that reads it as a failure sees a
            // benign one.
            .benign();
        error.complete_async = true;
        error
    }

    /// Whether this is [`complete_async`](Self::complete_async): the attempt is left to be
    /// completed elsewhere.
    pub fn is_complete_async(&self) -> bool {
        self.complete_async
    }

    /// The error that ends a cancelled activity, as [`ActivityContext::heartbeat`]
    /// returns it. How the attempt is reported depends on the reason: Canceled after a
    /// cancel request, `WorkerShutdown` after shutdown, nothing after a local timeout.
    ///
    /// [`ActivityContext::heartbeat`]: crate::ActivityContext::heartbeat
    pub fn cancelled(reason: CancelReason) -> Self {
        let mut error =
            ActivityError::new(format!("activity cancelled: {reason}")).with_type("CancelledError");
        error.cancelled = Some(reason);
        error
    }

    /// The error to report for an attempt cancelled for `reason` that ended with this
    /// error. A pause or a reset that the activity did not handle (it returned its
    /// cancellation error) becomes a retryable `ActivityPause` or `ActivityReset` failure
    /// with the Python SDK's message, so that `describe`, the UI and retry policies read
    /// the same failure whichever SDK ran the attempt. Any other error is reported as is.
    pub(crate) fn reported_after(self, reason: Option<CancelReason>) -> Self {
        let (error_type, cause) = match (reason, self.cancelled) {
            (Some(CancelReason::Paused), Some(_)) => (failure_type::ACTIVITY_PAUSE, "pause"),
            (Some(CancelReason::Reset), Some(_)) => (failure_type::ACTIVITY_RESET, "reset"),
            _ => return self,
        };
        let message = format!("Unhandled activity cancel error produced by activity {cause}");
        ActivityError::new(message).with_type(error_type)
    }

    /// The failure of an activity that panicked (type `PanicError`, as in the Go SDK).
    pub(crate) fn from_panic(activity: &str, panic: &(dyn std::any::Any + Send)) -> Self {
        let message = panic_message(panic);
        ActivityError::new(format!("activity `{activity}` panicked: {message}"))
            .with_type(failure_type::PANIC)
    }

    /// [`from_panic`](Self::from_panic), saying what legwork was doing for the activity
    /// when its code panicked, e.g. `encoding its result`.
    pub(crate) fn from_panic_while(
        activity: &str,
        doing: &str,
        panic: &(dyn std::any::Any + Send),
    ) -> Self {
        let message = panic_message(panic);
        ActivityError::new(format!(
            "activity `{activity}` panicked while {doing}: {message}"
        ))
        .with_type(failure_type::PANIC)
    }

    /// Why the activity was cancelled, if this error is a cancellation.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.cancelled
    }

    /// Attaches details that a workflow or client can read from the failure.
    pub fn with_details<T: Serialize + ?Sized>(mut self, details: &T) -> Self {
        match encode_json(details) {
            Ok(payload) => {
                self.details = Some(Payloads {
                    payloads: vec![payload.into_wire()],
                })
            }
            Err(error) => self
                .message
                .push_str(&format!(" (details not encodable: {error})")),
        }
        self
    }

    /// Marks the failure as benign (`APPLICATION_ERROR_CATEGORY_BENIGN`): expected, so
    /// SDKs log it quietly and metrics do not count it as an error.
    pub fn benign(mut self) -> Self {
        self.benign = true;
        self
    }

    /// Sets the failure type, which retry policies can name in `non_retryable_error_types`.
    pub fn with_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = error_type.into();
        self
    }

    /// Marks the failure as final: the server will not retry the activity.
    pub fn non_retryable(mut self) -> Self {
        self.non_retryable = true;
        self
    }

    /// Asks the server to wait this long before the next attempt, overriding the retry policy.
    pub fn with_next_retry_delay(mut self, delay: Duration) -> Self {
        self.next_retry_delay = Some(delay);
        self
    }

    /// The failure message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The failure type.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// Whether the server may retry the activity.
    pub fn is_non_retryable(&self) -> bool {
        self.non_retryable
    }

    pub(crate) fn to_failure(&self) -> Failure {
        Failure {
            message: self.message.clone(),
            source: "legwork".to_owned(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: self.error_type.clone(),
                    non_retryable: self.non_retryable,
                    next_retry_delay: self
                        .next_retry_delay
                        .and_then(|delay| delay.try_into().ok()),
                    details: self.details.clone(),
                    category: if self.benign {
                        ApplicationErrorCategory::Benign as i32
                    } else {
                        ApplicationErrorCategory::Unspecified as i32
                    },
                },
            )),
            ..Default::default()
        }
    }
}

/// An [`ActivityError`] field by field, for the isolated child's socket.
pub(crate) struct ErrorParts {
    pub(crate) message: String,
    pub(crate) error_type: String,
    pub(crate) non_retryable: bool,
    pub(crate) next_retry_delay: Option<Duration>,
    pub(crate) details: Option<Payloads>,
    pub(crate) benign: bool,
    pub(crate) cancelled: Option<CancelReason>,
    pub(crate) complete_async: bool,
}

impl ActivityError {
    pub(crate) fn parts(self) -> ErrorParts {
        ErrorParts {
            message: self.message,
            error_type: self.error_type,
            non_retryable: self.non_retryable,
            next_retry_delay: self.next_retry_delay,
            details: self.details,
            benign: self.benign,
            cancelled: self.cancelled,
            complete_async: self.complete_async,
        }
    }

    pub(crate) fn from_parts(parts: ErrorParts) -> Self {
        ActivityError {
            message: parts.message,
            error_type: parts.error_type,
            non_retryable: parts.non_retryable,
            next_retry_delay: parts.next_retry_delay,
            details: parts.details,
            benign: parts.benign,
            cancelled: parts.cancelled,
            complete_async: parts.complete_async,
        }
    }
}

/// A panic's message, as `panic!` gives it (`&str` or `String`).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}

impl fmt::Debug for ActivityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityError")
            .field("type", &self.error_type)
            .field("message", &self.message)
            .field("non_retryable", &self.non_retryable)
            .finish()
    }
}

impl fmt::Display for ActivityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

// Like anyhow::Error, ActivityError does not implement std::error::Error itself, so that
// every error type can convert into it with `?`.
impl<E: std::error::Error> From<E> for ActivityError {
    fn from(error: E) -> Self {
        let full_name = std::any::type_name::<E>();
        let short_name = full_name
            .split('<')
            .next()
            .and_then(|path| path.rsplit("::").next())
            .unwrap_or(full_name);
        ActivityError::new(error.to_string()).with_type(short_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_errors_keep_their_type_name() {
        let error: ActivityError = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(error.error_type(), "ParseIntError");
        assert!(!error.is_non_retryable());
    }

    #[test]
    fn paused_and_reset_attempts_fail_as_python_reports_them() {
        let stopped = |reason| ActivityError::cancelled(reason).reported_after(Some(reason));
        let paused = stopped(CancelReason::Paused).to_failure();
        assert_eq!(
            paused.message,
            "Unhandled activity cancel error produced by activity pause"
        );
        let Some(FailureInfo::ApplicationFailureInfo(info)) = paused.failure_info else {
            panic!("expected application failure info");
        };
        assert_eq!(info.r#type, "ActivityPause");
        assert!(!info.non_retryable);
        let reset = stopped(CancelReason::Reset);
        assert_eq!(reset.error_type(), "ActivityReset");
        assert_eq!(
            reset.message(),
            "Unhandled activity cancel error produced by activity reset"
        );
        assert_eq!(reset.cancel_reason(), None);
        // The activity's own error, even after a pause, is what it said.
        let own = ActivityError::new("gave up").with_type("Mine");
        let reported = own.clone().reported_after(Some(CancelReason::Paused));
        assert!(reported == own);
        // Other reasons keep the cancellation error as it is.
        let shutdown = stopped(CancelReason::WorkerShutdown);
        assert_eq!(shutdown.error_type(), "CancelledError");
    }

    #[test]
    fn failure_carries_type_message_and_retryability() {
        let failure = ActivityError::new("boom")
            .with_type("Kaput")
            .non_retryable()
            .to_failure();
        assert_eq!(failure.message, "boom");
        let Some(FailureInfo::ApplicationFailureInfo(info)) = failure.failure_info else {
            panic!("expected application failure info");
        };
        assert_eq!(info.r#type, "Kaput");
        assert!(info.non_retryable);
    }
}
