//! `#[activity(isolated)]` against a real dev server: crashes, memory overruns and
//! runaways in a child process cost one attempt, never the worker (the `isolated`
//! example, run as a user runs it).

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::process::WorkerProcess;
use common::procfs::{children_of, is_running};
use legwork::client::{ActivityHandle, ActivityOutcome, Client, StartActivity};
use legwork::RetryPolicy;

/// The kill grace the runaway tests give a child.
const KILL_GRACE: Duration = Duration::from_secs(2);

fn worker(queue: &str, extra: &[&str]) -> WorkerProcess {
    let address = common::server().address();
    let mut args = vec!["--address", &address, "--task-queue", queue];
    args.extend_from_slice(extra);
    let worker = WorkerProcess::spawn_example("isolated", &args, &[]);
    worker.wait_for_log("legwork worker serving");
    worker
}

async fn start(client: &Client, start: StartActivity) -> ActivityHandle {
    client
        .start_activity(start)
        .await
        .expect("the activity starts")
}

/// Two attempts, the second a second after the first fails.
fn retried_once() -> RetryPolicy {
    {
        let mut policy = RetryPolicy::default();
        policy.initial_interval = Some(Duration::from_secs(1));
        policy.backoff_coefficient = Some(1.0);
        policy.maximum_attempts = Some(2);
        policy
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A loopback port nothing listens on now, for `--metrics-bind`.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 20 s) until `ready` holds, checking every 20 ms.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With 20 plain sync activities in flight, an isolated attempt misbehaves as `how` says:
/// its failure names `cause`, the worker's pid is unchanged, the retry succeeds in a
/// child, and all 20 complete.
async fn costs_one_attempt(how: &str, failure_type: &str, cause: &str) {
    let queue = common::task_queue(how);
    let worker = worker(&queue, &[]);
    let client = common::client().await;
    let mut steady = Vec::new();
    for i in 0..20 {
        let activity = StartActivity::new("steady", &queue)
            .id(format!("{queue}-steady-{i}"))
            .arg(&3000u64)
            .max_attempts(1)
            .start_to_close_timeout(Duration::from_secs(60));
        steady.push(start(&client, activity).await);
    }
    let misbehaving = StartActivity::new("misbehave", &queue)
        .id(format!("{queue}-misbehave"))
        .arg(how)
        .retry_policy(retried_once())
        .start_to_close_timeout(Duration::from_secs(60));
    let misbehaving = start(&client, misbehaving).await;
    let failure = first_failure(&misbehaving).await;
    assert_eq!(
        failure.failure_type.as_deref(),
        Some(failure_type),
        "{failure:?}"
    );
    assert!(
        failure.message.contains(cause),
        "{how}: {:?} does not name {cause:?}",
        failure.message
    );
    let child: u32 = misbehaving
        .result()
        .await
        .expect("the second attempt succeeds");
    assert_ne!(child, worker.pid(), "the retry ran in a child");
    for handle in &steady {
        let pid: u32 = handle.result().await.expect("a steady activity completes");
        assert_eq!(pid, worker.pid(), "the worker's pid is unchanged");
    }
}

/// The failure of attempt 1, read while the activity waits for its retry.
async fn first_failure(handle: &ActivityHandle) -> legwork::client::ActivityFailure {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let described = handle.describe().await.unwrap();
        if let Some(failure) = described.last_failure {
            return failure;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "attempt 1 never failed: {described:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stack_overflow_costs_one_attempt() {
    costs_one_attempt("stack_overflow", "StackOverflow", "overflowed its stack").await;
}

#[tokio::test]
async fn an_abort_costs_one_attempt() {
    costs_one_attempt("abort", "ProcessCrashed", "SIGABRT").await;
}

#[tokio::test]
async fn children_are_counted_and_crashes_are_counted_by_cause() {
    let queue = common::task_queue("metrics");
    let port = free_port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let _worker = worker(&queue, &["--metrics-bind", &bind]);
    let client = common::client().await;
    let crash = StartActivity::new("misbehave", &queue)
        .id(format!("{queue}-crash"))
        .arg("abort")
        .retry_policy(retried_once())
        .start_to_close_timeout(Duration::from_secs(30));
    let _: u32 = start(&client, crash).await.result().await.unwrap();
    let metrics = common::http::get(bind.parse().unwrap(), "/metrics").body;
    let value = |name: &str, labels: &[&str]| {
        common::prom::find(&metrics, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{metrics}"))
    };
    let signal = ["cause=\"signal\""];
    assert_eq!(value("legwork_isolated_crashes", &signal), 1.0);
    assert!(
        value("legwork_isolated_children", &[]) >= 1.0,
        "children are counted"
    );
    assert_eq!(value("legwork_isolated_children_busy", &[]), 0.0);
}

#[tokio::test]
async fn children_die_with_a_killed_worker() {
    let queue = common::task_queue("sigkill");
    let mut worker = worker(&queue, &[]);
    let client = common::client().await;
    let runaway = StartActivity::new("runaway", &queue)
        .id(format!("{queue}-runaway"))
        .arg(&false)
        .max_attempts(1)
        .start_to_close_timeout(Duration::from_secs(120));
    let runaway = start(&client, runaway).await;
    common::wait_until_started(&runaway).await;
    // One busy child and one warm one.
    wait_for("two children", || children_of(worker.pid()).len() >= 2);
    let children = children_of(worker.pid());
    worker.kill();
    wait_for("every child gone", || {
        children.iter().all(|pid| !is_running(*pid))
    });
}

#[tokio::test]
async fn an_idle_child_that_dies_is_replaced() {
    let queue = common::task_queue("idle-death");
    let worker = worker(&queue, &[]);
    wait_for("a warm child", || children_of(worker.pid()).len() == 1);
    let first = children_of(worker.pid())[0];
    std::process::Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .unwrap();
    wait_for("another warm child", || {
        children_of(worker.pid())
            .iter()
            .any(|pid| *pid != first && is_running(*pid))
    });
    let client = common::client().await;
    let whoami = StartActivity::new("whoami", &queue)
        .id(format!("{queue}-whoami"))
        .max_attempts(1)
        .start_to_close_timeout(Duration::from_secs(30));
    let pid: u32 = start(&client, whoami).await.result().await.unwrap();
    assert_ne!(pid, first);
}

#[tokio::test]
async fn a_segfault_costs_one_attempt() {
    costs_one_attempt("segfault", "ProcessCrashed", "SIGSEGV").await;
}

#[tokio::test]
async fn an_exit_code_costs_one_attempt() {
    costs_one_attempt("exit3", "ProcessExited", "exited with code 3").await;
}

#[tokio::test]
async fn a_memory_overrun_costs_one_attempt() {
    costs_one_attempt("allocate", "MemoryLimitExceeded", "memory limit of 256 MiB").await;
}

/// A one-slot worker with a 2 s kill grace, a runaway in its slot and `started_at`
/// queued behind it: `stop` stops the runaway and says when (ms since the epoch). Asserts
/// that the queued activity started within the kill grace + 2 s of that, and returns the
/// runaway's outcome.
async fn runaway_then_next(
    queue: &str,
    runaway: StartActivity,
    stop: impl AsyncFnOnce(&ActivityHandle) -> u64,
) -> ActivityOutcome {
    let client = common::client().await;
    let runaway = start(&client, runaway).await;
    common::wait_until_started(&runaway).await;
    let next = StartActivity::new("started_at", queue)
        .id(format!("{queue}-next"))
        .max_attempts(1)
        .start_to_close_timeout(Duration::from_secs(60));
    let next = start(&client, next).await;
    let stopped_at = stop(&runaway).await;
    let started: u64 = next.result().await.expect("the queued activity runs");
    let waited = started.saturating_sub(stopped_at);
    eprintln!("{queue}: the slot served again {waited} ms after the runaway was stopped");
    assert!(
        waited <= (KILL_GRACE + Duration::from_secs(2)).as_millis() as u64,
        "the slot served again {waited} ms after the runaway was stopped"
    );
    runaway.outcome().await.unwrap()
}

fn one_slot(queue: &str) -> WorkerProcess {
    worker(
        queue,
        &[
            "--max-concurrent-activities",
            "1",
            "--isolated-kill-grace",
            "2s",
        ],
    )
}

#[tokio::test]
async fn a_runaway_is_killed_after_its_start_to_close_timeout() {
    let queue = common::task_queue("runaway-timeout");
    let _worker = one_slot(&queue);
    let runaway = StartActivity::new("runaway", &queue)
        .id(format!("{queue}-runaway"))
        .arg(&false)
        .max_attempts(1)
        .start_to_close_timeout(Duration::from_secs(3));
    // Stopped by its start-to-close timeout, 3 s after it started.
    let outcome = runaway_then_next(&queue, runaway, async |runaway| {
        let started = runaway.describe().await.unwrap().last_started_time.unwrap();
        let started = started.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        started + 3000
    })
    .await;
    assert!(
        matches!(&outcome, ActivityOutcome::Failed(f) if f.is_timeout()),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_cancelled_runaway_is_killed_after_the_kill_grace() {
    let queue = common::task_queue("runaway-cancel");
    let _worker = one_slot(&queue);
    let runaway = StartActivity::new("runaway", &queue)
        .id(format!("{queue}-runaway"))
        .arg(&true)
        .max_attempts(1)
        .heartbeat_timeout(Duration::from_secs(1))
        .start_to_close_timeout(Duration::from_secs(120));
    let outcome = runaway_then_next(&queue, runaway, async |runaway| {
        let cancelled_at = now_ms();
        runaway.cancel("test").await.unwrap();
        cancelled_at
    })
    .await;
    assert!(
        matches!(&outcome, ActivityOutcome::Failed(f) if f.is_canceled()),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn shutdown_kills_a_runaway_and_leaves_no_child() {
    let queue = common::task_queue("runaway-shutdown");
    let mut worker = worker(
        &queue,
        &["--isolated-kill-grace", "2s", "--shutdown-grace", "2s"],
    );
    let client = common::client().await;
    let runaway = StartActivity::new("runaway", &queue)
        .id(format!("{queue}-runaway"))
        .arg(&false)
        .max_attempts(1)
        .start_to_close_timeout(Duration::from_secs(120));
    let runaway = start(&client, runaway).await;
    common::wait_until_started(&runaway).await;
    let children = children_of(worker.pid());
    assert!(!children.is_empty(), "the worker has children");
    let began = std::time::Instant::now();
    let status = worker.terminate();
    let took = began.elapsed();
    eprintln!("shutdown with a runaway took {took:?}");
    assert!(status.success(), "{status:?}");
    assert!(
        took <= Duration::from_secs(2) + KILL_GRACE + Duration::from_secs(2),
        "shutdown took {took:?}"
    );
    let left: Vec<_> = children
        .into_iter()
        .filter(|pid| is_running(*pid))
        .collect();
    assert!(left.is_empty(), "children left running: {left:?}");
}

#[tokio::test]
async fn a_child_serves_at_most_max_tasks_attempts() {
    let queue = common::task_queue("max-tasks");
    let worker = worker(
        &queue,
        &[
            "--max-concurrent-activities",
            "1",
            "--isolated-max-tasks",
            "3",
        ],
    );
    let client = common::client().await;
    let mut served: HashMap<u32, usize> = HashMap::new();
    for i in 0..10 {
        let whoami = StartActivity::new("whoami", &queue)
            .id(format!("{queue}-{i}"))
            .max_attempts(1)
            .start_to_close_timeout(Duration::from_secs(30));
        let pid: u32 = start(&client, whoami).await.result().await.unwrap();
        assert_ne!(pid, worker.pid());
        *served.entry(pid).or_default() += 1;
    }
    assert!(served.values().all(|&n| n <= 3), "{served:?}");
    assert!(served.len() >= 4, "10 attempts, 3 each: {served:?}");
}

#[tokio::test]
async fn heartbeats_cross_to_the_next_attempt() {
    let queue = common::task_queue("resume");
    let _worker = worker(&queue, &[]);
    let client = common::client().await;
    let resume = StartActivity::new("resume", &queue)
        .id(format!("{queue}-resume"))
        .arg(&5u32)
        .retry_policy(retried_once())
        .start_to_close_timeout(Duration::from_secs(30));
    let from: u32 = start(&client, resume).await.result().await.unwrap();
    assert_eq!(from, 5, "attempt 2 resumes from attempt 1's last heartbeat");
}

#[tokio::test]
async fn a_polite_activity_ends_canceled_before_the_kill_grace() {
    let queue = common::task_queue("polite");
    let worker = worker(&queue, &["--isolated-kill-grace", "30s"]);
    let client = common::client().await;
    let polite = StartActivity::new("polite", &queue)
        .id(format!("{queue}-polite"))
        .max_attempts(1)
        .heartbeat_timeout(Duration::from_secs(1))
        .start_to_close_timeout(Duration::from_secs(120));
    let polite = start(&client, polite).await;
    common::wait_until_started(&polite).await;
    let began = std::time::Instant::now();
    polite.cancel("test").await.unwrap();
    let outcome = polite.outcome().await.unwrap();
    eprintln!(
        "a polite activity ended {:?} after the cancel",
        began.elapsed()
    );
    assert!(
        matches!(&outcome, ActivityOutcome::Failed(f) if f.is_canceled()),
        "{outcome:?}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "{:?}",
        began.elapsed()
    );
    assert!(
        !worker
            .drain_log()
            .iter()
            .any(|line| line.contains("is killed")),
        "the child stopped by itself"
    );
}

#[tokio::test]
async fn the_childs_log_lines_reach_the_workers_log_with_the_activity() {
    let queue = common::task_queue("logs");
    let worker = worker(&queue, &[]);
    let client = common::client().await;
    let benign = StartActivity::new("misbehave", &queue)
        .id(format!("{queue}-logs"))
        .arg("none")
        .max_attempts(1)
        .start_to_close_timeout(Duration::from_secs(30));
    let _ = start(&client, benign).await.outcome().await.unwrap();
    let line = worker.wait_for_log("misbehaving");
    assert!(line.contains("how=none"), "{line}");
    assert!(
        line.contains("misbehave"),
        "the activity's span fields: {line}"
    );
}

#[test]
fn list_marks_isolated_activities() {
    let output = std::process::Command::new(common::process::example("isolated"))
        .arg("--list")
        .output()
        .unwrap();
    let listed = String::from_utf8(output.stdout).unwrap();
    let kind = |name: &str| {
        listed
            .lines()
            .find(|line| line.starts_with(&format!("{name}\t")))
            .and_then(|line| line.split('\t').nth(1))
            .map(str::to_owned)
    };
    assert_eq!(kind("misbehave").as_deref(), Some("isolated"), "{listed}");
    assert_eq!(kind("steady").as_deref(), Some("sync"), "{listed}");
}

#[tokio::test]
async fn killing_a_child_kills_the_processes_it_started() {
    let queue = common::task_queue("grandchild");
    let _worker = worker(&queue, &["--isolated-kill-grace", "1s"]);
    let client = common::client().await;
    let hangs = StartActivity::new("spawns_and_hangs", &queue)
        .id(format!("{queue}-hangs"))
        .max_attempts(1)
        .heartbeat_timeout(Duration::from_secs(3))
        .start_to_close_timeout(Duration::from_secs(120));
    let hangs = start(&client, hangs).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let sleeper: u32 = loop {
        let details = hangs.describe().await.unwrap().last_heartbeat_details;
        if let Some(details) = details.first() {
            break serde_json::from_slice(&details.data).unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(is_running(sleeper));
    hangs.cancel("test").await.unwrap();
    let outcome = hangs.outcome().await.unwrap();
    assert!(
        matches!(&outcome, ActivityOutcome::Failed(f) if f.is_canceled()),
        "{outcome:?}"
    );
    wait_for("the child's own subprocess gone", || !is_running(sleeper));
}
