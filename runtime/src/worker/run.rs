//! The worker's control loop: start-up, pollers, and the order of shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::codecs::WorkerCodecs;
use super::contact::{is_unreachable, Contact};
use super::dispatch::Executors;
use super::health::{self, Health};
use super::lag::{Lag, LagMonitor};
use super::pollers::{OpenPoll, PollerGate};
use super::rate_limit::{self, RateLimiter};
use super::respond::Reporter;
use super::shutdown::{drain_polls, shutdown_worker, wait_for_in_flight};
use super::slots::{self, SlotPermit, SlotSupplier, TypeLimits};
use super::spare::EventLoops;
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
use crate::proto::{
    Capabilities, TaskQueue, TaskQueueKind, TaskQueueMetadata, WorkerDeploymentOptions,
};
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
    /// Issues the slot each poll takes first.
    pub(super) slots: Arc<dyn SlotSupplier>,
    /// `max_concurrent` per activity type.
    pub(super) type_limits: TypeLimits,
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
                slot_count(&options),
                registry.names(),
            );
            let stalls = Arc::new(AtomicU64::new(0));
            let executors = executors(&options, &event_loop, stalls.clone(), &metrics);
            let codecs = WorkerCodecs::new(&options.codecs, event_loop.handle());
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
    }
}

/// What start-up found out.
struct Started {
    client: ServiceClient,
    capabilities: Capabilities,
    metrics_address: Option<SocketAddr>,
    deployment: WorkerDeploymentOptions,
    gate: Arc<PollerGate>,
}

/// Checks the settings, serves metrics and probes (when asked), then connects.
async fn start(
    options: &WorkerOptions,
    api_key: ApiKeySlot,
    metrics: &WorkerMetrics,
    health: &Arc<Health>,
) -> Result<Started, WorkerError> {
    check_options(options).map_err(WorkerError::InvalidOption)?;
    let metrics_address = start_metrics(options, metrics).await?;
    start_health(options, health).await?;
    // The default build id reads the executable: off this thread, while connecting.
    let deployment = options.deployment.clone();
    let deployment = tokio::task::spawn_blocking(move || deployment.resolve());
    let (client, capabilities) = connect_to_namespace(options, api_key, metrics).await?;
    let deployment = deployment
        .await
        .expect("resolving the deployment does not panic")
        .map_err(WorkerError::InvalidOption)?;
    let behavior = options
        .pollers
        .resolve(capabilities.poller_autoscaling_auto_enroll)
        .map_err(WorkerError::InvalidOption)?;
    let gate = PollerGate::new(behavior, capabilities.poller_autoscaling);
    Ok(Started {
        client,
        capabilities,
        metrics_address,
        deployment,
        gate,
    })
}

/// The slots the metrics start with: the fixed number, or the resource-based maximum.
fn slot_count(options: &WorkerOptions) -> usize {
    match &options.resource_based_slots {
        Some(resource) => resource.maximum_slots,
        None => options.max_concurrent_activities.max(1),
    }
}

/// Settings that cannot work stop the worker before it connects.
fn check_options(options: &WorkerOptions) -> Result<(), String> {
    options.pollers.resolve(false)?;
    if let Some(resource) = &options.resource_based_slots {
        resource.validate()?;
    }
    rate_limit::validate(
        "--max-activities-per-second",
        options.max_activities_per_second,
    )?;
    rate_limit::validate(
        "--max-task-queue-activities-per-second",
        options.max_task_queue_activities_per_second,
    )?;
    // With a stand-in for the default build id, which is computed later, off this thread.
    let mut deployment = options.deployment.clone();
    if deployment.name.is_none() {
        deployment
            .build_id
            .get_or_insert_with(|| "default".to_owned());
    }
    deployment.resolve()?;
    Ok(())
}

/// Binds `health_bind` and serves the probes there, on this (the control) runtime.
async fn start_health(options: &WorkerOptions, health: &Arc<Health>) -> Result<(), WorkerError> {
    let Some(address) = options.health_bind else {
        return Ok(());
    };
    let bind_error = |source| WorkerError::HealthBind { address, source };
    let listener = health::bind(address).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    tokio::spawn(health::serve(listener, health.clone()));
    info!("health probes served at http://{bound}/healthz and /readyz");
    Ok(())
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
    tokio::spawn(shared.gate.clone().run_ingestion_check(stop_lag.clone()));
    let mut pollers = JoinSet::new();
    pollers.spawn(poll_loop(shared.clone()));
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
        slots = %match &options.resource_based_slots {
            Some(resource) => format!(
                "resource-based (memory {}, cpu {}, {}..{})",
                resource.target_memory,
                resource.target_cpu,
                resource.minimum_slots,
                resource.maximum_slots
            ),
            None => options.max_concurrent_activities.to_string(),
        },
        max_concurrent = %shared.type_limits.describe(),
        blocking_threads = options.blocking_threads,
        async_threads = options.async_threads,
        pollers = ?options.pollers,
        autoscaling = shared.gate.is_autoscaling(),
        deployment = %shared.deployment.deployment_name,
        build_id = %shared.deployment.build_id,
        "legwork worker serving {} activities",
        names.len()
    );
}

/// Opens polls while a slot is free, the rate limit allows and the scaler wants more,
/// until shutdown; returns once the last of its polls has ended.
async fn poll_loop(shared: Arc<Shared>) {
    let mut polls = JoinSet::new();
    loop {
        while polls.try_join_next().is_some() {}
        if let Some(limiter) = &shared.rate_limiter {
            tokio::select! {
                biased;
                _ = shared.shutdown.cancelled() => break,
                _ = limiter.acquire() => {}
            }
        }
        let permit = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            permit = shared.slots.reserve() => permit,
        };
        let open = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            open = shared.gate.open() => open,
        };
        polls.spawn(poll_once(shared.clone(), permit, open));
    }
    while polls.join_next().await.is_some() {}
}

/// Until the server has answered a poll, polls are kept short (the server's minimum is
/// 2 s), so that `/readyz` turns ready within seconds on an idle queue too.
const FIRST_POLL_DEADLINE: Duration = Duration::from_secs(3);

/// One poll: hands a task over with its slot, or backs off after an error while still
/// counted open, so that the next poll waits for the backoff (as sdk-core does).
async fn poll_once(shared: Arc<Shared>, permit: SlotPermit, open: OpenPoll) {
    let deadline = if shared.options.health_bind.is_some() && !shared.health.has_polled() {
        FIRST_POLL_DEADLINE
    } else {
        shared.gate.poll_deadline(LONG_POLL_DEADLINE)
    };
    let request = poll_request(&shared.options, &shared.instance_key, &shared.deployment);
    let mut client = shared.client.clone();
    let poll = client.poll_activity_task_queue(with_deadline(request, deadline));
    let polling = shared.metrics.polling();
    let result = tokio::select! {
        _ = shared.stop_polling.cancelled() => return,
        result = poll => result,
    };
    drop(polling);
    shared.contact.observe(&result);
    let status = match result {
        Ok(response) => {
            shared.poll_failures.store(0, Ordering::Relaxed);
            shared.health.poll_accepted();
            let task = response.into_inner();
            let has_task = !task.task_token.is_empty();
            let decision = task
                .poller_scaling_decision
                .as_ref()
                .map(|decision| decision.poll_request_delta_suggestion);
            shared
                .gate
                .update(|scaler| scaler.on_response(has_task, decision));
            if has_task {
                tokio::spawn(handle_task(shared.clone(), task, permit));
            } else {
                shared.metrics.poll_no_task();
            }
            return;
        }
        Err(status) => status,
    };
    if shared.shutdown.is_cancelled() {
        return;
    }
    let exhausted = status.code() == tonic::Code::ResourceExhausted;
    shared.gate.update(|scaler| scaler.on_error(exhausted));
    let failures = shared.poll_failures.fetch_add(1, Ordering::Relaxed) + 1;
    let mut delay = retry::POLL.delay(failures);
    if exhausted {
        // sdk-core's throttle backoff starts at a second.
        delay = delay.max(Duration::from_secs(1));
    }
    // An outage is told once, by `contact`; other failures each time.
    if is_unreachable(&status) || retry::is_retryable(&status) {
        debug!(%status, ?delay, "poll failed; retrying");
    } else {
        warn!(%status, ?delay, "poll failed; retrying");
    }
    drop(permit);
    tokio::select! {
        _ = shared.shutdown.cancelled() => {}
        _ = tokio::time::sleep(delay) => {}
        // A completion or heartbeat got through: the server is back.
        _ = shared.contact.back() => shared.poll_failures.store(0, Ordering::Relaxed),
    }
    drop(open);
}

/// What every poll sends: the task-queue-wide rate limit only when one is set, since the
/// server clears the queue's limit on a poll without it (the last poll wins).
fn poll_request(
    options: &WorkerOptions,
    instance_key: &str,
    deployment: &WorkerDeploymentOptions,
) -> PollActivityTaskQueueRequest {
    PollActivityTaskQueueRequest {
        namespace: options.connection.namespace.clone(),
        task_queue: Some(task_queue(&options.task_queue)),
        identity: options.connection.identity.clone(),
        worker_instance_key: instance_key.to_owned(),
        task_queue_metadata: options.max_task_queue_activities_per_second.map(|rate| {
            TaskQueueMetadata {
                max_tasks_per_second: Some(rate),
            }
        }),
        deployment_options: Some(deployment.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Deployment;

    #[test]
    fn the_task_queue_limit_is_sent_only_when_set() {
        let mut options = WorkerOptions::new("q");
        let deployment = Deployment::versioned("d", "b").resolve().unwrap();
        let request = poll_request(&options, "key", &deployment);
        assert_eq!(request.task_queue_metadata, None);
        assert_eq!(request.worker_instance_key, "key");
        assert_eq!(request.deployment_options, Some(deployment.clone()));
        #[allow(deprecated)]
        let legacy = request.worker_version_capabilities.clone();
        assert_eq!(legacy, None, "no legacy versioning field");

        options.max_task_queue_activities_per_second = Some(12.5);
        let request = poll_request(&options, "key", &deployment);
        let metadata = request.task_queue_metadata.expect("the limit is sent");
        assert_eq!(metadata.max_tasks_per_second, Some(12.5));
    }

    #[test]
    fn bad_settings_stop_the_worker_before_it_connects() {
        let mut options = WorkerOptions::new("q");
        assert_eq!(check_options(&options), Ok(()));
        options.max_activities_per_second = Some(-2.0);
        let error = check_options(&options).unwrap_err();
        assert!(error.contains("--max-activities-per-second"), "{error}");

        let mut options = WorkerOptions::new("q");
        options.deployment.name = Some("images".to_owned());
        let error = check_options(&options).unwrap_err();
        assert!(error.contains("--build-id"), "{error}");

        let mut options = WorkerOptions::new("q");
        options.pollers = crate::worker::Pollers::autoscaling(5, 1, 3);
        assert!(check_options(&options).is_err());
    }
}
