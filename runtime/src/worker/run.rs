//! The worker's control loop: pollers, task handling, graceful shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::dispatch::{not_found, Executors};
use super::pool::BlockingPool;
use super::respond::{respond, with_deadline};
use super::{retry, Ready, WorkerOptions};
use crate::connection::{connect, ServiceClient};
use crate::proto::service::DescribeNamespaceRequest;
use crate::proto::Capabilities;
use super::WorkerError;
use crate::context::{ActivityContext, ActivityInfo};
use crate::error::{failure_type, ActivityError};
use crate::invoke::Args;
use crate::proto::service::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse, ShutdownWorkerRequest,
};
use crate::proto::{TaskQueue, TaskQueueKind, TaskQueueType};
use crate::registry::Registry;

/// The server answers an idle long poll after about 60 s; sdk-core allows 70.
const POLL_DEADLINE: Duration = Duration::from_secs(70);
/// How long shutdown waits for the server to complete in-flight polls before dropping them,
/// when the namespace says it will (`worker_poll_complete_on_shutdown`).
const POLL_DRAIN: Duration = Duration::from_secs(5);
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
    /// Attempts still running when the grace period ended, reported as `WorkerShutdown`.
    pub abandoned_at_shutdown: u64,
}

struct Shared {
    options: WorkerOptions,
    registry: Registry,
    client: ServiceClient,
    executors: Executors,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    stop_polling: CancellationToken,
    /// Attempts not yet reported, by task token. Whoever removes a token reports it.
    outstanding: Mutex<HashMap<Vec<u8>, String>>,
    all_reported: Notify,
    responses: TaskTracker,
    instance_key: String,
    /// The server answers open polls after `ShutdownWorker`; else they are dropped at once.
    polls_complete_on_shutdown: bool,
    completed: AtomicU64,
    failed: AtomicU64,
}

pub(super) fn spawn(
    options: WorkerOptions,
    registry: Registry,
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
            let executors = Executors {
                blocking: BlockingPool::new("legwork-blocking", options.blocking_threads),
                event_loop: event_loop.handle().clone(),
            };
            let report = control.block_on(async move {
                let (client, capabilities) = match connect_to_namespace(&options).await {
                    Ok(connected) => connected,
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
                    polls_complete_on_shutdown: capabilities.worker_poll_complete_on_shutdown,
                    completed: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                });
                let _ = ready.send(Ok(()));
                serve(shared).await
            });
            // Async activities still blocking their thread must not hold up the exit.
            event_loop.shutdown_background();
            report
        })
}

/// Connects and checks the namespace exists, so that a typo fails at start, not at poll.
async fn connect_to_namespace(
    options: &WorkerOptions,
) -> Result<(ServiceClient, Capabilities), WorkerError> {
    let mut client = connect(&options.address, &options.namespace).await?;
    let request = DescribeNamespaceRequest {
        namespace: options.namespace.clone(),
        ..Default::default()
    };
    let described = client
        .describe_namespace(with_deadline(request, Duration::from_secs(10)))
        .await
        .map_err(|status| WorkerError::Namespace {
            namespace: options.namespace.clone(),
            status,
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
        abandoned_at_shutdown: abandoned,
    };
    info!(?report, elapsed = ?began.elapsed(), "worker stopped");
    report
}

fn log_start(shared: &Shared) {
    let options = &shared.options;
    let names: Vec<&str> = shared.registry.names().collect();
    info!(
        address = %options.address,
        namespace = %options.namespace,
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
        let poll =
            client.poll_activity_task_queue(with_deadline(poll_request(&shared), POLL_DEADLINE));
        let result = tokio::select! {
            _ = shared.stop_polling.cancelled() => return,
            result = poll => result,
        };
        match result {
            Ok(response) => {
                failures = 0;
                let task = response.into_inner();
                if !task.task_token.is_empty() {
                    tokio::spawn(handle_task(shared.clone(), task, permit));
                } else if shared.shutdown.is_cancelled() {
                    return;
                }
            }
            Err(status) => {
                if shared.shutdown.is_cancelled() {
                    return;
                }
                failures += 1;
                let delay = retry::POLL.delay(failures);
                if retry::is_retryable(&status) || status.code() == tonic::Code::DeadlineExceeded {
                    debug!(%status, ?delay, "poll failed; retrying");
                } else {
                    warn!(%status, ?delay, "poll failed; retrying");
                }
                drop(permit);
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

fn poll_request(shared: &Shared) -> PollActivityTaskQueueRequest {
    PollActivityTaskQueueRequest {
        namespace: shared.options.namespace.clone(),
        task_queue: Some(task_queue(&shared.options.task_queue)),
        identity: shared.options.identity.clone(),
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

async fn handle_task(
    shared: Arc<Shared>,
    task: PollActivityTaskQueueResponse,
    permit: OwnedSemaphorePermit,
) {
    let info =
        ActivityInfo::from_task(&task, &shared.options.namespace, &shared.options.task_queue);
    let activity = info.activity_type.clone();
    let token = task.task_token.clone();
    shared
        .outstanding
        .lock()
        .unwrap()
        .insert(token.clone(), activity.clone());
    let outcome = match shared.registry.get(&activity) {
        None => Err(not_found(&activity, &shared.registry)),
        Some(descriptor) => {
            let payloads = task.input.map(|input| input.payloads).unwrap_or_default();
            let ctx = ActivityContext::with_shutdown(info, shared.shutdown.clone());
            shared
                .executors
                .run(descriptor, ctx, Args::new(descriptor.name, payloads))
                .await
        }
    };
    if take_outstanding(&shared, &token).is_some() {
        let counter = if outcome.is_ok() {
            &shared.completed
        } else {
            &shared.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let reporter = shared.clone();
        shared.responses.spawn(async move {
            respond(
                &reporter.client,
                &reporter.options.namespace,
                &reporter.options.identity,
                &activity,
                token,
                outcome,
            )
            .await;
            drop(permit);
        });
    }
}

fn take_outstanding(shared: &Shared, token: &[u8]) -> Option<String> {
    let mut outstanding = shared.outstanding.lock().unwrap();
    let activity = outstanding.remove(token);
    if outstanding.is_empty() {
        shared.all_reported.notify_waiters();
    }
    activity
}

/// Tells the server this worker is going away, so that it answers our open polls at once.
async fn shutdown_worker(shared: &Shared) {
    let request = ShutdownWorkerRequest {
        namespace: shared.options.namespace.clone(),
        identity: shared.options.identity.clone(),
        reason: "graceful shutdown".to_owned(),
        worker_instance_key: shared.instance_key.clone(),
        task_queue: shared.options.task_queue.clone(),
        task_queue_types: vec![TaskQueueType::Activity as i32],
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

async fn drain_polls(shared: &Shared, mut pollers: JoinSet<()>) {
    let wait = if shared.polls_complete_on_shutdown { POLL_DRAIN } else { Duration::ZERO };
    let drained = tokio::time::timeout(wait, async {
        while pollers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        shared.stop_polling.cancel();
        while pollers.join_next().await.is_some() {}
    }
}

/// Waits for in-flight attempts until `deadline`, then reports the rest as retryable
/// `WorkerShutdown` failures so that another worker can take them at once. Their threads
/// are not killed; their late results are dropped.
async fn wait_for_in_flight(shared: &Arc<Shared>, deadline: Instant) -> u64 {
    loop {
        let all_reported = shared.all_reported.notified();
        if shared.outstanding.lock().unwrap().is_empty() {
            return 0;
        }
        if tokio::time::timeout_at(deadline.into(), all_reported)
            .await
            .is_err()
        {
            break;
        }
    }
    let abandoned: Vec<(Vec<u8>, String)> = shared.outstanding.lock().unwrap().drain().collect();
    let count = abandoned.len() as u64;
    for (token, activity) in abandoned {
        warn!(
            activity,
            "still running at the end of the grace period; reported as WorkerShutdown"
        );
        shared.failed.fetch_add(1, Ordering::Relaxed);
        let failure = ActivityError::new("the worker shut down before the activity finished")
            .with_type(failure_type::WORKER_SHUTDOWN);
        let reporter = shared.clone();
        shared.responses.spawn(async move {
            respond(
                &reporter.client,
                &reporter.options.namespace,
                &reporter.options.identity,
                &activity,
                token,
                Err(failure),
            )
            .await;
        });
    }
    count
}
