//! How to start an activity, apart from what it is and its arguments: the queue, the id,
//! timeouts, retries, what to do with an id already in use, and a start delay.

use temporalio_protos::protos::temporal::api::enums::v1::{
    ActivityIdConflictPolicy, ActivityIdReusePolicy,
};

use super::*;

/// Whether a new activity may take the id of a *closed* one.
///
/// A denied start fails with [`ClientError::AlreadyStarted`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdReusePolicy {
    /// Always allowed (the server's default).
    #[default]
    AllowDuplicate,
    /// Allowed only if the closed activity failed, was canceled, terminated or timed out.
    AllowDuplicateFailedOnly,
    /// Never allowed.
    RejectDuplicate,
}

impl IdReusePolicy {
    fn to_proto(self) -> ActivityIdReusePolicy {
        match self {
            Self::AllowDuplicate => ActivityIdReusePolicy::AllowDuplicate,
            Self::AllowDuplicateFailedOnly => ActivityIdReusePolicy::AllowDuplicateFailedOnly,
            Self::RejectDuplicate => ActivityIdReusePolicy::RejectDuplicate,
        }
    }
}

/// What to do when an activity with the same id is *running*. There are never two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdConflictPolicy {
    /// Fail with [`ClientError::AlreadyStarted`] (the server's default).
    #[default]
    Fail,
    /// Start nothing and return a handle on the running activity.
    UseExisting,
}

impl IdConflictPolicy {
    fn to_proto(self) -> ActivityIdConflictPolicy {
        match self {
            Self::Fail => ActivityIdConflictPolicy::Fail,
            Self::UseExisting => ActivityIdConflictPolicy::UseExisting,
        }
    }
}

/// How to start an activity: for [`Client::start_activity_with_payloads`], the typed
/// handles `#[activity]` generates, and (inside) [`StartActivity`].
///
/// ```
/// use std::time::Duration;
/// use legwork_runtime::client::{ActivityOptions, IdConflictPolicy};
///
/// let options = ActivityOptions::new("greetings")
///     .id("greet-order-42")
///     .start_to_close_timeout(Duration::from_secs(10))
///     .max_attempts(3)
///     .id_conflict_policy(IdConflictPolicy::UseExisting)
///     .start_delay(Duration::from_secs(5));
/// assert_eq!(options.activity_id(), "greet-order-42");
/// ```
#[derive(Debug, Clone)]
pub struct ActivityOptions {
    pub(super) task_queue: String,
    pub(super) activity_id: String,
    start_to_close_timeout: Option<Duration>,
    schedule_to_close_timeout: Option<Duration>,
    schedule_to_start_timeout: Option<Duration>,
    heartbeat_timeout: Option<Duration>,
    retry_policy: Option<RetryPolicy>,
    id_reuse_policy: Option<IdReusePolicy>,
    id_conflict_policy: Option<IdConflictPolicy>,
    start_delay: Option<Duration>,
    priority: Option<Priority>,
}

impl ActivityOptions {
    /// An activity on `task_queue`, with a random (UUID v4) id and a 60 s start-to-close
    /// timeout; everything else is the server's default.
    pub fn new(task_queue: impl Into<String>) -> Self {
        Self {
            task_queue: task_queue.into(),
            activity_id: uuid::Uuid::new_v4().to_string(),
            start_to_close_timeout: Some(DEFAULT_START_TO_CLOSE),
            schedule_to_close_timeout: None,
            schedule_to_start_timeout: None,
            heartbeat_timeout: None,
            retry_policy: None,
            id_reuse_policy: None,
            id_conflict_policy: None,
            start_delay: None,
            priority: None,
        }
    }

    /// The activity id, unique among the namespace's running activities.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.activity_id = id.into();
        self
    }

    /// The activity id these options start.
    pub fn activity_id(&self) -> &str {
        &self.activity_id
    }

    /// The task queue these options start on.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// Limit of one attempt, from a worker picking it up to its answer.
    pub fn start_to_close_timeout(mut self, timeout: Duration) -> Self {
        self.start_to_close_timeout = Some(timeout);
        self
    }

    /// Limit of the whole activity, all attempts and queueing included.
    pub fn schedule_to_close_timeout(mut self, timeout: Duration) -> Self {
        self.schedule_to_close_timeout = Some(timeout);
        self
    }

    /// Limit of the time a task waits in the queue for a worker.
    pub fn schedule_to_start_timeout(mut self, timeout: Duration) -> Self {
        self.schedule_to_start_timeout = Some(timeout);
        self
    }

    /// Maximum time between two heartbeats of a running attempt.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = Some(timeout);
        self
    }

    /// Replaces the retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    /// Sets the retry policy's total attempts (1 = no retry).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry_policy
            .get_or_insert_with(Default::default)
            .maximum_attempts = Some(attempts);
        self
    }

    /// Whether the id of a closed activity may be reused.
    pub fn id_reuse_policy(mut self, policy: IdReusePolicy) -> Self {
        self.id_reuse_policy = Some(policy);
        self
    }

    /// What to do when an activity with this id is running.
    pub fn id_conflict_policy(mut self, policy: IdConflictPolicy) -> Self {
        self.id_conflict_policy = Some(policy);
        self
    }

    /// Queue the first attempt only after `delay`.
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = Some(delay);
        self
    }

    /// The priority key, fairness key and weight its tasks are dispatched by; each attempt
    /// reads them in [`ActivityInfo::priority`](crate::ActivityInfo::priority).
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    pub(super) fn into_request(
        self,
        namespace: &str,
        identity: &str,
        activity_type: String,
        payloads: Vec<Payload>,
    ) -> service::StartActivityExecutionRequest {
        service::StartActivityExecutionRequest {
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            request_id: uuid::Uuid::new_v4().to_string(),
            activity_id: self.activity_id,
            activity_type: Some(ActivityType {
                name: activity_type,
            }),
            task_queue: Some(TaskQueue {
                name: self.task_queue,
                kind: TaskQueueKind::Normal.into(),
                ..Default::default()
            }),
            start_to_close_timeout: self.start_to_close_timeout.and_then(to_proto_duration),
            schedule_to_close_timeout: self.schedule_to_close_timeout.and_then(to_proto_duration),
            schedule_to_start_timeout: self.schedule_to_start_timeout.and_then(to_proto_duration),
            heartbeat_timeout: self.heartbeat_timeout.and_then(to_proto_duration),
            retry_policy: self.retry_policy.as_ref().map(RetryPolicy::to_proto),
            input: (!payloads.is_empty()).then(|| Payloads {
                payloads: to_wire(payloads),
            }),
            // Unset policies stay UNSPECIFIED, so the server's defaults apply.
            id_reuse_policy: self
                .id_reuse_policy
                .map_or(0, |policy| policy.to_proto().into()),
            id_conflict_policy: self
                .id_conflict_policy
                .map_or(0, |policy| policy.to_proto().into()),
            start_delay: self.start_delay.and_then(to_proto_duration),
            priority: self.priority.as_ref().map(Priority::to_proto),
            ..Default::default()
        }
    }
}
