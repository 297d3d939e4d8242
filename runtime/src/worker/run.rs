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
use super::heartbeat::{heartbeat_loop, throttle_interval, HeartbeatLink};
use super::lag::{Lag, LagMonitor};
use super::respond::{with_deadline, Report, Reporter, CALL_DEADLINE};
use super::stall::StallWatch;
use super::WorkerError;
use super::{retry, Ready, WorkerOptions};
use crate::attempt::{Attempt, CancelReason, HeartbeatStarter};
use crate::connection::{connect, ServiceClient};
use crate::context::{ActivityContext, ActivityInfo};
use crate::error::{failure_type, ActivityError};
use crate::invoke::Args;
use crate::pool::BlockingPool;
use crate::proto::service::DescribeNamespaceRequest;
use crate::proto::service::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse,
    RecordActivityTaskHeartbeatRequest, ShutdownWorkerRequest,
};
use crate::proto::Capabilities;
use crate::proto::Payloads;
use crate::proto::{TaskQueue, TaskQueueKind, TaskQueueType};
use crate::registry::Outcome;
use crate::registry::Registry;

/// The server answers an idle long poll after about 60 s; sdk-core allows 70.
const POLL_DEADLINE: Duration = Duration::from_secs(70);
/// How long shutdown waits for the server to complete in-flight polls before dropping them,
/// when the namespace says it will (`worker_poll_complete_on_shutdown`).
const POLL_DRAIN: Duration = Duration::from_secs(5);
/// sdk-core's margin past a timeout before it cancels an attempt locally.
const LOCAL_TIMEOUT_BUFFER: Duration = Duration::from_secs(5);
/// How long attempts cancelled at the end of the grace period have to return.
const CANCEL_WAIT: Duration = Duration::from_secs(1);
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

type TaskToken = Vec<u8>;
/// An attempt not yet reported: its activity type and shared state.
type Outstanding = (String, Arc<Attempt>);

struct Shared {
    options: WorkerOptions,
    registry: Registry,
    client: ServiceClient,
    executors: Executors,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    stop_polling: CancellationToken,
    /// Attempts not yet reported, by task token. Whoever removes a token reports it.
    outstanding: Mutex<HashMap<TaskToken, Outstanding>>,
    control: tokio::runtime::Handle,
    all_reported: Notify,
    responses: TaskTracker,
    instance_key: String,
    /// The server answers open polls after `ShutdownWorker`; else they are dropped at once.
    polls_complete_on_shutdown: bool,
    completed: AtomicU64,
    failed: AtomicU64,
    canceled: AtomicU64,
    heartbeats_sent: Arc<AtomicU64>,
    stalls: Arc<AtomicU64>,
    event_loop_lag: Arc<LagMonitor>,
    control_lag: Arc<LagMonitor>,
}

impl Shared {
    fn reporter(&self) -> Reporter<'_> {
        Reporter {
            client: &self.client,
            namespace: &self.options.namespace,
            identity: &self.options.identity,
        }
    }
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
            let stalls = Arc::new(AtomicU64::new(0));
            let executors = Executors {
                blocking: Arc::new(BlockingPool::new(
                    "legwork-blocking",
                    options.blocking_threads,
                )),
                event_loop: event_loop.handle().clone(),
                stall_watch: StallWatch::new(options.stall_threshold, stalls.clone()),
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
                    canceled: AtomicU64::new(0),
                    heartbeats_sent: Arc::new(AtomicU64::new(0)),
                    stalls,
                    event_loop_lag: Arc::new(LagMonitor::default()),
                    control_lag: Arc::new(LagMonitor::default()),
                    control: tokio::runtime::Handle::current(),
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
    let token = task.task_token;
    let acked = Arc::new(Notify::new());
    let attempt = Attempt::new(
        shared.shutdown.clone(),
        Some(heartbeat_starter(&shared, &token, &info, &acked)),
    );
    shared
        .outstanding
        .lock()
        .unwrap()
        .insert(token.clone(), (activity.clone(), attempt.clone()));
    let outcome = match shared.registry.get(&activity) {
        None => Err(not_found(&activity, &shared.registry)),
        Some(descriptor) => {
            let timeouts = (info.start_to_close_timeout, info.heartbeat_timeout);
            let payloads = task.input.map(|input| input.payloads).unwrap_or_default();
            let ctx = ActivityContext::with_attempt(info, attempt.clone());
            let run = shared
                .executors
                .run(descriptor, ctx, Args::new(descriptor.name, payloads));
            with_local_timeouts(run, &attempt, timeouts, &acked).await
        }
    };
    attempt.finished.cancel();
    if take_outstanding(&shared, &token).is_none() {
        return; // shutdown reported it at the end of the grace period
    }
    let Some(report) = settle(&attempt, outcome) else {
        debug!(activity, reason = ?attempt.cancel_reason(), "attempt ended without a report");
        return;
    };
    let counter = match report {
        Report::Completed(_) => &shared.completed,
        Report::Failed { .. } => &shared.failed,
        Report::Canceled { .. } => &shared.canceled,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let reporter = shared.clone();
    shared.responses.spawn(async move {
        if let Report::Canceled { .. } = report {
            flush_heartbeat(&reporter, &token, &attempt).await;
        }
        reporter.reporter().report(&activity, token, report).await;
        // The slot is free only once no thread works for this attempt any more.
        attempt.blocking_jobs_done().await;
        drop(permit);
    });
}

/// How the server hears of an attempt's end; `None` when it must hear nothing.
fn settle(attempt: &Attempt, outcome: Outcome) -> Option<Report> {
    let last_heartbeat = attempt.latest_heartbeat();
    match (attempt.cancel_reason(), outcome) {
        // The server has already timed the attempt out, or forgotten it.
        (Some(CancelReason::TimedOut | CancelReason::NotFound), _) => None,
        (_, Ok(payload)) => Some(Report::Completed(payload)),
        (Some(CancelReason::WorkerShutdown), Err(_)) => Some(Report::Failed {
            failure: Box::new(worker_shutdown_failure()),
            last_heartbeat,
        }),
        (Some(_), Err(error)) if error.cancel_reason().is_some() => Some(Report::Canceled {
            details: last_heartbeat,
        }),
        (_, Err(error)) => Some(Report::Failed {
            failure: Box::new(error.to_failure()),
            last_heartbeat,
        }),
    }
}

fn worker_shutdown_failure() -> crate::proto::Failure {
    ActivityError::new("the worker shut down before the activity finished")
        .with_type(failure_type::WORKER_SHUTDOWN)
        .to_failure()
}

/// Start-to-close and heartbeat timeouts, plus sdk-core's 5 s buffer: past them the server
/// has timed the attempt out, so it is cancelled locally with reason `TimedOut`.
async fn with_local_timeouts(
    run: impl std::future::Future<Output = Outcome>,
    attempt: &Attempt,
    (start_to_close, heartbeat_timeout): (Option<Duration>, Option<Duration>),
    acked: &Notify,
) -> Outcome {
    tokio::pin!(run);
    let began = tokio::time::Instant::now();
    let hard_deadline = start_to_close.map(|timeout| began + timeout + LOCAL_TIMEOUT_BUFFER);
    let heartbeat_window = heartbeat_timeout.map(|timeout| timeout + LOCAL_TIMEOUT_BUFFER);
    let mut heartbeat_deadline = heartbeat_window.map(|window| began + window);
    loop {
        let Some(deadline) = hard_deadline.into_iter().chain(heartbeat_deadline).min() else {
            return run.await;
        };
        tokio::select! {
            outcome = &mut run => return outcome,
            _ = tokio::time::sleep_until(deadline) => {
                attempt.cancel(CancelReason::TimedOut);
                return run.await;
            }
            _ = acked.notified() => {
                heartbeat_deadline = heartbeat_window.map(|window| tokio::time::Instant::now() + window);
            }
        }
    }
}

fn heartbeat_starter(
    shared: &Arc<Shared>,
    token: &[u8],
    info: &ActivityInfo,
    acked: &Arc<Notify>,
) -> HeartbeatStarter {
    let (shared, token, acked) = (shared.clone(), token.to_vec(), acked.clone());
    let interval = throttle_interval(info.heartbeat_timeout);
    Box::new(move |attempt| {
        let link = HeartbeatLink {
            client: shared.client.clone(),
            namespace: shared.options.namespace.clone(),
            identity: shared.options.identity.clone(),
            task_token: token.clone(),
            interval,
            acked: acked.clone(),
            sent: shared.heartbeats_sent.clone(),
        };
        shared.control.spawn(heartbeat_loop(attempt, link));
    })
}

/// Sends details recorded since the last heartbeat call, so the server has them before
/// it hears of the cancellation.
async fn flush_heartbeat(shared: &Shared, token: &[u8], attempt: &Attempt) {
    let Some(details) = attempt.take_pending_heartbeat() else {
        return;
    };
    let request = RecordActivityTaskHeartbeatRequest {
        task_token: token.to_vec(),
        details: Some(Payloads {
            payloads: vec![details],
        }),
        identity: shared.options.identity.clone(),
        namespace: shared.options.namespace.clone(),
        ..Default::default()
    };
    shared.heartbeats_sent.fetch_add(1, Ordering::Relaxed);
    let mut client = shared.client.clone();
    let _ = client
        .record_activity_task_heartbeat(with_deadline(request, CALL_DEADLINE))
        .await;
}

fn take_outstanding(shared: &Shared, token: &[u8]) -> Option<Outstanding> {
    let mut outstanding = shared.outstanding.lock().unwrap();
    let entry = outstanding.remove(token);
    if outstanding.is_empty() {
        shared.all_reported.notify_waiters();
    }
    entry
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
    let wait = if shared.polls_complete_on_shutdown {
        POLL_DRAIN
    } else {
        Duration::ZERO
    };
    let drained =
        tokio::time::timeout(wait, async { while pollers.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        shared.stop_polling.cancel();
        while pollers.join_next().await.is_some() {}
    }
}

/// Waits for in-flight attempts until `deadline`, then cancels the rest with reason
/// `WorkerShutdown`, gives them a moment to return, and reports those still running as
/// retryable `WorkerShutdown` failures so that another worker takes them at once. Their
/// threads are not killed; their late results are dropped.
async fn wait_for_in_flight(shared: &Arc<Shared>, deadline: Instant) -> u64 {
    if wait_until_all_reported(shared, deadline).await {
        return 0;
    }
    for (_, attempt) in shared.outstanding.lock().unwrap().values() {
        attempt.cancel(CancelReason::WorkerShutdown);
    }
    if wait_until_all_reported(shared, Instant::now() + CANCEL_WAIT).await {
        return 0;
    }
    let abandoned: Vec<_> = shared.outstanding.lock().unwrap().drain().collect();
    let count = abandoned.len() as u64;
    for (token, (activity, attempt)) in abandoned {
        warn!(
            activity,
            "still running after the grace period; reported as WorkerShutdown"
        );
        shared.failed.fetch_add(1, Ordering::Relaxed);
        let report = Report::Failed {
            failure: Box::new(worker_shutdown_failure()),
            last_heartbeat: attempt.latest_heartbeat(),
        };
        let reporter = shared.clone();
        shared.responses.spawn(async move {
            reporter.reporter().report(&activity, token, report).await;
        });
    }
    count
}

/// True when no attempt is outstanding by `deadline`.
async fn wait_until_all_reported(shared: &Shared, deadline: Instant) -> bool {
    loop {
        let all_reported = shared.all_reported.notified();
        if shared.outstanding.lock().unwrap().is_empty() {
            return true;
        }
        if tokio::time::timeout_at(deadline.into(), all_reported)
            .await
            .is_err()
        {
            return shared.outstanding.lock().unwrap().is_empty();
        }
    }
}
