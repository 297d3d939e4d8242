//! Worker commands: cancellations the server pushes to the worker that holds an attempt,
//! so that an activity that never heartbeats still learns it was cancelled.
//!
//! Where the namespace advertises `worker_commands`, every activity poll names this
//! worker's control queue (`worker_control_task_queue`). The server keeps that name with
//! the attempt and, when the attempt is cancelled, sends a Nexus `ExecuteCommands`
//! request there; this worker long-polls the queue with `PollNexusTaskQueue` and answers
//! each request with one result per command, in order. As sdk-go
//! (`internal/internal_worker_heartbeat.go`) and sdk-core (`worker/heartbeat.rs`) do: the
//! queue is named after the worker grouping key that worker heartbeats carry, the request
//! is an `ExecuteCommandsRequest` in the start-operation payload (`binary/protobuf`), the
//! answer a sync success, and a cancel for an attempt this worker does not hold is
//! answered as done: the server's contract makes it a no-op (the server may send a
//! command again, and sends cancels for every attempt of a workflow that closed).

use std::sync::Arc;

use prost::Message;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::attempt::CancelReason;
use crate::connection::{with_deadline, LONG_POLL_DEADLINE, UNARY_DEADLINE};
use crate::proto::nexus::{
    request, response, start_operation_response, Request, Response, StartOperationResponse,
};
use crate::proto::service::{
    PollNexusTaskQueueRequest, PollNexusTaskQueueResponse, RespondNexusTaskCompletedRequest,
    RespondNexusTaskFailedRequest,
};
use crate::proto::{
    worker_command, worker_command_result, CancelActivityResult, ExecuteCommandsRequest,
    ExecuteCommandsResponse, Failure, FailureInfo, NexusHandlerFailureInfo, TaskQueue,
    TaskQueueKind, WirePayload, WorkerCommandResult,
};
use crate::worker::options::WorkerOptions;
use crate::worker::server::contact::is_unreachable;
use crate::worker::server::retry;
use crate::worker::shared::Shared;

/// The one Nexus operation the server sends on a control queue.
const OPERATION: &str = "ExecuteCommands";
/// How the server encodes the request, and how the answer is tagged.
const ENCODING: &str = "binary/protobuf";

/// A worker's control queue, as the server expects it (sdk-go's `workerControlTaskQueue`).
pub(crate) fn control_queue(namespace: &str, grouping_key: &str) -> String {
    format!("temporal-sys/worker-commands/{namespace}/{grouping_key}")
}

/// Polls the control queue and answers its commands until `stop`, which the worker
/// cancels once it has stopped: attempts still running in the grace period can be
/// cancelled too. Returns at once where the namespace does not advertise worker commands.
pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let Some(queue) = shared.polling.control_queue.clone() else {
        debug!(
            "the namespace does not advertise worker commands; cancels arrive with \
             activity heartbeats only"
        );
        return;
    };
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = serve(&shared, &queue) => {}
    }
}

async fn serve(shared: &Shared, queue: &str) {
    // Its own key: after `ShutdownWorker` the server turns away polls with the worker's
    // key, and this poll must stay open through the grace period.
    let poller_key = uuid::Uuid::new_v4().to_string();
    let mut failures = 0;
    loop {
        let request = poll_request(&shared.options, queue, &poller_key);
        let mut client = shared.client.clone();
        let polled = client
            .poll_nexus_task_queue(with_deadline(request, LONG_POLL_DEADLINE))
            .await;
        shared.contact.observe(&polled);
        let status = match polled {
            Ok(task) => {
                failures = 0;
                let task = task.into_inner();
                // An empty answer is a long poll that ended without a command.
                if !task.task_token.is_empty() {
                    answer(shared, task).await;
                }
                continue;
            }
            Err(status) => status,
        };
        if status.code() == tonic::Code::Unimplemented {
            info!(
                %status,
                "the server does not take worker-command polls; cancels arrive with \
                 activity heartbeats only"
            );
            return;
        }
        failures += 1;
        let delay = retry::POLL.delay(failures);
        // An outage is told once, by `contact`.
        if is_unreachable(&status) || retry::is_retryable(&status) {
            debug!(%status, ?delay, "worker-command poll failed; retrying");
        } else {
            warn!(%status, ?delay, "worker-command poll failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.contact.back() => failures = 0,
        }
    }
}

/// Without deployment options, whatever the worker's: the queue is this process's alone
/// and never versioned (sdk-go and sdk-core send an unversioned placeholder build id).
fn poll_request(
    options: &WorkerOptions,
    queue: &str,
    poller_key: &str,
) -> PollNexusTaskQueueRequest {
    PollNexusTaskQueueRequest {
        namespace: options.connection.namespace.clone(),
        task_queue: Some(TaskQueue {
            name: queue.to_owned(),
            kind: TaskQueueKind::WorkerCommands as i32,
            ..Default::default()
        }),
        identity: options.connection.identity.clone(),
        worker_instance_key: poller_key.to_owned(),
        ..Default::default()
    }
}

/// Runs one task's commands and tells the server how they went. A request that cannot be
/// read is answered as a failed (non-retryable) Nexus task, rather than left to time out
/// and be sent again.
async fn answer(shared: &Shared, task: PollNexusTaskQueueResponse) {
    let PollNexusTaskQueueResponse {
        task_token,
        request,
        poller_group_id,
        ..
    } = task;
    let namespace = shared.options.connection.namespace.clone();
    let identity = shared.options.connection.identity.clone();
    let mut client = shared.client.clone();
    let sent = match read_commands(request.as_ref()) {
        Ok(commands) => {
            let results = execute(&commands, |token| {
                shared
                    .in_flight
                    .cancel(token, CancelReason::CancelRequested)
            });
            let request = RespondNexusTaskCompletedRequest {
                namespace,
                identity,
                task_token,
                response: Some(completed(&results)),
                poller_group_id,
            };
            client
                .respond_nexus_task_completed(with_deadline(request, UNARY_DEADLINE))
                .await
                .map(drop)
        }
        Err(error) => {
            warn!(%error, "a worker-command task could not be read; answered as failed");
            let request = RespondNexusTaskFailedRequest {
                namespace,
                identity,
                task_token,
                failure: Some(error.to_failure()),
                poller_group_id,
                ..Default::default()
            };
            client
                .respond_nexus_task_failed(with_deadline(request, UNARY_DEADLINE))
                .await
                .map(drop)
        }
    };
    shared.contact.observe(&sent);
    // The commands have taken effect; a lost answer only makes the server send them again.
    if let Err(status) = sent {
        debug!(%status, "answering a worker-command task failed");
    }
}

/// Why a worker-command task could not be read.
#[derive(Debug, PartialEq, thiserror::Error)]
enum Unreadable {
    #[error("the task carries no start-operation request")]
    NotStartOperation,
    #[error("operation {0:?} is not {OPERATION}")]
    UnknownOperation(String),
    #[error("payload encoding {0:?} is not {ENCODING}")]
    Encoding(String),
    #[error("the payload is not an ExecuteCommandsRequest: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl Unreadable {
    /// A Nexus handler failure, which the server requires of a failed task; neither kind
    /// is worth a retry.
    fn to_failure(&self) -> Failure {
        let kind = match self {
            Unreadable::UnknownOperation(_) => "NOT_IMPLEMENTED",
            _ => "BAD_REQUEST",
        };
        Failure {
            message: self.to_string(),
            failure_info: Some(FailureInfo::NexusHandlerFailureInfo(
                NexusHandlerFailureInfo {
                    r#type: kind.to_owned(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }
}

/// The commands a task's Nexus request carries.
fn read_commands(request: Option<&Request>) -> Result<ExecuteCommandsRequest, Unreadable> {
    let Some(request::Variant::StartOperation(start)) =
        request.and_then(|request| request.variant.as_ref())
    else {
        return Err(Unreadable::NotStartOperation);
    };
    if start.operation != OPERATION {
        return Err(Unreadable::UnknownOperation(start.operation.clone()));
    }
    let payload = start.payload.as_ref();
    // Without an encoding the data is taken as protobuf, as the SDKs take it.
    if let Some(encoding) = payload.and_then(|payload| payload.metadata.get("encoding")) {
        if encoding.as_slice() != ENCODING.as_bytes() {
            return Err(Unreadable::Encoding(
                String::from_utf8_lossy(encoding).into_owned(),
            ));
        }
    }
    let data = payload.map_or(&[][..], |payload| payload.data.as_slice());
    Ok(ExecuteCommandsRequest::decode(data)?)
}

/// Runs each command; the results match the commands one to one, in order, as the server
/// requires. A command of a kind this worker does not know gets an empty result.
fn execute(
    request: &ExecuteCommandsRequest,
    mut cancel: impl FnMut(&[u8]) -> bool,
) -> ExecuteCommandsResponse {
    let results = request
        .commands
        .iter()
        .map(|command| match &command.r#type {
            Some(worker_command::Type::CancelActivity(command)) => {
                let held = cancel(&command.task_token);
                debug!(held, "the server cancelled an activity by worker command");
                WorkerCommandResult {
                    r#type: Some(worker_command_result::Type::CancelActivity(
                        CancelActivityResult {},
                    )),
                }
            }
            None => {
                warn!("a worker command of a kind this worker does not know; not run");
                WorkerCommandResult { r#type: None }
            }
        })
        .collect();
    ExecuteCommandsResponse { results }
}

/// The Nexus answer: the operation completed synchronously, with the results as its
/// `binary/protobuf` payload (the server reads only whether it succeeded).
fn completed(results: &ExecuteCommandsResponse) -> Response {
    let payload = WirePayload {
        metadata: [("encoding".to_owned(), ENCODING.as_bytes().to_vec())].into(),
        data: results.encode_to_vec(),
        ..Default::default()
    };
    Response {
        variant: Some(response::Variant::StartOperation(StartOperationResponse {
            variant: Some(start_operation_response::Variant::SyncSuccess(
                start_operation_response::Sync {
                    payload: Some(payload),
                    links: Vec::new(),
                },
            )),
        })),
    }
}

#[cfg(test)]
mod tests;
