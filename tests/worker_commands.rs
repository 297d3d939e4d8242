//! Worker commands: a cancel the server pushes reaches a sync activity that never
//! heartbeats, where the namespace advertises them; elsewhere nothing changes.
//!
//! A Python workflow (`tests/python/cancel_workflow.py`) starts `wait_for_cancel` on a
//! legwork worker, and cancels it once the activity has said it started; the activity
//! notes, in files beside its marker, when it started and when it saw the cancel.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use legwork::testing::DevServer;
use legwork::worker::WorkerReport;
use legwork::{activity, ActivityContext, ActivityError};
use serde_json::Value;

use common::{start_worker, task_queue, worker_options};

/// Loops until cancelled or `seconds` have passed, never heartbeating; writes
/// `MARKER.started` first, and `MARKER.cancelled` (the Unix time, in seconds) when it sees
/// the cancel.
#[activity]
fn wait_for_cancel(
    ctx: &ActivityContext,
    marker: String,
    seconds: u64,
) -> Result<String, ActivityError> {
    std::fs::write(format!("{marker}.started"), "").expect("the marker is written");
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        if let Some(reason) = ctx.cancel_reason() {
            std::fs::write(format!("{marker}.cancelled"), unix_now().to_string())
                .expect("the marker is written");
            return Err(ActivityError::cancelled(reason));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok("finished".to_owned())
}

/// The async twin of `wait_for_cancel`: sleeps `seconds` at one `.await`; a cancel drops
/// it there, and the guard writes `MARKER.cancelled` as it goes.
#[activity(async)]
async fn sleep_for_cancel(marker: String, seconds: u64) -> String {
    tokio::fs::write(format!("{marker}.started"), "")
        .await
        .expect("the marker is written");
    let mut guard = DroppedAt(Some(marker));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    guard.0 = None;
    "finished".to_owned()
}

/// Writes `MARKER.cancelled` when dropped before the activity returned.
struct DroppedAt(Option<String>);

impl Drop for DroppedAt {
    fn drop(&mut self) {
        if let Some(marker) = self.0.take() {
            let _ = std::fs::write(format!("{marker}.cancelled"), unix_now().to_string());
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A dev server with both switches on, so that it advertises `worker_commands` and sends
/// the cancel of a started activity to the worker that holds it.
fn commands_server() -> &'static DevServer {
    static SERVER: OnceLock<DevServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        std::thread::spawn(|| {
            DevServer::builder()
                .kill_with_parent(true)
                .extra_args([
                    "--dynamic-config-value",
                    "frontend.WorkerCommandsEnabled=true",
                    "--dynamic-config-value",
                    "system.enableCancelActivityWorkerCommand=true",
                ])
                .start()
        })
        .join()
        .unwrap()
        .expect("a dev server starts")
    })
}

/// The marker's files, removed when the test ends however it ends.
struct Marker(PathBuf);

impl Marker {
    fn new(queue: &str) -> Self {
        Marker(std::env::temp_dir().join(format!("legwork-cancel-{queue}")))
    }

    fn file(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}.{suffix}", self.0.display()))
    }

    /// When the activity saw the cancel, if it did.
    fn cancelled_at(&self) -> Option<f64> {
        let text = std::fs::read_to_string(self.file("cancelled")).ok()?;
        Some(text.parse().expect("a Unix time"))
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        for suffix in ["started", "cancelled"] {
            let _ = std::fs::remove_file(self.file(suffix));
        }
    }
}

/// How the script ends the activity.
#[derive(Clone, Copy)]
enum Mode {
    /// The workflow cancels it and waits for the cancellation to complete.
    Cancel,
    /// The workflow is terminated with the activity running.
    Terminate,
}

/// Runs the workflow against `address` with a legwork worker on its activity queue; what
/// the script printed, and the worker's report.
async fn run_workflow(
    address: &str,
    queue: &str,
    activity: &str,
    marker: &Path,
    seconds: u64,
    mode: Mode,
) -> (Value, WorkerReport) {
    let mut options = worker_options(queue);
    options.connection.address = address.to_owned();
    let worker = start_worker(options);
    let args = [
        address.to_owned(),
        format!("{queue}-workflows"),
        queue.to_owned(),
        format!("cancel-{queue}"),
        activity.to_owned(),
        marker.display().to_string(),
        seconds.to_string(),
        match mode {
            Mode::Cancel => "cancel",
            Mode::Terminate => "terminate",
        }
        .to_owned(),
    ];
    let printed = tokio::task::spawn_blocking(move || {
        common::python::run_script("cancel_workflow.py", &args)
    })
    .await
    .unwrap();
    worker.shutdown();
    let report = worker.join_async().await;
    (printed, report)
}

#[tokio::test]
async fn a_pushed_cancel_reaches_an_activity_that_never_heartbeats() {
    let (printed, report) = pushed("worker-commands", "wait_for_cancel", Mode::Cancel).await;
    assert_ended_canceled(&printed, &report);
}

#[tokio::test]
async fn a_pushed_cancel_drops_an_async_activity_at_its_await() {
    let (printed, report) = pushed("worker-commands-async", "sleep_for_cancel", Mode::Cancel).await;
    assert_ended_canceled(&printed, &report);
}

/// The server cancels the attempts of a workflow that closes: they stop at once rather
/// than run on for nothing. The Canceled the worker then reports is refused (the workflow
/// is gone), as a completion would have been.
#[tokio::test]
async fn terminating_the_workflow_stops_its_activity() {
    let (_, report) = pushed(
        "worker-commands-terminate",
        "wait_for_cancel",
        Mode::Terminate,
    )
    .await;
    assert_eq!(report.completed, 0, "{report:?}");
}

/// Runs `activity` under the Python workflow on the server with worker commands on, the
/// workflow cancelling (or terminating) it, and checks that the activity saw it within 2 s.
async fn pushed(prefix: &str, activity: &str, mode: Mode) -> (Value, WorkerReport) {
    let address = commands_server().address();
    let queue = task_queue(prefix);
    let marker = Marker::new(&queue);
    let (printed, report) = run_workflow(&address, &queue, activity, &marker.0, 30, mode).await;
    assert_cancelled_within_2_s(&marker, &printed);
    (printed, report)
}

/// The activity saw the cancel within 2 s of the script asking for it.
fn assert_cancelled_within_2_s(marker: &Marker, printed: &Value) {
    let seen = marker
        .cancelled_at()
        .unwrap_or_else(|| panic!("the activity never saw the cancel: {printed}"));
    let sent = printed["cancel_sent_at"]
        .as_f64()
        .expect("the time of the cancel");
    let delay = seen - sent;
    eprintln!("the activity saw the cancel {delay:.3} s after it was asked for");
    assert!(
        (0.0..2.0).contains(&delay),
        "the activity saw the cancel {delay:.3} s after the workflow was asked to cancel it"
    );
}

/// The attempt ended Canceled, as the workflow and the worker both tell.
fn assert_ended_canceled(printed: &Value, report: &WorkerReport) {
    assert_eq!(
        printed["result"]["outcome"], "cancelled",
        "the workflow saw the activity end Canceled: {printed}"
    );
    assert_eq!(
        (report.canceled, report.completed, report.failed),
        (1, 0, 0),
        "{report:?}"
    );
}

#[tokio::test]
async fn without_worker_commands_the_activity_does_not_learn_of_the_cancel() {
    let logs = common::logs::captured_logs();
    let address = common::server().address();
    let queue = task_queue("no-worker-commands");
    let marker = Marker::new(&queue);
    // Long enough for a pushed cancel to have arrived (the other test allows 2 s).
    let (printed, report) = run_workflow(
        &address,
        &queue,
        "wait_for_cancel",
        &marker.0,
        5,
        Mode::Cancel,
    )
    .await;

    assert_eq!(
        marker.cancelled_at(),
        None,
        "the activity saw a cancel: {printed}"
    );
    assert!(marker.file("started").exists());
    assert_eq!(
        printed["result"],
        serde_json::json!({"outcome": "completed", "detail": "finished"}),
        "the activity ran to its end: {printed}"
    );
    assert_eq!(
        (report.canceled, report.completed, report.failed),
        (0, 1, 0),
        "{report:?}"
    );
    // Nothing above debug from worker commands (nor, in normal running, with them).
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(!logs.contains("worker::commands"), "{logs}");
}
