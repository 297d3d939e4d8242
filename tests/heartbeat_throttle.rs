//! 10,000 heartbeats become a handful of calls; counted by the worker and by the server.
//! Its own test binary, so that no other test's heartbeats reach this server.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use legwork::client::{Client, StartActivity};
use legwork::testing::DevServer;
use legwork::worker::{Worker, WorkerOptions};
use legwork::{activity, ActivityContext, ActivityError};

/// Heartbeats 10,000 times over about four seconds, then completes.
#[activity]
fn chatty(ctx: &ActivityContext) -> Result<u32, ActivityError> {
    let began = Instant::now();
    for i in 0..10_000u32 {
        ctx.heartbeat(&i)?;
        thread::sleep(Duration::from_micros(400));
    }
    assert!(began.elapsed() >= Duration::from_secs(4));
    Ok(10_000)
}

/// `service_requests{operation="RecordActivityTaskHeartbeat",service_name="frontend"}`.
fn heartbeat_calls_seen_by(server: &DevServer) -> u64 {
    let url = server.metrics_url().expect("metrics are on");
    let body = common::http::get_url(&url).body;
    let labels = [
        "operation=\"RecordActivityTaskHeartbeat\"",
        "service_name=\"frontend\"",
    ];
    common::prom::sum(&body, "service_requests", &labels) as u64
}

#[test]
fn ten_thousand_heartbeats_make_a_handful_of_calls() {
    let server = DevServer::builder().metrics(true).start().unwrap();
    let mut options = WorkerOptions::new("chatty");
    options.connection.address = server.address();
    let worker = Worker::new(options).start().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let before = heartbeat_calls_seen_by(&server);

    let result = runtime.block_on(async {
        let client = Client::connect(&server.address(), "default").await.unwrap();
        let start = StartActivity::new("chatty", "chatty")
            .max_attempts(1)
            .heartbeat_timeout(Duration::from_secs(2));
        client
            .start_activity(start)
            .await
            .unwrap()
            .result::<u32>()
            .await
    });
    assert_eq!(result.unwrap(), 10_000);

    worker.shutdown();
    let report = worker.join();
    // The server publishes its counters periodically: wait for them to settle.
    let mut seen_by_server = heartbeat_calls_seen_by(&server) - before;
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen_by_server < report.heartbeats_sent && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
        seen_by_server = heartbeat_calls_seen_by(&server) - before;
    }
    println!(
        "10000 heartbeats over ~4 s: worker sent {} calls, server counted {seen_by_server}",
        report.heartbeats_sent
    );
    // One at once, then one per 1.6 s window: 3 or 4 over four seconds.
    assert!((2..=5).contains(&report.heartbeats_sent), "{report:?}");
    assert_eq!(seen_by_server, report.heartbeats_sent);
}
