//! Priority and fairness: what a standalone activity started with a priority sees in
//! `ctx.info()`, on the default dev server and with the fairness matcher on. (A Python
//! workflow's activity: tests/operator.rs.)

mod common;

use legwork::client::StartActivity;
use legwork::{activity, ActivityContext, Priority};

use common::{client, start_worker, task_queue, worker_options};

/// The priority the attempt was dispatched with.
#[activity]
fn priority_of(ctx: &ActivityContext) -> (Option<u32>, Option<String>, Option<f32>) {
    let priority = &ctx.info().priority;
    (
        priority.priority_key,
        priority.fairness_key.clone(),
        priority.fairness_weight,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standalone_activity_sees_the_priority_it_was_started_with() {
    let queue = task_queue("priority");
    let _worker = start_worker(worker_options(&queue));
    let client = client().await;
    let mut priority = Priority::default();
    priority.priority_key = Some(2);
    priority.fairness_key = Some("tenant-a".into());
    priority.fairness_weight = Some(1.5);
    let handle = client
        .start_activity(StartActivity::new("priority_of", &queue).priority(priority.clone()))
        .await
        .unwrap();
    let seen: (Option<u32>, Option<String>, Option<f32>) = handle.result().await.unwrap();
    assert_eq!(seen, (Some(2), Some("tenant-a".to_owned()), Some(1.5)));
    assert_eq!(handle.describe().await.unwrap().options.priority, priority);

    // Without one, nothing is set: the server's defaults are not reported as values.
    let plain = client
        .start_activity(StartActivity::new("priority_of", &queue))
        .await
        .unwrap();
    let seen: (Option<u32>, Option<String>, Option<f32>) = plain.result().await.unwrap();
    assert_eq!(seen, (None, None, None));
}

/// With the fairness matcher on (off by default; the keys travel either way), tasks still
/// reach the worker with their priority.
#[tokio::test(flavor = "multi_thread")]
async fn the_priority_survives_the_fairness_matcher() {
    let server = tokio::task::spawn_blocking(|| {
        legwork::testing::DevServer::builder()
            .extra_args(["--dynamic-config-value", "matching.enableFairness=true"])
            .start()
            .expect("a dev server with fairness starts")
    })
    .await
    .unwrap();
    let queue = task_queue("fairness");
    let mut options = worker_options(&queue);
    options.connection.address = server.address();
    let _worker = start_worker(options);
    let client = legwork::client::Client::connect(&server.address(), server.namespace())
        .await
        .unwrap();
    let mut priority = Priority::default();
    priority.priority_key = Some(4);
    priority.fairness_key = Some("tenant-c".into());
    priority.fairness_weight = Some(0.5);
    let handle = client
        .start_activity(StartActivity::new("priority_of", &queue).priority(priority))
        .await
        .unwrap();
    let seen: (Option<u32>, Option<String>, Option<f32>) = handle.result().await.unwrap();
    assert_eq!(seen, (Some(4), Some("tenant-c".to_owned()), Some(0.5)));
}
