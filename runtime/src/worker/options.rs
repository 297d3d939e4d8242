//! How a worker is configured.

use std::time::Duration;

use crate::codec::CodecChain;
use crate::connection::ConnectionOptions;

/// Settings of one activity worker. Start from [`WorkerOptions::new`] and change fields.
///
/// ```
/// use legwork::client::ConnectionOptions;
///
/// let mut options = legwork::worker::WorkerOptions::new("images");
/// options.blocking_threads = 8;
/// options.connection = ConnectionOptions::new("temporal.internal:7233");
/// assert_eq!(options.connection.namespace, "default");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Where the server is and how to reach it: address, namespace, TLS, credentials,
    /// headers, identity. A local plaintext server by default;
    /// [`ConnectionOptions::from_env`] reads `temporal.toml` and `TEMPORAL_*` variables.
    pub connection: ConnectionOptions,
    /// The task queue to poll.
    pub task_queue: String,
    /// Slots: the most activity tasks held at once, sync and async together.
    pub max_concurrent_activities: usize,
    /// Threads of the blocking pool that runs sync activities; at most one sync
    /// activity runs per thread, more wait for a thread.
    pub blocking_threads: usize,
    /// Added to the nice value of blocking-pool threads (Linux), so that CPU-bound sync
    /// activities yield to the thread that polls and responds, and to a Temporal server
    /// on the same machine. 10 by default; 0 keeps the process's priority.
    pub blocking_nice: i32,
    /// Threads of the event loop that runs async activities.
    pub async_threads: usize,
    /// Concurrent `PollActivityTaskQueue` calls.
    pub pollers: usize,
    /// How long in-flight activities may run on after shutdown begins.
    pub shutdown_grace: Duration,
    /// A poll of an async activity's future that holds its thread longer than this is
    /// reported as a stall (a warning naming the activity). 100 ms, as asyncio's debug mode.
    pub stall_threshold: Duration,
    /// Where to serve `GET /metrics` (Prometheus text format, sdk-core's names, e.g.
    /// `127.0.0.1:9090`); `None`, the default, serves nothing. Port 0 picks a free port,
    /// which [`RunningWorker::metrics_address`](super::RunningWorker::metrics_address)
    /// tells. Without it, per-attempt and per-RPC metrics are not recorded at all; a taken
    /// address stops the worker at start.
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// Payload codecs (encryption, compression) applied to every payload read or written:
    /// arguments, results, heartbeat and failure details; not headers. Empty by default.
    pub codecs: CodecChain,
}

impl WorkerOptions {
    /// Options for a worker on `task_queue`, against a local server, with defaults that
    /// suit most workers.
    pub fn new(task_queue: impl Into<String>) -> Self {
        let max_concurrent_activities = 100;
        WorkerOptions {
            connection: ConnectionOptions::default(),
            task_queue: task_queue.into(),
            max_concurrent_activities,
            blocking_threads: max_concurrent_activities,
            blocking_nice: 10,
            async_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            pollers: 5,
            shutdown_grace: Duration::from_secs(10),
            stall_threshold: Duration::from_millis(100),
            metrics_bind: None,
            codecs: CodecChain::new(),
        }
    }
}
