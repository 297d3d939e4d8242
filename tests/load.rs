//! Load, handover, graceful shutdown under load, and the long run (issue 10).
//!
//! Worker processes (`examples/soak.rs`, run as a user runs them) serve a dev server of
//! their own, started with `--metrics-port`: the server's `service_requests` counter says
//! how many `RespondActivityTask*` calls the workers made, without trusting the workers.
//! The activities return the pid of the process that ran them, so the client learns from
//! the server's record which worker completed each one.
//!
//! The tests take a lock: they share the machine's two cores with the server, and each
//! measures what its own workers sent.
//!
//! `soak` is the long run, not run in CI: `scripts/soak` builds the worker in release and
//! runs it (`--ignored`).

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use legwork::client::{ActivityDescription, ActivityHandle, Client, ClientError, StartActivity};
use legwork::testing::DevServer;
use legwork::RetryPolicy;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use common::process::example;
use common::procfs::{self, Usage};

/// One test at a time: each owns the machine and its server's counters.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MIB: u64 = 1024 * 1024;
const COMPLETED: &str = "RespondActivityTaskCompleted";
const FAILED: &str = "RespondActivityTaskFailed";
const CANCELED: &str = "RespondActivityTaskCanceled";

// ---------------------------------------------------------------------------------------
// Load and handover

const LOAD_ACTIVITIES: usize = 10_000;
/// Completions after which the first worker is stopped with SIGTERM and started again.
const HANDOVER_AT: usize = 3_000;
/// Activities started and not yet seen to close, at most.
const LOAD_IN_FLIGHT: usize = 300;
/// A worker's RSS after its last 1,000 activities against its RSS after its first 1,000.
const RSS_TOLERANCE: u64 = 2 * MIB;
const RSS_EVERY: usize = 1_000;

/// 10,000 activities (sync and async, no-ops and 1 ms of work) on one task queue served by
/// three worker processes, the first stopped with SIGTERM after 3,000 completions and
/// started again: every activity completes, the server counts exactly one
/// `RespondActivityTaskCompleted` per activity, and no worker's RSS grows by more than
/// 2 MiB between its first 1,000 activities and its last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_with_handover_completes_each_activity_once() {
    let _serial = SERIAL.lock().await;
    let server = metered_server().await;
    let address = server.address();
    let metrics = server.metrics_url().expect("started with metrics");
    let queue = "load";
    let args = [
        "--max-concurrent-activities",
        "200",
        "--blocking-threads",
        "64",
        "--shutdown-grace",
        "10s",
    ];
    let mut workers: Vec<WorkerProcess> = (1..=3)
        .map(|n| WorkerProcess::spawn(&format!("load-{n}"), &address, queue, &args))
        .collect();
    for worker in &workers {
        worker.wait_until_serving();
    }
    let first_pid = workers[0].pid;
    let client = connect(&address).await;
    let before = frontend_counts(&metrics).await;
    let server_pid = server_pid(&server);
    let cpu_before = (cpu_of(server_pid), cpu_of(Some(std::process::id())));

    let began = Instant::now();
    let (done, mut results) = mpsc::unbounded_channel();
    let producer = tokio::spawn(start_load(client.clone(), queue.to_owned(), done));
    let mut per_pid: BTreeMap<u32, usize> = BTreeMap::new();
    let mut rss_samples: BTreeMap<u32, Vec<(usize, u64)>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut handover = None;
    while let Some((index, result)) = results.recv().await {
        total += 1;
        match result {
            Ok(pid) => {
                let count = per_pid.entry(pid).or_default();
                *count += 1;
                if count.is_multiple_of(RSS_EVERY) {
                    if let Some(rss) = procfs::rss(pid) {
                        rss_samples.entry(pid).or_default().push((*count, rss));
                    }
                }
            }
            Err(error) => failures.push(format!("load-{index}: {error}")),
        }
        if total == HANDOVER_AT {
            let stopped = workers.remove(0);
            let address = address.clone();
            handover = Some(tokio::task::spawn_blocking(move || {
                restart(stopped, &address, queue, &args)
            }));
        }
        if total.is_multiple_of(1_000) {
            eprintln!(
                "[load] {total} closed after {:.1} s ({:.0}/s); per worker pid {per_pid:?}",
                began.elapsed().as_secs_f64(),
                total as f64 / began.elapsed().as_secs_f64()
            );
        }
    }
    let duration = began.elapsed();
    producer.await.unwrap();
    let (exit, exit_time, restarted) = handover.expect("the handover happened").await.unwrap();
    workers.insert(0, restarted);
    // Every worker is still serving: its RSS now is its RSS after its last activities.
    let final_rss: BTreeMap<u32, u64> = workers
        .iter()
        .map(|worker| (worker.pid, procfs::rss(worker.pid).expect("worker alive")))
        .collect();
    let cpu_after = (cpu_of(server_pid), cpu_of(Some(std::process::id())));
    let worker_cpu: BTreeMap<u32, Duration> = workers
        .iter()
        .filter_map(|worker| Some((worker.pid, procfs::cpu_time(worker.pid)?)))
        .collect();
    // Every worker stops before the server's counts are read, so none can add to them.
    let mut stops = Vec::new();
    for worker in &mut workers {
        let (status, took) = worker.terminate(Duration::from_secs(15));
        eprintln!(
            "[load] {} stopped in {took:?}: {}",
            worker.name,
            worker.report()
        );
        stops.push((worker.name.clone(), status));
    }
    let after = settled_counts(&metrics, &address, &before).await;

    eprintln!(
        "[load] {LOAD_ACTIVITIES} activities in {:.1} s ({:.0}/s); worker 1 (pid \
         {first_pid}) stopped with SIGTERM after {HANDOVER_AT} closed: {exit} in {exit_time:?}",
        duration.as_secs_f64(),
        LOAD_ACTIVITIES as f64 / duration.as_secs_f64()
    );
    let roles = [
        (first_pid, "worker 1 (stopped)"),
        (workers[0].pid, "worker 1 (restarted)"),
        (workers[1].pid, "worker 2"),
        (workers[2].pid, "worker 3"),
    ];
    for (pid, role) in roles {
        let samples: Vec<String> = rss_samples
            .get(&pid)
            .into_iter()
            .flatten()
            .map(|(count, rss)| format!("{count}: {:.2}", mib(*rss)))
            .collect();
        let served = per_pid.get(&pid).copied().unwrap_or(0);
        eprintln!(
            "[load] {role}, pid {pid}: {served} activities; RSS MiB after N: {}; at the end: \
             {}; CPU {}",
            samples.join(", "),
            final_rss
                .get(&pid)
                .map_or("exited".to_owned(), |rss| format!("{:.2}", mib(*rss))),
            worker_cpu.get(&pid).map_or("-".to_owned(), |cpu| format!(
                "{:.2} s, {:.0} us per activity",
                cpu.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / served.max(1) as f64
            ))
        );
    }
    eprintln!(
        "[load] CPU per activity: server {:.1} ms, this test's client {:.2} ms",
        per_activity(cpu_before.0, cpu_after.0, LOAD_ACTIVITIES) * 1e3,
        per_activity(cpu_before.1, cpu_after.1, LOAD_ACTIVITIES) * 1e3,
    );
    eprintln!(
        "[load] server-counted (frontend): {} RespondActivityTaskCompleted for \
         {LOAD_ACTIVITIES} activities; {} RespondActivityTaskFailed; {} RespondActivityTaskCanceled",
        after.completed, after.failed, after.canceled
    );

    assert!(
        failures.is_empty(),
        "{} activities did not complete, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(total, LOAD_ACTIVITIES);
    assert!(exit.success(), "worker 1 exited with {exit} after SIGTERM");
    assert_eq!(
        after.completed, LOAD_ACTIVITIES as u64,
        "the server counted {} completions for {LOAD_ACTIVITIES} activities",
        after.completed
    );
    assert!(
        per_pid
            .keys()
            .all(|pid| roles.iter().any(|(p, _)| p == pid)),
        "an activity was completed by an unknown process: {per_pid:?}"
    );
    for (index, worker) in workers.iter().enumerate() {
        let served = per_pid.get(&worker.pid).copied().unwrap_or(0);
        // The restarted worker is a new process: checked when it served enough to say.
        if index == 0 && served < 2 * RSS_EVERY {
            eprintln!("[load] the restarted worker served {served}: too few for the RSS check");
            continue;
        }
        let Some(&(_, first)) = rss_samples.get(&worker.pid).and_then(|s| s.first()) else {
            panic!("{} served {served}, fewer than {RSS_EVERY}", worker.name);
        };
        let last = final_rss[&worker.pid];
        assert!(
            last.abs_diff(first) <= RSS_TOLERANCE,
            "{}: RSS {:.2} MiB after its first {RSS_EVERY} activities, {:.2} MiB after its \
             last ({served} served)",
            worker.name,
            mib(first),
            mib(last)
        );
    }
    for (name, status) in stops {
        assert!(status.success(), "{name} exited with {status}");
    }
}

/// Starts the load, at most `LOAD_IN_FLIGHT` open at a time, and sends each activity's
/// index and the pid of the worker that completed it (or why it did not complete).
async fn start_load(
    client: Client,
    queue: String,
    done: mpsc::UnboundedSender<(usize, Result<u32, String>)>,
) {
    let slots = Arc::new(Semaphore::new(LOAD_IN_FLIGHT));
    for index in 0..LOAD_ACTIVITIES {
        let slot = slots.clone().acquire_owned().await.unwrap();
        let (client, queue, done) = (client.clone(), queue.clone(), done.clone());
        tokio::spawn(async move {
            // Sync and async, no-ops and 1 ms of work.
            let (activity, work_us) = match index % 4 {
                0 => ("pid_sync", 0u64),
                1 => ("pid_async", 0),
                2 => ("pid_sync", 1_000),
                _ => ("pid_async", 1_000),
            };
            let start = StartActivity::new(activity, &queue)
                .arg(&work_us)
                .start_to_close_timeout(Duration::from_secs(60))
                .retry_policy(retries());
            let result = match start_activity(&client, format!("load-{index}"), start).await {
                Ok(handle) => result_of::<u32>(&handle).await,
                Err(error) => Err(error),
            };
            let _ = done.send((index, result));
            drop(slot);
        });
    }
}

/// Stops `worker` with SIGTERM and starts a new process in its place.
fn restart(
    mut worker: WorkerProcess,
    address: &str,
    queue: &str,
    args: &[&str],
) -> (ExitStatus, Duration, WorkerProcess) {
    let (status, took) = worker.terminate(Duration::from_secs(30));
    eprintln!(
        "[load] {} stopped with SIGTERM in {took:?} ({status}): {}",
        worker.name,
        worker.report()
    );
    let restarted =
        WorkerProcess::spawn(&format!("{}-restarted", worker.name), address, queue, args);
    restarted.wait_until_serving();
    (status, took, restarted)
}

// ---------------------------------------------------------------------------------------
// Graceful shutdown under load

const NAPS: usize = 200;
const GRACE: Duration = Duration::from_secs(3);
/// How long the server may take to record a completion sent at the end of the grace.
const REPORT_SLACK: Duration = Duration::from_millis(500);

/// 200 activities in flight on one worker, each due to finish 0.5 to 5 s after the worker
/// gets SIGTERM with a 3 s grace period: the process exits 0 within grace + 2 s; each
/// activity either completed there within the grace or was reported as `WorkerShutdown`
/// (once) and then completed on a second worker; all 200 complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_or_hands_over_each_activity() {
    let _serial = SERIAL.lock().await;
    let server = metered_server().await;
    let address = server.address();
    let metrics = server.metrics_url().expect("started with metrics");
    let queue = "shutdown";
    let grace = format!("{}s", GRACE.as_secs());
    let args = [
        "--max-concurrent-activities",
        "250",
        "--shutdown-grace",
        &grace,
    ];
    let mut first = WorkerProcess::spawn("shutdown-a", &address, queue, &args);
    first.wait_until_serving();
    let client = connect(&address).await;
    let before = frontend_counts(&metrics).await;

    // Every activity sleeps until a wall-clock time after the signal, so that all 200 are
    // in flight when it comes: the signal is sent at `signal_at`.
    let signal_at = Instant::now() + Duration::from_secs(12);
    let signal_at_ms = unix_ms(SystemTime::now()) + 12_000;
    let plan: Vec<Nap> = (0..NAPS).map(Nap::planned).collect();
    let mut starting = JoinSet::new();
    let slots = Arc::new(Semaphore::new(50));
    for nap in plan.clone() {
        let (client, slot) = (client.clone(), slots.clone().acquire_owned().await.unwrap());
        starting.spawn(async move {
            let start = nap.start(queue, signal_at_ms);
            let handle = start_activity(&client, format!("nap-{}", nap.index), start).await;
            drop(slot);
            (nap.index, handle)
        });
    }
    let mut handles: Vec<Option<ActivityHandle>> = vec![None; NAPS];
    while let Some(started) = starting.join_next().await {
        let (index, handle) = started.unwrap();
        handles[index] = Some(handle.unwrap_or_else(|error| panic!("nap-{index}: {error}")));
    }
    let handles: Vec<ActivityHandle> = handles.into_iter().map(Option::unwrap).collect();
    wait_until_all_started(&handles, signal_at - Duration::from_secs(1)).await;
    let in_flight_at = signal_at.saturating_duration_since(Instant::now());

    // The second worker polls before the signal: it has nothing to do until a handover.
    let mut second = WorkerProcess::spawn("shutdown-b", &address, queue, &args);
    second.wait_until_serving();
    tokio::time::sleep_until(signal_at.into()).await;
    let signalled = SystemTime::now();
    let (status, exit_time) =
        tokio::task::block_in_place(|| first.terminate(Duration::from_secs(30)));
    eprintln!(
        "[shutdown] all {NAPS} in flight {in_flight_at:?} before SIGTERM; the worker exited \
         {status} {exit_time:?} after it (grace {GRACE:?}): {}",
        first.report()
    );

    let mut finished_in_grace = Vec::new();
    let mut handed_over = Vec::new();
    let mut problems = Vec::new();
    for (nap, handle) in plan.iter().zip(&handles) {
        let result = result_of::<(u32, u32)>(handle).await;
        let described = describe(handle).await;
        match classify(nap, result, &described, first.pid, second.pid, signalled) {
            Ok(Where::First) => finished_in_grace.push(nap.offset_ms),
            Ok(Where::Second) => handed_over.push(nap.offset_ms),
            Err(problem) => problems.push(format!("nap-{} ({nap:?}): {problem}", nap.index)),
        }
    }
    let (second_status, _) = second.terminate(Duration::from_secs(15));
    let after = settled_counts(&metrics, &address, &before).await;
    eprintln!(
        "[shutdown] {} completed on the first worker within the grace (due {:?}..{:?} ms \
         after SIGTERM); {} reported as WorkerShutdown and completed on the second (due \
         {:?}..{:?} ms); server-counted: {} completions, {} failures, {} cancellations",
        finished_in_grace.len(),
        finished_in_grace.iter().min(),
        finished_in_grace.iter().max(),
        handed_over.len(),
        handed_over.iter().min(),
        handed_over.iter().max(),
        after.completed,
        after.failed,
        after.canceled
    );

    assert!(
        status.success(),
        "the worker exited with {status} after SIGTERM"
    );
    assert!(
        exit_time <= GRACE + Duration::from_secs(2),
        "the worker took {exit_time:?} to exit after SIGTERM (grace {GRACE:?})"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(!finished_in_grace.is_empty() && !handed_over.is_empty());
    assert_eq!(after.completed, NAPS as u64, "one completion per activity");
    assert_eq!(
        after.failed,
        handed_over.len() as u64,
        "one WorkerShutdown failure per handed-over activity"
    );
    assert_eq!(after.canceled, 0);
    assert!(
        second_status.success(),
        "the second worker exited with {second_status}"
    );
}

/// One activity of the shutdown test: due `offset_ms` after the signal.
#[derive(Debug, Clone)]
struct Nap {
    index: usize,
    offset_ms: u64,
    activity: &'static str,
    stubborn: bool,
}

impl Nap {
    /// Due 0.5 to 5 s after the signal, spread evenly; sync (cooperative), async, and a
    /// few sync ones that ignore cancellation (due after the worker has exited).
    fn planned(index: usize) -> Nap {
        let offset_ms = 500 + (index as u64 * 4_500) / (NAPS as u64 - 1);
        let (activity, stubborn) = match index % 3 {
            0 => ("nap_async", false),
            1 => ("nap_sync", false),
            _ => ("nap_sync", offset_ms >= 4_300),
        };
        Nap {
            index,
            offset_ms,
            activity,
            stubborn,
        }
    }

    fn start(&self, queue: &str, signal_at_ms: u64) -> StartActivity {
        let start = StartActivity::new(self.activity, queue)
            .arg(&(signal_at_ms + self.offset_ms))
            .start_to_close_timeout(Duration::from_secs(60))
            .retry_policy(retries());
        if self.activity == "nap_sync" {
            start.arg(&self.stubborn)
        } else {
            start
        }
    }
}

enum Where {
    First,
    Second,
}

/// Where the activity completed, if it did as the shutdown contract says.
fn classify(
    nap: &Nap,
    result: Result<(u32, u32), String>,
    described: &ActivityDescription,
    first: u32,
    second: u32,
    signalled: SystemTime,
) -> Result<Where, String> {
    let (pid, attempt) = result?;
    let closed = described.close_time.ok_or("no close time")?;
    let after_signal = closed.duration_since(signalled).unwrap_or_default();
    let due = Duration::from_millis(nap.offset_ms);
    let last_failure = described
        .last_failure
        .as_ref()
        .and_then(|failure| failure.failure_type.clone());
    if pid == first {
        if attempt != 1 || last_failure.is_some() {
            return Err(format!("attempt {attempt} after {last_failure:?}"));
        }
        if after_signal > GRACE + REPORT_SLACK {
            return Err(format!(
                "completed {after_signal:?} after SIGTERM, past the grace"
            ));
        }
        if due > GRACE + REPORT_SLACK {
            return Err(format!(
                "completed {after_signal:?} after SIGTERM though due at {due:?}"
            ));
        }
        Ok(Where::First)
    } else if pid == second {
        if attempt != 2 || last_failure.as_deref() != Some("WorkerShutdown") {
            return Err(format!(
                "completed by the second worker on attempt {attempt} after {last_failure:?}"
            ));
        }
        if due + REPORT_SLACK < GRACE {
            return Err(format!(
                "due {due:?} after SIGTERM, within the grace, yet handed over"
            ));
        }
        Ok(Where::Second)
    } else {
        Err(format!("completed by unknown pid {pid}"))
    }
}

async fn wait_until_all_started(handles: &[ActivityHandle], deadline: Instant) {
    loop {
        let mut pending = 0;
        for handle in handles {
            if describe(handle).await.run_state != legwork::client::RunState::Started {
                pending += 1;
            }
        }
        if pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} of {} activities were not started in time",
            handles.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The long run (scripts/soak)

/// Drains `LEGWORK_SOAK_COUNT` (100,000) no-op activities through one worker process
/// (`LEGWORK_SOAK_WORKER`, else the debug `soak` example) against a fresh dev server, and
/// prints its RSS, threads, open file descriptors and CPU per activity every
/// `LEGWORK_SOAK_EVERY` (10,000) completions, as the server counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the long run (20-25 min): scripts/soak"]
async fn soak() {
    let _serial = SERIAL.lock().await;
    let count = env_number("LEGWORK_SOAK_COUNT", 100_000);
    let every = env_number("LEGWORK_SOAK_EVERY", 10_000);
    let server = metered_server().await;
    let address = server.address();
    let metrics = server.metrics_url().expect("started with metrics");
    let queue = "soak";
    let mut worker = WorkerProcess::spawn("soak", &address, queue, &[]);
    worker.wait_until_serving();
    let pid = worker.pid;
    let client = connect(&address).await;
    let before = frontend_counts(&metrics).await;
    let idle = Usage::of(pid).expect("worker alive");
    let pool_threads = || procfs::threads_named(pid, POOL_THREAD).unwrap_or(0);
    let server_pid = server_pid(&server);
    println!(
        "soak: {count} no-op activities (sync and async alternating) through {} (pid {pid}), \
         server {address}",
        worker_binary().display()
    );
    println!(
        "idle, before any activity: {idle} ({} of the blocking pool, which starts threads \
         on demand up to --blocking-threads and keeps them)",
        pool_threads()
    );
    println!(
        "{:>9} {:>8} {:>7} {:>9} {:>12} {:>5} {:>9} {:>10} {:>14}",
        "completed",
        "elapsed",
        "rate/s",
        "RSS MiB",
        "threads/pool",
        "fds",
        "CPU s",
        "CPU us/act",
        "server ms/act"
    );

    let completed = Arc::new(AtomicU64::new(0));
    let failed_starts = Arc::new(AtomicUsize::new(0));
    let producer = tokio::spawn(start_soak(
        client,
        queue.to_owned(),
        count,
        completed.clone(),
        failed_starts.clone(),
    ));
    let began = Instant::now();
    let mut rows: Vec<(u64, Usage, u64)> = Vec::new();
    let (mut last_count, mut last_cpu, mut last_time) = (0, idle.cpu, began);
    let mut last_server_cpu = cpu_of(server_pid);
    let mut next_mark = every.min(count);
    let mut progress = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let counts = frontend_counts(&metrics).await.since(&before);
        completed.store(counts.completed, Ordering::Relaxed);
        assert_eq!(counts.failed, 0, "an activity failed");
        assert!(
            worker.is_running(),
            "the worker exited: {}",
            worker.report()
        );
        if counts.completed > progress.0 {
            progress = (counts.completed, Instant::now());
        }
        assert!(
            progress.1.elapsed() < Duration::from_secs(300),
            "no completion for 5 minutes, at {}: {}",
            progress.0,
            worker.report()
        );
        if counts.completed < next_mark {
            continue;
        }
        let usage = Usage::of(pid).expect("worker alive");
        let pool = pool_threads();
        let done = counts.completed;
        let cpu_per = (usage.cpu.saturating_sub(last_cpu)).as_secs_f64() * 1e6
            / (done - last_count).max(1) as f64;
        let rate = (done - last_count) as f64 / last_time.elapsed().as_secs_f64();
        let server_cpu = cpu_of(server_pid);
        let server_per =
            per_activity(last_server_cpu, server_cpu, (done - last_count) as usize) * 1e3;
        last_server_cpu = server_cpu;
        println!(
            "{done:>9} {:>7.0}s {rate:>7.1} {:>9.2} {:>12} {:>5} {:>9.2} {cpu_per:>10.0} \
             {server_per:>14.1}",
            began.elapsed().as_secs_f64(),
            usage.rss_mib(),
            format!("{}/{pool}", usage.threads),
            usage.fds,
            usage.cpu.as_secs_f64(),
        );
        rows.push((done, usage, pool));
        (last_count, last_cpu, last_time) = (done, usage.cpu, Instant::now());
        while next_mark <= done {
            next_mark += every;
        }
        if done >= count {
            break;
        }
    }
    producer.await.unwrap();
    let (status, took) = worker.terminate(Duration::from_secs(15));
    let after = settled_counts(&metrics, &address, &before).await;
    let (_, first, first_pool) = rows[0];
    let (_, last, last_pool) = rows[rows.len() - 1];
    let rss: Vec<f64> = rows.iter().map(|(_, usage, _)| usage.rss_mib()).collect();
    println!(
        "done: {count} activities in {:.0} s; server-counted: {} completions, {} failures; \
         RSS {:.2}..{:.2} MiB (first sample {:.2}, last {:.2}); threads {}..{} (outside the \
         blocking pool {}..{}); fds {}..{}; CPU {:.0} us per activity overall",
        began.elapsed().as_secs_f64(),
        after.completed,
        after.failed,
        rss.iter().copied().fold(f64::MAX, f64::min),
        rss.iter().copied().fold(f64::MIN, f64::max),
        first.rss_mib(),
        last.rss_mib(),
        rows.iter().map(|(_, u, _)| u.threads).min().unwrap(),
        rows.iter().map(|(_, u, _)| u.threads).max().unwrap(),
        rows.iter().map(|(_, u, p)| u.threads - p).min().unwrap(),
        rows.iter().map(|(_, u, p)| u.threads - p).max().unwrap(),
        rows.iter().map(|(_, u, _)| u.fds).min().unwrap(),
        rows.iter().map(|(_, u, _)| u.fds).max().unwrap(),
        last.cpu.saturating_sub(idle.cpu).as_secs_f64() * 1e6 / count as f64,
    );
    println!("worker stopped in {took:?} ({status}): {}", worker.report());
    assert_eq!(
        failed_starts.load(Ordering::Relaxed),
        0,
        "some starts failed"
    );
    assert_eq!(after.completed, count, "one completion per activity");
    assert!(status.success());
    assert!(
        last.rss.abs_diff(first.rss) <= RSS_TOLERANCE,
        "RSS moved from {first} to {last}"
    );
    // The pool may add a thread when a burst finds all its threads busy (it keeps them, up
    // to --blocking-threads); every other thread is there from the start.
    assert_eq!(
        first.threads - first_pool,
        last.threads - last_pool,
        "threads outside the blocking pool: {first} ({first_pool} in the pool), then {last} \
         ({last_pool})"
    );
    assert!(
        last.fds.abs_diff(first.fds) <= 2,
        "fds: {first} then {last}"
    );
}

/// The blocking pool's threads, `legwork-blocking-N`, as `comm` (15 bytes) shows them.
const POOL_THREAD: &str = "legwork-blocki";

/// How far the producer may run ahead of the completions the server counted.
const SOAK_BACKLOG: u64 = 1_000;

async fn start_soak(
    client: Client,
    queue: String,
    count: u64,
    completed: Arc<AtomicU64>,
    failed: Arc<AtomicUsize>,
) {
    let slots = Arc::new(Semaphore::new(16));
    for index in 0..count {
        while index >= completed.load(Ordering::Relaxed) + SOAK_BACKLOG {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let slot = slots.clone().acquire_owned().await.unwrap();
        let (client, queue, failed) = (client.clone(), queue.clone(), failed.clone());
        tokio::spawn(async move {
            let activity = if index.is_multiple_of(2) {
                "noop_sync"
            } else {
                "noop_async"
            };
            let start = StartActivity::new(activity, &queue)
                .start_to_close_timeout(Duration::from_secs(60))
                .retry_policy(retries());
            if let Err(error) = start_activity(&client, format!("soak-{index}"), start).await {
                eprintln!("soak-{index}: {error}");
                failed.fetch_add(1, Ordering::Relaxed);
            }
            drop(slot);
        });
    }
    // Wait for the last starts.
    let _ = slots.acquire_many(16).await.unwrap();
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|value| value.replace('_', "").parse().expect(name))
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// The server, the client

/// A fresh dev server serving Prometheus metrics; fresh so that its in-memory history of
/// earlier tests does not slow it down.
async fn metered_server() -> DevServer {
    tokio::task::spawn_blocking(|| {
        DevServer::builder()
            .metrics(true)
            .kill_with_parent(true)
            .start()
            .expect("a dev server starts")
    })
    .await
    .unwrap()
}

async fn connect(address: &str) -> Client {
    Client::connect(address, "default")
        .await
        .expect("the client connects")
}

/// Retries come at once (100 ms), a handed-over attempt among them.
fn retries() -> RetryPolicy {
    {
        let mut policy = RetryPolicy::default();
        policy.initial_interval = Some(Duration::from_millis(100));
        policy.maximum_attempts = Some(5);
        policy
    }
}

/// Starts activity `id`, retrying a start that failed in transit (one the server recorded
/// before the error is then found by its id).
async fn start_activity(
    client: &Client,
    id: String,
    start: StartActivity,
) -> Result<ActivityHandle, String> {
    let start = start.id(&id);
    let mut tries = 0;
    loop {
        let error = match client.start_activity(start.clone()).await {
            Ok(handle) => return Ok(handle),
            Err(error) => error,
        };
        if let ClientError::Rpc { status, .. } = &error {
            if status.code() == tonic::Code::AlreadyExists && tries > 0 {
                return Ok(client.handle(id, None));
            }
        }
        tries += 1;
        if tries >= 5 {
            return Err(error.to_string());
        }
        tokio::time::sleep(Duration::from_millis(200 * tries)).await;
    }
}

/// The activity's JSON result, or why it did not complete; transport errors retried.
async fn result_of<T: DeserializeOwned>(handle: &ActivityHandle) -> Result<T, String> {
    let mut tries = 0;
    loop {
        match handle.result::<T>().await {
            Ok(value) => return Ok(value),
            Err(ClientError::Rpc { status, .. }) if tries < 5 => {
                tries += 1;
                eprintln!("{}: PollActivityExecution: {status}; again", handle.id());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => return Err(error.to_string()),
        }
    }
}

async fn describe(handle: &ActivityHandle) -> ActivityDescription {
    handle
        .describe()
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", handle.id()))
}

/// The dev server's process, found by its `--port`.
fn server_pid(server: &DevServer) -> Option<u32> {
    let address = server.address();
    let port = address.rsplit(':').next()?;
    procfs::find_process(|argv| {
        argv.iter().any(|arg| arg == "start-dev")
            && argv
                .windows(2)
                .any(|pair| pair[0] == "--port" && pair[1] == port)
    })
}

fn cpu_of(pid: Option<u32>) -> Option<Duration> {
    procfs::cpu_time(pid?)
}

/// Seconds of CPU per activity between two readings (NaN when either is missing).
fn per_activity(before: Option<Duration>, after: Option<Duration>, activities: usize) -> f64 {
    match (before, after) {
        (Some(before), Some(after)) => {
            after.saturating_sub(before).as_secs_f64() / activities.max(1) as f64
        }
        _ => f64::NAN,
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

// ---------------------------------------------------------------------------------------
// What the server counted

/// `service_requests{service_name="frontend"}` of the `RespondActivityTask*` calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    completed: u64,
    failed: u64,
    canceled: u64,
}

impl Counts {
    fn since(&self, before: &Counts) -> Counts {
        Counts {
            completed: self.completed - before.completed,
            failed: self.failed - before.failed,
            canceled: self.canceled - before.canceled,
        }
    }
}

async fn frontend_counts(metrics_url: &str) -> Counts {
    let url = metrics_url.to_owned();
    let text = tokio::task::spawn_blocking(move || http_get(&url))
        .await
        .unwrap();
    Counts {
        completed: service_requests(&text, COMPLETED),
        failed: service_requests(&text, FAILED),
        canceled: service_requests(&text, CANCELED),
    }
}

/// The counts since `before`, read once no late duplicate can be missing from them. Call
/// it after every worker process has exited: no process is left that could send one, and
/// each worker waited for the answers to the calls it made, so the server has counted them
/// all. It publishes its counters in periodic flushes, though (up to about a second
/// late), so this makes two calls of its own (`GetSystemInfo`, which a new client sends),
/// each after the previous one shows, and waits until the second shows: the flush that
/// published it is a later one than the flush that published the first, so it began after
/// the first call, and after the workers' calls.
async fn settled_counts(metrics_url: &str, address: &str, before: &Counts) -> Counts {
    for _ in 0..2 {
        let marked = system_info_calls(metrics_url).await;
        drop(connect(address).await);
        let deadline = Instant::now() + Duration::from_secs(20);
        while system_info_calls(metrics_url).await <= marked {
            assert!(
                Instant::now() < deadline,
                "the server's metrics did not show a GetSystemInfo call within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    frontend_counts(metrics_url).await.since(before)
}

async fn system_info_calls(metrics_url: &str) -> u64 {
    let url = metrics_url.to_owned();
    let text = tokio::task::spawn_blocking(move || http_get(&url))
        .await
        .unwrap();
    service_requests(&text, "GetSystemInfo")
}

/// The sum of `service_requests` for `operation` as the frontend counts it (each call
/// also appears with `service_name="history"`).
fn service_requests(text: &str, operation: &str) -> u64 {
    let operation = format!("operation=\"{operation}\"");
    let labels = [operation.as_str(), "service_name=\"frontend\""];
    common::prom::sum(text, "service_requests", &labels) as u64
}

fn http_get(url: &str) -> String {
    let reply = common::http::get_url(url);
    assert_eq!(reply.status, 200, "{url}: {}", reply.head);
    reply.body
}

// ---------------------------------------------------------------------------------------
// Worker processes

/// The worker binary: `LEGWORK_SOAK_WORKER`, else the `soak` example `cargo test` built.
fn worker_binary() -> PathBuf {
    match std::env::var_os("LEGWORK_SOAK_WORKER") {
        Some(path) => PathBuf::from(path),
        None => example("soak"),
    }
}

/// A worker process with its output in a file; killed when dropped.
struct WorkerProcess {
    name: String,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl WorkerProcess {
    fn spawn(name: &str, address: &str, queue: &str, args: &[&str]) -> WorkerProcess {
        let log =
            std::env::temp_dir().join(format!("legwork-load-{}-{name}.log", std::process::id()));
        let file = File::create(&log).unwrap();
        let mut command = Command::new(worker_binary());
        for (variable, _) in std::env::vars() {
            if variable.starts_with("TEMPORAL_") && variable != "TEMPORAL_CLI" {
                command.env_remove(variable);
            }
        }
        let child = command
            .args(["--address", address, "--task-queue", queue])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", worker_binary().display()));
        WorkerProcess {
            name: name.to_owned(),
            pid: child.id(),
            child,
            log,
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.output().contains("legwork worker serving") {
            assert!(
                Instant::now() < deadline,
                "{} is not serving after 30 s:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit: its status and how long it took.
    fn terminate(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let began = Instant::now();
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, began.elapsed());
            }
            assert!(
                began.elapsed() < limit,
                "{} did not exit within {limit:?} of SIGTERM:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The worker's closing report line, and how many warnings it logged.
    fn report(&self) -> String {
        let output = self.output();
        let stopped = output
            .lines()
            .find(|line| line.contains("worker stopped"))
            .unwrap_or("no report");
        let warnings = output
            .lines()
            .filter(|line| line.contains(" WARN "))
            .count();
        format!("{} ({warnings} warnings)", stopped.trim())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{} wrote to {}", self.name, self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

#[test]
fn counts_frontend_requests_only() {
    let text = "# TYPE service_requests counter\n\
        service_requests{namespace=\"default\",operation=\"RespondActivityTaskCompleted\",service_name=\"frontend\"} 9999\n\
        service_requests{namespace=\"default\",operation=\"RespondActivityTaskCompleted\",service_name=\"history\"} 9999\n\
        service_requests{namespace=\"default\",operation=\"RespondActivityTaskFailed\",service_name=\"frontend\"} 3\n";
    assert_eq!(service_requests(text, COMPLETED), 9999);
    assert_eq!(service_requests(text, FAILED), 3);
    assert_eq!(service_requests(text, CANCELED), 0);
}
