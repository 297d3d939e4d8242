//! What `DescribeActivityExecution` says about an activity.

use super::*;

/// An activity's overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityStatus {
    /// Not closed yet; see [`RunState`] for the detail.
    Running,
    /// Closed with a result.
    Completed,
    /// Closed by a failed attempt with no retry left, or a non-retryable failure.
    Failed,
    /// Closed by a cancellation request: the activity reported it, or had not started.
    Canceled,
    /// Closed by a termination; a running attempt is not told, and its report is refused.
    Terminated,
    /// Closed by a timeout: schedule-to-close, schedule-to-start, or an attempt's with no
    /// retry left.
    TimedOut,
    /// Paused ([`ActivityHandle::pause`]): not closed, and no attempt is scheduled until
    /// it is unpaused.
    Paused,
    /// A status this client does not know.
    Unknown,
}

impl ActivityStatus {
    pub(super) fn from_proto(status: i32) -> Self {
        match ActivityExecutionStatus::try_from(status) {
            Ok(ActivityExecutionStatus::Running) => Self::Running,
            Ok(ActivityExecutionStatus::Completed) => Self::Completed,
            Ok(ActivityExecutionStatus::Failed) => Self::Failed,
            Ok(ActivityExecutionStatus::Canceled) => Self::Canceled,
            Ok(ActivityExecutionStatus::Terminated) => Self::Terminated,
            Ok(ActivityExecutionStatus::TimedOut) => Self::TimedOut,
            Ok(ActivityExecutionStatus::Paused) => Self::Paused,
            _ => Self::Unknown,
        }
    }

    /// Whether the activity has closed.
    pub fn is_closed(self) -> bool {
        !matches!(self, Self::Running | Self::Paused | Self::Unknown)
    }
}

/// Where a running activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Waiting in the task queue for a worker (or for its next retry).
    Scheduled,
    /// A worker is running an attempt.
    Started,
    /// Cancellation was requested; the running attempt learns it at its next heartbeat.
    CancelRequested,
    /// Paused (`temporal activity pause`): no attempt is scheduled until it is unpaused.
    Paused,
    /// A pause was requested while an attempt runs; it takes effect when that attempt
    /// ends.
    PauseRequested,
    /// Closed, or a state this client does not know.
    None,
}

impl RunState {
    pub(super) fn from_proto(state: i32) -> Self {
        match PendingActivityState::try_from(state) {
            Ok(PendingActivityState::Scheduled) => Self::Scheduled,
            Ok(PendingActivityState::Started) => Self::Started,
            Ok(PendingActivityState::CancelRequested) => Self::CancelRequested,
            Ok(PendingActivityState::Paused) => Self::Paused,
            Ok(PendingActivityState::PauseRequested) => Self::PauseRequested,
            _ => Self::None,
        }
    }
}

/// What `DescribeActivityExecution` says about an activity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActivityDescription {
    /// The id it was started with.
    pub activity_id: String,
    /// The run the server gave this execution of the id.
    pub run_id: String,
    /// The activity type name.
    pub activity_type: String,
    /// The task queue its attempts are scheduled on.
    pub task_queue: String,
    /// Running, or how it closed.
    pub status: ActivityStatus,
    /// Where a running activity is; [`RunState::None`] once closed.
    pub run_state: RunState,
    /// The current attempt, from 1.
    pub attempt: u32,
    /// The failure of the last failed attempt.
    pub last_failure: Option<ActivityFailure>,
    /// The details of the last recorded heartbeat.
    pub last_heartbeat_details: Vec<Payload>,
    /// When the last heartbeat was recorded; `None` before the first.
    pub last_heartbeat_time: Option<SystemTime>,
    /// When the activity was started (queued) by the client.
    pub schedule_time: Option<SystemTime>,
    /// When a worker picked up the last attempt.
    pub last_started_time: Option<SystemTime>,
    /// When the activity closed.
    pub close_time: Option<SystemTime>,
    /// The identity of the worker that ran the last attempt; empty before the first.
    pub last_worker_identity: String,
    /// The reason given with a cancellation request.
    pub canceled_reason: Option<String>,
    /// How it ended, once closed.
    pub outcome: Option<ActivityOutcome>,
    /// The options in force (after any `update_options`): timeouts, retry policy,
    /// priority.
    pub options: CurrentActivityOptions,
    pub(crate) raw: ActivityExecutionInfo,
    /// The server's mark of this state, for [`ActivityHandle::wait_for_change`]; empty
    /// once the activity is closed.
    pub(crate) long_poll_token: Vec<u8>,
}

impl ActivityDescription {
    /// Everything the server sent, payloads as stored (still encoded by any codec), as
    /// `temporalio-protos` generates it (feature `protocol`). Not covered by legwork's
    /// semver: it follows that crate's versions.
    #[cfg(feature = "protocol")]
    pub fn raw(&self) -> &crate::protocol::activity::v1::ActivityExecutionInfo {
        &self.raw
    }

    pub(super) fn from_proto(
        info: ActivityExecutionInfo,
        outcome: Option<ActivityOutcome>,
    ) -> Self {
        ActivityDescription {
            activity_id: info.activity_id.clone(),
            run_id: info.run_id.clone(),
            activity_type: info
                .activity_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            task_queue: info.task_queue.clone(),
            status: ActivityStatus::from_proto(info.status),
            run_state: RunState::from_proto(info.run_state),
            attempt: u32::try_from(info.attempt).unwrap_or(0),
            last_failure: info.last_failure.clone().map(ActivityFailure::from_proto),
            last_heartbeat_details: info
                .heartbeat_details
                .clone()
                .map(|details| from_wire(details.payloads))
                .unwrap_or_default(),
            last_heartbeat_time: to_system_time(&info.last_heartbeat_time),
            schedule_time: to_system_time(&info.schedule_time),
            last_started_time: to_system_time(&info.last_started_time),
            close_time: to_system_time(&info.close_time),
            last_worker_identity: info.last_worker_identity.clone(),
            canceled_reason: Some(info.canceled_reason.clone()).filter(|reason| !reason.is_empty()),
            outcome,
            options: CurrentActivityOptions {
                task_queue: info.task_queue.clone(),
                start_to_close_timeout: from_proto_duration(info.start_to_close_timeout),
                schedule_to_close_timeout: from_proto_duration(info.schedule_to_close_timeout),
                schedule_to_start_timeout: from_proto_duration(info.schedule_to_start_timeout),
                heartbeat_timeout: from_proto_duration(info.heartbeat_timeout),
                retry_policy: info.retry_policy.as_ref().map(RetryPolicy::from_proto),
                priority: info
                    .priority
                    .as_ref()
                    .map(Priority::from_proto)
                    .unwrap_or_default(),
            },
            raw: info,
            long_poll_token: Vec::new(),
        }
    }
}
