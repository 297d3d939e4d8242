//! One gRPC channel to the Temporal frontend, shared by the worker and the client.

use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::proto::WorkflowServiceClient;

/// The workflow service, with legwork's headers on every call.
pub type ServiceClient = WorkflowServiceClient<InterceptedService<Channel, Headers>>;

/// Could not reach the server.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid server address `{address}`: {source}")]
    InvalidAddress {
        address: String,
        source: tonic::transport::Error,
    },
    #[error("could not connect to the Temporal server at {address}: {source}")]
    Unreachable {
        address: String,
        source: tonic::transport::Error,
    },
}

/// Deadline of every unary call, from the worker and the client alike.
pub(crate) const UNARY_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of a long poll: the server answers empty after about 60 s, and refuses a long
/// poll that has no deadline at all (sdk-core allows 70 s).
pub(crate) const LONG_POLL_DEADLINE: Duration = Duration::from_secs(70);

/// A request carrying a gRPC deadline.
pub(crate) fn with_deadline<T>(message: T, deadline: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    request
}

/// Adds the headers every Temporal SDK sends.
#[derive(Clone)]
pub struct Headers {
    namespace: MetadataValue<tonic::metadata::Ascii>,
}

impl tonic::service::Interceptor for Headers {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let metadata = request.metadata_mut();
        metadata.insert("client-name", MetadataValue::from_static("legwork"));
        metadata.insert(
            "client-version",
            MetadataValue::from_static(env!("CARGO_PKG_VERSION")),
        );
        metadata.insert("temporal-namespace", self.namespace.clone());
        Ok(request)
    }
}

/// Connects to `address` (`host:port`, or a full `http://` URL).
pub async fn connect(address: &str, namespace: &str) -> Result<ServiceClient, ConnectError> {
    let url = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let endpoint = Endpoint::from_shared(url)
        .map_err(|source| ConnectError::InvalidAddress {
            address: address.to_owned(),
            source,
        })?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|source| ConnectError::Unreachable {
            address: address.to_owned(),
            source,
        })?;
    let namespace = namespace
        .parse()
        .unwrap_or_else(|_| MetadataValue::from_static("default"));
    Ok(
        WorkflowServiceClient::with_interceptor(channel, Headers { namespace })
            .max_decoding_message_size(128 * 1024 * 1024),
    )
}

/// `{pid}@{hostname}`, as the other SDKs identify a worker or client.
pub fn default_identity() -> String {
    format!(
        "{}@{}",
        std::process::id(),
        gethostname::gethostname().to_string_lossy()
    )
}
