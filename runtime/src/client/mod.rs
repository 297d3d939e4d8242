//! A small async client for activities: start a standalone one, wait for its outcome,
//! describe, cancel, list and count them; operator commands (pause, unpause, reset, update
//! options, terminate, delete) on them and on a workflow's activities; and complete, fail
//! or heartbeat any activity from outside its worker (async completion, by task token or
//! by ids).

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;
use temporalio_protos::protos::temporal::api::activity::v1::{
    activity_execution_outcome, ActivityExecutionInfo, ActivityExecutionListInfo,
    ActivityExecutionOutcome,
};
use temporalio_protos::protos::temporal::api::enums::v1::{
    ActivityExecutionStatus, PendingActivityState, RetryState, TaskQueueKind, TimeoutType,
};
use tonic::Code;

use crate::codec::{CodecChain, SerializationContext};
use crate::connection::{
    connect, with_deadline, ApiKeySlot, ServiceClient, LONG_POLL_DEADLINE, UNARY_DEADLINE,
};
use crate::connection::{ConnectError, ConnectionOptions, Secret};
use crate::payload::{decode_bytes, decode_json, encode_json, DecodeError};
use crate::payload::{from_wire, to_wire, Payload};
use crate::priority::Priority;
use crate::proto::{service, ActivityType, Failure, FailureInfo, Payloads, TaskQueue};
use crate::retry_policy::RetryPolicy;
use crate::storage::ExternalStorage;

mod codecs;
mod completion;
mod describe;
mod handle;
mod list;
mod operator;
mod options;
mod outcome;
mod start;
#[cfg(test)]
mod tests;
mod token;
pub(crate) mod typed;
mod workflow_activity;

pub use completion::AsyncActivityHandle;
pub use describe::{ActivityDescription, ActivityStatus, RunState};
pub use handle::ActivityHandle;
pub use list::{ActivityPage, ActivitySummary};
pub use operator::{ActivityOptionsUpdate, CurrentActivityOptions, ResetOptions};
pub use options::{ActivityOptions, IdConflictPolicy, IdReusePolicy};
pub use outcome::{ActivityFailure, ActivityOutcome};
pub use start::StartActivity;
pub use token::{TaskToken, TaskTokenParseError};
pub use typed::TypedActivityHandle;
pub use workflow_activity::WorkflowActivityHandle;

const DEFAULT_START_TO_CLOSE: Duration = Duration::from_secs(60);

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered an RPC with an error.
    #[error("{operation} failed: {status}")]
    Rpc {
        /// The RPC, e.g. `StartActivityExecution`.
        operation: &'static str,
        /// The server's status: code, message and details.
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
    /// A payload codec (encryption, compression) failed on an argument or the result.
    #[error("payload codec: {0}")]
    Codec(#[from] crate::codec::CodecError),
    /// An argument could not be stored externally, or a result could not be fetched
    /// from external storage.
    #[error("external storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// An activity with this id is running (conflict policy `Fail`), or is closed and its
    /// id may not be reused (reuse policy).
    #[error("activity {activity_id} is already started (run {run_id})")]
    AlreadyStarted {
        /// The id asked for.
        activity_id: String,
        /// The run that holds the id.
        run_id: String,
    },
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
///
/// Secured clusters and Temporal Cloud take a [`ConnectionOptions`]:
///
/// ```no_run
/// use legwork::client::Client;
/// use legwork::connection::ConnectionOptions;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // `temporal.toml` and TEMPORAL_* variables, as the CLI and every SDK read them.
/// let client = Client::connect_with(ConnectionOptions::from_env()?).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    service: ServiceClient,
    api_key: ApiKeySlot,
    codecs: CodecChain,
    storage: Option<ExternalStorage>,
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
    /// Connects to a plaintext frontend at `address` (`host:port`), as for a local dev
    /// server. Anything secured goes through [`Client::connect_with`].
    pub async fn connect(address: &str, namespace: &str) -> Result<Client, ConnectError> {
        let mut options = ConnectionOptions::new(address);
        options.namespace = namespace.to_owned();
        Self::connect_with(options).await
    }

    /// Connects with TLS, mTLS, an API key or extra headers as `options` say, and checks
    /// the connection with a first call, so that a wrong address or credential fails here.
    pub async fn connect_with(options: ConnectionOptions) -> Result<Client, ConnectError> {
        let api_key = ApiKeySlot::new(options.api_key.as_ref())?;
        let service = connect(&options, api_key.clone()).await?;
        Ok(Client {
            service,
            api_key,
            codecs: CodecChain::new(),
            storage: None,
            namespace: options.namespace,
            identity: options.identity,
        })
    }

    /// Applies payload codecs (encryption, compression) to the arguments this client sends
    /// and the results it reads, as the workers of these activities do.
    pub fn with_codecs(mut self, codecs: CodecChain) -> Self {
        self.codecs = codecs;
        self
    }

    /// Stores large arguments externally and reads results stored externally, as the
    /// workers of these activities do (see [`crate::storage`]).
    pub fn with_external_storage(mut self, storage: ExternalStorage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Replaces the API key for every later call of this client and its clones, without
    /// reconnecting: rotate a key before it expires. `None` stops sending one.
    pub fn set_api_key(&self, key: Option<Secret>) -> Result<(), ConnectError> {
        self.api_key.set(key.as_ref())
    }

    /// Replaces the identity recorded with requests (default `pid@hostname`, or
    /// [`ConnectionOptions::identity`]): the server keeps it with what this client does,
    /// e.g. in the `ActivityTaskCompleted` event of a workflow's history when it completes
    /// an activity asynchronously, so that the history says which service decided.
    ///
    /// ```no_run
    /// use legwork::client::Client;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::connect("127.0.0.1:7233", "default")
    ///     .await?
    ///     .with_identity("approvals-api@web-3");
    /// // The workflow `order-7` waits for its activity `approval`, which a worker handed
    /// // over; its history records `approvals-api@web-3` as the one who completed it.
    /// client
    ///     .async_activity_by_id("order-7", None, "approval")
    ///     .complete(&"approved")
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = identity.into();
        self
    }

    /// The namespace every request targets.
    pub fn namespace(&self) -> &str {
        &self.namespace
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

/// A duration from the server; its zero means "unset".
fn from_proto_duration(duration: Option<prost_wkt_types::Duration>) -> Option<Duration> {
    duration
        .and_then(|duration| Duration::try_from(duration).ok())
        .filter(|duration| !duration.is_zero())
}

fn to_system_time(timestamp: &Option<prost_wkt_types::Timestamp>) -> Option<SystemTime> {
    timestamp.and_then(|timestamp| SystemTime::try_from(timestamp).ok())
}
