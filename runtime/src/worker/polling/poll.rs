//! Polling: the loop that opens polls while a slot, the rate limit and the scaler allow,
//! and what one poll does with its answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::poller_gate::OpenPoll;
use crate::connection::{with_deadline, LONG_POLL_DEADLINE};
use crate::proto::service::{PollActivityTaskQueueRequest, PollActivityTaskQueueResponse};
use crate::proto::{TaskQueue, TaskQueueKind, TaskQueueMetadata, WorkerDeploymentOptions};
use crate::worker::options::WorkerOptions;
use crate::worker::server::contact::is_unreachable;
use crate::worker::server::retry;
use crate::worker::shared::Shared;
use crate::worker::slots::SlotPermit;
use crate::worker::task::handle_task;

/// Opens polls while a slot is free, the rate limit allows and the scaler wants more,
/// until shutdown; returns once the last of its polls has ended.
pub(crate) async fn poll_loop(shared: Arc<Shared>) {
    let mut polls = JoinSet::new();
    loop {
        while polls.try_join_next().is_some() {}
        if let Some(limiter) = &shared.polling.rate_limiter {
            tokio::select! {
                biased;
                _ = shared.shutdown.cancelled() => break,
                _ = limiter.acquire() => {}
            }
        }
        let permit = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            permit = shared.polling.slots.reserve() => permit,
        };
        let open = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            open = shared.polling.gate.open() => open,
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
    let deadline = if shared.options.health_bind.is_some() && !shared.polling.health.has_polled() {
        FIRST_POLL_DEADLINE
    } else {
        shared.polling.gate.poll_deadline(LONG_POLL_DEADLINE)
    };
    let request = poll_request(
        &shared.options,
        &shared.instance_key,
        &shared.deployment,
        shared.polling.control_queue.as_deref(),
    );
    let mut client = shared.client.clone();
    let poll = client.poll_activity_task_queue(with_deadline(request, deadline));
    let polling = shared.metrics.polling();
    let result = tokio::select! {
        _ = shared.polling.stop.cancelled() => return,
        result = poll => result,
    };
    drop(polling);
    shared.contact.observe(&result);
    match result {
        Ok(response) => answered(&shared, response.into_inner(), permit),
        Err(status) => back_off(&shared, status, permit, open).await,
    }
}

/// A poll the server answered: hands its task over with the slot, if it has one.
fn answered(shared: &Arc<Shared>, task: PollActivityTaskQueueResponse, permit: SlotPermit) {
    shared.polling.failures.store(0, Ordering::Relaxed);
    shared.polling.health.poll_accepted();
    let has_task = !task.task_token.is_empty();
    let decision = task
        .poller_scaling_decision
        .as_ref()
        .map(|decision| decision.poll_request_delta_suggestion);
    shared
        .polling
        .gate
        .update(|scaler| scaler.on_response(has_task, decision));
    if has_task {
        tokio::spawn(handle_task(shared.clone(), Box::new(task), permit));
    } else {
        shared.metrics.poll_no_task();
    }
}

/// A failed poll: gives the slot back, and keeps the poll counted open through the
/// backoff, so that the next poll waits for it.
async fn back_off(shared: &Shared, status: tonic::Status, permit: SlotPermit, open: OpenPoll) {
    if shared.shutdown.is_cancelled() {
        return;
    }
    let exhausted = status.code() == tonic::Code::ResourceExhausted;
    shared
        .polling
        .gate
        .update(|scaler| scaler.on_error(exhausted));
    let failures = shared.polling.failures.fetch_add(1, Ordering::Relaxed) + 1;
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
        _ = shared.contact.back() => shared.polling.failures.store(0, Ordering::Relaxed),
    }
    drop(open);
}

/// What every poll sends: the task-queue-wide rate limit only when one is set, since the
/// server clears the queue's limit on a poll without it (the last poll wins); the
/// worker-commands queue only where the namespace advertises them.
fn poll_request(
    options: &WorkerOptions,
    instance_key: &str,
    deployment: &WorkerDeploymentOptions,
    control_queue: Option<&str>,
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
        worker_control_task_queue: control_queue.unwrap_or_default().to_owned(),
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
        let request = poll_request(&options, "key", &deployment, None);
        assert_eq!(request.task_queue_metadata, None);
        assert_eq!(request.worker_control_task_queue, "", "no worker commands");
        assert_eq!(request.worker_instance_key, "key");
        assert_eq!(request.deployment_options, Some(deployment.clone()));
        #[allow(deprecated)]
        let legacy = request.worker_version_capabilities.clone();
        assert_eq!(legacy, None, "no legacy versioning field");

        options.max_task_queue_activities_per_second = Some(12.5);
        let request = poll_request(&options, "key", &deployment, Some("commands"));
        assert_eq!(request.worker_control_task_queue, "commands");
        let metadata = request.task_queue_metadata.expect("the limit is sent");
        assert_eq!(metadata.max_tasks_per_second, Some(12.5));
    }
}
