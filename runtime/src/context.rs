//! What an activity knows about its own execution.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::proto::service::PollActivityTaskQueueResponse;

/// Facts about the running attempt, taken from the activity task.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ActivityInfo {
    pub activity_id: String,
    pub activity_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub task_queue: String,
    pub namespace: String,
    /// Opaque; identifies this attempt to the server.
    pub task_token: Vec<u8>,
    /// Set when a workflow scheduled the activity.
    pub workflow_id: Option<String>,
    pub workflow_run_id: Option<String>,
    pub workflow_type: Option<String>,
    /// Set when the activity was started on its own, without a workflow.
    pub activity_run_id: Option<String>,
    pub scheduled_time: Option<SystemTime>,
    pub started_time: Option<SystemTime>,
    pub schedule_to_close_timeout: Option<Duration>,
    pub start_to_close_timeout: Option<Duration>,
    pub heartbeat_timeout: Option<Duration>,
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
    pub(crate) fn from_task(
        task: &PollActivityTaskQueueResponse,
        namespace: &str,
        task_queue: &str,
    ) -> Self {
        let workflow = task.workflow_execution.as_ref();
        ActivityInfo {
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
        }
    }
}

/// The handle an activity gets to its own execution.
///
/// Take it as the first parameter, by reference, in sync and async activities alike:
///
/// ```
/// use legwork::{activity, ActivityContext};
///
/// #[activity]
/// fn whoami(ctx: &ActivityContext) -> String {
///     format!("{} attempt {}", ctx.info().activity_id, ctx.info().attempt)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ActivityContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    info: ActivityInfo,
    worker_shutdown: CancellationToken,
}

impl ActivityContext {
    /// A context for calling an activity outside a worker, e.g. in a unit test.
    pub fn new(info: ActivityInfo) -> Self {
        Self::with_shutdown(info, CancellationToken::new())
    }

    pub(crate) fn with_shutdown(info: ActivityInfo, worker_shutdown: CancellationToken) -> Self {
        ActivityContext {
            inner: Arc::new(Inner {
                info,
                worker_shutdown,
            }),
        }
    }

    /// Facts about this attempt.
    pub fn info(&self) -> &ActivityInfo {
        &self.inner.info
    }

    /// True once the worker has begun to shut down; the activity has the grace period
    /// to finish.
    pub fn is_worker_shutdown(&self) -> bool {
        self.inner.worker_shutdown.is_cancelled()
    }
}
