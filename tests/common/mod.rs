//! Shared by the integration tests: one real dev server per test binary, workers, clients.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use legwork::client::{
    ActivityFailure, ActivityHandle, ActivityOutcome, Client, RunState, StartActivity,
};
use legwork::testing::DevServer;
use legwork::worker::{RunningWorker, Worker, WorkerOptions};

pub mod board;
pub mod http;
pub mod logs;
pub mod moto;
pub mod process;
pub mod procfs;
pub mod prom;
pub mod python;
pub mod relay;
pub mod tls_front;

/// One server for the whole test binary. Statics are never dropped, so the server is
/// started with `kill_with_parent`: it dies with the test process.
pub fn server() -> &'static DevServer {
    static SERVER: OnceLock<DevServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        // Started off the test's async runtime: `DevServer::start` blocks.
        std::thread::spawn(|| DevServer::builder().kill_with_parent(true).start())
            .join()
            .unwrap()
            .expect("a dev server starts")
    })
}

/// A task queue no other test uses.
pub fn task_queue(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn worker_options(task_queue: &str) -> WorkerOptions {
    let mut options = WorkerOptions::new(task_queue);
    options.connection.address = server().address();
    options.shutdown_grace = Duration::from_secs(2);
    options
}

pub fn start_worker(options: WorkerOptions) -> RunningWorker {
    Worker::new(options).start().expect("the worker starts")
}

pub async fn client() -> Client {
    Client::connect(&server().address(), "default")
        .await
        .expect("the client connects")
}

/// Starts `activity` once, without retries, and returns its handle.
pub async fn start_once(client: &Client, start: StartActivity) -> ActivityHandle {
    client
        .start_activity(
            start
                .max_attempts(1)
                .start_to_close_timeout(Duration::from_secs(30)),
        )
        .await
        .expect("the activity starts")
}

/// The failure an activity ended with; panics if it completed.
pub async fn failure_of(handle: &ActivityHandle) -> ActivityFailure {
    match handle.outcome().await.expect("the outcome arrives") {
        ActivityOutcome::Failed(failure) => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Waits until a worker has picked the activity up.
pub async fn wait_until_started(handle: &ActivityHandle) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while handle.describe().await.unwrap().run_state != RunState::Started {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never started",
            handle.id()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `temporal workflow show --output json` of a workflow on `server`: its history as the
/// server stores it (payloads still encoded).
pub fn workflow_history(server: &DevServer, workflow_id: &str) -> String {
    let output = std::process::Command::new(server.cli_path())
        .args(["workflow", "show", "--workflow-id", workflow_id])
        .args(["--address", &server.address(), "--output", "json"])
        .output()
        .expect("the temporal CLI runs");
    assert!(
        output.status.success(),
        "temporal workflow show failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
