//! A self-healing event loop: when every event-loop thread is held by a blocking async
//! activity, new async activities start on a spare event-loop thread, which is retired
//! once the stall is over.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use legwork::client::{ActivityHandle, Client, StartActivity};
use legwork::codec::{CodecChain, CodecFuture, PayloadCodec};
use legwork::worker::RunningWorker;
use legwork::{activity, run_blocking, ActivityError, Payload};

use common::http::get;
use common::logs::captured_logs;
use common::{client, start_once, start_worker, task_queue, wait_until_started, worker_options};

/// Blocks its event-loop thread, as `std::thread::sleep` in an `async fn` does.
#[activity(async, allow_blocking)]
async fn hog_loop(millis: u64) {
    std::thread::sleep(Duration::from_millis(millis));
}

/// A tiny async activity that says which thread finished it.
#[activity(async)]
async fn where_am_i() -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    std::thread::current().name().unwrap_or("").to_owned()
}

/// `run_blocking` from an async activity: where the activity ran, and where the closure did.
#[activity(async)]
async fn offload() -> Result<(String, String), ActivityError> {
    let closure = run_blocking(|| std::thread::current().name().unwrap_or("").to_owned()).await?;
    let activity = std::thread::current().name().unwrap_or("").to_owned();
    Ok((activity, closure))
}

/// A worker for `queue` with its metrics served on a free port.
fn metered_worker(queue: &str, async_threads: usize) -> (RunningWorker, SocketAddr) {
    let mut options = worker_options(queue);
    options.async_threads = async_threads;
    options.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let worker = start_worker(options);
    let address = worker.metrics_address().expect("metrics are served");
    (worker, address)
}

/// `legwork_event_loop_spares` as the worker exports it.
fn spares(address: SocketAddr) -> f64 {
    let text = get(address, "/metrics").body;
    common::prom::find(&text, "legwork_event_loop_spares", &[])
        .unwrap_or_else(|| panic!("no legwork_event_loop_spares in:\n{text}"))
}

/// Waits (10 s at most) until the spares gauge satisfies `done`.
async fn wait_for_spares(address: SocketAddr, done: impl Fn(f64) -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(spares(address)) {
        assert!(Instant::now() < deadline, "{what}: never came to pass");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_hogs(
    client: &Client,
    queue: &str,
    count: usize,
    millis: u64,
) -> Vec<ActivityHandle> {
    let mut hogs = Vec::new();
    for _ in 0..count {
        let start = StartActivity::new("hog_loop", queue).arg(&millis);
        hogs.push(start_once(client, start).await);
    }
    for hog in &hogs {
        wait_until_started(hog).await;
    }
    hogs
}

/// Starts `count` `where_am_i` at once; the threads they ended on, and the time until the
/// last one completed.
async fn tiny_ones(client: &Client, queue: &str, count: usize) -> (Vec<String>, Duration) {
    let began = Instant::now();
    let mut tiny = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (client, queue) = (client.clone(), queue.to_owned());
        tiny.spawn(async move {
            let handle = start_once(&client, StartActivity::new("where_am_i", &queue)).await;
            handle
                .result::<String>()
                .await
                .expect("a tiny one completes")
        });
    }
    let threads = tiny.join_all().await;
    (threads, began.elapsed())
}

async fn stop(worker: RunningWorker) {
    worker.shutdown();
    worker.join_async().await;
}

/// Issue 12's acceptance: 2 × cores async activities block their threads for 10 s, and
/// 20 tiny async activities still complete within 3 s.
#[tokio::test]
async fn tiny_async_activities_do_not_wait_behind_a_blocked_event_loop() {
    captured_logs();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let queue = task_queue("blocked-loop");
    let (worker, metrics) = metered_worker(&queue, cores);
    let client = client().await;

    let hogs = start_hogs(&client, &queue, 2 * cores, 10_000).await;
    // Activities placed before the stall is seen wait behind it: they cannot move.
    wait_for_spares(metrics, |n| n >= 1.0, "a spare thread starts").await;
    let (threads, elapsed) = tiny_ones(&client, &queue, 20).await;
    println!("20 tiny async activities took {elapsed:?} on {threads:?}");
    assert!(
        elapsed < Duration::from_secs(3),
        "20 tiny async activities took {elapsed:?}"
    );
    for thread in &threads {
        assert!(thread.starts_with("legwork-spare-"), "{threads:?}");
    }
    assert!(
        spares(metrics) <= cores as f64,
        "at most one spare per core"
    );

    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    let takeover = logs
        .lines()
        .filter(|line| hogs.iter().any(|hog| line.contains(hog.id())))
        .find(|line| line.contains("a spare thread took over"))
        .expect("a stall warning says that a spare thread took over");
    println!("{takeover}");
    assert!(takeover.contains("`legwork-spare-1`"), "{takeover}");
    stop(worker).await;
}

/// A spare takes over while the stall lasts, and is retired once it has ended; the event
/// loop takes new activities again.
#[tokio::test]
async fn a_spare_is_retired_when_the_stall_ends() {
    let queue = task_queue("spare-retired");
    let (worker, metrics) = metered_worker(&queue, 1);
    let client = client().await;

    let hogs = start_hogs(&client, &queue, 1, 2_000).await;
    wait_for_spares(metrics, |n| n == 1.0, "a spare thread starts").await;
    let (threads, _) = tiny_ones(&client, &queue, 3).await;
    assert!(
        threads.iter().all(|thread| thread == "legwork-spare-1"),
        "{threads:?}"
    );
    // The task-local that `run_blocking` reads is there on a spare too.
    let offloaded = start_once(&client, StartActivity::new("offload", &queue)).await;
    let (activity, closure) = offloaded.result::<(String, String)>().await.unwrap();
    assert_eq!(activity, "legwork-spare-1");
    assert!(closure.starts_with("legwork-blocking-"), "{closure}");

    hogs[0].outcome().await.unwrap();
    wait_for_spares(metrics, |n| n == 0.0, "the spare is retired").await;
    let (threads, _) = tiny_ones(&client, &queue, 3).await;
    assert!(
        threads.iter().all(|thread| thread == "legwork-async-1"),
        "{threads:?}"
    );
    stop(worker).await;
}

/// Names the thread each decode ran on, in the payload's metadata, for `decoded_on`.
struct ThreadTag;

impl PayloadCodec for ThreadTag {
    fn encode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        Box::pin(async move { Ok(payloads) })
    }

    fn decode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        Box::pin(async move {
            *DECODED_ON.lock().unwrap() = Some(thread);
            Ok(payloads)
        })
    }
}

/// Where the latest argument was decoded.
static DECODED_ON: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// A tiny sync activity with an argument (so that the codec has one to decode).
#[activity]
fn sync_echo(text: String) -> String {
    text
}

/// Codecs are placed as async activities are: with the only event-loop thread held, a
/// sync activity's argument is decoded on a spare, and the activity is not held up.
#[tokio::test]
async fn codecs_move_to_a_spare_while_the_event_loop_is_held() {
    let queue = task_queue("codec-spare");
    let mut options = worker_options(&queue);
    options.async_threads = 1;
    options.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    options.codecs = CodecChain::new().then(ThreadTag);
    let worker = start_worker(options);
    let metrics = worker.metrics_address().expect("metrics are served");
    let client = client().await;

    let hogs = start_hogs(&client, &queue, 1, 5_000).await;
    wait_for_spares(metrics, |n| n == 1.0, "a spare thread starts").await;
    let began = Instant::now();
    let echo = start_once(&client, StartActivity::new("sync_echo", &queue).arg("hi")).await;
    assert_eq!(echo.result::<String>().await.unwrap(), "hi");
    let elapsed = began.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "a sync activity took {elapsed:?} behind a held event loop"
    );
    let decoded_on = DECODED_ON.lock().unwrap().clone();
    assert_eq!(decoded_on.as_deref(), Some("legwork-spare-1"));
    hogs[0].outcome().await.unwrap();
    stop(worker).await;
}
