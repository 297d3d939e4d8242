//! A minimal async client for standalone activities: start one, wait for its outcome,
//! describe it, cancel it.

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;
use temporalio_protos::protos::temporal::api::activity::v1::{
    activity_execution_outcome, ActivityExecutionInfo, ActivityExecutionOutcome,
};
use temporalio_protos::protos::temporal::api::enums::v1::{
    ActivityExecutionStatus, PendingActivityState, RetryState, TaskQueueKind, TimeoutType,
};
use tonic::{Code, Request};

use crate::connection::{connect, default_identity, ConnectError, ServiceClient};
use crate::payload::{decode_bytes, decode_json, encode_json, DecodeError};
use crate::proto::{
    self, service, ActivityType, Failure, FailureInfo, Payload, Payloads, TaskQueue,
};

/// Deadline of every unary call.
const UNARY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of a long poll: the server answers empty after about 60 s, and refuses a long
/// poll that has no deadline at all.
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(70);
const DEFAULT_START_TO_CLOSE: Duration = Duration::from_secs(60);

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered an RPC with an error.
    #[error("{operation} failed: {status}")]
    Rpc {
        /// The RPC, e.g. `StartActivityExecution`.
        operation: &'static str,
        #[source]
        status: tonic::Status,
    },
    /// The activity closed unsuccessfully (failed, timed out, canceled or terminated).
    #[error("activity failed: {0}")]
    Failed(Box<ActivityFailure>),
    /// The activity's result could not be decoded into the requested type.
    #[error("could not decode the activity result: {0}")]
    Decode(#[from] DecodeError),
    /// An argument could not be encoded as JSON.
    #[error("could not encode an activity argument: {0}")]
    Encode(#[from] serde_json::Error),
    /// The activity completed without a result payload, and `null` is not a valid `T`.
    #[error("the activity completed without a result")]
    NoResult,
}

fn rpc_error(operation: &'static str) -> impl FnOnce(tonic::Status) -> ClientError {
    move |status| ClientError::Rpc { operation, status }
}

fn with_timeout<T>(message: T, timeout: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(timeout);
    request
}

/// A connection to a Temporal namespace, for starting and watching standalone activities.
///
/// Cheap to clone: clones share one gRPC channel.
///
/// ```no_run
/// use std::time::Duration;
/// use legwork_runtime::client::{Client, StartActivity};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::connect("127.0.0.1:7233", "default").await?;
/// let handle = client
///     .start_activity(
///         StartActivity::new("greet", "greetings")
///             .arg(&"world")
///             .start_to_close_timeout(Duration::from_secs(10))
///             .max_attempts(3),
///     )
///     .await?;
/// let greeting: String = handle.result().await?;
/// println!("{} said {greeting}", handle.id());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    service: ServiceClient,
    namespace: String,
    identity: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespace", &self.namespace)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to the frontend at `address` (`host:port` or an `http://` URL).
    pub async fn connect(address: &str, namespace: &str) -> Result<Client, ConnectError> {
        let service = connect(address, namespace).await?;
        Ok(Self::from_service(service, namespace))
    }

    /// A client over an existing connection (shared with a worker, for instance).
    pub(crate) fn from_service(service: ServiceClient, namespace: &str) -> Client {
        Client {
            service,
            namespace: namespace.to_owned(),
            identity: default_identity(),
        }
    }

    /// Replaces the identity recorded with requests (default `pid@hostname`).
    pub fn with_identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = identity.into();
        self
    }

    /// The namespace every request targets.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Queues an activity; a worker polling `task_queue` will run it.
    pub async fn start_activity(
        &self,
        options: StartActivity,
    ) -> Result<ActivityHandle, ClientError> {
        let activity_id = options.activity_id.clone();
        let request = options.into_request(&self.namespace, &self.identity)?;
        let response = self
            .service()
            .start_activity_execution(with_timeout(request, UNARY_TIMEOUT))
            .await
            .map_err(rpc_error("StartActivityExecution"))?
            .into_inner();
        Ok(self.handle(activity_id, Some(response.run_id)))
    }

    /// A handle on an existing activity; `run_id: None` targets its latest run.
    pub fn handle(&self, activity_id: impl Into<String>, run_id: Option<String>) -> ActivityHandle {
        ActivityHandle {
            client: self.clone(),
            activity_id: activity_id.into(),
            run_id: run_id.filter(|id| !id.is_empty()),
        }
    }

    fn service(&self) -> ServiceClient {
        self.service.clone()
    }
}

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
    activity_id: String,
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

    fn into_request(
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

/// One standalone activity (one run of it, when the run id is known).
#[derive(Debug, Clone)]
pub struct ActivityHandle {
    client: Client,
    activity_id: String,
    run_id: Option<String>,
}

impl ActivityHandle {
    /// The activity id.
    pub fn id(&self) -> &str {
        &self.activity_id
    }

    /// The run id, when known (always after [`Client::start_activity`]).
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Waits until the activity closes, however long that takes, and returns how it ended.
    ///
    /// Long-polls `PollActivityExecution`, each call with a 70 s deadline, until the
    /// response carries an outcome.
    pub async fn outcome(&self) -> Result<ActivityOutcome, ClientError> {
        loop {
            let request = service::PollActivityExecutionRequest {
                namespace: self.client.namespace.clone(),
                activity_id: self.activity_id.clone(),
                run_id: self.run_id.clone().unwrap_or_default(),
            };
            let response = self
                .client
                .service()
                .poll_activity_execution(with_timeout(request, LONG_POLL_TIMEOUT))
                .await;
            match response {
                Ok(response) => {
                    if let Some(outcome) = response
                        .into_inner()
                        .outcome
                        .and_then(ActivityOutcome::from_proto)
                    {
                        return Ok(outcome);
                    }
                }
                // Our own deadline passing only means nothing happened yet: poll again.
                Err(status) if status.code() == Code::DeadlineExceeded => {}
                Err(status) => return Err(rpc_error("PollActivityExecution")(status)),
            }
        }
    }

    /// Waits for the activity and decodes its JSON result (a `binary/null` or absent result
    /// decodes as JSON `null`, so `()` and `Option` work). For `binary/plain` results use
    /// [`result_bytes`](Self::result_bytes).
    pub async fn result<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        match self.completed_payload().await? {
            Some(payload) => Ok(decode_json(&payload)?),
            None => serde_json::from_slice(b"null").map_err(|_| ClientError::NoResult),
        }
    }

    /// Waits for the activity and returns its result as bytes (`binary/plain`, or JSON bytes).
    pub async fn result_bytes(&self) -> Result<Vec<u8>, ClientError> {
        let payload = self
            .completed_payload()
            .await?
            .ok_or(ClientError::NoResult)?;
        Ok(decode_bytes(&payload)?)
    }

    async fn completed_payload(&self) -> Result<Option<Payload>, ClientError> {
        match self.outcome().await? {
            ActivityOutcome::Completed(payload) => Ok(payload),
            ActivityOutcome::Failed(failure) => Err(ClientError::Failed(Box::new(failure))),
        }
    }

    /// Asks the server to cancel the activity. A scheduled activity no worker has started is
    /// canceled at once; a running one is canceled when its worker acknowledges (workers
    /// learn of it through heartbeats).
    pub async fn cancel(&self, reason: &str) -> Result<(), ClientError> {
        let request = service::RequestCancelActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            reason: reason.to_owned(),
        };
        self.client
            .service()
            .request_cancel_activity_execution(with_timeout(request, UNARY_TIMEOUT))
            .await
            .map_err(rpc_error("RequestCancelActivityExecution"))?;
        Ok(())
    }

    /// The activity's current state, with its last failure, heartbeat details and outcome.
    pub async fn describe(&self) -> Result<ActivityDescription, ClientError> {
        let request = service::DescribeActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            include_outcome: true,
            include_heartbeat_details: true,
            include_last_failure: true,
            ..Default::default()
        };
        let response = self
            .client
            .service()
            .describe_activity_execution(with_timeout(request, UNARY_TIMEOUT))
            .await
            .map_err(rpc_error("DescribeActivityExecution"))?
            .into_inner();
        let outcome = response.outcome.and_then(ActivityOutcome::from_proto);
        Ok(ActivityDescription::from_proto(
            response.info.unwrap_or_default(),
            outcome,
        ))
    }
}

/// How a closed activity ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityOutcome {
    /// It returned; the payload is its result (`None` when the worker sent none).
    Completed(Option<Payload>),
    /// It failed, timed out, was canceled or terminated.
    Failed(ActivityFailure),
}

impl ActivityOutcome {
    fn from_proto(outcome: ActivityExecutionOutcome) -> Option<Self> {
        let retry_state = outcome.retry_state;
        Some(match outcome.value? {
            activity_execution_outcome::Value::Result(payloads) => {
                ActivityOutcome::Completed(payloads.payloads.into_iter().next())
            }
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
    /// The failure as the server sent it.
    pub raw: Box<Failure>,
}

impl ActivityFailure {
    /// Converts a protocol failure and its causes.
    pub fn from_proto(failure: Failure) -> Self {
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

/// An activity's overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityStatus {
    /// Not closed yet; see [`RunState`] for the detail.
    Running,
    Completed,
    Failed,
    Canceled,
    Terminated,
    TimedOut,
    /// A status this client does not know.
    Unknown,
}

impl ActivityStatus {
    fn from_proto(status: i32) -> Self {
        match ActivityExecutionStatus::try_from(status) {
            Ok(ActivityExecutionStatus::Running) => Self::Running,
            Ok(ActivityExecutionStatus::Completed) => Self::Completed,
            Ok(ActivityExecutionStatus::Failed) => Self::Failed,
            Ok(ActivityExecutionStatus::Canceled) => Self::Canceled,
            Ok(ActivityExecutionStatus::Terminated) => Self::Terminated,
            Ok(ActivityExecutionStatus::TimedOut) => Self::TimedOut,
            _ => Self::Unknown,
        }
    }

    /// Whether the activity has closed.
    pub fn is_closed(self) -> bool {
        !matches!(self, Self::Running | Self::Unknown)
    }
}

/// Where a running activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Waiting in the task queue for a worker (or for its next retry).
    Scheduled,
    /// A worker is running an attempt.
    Started,
    CancelRequested,
    Paused,
    PauseRequested,
    /// Closed, or a state this client does not know.
    None,
}

impl RunState {
    fn from_proto(state: i32) -> Self {
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
pub struct ActivityDescription {
    pub activity_id: String,
    pub run_id: String,
    pub activity_type: String,
    pub task_queue: String,
    pub status: ActivityStatus,
    pub run_state: RunState,
    /// The current attempt, from 1.
    pub attempt: u32,
    /// The failure of the last failed attempt.
    pub last_failure: Option<ActivityFailure>,
    /// The details of the last recorded heartbeat.
    pub last_heartbeat_details: Vec<Payload>,
    pub last_heartbeat_time: Option<SystemTime>,
    /// When the activity was started (queued) by the client.
    pub schedule_time: Option<SystemTime>,
    /// When a worker picked up the last attempt.
    pub last_started_time: Option<SystemTime>,
    /// When the activity closed.
    pub close_time: Option<SystemTime>,
    pub last_worker_identity: String,
    /// The reason given with a cancellation request.
    pub canceled_reason: Option<String>,
    /// How it ended, once closed.
    pub outcome: Option<ActivityOutcome>,
    /// Everything the server sent.
    pub raw: ActivityExecutionInfo,
}

impl ActivityDescription {
    fn from_proto(info: ActivityExecutionInfo, outcome: Option<ActivityOutcome>) -> Self {
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
                .map(|details| details.payloads)
                .unwrap_or_default(),
            last_heartbeat_time: to_system_time(&info.last_heartbeat_time),
            schedule_time: to_system_time(&info.schedule_time),
            last_started_time: to_system_time(&info.last_started_time),
            close_time: to_system_time(&info.close_time),
            last_worker_identity: info.last_worker_identity.clone(),
            canceled_reason: Some(info.canceled_reason.clone()).filter(|reason| !reason.is_empty()),
            outcome,
            raw: info,
        }
    }
}

fn to_proto_duration(duration: Duration) -> Option<prost_wkt_types::Duration> {
    duration.try_into().ok()
}

fn to_system_time(timestamp: &Option<prost_wkt_types::Timestamp>) -> Option<SystemTime> {
    timestamp.and_then(|timestamp| SystemTime::try_from(timestamp).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev_server::{skip_without_cli, DevServer};
    use crate::proto::ApplicationFailureInfo;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Plays the worker's part over raw gRPC, since the real worker lives elsewhere.
    struct FakeWorker {
        service: ServiceClient,
        namespace: String,
        task_queue: String,
    }

    impl FakeWorker {
        async fn new(server: &DevServer, task_queue: &str) -> Self {
            FakeWorker {
                service: connect(&server.address(), server.namespace())
                    .await
                    .unwrap(),
                namespace: server.namespace().to_owned(),
                task_queue: task_queue.to_owned(),
            }
        }

        async fn poll(&self) -> service::PollActivityTaskQueueResponse {
            let request = service::PollActivityTaskQueueRequest {
                namespace: self.namespace.clone(),
                task_queue: Some(TaskQueue {
                    name: self.task_queue.clone(),
                    kind: TaskQueueKind::Normal.into(),
                    ..Default::default()
                }),
                identity: "fake-worker".to_owned(),
                ..Default::default()
            };
            let task = self
                .service
                .clone()
                .poll_activity_task_queue(with_timeout(request, LONG_POLL_TIMEOUT))
                .await
                .unwrap()
                .into_inner();
            assert!(
                !task.task_token.is_empty(),
                "no activity task within the poll"
            );
            task
        }

        async fn complete(&self, task_token: Vec<u8>, result: Payload) {
            let request = service::RespondActivityTaskCompletedRequest {
                namespace: self.namespace.clone(),
                task_token,
                result: Some(Payloads {
                    payloads: vec![result],
                }),
                identity: "fake-worker".to_owned(),
                ..Default::default()
            };
            self.service
                .clone()
                .respond_activity_task_completed(with_timeout(request, UNARY_TIMEOUT))
                .await
                .unwrap();
        }

        async fn fail(&self, task_token: Vec<u8>, failure: Failure) {
            let request = service::RespondActivityTaskFailedRequest {
                namespace: self.namespace.clone(),
                task_token,
                failure: Some(failure),
                identity: "fake-worker".to_owned(),
                ..Default::default()
            };
            self.service
                .clone()
                .respond_activity_task_failed(with_timeout(request, UNARY_TIMEOUT))
                .await
                .unwrap();
        }
    }

    fn application_failure(failure_type: &str, message: &str, non_retryable: bool) -> Failure {
        Failure {
            message: message.to_owned(),
            source: "legwork".to_owned(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: failure_type.to_owned(),
                    non_retryable,
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn start_options_become_the_request() {
        let request = StartActivity::new("greet", "q")
            .id("a-1")
            .arg(&"world")
            .arg(&())
            .heartbeat_timeout(Duration::from_secs(5))
            .max_attempts(3)
            .into_request("default", "me")
            .unwrap();
        assert_eq!(request.activity_id, "a-1");
        assert_eq!(request.activity_type.unwrap().name, "greet");
        assert_eq!(request.task_queue.unwrap().name, "q");
        assert_eq!(request.start_to_close_timeout.unwrap().seconds, 60);
        assert_eq!(request.heartbeat_timeout.unwrap().seconds, 5);
        assert_eq!(request.retry_policy.unwrap().maximum_attempts, 3);
        let input = request.input.unwrap().payloads;
        assert_eq!(input[0].data, br#""world""#);
        assert_eq!(crate::payload::encoding_of(&input[1]), "binary/null");
    }

    #[test]
    fn application_is_the_innermost_application_failure() {
        let mut outer = application_failure("Outer", "outer", false);
        outer.cause = Some(Box::new(application_failure("Inner", "inner", true)));
        let timeout = Failure {
            message: "timed out".to_owned(),
            cause: Some(Box::new(outer)),
            failure_info: Some(FailureInfo::TimeoutFailureInfo(Default::default())),
            ..Default::default()
        };
        let failure = ActivityFailure::from_proto(timeout);
        assert!(failure.is_timeout());
        let application = failure.application().unwrap();
        assert_eq!(application.failure_type.as_deref(), Some("Inner"));
        assert!(application.non_retryable);
    }

    #[test]
    fn scheduled_activity_is_described_and_canceled() {
        if skip_without_cli() {
            return;
        }
        let server = DevServer::start().unwrap();
        runtime().block_on(async {
            let client = Client::connect(&server.address(), server.namespace())
                .await
                .unwrap();
            let handle = client
                .start_activity(StartActivity::new("nobody-runs-me", "idle-queue").arg(&1))
                .await
                .unwrap();
            assert!(handle.run_id().is_some());

            let description = handle.describe().await.unwrap();
            eprintln!("scheduled: {description:#?}");
            assert_eq!(description.status, ActivityStatus::Running);
            assert_eq!(description.run_state, RunState::Scheduled);
            assert_eq!(description.activity_type, "nobody-runs-me");
            assert!(description.schedule_time.is_some());
            assert!(description.close_time.is_none());
            assert!(description.outcome.is_none());

            handle.cancel("changed my mind").await.unwrap();
            let ActivityOutcome::Failed(failure) = handle.outcome().await.unwrap() else {
                panic!("a canceled activity has a failure outcome");
            };
            eprintln!("canceled outcome: {failure:#?}");
            assert!(failure.is_canceled(), "{failure}");
            assert!(failure.application().is_none());

            let description = handle.describe().await.unwrap();
            assert_eq!(description.status, ActivityStatus::Canceled);
            assert_eq!(
                description.canceled_reason.as_deref(),
                Some("changed my mind")
            );
            assert!(description.close_time.is_some());
            assert!(matches!(
                handle.result::<i32>().await,
                Err(ClientError::Failed(failure)) if failure.is_canceled()
            ));
        });
    }

    #[test]
    fn completed_and_failed_activities_report_their_outcome() {
        if skip_without_cli() {
            return;
        }
        let server = DevServer::start().unwrap();
        eprintln!("dev server started in {:?}", server.startup_time());
        runtime().block_on(async {
            let client = Client::connect(&server.address(), server.namespace())
                .await
                .unwrap();
            let worker = FakeWorker::new(&server, "fake-queue").await;

            let greeting = client
                .start_activity(StartActivity::new("greet", "fake-queue").arg(&"world"))
                .await
                .unwrap();
            let task = worker.poll().await;
            assert_eq!(task.activity_id, greeting.id());
            let started = greeting.describe().await.unwrap();
            assert_eq!(started.run_state, RunState::Started);
            assert_eq!(started.attempt, 1);
            assert!(started.last_started_time.is_some());
            worker
                .complete(task.task_token, encode_json("hello, world").unwrap())
                .await;
            assert_eq!(greeting.result::<String>().await.unwrap(), "hello, world");
            let done = greeting.describe().await.unwrap();
            assert_eq!(done.status, ActivityStatus::Completed);
            assert!(matches!(
                done.outcome,
                Some(ActivityOutcome::Completed(Some(_)))
            ));

            let doomed = client
                .start_activity(StartActivity::new("explode", "fake-queue"))
                .await
                .unwrap();
            let task = worker.poll().await;
            worker
                .fail(
                    task.task_token,
                    application_failure("Kaput", "it broke", true),
                )
                .await;
            let Err(ClientError::Failed(failure)) = doomed.result::<String>().await else {
                panic!("expected a failure");
            };
            eprintln!("failed outcome: {failure:#?}");
            let application = failure.application().expect("an application failure");
            assert_eq!(application.failure_type.as_deref(), Some("Kaput"));
            assert_eq!(application.message, "it broke");
            assert!(application.non_retryable);
            let closed = doomed.describe().await.unwrap();
            eprintln!(
                "failed description last_failure: {:#?}",
                closed.last_failure
            );
            assert_eq!(closed.status, ActivityStatus::Failed);
        });
    }

    #[test]
    fn exhausted_retries_and_timeouts_have_their_own_shapes() {
        if skip_without_cli() {
            return;
        }
        let server = DevServer::start().unwrap();
        runtime().block_on(async {
            let client = Client::connect(&server.address(), server.namespace())
                .await
                .unwrap();
            let worker = FakeWorker::new(&server, "retry-queue").await;

            let flaky = client
                .start_activity(StartActivity::new("flaky", "retry-queue").max_attempts(1))
                .await
                .unwrap();
            let task = worker.poll().await;
            worker
                .fail(
                    task.task_token,
                    application_failure("Flaky", "try again", false),
                )
                .await;
            let ActivityOutcome::Failed(failure) = flaky.outcome().await.unwrap() else {
                panic!("expected a failure");
            };
            eprintln!("retries exhausted: {failure}");
            assert_eq!(failure.kind, "application");
            assert_eq!(
                failure.retry_state.as_deref(),
                Some("MAXIMUM_ATTEMPTS_REACHED")
            );
            assert!(!failure.application().unwrap().non_retryable);

            let slow = client
                .start_activity(
                    StartActivity::new("slow", "retry-queue")
                        .start_to_close_timeout(Duration::from_secs(1))
                        .max_attempts(1),
                )
                .await
                .unwrap();
            let _ignored_task = worker.poll().await;
            let ActivityOutcome::Failed(failure) = slow.outcome().await.unwrap() else {
                panic!("expected a timeout");
            };
            eprintln!("timed out: {failure}");
            assert!(failure.is_timeout(), "{failure:#?}");
            assert_eq!(failure.timeout_type.as_deref(), Some("START_TO_CLOSE"));
            assert_eq!(
                slow.describe().await.unwrap().status,
                ActivityStatus::TimedOut
            );

            // A timeout after a failed attempt carries that attempt's failure as its cause.
            let failed_then_slow = client
                .start_activity(
                    StartActivity::new("failed-then-slow", "retry-queue")
                        .start_to_close_timeout(Duration::from_secs(1))
                        .retry_policy(RetryPolicy {
                            initial_interval: Some(Duration::from_millis(10)),
                            maximum_attempts: Some(2),
                            ..Default::default()
                        }),
                )
                .await
                .unwrap();
            let task = worker.poll().await;
            worker
                .fail(
                    task.task_token,
                    application_failure("Flaky", "first attempt", false),
                )
                .await;
            let _ignored_second_attempt = worker.poll().await;
            let ActivityOutcome::Failed(failure) = failed_then_slow.outcome().await.unwrap() else {
                panic!("expected a timeout");
            };
            eprintln!("failed then timed out: {failure}");
            assert!(failure.is_timeout(), "{failure:#?}");
            let application = failure.application().expect("the first attempt's failure");
            assert_eq!(application.failure_type.as_deref(), Some("Flaky"));
            assert_eq!(application.message, "first attempt");
        });
    }
}
