//! Interceptors against a real dev server: order, where they run, what they see and
//! change, and what their failures and panics do.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use legwork::client::StartActivity;
use legwork::interceptor::{
    ActivityInput, ActivityInterceptor, InterceptedFuture, InterceptorChain, NextAsync, NextSync,
};
use legwork::testing::payload;
use legwork::worker::WorkerOptions;
use legwork::{activity, ActivityContext, ActivityError, ActivityInfo, Payload};

use common::{client, failure_of, server, start_once, start_worker, task_queue, worker_options};

/// What the interceptors and activities of one test saw, in order.
type Log = Arc<Mutex<Vec<String>>>;

fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

fn text(payload: &Payload) -> String {
    serde_json::from_slice(&payload.data).expect("a JSON string")
}

/// Logs `name>` on the way in and `<name` on the way out, with the thread it ran on.
struct Recorder {
    name: &'static str,
    log: Log,
}

impl Recorder {
    fn note(&self, event: String) {
        self.log.lock().unwrap().push(event);
    }
}

impl ActivityInterceptor for Recorder {
    fn execute_sync(
        &self,
        input: ActivityInput,
        next: NextSync<'_>,
    ) -> Result<Payload, ActivityError> {
        self.note(format!("{}> {}", self.name, thread_name()));
        let outcome = next.run(input);
        self.note(format!("<{} {}", self.name, thread_name()));
        outcome
    }

    fn execute_async(&self, input: ActivityInput, next: NextAsync) -> InterceptedFuture<'_> {
        Box::pin(async move {
            self.note(format!("{}> {}", self.name, thread_name()));
            let outcome = next.run(input).await;
            self.note(format!("<{} {}", self.name, thread_name()));
            outcome
        })
    }
}

/// Returns the thread it ran on.
#[activity]
fn icpt_sync_thread() -> String {
    thread_name()
}

#[activity(async)]
async fn icpt_async_thread() -> String {
    tokio::task::yield_now().await;
    thread_name()
}

fn recording_worker(queue: &str, log: &Log) -> legwork::worker::RunningWorker {
    let mut options = worker_options(queue);
    options.interceptors = InterceptorChain::new()
        .then(Recorder {
            name: "outer",
            log: log.clone(),
        })
        .then(Recorder {
            name: "inner",
            log: log.clone(),
        });
    start_worker(options)
}

/// The log's events with the thread names checked against `prefix` and removed.
fn events_on(log: &Log, prefix: &str) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .map(|entry| {
            let (event, thread) = entry.split_once(' ').unwrap();
            assert!(
                thread.starts_with(prefix),
                "`{event}` ran on `{thread}`, not a {prefix}N thread"
            );
            event.to_owned()
        })
        .collect()
}

#[tokio::test]
async fn sync_chain_runs_in_order_on_the_activitys_pool_thread() {
    let queue = task_queue("icpt-sync");
    let log = Log::default();
    let _worker = recording_worker(&queue, &log);
    let handle = start_once(
        &client().await,
        StartActivity::new("icpt_sync_thread", &queue),
    )
    .await;
    let activity_thread: String = handle.result().await.unwrap();
    assert!(activity_thread.starts_with("legwork-blocking-"));
    assert_eq!(
        events_on(&log, "legwork-blocking-"),
        ["outer>", "inner>", "<inner", "<outer"]
    );
    // The very thread that ran the activity, not merely one of the pool's.
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .all(|e| e.ends_with(&activity_thread)));
}

#[tokio::test]
async fn async_chain_runs_in_order_on_the_event_loop() {
    let queue = task_queue("icpt-async");
    let log = Log::default();
    let _worker = recording_worker(&queue, &log);
    let handle = start_once(
        &client().await,
        StartActivity::new("icpt_async_thread", &queue),
    )
    .await;
    let activity_thread: String = handle.result().await.unwrap();
    assert!(activity_thread.starts_with("legwork-async-"));
    assert_eq!(
        events_on(&log, "legwork-async-"),
        ["outer>", "inner>", "<inner", "<outer"]
    );
}

/// Replaces the argument, shows the activity a changed info, wraps the result, and refuses
/// the argument "refuse" without running the activity.
struct Rewrite {
    ran: Log,
}

impl ActivityInterceptor for Rewrite {
    fn execute_sync(
        &self,
        mut input: ActivityInput,
        next: NextSync<'_>,
    ) -> Result<Payload, ActivityError> {
        let arg = text(&input.args[0]);
        if arg == "refuse" {
            return Err(ActivityError::new("refused by the interceptor")
                .with_type("Refused")
                .non_retryable());
        }
        input.args[0] = payload(&format!("{arg}, rewritten"));
        input.map_info(|info| info.workflow_type = Some("set-by-interceptor".to_owned()));
        let result = text(&next.run(input)?);
        self.ran.lock().unwrap().push(result.clone());
        Ok(payload(&format!("[{result}]")))
    }
}

#[activity]
fn icpt_echo(ctx: &ActivityContext, s: String) -> String {
    let seen = ctx.info().workflow_type.as_deref().unwrap_or("none");
    format!("{s} ({seen})")
}

#[tokio::test]
async fn inbound_changes_arguments_info_and_result_and_can_fail_the_attempt() {
    let queue = task_queue("icpt-rewrite");
    let ran = Log::default();
    let mut options = worker_options(&queue);
    options.interceptors = InterceptorChain::new().then(Rewrite { ran: ran.clone() });
    let _worker = start_worker(options);
    let client = client().await;

    let handle = start_once(&client, StartActivity::new("icpt_echo", &queue).arg("hi")).await;
    let result: String = handle.result().await.unwrap();
    assert_eq!(result, "[hi, rewritten (set-by-interceptor)]");

    let handle = start_once(
        &client,
        StartActivity::new("icpt_echo", &queue).arg("refuse"),
    )
    .await;
    let failure = failure_of(&handle).await;
    let cause = failure.application().expect("an application failure");
    assert_eq!(cause.message, "refused by the interceptor");
    assert_eq!(cause.failure_type.as_deref(), Some("Refused"));
    assert!(cause.non_retryable);
    assert_eq!(*ran.lock().unwrap(), ["hi, rewritten (set-by-interceptor)"]);
}

/// Reads the `tenant` header: appends it to the result.
struct Tenant;

impl ActivityInterceptor for Tenant {
    fn execute_sync(
        &self,
        input: ActivityInput,
        next: NextSync<'_>,
    ) -> Result<Payload, ActivityError> {
        let tenant = input
            .headers
            .get("tenant")
            .map(text)
            .ok_or_else(|| ActivityError::new("no tenant header").non_retryable())?;
        let result = text(&next.run(input)?);
        Ok(payload(&format!("{result}@{tenant}")))
    }
}

#[activity]
fn icpt_plain(s: String) -> String {
    s
}

#[test]
fn inbound_sees_the_headers_a_python_workflow_sent() {
    let queue = task_queue("icpt-headers");
    let mut options = worker_options(&queue);
    options.interceptors = InterceptorChain::new().then(Tenant);
    let _worker = start_worker(options);
    let args = vec![
        server().address(),
        task_queue("icpt-headers-wf"),
        queue,
        "icpt_plain".to_owned(),
        "acme".to_owned(),
        r#"["order-7"]"#.to_owned(),
    ];
    let printed = common::python::run_script("header_workflow.py", &args);
    assert_eq!(printed["error"], serde_json::Value::Null, "{printed}");
    assert_eq!(printed["result"], "order-7@acme");
}

/// Sees every heartbeat, and scales its details by 100 on their way to the server.
struct Heartbeats {
    seen: Log,
}

impl ActivityInterceptor for Heartbeats {
    fn heartbeat(&self, info: &ActivityInfo, details: &mut Payload) {
        let value: u64 = serde_json::from_slice(&details.data).unwrap();
        self.seen
            .lock()
            .unwrap()
            .push(format!("{} {value} {}", info.activity_type, thread_name()));
        *details = payload(&(value * 100));
    }
}

/// Heartbeats three times, then fails: a failure carries the last heartbeat's details to
/// the server, so what the server holds is known without waiting for the throttle.
#[activity]
fn icpt_heartbeats(ctx: &ActivityContext) -> Result<(), ActivityError> {
    for i in 1..=3u64 {
        ctx.heartbeat(&i)?;
    }
    Err(ActivityError::new("done heartbeating").non_retryable())
}

#[tokio::test]
async fn outbound_sees_and_changes_heartbeats_on_the_activitys_thread() {
    let queue = task_queue("icpt-heartbeat");
    let seen = Log::default();
    let mut options = worker_options(&queue);
    options.interceptors = InterceptorChain::new().then(Heartbeats { seen: seen.clone() });
    let _worker = start_worker(options);
    let handle = start_once(
        &client().await,
        StartActivity::new("icpt_heartbeats", &queue).heartbeat_timeout(Duration::from_secs(1)),
    )
    .await;
    let failure = failure_of(&handle).await;
    assert_eq!(failure.message, "done heartbeating");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (i, entry) in seen.iter().enumerate() {
        assert!(
            entry.starts_with(&format!("icpt_heartbeats {} legwork-blocking-", i + 1)),
            "{entry}"
        );
    }
    // What the server holds went through the interceptor.
    let details = handle.describe().await.unwrap().last_heartbeat_details;
    let sent: Vec<u64> = details
        .iter()
        .map(|p| serde_json::from_slice(&p.data).unwrap())
        .collect();
    assert_eq!(
        sent,
        [300],
        "the last heartbeat, as the interceptor changed it"
    );
}

/// Panics on the argument "boom", in sync and async activities alike.
struct Boom;

impl ActivityInterceptor for Boom {
    fn execute_sync(
        &self,
        input: ActivityInput,
        next: NextSync<'_>,
    ) -> Result<Payload, ActivityError> {
        if input.args.first().map(text).as_deref() == Some("boom") {
            panic!("the interceptor exploded");
        }
        next.run(input)
    }

    fn execute_async(&self, input: ActivityInput, next: NextAsync) -> InterceptedFuture<'_> {
        Box::pin(async move {
            if input.args.first().map(text).as_deref() == Some("boom") {
                panic!("the async interceptor exploded");
            }
            next.run(input).await
        })
    }
}

#[activity(async)]
async fn icpt_async_plain(s: String) -> String {
    s
}

#[tokio::test]
async fn a_panicking_interceptor_fails_only_that_attempt() {
    let queue = task_queue("icpt-panic");
    let mut options: WorkerOptions = worker_options(&queue);
    options.interceptors = InterceptorChain::new().then(Boom);
    let _worker = start_worker(options);
    let client = client().await;
    for (activity, message) in [
        ("icpt_plain", "the interceptor exploded"),
        ("icpt_async_plain", "the async interceptor exploded"),
    ] {
        let handle = start_once(&client, StartActivity::new(activity, &queue).arg("boom")).await;
        let failure = failure_of(&handle).await;
        let cause = failure.application().expect("an application failure");
        assert_eq!(
            cause.failure_type.as_deref(),
            Some("PanicError"),
            "{cause:?}"
        );
        assert!(cause.message.contains(message), "{}", cause.message);
        // The same worker still serves the next attempt.
        let handle = start_once(&client, StartActivity::new(activity, &queue).arg("fine")).await;
        assert_eq!(handle.result::<String>().await.unwrap(), "fine");
    }
}
