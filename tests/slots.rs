//! Slots against a real dev server: per-activity-type limits (`#[activity(max_concurrent)]`
//! and `WorkerOptions::activity_limits`) hold while other types keep running, and a
//! worker with resource-based slots serves activities.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use legwork::activity;
use legwork::client::{ActivityHandle, ActivityOutcome, Client, StartActivity};
use legwork::worker::{ResourceBasedSlots, Slots, Worker};

use common::{client, start_once, start_worker, task_queue, wait_until_started, worker_options};

/// Attempts of one activity running now, and the most seen at once, from inside them.
struct Concurrency {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Concurrency {
    const fn new() -> Self {
        Concurrency {
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn run(&self, work: Duration) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(work);
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

static HEAVY: Concurrency = Concurrency::new();
static OVERRIDDEN: Concurrency = Concurrency::new();
/// When each light activity and each heavy one ended.
static LIGHT_ENDS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
static HEAVY_ENDS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[activity(max_concurrent = 2)]
fn slots_heavy() {
    HEAVY.run(Duration::from_millis(250));
    HEAVY_ENDS.lock().unwrap().push(Instant::now());
}

#[activity(async)]
async fn slots_light() {
    tokio::time::sleep(Duration::from_millis(20)).await;
    LIGHT_ENDS.lock().unwrap().push(Instant::now());
}

/// Limited by the worker's options only.
#[activity]
fn slots_overridden() {
    OVERRIDDEN.run(Duration::from_millis(150));
}

/// Runs 1.5 s whatever happens, inside the 2 s grace of the tests' workers.
#[activity]
fn slots_long() {
    std::thread::sleep(Duration::from_millis(1500));
}

#[activity(async)]
async fn slots_echo(value: u32) -> u32 {
    value
}

async fn start_many(
    client: &Client,
    activity: &str,
    queue: &str,
    count: usize,
) -> Vec<ActivityHandle> {
    let mut handles = Vec::new();
    for i in 0..count {
        let start = StartActivity::new(activity, queue)
            .id(format!("{queue}-{activity}-{i}"))
            .start_to_close_timeout(Duration::from_secs(60));
        handles.push(
            client
                .start_activity(start)
                .await
                .expect("the activity starts"),
        );
    }
    handles
}

#[tokio::test]
async fn a_type_limit_of_two_holds_while_other_types_keep_running() {
    let queue = task_queue("slots-limit");
    let client = client().await;
    // The heavy backlog is queued first: every poll brings heavy tasks until it is drained.
    let heavy = start_many(&client, "slots_heavy", &queue, 20).await;
    let worker = start_worker(worker_options(&queue));
    // Light ones arrive while the heavy ones run, two at a time, for about 2.5 s.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let light = start_many(&client, "slots_light", &queue, 10).await;
    for handle in &light {
        handle
            .result::<()>()
            .await
            .expect("a light activity completes");
    }
    for handle in &heavy {
        handle
            .result::<()>()
            .await
            .expect("a heavy activity completes");
    }
    drop(worker);
    let light_done = *LIGHT_ENDS.lock().unwrap().iter().max().unwrap();
    let heavy_done = *HEAVY_ENDS.lock().unwrap().iter().max().unwrap();
    eprintln!(
        "peak heavy concurrency {}; light done {:?} before the last heavy",
        HEAVY.peak(),
        heavy_done.saturating_duration_since(light_done)
    );
    assert_eq!(
        HEAVY.peak(),
        2,
        "at most 2 heavy at once, and the limit was reached"
    );
    assert!(
        light_done + Duration::from_millis(500) < heavy_done,
        "the light activities waited for the heavy backlog"
    );
}

#[tokio::test]
async fn the_worker_option_limits_a_type_without_the_attribute() {
    let queue = task_queue("slots-option");
    let client = client().await;
    let handles = start_many(&client, "slots_overridden", &queue, 12).await;
    let mut options = worker_options(&queue);
    options
        .activity_limits
        .insert("slots_overridden".to_owned(), 3);
    let worker = start_worker(options);
    for handle in &handles {
        handle.result::<()>().await.expect("the activity completes");
    }
    drop(worker);
    assert_eq!(OVERRIDDEN.peak(), 3);
}

#[tokio::test]
async fn tasks_waiting_for_their_type_are_handed_back_at_once_on_shutdown() {
    let queue = task_queue("slots-shutdown");
    let client = client().await;
    let mut options = worker_options(&queue);
    options.activity_limits.insert("slots_long".to_owned(), 1);
    let worker = start_worker(options);
    let mut handles = Vec::new();
    for i in 0..3 {
        let start = StartActivity::new("slots_long", &queue).id(format!("{queue}-{i}"));
        handles.push(start_once(&client, start).await);
    }
    // All three are held by the worker: one runs, two wait for the type's permit.
    for handle in &handles {
        wait_until_started(handle).await;
    }
    let shutdown = Instant::now();
    worker.shutdown();
    let mut outcomes = tokio::task::JoinSet::new();
    for handle in handles {
        // The running one completes 1.5 s after it started; the others fail at once.
        outcomes.spawn(async move {
            let outcome = tokio::time::timeout(Duration::from_millis(1000), handle.outcome());
            (outcome.await, shutdown.elapsed())
        });
    }
    let mut handed_back = Vec::new();
    while let Some(joined) = outcomes.join_next().await {
        if let (Ok(Ok(ActivityOutcome::Failed(failure))), after) = joined.unwrap() {
            assert_eq!(
                failure.failure_type.as_deref(),
                Some("WorkerShutdown"),
                "{failure:?}"
            );
            handed_back.push(after);
        }
    }
    eprintln!("handed back after {handed_back:?}");
    let handed_back = handed_back.len();
    assert_eq!(
        handed_back, 2,
        "the two waiting tasks were not handed back at once"
    );
    let report = worker.join_async().await;
    assert_eq!((report.completed, report.failed), (1, 2), "{report:?}");
}

#[test]
fn a_limit_on_a_type_not_served_stops_the_worker_at_start() {
    let mut options = worker_options(&task_queue("slots-unknown"));
    options.activity_limits.insert("slots_hevy".to_owned(), 2);
    let started = Instant::now();
    let error = Worker::new(options)
        .start()
        .err()
        .expect("the worker refuses")
        .to_string();
    assert!(
        error.contains("`slots_hevy`") && error.contains("slots_heavy"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "it failed before connecting"
    );
}

#[tokio::test]
async fn a_worker_with_resource_based_slots_serves_activities() {
    let queue = task_queue("slots-resource");
    let client = client().await;
    let mut options = worker_options(&queue);
    options.slots = Slots::ResourceBased(ResourceBasedSlots::new(1.0, 1.0));
    let worker = start_worker(options);
    let mut handles = Vec::new();
    for i in 0..10u32 {
        let start = StartActivity::new("slots_echo", &queue)
            .id(format!("{queue}-{i}"))
            .arg(&i)
            .start_to_close_timeout(Duration::from_secs(60));
        handles.push(
            client
                .start_activity(start)
                .await
                .expect("the activity starts"),
        );
    }
    for (i, handle) in handles.iter().enumerate() {
        assert_eq!(
            handle.result::<u32>().await.expect("it completes"),
            i as u32
        );
    }
    drop(worker);
}

#[test]
fn resource_targets_out_of_range_stop_the_worker_at_start() {
    let mut options = worker_options(&task_queue("slots-bad-target"));
    options.slots = Slots::ResourceBased(ResourceBasedSlots::new(0.8, 80.0));
    let error = Worker::new(options)
        .start()
        .err()
        .expect("the worker refuses")
        .to_string();
    assert_eq!(
        error,
        "invalid slots.target_cpu: must be a fraction above 0 and at most 1 (0.8 is 80 %), got 80"
    );
}
