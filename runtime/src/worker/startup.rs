//! Start-up: settings checked, metrics and probes served, connected, the namespace found,
//! before the first poll, so that whatever cannot work stops the worker at once.

use std::net::SocketAddr;
use std::sync::Arc;

use tracing::info;

use super::health::{self, Health};
use super::pollers::PollerGate;
use super::rate_limit;
use super::{WorkerError, WorkerOptions};
use crate::connection::{
    connect_metered, diagnose_status, with_deadline, ApiKeySlot, ServiceClient, UNARY_DEADLINE,
};
use crate::http_server;
use crate::proto::service::DescribeNamespaceRequest;
use crate::proto::{Capabilities, WorkerDeploymentOptions};
use crate::telemetry::exporter;
use crate::telemetry::metrics::WorkerMetrics;
use crate::telemetry::rpc::RpcMetrics;

/// What start-up found out.
pub(super) struct Started {
    pub(super) client: ServiceClient,
    pub(super) capabilities: Capabilities,
    pub(super) metrics_address: Option<SocketAddr>,
    pub(super) deployment: WorkerDeploymentOptions,
    pub(super) gate: Arc<PollerGate>,
}

/// Checks the settings, serves metrics and probes (when asked), then connects.
pub(super) async fn start(
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

#[cfg(test)]
mod tests {
    use super::*;

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
