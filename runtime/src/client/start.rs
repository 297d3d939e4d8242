//! What to start, and how the server retries it.

use super::*;

/// How the server retries a failed activity. Unset fields take the server's defaults
/// (1 s initial interval, backoff 2.0, maximum 100 × initial, unlimited attempts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial_interval: Option<Duration>,
    /// Factor by which the delay grows after each retry.
    pub backoff_coefficient: Option<f64>,
    /// Upper bound of the delay between retries.
    pub maximum_interval: Option<Duration>,
    /// Total attempts, the first included; `None` for unlimited.
    pub maximum_attempts: Option<u32>,
    /// Application failure types that are never retried.
    pub non_retryable_error_types: Vec<String>,
}

impl RetryPolicy {
    fn to_proto(&self) -> proto::RetryPolicy {
        proto::RetryPolicy {
            initial_interval: self.initial_interval.and_then(to_proto_duration),
            backoff_coefficient: self.backoff_coefficient.unwrap_or(0.0),
            maximum_interval: self.maximum_interval.and_then(to_proto_duration),
            maximum_attempts: self
                .maximum_attempts
                .map_or(0, |attempts| i32::try_from(attempts).unwrap_or(i32::MAX)),
            non_retryable_error_types: self.non_retryable_error_types.clone(),
        }
    }
}

/// What to start: built with [`StartActivity::new`] and passed to [`Client::start_activity`].
#[derive(Debug, Clone)]
pub struct StartActivity {
    activity_type: String,
    task_queue: String,
    pub(super) activity_id: String,
    // An argument that failed to encode is reported by `start_activity`, so the builder
    // stays chainable.
    args: Vec<Result<Payload, String>>,
    start_to_close_timeout: Option<Duration>,
    schedule_to_close_timeout: Option<Duration>,
    schedule_to_start_timeout: Option<Duration>,
    heartbeat_timeout: Option<Duration>,
    retry_policy: Option<RetryPolicy>,
}

impl StartActivity {
    /// An activity of `activity_type` on `task_queue`, with a random (UUID v4) id, no
    /// arguments and a 60 s start-to-close timeout.
    pub fn new(activity_type: impl Into<String>, task_queue: impl Into<String>) -> Self {
        Self {
            activity_type: activity_type.into(),
            task_queue: task_queue.into(),
            activity_id: uuid::Uuid::new_v4().to_string(),
            args: Vec::new(),
            start_to_close_timeout: Some(DEFAULT_START_TO_CLOSE),
            schedule_to_close_timeout: None,
            schedule_to_start_timeout: None,
            heartbeat_timeout: None,
            retry_policy: None,
        }
    }

    /// The activity id, unique among the namespace's running activities.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.activity_id = id.into();
        self
    }

    /// Appends an argument, encoded as JSON (`binary/null` for `()` and `None`).
    pub fn arg<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.args
            .push(encode_json(value).map_err(|error| error.to_string()));
        self
    }

    /// Appends an argument already encoded, e.g. `binary/plain` bytes.
    pub fn arg_payload(mut self, payload: Payload) -> Self {
        self.args.push(Ok(payload));
        self
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

    pub(super) fn into_request(
        self,
        namespace: &str,
        identity: &str,
    ) -> Result<service::StartActivityExecutionRequest, ClientError> {
        let payloads = self
            .args
            .into_iter()
            .map(|arg| {
                arg.map_err(|message| ClientError::Encode(serde::ser::Error::custom(message)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(service::StartActivityExecutionRequest {
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            request_id: uuid::Uuid::new_v4().to_string(),
            activity_id: self.activity_id,
            activity_type: Some(ActivityType {
                name: self.activity_type,
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
            input: (!payloads.is_empty()).then_some(Payloads { payloads }),
            ..Default::default()
        })
    }
}
