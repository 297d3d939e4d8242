//! Operator commands (pause, unpause, reset, update options, terminate, delete) against a
//! real dev server and a real worker, on standalone activities and on a Python workflow's
//! (whose priority the activity also reads). Priority alone: tests/priority.rs.

mod common;

use std::time::Duration;

use legwork::client::{
    ActivityOptionsUpdate, ActivityOutcome, ActivityStatus, ClientError, ResetOptions, RunState,
    StartActivity,
};
use legwork::{activity, ActivityContext, ActivityError, RetryPolicy};

use common::board::{describe_until, events_of, post, wait_for};
use common::{client, start_worker, task_queue, worker_options};

/// Heartbeats from the last recorded count until something cancels it; the run after
/// `finish_on_run` starts completes at once. Posts `run N attempt A last L` on each start.
#[activity(async)]
async fn heartbeat_until_stopped(
    ctx: &ActivityContext,
    finish_on_run: usize,
) -> Result<String, ActivityError> {
    let id = ctx.info().activity_id.clone();
    let last = ctx.last_heartbeat::<u32>()?;
    let run = events_of(&id)
        .iter()
        .filter(|e| e.starts_with("run "))
        .count()
        + 1;
    post(
        &id,
        format!("run {run} attempt {} last {last:?}", ctx.info().attempt),
    );
    if run >= finish_on_run {
        return Ok(format!("done on run {run}"));
    }
    let mut count = last.map_or(0, |last| last + 1);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            reason = ctx.cancelled() => {
                post(&id, format!("cancelled: {reason} ({:?})", ctx.cancel_reason()));
                return Err(ActivityError::cancelled(reason));
            }
            _ = tick.tick() => {
                ctx.heartbeat(&count).ok();
                count += 1;
            }
        }
    }
}

/// Attempt 1 waits for the test's `fail now`, then fails; later attempts complete. Each
/// posts its start-to-close timeout.
#[activity(async)]
async fn fail_when_told(ctx: &ActivityContext) -> Result<u64, ActivityError> {
    let info = ctx.info();
    let timeout = info.start_to_close_timeout.unwrap_or_default().as_secs();
    post(
        &info.activity_id,
        format!("attempt {} stc {timeout}", info.attempt),
    );
    if info.attempt == 1 {
        wait_for(&info.activity_id, "fail now").await;
        return Err(ActivityError::new("told to fail"));
    }
    Ok(timeout)
}

/// The priority the attempt was dispatched with.
#[activity]
fn priority_of(ctx: &ActivityContext) -> (Option<u32>, Option<String>, Option<f32>) {
    let priority = &ctx.info().priority;
    (
        priority.priority_key,
        priority.fairness_key.clone(),
        priority.fairness_weight,
    )
}

fn retrying(start: StartActivity) -> StartActivity {
    let mut policy = RetryPolicy::default();
    policy.initial_interval = Some(Duration::from_millis(100));
    policy.maximum_attempts = Some(5);
    start
        .start_to_close_timeout(Duration::from_secs(30))
        .heartbeat_timeout(Duration::from_secs(2))
        .retry_policy(policy)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_attempt_ends_as_activity_pause_and_runs_again_after_unpause() {
    let queue = task_queue("pause");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let handle = client
        .start_activity(retrying(
            StartActivity::new("heartbeat_until_stopped", &queue).arg(&2),
        ))
        .await
        .unwrap();
    let id = handle.id().to_owned();
    assert_eq!(wait_for(&id, "run 1").await, "run 1 attempt 1 last None");

    handle.pause("maintenance").await.unwrap();
    let cancelled = wait_for(&id, "cancelled").await;
    assert_eq!(cancelled, "cancelled: paused (Some(Paused))");
    // The attempt's failure is the one Python reports, and nothing runs while paused.
    let paused = describe_until(&handle, |d| d.last_failure.is_some()).await;
    assert_eq!(paused.status, ActivityStatus::Paused, "{paused:#?}");
    assert_eq!(paused.run_state, RunState::Paused);
    let failure = paused.last_failure.unwrap();
    assert_eq!(failure.failure_type.as_deref(), Some("ActivityPause"));
    assert_eq!(
        failure.message,
        "Unhandled activity cancel error produced by activity pause"
    );
    assert_eq!(events_of(&id).len(), 2, "{:?}", events_of(&id));

    handle.unpause().await.unwrap();
    let result: String = handle.result().await.unwrap();
    assert_eq!(result, "done on run 2");
    assert!(wait_for(&id, "run 2 attempt 2")
        .await
        .starts_with("run 2 attempt 2 last Some("));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_restarts_the_activity_and_clears_heartbeats_when_asked() {
    let queue = task_queue("reset");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let handle = client
        .start_activity(retrying(
            StartActivity::new("heartbeat_until_stopped", &queue).arg(&3),
        ))
        .await
        .unwrap();
    let id = handle.id().to_owned();
    wait_for(&id, "run 1").await;
    describe_until(&handle, |d| !d.last_heartbeat_details.is_empty()).await;

    // Kept heartbeat details: the next run resumes from them, at attempt 1 again.
    handle.reset(ResetOptions::default()).await.unwrap();
    assert_eq!(
        wait_for(&id, "cancelled").await,
        "cancelled: reset (Some(Reset))"
    );
    let second = wait_for(&id, "run 2").await;
    assert!(second.starts_with("run 2 attempt 1 last Some("), "{second}");
    let reset = handle.describe().await.unwrap().last_failure.unwrap();
    assert_eq!(reset.failure_type.as_deref(), Some("ActivityReset"));

    let mut clear = ResetOptions::default();
    clear.reset_heartbeat = true;
    handle.reset(clear).await.unwrap();
    assert_eq!(
        handle.result::<String>().await.unwrap(),
        "done on run 3",
        "{:?}",
        events_of(&id)
    );
    assert_eq!(wait_for(&id, "run 3").await, "run 3 attempt 1 last None");
}

#[tokio::test(flavor = "multi_thread")]
async fn updated_options_show_in_describe_and_in_the_next_attempt() {
    let queue = task_queue("update");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let handle = client
        .start_activity(retrying(StartActivity::new("fail_when_told", &queue)))
        .await
        .unwrap();
    let id = handle.id().to_owned();
    assert_eq!(wait_for(&id, "attempt 1").await, "attempt 1 stc 30");

    let mut update = ActivityOptionsUpdate::default();
    update.start_to_close_timeout = Some(Duration::from_secs(45));
    let mut attempts = RetryPolicy::default();
    attempts.maximum_attempts = Some(7);
    update.retry_policy = Some(attempts);
    let current = handle.update_options(update).await.unwrap();
    assert_eq!(
        current.start_to_close_timeout,
        Some(Duration::from_secs(45))
    );
    // Only the fields set changed, down to the retry policy's.
    assert_eq!(current.heartbeat_timeout, Some(Duration::from_secs(2)));
    assert_eq!(current.task_queue, queue);
    let policy = current.retry_policy.expect("a retry policy");
    assert_eq!(policy.maximum_attempts, Some(7));
    assert_eq!(policy.initial_interval, Some(Duration::from_millis(100)));
    let described = handle.describe().await.unwrap();
    assert_eq!(
        described.options.start_to_close_timeout,
        Some(Duration::from_secs(45))
    );

    post(&id, "fail now");
    assert_eq!(handle.result::<u64>().await.unwrap(), 45);
    assert_eq!(wait_for(&id, "attempt 2").await, "attempt 2 stc 45");
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_ends_a_running_activity_as_terminated() {
    let queue = task_queue("terminate");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let handle = client
        .start_activity(retrying(
            StartActivity::new("heartbeat_until_stopped", &queue).arg(&9),
        ))
        .await
        .unwrap();
    let id = handle.id().to_owned();
    wait_for(&id, "run 1").await;

    handle.terminate("the test is done with it").await.unwrap();
    match handle.outcome().await.unwrap() {
        ActivityOutcome::Failed(failure) => assert_eq!(failure.kind, "terminated", "{failure:?}"),
        other => panic!("expected a termination, got {other:?}"),
    }
    assert_eq!(
        handle.describe().await.unwrap().status,
        ActivityStatus::Terminated
    );
    // The running attempt learns it from its next heartbeat: the server no longer knows it.
    assert_eq!(
        wait_for(&id, "cancelled").await,
        "cancelled: not found (Some(NotFound))"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_the_activity_and_errors_name_the_rpc() {
    let queue = task_queue("delete");
    let client = client().await;
    // No worker polls this queue: the activity stays scheduled until deleted.
    let handle = client
        .start_activity(StartActivity::new("heartbeat_until_stopped", &queue).arg(&1))
        .await
        .unwrap();
    assert_eq!(
        handle.describe().await.unwrap().run_state,
        RunState::Scheduled
    );

    handle.delete().await.unwrap();
    let not_found = |error: ClientError, rpc: &str| match error {
        ClientError::Rpc { operation, status } => {
            assert_eq!(operation, rpc);
            assert_eq!(status.code(), tonic::Code::NotFound, "{status}");
        }
        other => panic!("expected {rpc} to fail with NotFound, got {other:?}"),
    };
    // Deletion completes on the server after the call returns: the record shows
    // Terminated ("Delete activity execution") for a moment, then goes.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let gone = loop {
        match handle.describe().await {
            Err(error) => break error,
            Ok(seen) => assert!(
                std::time::Instant::now() < deadline,
                "still there after delete: {:?}",
                seen.status
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    not_found(gone, "DescribeActivityExecution");
    not_found(
        handle.pause("gone").await.unwrap_err(),
        "PauseActivityExecution",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_workflows_activity_sees_its_priority_and_obeys_operator_commands() {
    let queue = task_queue("py-priority");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let workflow_id = format!("priority-{queue}");
    let held_id = format!("held-{queue}");
    let args = [
        common::server().address(),
        format!("{queue}-workflows"),
        queue.clone(),
        workflow_id.clone(),
        held_id.clone(),
    ];
    let script = tokio::task::spawn_blocking(move || {
        common::python::run_script("priority_workflow.py", &args)
    });

    wait_for(&held_id, "run 1").await;
    let held = client.workflow_activity(&workflow_id, None, &held_id);
    held.pause("maintenance").await.unwrap();
    assert_eq!(
        wait_for(&held_id, "cancelled").await,
        "cancelled: paused (Some(Paused))"
    );
    let mut update = ActivityOptionsUpdate::default();
    update.start_to_close_timeout = Some(Duration::from_secs(45));
    let current = held.update_options(update).await.unwrap();
    assert_eq!(
        current.start_to_close_timeout,
        Some(Duration::from_secs(45))
    );
    held.unpause().await.unwrap();
    let second = wait_for(&held_id, "run 2").await;
    assert!(second.starts_with("run 2 attempt 2 last Some("), "{second}");

    let mut reset = ResetOptions::default();
    reset.reset_heartbeat = true;
    held.reset(reset).await.unwrap();
    // Unlike a standalone activity's, a workflow activity's reset replaces the running
    // attempt at once (server 1.32): its next heartbeat finds it gone (not `Reset`), and
    // the replacement keeps the replaced attempt's number (2), not 1.
    assert_eq!(
        wait_for(&held_id, "cancelled: not found").await,
        "cancelled: not found (Some(NotFound))"
    );
    let printed = script.await.unwrap();
    assert_eq!(printed["error"], serde_json::Value::Null, "{printed}");
    assert_eq!(
        printed["result"]["priority"],
        serde_json::json!([1, "tenant-b", 2.5])
    );
    assert_eq!(printed["result"]["held"], "done on run 3");
    // The heartbeat details were cleared as asked.
    assert_eq!(
        wait_for(&held_id, "run 3").await,
        "run 3 attempt 2 last None"
    );
}
