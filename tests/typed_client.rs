//! The typed client `#[activity]` generates, against a real dev server: arguments go as
//! the worker decodes them, `.result()` is the activity's own result type, a failure is
//! `ClientError::Failed`, and the registered name (not the function's) is started.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use legwork::client::{ActivityOptions, ClientError, TypedActivityHandle};
use legwork::{activity, ActivityError};
use serde::{Deserialize, Serialize};

use common::{start_worker, task_queue, worker_options};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Size {
    width: u32,
    height: u32,
}

#[activity(name = "compose_greeting")]
fn greet(name: String, punctuation: char) -> Result<String, ActivityError> {
    Ok(format!("Hello, {name}{punctuation}"))
}

static RECORDED: Mutex<Vec<Size>> = Mutex::new(Vec::new());

#[activity(async)]
async fn record(size: Size) {
    RECORDED.lock().unwrap().push(size);
}

#[activity]
fn checksum(data: Vec<u8>) -> Vec<u8> {
    data.iter().rev().copied().collect()
}

#[activity]
fn refuse(reason: String) -> Result<u32, ActivityError> {
    Err(ActivityError::new(reason)
        .with_type("Refused")
        .non_retryable())
}

fn options(queue: &str) -> ActivityOptions {
    ActivityOptions::new(queue).start_to_close_timeout(Duration::from_secs(20))
}

#[tokio::test]
async fn generated_clients_start_activities_with_their_own_types() {
    let queue = task_queue("typed-client");
    let _worker = start_worker(worker_options(&queue));
    let client = common::client().await;

    // A handle first: its id, then its typed result.
    let handle: TypedActivityHandle<String> = GreetActivity::start(
        &client,
        options(&queue).id("greet-typed"),
        "Ada".to_owned(),
        '!',
    )
    .await
    .expect("the activity starts");
    assert_eq!(handle.id(), "greet-typed");
    assert_eq!(handle.result().await.unwrap(), "Hello, Ada!");
    // Under the registered name, not the function's.
    let described = handle.describe().await.unwrap();
    assert_eq!(described.activity_type, "compose_greeting");

    // A unit result, and a struct argument that arrived whole.
    let size = Size {
        width: 640,
        height: 480,
    };
    RecordActivity::execute(&client, options(&queue), size.clone())
        .await
        .expect("record completes");
    assert!(RECORDED.lock().unwrap().contains(&size));

    // Bytes both ways, as binary/plain.
    let reversed = ChecksumActivity::execute(&client, options(&queue), vec![1, 2, 3])
        .await
        .unwrap();
    assert_eq!(reversed, [3, 2, 1]);

    // A failure is ClientError::Failed, with the activity's own message and type.
    let error = RefuseActivity::execute(&client, options(&queue), "not today".to_owned())
        .await
        .unwrap_err();
    let ClientError::Failed(failure) = error else {
        panic!("expected a failed activity, got {error:?}");
    };
    let application = failure.application().expect("an application failure");
    assert_eq!(application.message, "not today");
    assert_eq!(application.failure_type.as_deref(), Some("Refused"));
}
