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
use tonic::Code;

use crate::connection::{
    connect, default_identity, with_deadline, ConnectError, ServiceClient, LONG_POLL_DEADLINE,
    UNARY_DEADLINE,
};
use crate::payload::{decode_bytes, decode_json, encode_json, DecodeError};
use crate::proto::{
    self, service, ActivityType, Failure, FailureInfo, Payload, Payloads, TaskQueue,
};

mod describe;
mod handle;
mod outcome;
mod start;
#[cfg(test)]
mod tests;

pub use describe::{ActivityDescription, ActivityStatus, RunState};
pub use handle::ActivityHandle;
pub use outcome::{ActivityFailure, ActivityOutcome};
pub use start::{RetryPolicy, StartActivity};

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
            .start_activity_execution(with_deadline(request, UNARY_DEADLINE))
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

fn to_proto_duration(duration: Duration) -> Option<prost_wkt_types::Duration> {
    duration.try_into().ok()
}

fn to_system_time(timestamp: &Option<prost_wkt_types::Timestamp>) -> Option<SystemTime> {
    timestamp.and_then(|timestamp| SystemTime::try_from(timestamp).ok())
}
