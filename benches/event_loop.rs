//! Issue 4's benchmark: does a saturated blocking pool slow async activities down, and
//! what do the stall detector and metrics cost? Prints figures; asserts nothing.
//!
//! Also (issue 20): how long after a poll begins to block the stall detector reports it.
//!
//! `cargo bench --bench event_loop` (needs the `temporal` CLI: TEMPORAL_CLI or PATH);
//! `cargo bench --bench event_loop -- stall` prints the stall figures only.

use std::time::Duration;

use legwork::activity;
use legwork::client::{ActivityHandle, Client, RunState, StartActivity};
use legwork::testing::DevServer;
use legwork::worker::{Worker, WorkerOptions};

const TINY: usize = 60;
const BLOCKERS: usize = 40;
const BLOCKING_THREADS: usize = 8;

#[activity]
fn sleep_sync(millis: u64) {
    std::thread::sleep(Duration::from_millis(millis));
}

#[activity(async)]
async fn tiny_async() {}

fn main() {
    stall_report_delay();
    if std::env::args().any(|arg| arg == "stall") {
        return;
    }
    let (plain, watched) = legwork::__private::stall_detector_cost(5_000_000);
    println!(
        "stall detector: {plain:.1} ns per poll without, {watched:.1} ns with: +{:.1} ns per poll",
        watched - plain
    );
    let (unmetered, metered, series) = legwork::__private::metrics_recording_cost(1_000_000);
    println!(
        "metrics: an attempt's two RPCs cost {unmetered:.0} ns through the channel layer without \
         metrics, {metered:.0} ns with; its own series {series:.0} ns: +{:.0} ns per attempt",
        metered - unmetered + series
    );

    let server = DevServer::start().expect("a dev server starts");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let idle = runtime.block_on(tiny_latencies(&server, "idle", false));
    let saturated = runtime.block_on(tiny_latencies(&server, "saturated", true));
    let (idle_median, idle_p99) = summary(&idle);
    let (busy_median, busy_p99) = summary(&saturated);
    println!(
        "tiny async schedule-to-close, {TINY} activities 50 ms apart, {BLOCKING_THREADS} blocking threads:"
    );
    println!("  idle pool:      median {idle_median:?}, p99 {idle_p99:?}");
    println!(
        "  saturated pool: median {busy_median:?}, p99 {busy_p99:?} ({BLOCKERS} sleeping sync activities)"
    );
    println!(
        "  ratio saturated/idle: median {:.2}, p99 {:.2}",
        busy_median.as_secs_f64() / idle_median.as_secs_f64(),
        busy_p99.as_secs_f64() / idle_p99.as_secs_f64()
    );
}

/// How long after an async activity's poll begins to block the stall detector names it
/// (issue 20): the README states the bound.
fn stall_report_delay() {
    const SAMPLES: u32 = 20;
    for threshold in [Duration::from_millis(100), Duration::from_millis(20)] {
        let mut delays = legwork::__private::stall_report_delay(threshold, SAMPLES);
        delays.sort();
        let Some((first, last)) = delays.first().zip(delays.last()) else {
            println!("stall report delay: no report seen");
            continue;
        };
        let over = |delay: &Duration| delay.saturating_sub(threshold);
        println!(
            "stall report delay, threshold {threshold:?}, {} blocking polls: past the \
             threshold by min {:?}, median {:?}, max {:?}",
            delays.len(),
            over(first),
            over(&delays[delays.len() / 2]),
            over(last),
        );
    }
}

async fn tiny_latencies(server: &DevServer, label: &str, saturate: bool) -> Vec<Duration> {
    let queue = format!("event-loop-{label}");
    let mut options = WorkerOptions::new(&queue);
    options.connection.address = server.address();
    options.blocking_threads = BLOCKING_THREADS;
    options.shutdown_grace = Duration::ZERO;
    let worker = tokio::task::block_in_place(|| Worker::new(options).start().unwrap());
    let client = Client::connect(&server.address(), "default").await.unwrap();
    let start = |activity: &str| {
        StartActivity::new(activity, &queue)
            .max_attempts(1)
            .start_to_close_timeout(Duration::from_secs(60))
    };
    let mut blockers = Vec::new();
    if saturate {
        for _ in 0..BLOCKERS {
            let blocker = client
                .start_activity(start("sleep_sync").arg(&20_000))
                .await
                .unwrap();
            blockers.push(blocker);
        }
        wait_until_running(&blockers, BLOCKING_THREADS).await;
    }
    let mut tiny = Vec::new();
    for _ in 0..TINY {
        tiny.push(client.start_activity(start("tiny_async")).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut latencies = Vec::new();
    for handle in &tiny {
        handle.outcome().await.unwrap();
        let described = handle.describe().await.unwrap();
        let (scheduled, closed) = (
            described.schedule_time.unwrap(),
            described.close_time.unwrap(),
        );
        latencies.push(closed.duration_since(scheduled).unwrap());
    }
    worker.shutdown();
    tokio::task::block_in_place(|| worker.join());
    latencies
}

async fn wait_until_running(handles: &[ActivityHandle], count: usize) {
    loop {
        let mut running = 0;
        for handle in handles {
            if handle.describe().await.unwrap().run_state == RunState::Started {
                running += 1;
            }
        }
        if running >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn summary(latencies: &[Duration]) -> (Duration, Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}
