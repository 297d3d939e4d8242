//! The worker's control loop: start-up, pollers, and the order of shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::codecs::WorkerCodecs;
use super::contact::{is_unreachable, Contact};
use super::dispatch::Executors;
use super::lag::{Lag, LagMonitor};
use super::respond::Reporter;
use super::shutdown::{drain_polls, shutdown_worker, wait_for_in_flight};
use super::stall::StallWatch;
use super::task::handle_task;
use super::{retry, Ready, WorkerError, WorkerOptions};
use crate::attempt::Attempt;
use crate::connection::{
    connect_metered, diagnose_status, with_deadline, ApiKeySlot, ServiceClient, LONG_POLL_DEADLINE,
    UNARY_DEADLINE,
};
use crate::pool::BlockingPool;
use crate::proto::service::{DescribeNamespaceRequest, PollActivityTaskQueueRequest};
use crate::proto::{Capabilities, TaskQueue, TaskQueueKind};
use crate::registry::Registry;
use crate::telemetry::exporter;
use crate::telemetry::metrics::WorkerMetrics;
use crate::telemetry::rpc::RpcMetrics;

/// How long shutdown waits for the last completions to reach the server.
const RESPONSE_DRAIN: Duration = Duration::from_secs(15);

/// What a worker did, returned when it stops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Attempts reported as completed.
    pub completed: u64,
    /// Attempts reported as failed, shutdown failures included.
    pub failed: u64,
    /// Attempts reported as canceled after a cancel request.
    pub canceled: u64,
    /// Attempts still running when the grace period ended, reported as `WorkerShutdown`.
    pub abandoned_at_shutdown: u64,
    /// `RecordActivityTaskHeartbeat` calls made.
    pub heartbeats_sent: u64,
    /// Polls of async activities that held their thread past the stall threshold.
    pub stalls: u64,
    /// Lag of the event loop that runs async activities.
    pub event_loop_lag: Lag,
    /// Lag of the runtime that polls and responds; stays near zero whatever activities do.
    pub control_lag: Lag,
}

pub(super) type TaskToken = Vec<u8>;
/// An attempt not yet reported: its activity type and shared state.
pub(super) type Outstanding = (String, Arc<Attempt>);

pub(super) struct Shared {
    pub(super) options: WorkerOptions,
    pub(super) registry: Registry,
    pub(super) client: ServiceClient,
    pub(super) executors: Executors,
    pub(super) slots: Arc<Semaphore>,
    pub(super) shutdown: CancellationToken,
    pub(super) stop_polling: CancellationToken,
    /// Attempts not yet reported, by task token. Whoever removes a token reports it.
    pub(super) outstanding: Mutex<HashMap<TaskToken, Outstanding>>,
    pub(super) control: tokio::runtime::Handle,
    pub(super) all_reported: Notify,
    pub(super) responses: TaskTracker,
    pub(super) instance_key: String,
    /// Whether the server answers: one warning per outage, not one per failed call.
    pub(super) contact: Arc<Contact>,
    /// Payload codecs, when there are any.
    pub(super) codecs: Option<WorkerCodecs>,
    /// The server answers open polls after `ShutdownWorker`; else they are dropped at once.
    pub(super) polls_complete_on_shutdown: bool,
    /// Worker heartbeats: whether to send them, and what the last one said.
    pub(super) presence: super::presence::Presence,
    pub(super) completed: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) canceled: AtomicU64,
    pub(super) heartbeats_sent: Arc<AtomicU64>,
    pub(super) stalls: Arc<AtomicU64>,
    pub(super) event_loop_lag: Arc<LagMonitor>,
    pub(super) control_lag: Arc<LagMonitor>,
    pub(super) metrics: WorkerMetrics,
}

impl Shared {
    pub(super) fn reporter(&self) -> Reporter<'_> {
        Reporter {
            client: &self.client,
            contact: &self.contact,
            namespace: &self.options.connection.namespace,
            identity: &self.options.connection.identity,
        }
    }
}

pub(super) fn spawn(
    options: WorkerOptions,
    registry: Registry,
    api_key: ApiKeySlot,
    shutdown: CancellationToken,
    ready: Ready,
) -> std::io::Result<JoinHandle<WorkerReport>> {
    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let async_thread = Arc::new(AtomicUsize::new(0));
    let event_loop = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.async_threads.max(1))
        .thread_name_fn(move || {
            format!(
                "legwork-async-{}",
                async_thread.fetch_add(1, Ordering::Relaxed) + 1
            )
        })
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("legwork-control".to_owned())
        .spawn(move || {
            let metrics = WorkerMetrics::new(
                &options.connection.namespace,
                &options.task_queue,
                options.max_concurrent_activities.max(1),
                registry.names(),
            );
            let stalls = Arc::new(AtomicU64::new(0));
            let executors = executors(&options, &event_loop, stalls.clone(), &metrics);
            let codecs = WorkerCodecs::new(&options.codecs, event_loop.handle());
            let report = control.block_on(async move {
                let started = start(&options, api_key, &metrics).await;
                let (client, capabilities, metrics_address) = match started {
                    Ok(started) => started,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return WorkerReport::default();
                    }
                };
                let shared = Arc::new(Shared {
                    slots: Arc::new(Semaphore::new(options.max_concurrent_activities.max(1))),
                    options,
                    registry,
                    client,
                    executors,
                    shutdown,
                    stop_polling: CancellationToken::new(),
                    outstanding: Mutex::new(HashMap::new()),
                    all_reported: Notify::new(),
                    responses: TaskTracker::new(),
                    instance_key: uuid::Uuid::new_v4().to_string(),
                    contact: Arc::new(Contact::default()),
                    codecs,
                    polls_complete_on_shutdown: capabilities.worker_poll_complete_on_shutdown,
                    presence: super::presence::Presence::new(capabilities.worker_heartbeats),
                    completed: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    canceled: AtomicU64::new(0),
                    heartbeats_sent: Arc::new(AtomicU64::new(0)),
                    stalls,
                    event_loop_lag: Arc::new(LagMonitor::recording(metrics.event_loop_lag())),
                    control_lag: Arc::new(LagMonitor::recording(metrics.control_loop_lag())),
                    metrics,
                    control: tokio::runtime::Handle::current(),
                });
                shared.metrics.worker_started();
                let _ = ready.send(Ok(metrics_address));
                serve(shared).await
            });
            // Async activities still blocking their thread must not hold up the exit.
            event_loop.shutdown_background();
            report
        })
}

/// Where activities run, each executor feeding its metrics.
fn executors(
    options: &WorkerOptions,
    event_loop: &tokio::runtime::Runtime,
    stalls: Arc<AtomicU64>,
    metrics: &WorkerMetrics,
) -> Executors {
    let blocking = BlockingPool::new(
        "legwork-blocking",
        options.blocking_threads,
        options.blocking_nice,
    );
    Executors {
        blocking: Arc::new(blocking.count_busy(metrics.blocking_busy())),
        event_loop: event_loop.handle().clone(),
        stall_watch: StallWatch::new(options.stall_threshold, stalls, metrics.clone()),
    }
}

/// Serves metrics (when asked), then connects.
async fn start(
    options: &WorkerOptions,
    api_key: ApiKeySlot,
    metrics: &WorkerMetrics,
) -> Result<(ServiceClient, Capabilities, Option<SocketAddr>), WorkerError> {
    let address = start_metrics(options, metrics).await?;
    let (client, capabilities) = connect_to_namespace(options, api_key, metrics).await?;
    Ok((client, capabilities, address))
}

/// Binds `metrics_bind` and serves `/metrics` there on this (the control) runtime, until
/// it stops; bound first, so that a taken port stops the worker before it takes tasks.
async fn start_metrics(
    options: &WorkerOptions,
    metrics: &WorkerMetrics,
) -> Result<Option<SocketAddr>, WorkerError> {
    let Some(address) = options.metrics_bind else {
        return Ok(None);
    };
    let bind_error = |source| WorkerError::MetricsBind { address, source };
    let listener = exporter::bind(address).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    tokio::spawn(exporter::serve(listener, metrics.families().clone()));
    info!("metrics served at http://{bound}/metrics");
    Ok(Some(bound))
}

/// Connects and checks the namespace exists, so that a typo fails at start, not at poll.
async fn connect_to_namespace(
    options: &WorkerOptions,
    api_key: ApiKeySlot,
    metrics: &WorkerMetrics,
) -> Result<(ServiceClient, Capabilities), WorkerError> {
    let connection = &options.connection;
    // Per-call recording only where someone can read it.
    let rpc = options.metrics_bind.map(|_| {
        RpcMetrics::new(
            metrics.families(),
            metrics.namespace(),
            metrics.task_queue(),
        )
    });
    let mut client = connect_metered(connection, api_key, rpc).await?;
    let request = DescribeNamespaceRequest {
        namespace: connection.namespace.clone(),
        ..Default::default()
    };
    let described = client
        .describe_namespace(with_deadline(request, UNARY_DEADLINE))
        .await
        .map_err(|status| match status.code() {
            tonic::Code::NotFound => WorkerError::UnknownNamespace {
                namespace: connection.namespace.clone(),
                address: connection.address.clone(),
            },
            _ => WorkerError::Connect(diagnose_status(connection, &status)),
        })?
        .into_inner();
    let capabilities = described
        .namespace_info
        .and_then(|info| info.capabilities)
        .unwrap_or_default();
    Ok((client, capabilities))
}

async fn serve(shared: Arc<Shared>) -> WorkerReport {
    log_start(&shared);
    let stop_lag = CancellationToken::new();
    tokio::spawn(shared.control_lag.clone().tick_here(stop_lag.clone()));
    let event_loop = shared.executors.event_loop.clone();
    tokio::spawn(
        shared
            .event_loop_lag
            .clone()
            .probe(event_loop, stop_lag.clone()),
    );
    tokio::spawn(shared.executors.stall_watch.clone().sweep(stop_lag.clone()));
    tokio::spawn(super::presence::run(shared.clone()));
    let mut pollers = JoinSet::new();
    for _ in 0..shared.options.pollers.max(1) {
        pollers.spawn(poll_loop(shared.clone()));
    }
    shared.shutdown.cancelled().await;
    let began = Instant::now();
    info!(
        "shutdown begun: polling stops, in-flight activities have {:?}",
        shared.options.shutdown_grace
    );
    shutdown_worker(&shared).await;
    drain_polls(&shared, pollers).await;
    let abandoned = wait_for_in_flight(&shared, began + shared.options.shutdown_grace).await;
    shared.responses.close();
    if tokio::time::timeout(RESPONSE_DRAIN, shared.responses.wait())
        .await
        .is_err()
    {
        warn!("some results were still being reported when the worker stopped");
    }
    let report = WorkerReport {
        completed: shared.completed.load(Ordering::Relaxed),
        failed: shared.failed.load(Ordering::Relaxed),
        canceled: shared.canceled.load(Ordering::Relaxed),
        abandoned_at_shutdown: abandoned,
        heartbeats_sent: shared.heartbeats_sent.load(Ordering::Relaxed),
        stalls: shared.stalls.load(Ordering::Relaxed),
        event_loop_lag: shared.event_loop_lag.lag(),
        control_lag: shared.control_lag.lag(),
    };
    stop_lag.cancel();
    info!(
        "lag: event loop max {:?} mean {:?}; control loop max {:?} mean {:?}; {} stalled polls",
        report.event_loop_lag.max,
        report.event_loop_lag.mean,
        report.control_lag.max,
        report.control_lag.mean,
        report.stalls
    );
    info!(?report, elapsed = ?began.elapsed(), "worker stopped");
    report
}

fn log_start(shared: &Shared) {
    let options = &shared.options;
    let names: Vec<&str> = shared.registry.names().collect();
    info!(
        address = %options.connection.address,
        namespace = %options.connection.namespace,
        task_queue = %options.task_queue,
        activities = %names.join(", "),
        slots = options.max_concurrent_activities,
        blocking_threads = options.blocking_threads,
        async_threads = options.async_threads,
        pollers = options.pollers,
        "legwork worker serving {} activities",
        names.len()
    );
}

async fn poll_loop(shared: Arc<Shared>) {
    let mut failures = 0;
    loop {
        let permit = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            permit = shared.slots.clone().acquire_owned() => permit.expect("slots are never closed"),
        };
        let mut client = shared.client.clone();
        let poll = client
            .poll_activity_task_queue(with_deadline(poll_request(&shared), LONG_POLL_DEADLINE));
        let polling = shared.metrics.polling();
        let result = tokio::select! {
            _ = shared.stop_polling.cancelled() => return,
            result = poll => result,
        };
        drop(polling);
        shared.contact.observe(&result);
        match result {
            Ok(response) => {
                failures = 0;
                let task = response.into_inner();
                if !task.task_token.is_empty() {
                    tokio::spawn(handle_task(shared.clone(), task, permit));
                } else {
                    shared.metrics.poll_no_task();
                    if shared.shutdown.is_cancelled() {
                        return;
                    }
                }
            }
            Err(status) => {
                if shared.shutdown.is_cancelled() {
                    return;
                }
                failures += 1;
                let delay = retry::POLL.delay(failures);
                // An outage is told once, by `contact`; other failures each time.
                if is_unreachable(&status) || retry::is_retryable(&status) {
                    debug!(%status, ?delay, "poll failed; retrying");
                } else {
                    warn!(%status, ?delay, "poll failed; retrying");
                }
                drop(permit);
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                    // A completion or heartbeat got through: the server is back.
                    _ = shared.contact.back() => failures = 0,
                }
            }
        }
    }
}

fn poll_request(shared: &Shared) -> PollActivityTaskQueueRequest {
    PollActivityTaskQueueRequest {
        namespace: shared.options.connection.namespace.clone(),
        task_queue: Some(task_queue(&shared.options.task_queue)),
        identity: shared.options.connection.identity.clone(),
        worker_instance_key: shared.instance_key.clone(),
        ..Default::default()
    }
}

fn task_queue(name: &str) -> TaskQueue {
    TaskQueue {
        name: name.to_owned(),
        kind: TaskQueueKind::Normal as i32,
        ..Default::default()
    }
}
