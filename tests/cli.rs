//! The `hello` example, a worker built with `legwork::main!()`, driven from outside: by
//! the `temporal` CLI (a client we did not write) and by signals.

mod common;

use std::process::Command;

use legwork::client::StartActivity;

use common::process::{example, execute, WorkerProcess};
use common::{client, server, start_once, task_queue, wait_until_started};

#[test]
fn list_prints_each_activity_with_kind_and_location() {
    let output = Command::new(example("hello"))
        .arg("--list")
        .output()
        .unwrap();
    assert!(output.status.success());
    let listing = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(
        lines[0].starts_with("compose_greeting\tsync\thello::greet\texamples/hello.rs:"),
        "{listing}"
    );
    assert!(
        lines[2].starts_with("delayed_echo\tasync\thello::delayed_echo\texamples/hello.rs:"),
        "{listing}"
    );
}

#[test]
fn the_temporal_cli_calls_a_main_macro_worker() {
    let address = server().address();
    let queue = task_queue("cli");
    let mut worker = WorkerProcess::spawn(&["--address", &address, "--task-queue", &queue]);
    worker.wait_for_log("legwork worker serving 3 activities");

    let greeting = execute(
        &address,
        &queue,
        "compose_greeting",
        &format!("{queue}-greet"),
        &["\"Ada\""],
    );
    assert!(greeting.contains("COMPLETED"), "{greeting}");
    assert!(greeting.contains("\"Hello, Ada!\""), "{greeting}");

    // Two `--input`s: one payload per argument, into an async activity.
    let echo = execute(
        &address,
        &queue,
        "delayed_echo",
        &format!("{queue}-echo"),
        &["\"hi there\"", "10"],
    );
    assert!(echo.contains("\"hi there\""), "{echo}");

    let status = worker.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_activity_finish_within_the_grace() {
    let address = server().address();
    let queue = task_queue("graceful");
    let mut worker = WorkerProcess::spawn(&[
        "--address",
        &address,
        "--task-queue",
        &queue,
        "--shutdown-grace",
        "10",
    ]);
    worker.wait_for_log("legwork worker serving");
    let client = client().await;

    let echo = start_once(
        &client,
        StartActivity::new("delayed_echo", &queue)
            .arg(&"late")
            .arg(&1500),
    )
    .await;
    wait_until_started(&echo).await;

    let status = worker.terminate();
    assert_eq!(status.code(), Some(0));
    worker.wait_for_log("shutdown begun");
    assert_eq!(
        echo.result::<String>().await.unwrap(),
        "late",
        "it completed during the grace"
    );
}

#[test]
fn dev_flag_serves_against_its_own_dev_server() {
    let queue = task_queue("dev");
    let mut worker = WorkerProcess::spawn(&["--dev", "--task-queue", &queue]);
    let line = worker.wait_for_log("dev server started");
    let address = line
        .rsplit("address=")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    worker.wait_for_log("legwork worker serving");
    let greeting = execute(
        &address,
        &queue,
        "compose_greeting",
        "dev-greet",
        &["\"Dev\""],
    );
    assert!(greeting.contains("\"Hello, Dev!\""), "{greeting}");
    assert_eq!(worker.terminate().code(), Some(0));
}

#[test]
fn codec_server_bind_serves_the_codec_protocol_beside_the_worker() {
    let address = server().address();
    let queue = task_queue("codec-server");
    let mut worker = WorkerProcess::spawn(&[
        "--address",
        &address,
        "--task-queue",
        &queue,
        "--codec-server-bind",
        "127.0.0.1:0",
    ]);
    let line = worker.wait_for_log("codec server at http://");
    let codec_server = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    worker.wait_for_log("legwork worker serving");
    // `hello` has no codecs: a json/plain payload decodes to itself.
    let body = r#"{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"IkFkYSI="}]}"#;
    let mut stream = std::net::TcpStream::connect(&codec_server).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "POST /decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Namespace: default\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("IkFkYSI="), "{response}");
    assert_eq!(worker.terminate().code(), Some(0));
}

/// `examples/starter.rs`, the client half of `scripts/demo`, against the `hello` worker
/// (both hard-wire the `hello` queue, which no other test here uses).
#[test]
fn the_starter_example_runs_the_hello_activities() {
    let address = server().address();
    let mut worker = WorkerProcess::spawn(&["--address", &address]);
    worker.wait_for_log("legwork worker serving 3 activities");
    let output = Command::new(example("starter"))
        .arg(&address)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("= Hello, Ada!"), "{printed}");
    assert!(printed.contains("= 9592"), "primes below 100000: {printed}");
    assert!(printed.contains("= async says hi"), "{printed}");
    assert_eq!(worker.terminate().code(), Some(0));
}

/// `examples/timing.rs`: its interceptor logs one JSON line per attempt with the
/// activity, how long it took and how it ended.
#[test]
fn the_timing_example_logs_each_attempt() {
    let address = server().address();
    let queue = task_queue("timing");
    let mut worker = WorkerProcess::spawn_example(
        "timing",
        &[
            "--address",
            &address,
            "--task-queue",
            &queue,
            "--log-format",
            "json",
        ],
        &[],
    );
    worker.wait_for_log("legwork worker serving");
    let resized = execute(
        &address,
        &queue,
        "resize",
        &format!("{queue}-resize"),
        &["30"],
    );
    assert!(resized.contains("COMPLETED"), "{resized}");
    let line = worker.wait_for_log("attempt ended");
    let entry: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    let fields = &entry["fields"];
    assert_eq!(fields["activity"], "resize", "{line}");
    assert_eq!(fields["outcome"], "completed", "{line}");
    assert!(fields["elapsed_ms"].as_u64().unwrap() >= 30, "{line}");
    assert_eq!(worker.terminate().code(), Some(0));
}
