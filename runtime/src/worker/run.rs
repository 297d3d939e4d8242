//! The worker's control loop: start-up, pollers, and the order of shutdown.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::codecs::WorkerCodecs;
use super::contact::Contact;
use super::executor::isolated::ChildPool;
use super::executor::Executors;
use super::health::Health;
use super::lag::{Lag, LagMonitor};
use super::ledger::InFlight;
use super::pollers::PollerGate;
use super::rate_limit::RateLimiter;
use super::respond::{Report, Reporter};
use super::shutdown::{drain_polls, shutdown_worker, wait_for_in_flight};
use super::slots::{self, SlotSupplier, TypeLimits};
use super::spare::EventLoops;
use super::stall::StallWatch;
use super::startup::{start, Started};
use super::{Ready, WorkerError, WorkerOptions};
use crate::connection::{ApiKeySlot, ServiceClient};
use crate::pool::BlockingPool;
use crate::proto::WorkerDeploymentOptions;
use crate::registry::{ActivityDescriptor, Invoker, Registry};
use crate::telemetry::metrics::WorkerMetrics;

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

pub(super) struct Shared {
    pub(super) options: WorkerOptions,
    pub(super) registry: Registry,
    pub(super) client: ServiceClient,
    pub(super) executors: Executors,
    /// Issues the slot each poll takes first.
    pub(super) slots: Arc<dyn SlotSupplier>,
    /// `max_concurrent` per activity type.
    pub(super) type_limits: TypeLimits,
    pub(super) shutdown: CancellationToken,
    pub(super) stop_polling: CancellationToken,
    /// Attempts not yet reported, by task token. Whoever takes a token reports it.
    pub(super) in_flight: InFlight,
    pub(super) control: tokio::runtime::Handle,
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
    /// This worker's worker-commands queue, where the namespace advertises them: named on
    /// every activity poll, polled by `commands.rs`.
    pub(super) control_queue: Option<String>,
    pub(super) heartbeats_sent: Arc<AtomicU64>,
    pub(super) stalls: Arc<AtomicU64>,
    pub(super) event_loop_lag: Arc<LagMonitor>,
    pub(super) control_lag: Arc<LagMonitor>,
    pub(super) metrics: WorkerMetrics,
    /// How many polls stay open, following the server's suggestions when autoscaling.
    pub(super) gate: Arc<PollerGate>,
    /// `max_activities_per_second`, when set.
    pub(super) rate_limiter: Option<RateLimiter>,
    /// Sent on every poll and report.
    pub(super) deployment: WorkerDeploymentOptions,
    /// What `/readyz` says.
    pub(super) health: Arc<Health>,
    /// Polls failed in a row, for the backoff.
    pub(super) poll_failures: AtomicU32,
}

impl Shared {
    /// `report` as the server must see it: through the payload codecs, if any.
    pub(super) async fn encoded(&self, report: Report) -> Report {
        match &self.codecs {
            Some(codecs) => codecs.encode_report(report).await,
            None => report,
        }
    }

    pub(super) fn reporter(&self) -> Reporter<'_> {
        Reporter {
            client: &self.client,
            contact: &self.contact,
            namespace: &self.options.connection.namespace,
            identity: &self.options.connection.identity,
            deployment: &self.deployment,
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
                slots::most(&options),
                registry.names(),
            );
            let stalls = Arc::new(AtomicU64::new(0));
            let executors = executors(&options, &event_loop, stalls.clone(), &metrics);
            let codecs = WorkerCodecs::new(&options.codecs, &executors.loops);
            let report = control.block_on(async move {
                let health = Arc::new(Health::default());
                // Checked before connecting: a wrong name stops the worker at once.
                let type_limits = match TypeLimits::new(&registry, &options.activity_limits) {
                    Ok(limits) => limits,
                    Err(error) => {
                        let _ = ready.send(Err(WorkerError::InvalidOption(error)));
                        return WorkerReport::default();
                    }
                };
                // Before connecting too: an executable that cannot be a child stops here.
                if let Err(error) = start_children(&registry, &options, &metrics, &executors).await
                {
                    let _ = ready.send(Err(error));
                    return WorkerReport::default();
                }
                let started = start(&options, api_key, &metrics, &health).await;
                let Started {
                    client,
                    capabilities,
                    metrics_address,
                    deployment,
                    gate,
                } = match started {
                    Ok(started) => started,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return WorkerReport::default();
                    }
                };
                let presence = super::presence::Presence::new(capabilities.worker_heartbeats);
                let control_queue = capabilities.worker_commands.then(|| {
                    let namespace = &options.connection.namespace;
                    super::commands::control_queue(namespace, presence.grouping_key())
                });
                let shared = Arc::new(Shared {
                    gate,
                    rate_limiter: RateLimiter::new(options.max_activities_per_second),
                    deployment,
                    health,
                    poll_failures: AtomicU32::new(0),
                    slots: slots::supplier(&options),
                    type_limits,
                    options,
                    registry,
                    client,
                    executors,
                    shutdown,
                    stop_polling: CancellationToken::new(),
                    in_flight: InFlight::default(),
                    responses: TaskTracker::new(),
                    instance_key: uuid::Uuid::new_v4().to_string(),
                    contact: Arc::new(Contact::default()),
                    codecs,
                    polls_complete_on_shutdown: capabilities.worker_poll_complete_on_shutdown,
                    presence,
                    control_queue,
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

/// Starts the warm children of isolated activities, when the registry has any.
async fn start_children(
    registry: &Registry,
    options: &WorkerOptions,
    metrics: &WorkerMetrics,
    executors: &Executors,
) -> Result<(), WorkerError> {
    let isolated = |d: &&ActivityDescriptor| matches!(d.invoker, Invoker::Isolated { .. });
    if !registry.iter().any(|d| isolated(&d)) {
        return Ok(());
    }
    let pool = ChildPool::start(options.isolated.clone(), metrics.isolated())
        .await
        .map_err(WorkerError::Isolated)?;
    let _ = executors.isolated.set(pool);
    Ok(())
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
    // Spares for a held event loop: one per core at most.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let loops = Arc::new(EventLoops::new(
        event_loop.handle().clone(),
        options.async_threads.max(1),
        cores,
        metrics.event_loop_spares(),
    ));
    let stall_watch = StallWatch::new(
        options.stall_threshold,
        stalls,
        metrics.clone(),
        Arc::downgrade(&loops),
    );
    Executors {
        blocking: Arc::new(blocking.count_busy(metrics.blocking_busy())),
        event_loop: event_loop.handle().clone(),
        loops,
        stall_watch,
        interceptors: options.interceptors.clone(),
        isolated: std::sync::OnceLock::new(),
    }
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
    // Until the worker has stopped: attempts in the grace period can still be cancelled.
    tokio::spawn(super::commands::run(shared.clone(), stop_lag.clone()));
    tokio::spawn(shared.gate.clone().run_ingestion_check(stop_lag.clone()));
    let mut pollers = JoinSet::new();
    pollers.spawn(super::poll::poll_loop(shared.clone()));
    shared.shutdown.cancelled().await;
    shared.health.stopping();
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
    if let Some(children) = shared.executors.isolated.get() {
        children.close().await;
    }
    let counts = shared.in_flight.counts();
    let report = WorkerReport {
        completed: counts.completed,
        failed: counts.failed,
        canceled: counts.canceled,
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
    info!(
        elapsed = ?began.elapsed(),
        "worker stopped: {} completed, {} failed, {} canceled, {} handed over at shutdown; \
         {} heartbeats sent",
        report.completed,
        report.failed,
        report.canceled,
        report.abandoned_at_shutdown,
        report.heartbeats_sent
    );
    report
}

fn log_start(shared: &Shared) {
    let options = &shared.options;
    let names: Vec<&str> = shared.registry.names().collect();
    // Only what is set: an empty field reads as a setting that is wrong.
    let mut set = Vec::new();
    let limits = shared.type_limits.describe();
    if !limits.is_empty() {
        set.push(format!("per-type limits {limits}"));
    }
    if shared.gate.is_autoscaling() {
        set.push("pollers autoscaled".to_owned());
    }
    let deployment = &shared.deployment;
    if !deployment.deployment_name.is_empty() {
        set.push(format!(
            "deployment {} build {}",
            deployment.deployment_name, deployment.build_id
        ));
    }
    if let Some(children) = shared.executors.isolated.get() {
        set.push(format!(
            "isolated activities' kill grace {:?}",
            children.options.kill_grace
        ));
    }
    let set = if set.is_empty() {
        String::new()
    } else {
        format!("; {}", set.join("; "))
    };
    info!(
        address = %options.connection.address,
        namespace = %options.connection.namespace,
        task_queue = %options.task_queue,
        activities = %names.join(", "),
        slots = %slots::describe(options),
        blocking_threads = options.blocking_threads,
        async_threads = options.async_threads,
        "legwork worker serving {} activities{set}",
        names.len()
    );
}
