//! `/metrics` of a real worker against a real server, scraped over HTTP: sdk-core's names,
//! labels and buckets, legwork's own series, and every name the core dashboard queries.

mod common;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use legwork::client::StartActivity;
use legwork::worker::RunningWorker;
use legwork::{activity, ActivityContext, ActivityError};

use common::http::get;
use common::{client, start_once, start_worker, task_queue, wait_until_started, worker_options};

/// What Temporal's `temporal-core-sdks-otel.json` dashboard queries.
const DASHBOARD: &[&str] = &[
    "temporal_request",
    "temporal_request_failure",
    "temporal_request_latency_bucket",
    "temporal_long_request_failure",
    "temporal_long_request_latency_bucket",
    "temporal_activity_schedule_to_start_latency_count",
    "temporal_activity_execution_failed",
    "temporal_activity_execution_latency_bucket",
    "temporal_activity_poll_no_task",
    "temporal_activity_schedule_to_start_latency_bucket",
    "temporal_worker_task_slots_available",
    "temporal_worker_task_slots_used",
];

#[activity]
fn metered_sync(x: i64) -> i64 {
    x + 1
}

#[activity(async)]
async fn metered_async(x: i64) -> i64 {
    x * 2
}

#[activity]
fn metered_fails() -> Result<(), ActivityError> {
    Err(ActivityError::new("boom"))
}

#[activity]
fn metered_benign() -> Result<(), ActivityError> {
    Err(ActivityError::new("expected").benign())
}

#[activity]
fn metered_panics() {
    panic!("on purpose")
}

/// Holds its event-loop thread past the stall threshold once.
#[activity(async)]
async fn metered_stalls() {
    let until = Instant::now() + Duration::from_millis(150);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Outlives its start-to-close timeout, so that its completion is refused.
#[activity]
fn metered_late() -> u32 {
    thread::sleep(Duration::from_millis(2500));
    1
}

/// 100 heartbeats in a burst: the throttle sends the first, the other 99 are coalesced.
#[activity]
fn metered_heartbeats(ctx: &ActivityContext) -> Result<(), ActivityError> {
    for i in 0..100u32 {
        ctx.heartbeat(&i)?;
    }
    Ok(())
}

#[activity(async)]
async fn metered_until_cancelled(ctx: &ActivityContext) -> Result<(), ActivityError> {
    for i in 0..3000u32 {
        ctx.heartbeat(&i)?;
        tokio::select! {
            reason = ctx.cancelled() => return Err(ActivityError::cancelled(reason)),
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    Ok(())
}

fn metered_worker(queue: &str) -> (RunningWorker, SocketAddr) {
    let mut options = worker_options(queue);
    options.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let worker = start_worker(options);
    let address = worker.metrics_address().expect("metrics are served");
    assert_ne!(address.port(), 0, "the bound port is told");
    (worker, address)
}

fn scrape(address: SocketAddr) -> String {
    let reply = get(address, "/metrics");
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert!(
        reply
            .head
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        reply.head
    );
    reply.body
}

/// The value of the one series `name` whose labels include `labels`, if any.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let found = common::prom::series(text, name, &labels);
    assert!(
        found.len() <= 1,
        "{name} {labels:?} is ambiguous: {found:?}"
    );
    found.first().copied()
}

fn expect(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
}

/// A series of that name, or its family declared (a counter nothing has incremented).
fn exported(text: &str, name: &str) -> bool {
    let family = ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name);
    text.lines().any(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            || line.starts_with(&format!("# TYPE {family} "))
    })
}

async fn run_every_kind(queue: &str) {
    let client = client().await;
    let mut handles = Vec::new();
    for (activity, arg) in [
        ("metered_sync", Some(1)),
        ("metered_async", Some(2)),
        ("metered_fails", None),
        ("metered_benign", None),
        ("metered_panics", None),
        ("metered_stalls", None),
        ("nobody_serves_this", None),
    ] {
        let start = StartActivity::new(activity, queue);
        let start = match arg {
            Some(arg) => start.arg(&arg),
            None => start,
        };
        handles.push(start_once(&client, start).await);
    }
    let late = StartActivity::new("metered_late", queue)
        .max_attempts(1)
        .start_to_close_timeout(Duration::from_secs(1));
    handles.push(client.start_activity(late).await.unwrap());
    let heartbeats = StartActivity::new("metered_heartbeats", queue)
        .max_attempts(1)
        .heartbeat_timeout(Duration::from_secs(30));
    handles.push(client.start_activity(heartbeats).await.unwrap());
    let cancelled = StartActivity::new("metered_until_cancelled", queue)
        .max_attempts(1)
        .heartbeat_timeout(Duration::from_secs(2));
    let cancelled = client.start_activity(cancelled).await.unwrap();
    wait_until_started(&cancelled).await;
    cancelled.cancel("no longer needed").await.unwrap();
    handles.push(cancelled);
    for handle in &handles {
        handle.outcome().await.unwrap();
    }
}

/// Scrapes until `done` holds (10 s at most), and returns that scrape.
async fn scrape_until(address: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(address);
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never came to pass:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_worker_exports_core_names_labels_and_buckets() {
    let queue = task_queue("metrics");
    let (worker, address) = metered_worker(&queue);
    run_every_kind(&queue).await;
    // The late attempt's completion, refused after its timeout, is the last report.
    let refused = [
        ("operation", "RespondActivityTaskCompleted"),
        ("status_code", "NOT_FOUND"),
    ];
    let text = scrape_until(address, |text| {
        value(text, "temporal_request_failure", &refused).is_some()
    })
    .await;
    assert_eq!(get(address, "/other").status, 404);
    drop(worker);

    let base = [
        ("namespace", "default"),
        ("task_queue", queue.as_str()),
        ("service_name", "legwork"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        base.iter().chain(extra).copied().collect()
    };
    let of = |activity: &'static str| with(&[("activity_type", activity), ("workflow_type", "")]);
    let count = |name: &str, labels: &[(&str, &str)]| expect(&text, name, labels);

    for activity in [
        "metered_sync",
        "metered_async",
        "metered_fails",
        "metered_panics",
    ] {
        let mut labels = of(activity);
        labels.push(("eager", "false"));
        assert_eq!(
            count("temporal_activity_task_received", &labels),
            1.0,
            "{activity}"
        );
    }
    let failed = "temporal_activity_execution_failed";
    assert_eq!(count(failed, &of("metered_fails")), 1.0);
    // sdk-core's label: an activity's own failure is `ActivityError`.
    let mut own_failure = of("metered_fails");
    own_failure.push(("failure_reason", "ActivityError"));
    assert_eq!(count(failed, &own_failure), 1.0);
    assert_eq!(count(failed, &of("metered_panics")), 1.0);
    assert_eq!(
        value(&text, failed, &of("metered_benign")).unwrap_or(0.0),
        0.0
    );
    assert_eq!(
        value(&text, failed, &of("metered_sync")).unwrap_or(0.0),
        0.0
    );
    let task_error = "temporal_activity_task_error";
    assert_eq!(count(task_error, &of("metered_panics")), 1.0);
    assert_eq!(
        value(&text, task_error, &of("metered_fails")).unwrap_or(0.0),
        0.0
    );
    let cancelled = "temporal_activity_execution_cancelled";
    assert_eq!(count(cancelled, &of("metered_until_cancelled")), 1.0);
    let unregistered = "temporal_unregistered_activity_invocation";
    assert_eq!(count(unregistered, &of("nobody_serves_this")), 1.0);
    assert_eq!(count("temporal_worker_start", &base), 1.0);
    assert!(exported(&text, "temporal_activity_poll_no_task"));

    // Histograms: ms buckets, `_sum` and `_count`, no unit suffix.
    let latency = "temporal_activity_execution_latency";
    let mut first_bucket = of("metered_sync");
    first_bucket.push(("le", "50"));
    assert!(count(&format!("{latency}_bucket"), &first_bucket) <= 1.0);
    let mut last_bucket = of("metered_sync");
    last_bucket.push(("le", "60000"));
    assert_eq!(count(&format!("{latency}_bucket"), &last_bucket), 1.0);
    assert_eq!(count(&format!("{latency}_count"), &of("metered_sync")), 1.0);
    assert!(count(&format!("{latency}_sum"), &of("metered_late")) >= 2500.0);
    let end_to_end = "temporal_activity_succeed_endtoend_latency_count";
    assert_eq!(count(end_to_end, &of("metered_async")), 1.0);
    assert_eq!(
        value(&text, end_to_end, &of("metered_fails")).unwrap_or(0.0),
        0.0
    );
    let to_start = "temporal_activity_schedule_to_start_latency";
    assert!(count(&format!("{to_start}_count"), &base) >= 9.0);
    // Buckets are cumulative: a narrower one never holds more than a wider one.
    let narrow = count(&format!("{to_start}_bucket"), &with(&[("le", "100")]));
    let wide = count(&format!("{to_start}_bucket"), &with(&[("le", "1000000")]));
    assert!(wide >= 9.0 && narrow <= wide, "{narrow} > {wide}");

    // Gauges.
    let slots = with(&[("worker_type", "ActivityWorker")]);
    let available = count("temporal_worker_task_slots_available", &slots);
    let used = count("temporal_worker_task_slots_used", &slots);
    assert!(
        used >= 0.0 && available + used == 100.0,
        "{available} + {used}"
    );
    let pollers = count(
        "temporal_num_pollers",
        &with(&[("poller_type", "activity_task")]),
    );
    assert!((0.0..=5.0).contains(&pollers), "{pollers}");

    // RPCs: labelled with the operation, the poll with its task queue, failures with the code.
    let rpc = |operation| vec![("namespace", "default"), ("operation", operation)];
    let completed = count("temporal_request", &rpc("RespondActivityTaskCompleted"));
    assert!(completed >= 3.0, "{completed}");
    assert!(count("temporal_request", &rpc("RespondActivityTaskFailed")) >= 4.0);
    assert!(count("temporal_request", &rpc("RespondActivityTaskCanceled")) >= 1.0);
    assert!(count("temporal_request", &rpc("RecordActivityTaskHeartbeat")) >= 1.0);
    assert_eq!(count("temporal_request", &rpc("DescribeNamespace")), 1.0);
    assert_eq!(count("temporal_request_failure", &refused), 1.0);
    let mut poll = rpc("PollActivityTaskQueue");
    poll.push(("task_queue", queue.as_str()));
    assert!(count("temporal_long_request", &poll) >= 9.0);
    let mut poll_bucket = poll.clone();
    poll_bucket.push(("le", "50"));
    let within_50 = count("temporal_long_request_latency_bucket", &poll_bucket);
    let polls = count("temporal_long_request_latency_count", &poll);
    assert!(within_50 <= polls, "{within_50} of {polls} polls");
    let mut request_bucket = rpc("RespondActivityTaskCompleted");
    request_bucket.push(("le", "10000"));
    assert!(count("temporal_request_latency_bucket", &request_bucket) >= 3.0);
    assert!(count("temporal_request_latency_count", &rpc("DescribeNamespace")) == 1.0);

    // legwork's own.
    let stalls = with(&[("activity_type", "metered_stalls")]);
    assert_eq!(count("legwork_stalled_polls", &stalls), 1.0);
    assert_eq!(count("legwork_stall_duration_count", &stalls), 1.0);
    assert!(count("legwork_event_loop_lag_count", &base) >= 1.0);
    assert!(count("legwork_control_loop_lag_count", &base) >= 1.0);
    assert!(count("legwork_heartbeats_sent", &base) >= 1.0);
    // The burst's 99 heartbeats after the first; the cancelled one may add a few.
    assert!(count("legwork_heartbeats_coalesced", &base) >= 99.0);
    // A gauge of threads: a whole number, at most the pool's threads (100 by default).
    let busy = count("legwork_blocking_threads_busy", &base);
    assert!(
        busy.fract() == 0.0 && (0.0..=100.0).contains(&busy),
        "{busy}"
    );

    for name in DASHBOARD {
        assert!(exported(&text, name), "the dashboard's {name} is missing");
    }
    assert!(!text.contains("_total"), "no _total suffix:\n{text}");
}

/// A poll the server refuses shows as `long_request_failure` with its code.
#[tokio::test]
async fn refused_polls_are_long_request_failures() {
    // The server refuses task queues under the reserved `/_sys/` prefix.
    let queue = format!("/_sys/{}", task_queue("refused"));
    let (worker, address) = metered_worker(&queue);
    let labels = [
        ("namespace", "default"),
        ("operation", "PollActivityTaskQueue"),
        ("task_queue", queue.as_str()),
        ("status_code", "INVALID_ARGUMENT"),
    ];
    scrape_until(address, |text| {
        value(text, "temporal_long_request_failure", &labels).is_some_and(|n| n >= 1.0)
    })
    .await;
    drop(worker);
}

#[test]
fn a_taken_address_stops_the_worker_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut options = worker_options(&task_queue("taken"));
    options.metrics_bind = Some(taken.local_addr().unwrap());
    let error = legwork::worker::Worker::new(options)
        .start()
        .err()
        .expect("the worker does not start");
    let message = error.to_string();
    assert!(
        message.contains(&taken.local_addr().unwrap().to_string()),
        "{message}"
    );
}

#[test]
fn a_client_trickling_its_headers_is_cut_off_while_others_are_served() {
    use std::io::{Read, Write};
    let queue = task_queue("slowloris");
    let (_worker, address) = metered_worker(&queue);
    let mut slow = std::net::TcpStream::connect(address).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    let began = Instant::now();
    let mut served = 0;
    let mut closed_after = None;
    for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "
        .iter()
        .cycle()
    {
        // One byte a second, as a slowloris client sends; the read waits out the second
        // and sees the server close the connection when it does.
        if slow.write_all(&[*byte]).is_err() {
            closed_after = Some(began.elapsed());
            break;
        }
        let mut answer = [0u8; 256];
        match slow.read(&mut answer) {
            Ok(0) => {
                closed_after = Some(began.elapsed());
                break;
            }
            Ok(_) => panic!("the server answered a request whose head never ended"),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed_after = Some(began.elapsed());
                break;
            }
        }
        // Meanwhile /metrics answers everyone else at once.
        assert!(scrape(address).contains("temporal_"), "others are served");
        served += 1;
        assert!(began.elapsed() < Duration::from_secs(30), "never cut off");
    }
    let closed_after = closed_after.unwrap();
    eprintln!("cut off after {closed_after:?}; {served} other scrapes served meanwhile");
    assert!(closed_after >= Duration::from_secs(9), "{closed_after:?}");
    assert!(closed_after <= Duration::from_secs(13), "{closed_after:?}");
    assert!(served >= 5);
}
