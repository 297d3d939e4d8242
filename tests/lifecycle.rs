//! Heartbeats, cancellation, timeouts, retries and shutdown, as a real server sees them.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use legwork::client::{ActivityStatus, StartActivity};
use legwork::RetryPolicy;
use legwork::{activity, ActivityContext, ActivityError};

use common::{client, failure_of, start_worker, task_queue, wait_until_started, worker_options};

/// Facts activities record for the test to read, by activity id.
static NOTES: Mutex<Option<HashMap<String, Vec<String>>>> = Mutex::new(None);

fn note(ctx: &ActivityContext, fact: impl Into<String>) {
    let mut notes = NOTES.lock().unwrap();
    let notes = notes.get_or_insert_with(HashMap::new);
    notes
        .entry(ctx.info().activity_id.clone())
        .or_default()
        .push(fact.into());
}

fn notes_of(id: &str) -> Vec<String> {
    NOTES
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|n| n.get(id).cloned())
        .unwrap_or_default()
}

/// Counts from the last recorded heartbeat; the first attempt fails after `fail_at`.
#[activity]
fn resumable(ctx: &ActivityContext, to: u32, fail_at: u32) -> Result<(u32, u32), ActivityError> {
    let from = ctx.last_heartbeat::<u32>()?.map_or(0, |last| last + 1);
    for i in from..to {
        ctx.heartbeat(&i)?;
        if ctx.info().attempt == 1 && i == fail_at {
            return Err(ActivityError::new("crashed halfway"));
        }
    }
    Ok((from, ctx.info().attempt))
}

/// Heartbeats until cancelled, then notes why and stops with `?`.
#[activity]
fn sync_until_cancelled(ctx: &ActivityContext) -> Result<(), ActivityError> {
    for i in 0..3000u32 {
        if let Err(error) = ctx.heartbeat(&i) {
            note(ctx, format!("cancelled: {}", ctx.cancel_reason().unwrap()));
            return Err(error);
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

#[activity(async)]
async fn async_until_cancelled(ctx: &ActivityContext) -> Result<(), ActivityError> {
    for i in 0..3000u32 {
        if let Err(error) = ctx.heartbeat(&i) {
            note(ctx, format!("cancelled: {}", ctx.cancel_reason().unwrap()));
            return Err(error);
        }
        tokio::select! {
            reason = ctx.cancelled() => {
                note(ctx, format!("cancelled: {reason}"));
                return Err(ActivityError::cancelled(reason));
            }
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    Ok(())
}

/// Heartbeats once, then goes silent for longer than its heartbeat timeout on attempt 1.
#[activity]
fn goes_silent(ctx: &ActivityContext) -> u32 {
    ctx.heartbeat(&"started").ok();
    if ctx.info().attempt == 1 {
        thread::sleep(Duration::from_secs(4));
    }
    ctx.info().attempt
}

/// Fails attempt 1 asking for a retry after `delay_ms`; notes when each attempt began.
#[activity]
fn retry_later(ctx: &ActivityContext, delay_ms: u64) -> Result<u32, ActivityError> {
    note(
        ctx,
        format!(
            "{:?}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        ),
    );
    if ctx.info().attempt == 1 {
        return Err(ActivityError::new("try again later")
            .with_next_retry_delay(Duration::from_millis(delay_ms)));
    }
    Ok(ctx.info().attempt)
}

#[activity]
fn fails_for_good() -> Result<(), ActivityError> {
    Err(ActivityError::new("bad input")
        .with_type("BadInput")
        .non_retryable())
}

/// Sleeps `millis` on attempt 1, noting when it sees the worker shut down.
#[activity]
fn slow_first_attempt(ctx: &ActivityContext, millis: u64) -> u32 {
    if ctx.info().attempt == 1 {
        let began = Instant::now();
        let mut seen = false;
        while began.elapsed() < Duration::from_millis(millis) {
            if ctx.is_worker_shutdown() && !seen {
                seen = true;
                note(ctx, "saw shutdown");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    ctx.info().attempt
}

fn retries(max_attempts: u32) -> RetryPolicy {
    {
        let mut policy = RetryPolicy::default();
        policy.initial_interval = Some(Duration::from_millis(100));
        policy.maximum_attempts = Some(max_attempts);
        policy
    }
}

#[tokio::test]
async fn a_retry_resumes_from_the_last_heartbeat() {
    let queue = task_queue("resume");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let start = StartActivity::new("resumable", &queue)
        .arg(&10)
        .arg(&4)
        .retry_policy(retries(3))
        .heartbeat_timeout(Duration::from_secs(10));
    let handle = client.start_activity(start).await.unwrap();

    let (from, attempt) = handle.result::<(u32, u32)>().await.unwrap();
    assert_eq!(
        (from, attempt),
        (5, 2),
        "attempt 2 resumed after the 4 recorded by attempt 1"
    );

    // Without a retry, the failure leaves attempt 1's last details on the server.
    let start = StartActivity::new("resumable", &queue)
        .arg(&10)
        .arg(&4)
        .max_attempts(1)
        .heartbeat_timeout(Duration::from_secs(10));
    let failed = client.start_activity(start).await.unwrap();
    failure_of(&failed).await;
    let details: Vec<u32> = failed
        .describe()
        .await
        .unwrap()
        .last_heartbeat_details
        .iter()
        .map(|payload| serde_json::from_slice(&payload.data).unwrap())
        .collect();
    assert_eq!(details, [4], "the server shows the details");
}

#[tokio::test]
async fn cancel_requests_end_sync_and_async_activities_as_canceled() {
    let queue = task_queue("cancel");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let mut handles = Vec::new();
    for activity in ["sync_until_cancelled", "async_until_cancelled"] {
        let start = StartActivity::new(activity, &queue)
            .max_attempts(1)
            .heartbeat_timeout(Duration::from_secs(2));
        handles.push(client.start_activity(start).await.unwrap());
    }
    for handle in &handles {
        wait_until_started(handle).await;
        let asked = Instant::now();
        handle.cancel("no longer needed").await.unwrap();
        let failure = failure_of(handle).await;
        assert!(failure.is_canceled(), "{failure:?}");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "took {:?}",
            asked.elapsed()
        );
        assert_eq!(
            handle.describe().await.unwrap().status,
            ActivityStatus::Canceled
        );
        assert_eq!(notes_of(handle.id()), ["cancelled: cancel requested"]);
    }
}

#[tokio::test]
async fn a_silent_activity_is_timed_out_and_retried() {
    let queue = task_queue("silent");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let start = StartActivity::new("goes_silent", &queue)
        .retry_policy(retries(3))
        .heartbeat_timeout(Duration::from_secs(1));
    let handle = client.start_activity(start).await.unwrap();
    assert_eq!(
        handle.result::<u32>().await.unwrap(),
        2,
        "attempt 1 timed out, attempt 2 completed"
    );
    let last_failure = handle
        .describe()
        .await
        .unwrap()
        .last_failure
        .expect("attempt 1 failed");
    assert!(last_failure.is_timeout(), "{last_failure:?}");
}

#[tokio::test]
async fn next_retry_delay_is_honoured() {
    let queue = task_queue("delay");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let start = StartActivity::new("retry_later", &queue)
        .arg(&3000)
        .retry_policy(retries(3));
    let handle = client.start_activity(start).await.unwrap();
    assert_eq!(handle.result::<u32>().await.unwrap(), 2);
    let starts: Vec<u128> = notes_of(handle.id())
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let gap = Duration::from_millis((starts[1] - starts[0]) as u64);
    assert!(
        gap >= Duration::from_millis(2900),
        "retried after {gap:?}, asked for 3 s"
    );
}

#[tokio::test]
async fn a_non_retryable_error_is_not_retried() {
    let queue = task_queue("final");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let handle = client
        .start_activity(StartActivity::new("fails_for_good", &queue).retry_policy(retries(5)))
        .await
        .unwrap();
    let failure = failure_of(&handle).await;
    assert_eq!(
        failure.application().unwrap().failure_type.as_deref(),
        Some("BadInput")
    );
    assert_eq!(handle.describe().await.unwrap().attempt, 1);
}

#[tokio::test]
async fn graceful_shutdown_finishes_what_it_can_and_hands_over_the_rest() {
    let queue = task_queue("shutdown");
    let mut options = worker_options(&queue);
    options.shutdown_grace = Duration::from_secs(2);
    let first = start_worker(options.clone());
    let client = client().await;
    let quick = client
        .start_activity(
            StartActivity::new("slow_first_attempt", &queue)
                .arg(&1000)
                .retry_policy(retries(2)),
        )
        .await
        .unwrap();
    let slow = client
        .start_activity(
            StartActivity::new("slow_first_attempt", &queue)
                .arg(&20_000)
                .retry_policy(retries(2)),
        )
        .await
        .unwrap();
    wait_until_started(&quick).await;
    wait_until_started(&slow).await;

    let shutdown_began = Instant::now();
    first.shutdown();
    // The slow activity sees the shutdown well within the 2 s grace.
    while notes_of(slow.id()).is_empty() {
        assert!(
            shutdown_began.elapsed() < Duration::from_secs(1),
            "the slow activity did not see the shutdown within half the grace"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        notes_of(slow.id()),
        ["saw shutdown"],
        "seen within the grace"
    );
    let report = tokio::task::spawn_blocking(move || first.join())
        .await
        .unwrap();
    assert!(
        shutdown_began.elapsed() < Duration::from_secs(6),
        "bounded: {:?}",
        shutdown_began.elapsed()
    );
    assert_eq!(report.abandoned_at_shutdown, 1, "{report:?}");
    assert_eq!(
        quick.result::<u32>().await.unwrap(),
        1,
        "finished within the grace"
    );
    let described = slow.describe().await.unwrap();
    let failure = described.last_failure.expect("attempt 1 was reported");
    assert_eq!(
        failure.application().unwrap().failure_type.as_deref(),
        Some("WorkerShutdown")
    );

    let _second = start_worker(options);
    assert_eq!(
        slow.result::<u32>().await.unwrap(),
        2,
        "a second worker completed it"
    );
}
