//! An executable whose `main` does not call `legwork::isolated::init()` cannot run isolated
//! activities: the worker stops at start saying what to add. (A test binary's `main` is
//! libtest's, so this one is such an executable; its own child, started with the child
//! variable set, runs this test again and is turned away by `Worker::start`.)

use legwork::testing::{payload, ActivityEnvironment};
use legwork::worker::{Worker, WorkerError, WorkerOptions};
use legwork::{activity, ActivityContext, ActivityError};

#[activity(isolated)]
fn double(ctx: &ActivityContext, n: u32) -> Result<u32, ActivityError> {
    ctx.heartbeat(&n)?;
    Ok(n * 2)
}

#[test]
fn a_worker_whose_executable_cannot_be_a_child_stops_at_start() {
    let mut options = WorkerOptions::new("never-polled");
    // Never dialled: the children are checked before the worker connects.
    options.connection.address = "127.0.0.1:1".to_owned();
    let error = match Worker::new(options).start() {
        Err(error) => error,
        Ok(_) => panic!("the worker started without a usable child"),
    };
    assert!(matches!(error, WorkerError::Isolated(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("legwork::isolated::init()"),
        "says what to add: {message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

#[test]
fn the_test_environment_runs_an_isolated_activity_in_process() {
    let env = ActivityEnvironment::new();
    assert_eq!(env.run_as::<u32>("double", vec![payload(&21)]).unwrap(), 42);
    assert_eq!(env.heartbeats::<u32>(), [21]);
}
