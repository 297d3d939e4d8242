//! Bad input and misbehaving activities against a real worker and dev server: each ends
//! the attempt with a clear, typed failure (or exactly the report it should), and the
//! worker goes on serving.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use legwork::client::{ActivityFailure, ActivityOutcome, Client, StartActivity};
use legwork::RetryPolicy;
use legwork::{activity, run_blocking, ActivityContext, ActivityError, Payload};
use serde::{Deserialize, Serialize};

use common::{client, failure_of, start_once, start_worker, task_queue, worker_options};

#[activity]
fn echo(text: String) -> String {
    text
}

#[activity]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[activity]
fn byte_count(data: Vec<u8>) -> usize {
    data.len()
}

#[activity]
fn no_arguments() -> u8 {
    7
}

/// Details whose `Serialize` refuses.
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("this value has no JSON form"))
    }
}

#[activity]
fn heartbeat_unencodable(ctx: &ActivityContext) -> Result<(), ActivityError> {
    ctx.heartbeat(&Unencodable)?;
    Ok(())
}

#[activity]
fn result_unencodable() -> Unencodable {
    Unencodable
}

/// A result whose `Serialize` panics.
struct SerializePanics;

impl Serialize for SerializePanics {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("Serialize blew up")
    }
}

#[activity]
fn sync_serialize_panics() -> SerializePanics {
    SerializePanics
}

#[activity(async)]
async fn async_serialize_panics() -> SerializePanics {
    SerializePanics
}

/// An argument whose `Deserialize` panics, after noting the thread it runs on.
#[derive(Debug)]
struct DeserializePanics;

/// The threads `DeserializePanics` ran on.
static DESERIALIZED_ON: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl<'de> Deserialize<'de> for DeserializePanics {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        let thread = std::thread::current();
        DESERIALIZED_ON
            .lock()
            .unwrap()
            .push(thread.name().unwrap_or("unnamed").to_owned());
        panic!("Deserialize blew up")
    }
}

#[activity]
fn sync_deserialize_panics(_input: DeserializePanics) {}

#[activity(async)]
async fn async_deserialize_panics(_input: DeserializePanics) {}

#[activity]
fn sync_panics(message: String) {
    panic!("{message}");
}

#[activity(async)]
async fn async_panics(message: String) {
    tokio::task::yield_now().await;
    panic!("{message}");
}

#[activity(async)]
async fn panics_in_run_blocking(message: String) -> Result<(), ActivityError> {
    run_blocking(move || panic!("{message}")).await?;
    Ok(())
}

#[activity]
fn huge_result(bytes: usize) -> String {
    "x".repeat(bytes)
}

#[activity(async)]
async fn async_echo(text: String) -> String {
    text
}

/// Starts `start` once (no retry) and returns its application failure.
async fn application_failure(client: &Client, start: StartActivity) -> ActivityFailure {
    let failure = failure_of(&start_once(client, start).await).await;
    failure
        .application()
        .cloned()
        .unwrap_or_else(|| panic!("expected an application failure, got {failure:?}"))
}

/// Asserts a failure's type, message and retryability.
fn assert_failure(failure: &ActivityFailure, kind: &str, message: &str, non_retryable: bool) {
    assert_eq!(failure.failure_type.as_deref(), Some(kind), "{failure:?}");
    assert_eq!(failure.message, message);
    assert_eq!(failure.non_retryable, non_retryable, "{failure:?}");
}

/// A payload with exactly this metadata and data.
fn raw(encoding: Option<&str>, data: &[u8]) -> Payload {
    let metadata = encoding
        .map(|encoding| ("encoding".to_owned(), encoding.as_bytes().to_vec()))
        .into_iter()
        .collect();
    Payload::new(metadata, data.to_vec())
}

/// The worker still runs sync and async activities.
async fn assert_still_serves(client: &Client, queue: &str) {
    let sync = start_once(client, StartActivity::new("echo", queue).arg("still here")).await;
    assert_eq!(sync.result::<String>().await.unwrap(), "still here");
    let asynchronous = start_once(
        client,
        StartActivity::new("async_echo", queue).arg("async too"),
    )
    .await;
    assert_eq!(asynchronous.result::<String>().await.unwrap(), "async too");
}

#[tokio::test]
async fn malformed_json_fails_with_a_decode_error() {
    let queue = task_queue("malformed");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start =
        StartActivity::new("echo", &queue).arg_payload(raw(Some("json/plain"), b"\"unterminated"));
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `echo` could not decode argument 0 (`text`): EOF while parsing a string at \
         line 1 column 13",
        true,
    );
    let start = StartActivity::new("add", &queue)
        .arg(&1)
        .arg_payload(raw(Some("json/plain"), b"4 2"));
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `add` could not decode argument 1 (`b`): trailing characters at line 1 \
         column 3",
        true,
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn valid_json_of_the_wrong_type_fails_with_a_decode_error() {
    let queue = task_queue("wrong-type");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start = StartActivity::new("add", &queue).arg(&"forty").arg(&2);
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `add` could not decode argument 0 (`a`): invalid type: string \"forty\", \
         expected i64 at line 1 column 7",
        true,
    );
    // binary/null is JSON null, which an i64 is not.
    let start = StartActivity::new("add", &queue).arg(&1).arg(&());
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `add` could not decode argument 1 (`b`): invalid type: null, expected i64",
        true,
    );
    // A huge wrong value is quoted only in part.
    let start = StartActivity::new("add", &queue)
        .arg(&"x".repeat(100_000))
        .arg(&2);
    let failure = application_failure(&client, start).await;
    assert_eq!(failure.failure_type.as_deref(), Some("PayloadDecodeError"));
    assert!(failure.message.len() < 1200, "{}", failure.message.len());
    assert!(
        failure.message.ends_with(" more bytes)"),
        "{}",
        failure.message
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn an_unknown_encoding_fails_with_a_decode_error() {
    let queue = task_queue("unknown-encoding");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start =
        StartActivity::new("echo", &queue).arg_payload(raw(Some("binary/protobuf"), b"\x0a\x02hi"));
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `echo` could not decode argument 0 (`text`): unsupported payload encoding \
         `binary/protobuf`; expected json/plain or binary/null",
        true,
    );
    let start = StartActivity::new("byte_count", &queue).arg_payload(raw(Some("text/csv"), b"a,b"));
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `byte_count` could not decode argument 0 (`data`): unsupported payload \
         encoding `text/csv`; expected binary/plain, json/plain or binary/null",
        true,
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn a_payload_without_encoding_fails_with_a_decode_error() {
    let queue = task_queue("no-encoding");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start = StartActivity::new("echo", &queue).arg_payload(raw(None, b"\"hi\""));
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `echo` could not decode argument 0 (`text`): the payload has no `encoding` \
         metadata; expected json/plain or binary/null",
        true,
    );
    let start = StartActivity::new("byte_count", &queue).arg_payload(raw(None, b"abc"));
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadDecodeError",
        "activity `byte_count` could not decode argument 0 (`data`): the payload has no \
         `encoding` metadata; expected binary/plain, json/plain or binary/null",
        true,
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn too_few_payloads_fail_with_an_argument_count_error() {
    let queue = task_queue("too-few");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start = StartActivity::new("add", &queue).arg(&1);
    assert_failure(
        &application_failure(&client, start).await,
        "ArgumentCountError",
        "activity `add` takes 2 arguments (a, b) but was given 1",
        true,
    );
    let start = StartActivity::new("echo", &queue);
    assert_failure(
        &application_failure(&client, start).await,
        "ArgumentCountError",
        "activity `echo` takes 1 argument (text) but was given 0",
        true,
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn too_many_payloads_fail_with_an_argument_count_error() {
    let queue = task_queue("too-many");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start = StartActivity::new("add", &queue).arg(&1).arg(&2).arg(&3);
    assert_failure(
        &application_failure(&client, start).await,
        "ArgumentCountError",
        "activity `add` takes 2 arguments (a, b) but was given 3",
        true,
    );
    let start = StartActivity::new("no_arguments", &queue).arg(&1);
    assert_failure(
        &application_failure(&client, start).await,
        "ArgumentCountError",
        "activity `no_arguments` takes no arguments but was given 1",
        true,
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn heartbeat_details_that_fail_to_serialize_fail_the_attempt() {
    let queue = task_queue("heartbeat-unencodable");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let handle = start_once(&client, StartActivity::new("heartbeat_unencodable", &queue)).await;
    let failure = failure_of(&handle).await;
    assert_failure(
        failure.application().expect("an application failure"),
        "PayloadEncodeError",
        "activity `heartbeat_unencodable` could not encode its heartbeat details: this value \
         has no JSON form",
        true,
    );
    let description = handle.describe().await.unwrap();
    assert!(
        description.last_heartbeat_details.is_empty(),
        "nothing was recorded: {:?}",
        description.last_heartbeat_details
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn a_result_that_fails_to_serialize_fails_the_attempt() {
    let queue = task_queue("result-unencodable");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start = StartActivity::new("result_unencodable", &queue);
    assert_failure(
        &application_failure(&client, start).await,
        "PayloadEncodeError",
        "activity `result_unencodable` could not encode its result: this value has no JSON \
         form",
        true,
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn a_panic_inside_a_results_serialize_becomes_a_failure() {
    let queue = task_queue("serialize-panics");
    // One pool thread: if a panic killed it, the sync activities after it would never run.
    let mut options = worker_options(&queue);
    options.blocking_threads = 1;
    options.async_threads = 1;
    let _worker = start_worker(options);
    let client = client().await;

    for activity in ["sync_serialize_panics", "async_serialize_panics"] {
        for _ in 0..2 {
            let start = StartActivity::new(activity, &queue);
            assert_failure(
                &application_failure(&client, start).await,
                "PanicError",
                &format!(
                    "activity `{activity}` panicked while encoding its result: Serialize blew up"
                ),
                false,
            );
        }
    }
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn a_panic_inside_an_arguments_deserialize_becomes_a_failure() {
    let queue = task_queue("deserialize-panics");
    let mut options = worker_options(&queue);
    options.blocking_threads = 1;
    options.async_threads = 1;
    let _worker = start_worker(options);
    let client = client().await;

    for (activity, thread) in [
        ("sync_deserialize_panics", "legwork-blocking-"),
        ("async_deserialize_panics", "legwork-async-"),
    ] {
        for _ in 0..2 {
            let start = StartActivity::new(activity, &queue).arg(&1);
            assert_failure(
                &application_failure(&client, start).await,
                "PanicError",
                &format!(
                    "activity `{activity}` panicked while decoding argument 0 (`_input`): \
                     Deserialize blew up"
                ),
                false,
            );
            // User code, a `Deserialize` included, never runs on the control runtime.
            let ran_on = DESERIALIZED_ON.lock().unwrap().pop().unwrap();
            assert!(ran_on.starts_with(thread), "{activity} decoded on {ran_on}");
        }
    }
    assert_still_serves(&client, &queue).await;
}

/// Three panics in a row from `activity`, each a retryable `PanicError` with its message,
/// on a worker with one thread of the kind the activity runs on; that thread survives.
async fn three_panics_then_still_serves(activity: &str, label: &str, one_async_thread: bool) {
    let queue = task_queue(&format!("{activity}-panics"));
    let mut options = worker_options(&queue);
    if one_async_thread {
        options.async_threads = 1;
    } else {
        options.blocking_threads = 1;
    }
    let _worker = start_worker(options);
    let client = client().await;

    for round in 0..3 {
        let message = format!("{label} panic {round}");
        let start = StartActivity::new(activity, &queue).arg(&message);
        assert_failure(
            &application_failure(&client, start).await,
            "PanicError",
            &format!("activity `{activity}` panicked: {message}"),
            false,
        );
    }
    // The one thread survived all three.
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn a_panic_in_sync_code_becomes_a_failure() {
    three_panics_then_still_serves("sync_panics", "sync", false).await;
}

#[tokio::test]
async fn a_panic_in_async_code_becomes_a_failure() {
    three_panics_then_still_serves("async_panics", "async", true).await;
}

#[tokio::test]
async fn a_panic_inside_run_blocking_becomes_a_failure() {
    three_panics_then_still_serves("panics_in_run_blocking", "blocking", false).await;
}

/// Set by the test once it has asked for the cancellation.
static CANCEL_ASKED: AtomicBool = AtomicBool::new(false);
/// Set by the activity when it returns, long after it saw the cancellation.
static RETURNED_AFTER_CANCEL: AtomicBool = AtomicBool::new(false);

/// Learns of the cancellation, keeps working for 3 s regardless, then stops with `?`.
#[activity]
fn returns_long_after_cancel(ctx: &ActivityContext) -> Result<String, ActivityError> {
    let waited = Instant::now();
    while !CANCEL_ASKED.load(Ordering::SeqCst) && waited.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The first heartbeat goes out at once, and its answer carries the cancel request.
    ctx.heartbeat(&"working")?;
    while !ctx.is_cancelled() && waited.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ctx.is_cancelled(), "the cancel request never arrived");
    std::thread::sleep(Duration::from_secs(3));
    let stopped = ctx.heartbeat(&"stopping");
    RETURNED_AFTER_CANCEL.store(true, Ordering::SeqCst);
    stopped?;
    Ok("finished anyway".to_owned())
}

#[tokio::test]
async fn a_return_long_after_a_cancel_request_is_reported_once() {
    let queue = task_queue("late-after-cancel");
    let worker = start_worker(worker_options(&queue));
    let client = client().await;

    let handle = start_once(
        &client,
        StartActivity::new("returns_long_after_cancel", &queue),
    )
    .await;
    common::wait_until_started(&handle).await;
    handle.cancel("no longer needed").await.unwrap();
    CANCEL_ASKED.store(true, Ordering::SeqCst);
    let failure = failure_of(&handle).await;
    assert!(failure.is_canceled(), "{failure:?}");
    assert!(RETURNED_AFTER_CANCEL.load(Ordering::SeqCst));
    assert_still_serves(&client, &queue).await;

    worker.shutdown();
    let report = worker.join_async().await;
    assert_eq!(
        (report.canceled, report.completed, report.failed),
        (1, 2, 0),
        "one Canceled for the late return, then the two echoes: {report:?}"
    );
}

/// Set by attempt 1 of `returns_after_local_timeout` when it finally returns.
static RETURNED_AFTER_TIMEOUT: AtomicBool = AtomicBool::new(false);

/// Attempt 1 ignores its start-to-close timeout and returns `hold_ms` later; later
/// attempts return their number at once.
#[activity]
fn returns_after_local_timeout(ctx: &ActivityContext, hold_ms: u64) -> u32 {
    if ctx.info().attempt == 1 {
        std::thread::sleep(Duration::from_millis(hold_ms));
        RETURNED_AFTER_TIMEOUT.store(true, Ordering::SeqCst);
    }
    ctx.info().attempt
}

fn two_quick_attempts() -> RetryPolicy {
    {
        let mut policy = RetryPolicy::default();
        policy.initial_interval = Some(Duration::from_millis(100));
        policy.maximum_attempts = Some(2);
        policy
    }
}

#[tokio::test]
async fn a_return_long_after_a_local_timeout_sends_nothing() {
    let queue = task_queue("late-after-timeout");
    let worker = start_worker(worker_options(&queue));
    let client = client().await;

    // Start-to-close 1 s; the worker cancels the attempt locally 5 s later, at 6 s, and
    // attempt 1 returns at 7.5 s. Attempt 2 runs meanwhile, on another pool thread.
    let start = StartActivity::new("returns_after_local_timeout", &queue)
        .arg(&7_500u64)
        .start_to_close_timeout(Duration::from_secs(1))
        .retry_policy(two_quick_attempts());
    let handle = client.start_activity(start).await.unwrap();
    assert_eq!(
        handle.result::<u32>().await.unwrap(),
        2,
        "attempt 2's result"
    );
    assert!(
        !RETURNED_AFTER_TIMEOUT.load(Ordering::SeqCst),
        "attempt 1 still holds its thread"
    );
    let waited = Instant::now();
    while !RETURNED_AFTER_TIMEOUT.load(Ordering::SeqCst) {
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "attempt 1 never returned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_still_serves(&client, &queue).await;

    // Once the worker has stopped, every report it would ever send has been sent: what
    // the server holds now is final.
    worker.shutdown();
    let report = worker.join_async().await;
    assert_eq!(
        (report.completed, report.failed, report.canceled),
        (3, 0, 0),
        "attempt 2 and the two echoes; nothing for attempt 1: {report:?}"
    );
    let description = handle.describe().await.unwrap();
    assert_eq!(description.attempt, 2);
    assert!(
        matches!(
            &description.outcome,
            Some(ActivityOutcome::Completed(Some(_)))
        ),
        "{:?}",
        description.outcome
    );
    assert_eq!(handle.result::<u32>().await.unwrap(), 2);
}

/// Set by attempt 1 of `late_first_attempt` when it returns.
static FIRST_ATTEMPT_RETURNED: AtomicBool = AtomicBool::new(false);

/// Attempt 1 returns 2 s after its start-to-close timeout (before the worker's own 5 s
/// margin); attempt 2 waits until then and returns a little later.
#[activity]
fn late_first_attempt(ctx: &ActivityContext) -> u32 {
    if ctx.info().attempt == 1 {
        std::thread::sleep(Duration::from_millis(4_500));
        FIRST_ATTEMPT_RETURNED.store(true, Ordering::SeqCst);
    } else {
        let waited = Instant::now();
        while !FIRST_ATTEMPT_RETURNED.load(Ordering::SeqCst)
            && waited.elapsed() < Duration::from_millis(2_500)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    ctx.info().attempt
}

#[tokio::test]
async fn a_late_result_of_a_timed_out_attempt_does_not_replace_the_next_attempts() {
    let queue = task_queue("late-result");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let start = StartActivity::new("late_first_attempt", &queue)
        .start_to_close_timeout(Duration::from_secs(3))
        .retry_policy(two_quick_attempts());
    let handle = client.start_activity(start).await.unwrap();
    assert_eq!(
        handle.result::<u32>().await.unwrap(),
        2,
        "the server took attempt 2's result, not attempt 1's late one"
    );
    assert!(FIRST_ATTEMPT_RETURNED.load(Ordering::SeqCst));
    let last_failure = handle.describe().await.unwrap().last_failure;
    assert!(
        last_failure
            .as_ref()
            .is_some_and(ActivityFailure::is_timeout),
        "attempt 1 timed out: {last_failure:?}"
    );
    assert_still_serves(&client, &queue).await;
}

#[tokio::test]
async fn a_result_over_the_size_limit_fails_clearly() {
    let queue = task_queue("too-large");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;

    let bytes = 3 * 1024 * 1024;
    let started = Instant::now();
    let start = StartActivity::new("huge_result", &queue).arg(&bytes);
    let failure = application_failure(&client, start).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed at once, not by timing out: {:?}",
        started.elapsed()
    );
    assert_eq!(
        failure.failure_type.as_deref(),
        Some("PayloadTooLargeError")
    );
    assert!(failure.non_retryable, "{failure:?}");
    let (size, limit) = size_and_limit(&failure.message)
        .unwrap_or_else(|| panic!("names the size and the limit: {}", failure.message));
    assert!(size > bytes, "{}", failure.message);
    assert_eq!(limit, 2 * 1024 * 1024, "{}", failure.message);
    assert!(
        failure.message.contains("huge_result"),
        "names the activity: {}",
        failure.message
    );
    assert_still_serves(&client, &queue).await;
}

/// The numbers in "… is N bytes, over the server's limit of M bytes…".
fn size_and_limit(message: &str) -> Option<(usize, usize)> {
    let (before, after) = message.split_once(" bytes, over the server's limit of ")?;
    let size = before.rsplit(' ').next()?.parse().ok()?;
    let limit = after.split(' ').next()?.parse().ok()?;
    Some((size, limit))
}
