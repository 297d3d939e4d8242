//! An event loop you can trust: async activities that block their thread delay neither
//! polling, heartbeats, completions nor shutdown, and the stall detector names them.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use legwork::client::{Client, StartActivity};
use legwork::{activity, run_blocking, ActivityContext, ActivityError};

use common::logs::captured_logs;
use common::{client, start_once, start_worker, task_queue, wait_until_started, worker_options};

/// The mistake the Python docs warn about: blocking inside `async`.
#[activity(async, allow_blocking)]
async fn rogue_async(millis: u64) {
    std::thread::sleep(Duration::from_millis(millis));
}

#[activity(async)]
async fn tiny_async() {
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[activity]
fn tiny_sync() {
    thread::sleep(Duration::from_millis(10));
}

#[activity]
fn heartbeat_for(ctx: &ActivityContext, millis: u64) -> Result<u32, ActivityError> {
    let began = Instant::now();
    let mut beats = 0;
    while began.elapsed() < Duration::from_millis(millis) {
        ctx.heartbeat(&beats)?;
        beats += 1;
        thread::sleep(Duration::from_millis(200));
    }
    Ok(beats)
}

/// `run_blocking` moves the blocking call to the pool: the thread name says where it ran.
#[activity(async)]
async fn offloaded(millis: u64) -> Result<String, ActivityError> {
    run_blocking(move || {
        thread::sleep(Duration::from_millis(millis));
        thread::current().name().unwrap_or("").to_owned()
    })
    .await
}

#[activity(async)]
async fn offloaded_panic() -> Result<(), ActivityError> {
    run_blocking(|| panic!("inside run_blocking")).await
}

/// Starts `count` activities at once and waits for all of them; returns the elapsed time.
/// Starts `count` activities back to back and waits until all completed; the elapsed time.
async fn run_many(client: &Client, queue: &str, activity: &str, count: usize) -> Duration {
    let began = Instant::now();
    let mut handles = Vec::with_capacity(count);
    for _ in 0..count {
        handles.push(start_once(client, StartActivity::new(activity, queue)).await);
    }
    for handle in &handles {
        let outcome = handle.outcome().await.unwrap();
        assert!(
            matches!(outcome, legwork::client::ActivityOutcome::Completed(_)),
            "{outcome:?}"
        );
    }
    began.elapsed()
}

#[tokio::test]
async fn one_blocked_event_loop_thread_does_not_delay_other_async_activities() {
    captured_logs();
    let queue = task_queue("one-blocked");
    let mut options = worker_options(&queue);
    options.async_threads = 2;
    let _worker = start_worker(options);
    let client = client().await;

    let rogue = start_once(
        &client,
        StartActivity::new("rogue_async", &queue).arg(&10_000),
    )
    .await;
    wait_until_started(&rogue).await;
    let elapsed = run_many(&client, &queue, "tiny_async", 40).await;
    assert!(
        elapsed < Duration::from_secs(3),
        "forty 10 ms async activities took {elapsed:?}"
    );

    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    let warning = logs
        .lines()
        .find(|line| line.contains("async activity `rogue_async`"))
        .expect("a stall warning names the blocking activity");
    println!("{warning}");
    assert!(warning.contains("tests/isolation.rs:"), "{warning}");
    assert!(warning.contains(rogue.id()), "{warning}");
}

#[tokio::test]
async fn with_every_event_loop_thread_blocked_the_worker_keeps_serving() {
    let queue = task_queue("all-blocked");
    let mut options = worker_options(&queue);
    options.async_threads = 2;
    let worker = start_worker(options);
    let client = client().await;

    let mut rogues = Vec::new();
    for _ in 0..2 {
        rogues.push(
            start_once(
                &client,
                StartActivity::new("rogue_async", &queue).arg(&8_000),
            )
            .await,
        );
    }
    for rogue in &rogues {
        wait_until_started(rogue).await;
    }
    let heartbeating = start_once(
        &client,
        StartActivity::new("heartbeat_for", &queue)
            .arg(&3_000)
            .heartbeat_timeout(Duration::from_secs(1)),
    )
    .await;
    let elapsed = run_many(&client, &queue, "tiny_sync", 40).await;
    assert!(
        elapsed < Duration::from_secs(3),
        "forty 10 ms sync activities took {elapsed:?}"
    );
    let beats = heartbeating
        .result::<u32>()
        .await
        .expect("not timed out: heartbeats flowed");
    assert!(beats >= 10, "{beats}");

    // Shutdown is not held up by the blocked event loop either.
    let began = Instant::now();
    worker.shutdown();
    let report = worker.join_async().await;
    println!("shutdown took {:?}: {report:?}", began.elapsed());
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "shutdown took {:?}",
        began.elapsed()
    );
    assert!(
        report.control_lag.max < Duration::from_millis(100),
        "{report:?}"
    );
    assert!(
        report.event_loop_lag.max >= Duration::from_secs(1),
        "{report:?}"
    );
}

#[tokio::test]
async fn run_blocking_uses_the_blocking_pool() {
    let queue = task_queue("offload");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let offloaded = start_once(&client, StartActivity::new("offloaded", &queue).arg(&50)).await;
    let thread = offloaded.result::<String>().await.unwrap();
    assert!(thread.starts_with("legwork-blocking-"), "{thread}");

    let panicked = start_once(&client, StartActivity::new("offloaded_panic", &queue)).await;
    let failure = common::failure_of(&panicked).await;
    let app = failure.application().unwrap();
    assert_eq!(app.failure_type.as_deref(), Some("PanicError"));
    assert!(
        app.message.contains("inside run_blocking"),
        "{}",
        app.message
    );
}
