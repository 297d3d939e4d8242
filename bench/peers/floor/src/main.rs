//! The floor: the least a worker can do. N pollers, each polls `PollActivityTaskQueue` and
//! answers `RespondActivityTaskCompleted` with a `binary/null` payload at once. No framework,
//! no dispatch, one thread.
//!
//! ```text
//! floor --address 127.0.0.1:7233 --task-queue q [--pollers 5]
//! ```

use std::collections::HashMap;
use std::time::Duration;

use temporalio_protos::protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_protos::protos::temporal::api::enums::v1::TaskQueueKind;
use temporalio_protos::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use temporalio_protos::protos::temporal::api::workflowservice::v1::{
    PollActivityTaskQueueRequest, RespondActivityTaskCompletedRequest,
};
use tonic::transport::{Channel, Endpoint};
use tonic::Request;

fn flag(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn with_timeout<T>(message: T, timeout: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(timeout);
    request
}

async fn poller(mut client: WorkflowServiceClient<Channel>, namespace: String, queue: String) {
    let identity = format!("{}@floor", std::process::id());
    let null = Payload {
        metadata: HashMap::from([("encoding".to_owned(), b"binary/null".to_vec())]),
        data: Vec::new(),
        ..Default::default()
    };
    loop {
        let poll = PollActivityTaskQueueRequest {
            namespace: namespace.clone(),
            task_queue: Some(TaskQueue {
                name: queue.clone(),
                kind: TaskQueueKind::Normal as i32,
                ..Default::default()
            }),
            identity: identity.clone(),
            ..Default::default()
        };
        let task = match client
            .poll_activity_task_queue(with_timeout(poll, Duration::from_secs(70)))
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => {
                eprintln!("poll failed: {status}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if task.task_token.is_empty() {
            continue;
        }
        let respond = RespondActivityTaskCompletedRequest {
            task_token: task.task_token,
            result: Some(Payloads {
                payloads: vec![null.clone()],
            }),
            identity: identity.clone(),
            namespace: namespace.clone(),
            ..Default::default()
        };
        if let Err(status) = client
            .respond_activity_task_completed(with_timeout(respond, Duration::from_secs(10)))
            .await
        {
            eprintln!("respond failed: {status}");
        }
    }
}

fn main() {
    let address = flag("--address", "127.0.0.1:7233");
    let queue = flag("--task-queue", "bench");
    let namespace = flag("--namespace", "default");
    let pollers: usize = flag("--pollers", "5").parse().expect("--pollers is a number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .expect("a valid address")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("the server answers");
        let client = WorkflowServiceClient::new(channel).max_decoding_message_size(128 << 20);
        let mut tasks = Vec::new();
        for _ in 0..pollers.max(1) {
            tasks.push(tokio::spawn(poller(
                client.clone(),
                namespace.clone(),
                queue.clone(),
            )));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}
