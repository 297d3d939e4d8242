//! One activity task, from poll to report: dispatch, local timeouts, heartbeats, and how
//! the attempt's end is told to the server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use tracing::{debug, Span};

use super::executor::{local_timeout_buffer, TaskInput};
use super::reporting::activity_heartbeat::{flush_heartbeat, heartbeat_starter};
use super::reporting::codecs::{refuse_references, task_context};
use super::reporting::failure_reason::FailureReason;
use super::reporting::respond::Report;
use super::shared::Shared;
use super::slots::SlotPermit;
use crate::attempt::{Attempt, CancelReason};
use crate::codec::SerializationContext;
use crate::context::{ActivityContext, ActivityInfo};
use crate::error::{failure_type, ActivityError};
use crate::invoke::Outcome;
use crate::payload::{from_wire, Payload};
use crate::proto::service::PollActivityTaskQueueResponse;
use crate::telemetry::metrics::{counts_as_failed, millis, ActivityMetrics, GaugeGuard};
use crate::telemetry::trace;

/// Every attempt in flight parks in this future, so it is kept small: the task arrives
/// boxed (an async fn keeps its arguments for its whole life) and `prepare` takes it apart
/// before the attempt runs. With the task (624 bytes) inline, twice, and the activity's
/// info beside it, each parked attempt cost 3.5 KiB here alone; now 1.3 KiB.
pub(super) async fn handle_task(
    shared: Arc<Shared>,
    mut task: Box<PollActivityTaskQueueResponse>,
    mut permit: SlotPermit,
) {
    let (payload_context, decoded) = decode(&shared, &mut task).await;
    let Prepared {
        activity,
        deadline,
        timeouts,
        measured,
        span,
        token,
        input,
        acked,
        attempt,
        ctx,
    } = prepare(&shared, task, payload_context);
    let mut type_permit = None;
    let outcome = match (decoded, shared.registry.resolve(&activity)) {
        (Err(error), _) => Err(error),
        (Ok(()), None) => Err(shared.registry.not_found(&activity)),
        (Ok(()), Some(descriptor)) => {
            // A type at its `max_concurrent` waits here, in its slot, within its timeouts.
            let (limits, executors) = (&shared.type_limits, &shared.executors);
            let run = std::pin::pin!(async {
                type_permit = limits.wait(&activity, &attempt, &shared.shutdown).await?;
                executors.run(descriptor, ctx, input, span.clone()).await
            });
            let buffer = local_timeout_buffer(&descriptor.invoker);
            with_local_timeouts(run, &attempt, timeouts, buffer, &acked).await
        }
    };
    // Released with the slot, once no thread works for the attempt.
    permit.hold(type_permit);
    trace::record_outcome(&span, &outcome);
    let panicked = matches!(&outcome, Err(error) if error.error_type() == failure_type::PANIC);
    attempt.finished.cancel();
    // Whoever takes the token reports it: here, or shutdown at the end of the grace.
    let report = match shared.in_flight.take(&token) {
        Some(_) => settle(&attempt, outcome),
        None => None,
    };
    let end = AttemptEnd {
        activity,
        token,
        attempt,
        deadline,
        panicked,
    };
    finish(shared, end, report, permit, measured);
}

/// The task's payloads decoded by the codecs and storage, and the context they were given.
/// Only codecs and storage read the context: without them, no strings are copied.
async fn decode(
    shared: &Shared,
    task: &mut PollActivityTaskQueueResponse,
) -> (SerializationContext, Result<(), ActivityError>) {
    match &shared.codecs {
        Some(codecs) => {
            let context = task_context(
                task,
                &shared.options.connection.namespace,
                &shared.options.task_queue,
            );
            let decoded = codecs.decode_task(task, &context).await;
            (context, decoded)
        }
        None => (SerializationContext::default(), refuse_references(task)),
    }
}

/// An attempt ready to run: what the rest of `handle_task` needs of its task.
struct Prepared {
    activity: String,
    /// After this the server has timed the attempt out: its report no longer counts.
    deadline: Option<Instant>,
    /// Start-to-close and heartbeat timeouts.
    timeouts: (Option<Duration>, Option<Duration>),
    measured: Option<Measured>,
    /// The attempt's `RunActivity` span.
    span: Span,
    token: Vec<u8>,
    input: TaskInput,
    /// Notified on each heartbeat the server acknowledged.
    acked: Arc<Notify>,
    attempt: Arc<Attempt>,
    ctx: ActivityContext,
}

/// Takes the task apart and registers the attempt as outstanding. Not async, so that
/// nothing of the task, or of the info the context now owns, outlives it.
fn prepare(
    shared: &Arc<Shared>,
    task: Box<PollActivityTaskQueueResponse>,
    payload_context: SerializationContext,
) -> Prepared {
    let info = ActivityInfo::from_task(
        &task,
        &shared.options.connection.namespace,
        &shared.options.task_queue,
    );
    // Per-attempt recording only where someone can read it (`metrics_bind`).
    let measured = shared
        .options
        .metrics_bind
        .map(|_| Measured::received(shared, &task, &info));
    let span = trace::activity_span(&info, task.header.as_ref());
    let PollActivityTaskQueueResponse {
        task_token: token,
        input,
        header,
        ..
    } = *task;
    let payloads = from_wire(input.map(|input| input.payloads).unwrap_or_default());
    // Headers reach interceptors as legwork's payloads.
    let headers = header
        .map(|header| header.fields)
        .unwrap_or_default()
        .into_iter()
        .map(|(key, payload)| (key, Payload::from_wire(payload)))
        .collect();
    let acked = Arc::new(Notify::new());
    let attempt = Attempt::of_task(
        shared.shutdown.clone(),
        heartbeat_starter(shared, &token, &info, &acked),
        payload_context,
    );
    let activity = info.activity_type.clone();
    shared
        .in_flight
        .register(token.clone(), activity.clone(), attempt.clone());
    Prepared {
        activity,
        deadline: info.deadline.map(instant_of),
        timeouts: (info.start_to_close_timeout, info.heartbeat_timeout),
        measured,
        span,
        token,
        input: (payloads, headers),
        acked,
        attempt: attempt.clone(),
        ctx: ActivityContext::with_attempt(info, attempt),
    }
}

/// What reporting an attempt's end needs to know about it.
struct AttemptEnd {
    activity: String,
    token: Vec<u8>,
    attempt: Arc<Attempt>,
    /// After this the server has timed the attempt out: its report no longer counts.
    deadline: Option<Instant>,
    panicked: bool,
}

/// Encodes the report, counts it, then sends it, off the attempt's own task; the slot is
/// freed last.
fn finish(
    shared: Arc<Shared>,
    end: AttemptEnd,
    report: Option<Report>,
    permit: SlotPermit,
    measured: Option<Measured>,
) {
    let AttemptEnd {
        activity,
        token,
        attempt,
        deadline,
        panicked,
    } = end;
    // A cancellation flushes the pending heartbeat below: it is sent, not coalesced.
    let flushed = matches!(report, Some(Report::Canceled { .. }));
    shared
        .metrics
        .heartbeats_coalesced(attempt.coalesced_heartbeats(!flushed));
    if report.is_none() {
        debug!(activity, reason = ?attempt.cancel_reason(), "attempt ended without a report");
    }
    let reporter = shared.clone();
    shared.responses.spawn(async move {
        let report = match report {
            Some(report) => Some(reporter.encoded(report, attempt.payload_context()).await),
            None => None,
        };
        // Checked once encoded: that is the size the server sees.
        let report = report.map(|report| report.within_size_limit(&activity));
        if let Some(measured) = &measured {
            measured.ended(panicked, report.as_ref());
        }
        if let Some(report) = report {
            reporter.in_flight.count(&report);
            if let Report::Canceled { .. } = report {
                flush_heartbeat(&reporter, &token, &attempt).await;
            }
            reporter
                .reporter()
                .report(&activity, token, report, deadline)
                .await;
        }
        // The slot is free only once no thread works for this attempt any more.
        attempt.blocking_jobs_done().await;
        drop(permit);
        drop(measured);
    });
}

/// A wall-clock deadline from the server as a point on this process's monotonic clock.
fn instant_of(deadline: SystemTime) -> Instant {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Instant::now() + left
}

/// One attempt as the metrics see it, from receipt to report.
struct Measured {
    metrics: Arc<ActivityMetrics>,
    received: Instant,
    /// The activity's first schedule, for the end-to-end latency of a success.
    first_scheduled: Option<SystemTime>,
    /// Holds `worker_task_slots_used` up until the slot is released.
    _slot: GaugeGuard,
}

impl Measured {
    fn received(
        shared: &Shared,
        task: &PollActivityTaskQueueResponse,
        info: &ActivityInfo,
    ) -> Self {
        let workflow = info.workflow_type.as_deref().unwrap_or("");
        let metrics = shared.metrics.activity(&info.activity_type, workflow);
        metrics.received.inc();
        // Both server times, so the worker's clock does not matter.
        let time = |t: Option<_>| t.and_then(|t| SystemTime::try_from(t).ok());
        let scheduled = time(task.current_attempt_scheduled_time);
        if let Some(Ok(latency)) = time(task.started_time)
            .zip(scheduled)
            .map(|(started, scheduled)| started.duration_since(scheduled))
        {
            shared.metrics.schedule_to_start(latency);
        }
        if shared.registry.resolve(&info.activity_type).is_none() {
            shared.metrics.unregistered(&info.activity_type, workflow);
        }
        Measured {
            metrics,
            received: Instant::now(),
            first_scheduled: info.scheduled_time,
            _slot: shared.metrics.slot_used(),
        }
    }

    /// Recorded before the report is sent, as core records them.
    fn ended(&self, panicked: bool, report: Option<&Report>) {
        let metrics = &self.metrics;
        metrics
            .execution_latency
            .observe(millis(self.received.elapsed()));
        if panicked {
            metrics.task_error.inc();
        }
        match report {
            Some(Report::Completed(_)) => {
                let since = self.first_scheduled.and_then(|at| at.elapsed().ok());
                if let Some(end_to_end) = since {
                    metrics.succeed_endtoend.observe(millis(end_to_end));
                }
            }
            Some(Report::Failed { failure, .. }) if counts_as_failed(failure) => {
                metrics.failed.inc(FailureReason::of(failure).label())
            }
            Some(Report::Canceled { .. }) => metrics.cancelled.inc(),
            _ => {}
        }
    }
}

/// How the server hears of an attempt's end; `None` when it must hear nothing.
pub(super) fn settle(attempt: &Attempt, outcome: Outcome) -> Option<Report> {
    let last_heartbeat = attempt.latest_heartbeat();
    match (attempt.cancel_reason(), outcome) {
        // The server has already timed the attempt out, or forgotten it.
        (Some(CancelReason::TimedOut | CancelReason::NotFound), _) => None,
        // Someone else holds the task token and will complete it.
        (_, Err(error)) if error.is_complete_async() => None,
        (_, Ok(payload)) => Some(Report::Completed(payload)),
        (Some(CancelReason::WorkerShutdown), Err(_)) => Some(Report::Failed {
            failure: Box::new(worker_shutdown_failure()),
            last_heartbeat,
        }),
        // The server accepts Canceled only after a cancel request; a paused or reset
        // attempt that stops is reported as failed (the server holds a paused activity),
        // with the failure the Python SDK reports (`reported_after`).
        (Some(CancelReason::CancelRequested), Err(error)) if error.cancel_reason().is_some() => {
            Some(Report::Canceled {
                details: last_heartbeat,
            })
        }
        (reason, Err(error)) => Some(Report::Failed {
            failure: Box::new(error.reported_after(reason).to_failure()),
            last_heartbeat,
        }),
    }
}

pub(super) fn worker_shutdown_failure() -> crate::proto::Failure {
    ActivityError::new("the worker shut down before the activity finished")
        .with_type(failure_type::WORKER_SHUTDOWN)
        .to_failure()
}

/// Start-to-close and heartbeat timeouts, plus `buffer` (sdk-core's 5 s): past them the
/// server has timed the attempt out, so it is cancelled locally with reason `TimedOut`.
///
/// `run` comes pinned by the caller, so that this future holds a reference to it, not a
/// second copy.
pub(super) async fn with_local_timeouts<F: Future<Output = Outcome>>(
    mut run: Pin<&mut F>,
    attempt: &Attempt,
    (start_to_close, heartbeat_timeout): (Option<Duration>, Option<Duration>),
    buffer: Duration,
    acked: &Notify,
) -> Outcome {
    let began = tokio::time::Instant::now();
    let hard_deadline = start_to_close.map(|timeout| began + timeout + buffer);
    let heartbeat_window = heartbeat_timeout.map(|timeout| timeout + buffer);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what `f` returns, without calling it.
    fn returned_size<A, B, C, R>(_: fn(A, B, C) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// Every attempt in flight parks in this future: an executor's future inlined into it
    /// (the isolated one is about 2 KiB) costs that much per parked attempt. Measured in a
    /// test (debug) build, where futures are larger than in release: 1,552 bytes, against
    /// 3,232 with the isolated executor's future inline.
    #[test]
    fn a_parked_attempt_stays_small() {
        let size = returned_size(handle_task);
        assert!(size <= 2048, "handle_task's future is {size} bytes");
    }
}
