//! A worker built with `legwork::main!()` is visible to the server: the real `temporal`
//! CLI lists and describes it from its worker heartbeats, and stops listing it after a
//! graceful shutdown.

mod common;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::process::WorkerProcess;
use common::{server, task_queue};

/// How long the server may take to show a change the worker has sent.
const VISIBLE_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn temporal_worker_list_and_describe_show_a_legwork_worker_until_it_stops() {
    let address = server().address();
    let queue = task_queue("presence");
    // With external storage on (a flag of `main!()`), which the heartbeat lists.
    let storage = std::env::temp_dir().join(format!("legwork-presence-{}", std::process::id()));
    let storage = storage.to_str().unwrap();
    let mut worker = WorkerProcess::spawn(&[
        "--address",
        &address,
        "--task-queue",
        &queue,
        "--external-storage-dir",
        storage,
    ]);
    worker.wait_for_log("legwork worker serving");

    // The first heartbeat goes out at start, not after the one-minute interval.
    let listed = poll_cli("the worker to be listed", || {
        let workers = list(&address, &queue);
        (!workers.is_empty()).then_some(workers)
    });
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let heartbeat = &listed[0]["workerHeartbeat"];
    assert_eq!(heartbeat["taskQueue"], queue.as_str(), "{heartbeat:#}");
    assert_eq!(heartbeat["sdkName"], "legwork", "{heartbeat:#}");
    assert_eq!(
        heartbeat["status"], "WORKER_STATUS_RUNNING",
        "{heartbeat:#}"
    );
    // The default identity is `pid@host`, and the host info says the same.
    let identity = heartbeat["workerIdentity"].as_str().unwrap();
    let (pid, host) = identity.split_once('@').expect("identity is pid@host");
    assert_eq!(heartbeat["hostInfo"]["processId"], pid, "{heartbeat:#}");
    assert_eq!(heartbeat["hostInfo"]["hostName"], host, "{heartbeat:#}");
    let key = heartbeat["workerInstanceKey"].as_str().unwrap().to_owned();
    assert!(!key.is_empty(), "{heartbeat:#}");

    let described = describe(&address, &key).expect("the listed worker is described");
    let heartbeat = &described["workerHeartbeat"];
    assert_eq!(
        heartbeat["workerInstanceKey"],
        key.as_str(),
        "{heartbeat:#}"
    );
    assert_eq!(heartbeat["taskQueue"], queue.as_str(), "{heartbeat:#}");
    let slots = &heartbeat["activityTaskSlotsInfo"];
    assert_eq!(slots["slotSupplierKind"], "Fixed", "{heartbeat:#}");
    assert!(
        slots["currentAvailableSlots"].as_i64().unwrap_or(0) > 0,
        "{heartbeat:#}"
    );
    assert!(heartbeat["startTime"].is_string(), "{heartbeat:#}");
    assert_eq!(
        heartbeat["drivers"],
        serde_json::json!([{ "type": "legwork.filesystem" }]),
        "{heartbeat:#}"
    );
    assert!(heartbeat["heartbeatTime"].is_string(), "{heartbeat:#}");

    assert_eq!(worker.terminate().code(), Some(0), "SIGTERM exits 0");
    // `ShutdownWorker` carried a last heartbeat with status SHUTDOWN: the server drops the
    // worker at once (an older server may list it as shut down instead).
    poll_cli("the worker to leave the list", || {
        let gone = list(&address, &queue)
            .iter()
            .all(|worker| worker["workerHeartbeat"]["status"] == "WORKER_STATUS_SHUTDOWN");
        gone.then_some(())
    });
    let after = describe(&address, &key);
    assert!(
        after.as_ref().is_none_or(|worker| {
            worker["workerHeartbeat"]["status"] == "WORKER_STATUS_SHUTDOWN"
        }),
        "{after:#?}"
    );
}

/// `temporal worker list` of the workers on `queue`, as JSON.
fn list(address: &str, queue: &str) -> Vec<Value> {
    let query = format!("TaskQueue=\"{queue}\"");
    let stdout = temporal(&["worker", "list", "--address", address, "--query", &query])
        .unwrap_or_else(|stderr| panic!("temporal worker list failed: {stderr}"));
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// `temporal worker describe` of the worker with instance key `key`; `None` when the
/// server does not know it.
fn describe(address: &str, key: &str) -> Option<Value> {
    let args = ["worker", "describe", "--address", address];
    match temporal(&[&args[..], &["--worker-instance-key", key]].concat()) {
        Ok(stdout) => {
            Some(serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}")))
        }
        Err(stderr) if stderr.contains("not found") => None,
        Err(stderr) => panic!("temporal worker describe failed: {stderr}"),
    }
}

/// Runs the `temporal` CLI with `-o json`; its stdout, or its stderr when it fails.
fn temporal(args: &[&str]) -> Result<String, String> {
    let cli = std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".to_owned());
    let output = Command::new(cli)
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("the temporal CLI runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Calls `check` until it returns something, for up to [`VISIBLE_WITHIN`].
fn poll_cli<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + VISIBLE_WITHIN;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "waited {VISIBLE_WITHIN:?} for {what}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}
