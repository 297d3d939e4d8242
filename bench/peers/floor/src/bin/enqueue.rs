//! The benchmark's client: queues standalone activities, waits for them, and reads the
//! server's timestamps back as JSON. Raw gRPC, like the floor.
//!
//! ```text
//! enqueue start    --address A --task-queue Q --type T --id-prefix P --count N
//!                  [--arg JSON]... [--interval-ms MS] [--concurrency C]
//!                  [--heartbeat-timeout-ms MS] [--start-to-close-ms MS]
//! enqueue started  --address A --id-prefix P --count N [--timeout-s S]
//! enqueue wait     --address A --id-prefix P --count N [--timeout-s S]
//! enqueue describe --address A --id-prefix P --count N
//! ```
//! Activity ids are `P-0` .. `P-{N-1}`. Every activity gets one attempt (no retries), so a
//! timeout shows as the activity's outcome. `started` and `wait` exit 0 when every
//! activity has started (resp. closed), 2 on timeout. `describe` prints a JSON array with
//! each activity's status and its schedule, start and close times in Unix seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use temporalio_protos::protos::temporal::api::activity::v1::activity_execution_outcome;
use temporalio_protos::protos::temporal::api::common::v1::{
    ActivityType, Payload, Payloads, RetryPolicy,
};
use temporalio_protos::protos::temporal::api::enums::v1::{
    ActivityExecutionStatus, TaskQueueKind, TimeoutType,
};
use temporalio_protos::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_protos::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use temporalio_protos::protos::temporal::api::workflowservice::v1::{
    DescribeActivityExecutionRequest, PollActivityExecutionRequest,
    StartActivityExecutionRequest,
};
use tokio::sync::Semaphore;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};

type Client = WorkflowServiceClient<Channel>;

struct Flags(Vec<String>);

impl Flags {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1).cloned())
    }
    fn or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }
    fn num(&self, name: &str, default: u64) -> u64 {
        self.get(name)
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
            .unwrap_or(default)
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .windows(2)
            .filter(|w| w[0] == name)
            .map(|w| w[1].clone())
            .collect()
    }
}

fn with_timeout<T>(message: T, timeout: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(timeout);
    request
}

fn duration(d: Duration) -> Option<prost_duration::Duration> {
    Some(prost_duration::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    })
}

mod prost_duration {
    pub use prost_wkt_types::{Duration, Timestamp};
}

fn ids(flags: &Flags) -> Vec<String> {
    let prefix = flags.get("--id-prefix").expect("--id-prefix is required");
    (0..flags.num("--count", 1))
        .map(|i| format!("{prefix}-{i}"))
        .collect()
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

async fn start(client: Client, flags: &Flags) {
    let namespace = flags.or("--namespace", "default");
    let queue = flags.get("--task-queue").expect("--task-queue is required");
    let activity_type = flags.get("--type").expect("--type is required");
    let interval = Duration::from_millis(flags.num("--interval-ms", 0));
    let concurrency = flags.num("--concurrency", 32) as usize;
    let start_to_close = Duration::from_millis(flags.num("--start-to-close-ms", 120_000));
    let heartbeat = flags.num("--heartbeat-timeout-ms", 0);
    let payloads: Vec<Payload> = flags
        .all("--arg")
        .into_iter()
        .map(|json| Payload {
            metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
            data: json.into_bytes(),
            ..Default::default()
        })
        .collect();
    let template = StartActivityExecutionRequest {
        namespace,
        identity: format!("{}@bench-enqueue", std::process::id()),
        activity_type: Some(ActivityType {
            name: activity_type,
        }),
        task_queue: Some(TaskQueue {
            name: queue,
            kind: TaskQueueKind::Normal as i32,
            ..Default::default()
        }),
        start_to_close_timeout: duration(start_to_close),
        heartbeat_timeout: (heartbeat > 0)
            .then(|| duration(Duration::from_millis(heartbeat)))
            .flatten(),
        retry_policy: Some(RetryPolicy {
            maximum_attempts: 1,
            ..Default::default()
        }),
        input: (!payloads.is_empty()).then_some(Payloads { payloads }),
        ..Default::default()
    };
    let began = Instant::now();
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let run = unique();
    let mut tasks = Vec::new();
    for (i, id) in ids(flags).into_iter().enumerate() {
        if !interval.is_zero() {
            tokio::time::sleep_until((began + interval * i as u32).into()).await;
        }
        let permit = slots.clone().acquire_owned().await.unwrap();
        let mut request = template.clone();
        request.request_id = format!("{run}-{i}");
        request.activity_id = id.clone();
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let result = client
                .start_activity_execution(with_timeout(request, Duration::from_secs(30)))
                .await;
            drop(permit);
            if let Err(status) = result {
                eprintln!("start {id} failed: {status}");
                std::process::exit(1);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    println!(
        "{}",
        json!({"started": tasks_len(flags), "elapsed_s": began.elapsed().as_secs_f64()})
    );
}

fn tasks_len(flags: &Flags) -> u64 {
    flags.num("--count", 1)
}

/// Waits until each activity, in order, has closed (a long poll on each).
async fn wait(client: Client, flags: &Flags) {
    let namespace = flags.or("--namespace", "default");
    for id in ids(flags) {
        loop {
            let request = PollActivityExecutionRequest {
                namespace: namespace.clone(),
                activity_id: id.clone(),
                run_id: String::new(),
            };
            match client
                .clone()
                .poll_activity_execution(with_timeout(request, Duration::from_secs(70)))
                .await
            {
                Ok(response) if response.get_ref().outcome.is_some() => break,
                Ok(_) => {}
                Err(status) if status.code() == Code::DeadlineExceeded => {}
                Err(status) => {
                    eprintln!("poll {id} failed: {status}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

fn seconds(t: Option<&prost_duration::Timestamp>) -> Value {
    match t {
        Some(t) if t.seconds > 0 => json!(t.seconds as f64 + t.nanos as f64 / 1e9),
        _ => Value::Null,
    }
}

async fn describe_one(mut client: Client, namespace: String, id: String) -> Value {
    let request = DescribeActivityExecutionRequest {
        namespace,
        activity_id: id.clone(),
        include_outcome: true,
        ..Default::default()
    };
    let response = loop {
        match client
            .describe_activity_execution(with_timeout(request.clone(), Duration::from_secs(30)))
            .await
        {
            Ok(response) => break response.into_inner(),
            Err(status) => {
                eprintln!("describe {id} failed: {status}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let info = response.info.unwrap_or_default();
    let status = ActivityExecutionStatus::try_from(info.status)
        .map(|s| s.as_str_name().trim_start_matches("ACTIVITY_EXECUTION_STATUS_").to_owned())
        .unwrap_or_else(|_| info.status.to_string());
    let failure = response.outcome.and_then(|o| match o.value {
        Some(activity_execution_outcome::Value::Failure(f)) => Some(f),
        _ => None,
    });
    let (failure_kind, timeout_type) = match failure.as_ref().and_then(|f| f.failure_info.as_ref()) {
        Some(FailureInfo::TimeoutFailureInfo(t)) => (
            json!("timeout"),
            json!(TimeoutType::try_from(t.timeout_type)
                .map(|k| k.as_str_name().trim_start_matches("TIMEOUT_TYPE_").to_owned())
                .unwrap_or_default()),
        ),
        Some(FailureInfo::ApplicationFailureInfo(a)) => (json!("application"), json!(a.r#type)),
        Some(_) => (json!("other"), Value::Null),
        None => (Value::Null, Value::Null),
    };
    json!({
        "id": id,
        "status": status,
        "attempt": info.attempt,
        "schedule": seconds(info.schedule_time.as_ref()),
        "started": seconds(info.last_started_time.as_ref()),
        "close": seconds(info.close_time.as_ref()),
        "failure": failure_kind,
        "failure_detail": timeout_type,
        "failure_message": failure.map(|f| f.message),
    })
}

async fn describe_all(client: &Client, flags: &Flags, ids: Vec<String>) -> Vec<Value> {
    let namespace = flags.or("--namespace", "default");
    let slots = Arc::new(Semaphore::new(flags.num("--concurrency", 16) as usize));
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (client, namespace, slots) = (client.clone(), namespace.clone(), slots.clone());
            tokio::spawn(async move {
                let _permit = slots.acquire_owned().await.unwrap();
                describe_one(client, namespace, id).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

/// Waits until every activity has been picked up by a worker (or has closed).
async fn started(client: Client, flags: &Flags) {
    let mut pending = ids(flags);
    while !pending.is_empty() {
        let described = describe_all(&client, flags, pending.clone()).await;
        pending = described
            .into_iter()
            .filter(|d| d["started"].is_null() && d["close"].is_null())
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_default();
    let flags = Flags(args);
    let address = flags.or("--address", "127.0.0.1:7233");
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("a valid address")
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot connect to {address}: {e}");
            std::process::exit(1)
        });
    let client = WorkflowServiceClient::new(channel).max_decoding_message_size(128 << 20);
    let timeout = Duration::from_secs(flags.num("--timeout-s", 600));
    match command.as_str() {
        "start" => start(client, &flags).await,
        "started" => {
            if tokio::time::timeout(timeout, started(client, &flags)).await.is_err() {
                eprintln!("timed out waiting for the activities to start");
                std::process::exit(2);
            }
        }
        "wait" => {
            if tokio::time::timeout(timeout, wait(client, &flags)).await.is_err() {
                eprintln!("timed out waiting for the activities to close");
                std::process::exit(2);
            }
        }
        "describe" => {
            let ids = ids(&flags);
            let described = describe_all(&client, &flags, ids).await;
            println!("{}", Value::Array(described));
        }
        other => {
            eprintln!("unknown command `{other}`: start, started, wait or describe");
            std::process::exit(64);
        }
    }
}
