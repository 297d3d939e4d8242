//! The `hello` example, a worker built with `legwork::main!()`, driven from outside: by
//! the `temporal` CLI (a client we did not write) and by signals.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use legwork::client::StartActivity;

use common::{client, server, start_once, task_queue, wait_until_started};

/// Plain `cargo test` builds the examples next to the test binaries' `deps/` folder.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let path = deps.parent().unwrap().join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it (`cargo build --examples` does too)",
        path.display()
    );
    path
}

/// A worker process whose log lines arrive on a channel.
struct WorkerProcess {
    child: Child,
    log: mpsc::Receiver<String>,
}

impl WorkerProcess {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(example("hello"))
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the hello example starts");
        let log = forward_lines(child.stderr.take().unwrap());
        WorkerProcess { child, log }
    }

    /// Waits for a log line containing `needle` and returns it.
    fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the worker never logged {needle:?}");
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not exit after SIGTERM"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// `temporal activity execute` of `activity` with one `--input` per argument; its output.
fn execute(address: &str, queue: &str, activity: &str, id: &str, inputs: &[&str]) -> String {
    let cli = std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".to_owned());
    let mut command = Command::new(cli);
    command.args([
        "activity",
        "execute",
        "--address",
        address,
        "--type",
        activity,
    ]);
    command.args([
        "--task-queue",
        queue,
        "--activity-id",
        id,
        "--start-to-close-timeout",
        "30s",
    ]);
    for input in inputs {
        command.args(["--input", input]);
    }
    let output = command.output().expect("the temporal CLI runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "temporal activity execute {activity} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

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
