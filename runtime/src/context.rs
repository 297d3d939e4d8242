//! What an activity knows about its own execution.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::attempt::{Attempt, CancelReason};
use crate::codec::SerializationContext;
use crate::error::{failure_type, ActivityError};
use crate::payload::{decode_json, encode_json};
use crate::payload::{from_wire, Payload};
use crate::priority::Priority;
use crate::proto::service::PollActivityTaskQueueResponse;
use crate::retry_policy::RetryPolicy;

/// Facts about the running attempt, taken from the activity task.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ActivityInfo {
    /// The activity's id: chosen by the workflow (by default its sequence number there)
    /// or by whoever started a standalone activity.
    pub activity_id: String,
    /// The name the activity was scheduled by: the registered name, or any name for the
    /// dynamic activity.
    pub activity_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The task queue this worker polled the task from.
    pub task_queue: String,
    /// The namespace of the activity (and of its workflow, when it has one).
    pub namespace: String,
    /// Opaque; identifies this attempt to the server.
    pub task_token: Vec<u8>,
    /// Set when a workflow scheduled the activity.
    pub workflow_id: Option<String>,
    /// The run of that workflow; set with `workflow_id`.
    pub workflow_run_id: Option<String>,
    /// The workflow's type name; set with `workflow_id`.
    pub workflow_type: Option<String>,
    /// Set when the activity was started on its own, without a workflow.
    pub activity_run_id: Option<String>,
    /// When the activity was first scheduled (the first attempt, not this one).
    pub scheduled_time: Option<SystemTime>,
    /// When this attempt started: the server handed the task to this worker.
    pub started_time: Option<SystemTime>,
    /// The limit on the whole activity, all attempts and retries included; `None` when
    /// unset.
    pub schedule_to_close_timeout: Option<Duration>,
    /// The limit on one attempt; `None` when unset.
    pub start_to_close_timeout: Option<Duration>,
    /// The longest the server waits between heartbeats before it fails the attempt with a
    /// heartbeat timeout; `None` when the activity need not heartbeat.
    pub heartbeat_timeout: Option<Duration>,
    /// When this attempt must end: the earlier of start + start-to-close and
    /// schedule + schedule-to-close, when either is set.
    pub deadline: Option<SystemTime>,
    /// The retry policy the server applies, when it sent one.
    pub retry_policy: Option<RetryPolicy>,
    /// What the previous attempt recorded with its last heartbeat; see
    /// [`ActivityContext::last_heartbeat`].
    pub heartbeat_details: Vec<Payload>,
    /// The task's priority and fairness key, as the server dispatched it; all `None` when
    /// nobody set them.
    pub priority: Priority,
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn duration(value: Option<prost_types_duration::Duration>) -> Option<Duration> {
    value
        .and_then(|d| Duration::try_from(d).ok())
        // The server reports an unset timeout as zero.
        .filter(|d| !d.is_zero())
}

fn time(value: Option<prost_types_duration::Timestamp>) -> Option<SystemTime> {
    value.and_then(|t| SystemTime::try_from(t).ok())
}

mod prost_types_duration {
    pub use prost_wkt_types::{Duration, Timestamp};
}

impl ActivityInfo {
    /// Whose payloads this attempt's are, as codecs and storage drivers see it.
    pub fn serialization_context(&self) -> SerializationContext {
        SerializationContext {
            namespace: self.namespace.clone(),
            task_queue: Some(self.task_queue.clone()),
            activity_type: Some(self.activity_type.clone()),
            activity_id: Some(self.activity_id.clone()),
            activity_run_id: self.activity_run_id.clone(),
            workflow_id: self.workflow_id.clone(),
            workflow_type: self.workflow_type.clone(),
            workflow_run_id: self.workflow_run_id.clone(),
        }
    }

    pub(crate) fn from_task(
        task: &PollActivityTaskQueueResponse,
        namespace: &str,
        task_queue: &str,
    ) -> Self {
        let workflow = task.workflow_execution.as_ref();
        let mut info = ActivityInfo {
            activity_id: task.activity_id.clone(),
            activity_type: task
                .activity_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            attempt: task.attempt.max(1) as u32,
            task_queue: task_queue.to_owned(),
            namespace: non_empty(&task.workflow_namespace).unwrap_or_else(|| namespace.to_owned()),
            task_token: task.task_token.clone(),
            workflow_id: workflow.and_then(|w| non_empty(&w.workflow_id)),
            workflow_run_id: workflow.and_then(|w| non_empty(&w.run_id)),
            workflow_type: task.workflow_type.as_ref().and_then(|t| non_empty(&t.name)),
            activity_run_id: non_empty(&task.activity_run_id),
            scheduled_time: time(task.scheduled_time),
            started_time: time(task.started_time),
            schedule_to_close_timeout: duration(task.schedule_to_close_timeout),
            start_to_close_timeout: duration(task.start_to_close_timeout),
            heartbeat_timeout: duration(task.heartbeat_timeout),
            deadline: None,
            retry_policy: task.retry_policy.as_ref().map(RetryPolicy::from_proto),
            heartbeat_details: task
                .heartbeat_details
                .as_ref()
                .map(|details| from_wire(details.payloads.clone()))
                .unwrap_or_default(),
            priority: task
                .priority
                .as_ref()
                .map(Priority::from_proto)
                .unwrap_or_default(),
        };
        let attempt_end = info
            .started_time
            .zip(info.start_to_close_timeout)
            .map(|(t, d)| t + d);
        let activity_end = info
            .scheduled_time
            .zip(info.schedule_to_close_timeout)
            .map(|(t, d)| t + d);
        info.deadline = attempt_end.into_iter().chain(activity_end).min();
        info
    }
}

/// The handle an activity gets to its own execution.
///
/// Take it as the first parameter, by reference, in sync and async activities alike:
///
/// ```
/// use legwork::{activity, ActivityContext, ActivityError};
///
/// #[activity]
/// fn count_up(ctx: &ActivityContext, to: u64) -> Result<u64, ActivityError> {
///     // Resume where the previous attempt stopped.
///     let from = ctx.last_heartbeat::<u64>()?.unwrap_or(0);
///     for i in from..to {
///         ctx.heartbeat(&i)?; // cheap; returns Err once the activity is cancelled
///     }
///     Ok(to)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ActivityContext {
    inner: Arc<Inner>,
}

/// What runs on details a heartbeat records before the worker sends them: the
/// interceptors' outbound hook (`InterceptorChain::heartbeat_hook`).
pub(crate) type HeartbeatHook = Arc<dyn Fn(&ActivityInfo, &mut Payload) + Send + Sync>;

struct Inner {
    info: ActivityInfo,
    attempt: Arc<Attempt>,
    /// The worker's interceptors' heartbeat hook; `None` when there are none.
    heartbeat_hook: Option<HeartbeatHook>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("info", &self.info)
            .field("attempt", &self.attempt)
            .field("heartbeat_hook", &self.heartbeat_hook.is_some())
            .finish()
    }
}

impl ActivityContext {
    /// A context for calling an activity function directly, outside a worker: never
    /// cancelled, heartbeats kept in memory. To cancel it or read its heartbeats, use
    /// `legwork::testing::ActivityEnvironment` instead.
    pub fn new(info: ActivityInfo) -> Self {
        Self::with_attempt(info, Attempt::new(Default::default(), None))
    }

    pub(crate) fn with_attempt(info: ActivityInfo, attempt: Arc<Attempt>) -> Self {
        ActivityContext {
            inner: Arc::new(Inner {
                info,
                attempt,
                heartbeat_hook: None,
            }),
        }
    }

    /// This context with `hook` run on the details of every heartbeat it records.
    pub(crate) fn with_heartbeat_hook(self, hook: Option<HeartbeatHook>) -> Self {
        let Inner { info, attempt, .. } =
            Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
                info: shared.info.clone(),
                attempt: shared.attempt.clone(),
                heartbeat_hook: None,
            });
        ActivityContext {
            inner: Arc::new(Inner {
                info,
                attempt,
                heartbeat_hook: hook,
            }),
        }
    }

    /// The same attempt, seen with other facts (an interceptor's `map_info`).
    pub(crate) fn with_info(&self, info: ActivityInfo) -> Self {
        ActivityContext {
            inner: Arc::new(Inner {
                info,
                attempt: self.inner.attempt.clone(),
                heartbeat_hook: self.inner.heartbeat_hook.clone(),
            }),
        }
    }

    /// Facts about this attempt.
    pub fn info(&self) -> &ActivityInfo {
        &self.inner.info
    }

    /// This attempt's task token, for completing it from another process after returning
    /// [`ActivityError::complete_async`]; it prints as base64 and parses back.
    pub fn task_token(&self) -> crate::client::TaskToken {
        self.inner.info.task_token.clone().into()
    }

    /// Records progress. Never blocks: the details are handed to the worker, which sends
    /// the first heartbeat at once and then, coalescing (the last details win), one every
    /// 0.8 × heartbeat timeout (30 s without one, at most 60 s apart).
    ///
    /// Returns [`ActivityError::cancelled`] once the activity is cancelled, so a sync
    /// activity can stop with `?`. Details that cannot be encoded are an error too
    /// (`PayloadEncodeError`, not retryable), and nothing is recorded.
    pub fn heartbeat<T: Serialize + ?Sized>(&self, details: &T) -> Result<(), ActivityError> {
        let payload = encode_json(details).map_err(|error| {
            ActivityError::new(format!(
                "activity `{}` could not encode its heartbeat details: {error}",
                self.info().activity_type
            ))
            .with_type(failure_type::ENCODE)
            .non_retryable()
        })?;
        self.heartbeat_payload(payload);
        match self.cancel_reason() {
            Some(reason) => Err(ActivityError::cancelled(reason)),
            None => Ok(()),
        }
    }

    /// Records details already encoded (an isolated child's), through the interceptors'
    /// heartbeat hook as [`heartbeat`](Self::heartbeat) would.
    pub(crate) fn heartbeat_payload(&self, mut payload: Payload) {
        if let Some(hook) = &self.inner.heartbeat_hook {
            hook(self.info(), &mut payload);
        }
        self.inner.attempt.record_heartbeat(payload);
    }

    /// The details the previous attempt recorded with its last heartbeat, if any.
    pub fn last_heartbeat<T: DeserializeOwned>(&self) -> Result<Option<T>, ActivityError> {
        let Some(payload) = self.inner.info.heartbeat_details.first() else {
            return Ok(None);
        };
        decode_json(payload).map(Some).map_err(|error| {
            ActivityError::new(format!(
                "activity `{}` could not decode the last heartbeat's details: {error}",
                self.info().activity_type
            ))
            .with_type(failure_type::DECODE)
            .non_retryable()
        })
    }

    /// True once the activity is cancelled; see [`cancel_reason`](Self::cancel_reason).
    pub fn is_cancelled(&self) -> bool {
        self.inner.attempt.cancel_reason().is_some()
    }

    /// Why the activity was cancelled, once it is.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.inner.attempt.cancel_reason()
    }

    /// Completes when the activity is cancelled. An async activity is dropped at its next
    /// `.await` when cancelled; to clean up first, select on this future.
    pub async fn cancelled(&self) -> CancelReason {
        self.inner.attempt.cancelled().await
    }

    /// True from the moment the worker begins to shut down. The activity still has the
    /// grace period to finish; after it, it is cancelled with
    /// [`CancelReason::WorkerShutdown`].
    pub fn is_worker_shutdown(&self) -> bool {
        self.inner.attempt.worker_shutdown.is_cancelled()
    }

    /// Completes when the worker begins to shut down.
    pub async fn worker_shutdown(&self) {
        self.inner.attempt.worker_shutdown.cancelled().await
    }

    pub(crate) fn attempt(&self) -> &Arc<Attempt> {
        &self.inner.attempt
    }
}
