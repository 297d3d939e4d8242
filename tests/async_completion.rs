//! Async completion across processes: the `async_approval` example, a worker process of
//! its own, hands each attempt's task token out through a file and returns; this test
//! process, which is not the worker, completes, heartbeats or fails the activity with the
//! client, and the server records what it said.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use legwork::client::{ActivityOutcome, Client, StartActivity, TaskToken};
use legwork::ActivityError;

use common::process::example;

/// The example worker, killed when the test ends however it ends.
struct ApprovalWorker {
    child: Child,
    outbox: PathBuf,
}

impl ApprovalWorker {
    fn spawn(task_queue: &str) -> Self {
        let outbox = std::env::temp_dir().join(format!("legwork-outbox-{task_queue}"));
        let _ = std::fs::remove_dir_all(&outbox);
        let mut command = Command::new(example("async_approval"));
        for (name, _) in std::env::vars() {
            if name.starts_with("TEMPORAL_") && name != "TEMPORAL_CLI" {
                command.env_remove(name);
            }
        }
        let child = command
            .args(["--address", &common::server().address()])
            .args(["--task-queue", task_queue])
            // One slot: a second request can only be filed if the first freed it.
            .args(["--max-concurrent-activities", "1"])
            .env("APPROVAL_OUTBOX", &outbox)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the async_approval example starts");
        ApprovalWorker { child, outbox }
    }

    /// The token the worker filed for `activity_id`, and the document it was asked about.
    fn wait_for_request(&mut self, activity_id: &str) -> (TaskToken, String) {
        let path = self.outbox.join(format!("{activity_id}.token"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((token, document)) = read_request(&path) {
                return (token.parse().expect("a well-formed token"), document);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the worker exited ({status}) before filing {activity_id}");
            }
            assert!(
                Instant::now() < deadline,
                "no request for {activity_id} in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn read_request(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.to_owned(), lines.next()?.to_owned()))
}

impl Drop for ApprovalWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.outbox);
    }
}

async fn start(
    client: &Client,
    queue: &str,
    id: &str,
    document: &str,
) -> legwork::client::ActivityHandle {
    client
        .start_activity(
            StartActivity::new("request_approval", queue)
                .id(id)
                .arg(document)
                .start_to_close_timeout(Duration::from_secs(60))
                .max_attempts(1),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn another_process_completes_the_activity_with_its_token() {
    let queue = common::task_queue("approvals");
    let mut worker = ApprovalWorker::spawn(&queue);
    let client = common::client().await;

    let handle = start(&client, &queue, "approve-invoice-42", "invoice 42").await;
    let (token, document) = worker.wait_for_request("approve-invoice-42");
    assert_eq!(document, "invoice 42");
    // The worker has one slot; that it takes another request shows the first one's is free.
    let other = start(&client, &queue, "approve-invoice-41", "invoice 41").await;
    let (other_token, _) = worker.wait_for_request("approve-invoice-41");
    assert_ne!(other_token, token);

    // The worker returned without reporting: the attempt is still open on the server.
    let pending = handle.describe().await.unwrap();
    assert!(!pending.status.is_closed(), "{:?}", pending.status);
    assert!(pending.outcome.is_none());

    let elsewhere = client.async_activity(token);
    assert!(!elsewhere.heartbeat(&"with a reviewer").await.unwrap());
    elsewhere.complete(&"approved by Ada").await.unwrap();
    assert_eq!(handle.result::<String>().await.unwrap(), "approved by Ada");
    client
        .async_activity(other_token)
        .complete(&())
        .await
        .unwrap();
    other.result::<()>().await.unwrap();
    let done = handle.describe().await.unwrap();
    assert_eq!(done.attempt, 1);
    assert_eq!(
        done.last_heartbeat_details.len(),
        1,
        "the heartbeat from this process was recorded"
    );
}

#[tokio::test]
async fn another_process_fails_the_activity_by_id() {
    let queue = common::task_queue("approvals");
    let mut worker = ApprovalWorker::spawn(&queue);
    let client = common::client().await;

    let handle = start(&client, &queue, "approve-invoice-43", "invoice 43").await;
    worker.wait_for_request("approve-invoice-43");

    // By id, without the token: a standalone activity has no workflow id.
    let by_id = client.async_activity_standalone("approve-invoice-43", None);
    assert!(!by_id.heartbeat(&"escalated").await.unwrap());
    by_id
        .fail(
            ActivityError::new("totals do not match the order")
                .with_type("Rejected")
                .non_retryable(),
        )
        .await
        .unwrap();
    let ActivityOutcome::Failed(failure) = handle.outcome().await.unwrap() else {
        panic!("the activity did not fail");
    };
    let rejected = failure.application().expect("the application failure");
    assert_eq!(rejected.failure_type.as_deref(), Some("Rejected"));
    assert_eq!(rejected.message, "totals do not match the order");
}

#[tokio::test]
async fn a_python_workflow_receives_the_result_completed_by_id() {
    let queue = common::task_queue("approvals");
    let mut worker = ApprovalWorker::spawn(&queue);
    let client = common::client()
        .await
        .with_identity("finance-approvals@test");
    let workflow_id = format!("approval-{queue}");
    let args = [
        common::server().address(),
        common::task_queue("approval-wf"),
        queue.clone(),
        workflow_id.clone(),
        "approval".to_owned(),
        "purchase order 7".to_owned(),
    ];
    let workflow =
        std::thread::spawn(move || common::python::run_script("approval_workflow.py", &args));

    let (_, document) = worker.wait_for_request("approval");
    assert_eq!(document, "purchase order 7");
    let by_id = client.async_activity_by_id(&workflow_id, None, "approval");
    assert!(!by_id.heartbeat(&"with finance").await.unwrap());
    by_id.complete(&"approved by finance").await.unwrap();

    let output = tokio::task::spawn_blocking(move || workflow.join().unwrap())
        .await
        .unwrap();
    assert_eq!(output["error"], serde_json::Value::Null, "{output}");
    assert_eq!(output["result"], "approved by finance");
    // The history names this client, by the identity it was given, as the completer.
    let completed = completed_event(&workflow_id);
    assert_eq!(
        completed["identity"], "finance-approvals@test",
        "{completed}"
    );
}

/// The `ActivityTaskCompleted` event of the workflow's history (`temporal workflow show`).
fn completed_event(workflow_id: &str) -> serde_json::Value {
    let history = common::workflow_history(common::server(), workflow_id);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .find_map(|event| event.get("activityTaskCompletedEventAttributes").cloned())
        .unwrap_or_else(|| panic!("no ActivityTaskCompleted in {history}"))
}
