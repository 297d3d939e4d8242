//! How a worker is configured.

use std::time::Duration;

use super::lifecycle::deployment::Deployment;
use super::polling::pollers::Pollers;
use super::slots::Slots;
use crate::codec::CodecChain;
use crate::connection::ConnectionOptions;
use crate::interceptor::InterceptorChain;
use crate::isolated::IsolatedOptions;
use crate::storage::ExternalStorage;

/// Settings of one activity worker. Start from [`WorkerOptions::new`] and change fields.
///
/// ```
/// use legwork::connection::ConnectionOptions;
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
    /// The most activity tasks held at once, sync and async together: a fixed 100 by
    /// default, or as many as CPU and memory allow. See [`Slots`].
    pub slots: Slots,
    /// At most this many attempts of an activity type run at once, by type name; these
    /// override `#[activity(max_concurrent = N)]`. A task of a type at its limit waits,
    /// holding its slot, while other types keep running. Empty by default.
    ///
    /// ```
    /// let mut options = legwork::worker::WorkerOptions::new("images");
    /// options.activity_limits.insert("render_video".to_owned(), 2);
    /// ```
    pub activity_limits: std::collections::BTreeMap<String, usize>,
    /// Threads of the blocking pool that runs sync activities; at most one sync
    /// activity runs per thread, more wait for a thread.
    pub blocking_threads: usize,
    /// Added to the nice value of blocking-pool threads (Linux), so that CPU-bound sync
    /// activities yield to the thread that polls and responds, and to a Temporal server
    /// on the same machine. 10 by default; 0 keeps the process's priority.
    pub blocking_nice: i32,
    /// Threads of the event loop that runs async activities.
    pub async_threads: usize,
    /// How many `PollActivityTaskQueue` calls stay open: autoscaled where the namespace
    /// enrols workers, else 5, by default; see [`Pollers`]. Never more than free slots.
    pub pollers: Pollers,
    /// The most activities this worker starts per second (sdk-core's
    /// `max_worker_activities_per_second`): polls are spaced by 1/rate, so tasks over the
    /// rate stay on the server for other workers. `None`, the default, sets no limit.
    pub max_activities_per_second: Option<f64>,
    /// A limit for the whole task queue, enforced by the server across all its workers
    /// (`task_queue_metadata.max_tasks_per_second` on each poll); sent only when set. The
    /// last poll wins, so every worker of the queue should send the same value (Go's SDK
    /// sends 100 000 unless told otherwise); `temporal task-queue config set
    /// --queue-rps-limit` sets one that overrides workers'.
    pub max_task_queue_activities_per_second: Option<f64>,
    /// Worker Deployment Versioning: unversioned, with the executable's checksum as build
    /// id, by default. See [`Deployment`].
    pub deployment: Deployment,
    /// Where to serve `GET /healthz` (the control loop answers) and `GET /readyz` (200
    /// once the server has answered a poll, 503 from the start of shutdown), e.g.
    /// `0.0.0.0:8080` for Kubernetes probes. `None`, the default, serves nothing; a taken
    /// address stops the worker at start.
    pub health_bind: Option<std::net::SocketAddr>,
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
    /// Payloads of a threshold size or more (256 KiB by default) stored outside Temporal,
    /// and references from other workers and SDKs read back; see
    /// [`crate::storage`]. `None`, the default, stores nothing externally, and a reference
    /// fails the attempt with `ExternalStorageDriverNotFound`.
    pub external_storage: Option<ExternalStorage>,
    /// Interceptors around every attempt and its heartbeats, outermost first; they run
    /// where the activity runs (see [`crate::interceptor`]). Empty by default.
    pub interceptors: InterceptorChain,
    /// The child processes of `#[activity(isolated)]` activities: kill grace, recycling,
    /// the default memory limit, warm children. Unused by a worker without isolated
    /// activities. See [`IsolatedOptions`].
    pub isolated: IsolatedOptions,
}

impl WorkerOptions {
    /// Options for a worker on `task_queue`, against a local server, with defaults that
    /// suit most workers.
    pub fn new(task_queue: impl Into<String>) -> Self {
        let slots = Slots::default();
        WorkerOptions {
            connection: ConnectionOptions::default(),
            task_queue: task_queue.into(),
            slots,
            activity_limits: std::collections::BTreeMap::new(),
            blocking_threads: slots.most(),
            blocking_nice: 10,
            async_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            pollers: Pollers::Auto,
            max_activities_per_second: None,
            max_task_queue_activities_per_second: None,
            deployment: Deployment::default(),
            health_bind: None,
            shutdown_grace: Duration::from_secs(10),
            stall_threshold: Duration::from_millis(100),
            metrics_bind: None,
            codecs: CodecChain::new(),
            external_storage: None,
            interceptors: InterceptorChain::new(),
            isolated: IsolatedOptions::default(),
        }
    }
}
