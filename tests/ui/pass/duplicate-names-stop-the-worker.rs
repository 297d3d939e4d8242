// Two activities under one name compile (a macro sees one item at a time), and the
// registry the worker builds at start refuses them, naming both places.
use legwork::{activity, registry::Registry, worker::Worker, worker::WorkerError};
use legwork::worker::WorkerOptions;

#[activity(name = "greet")]
fn greet_in_english(name: String) -> String {
    format!("Hello, {name}!")
}

#[activity(name = "greet")]
fn greet_in_french(name: String) -> String {
    format!("Bonjour, {name} !")
}

fn main() {
    let error = Registry::linked().unwrap_err().to_string();
    assert!(
        error.starts_with("activity name `greet` is registered twice"),
        "{error}"
    );
    assert!(error.contains("greet_in_english` at "), "{error}");
    assert!(
        error.contains("duplicate-names-stop-the-worker.rs:7:4"),
        "{error}"
    );
    assert!(error.contains("greet_in_french` at "), "{error}");
    assert!(
        error.contains("duplicate-names-stop-the-worker.rs:12:4"),
        "{error}"
    );
    // The worker refuses to start, before it connects anywhere.
    let mut options = WorkerOptions::new("unused");
    options.connection.address = "127.0.0.1:9".to_owned();
    match Worker::new(options).start() {
        Err(WorkerError::DuplicateActivity(duplicate)) => assert_eq!(duplicate.name, "greet"),
        Err(other) => panic!("expected a duplicate-name error, got {other}"),
        Ok(_) => panic!("the worker started with two activities named greet"),
    }
}
