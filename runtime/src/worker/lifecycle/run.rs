//! The worker's control loop: start-up, pollers, and the order of shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::shutdown::{drain_polls, shutdown_worker, wait_for_in_flight};
use super::startup::{connect, Local};
use super::{commands, worker_heartbeat};
use crate::codec::BoxFuture;
use crate::connection::ApiKeySlot;
use crate::registry::Registry;
use crate::worker::event_loop::lag::{self, Lag};
use crate::worker::options::WorkerOptions;
use crate::worker::polling::poll;
use crate::worker::shared::Shared;
use crate::worker::worker_error::Ready;

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

pub(crate) fn spawn(
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
            let local = Local::new(options, registry, &event_loop);
            let report = control.block_on(control_loop(local, api_key, shutdown, ready));
            // Async activities still blocking their thread must not hold up the exit.
            event_loop.shutdown_background();
            report
        })
}

/// Connects, then serves until shutdown. Boxed: an async body is copied into every codegen
/// unit that polls it, and `block_on` polls in several places, so unboxed the whole start-up
/// (`connect`, `serve`: tens of KiB) was compiled three times. Polled once per worker, the
/// indirection costs nothing.
fn control_loop(
    local: Local,
    api_key: ApiKeySlot,
    shutdown: CancellationToken,
    ready: Ready,
) -> BoxFuture<'static, WorkerReport> {
    Box::pin(async move {
        match connect(local, api_key, shutdown).await {
            Ok((shared, metrics_address)) => {
                shared.metrics.worker_started();
                let _ = ready.send(Ok(metrics_address));
                serve(shared).await
            }
            Err(error) => {
                let _ = ready.send(Err(error));
                WorkerReport::default()
            }
        }
    })
}

async fn serve(shared: Arc<Shared>) -> WorkerReport {
    log_start(&shared);
    let stop_lag = CancellationToken::new();
    spawn_companions(&shared, &stop_lag);
    let mut pollers = JoinSet::new();
    pollers.spawn(poll::poll_loop(shared.clone()));
    shared.shutdown.cancelled().await;
    shared.polling.health.stopping();
    let began = Instant::now();
    let abandoned = stop(&shared, pollers, began).await;
    let report = final_report(&shared, abandoned);
    stop_lag.cancel();
    log_report(&report, began);
    report
}

/// What runs beside the pollers on the control runtime: the lag probes, the stall sweep,
/// worker heartbeats, worker commands and the pollers' ingestion check.
fn spawn_companions(shared: &Arc<Shared>, stop_lag: &CancellationToken) {
    let stall_watch = shared.executors.stall_watch.clone();
    let mut polls_seen = 0;
    tokio::spawn(lag::probe(
        shared.stats.control_lag.clone(),
        shared.stats.event_loop_lag.clone(),
        shared.executors.event_loop.clone(),
        move || stall_watch.polled_since(&mut polls_seen),
        stop_lag.clone(),
    ));
    tokio::spawn(shared.executors.stall_watch.clone().sweep(stop_lag.clone()));
    tokio::spawn(worker_heartbeat::run(shared.clone()));
    // Until the worker has stopped: attempts in the grace period can still be cancelled.
    tokio::spawn(commands::run(shared.clone(), stop_lag.clone()));
    tokio::spawn(
        shared
            .polling
            .gate
            .clone()
            .run_ingestion_check(stop_lag.clone()),
    );
}

/// Shutdown, in order: tell the server, end the polls, give attempts their grace, let the
/// last reports out, close the children. Returns the attempts abandoned at the end.
async fn stop(shared: &Arc<Shared>, pollers: JoinSet<()>, began: Instant) -> u64 {
    info!(
        "shutdown begun: polling stops, in-flight activities have {:?}",
        shared.options.shutdown_grace
    );
    shutdown_worker(shared).await;
    drain_polls(shared, pollers).await;
    let abandoned = wait_for_in_flight(shared, began + shared.options.shutdown_grace).await;
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
    abandoned
}

fn final_report(shared: &Shared, abandoned: u64) -> WorkerReport {
    let counts = shared.in_flight.counts();
    WorkerReport {
        completed: counts.completed,
        failed: counts.failed,
        canceled: counts.canceled,
        abandoned_at_shutdown: abandoned,
        heartbeats_sent: shared.stats.heartbeats_sent.load(Ordering::Relaxed),
        stalls: shared.stats.stalls.load(Ordering::Relaxed),
        event_loop_lag: shared.stats.event_loop_lag.lag(),
        control_lag: shared.stats.control_lag.lag(),
    }
}

fn log_report(report: &WorkerReport, began: Instant) {
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
    if shared.polling.gate.is_autoscaling() {
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
        slots = %options.slots.describe(),
        blocking_threads = options.blocking_threads,
        async_threads = options.async_threads,
        "legwork worker serving {} activities{set}",
        names.len()
    );
}
