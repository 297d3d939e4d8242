//! Start-up: what the worker builds and checks before its first poll (executors, per-type
//! limits, isolated children, metrics and probes served, connected, the namespace found),
//! so that whatever cannot work stops the worker at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use super::health::{self, Health};
use super::worker_heartbeat_state::Presence;
use crate::connection::{
    connect_metered, diagnose_status, with_deadline, ApiKeySlot, ServiceClient, UNARY_DEADLINE,
};
use crate::http_server;
use crate::pool::BlockingPool;
use crate::proto::service::DescribeNamespaceRequest;
use crate::proto::{Capabilities, WorkerDeploymentOptions};
use crate::registry::{ActivityDescriptor, Invoker, Registry};
use crate::telemetry::exporter;
use crate::telemetry::metrics::WorkerMetrics;
use crate::telemetry::rpc::RpcMetrics;
use crate::worker::event_loop::lag::LagMonitor;
use crate::worker::event_loop::spare::EventLoops;
use crate::worker::event_loop::stall::StallWatch;
use crate::worker::executor::isolated::ChildPool;
use crate::worker::executor::Executors;
use crate::worker::invalid_option::InvalidOption;
use crate::worker::options::WorkerOptions;
use crate::worker::polling::poller_gate::PollerGate;
use crate::worker::polling::rate_limit;
use crate::worker::polling::rate_limit::RateLimiter;
use crate::worker::reporting::codecs::WorkerCodecs;
use crate::worker::reporting::ledger::InFlight;
use crate::worker::server::contact::Contact;
use crate::worker::shared::{Polling, Shared, Stats};
use crate::worker::slots::{Slots, TypeLimits};
use crate::worker::worker_error::WorkerError;

/// What start-up found out.
pub(crate) struct Started {
    pub(crate) client: ServiceClient,
    pub(crate) capabilities: Capabilities,
    pub(crate) metrics_address: Option<SocketAddr>,
    pub(crate) deployment: WorkerDeploymentOptions,
    pub(crate) gate: Arc<PollerGate>,
}

/// Checks the settings, serves metrics and probes (when asked), then connects.
pub(crate) async fn start(
    options: &WorkerOptions,
    api_key: ApiKeySlot,
    metrics: &WorkerMetrics,
    health: &Arc<Health>,
) -> Result<Started, WorkerError> {
    check_options(options)?;
    let metrics_address = start_metrics(options, metrics).await?;
    start_health(options, health).await?;
    // The default build id reads the executable: off this thread, while connecting.
    let deployment = options.deployment.clone();
    let deployment = tokio::task::spawn_blocking(move || deployment.resolve());
    let (client, capabilities) = connect_to_namespace(options, api_key, metrics).await?;
    let deployment = deployment
        .await
        .expect("resolving the deployment does not panic")
        .map_err(WorkerError::from)?;
    let behavior = options
        .pollers
        .resolve(capabilities.poller_autoscaling_auto_enroll)
        .map_err(WorkerError::from)?;
    let gate = PollerGate::new(behavior, capabilities.poller_autoscaling);
    Ok(Started {
        client,
        capabilities,
        metrics_address,
        deployment,
        gate,
    })
}

/// Settings that cannot work stop the worker before it connects.
fn check_options(options: &WorkerOptions) -> Result<(), InvalidOption> {
    options.pollers.resolve(false)?;
    if let Slots::ResourceBased(resource) = &options.slots {
        resource.validate()?;
    }
    rate_limit::validate(
        "max_activities_per_second",
        "--max-activities-per-second",
        options.max_activities_per_second,
    )?;
    rate_limit::validate(
        "max_task_queue_activities_per_second",
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
    let listener = http_server::bind(address).await.map_err(bind_error)?;
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
    let listener = http_server::bind(address).await.map_err(bind_error)?;
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

/// What the control thread builds before anything talks to the server.
pub(crate) struct Local {
    options: WorkerOptions,
    registry: Registry,
    metrics: WorkerMetrics,
    executors: Executors,
    codecs: Option<WorkerCodecs>,
    stalls: Arc<AtomicU64>,
}

impl Local {
    pub(crate) fn new(
        options: WorkerOptions,
        registry: Registry,
        event_loop: &tokio::runtime::Runtime,
    ) -> Self {
        let metrics = WorkerMetrics::new(
            &options.connection.namespace,
            &options.task_queue,
            options.slots.most(),
            registry.names(),
        );
        let stalls = Arc::new(AtomicU64::new(0));
        let executors = executors(&options, event_loop, stalls.clone(), &metrics);
        let codecs = WorkerCodecs::new(
            &options.codecs,
            options.external_storage.as_ref(),
            &executors.loops,
        );
        Local {
            options,
            registry,
            metrics,
            executors,
            codecs,
            stalls,
        }
    }
}

/// Checks what can be checked without a server first (per-type limits, the children of
/// isolated activities), then connects: whatever cannot work stops the worker here.
pub(crate) async fn connect(
    local: Local,
    api_key: ApiKeySlot,
    shutdown: CancellationToken,
) -> Result<(Arc<Shared>, Option<SocketAddr>), WorkerError> {
    let Local {
        options,
        registry,
        metrics,
        executors,
        codecs,
        stalls,
    } = local;
    let type_limits =
        TypeLimits::new(&registry, &options.activity_limits).map_err(WorkerError::from)?;
    start_children(&registry, &options, &metrics, &executors).await?;
    let health = Arc::new(Health::default());
    let Started {
        client,
        capabilities,
        metrics_address,
        deployment,
        gate,
    } = start(&options, api_key, &metrics, &health).await?;
    let presence = Presence::new(capabilities.worker_heartbeats);
    let polling = polling(&options, &capabilities, &presence, gate, health);
    let stats = Stats {
        heartbeats_sent: Arc::new(AtomicU64::new(0)),
        stalls,
        event_loop_lag: Arc::new(LagMonitor::recording(metrics.event_loop_lag())),
        control_lag: Arc::new(LagMonitor::recording(metrics.control_loop_lag())),
    };
    let shared = Shared {
        polling,
        deployment,
        type_limits,
        options,
        registry,
        client,
        executors,
        shutdown,
        in_flight: InFlight::default(),
        responses: TaskTracker::new(),
        instance_key: uuid::Uuid::new_v4().to_string(),
        contact: Arc::new(Contact::default()),
        codecs,
        presence,
        stats,
        metrics,
        control: tokio::runtime::Handle::current(),
    };
    Ok((Arc::new(shared), metrics_address))
}

/// What the poll loop starts with, once the namespace's capabilities are known.
fn polling(
    options: &WorkerOptions,
    capabilities: &Capabilities,
    presence: &Presence,
    gate: Arc<PollerGate>,
    health: Arc<Health>,
) -> Polling {
    let control_queue = capabilities.worker_commands.then(|| {
        let namespace = &options.connection.namespace;
        super::commands::control_queue(namespace, presence.grouping_key())
    });
    Polling {
        slots: options.slots.supplier(),
        gate,
        rate_limiter: RateLimiter::new(options.max_activities_per_second),
        failures: AtomicU32::new(0),
        stop: CancellationToken::new(),
        complete_on_shutdown: capabilities.worker_poll_complete_on_shutdown,
        health,
        control_queue,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_stop_the_worker_before_it_connects() {
        let mut options = WorkerOptions::new("q");
        assert_eq!(check_options(&options), Ok(()));
        options.max_activities_per_second = Some(-2.0);
        let error = check_options(&options).unwrap_err();
        assert_eq!(error.option, "max_activities_per_second");

        let mut options = WorkerOptions::new("q");
        options.deployment.name = Some("images".to_owned());
        let error = check_options(&options).unwrap_err();
        assert_eq!(error.option, "deployment.build_id");

        let mut options = WorkerOptions::new("q");
        options.pollers = crate::worker::Pollers::autoscaling(5, 1, 3);
        assert!(check_options(&options).is_err());
    }
}
