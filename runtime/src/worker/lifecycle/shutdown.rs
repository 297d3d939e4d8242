//! Graceful shutdown: tell the server, stop polling, give in-flight attempts the grace
//! period, then cancel and hand over the rest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::worker_heartbeat::final_heartbeat;
use crate::attempt::CancelReason;
use crate::connection::with_deadline;
use crate::proto::service::ShutdownWorkerRequest;
use crate::proto::TaskQueueType;
use crate::worker::reporting::respond::Report;
use crate::worker::shared::Shared;
use crate::worker::task::worker_shutdown_failure;

/// How long shutdown waits for the server to complete in-flight polls before dropping them,
/// when the namespace says it will (`worker_poll_complete_on_shutdown`).
const POLL_DRAIN: Duration = Duration::from_secs(5);
/// How long attempts cancelled at the end of the grace period have to return.
const CANCEL_WAIT: Duration = Duration::from_secs(1);

/// Tells the server this worker is going away, so that it answers our open polls at once
/// and drops the worker from its list (the last worker heartbeat rides along).
pub(crate) async fn shutdown_worker(shared: &Shared) {
    let request = ShutdownWorkerRequest {
        namespace: shared.options.connection.namespace.clone(),
        identity: shared.options.connection.identity.clone(),
        reason: "graceful shutdown".to_owned(),
        worker_instance_key: shared.instance_key.clone(),
        task_queue: shared.options.task_queue.clone(),
        task_queue_types: vec![TaskQueueType::Activity as i32],
        worker_heartbeat: final_heartbeat(shared),
        ..Default::default()
    };
    let mut client = shared.client.clone();
    if let Err(status) = client
        .shutdown_worker(with_deadline(request, Duration::from_secs(5)))
        .await
    {
        debug!(%status, "ShutdownWorker failed; polls will be dropped after {POLL_DRAIN:?}");
    }
}

pub(crate) async fn drain_polls(shared: &Shared, mut pollers: JoinSet<()>) {
    let wait = if shared.polling.complete_on_shutdown {
        POLL_DRAIN
    } else {
        Duration::ZERO
    };
    let drained =
        tokio::time::timeout(wait, async { while pollers.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        shared.polling.stop.cancel();
        while pollers.join_next().await.is_some() {}
    }
}

/// Waits for in-flight attempts until `deadline`, then cancels the rest with reason
/// `WorkerShutdown`, gives them a moment to return (isolated children the kill grace, so
/// that they are killed and reported by their own attempts), and reports those still
/// running as retryable `WorkerShutdown` failures so that another worker takes them at
/// once. Threads are not killed; their late results are dropped.
pub(crate) async fn wait_for_in_flight(shared: &Arc<Shared>, deadline: Instant) -> u64 {
    if shared.in_flight.wait_until_empty(deadline).await {
        return 0;
    }
    shared.in_flight.cancel_all(CancelReason::WorkerShutdown);
    let cancel_wait = match shared.executors.isolated.get() {
        Some(children) => CANCEL_WAIT + children.options.kill_grace,
        None => CANCEL_WAIT,
    };
    if shared
        .in_flight
        .wait_until_empty(Instant::now() + cancel_wait)
        .await
    {
        return 0;
    }
    let abandoned = shared.in_flight.take_all();
    let count = abandoned.len() as u64;
    for (token, (activity, attempt)) in abandoned {
        warn!(
            activity,
            "still running after the grace period; reported as WorkerShutdown"
        );
        let report = Report::Failed {
            failure: Box::new(worker_shutdown_failure()),
            last_heartbeat: attempt.latest_heartbeat(),
        };
        shared.in_flight.count(&report);
        let reporter = shared.clone();
        shared.responses.spawn(async move {
            let report = reporter.encoded(report, attempt.payload_context()).await;
            reporter
                .reporter()
                .report(&activity, token, report, None)
                .await;
        });
    }
    count
}
