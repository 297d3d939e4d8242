//! The examples people copy, run with the one command their headers give
//! (`scripts/example NAME`), each against the dev server it starts itself. What they print
//! is their report; the checks here read it.

mod common;

use std::process::{Command, Output};

use common::process::example;
use common::python::python_path;

/// `scripts/example name`, with the examples `cargo test` has built; its output.
fn run_example(name: &str) -> (String, String) {
    let built = example(name);
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=5", "120", "scripts/example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LEGWORK_EXAMPLES_DIR", built.parent().unwrap())
        .env("NO_COLOR", "1");
    if name == "polyglot" {
        command.env("LEGWORK_PYTHONPATH", python_path());
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("scripts/example runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    assert!(
        status.success(),
        "scripts/example {name} failed ({status}):\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// The line of `output` that starts with `prefix`.
fn line<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{output}"))
}

/// The number in `text` right after `label`.
fn number_after(text: &str, label: &str) -> u64 {
    let rest = text
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in {text:?}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {text:?}"))
}

#[test]
fn polyglot_python_workflow_calls_rust_activities_and_cancels_one() {
    let (stdout, stderr) = run_example("polyglot");
    assert_eq!(
        line(&stdout, "greet("),
        "greet('Python') -> Hello, Python, from Rust!"
    );
    // 1² + … + 100², past a 1 s heartbeat timeout over a 2 s run.
    assert_eq!(
        line(&stdout, "sum_of_squares("),
        "sum_of_squares(100) -> 338350"
    );
    // The details are the activity's last heartbeat, recorded when it saw the cancel.
    let canceled = line(&stdout, "await_approval(");
    assert!(
        canceled.starts_with(
            "await_approval('T-42') -> canceled by the workflow: ticket T-42: stopped after "
        ),
        "{canceled}"
    );
    assert!(number_after(canceled, "stopped after ") >= 1, "{canceled}");
    assert!(
        stderr.contains("approval wait cancelled (cancel requested); cleaning up"),
        "{stderr}"
    );
}

#[test]
fn file_processing_resumes_after_a_kill_and_stops_on_cancel() {
    let (stdout, _) = run_example("file_processing");
    let input = line(&stdout, "input: ");
    let (lines, words) = (number_after(input, "("), number_after(input, "lines, "));
    let killed_at = number_after(
        stdout
            .lines()
            .find(|line| line.contains("killed (SIGKILL)"))
            .expect("a worker was killed"),
        "the server saw line ",
    );
    let finished = line(&stdout, "count_words finished");
    // Attempt 2 began where the server's last heartbeat said, mid-file, and the total is
    // still right: the words before that line came from the heartbeat.
    assert_eq!(number_after(finished, "on attempt "), 2, "{finished}");
    assert_eq!(
        number_after(finished, "resumed at line "),
        killed_at,
        "{finished}"
    );
    assert!(killed_at > 0 && killed_at < lines, "{finished}");
    assert_eq!(number_after(finished, ": "), lines, "{finished}");
    assert_eq!(number_after(finished, "lines, "), words, "{finished}");
    let canceled = line(&stdout, "count_words canceled");
    assert!(
        number_after(canceled, "stopped at line ") < lines,
        "it stopped before the end: {canceled}"
    );
}

#[test]
fn http_service_retries_a_503_compresses_on_the_pool_and_gives_up_on_a_404() {
    let (stdout, _) = run_example("http_service");
    let archived = line(&stdout, "archive_page(report)");
    assert!(archived.ends_with("on attempt 2"), "{archived}");
    let (bytes, gzipped) = (
        number_after(archived, ": "),
        number_after(archived, "gzipped to "),
    );
    assert!(gzipped > 0 && gzipped < bytes, "{archived}");
    assert_eq!(
        number_after(line(&stdout, "archive_page(missing)"), "/pages/missing: "),
        404
    );
}
