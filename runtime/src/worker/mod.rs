//! The activity worker: polls a task queue, runs activities, reports their ends.
//!
//! Three executors, so that user code can never stop the worker talking to the server:
//! - the *control* runtime (one thread, `legwork-control`) polls, responds and shuts down;
//! - the *event loop* (`legwork-async-N`, one thread per core) runs `#[activity(async)]`;
//! - the *blocking pool* (`legwork-blocking-N`) runs plain `#[activity]` functions.

mod event_loop;
mod executor;
mod invalid_option;
mod lifecycle;
mod options;
mod polling;
mod reporting;
mod server;
mod shared;
mod slots;
mod task;
mod worker_error;

use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;

pub use event_loop::lag::Lag;
#[cfg(feature = "bench-internals")]
pub(crate) use event_loop::stall::{stall_detector_cost, stall_report_delay};
pub use invalid_option::InvalidOption;
pub use lifecycle::deployment::{Deployment, VersioningMode};
pub use lifecycle::run::WorkerReport;
pub use options::WorkerOptions;
pub use polling::pollers::Pollers;
pub use slots::{ResourceBasedSlots, Slots};
use worker_error::StartResult;
pub use worker_error::WorkerError;

use crate::connection::{ApiKeySlot, ConnectError, Secret};
use crate::registry::Registry;

/// Builds and starts a worker.
///
/// ```no_run
/// use legwork::worker::{Worker, WorkerOptions};
///
/// let worker = Worker::new(WorkerOptions::new("images")).start()?;
/// // ... later, e.g. on a signal:
/// worker.shutdown();
/// let report = worker.join();
/// println!("{} activities completed", report.completed);
/// # Ok::<(), legwork::worker::WorkerError>(())
/// ```
pub struct Worker {
    options: WorkerOptions,
    registry: Option<Registry>,
}

impl Worker {
    /// A worker serving every activity linked into this binary.
    pub fn new(options: WorkerOptions) -> Self {
        Worker {
            options,
            registry: None,
        }
    }

    /// Serves these activities instead of every linked one.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Connects, starts polling and returns; the worker runs on its own threads. This
    /// call blocks its thread until the worker runs or has failed to start (seconds at
    /// most); from async code, use [`start_async`](Self::start_async).
    pub fn start(self) -> Result<RunningWorker, WorkerError> {
        let (running, started) = self.spawn()?;
        // Waited for on a thread of its own: `blocking_recv` refuses to run on a runtime
        // thread, and this may be one.
        let outcome = std::thread::scope(|scope| {
            let waiter = scope.spawn(|| started.blocking_recv().ok());
            waiter.join().ok().flatten()
        });
        running.started(outcome)
    }

    /// [`start`](Self::start) for async code: the runtime thread is never blocked.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), legwork::worker::WorkerError> {
    /// use legwork::worker::{Worker, WorkerOptions};
    ///
    /// let worker = Worker::new(WorkerOptions::new("images")).start_async().await?;
    /// worker.shutdown();
    /// let report = worker.join_async().await;
    /// # let _ = report;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_async(self) -> Result<RunningWorker, WorkerError> {
        let (running, started) = self.spawn()?;
        running.started(started.await.ok())
    }

    /// Starts the control thread; the receiver hears whether the worker runs.
    fn spawn(self) -> Result<(Starting, tokio::sync::oneshot::Receiver<StartResult>), WorkerError> {
        crate::isolated::refuse_worker_in_child();
        let registry = match self.registry {
            Some(registry) => registry,
            None => Registry::linked()?,
        };
        let api_key = ApiKeySlot::new(self.options.connection.api_key.as_ref())?;
        let shutdown = CancellationToken::new();
        let (ready, started) = tokio::sync::oneshot::channel();
        let thread = lifecycle::run::spawn(
            self.options,
            registry,
            api_key.clone(),
            shutdown.clone(),
            ready,
        )?;
        let starting = Starting {
            shutdown,
            api_key,
            thread,
        };
        Ok((starting, started))
    }
}

/// A worker whose control thread runs but has not yet said whether it started.
struct Starting {
    shutdown: CancellationToken,
    api_key: ApiKeySlot,
    thread: JoinHandle<WorkerReport>,
}

impl Starting {
    /// `None` when the control thread ended without a word: it panicked while starting.
    fn started(self, outcome: Option<StartResult>) -> Result<RunningWorker, WorkerError> {
        match outcome {
            Some(Ok(metrics_address)) => Ok(RunningWorker {
                shutdown: self.shutdown,
                api_key: self.api_key,
                metrics_address,
                thread: Some(self.thread),
            }),
            Some(Err(error)) => {
                let _ = self.thread.join();
                Err(error)
            }
            None => Err(WorkerError::Io(std::io::Error::other(
                "the worker's control thread died while starting",
            ))),
        }
    }
}

/// A started worker. Dropping it shuts it down and, outside async code, waits, like
/// [`RunningWorker::join`]; inside a Tokio runtime the drop never blocks: the worker
/// finishes its grace period in the background.
pub struct RunningWorker {
    shutdown: CancellationToken,
    api_key: ApiKeySlot,
    metrics_address: Option<SocketAddr>,
    thread: Option<JoinHandle<WorkerReport>>,
}

impl RunningWorker {
    /// Begins a graceful shutdown and returns at once: polling stops, in-flight activities
    /// see [`is_worker_shutdown`](crate::ActivityContext::is_worker_shutdown) and get the
    /// grace period to finish.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Replaces the API key for every later call (polls, heartbeats, completions), without
    /// reconnecting: rotate a key before it expires. `None` stops sending one.
    pub fn set_api_key(&self, key: Option<Secret>) -> Result<(), ConnectError> {
        self.api_key.set(key.as_ref())
    }

    /// Where `GET /metrics` is served, with the port actually bound (`metrics_bind` with
    /// port 0 picks one); `None` when `metrics_bind` is not set.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_address
    }

    /// Waits until the worker has stopped (after [`shutdown`](Self::shutdown)), blocking
    /// this thread; from async code, use [`join_async`](Self::join_async).
    pub fn join(mut self) -> WorkerReport {
        self.wait()
    }

    /// [`join`](Self::join) for async code: waits on the runtime's blocking pool, never on
    /// a runtime thread.
    pub async fn join_async(mut self) -> WorkerReport {
        let thread = self.thread.take();
        let joined =
            tokio::task::spawn_blocking(move || thread.and_then(|thread| thread.join().ok()));
        joined.await.ok().flatten().unwrap_or_default()
    }

    /// The report; an empty one if the control thread panicked (its panic message is
    /// already on stderr), rather than a second panic here, in `Drop` perhaps.
    fn wait(&mut self) -> WorkerReport {
        let thread = self.thread.take();
        thread
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        if self.thread.is_none() {
            return;
        }
        self.shutdown();
        if tokio::runtime::Handle::try_current().is_ok() {
            // On a runtime thread: never block it. The worker still gets its grace period;
            // a thread of its own waits for it.
            if let Some(thread) = self.thread.take() {
                let _ = std::thread::Builder::new()
                    .name("legwork-worker-drop".to_owned())
                    .spawn(move || thread.join());
            }
        } else {
            self.wait();
        }
    }
}
