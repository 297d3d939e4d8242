//! How to reach a Temporal namespace: one [`ConnectionOptions`] for the worker, the client
//! and `legwork::main!()` alike (address, namespace, TLS, API key, headers), filled from
//! `temporal.toml` and `TEMPORAL_*` variables by [`ConnectionOptions::from_env`] as every
//! Temporal SDK does, and checked at start: a [`ConnectError`] is one line naming the cause
//! and the fix, and never contains a secret.
//!
//! ```
//! use legwork::connection::{ConnectionOptions, Secret};
//!
//! let mut cloud = ConnectionOptions::new("payments.a2b3c.tmprl.cloud:7233");
//! cloud.namespace = "payments.a2b3c".into();
//! cloud.api_key = Some(Secret::new("key-from-a-vault"));
//! assert!(cloud.tls_enabled()); // an API key turns TLS on
//! assert!(!format!("{cloud:?}").contains("key-from-a-vault"));
//! ```

// One gRPC channel to the frontend, shared by the worker and the client:
// - `options`: what a connection is made of, with secrets that never print;
// - `envconfig`: `temporal.toml` profiles and `TEMPORAL_*` variables;
// - `tls`: the URL and rustls settings;
// - `headers`: the metadata on every call, the API key replaceable while running;
// - `diagnose`: one line naming the cause and the fix when connecting fails.

use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::Request;
use tracing::{debug, warn};

use crate::codec::BoxFuture;
use crate::proto::service::GetSystemInfoRequest;
use crate::proto::WorkflowServiceClient;
use crate::telemetry::rpc::{Metered, RpcMetrics};

mod diagnose;
pub(crate) mod envconfig;
mod error;
mod headers;
mod options;
mod tls;

pub use envconfig::EnvConfigError;
pub use error::ConnectError;
pub(crate) use headers::ApiKeySlot;
pub(crate) use headers::Headers;
pub use options::{ClientCertificate, ConnectionOptions, Pem, Secret, TlsMode};

/// The workflow service, with legwork's headers on every call, and the request metrics on
/// a worker's connection (a client's measures nothing, with the same type).
pub(crate) type ServiceClient =
    WorkflowServiceClient<InterceptedService<Metered<Channel>, Headers>>;

/// Deadline of every unary call, from the worker and the client alike.
pub(crate) const UNARY_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of a long poll: the server answers empty after about 60 s, and refuses a long
/// poll that has no deadline at all (sdk-core allows 70 s).
pub(crate) const LONG_POLL_DEADLINE: Duration = Duration::from_secs(70);
/// Deadline of the first call, which proves the address, TLS and credentials.
const CHECK_DEADLINE: Duration = Duration::from_secs(4);

/// A request carrying a gRPC deadline.
pub(crate) fn with_deadline<T>(message: T, deadline: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    request
}

/// Connects and proves the connection with `GetSystemInfo`, so that a wrong address, CA,
/// server name or credential fails here, in one line, not at the first poll.
///
/// `api_key` is the slot the headers read the key from on every call (created from
/// `options.api_key` by the caller, which keeps it to rotate the key).
pub(crate) async fn connect(
    options: &ConnectionOptions,
    api_key: ApiKeySlot,
) -> Result<ServiceClient, ConnectError> {
    connect_metered(options, api_key, None).await
}

/// [`connect`], with every call of the connection counted and timed in `metrics`.
///
/// Boxed: an async body is copied into every codegen unit that awaits it, and the worker,
/// the client and the dev server each do; once per connection, the box costs nothing.
pub(crate) fn connect_metered(
    options: &ConnectionOptions,
    api_key: ApiKeySlot,
    metrics: Option<RpcMetrics>,
) -> BoxFuture<'_, Result<ServiceClient, ConnectError>> {
    Box::pin(connect_metered_inner(options, api_key, metrics))
}

async fn connect_metered_inner(
    options: &ConnectionOptions,
    api_key: ApiKeySlot,
    metrics: Option<RpcMetrics>,
) -> Result<ServiceClient, ConnectError> {
    let tls = options.tls_enabled();
    let attempt = diagnose::Attempt { options, tls };
    let endpoint = tls::endpoint(options)?;
    let headers = Headers::new(&options.namespace, api_key, &options.headers)?;
    if options.api_key.is_some() && !tls {
        warn!(address = %options.address, "the API key is sent without TLS: TLS is off");
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| attempt.transport(&error))?;
    let channel = Metered::new(channel, metrics);
    let mut service = WorkflowServiceClient::with_interceptor(channel, headers)
        .max_decoding_message_size(128 * 1024 * 1024);
    match service
        .get_system_info(with_deadline(GetSystemInfoRequest {}, CHECK_DEADLINE))
        .await
    {
        Ok(_) => {}
        // An older server or a proxy without it: the connection itself works.
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            debug!("GetSystemInfo is not implemented; skipping the check")
        }
        Err(status) => return Err(attempt.status(&status)),
    }
    Ok(service)
}

/// One line naming the cause and the fix for a call that failed right after connecting.
pub(crate) fn diagnose_status(options: &ConnectionOptions, status: &tonic::Status) -> ConnectError {
    let attempt = diagnose::Attempt {
        options,
        tls: options.tls_enabled(),
    };
    attempt.status(status)
}

/// A plaintext connection to `address`, namespace `default`: for the dev server.
pub(crate) async fn connect_plain(address: &str) -> Result<ServiceClient, ConnectError> {
    connect(&ConnectionOptions::new(address), ApiKeySlot::default()).await
}
