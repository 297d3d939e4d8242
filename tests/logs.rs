//! Log lines users can work with: inside an activity they carry the activity's fields
//! without the user adding them; JSON on request; no colour codes into a pipe.

mod common;

use common::process::{execute, WorkerProcess};
use common::{server, task_queue};

/// Runs `count_primes` (which logs with `tracing::info!`) on a `hello` worker started with
/// `args`; every line the worker wrote.
fn lines_of_a_worker_that_logs_inside_an_activity(args: &[&str]) -> (String, Vec<String>) {
    let address = server().address();
    let queue = task_queue("logs");
    let mut all = vec!["--address", &address, "--task-queue", &queue];
    all.extend_from_slice(args);
    let mut worker = WorkerProcess::spawn(&all);
    worker.wait_for_log("legwork worker serving");
    let id = format!("{queue}-primes");
    let output = execute(&address, &queue, "count_primes", &id, &["100"]);
    assert!(output.contains("25"), "{output}");
    assert_eq!(worker.terminate().code(), Some(0));
    (id, worker.drain_log())
}

#[test]
fn a_log_line_inside_an_activity_carries_its_fields() {
    let (id, lines) = lines_of_a_worker_that_logs_inside_an_activity(&[]);
    let line = lines
        .iter()
        .find(|line| line.contains("counting primes below 100"))
        .unwrap_or_else(|| panic!("the activity's line is missing:\n{}", lines.join("\n")));
    for field in [
        "activity_type=count_primes",
        &format!("activity_id={id}"),
        "attempt=1",
        "workflow_id=\"\"",
    ] {
        assert!(line.contains(field), "{field:?} missing from: {line}");
    }
    let all = lines.join("\n");
    assert!(!all.contains('\u{1b}'), "colour codes into a pipe:\n{all}");
}

#[test]
fn json_format_is_one_object_per_line_with_the_activity_fields() {
    let (id, lines) = lines_of_a_worker_that_logs_inside_an_activity(&["--log-format", "json"]);
    assert!(!lines.is_empty());
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let event = objects
        .iter()
        .find(|object| object["fields"]["message"] == "counting primes below 100")
        .expect("the activity's line");
    assert_eq!(event["level"], "INFO");
    let span = &event["span"];
    assert_eq!(span["activity_type"], "count_primes", "{event}");
    assert_eq!(span["activity_id"], id.as_str(), "{event}");
    assert_eq!(span["attempt"], 1, "{event}");
    assert_eq!(span["workflow_id"], "", "a standalone activity: {event}");
}
