//! A real worker against a real dev server: results, threads, limits and failures.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use legwork::client::StartActivity;
use legwork::{activity, ActivityContext, ActivityError};

use common::{client, failure_of, start_once, start_worker, task_queue, worker_options};

#[activity]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[activity(name = "compose_greeting")]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Returns the name of the thread it ran on.
#[activity]
fn sync_thread_name(ctx: &ActivityContext) -> String {
    let info = ctx.info();
    assert!(!info.activity_id.is_empty());
    assert_eq!(info.attempt, 1);
    assert_eq!(info.start_to_close_timeout, Some(Duration::from_secs(30)));
    let deadline = info.deadline.expect("a deadline from start-to-close");
    assert_eq!(
        deadline,
        info.started_time.unwrap() + Duration::from_secs(30)
    );
    thread::current().name().unwrap_or("").to_owned()
}

/// The nice value of the thread it ran on.
#[activity]
fn sync_thread_nice() -> i32 {
    // SAFETY: reads this thread's priority; touches no memory.
    unsafe {
        libc::getpriority(
            libc::PRIO_PROCESS,
            libc::syscall(libc::SYS_gettid) as libc::id_t,
        )
    }
}

#[activity(async)]
async fn async_thread_name(ctx: &ActivityContext) -> String {
    tokio::task::yield_now().await;
    assert!(
        ctx.info().activity_run_id.is_some(),
        "standalone activities have a run id"
    );
    thread::current().name().unwrap_or("").to_owned()
}

#[activity(async)]
async fn async_double(values: Vec<u32>) -> Vec<u32> {
    values.into_iter().map(|v| v * 2).collect()
}

#[activity]
fn reverse_bytes(mut data: Vec<u8>) -> Vec<u8> {
    data.reverse();
    data
}

/// How many `sleep_in_group` activities of each group run at once, and the peak.
static GROUPS: Mutex<Option<HashMap<String, (usize, usize)>>> = Mutex::new(None);

fn group_update(group: &str, change: isize) -> usize {
    let mut groups = GROUPS.lock().unwrap();
    let entry = groups
        .get_or_insert_with(HashMap::new)
        .entry(group.to_owned())
        .or_default();
    entry.0 = entry.0.checked_add_signed(change).unwrap();
    entry.1 = entry.1.max(entry.0);
    entry.1
}

/// Sleeps its thread; returns the peak concurrency of its group seen so far.
#[activity]
fn sleep_in_group(group: String, millis: u64) -> usize {
    group_update(&group, 1);
    thread::sleep(Duration::from_millis(millis));
    group_update(&group, -1)
}

#[derive(serde::Deserialize)]
struct FailureSpec {
    message: String,
    error_type: String,
    non_retryable: bool,
}

#[activity]
fn fail_as(spec: FailureSpec) -> Result<(), ActivityError> {
    let error = ActivityError::new(spec.message).with_type(spec.error_type);
    Err(if spec.non_retryable {
        error.non_retryable()
    } else {
        error
    })
}

#[derive(Debug, thiserror::Error)]
#[error("disk full on {0}")]
struct DiskFull(String);

#[activity]
fn fail_with_std_error(volume: String) -> Result<u32, DiskFull> {
    Err(DiskFull(volume))
}

#[activity]
fn explode(message: String) {
    panic!("{message}");
}

#[tokio::test]
async fn sync_and_async_activities_return_their_results() {
    let queue = task_queue("results");
    let _worker = start_worker(common::worker_options(&queue));
    let client = client().await;

    let sum = start_once(&client, StartActivity::new("add", &queue).arg(&40).arg(&2)).await;
    let greeting = start_once(
        &client,
        StartActivity::new("compose_greeting", &queue).arg(&"Ada"),
    )
    .await;
    let doubled = start_once(
        &client,
        StartActivity::new("async_double", &queue).arg(&vec![1, 2, 3]),
    )
    .await;
    let reversed = start_once(
        &client,
        StartActivity::new("reverse_bytes", &queue).arg_payload(bytes_payload(&[1, 2, 0xff])),
    )
    .await;

    assert_eq!(sum.result::<i64>().await.unwrap(), 42);
    assert_eq!(greeting.result::<String>().await.unwrap(), "Hello, Ada!");
    assert_eq!(doubled.result::<Vec<u32>>().await.unwrap(), [2, 4, 6]);
    assert_eq!(reversed.result_bytes().await.unwrap(), [0xff, 2, 1]);
}

fn bytes_payload(data: &[u8]) -> legwork::Payload {
    legwork::Payload::new(
        [("encoding".to_owned(), b"binary/plain".to_vec())].into(),
        data.to_vec(),
    )
}

#[tokio::test]
async fn sync_activities_run_on_pool_threads_and_async_ones_do_not() {
    let queue = task_queue("threads");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let sync = start_once(&client, StartActivity::new("sync_thread_name", &queue)).await;
    let asynchronous = start_once(&client, StartActivity::new("async_thread_name", &queue)).await;

    let sync_thread = sync.result::<String>().await.unwrap();
    let async_thread = asynchronous.result::<String>().await.unwrap();
    assert!(
        sync_thread.starts_with("legwork-blocking-"),
        "sync ran on {sync_thread:?}"
    );
    let nice = start_once(&client, StartActivity::new("sync_thread_nice", &queue)).await;
    // SAFETY: reads the process's priority.
    let process_nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let expected = (process_nice + 10).min(19);
    assert_eq!(
        nice.result::<i32>().await.unwrap(),
        expected,
        "pool threads yield the CPU"
    );
    assert!(
        async_thread.starts_with("legwork-async-"),
        "async ran on {async_thread:?}"
    );
}

#[tokio::test]
async fn blocking_threads_bound_how_many_sync_activities_run_at_once() {
    let queue = task_queue("bounded");
    let mut options = worker_options(&queue);
    options.blocking_threads = 4;
    let _worker = start_worker(options);
    let client = client().await;

    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let start = StartActivity::new("sleep_in_group", &queue)
            .arg(&queue)
            .arg(&1000u64);
        handles.push(start_once(&client, start).await);
    }
    let mut peaks = Vec::new();
    for handle in &handles {
        peaks.push(handle.result::<usize>().await.unwrap());
    }
    let peak = peaks.into_iter().max().unwrap();
    assert_eq!(
        peak, 4,
        "never more than 4 at once, and the pool was used in full"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "eight 1 s sleeps on 4 threads take two rounds"
    );
}

#[tokio::test]
async fn failures_reach_the_server_and_the_worker_keeps_serving() {
    let queue = task_queue("failures");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let spec = serde_json::json!({"message": "no such image", "error_type": "MissingImage", "non_retryable": true});
    let failed =
        failure_of(&start_once(&client, StartActivity::new("fail_as", &queue).arg(&spec)).await)
            .await;
    let app = failed.application().expect("an application failure");
    assert_eq!(app.message, "no such image");
    assert_eq!(app.failure_type.as_deref(), Some("MissingImage"));
    assert!(app.non_retryable);

    let std_error = failure_of(
        &start_once(
            &client,
            StartActivity::new("fail_with_std_error", &queue).arg(&"/dev/sda"),
        )
        .await,
    )
    .await;
    let app = std_error.application().unwrap();
    assert_eq!(
        (app.failure_type.as_deref(), app.message.as_str()),
        (Some("DiskFull"), "disk full on /dev/sda")
    );
    assert!(!app.non_retryable);

    let unknown =
        failure_of(&start_once(&client, StartActivity::new("no_such_activity", &queue)).await)
            .await;
    let app = unknown.application().unwrap();
    assert_eq!(app.failure_type.as_deref(), Some("NotFoundError"));
    assert!(app.message.contains("no_such_activity"), "{}", app.message);
    assert!(
        app.message
            .contains("add, async_double, async_thread_name, compose_greeting"),
        "{}",
        app.message
    );

    let panicked = failure_of(
        &start_once(
            &client,
            StartActivity::new("explode", &queue).arg(&"kaboom"),
        )
        .await,
    )
    .await;
    let app = panicked.application().unwrap();
    assert_eq!(app.failure_type.as_deref(), Some("PanicError"));
    assert!(app.message.contains("kaboom"), "{}", app.message);

    let malformed = failure_of(
        &start_once(
            &client,
            StartActivity::new("add", &queue).arg(&"forty").arg(&2),
        )
        .await,
    )
    .await;
    let app = malformed.application().unwrap();
    assert_eq!(app.failure_type.as_deref(), Some("PayloadDecodeError"));
    assert!(app.non_retryable);
    assert!(
        app.message
            .starts_with("activity `add` could not decode argument 0 (`a`): invalid type"),
        "{}",
        app.message
    );

    let wrong_count =
        failure_of(&start_once(&client, StartActivity::new("add", &queue).arg(&1)).await).await;
    let app = wrong_count.application().unwrap();
    assert_eq!(app.failure_type.as_deref(), Some("ArgumentCountError"));
    assert!(app.non_retryable);
    assert_eq!(
        app.message,
        "activity `add` takes 2 arguments (a, b) but was given 1"
    );

    // The worker lived through all of that.
    let sum = start_once(&client, StartActivity::new("add", &queue).arg(&1).arg(&2)).await;
    assert_eq!(sum.result::<i64>().await.unwrap(), 3);
}

/// Holds its thread for `millis`: an attempt still running when the worker is dropped.
#[activity]
fn hold_thread(millis: u64) -> u64 {
    thread::sleep(Duration::from_millis(millis));
    millis
}

/// On a one-thread runtime, as `#[tokio::test]` is: starting, joining and dropping a
/// worker never block the runtime's only thread, so a timer on it stays on time.
#[tokio::test]
async fn start_join_and_drop_never_block_the_runtime_thread() {
    let queue = task_queue("async-api");
    let mut options = worker_options(&queue);
    options.shutdown_grace = Duration::from_secs(3);
    let worker = legwork::worker::Worker::new(options.clone())
        .start_async()
        .await
        .expect("the worker starts");
    let client = client().await;
    let handle = start_once(&client, StartActivity::new("add", &queue).arg(&1).arg(&2)).await;
    assert_eq!(handle.result::<i64>().await.unwrap(), 3);
    worker.shutdown();
    let report = worker.join_async().await;
    assert_eq!(report.completed, 1, "{report:?}");

    // Dropped with an attempt running: the drop returns at once (the attempt keeps its
    // grace period on the worker's own threads), and a 50 ms timer on this thread fires
    // on time meanwhile.
    let worker = legwork::worker::Worker::new(options)
        .start_async()
        .await
        .expect("the worker starts");
    let held = start_once(
        &client,
        StartActivity::new("hold_thread", &queue).arg(&2000u64),
    )
    .await;
    common::wait_until_started(&held).await;
    let dropped = Instant::now();
    drop(worker);
    let took = dropped.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "the drop blocked for {took:?}"
    );
    let timer = Instant::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        timer.elapsed() < Duration::from_millis(500),
        "{:?}",
        timer.elapsed()
    );
    assert_eq!(
        held.result::<u64>().await.unwrap(),
        2000,
        "finished within the grace"
    );
}
