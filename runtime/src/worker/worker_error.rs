//! Why a worker could not start, and how its control thread says it has started.

use std::net::SocketAddr;

use super::invalid_option::InvalidOption;
use crate::connection::ConnectError;
use crate::registry::DuplicateActivity;

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Two activities share a name, or two dynamic activities are linked.
    #[error(transparent)]
    DuplicateActivity(#[from] DuplicateActivity),
    /// The server could not be reached, or refused the connection's settings.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The namespace does not exist on the server.
    #[error("namespace `{namespace}` does not exist on {address}; check ConnectionOptions::namespace (on Temporal Cloud it is `<name>.<account>`)")]
    UnknownNamespace {
        /// The namespace asked for.
        namespace: String,
        /// The server address.
        address: String,
    },
    /// The control runtime, the event loop or the pool could not start its threads.
    #[error("could not start the worker's threads: {0}")]
    Io(#[from] std::io::Error),
    /// The metrics endpoint could not listen on its address.
    #[error("cannot serve metrics on {address}: {source}; choose another metrics_bind (--metrics-bind) address")]
    MetricsBind {
        /// The address asked for.
        address: SocketAddr,
        /// Why binding failed, e.g. the address is in use.
        source: std::io::Error,
    },
    /// The health endpoint could not listen on its address.
    #[error(
        "cannot serve health probes on {address}: {source}; choose another health_bind (--health-bind) address"
    )]
    HealthBind {
        /// The address asked for.
        address: SocketAddr,
        /// Why binding failed, e.g. the address is in use.
        source: std::io::Error,
    },
    /// The worker has isolated activities, and this executable cannot serve as their child
    /// process (its `main` does not call `legwork::isolated::init()` first).
    #[error("isolated activities cannot run: {0}")]
    Isolated(String),
    /// A setting that cannot work (poller bounds, rate limits, deployment versioning,
    /// slots and per-type limits).
    #[error(transparent)]
    InvalidOption(#[from] InvalidOption),
}

/// What the control thread says when the worker runs, or why it could not start.
pub(crate) type StartResult = Result<Option<SocketAddr>, WorkerError>;

/// Tells `start` the worker runs, and where its metrics are served.
pub(crate) type Ready = tokio::sync::oneshot::Sender<StartResult>;
