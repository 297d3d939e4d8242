//! A worker among many, against a real dev server: poller autoscaling seen from both
//! sides, the local rate limit, Worker Deployment Versioning, and the probes.
//!
//! One server for the binary, with poller autoscaling auto-enrolment on
//! (`frontend.pollerAutoscalingAutoEnroll`, off by default in Server 1.32), one task-queue
//! partition, its own metrics, and a namespace for the autoscaling test alone, so that the
//! server's `pending_polls` gauge counts that test's polls only. Its long polls expire after
//! 3 s (`matching.longPollExpirationInterval`, a minute by default), so an idle worker sees
//! empty answers, and scales down on them, within a test's patience.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use legwork::client::{Client, StartActivity};
use legwork::testing::DevServer;
use legwork::worker::{Deployment, Pollers, RunningWorker, Worker, WorkerOptions};
use legwork::{activity, ActivityContext};

use common::http::get;
use common::task_queue;

// No dash: the server's metrics spell namespaces with `_` for `-`.
const POLLERS_NAMESPACE: &str = "fleetpollers";

/// The two tests that load the server run one at a time, so neither slows the other.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn server() -> &'static DevServer {
    static SERVER: OnceLock<DevServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        std::thread::spawn(|| {
            DevServer::builder()
                .kill_with_parent(true)
                .metrics(true)
                .extra_args([
                    "--namespace",
                    POLLERS_NAMESPACE,
                    "--dynamic-config-value",
                    "frontend.pollerAutoscalingAutoEnroll=true",
                    "--dynamic-config-value",
                    "matching.numTaskqueueReadPartitions=1",
                    "--dynamic-config-value",
                    "matching.numTaskqueueWritePartitions=1",
                    "--dynamic-config-value",
                    "matching.longPollExpirationInterval=\"3s\"",
                ])
                .start()
        })
        .join()
        .unwrap()
        .expect("a dev server starts")
    })
}

fn options(queue: &str, namespace: &str) -> WorkerOptions {
    let mut options = WorkerOptions::new(queue);
    options.connection.address = server().address();
    options.connection.namespace = namespace.to_owned();
    options.shutdown_grace = Duration::from_secs(2);
    options
}

async fn client(namespace: &str) -> Client {
    Client::connect(&server().address(), namespace)
        .await
        .expect("the client connects")
}

/// Starts `count` activities of `activity` on `queue`, 25 at a time.
async fn start_many(client: &Client, activity: &str, queue: &str, count: usize) {
    for chunk in 0..count.div_ceil(25) {
        let mut starts = tokio::task::JoinSet::new();
        for i in chunk * 25..((chunk + 1) * 25).min(count) {
            let client = client.clone();
            let start = StartActivity::new(activity, queue)
                .id(format!("{queue}-{i}"))
                .start_to_close_timeout(Duration::from_secs(60));
            starts.spawn(async move { client.start_activity(start).await.map(drop) });
        }
        while let Some(started) = starts.join_next().await {
            started.unwrap().expect("the activity starts");
        }
    }
}

use common::prom::sum;

fn scrape_url(url: &str) -> String {
    common::http::get_url(url).body
}

#[activity(async)]
async fn fleet_nap() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Polls open, as the worker counts them (`temporal_num_pollers`) and as the server's
/// matching service does (`pending_polls`: polls waiting for a task on `queue`).
struct PollCounts {
    worker: f64,
    server: f64,
}

fn poll_counts(worker: &RunningWorker, queue: &str) -> PollCounts {
    let ours = scrape_url(&format!(
        "http://{}/metrics",
        worker.metrics_address().unwrap()
    ));
    let theirs = scrape_url(&server().metrics_url().expect("server metrics are on"));
    PollCounts {
        worker: sum(&ours, "temporal_num_pollers", &[]),
        server: sum(
            &theirs,
            "pending_polls",
            &[
                &format!("namespace=\"{POLLERS_NAMESPACE}\""),
                // The server's own per-namespace worker polls there too.
                &format!("taskqueue=\"{}\"", queue.replace('-', "_")),
                "task_type=\"Activity\"",
            ],
        ),
    }
}

#[tokio::test]
async fn pollers_scale_up_under_a_backlog_and_down_when_idle() {
    let _heavy = HEAVY.lock().await;
    let queue = task_queue("fleet-scale");
    let client = client(POLLERS_NAMESPACE).await;
    start_many(&client, "fleet_nap", &queue, 300).await;
    let mut options = options(&queue, POLLERS_NAMESPACE);
    options.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    // Pollers::Auto: the namespace enrols workers, so this one autoscales from 5.
    assert_eq!(options.pollers, Pollers::Auto);
    let worker = Worker::new(options).start().expect("the worker starts");
    let began = Instant::now();
    // Up: the backlog drains with more polls than the initial 5; it is gone once polls
    // wait on the server.
    let (mut peak_worker, mut peak_server) = (0.0f64, 0.0f64);
    while peak_server <= 5.0 && began.elapsed() < Duration::from_secs(30) {
        let counts = poll_counts(&worker, &queue);
        peak_worker = peak_worker.max(counts.worker);
        peak_server = peak_server.max(counts.server);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = began.elapsed();
    // Down: idle, every poll comes back empty when the server's long poll expires (3 s
    // here), and each empty answer lowers the target by one (sdk-core's rule), down to the
    // minimum of 1. A few expiries are enough; 30 s leaves room for a slow machine.
    let mut settled = None;
    let mut last = PollCounts {
        worker: f64::NAN,
        server: f64::NAN,
    };
    while began.elapsed() < drained + Duration::from_secs(30) {
        last = poll_counts(&worker, &queue);
        if last.worker <= 2.0 && last.server <= 2.0 {
            settled = Some(began.elapsed() - drained);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "pollers: peak {peak_worker} open (worker), {peak_server} waiting (server) after \
         {drained:?}; down to at most 2 after {settled:?} more idle"
    );
    assert!(
        peak_worker > 5.0,
        "the worker never opened more than 5 polls"
    );
    assert!(
        peak_server > 5.0,
        "the server never saw more than 5 polls waiting"
    );
    assert!(
        settled.is_some(),
        "polls did not come back down when idle: {} open (worker), {} waiting (server)",
        last.worker,
        last.server
    );
    drop(worker);
}

/// When each attempt of `fleet_stamp` started.
static STAMPS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[activity]
fn fleet_stamp() {
    STAMPS.lock().unwrap().push(Instant::now());
}

/// Queues `count` `fleet_stamp` on a fresh queue, runs a worker that `limit` configures
/// until the starts span 21 s, and returns the starts per second over the 20 s after the
/// first second (when the backlog is surely queued).
async fn start_rate(name: &str, count: usize, limit: impl FnOnce(&mut WorkerOptions)) -> f64 {
    let queue = task_queue(name);
    STAMPS.lock().unwrap().clear();
    start_many(&client("default").await, "fleet_stamp", &queue, count).await;
    let mut options = options(&queue, "default");
    // Enough polls that the limit, not a poll's round trip, sets the pace.
    options.pollers = Pollers::Fixed(10);
    limit(&mut options);
    let worker = Worker::new(options).start().expect("the worker starts");
    let deadline = Instant::now() + Duration::from_secs(40);
    let stamps = loop {
        let stamps = STAMPS.lock().unwrap().clone();
        let spread = stamps.last().zip(stamps.first()).map(|(l, f)| *l - *f);
        if spread.is_some_and(|spread| spread >= Duration::from_secs(21)) {
            break stamps;
        }
        assert!(Instant::now() < deadline, "only {} started", stamps.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(worker);
    let from = stamps[0] + Duration::from_secs(1);
    let to = from + Duration::from_secs(20);
    let count = stamps.iter().filter(|at| **at >= from && **at < to).count();
    count as f64 / 20.0
}

#[tokio::test]
async fn a_local_rate_limit_of_20_per_second_holds_over_20_seconds() {
    let _heavy = HEAVY.lock().await;
    // More than 21 s of work at 20/s.
    let rate = start_rate("fleet-rate", 460, |options| {
        options.max_activities_per_second = Some(20.0);
    })
    .await;
    eprintln!("worker rate limit 20/s: {rate}/s over 20 s");
    assert!((18.0..=22.0).contains(&rate), "{rate}/s is not 20/s ± 10 %");
}

/// The task-queue-wide limit is the server's to enforce: the worker only sends it on its
/// polls (`task_queue_metadata.max_tasks_per_second`), and sets no local pace.
#[tokio::test]
async fn the_server_holds_the_task_queue_to_its_rate_limit() {
    let _heavy = HEAVY.lock().await;
    let rate = start_rate("fleet-queue-rate", 240, |options| {
        options.max_task_queue_activities_per_second = Some(10.0);
    })
    .await;
    eprintln!("task-queue rate limit 10/s: {rate}/s over 20 s");
    assert!((9.0..=11.0).contains(&rate), "{rate}/s is not 10/s ± 10 %");
}

#[activity]
fn fleet_versioned() {}

#[tokio::test]
async fn a_versioned_worker_appears_in_its_deployment_version() {
    let queue = task_queue("fleet-versioned");
    let name = format!("fleet-{}", std::process::id());
    let mut options = options(&queue, "default");
    options.deployment = Deployment::versioned(&name, "build-7");
    let worker = Worker::new(options).start().expect("the worker starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let described = loop {
        let output = Command::new(server().cli_path())
            .args(["worker", "deployment", "describe-version", "--address"])
            .arg(server().address())
            .args(["--deployment-name", &name, "--build-id", "build-7"])
            .args(["--output", "json"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() && text.contains(&queue) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the version never listed {queue}: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // The server limits calls per deployment: no faster than this.
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(described.contains("build-7"), "{described}");
    assert!(
        described.to_ascii_lowercase().contains("activity"),
        "{described}"
    );
    drop(worker);
}

#[test]
fn a_deployment_without_a_build_id_stops_the_worker_at_start() {
    let mut options = WorkerOptions::new("never-polled");
    options.connection.address = "127.0.0.1:1".to_owned();
    options.deployment.name = Some("images".to_owned());
    let error = Worker::new(options).start().err().expect("refused");
    let message = error.to_string();
    assert_eq!(
        message,
        "invalid deployment.build_id: is missing: a deployment name needs a build id too \
         (the build names the version)"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[activity(async)]
async fn fleet_slow(ctx: &ActivityContext) {
    // Runs through the grace period unless shutdown cancels it.
    let _ = tokio::time::timeout(Duration::from_secs(3), ctx.cancelled()).await;
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn probes_say_ready_after_the_first_poll_and_not_once_shutdown_begins() {
    let queue = task_queue("fleet-health");
    let mut options = options(&queue, "default");
    let address = free_port();
    options.health_bind = Some(address);
    options.shutdown_grace = Duration::from_secs(5);
    let worker = Worker::new(options).start().expect("the worker starts");
    // No task is queued, so no poll has been answered yet.
    assert_eq!(get(address, "/readyz").status, 503);
    assert_eq!(get(address, "/healthz").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(address, "/readyz").status != 200 {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready_after = deadline - Instant::now();
    eprintln!(
        "ready {:?} after start",
        Duration::from_secs(10) - ready_after
    );
    let client = client("default").await;
    let handle = client
        .start_activity(
            StartActivity::new("fleet_slow", &queue)
                .start_to_close_timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    common::wait_until_started(&handle).await;
    worker.shutdown();
    // The in-flight activity keeps the worker alive in its grace period.
    assert_eq!(get(address, "/readyz").status, 503);
    assert!(get(address, "/readyz").body.contains("shutting down"));
    assert_eq!(get(address, "/healthz").status, 200);
    worker.join();
}
