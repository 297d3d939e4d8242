//! The isolated executor: one attempt in one child process, told of cancellation and
//! shutdown, killed when it does not stop in time, and its death turned into a failure.
//!
//! The worker keeps everything that talks to Temporal: the slot, heartbeat throttling,
//! reporting exactly once. The child only runs the function.

mod crash;
mod pool;
mod process;

pub(crate) use pool::ChildPool;

use std::sync::Arc;

use tokio::time::Instant;
use tracing::{debug, error, info, trace, warn, Instrument, Span};

use self::crash::Cause;
use self::process::ChildProcess;
use crate::attempt::CancelReason;
use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::invoke::Outcome;
use crate::isolated::protocol::{from_child, reason_code, task_of, to_child, Log, Run};
use crate::payload::Payload;

/// How an attempt in a child ended.
enum Ended {
    Outcome(Outcome),
    /// The socket closed before an outcome: the child died.
    Died,
    /// Told to stop for this reason, it outlived the kill grace.
    Overdue(CancelReason),
}

/// Runs one attempt of `function` in a child from `pool`, inside `span`.
pub(crate) async fn run(
    pool: &Arc<ChildPool>,
    function: &'static str,
    memory_limit: Option<u64>,
    ctx: ActivityContext,
    args: Vec<Payload>,
    span: Span,
) -> Outcome {
    let mut child = match pool.checkout().await {
        Ok(child) => child,
        Err(error) => {
            return Err(ActivityError::new(format!(
                "could not start a child process for isolated activity `{function}`: {error}"
            )))
        }
    };
    let memory_limit = memory_limit.or(pool.options.memory_limit);
    let attempt = ctx.attempt().clone();
    let run = Run {
        function: function.to_owned(),
        task: Some(task_of(ctx.info())),
        namespace: ctx.info().namespace.clone(),
        task_queue: ctx.info().task_queue.clone(),
        args: crate::payload::to_wire(args),
        memory_limit: memory_limit.unwrap_or(0),
        worker_shutdown: attempt.worker_shutdown.is_cancelled(),
    };
    child.served += 1;
    pool.metrics.busy.inc();
    let ended = attend(pool, &mut child, &ctx, run).instrument(span).await;
    pool.metrics.busy.dec();
    match ended {
        Ended::Outcome(outcome) => {
            pool.checkin(child).await;
            outcome
        }
        Ended::Died => {
            let status = child.reap().await;
            let stderr = child.stderr_tail();
            let cause = Cause::of(status, &stderr, memory_limit);
            pool.metrics.crashed(cause.label());
            warn!(pid = child.pid, %status, "isolated activity `{function}`'s child died");
            pool.discard(child).await;
            pool.replenish();
            Err(cause.failure(function, &stderr))
        }
        Ended::Overdue(reason) => {
            pool.metrics.killed(&reason.to_string());
            warn!(
                pid = child.pid,
                "isolated activity `{function}` did not stop within {:?} of being told \
                 ({reason}); its child is killed",
                pool.options.kill_grace
            );
            pool.discard(child).await;
            pool.replenish();
            Err(ActivityError::cancelled(reason))
        }
    }
}

/// Sends the attempt, then relays until it ends: heartbeats and log lines in, cancellation
/// and shutdown out, and the kill grace once the child was told to stop.
async fn attend(
    pool: &ChildPool,
    child: &mut ChildProcess,
    ctx: &ActivityContext,
    run: Run,
) -> Ended {
    let attempt = ctx.attempt();
    let mut told_shutdown = run.worker_shutdown;
    if child
        .send(to_child::Kind::Run(Box::new(run)))
        .await
        .is_err()
    {
        return Ended::Died;
    }
    let mut told: Option<(CancelReason, Instant)> = None;
    loop {
        let kill_at = told.map(|(_, at)| at);
        tokio::select! {
            frame = child.next() => match frame {
                Some(from_child::Kind::Outcome(outcome)) => {
                    return Ended::Outcome(outcome.into_outcome())
                }
                Some(from_child::Kind::Heartbeat(details)) => ctx.heartbeat_payload(Payload::from_wire(details)),
                Some(from_child::Kind::Log(log)) => relay_log(child.pid, log),
                Some(from_child::Kind::Hello(_)) => {}
                None => return Ended::Died,
            },
            reason = attempt.cancelled(), if told.is_none() => {
                let _ = child.send(to_child::Kind::Cancel(reason_code(reason))).await;
                told = Some((reason, Instant::now() + pool.options.kill_grace));
            }
            _ = attempt.worker_shutdown.cancelled(), if !told_shutdown => {
                let _ = child.send(to_child::Kind::Shutdown(true)).await;
                told_shutdown = true;
            }
            _ = sleep_until(kill_at), if kill_at.is_some() => {
                let (reason, _) = told.expect("a kill time comes with its reason");
                return Ended::Overdue(reason);
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The child's log line, logged here inside the attempt's span so it carries the
/// activity's fields.
fn relay_log(pid: u32, log: Log) {
    let Log {
        level,
        target,
        message,
    } = log;
    match level {
        1 => error!(child = pid, module = %target, "{message}"),
        2 => warn!(child = pid, module = %target, "{message}"),
        3 => info!(child = pid, module = %target, "{message}"),
        4 => debug!(child = pid, module = %target, "{message}"),
        _ => trace!(child = pid, module = %target, "{message}"),
    }
}
