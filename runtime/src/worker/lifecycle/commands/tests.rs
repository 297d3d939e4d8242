//! The pure parts of worker commands: the poll, reading a request, running it, the answer.

use super::*;
use crate::proto::nexus::StartOperationRequest;
use crate::proto::{CancelActivityCommand, WorkerCommand};

fn cancel(token: &[u8]) -> WorkerCommand {
    WorkerCommand {
        r#type: Some(worker_command::Type::CancelActivity(
            CancelActivityCommand {
                task_token: token.to_vec(),
            },
        )),
    }
}

/// A Nexus request as the server's dispatcher builds it.
fn nexus_request(operation: &str, encoding: Option<&str>, data: Vec<u8>) -> Request {
    let metadata = encoding
        .map(|encoding| ("encoding".to_owned(), encoding.as_bytes().to_vec()))
        .into_iter()
        .collect();
    Request {
        variant: Some(request::Variant::StartOperation(StartOperationRequest {
            service: "temporal.api.nexusservices.workerservice.v1.WorkerService".to_owned(),
            operation: operation.to_owned(),
            payload: Some(crate::proto::WirePayload {
                metadata,
                data,
                ..Default::default()
            }),
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[test]
fn the_queue_is_named_as_the_server_expects() {
    assert_eq!(
        control_queue("default", "0b6e"),
        "temporal-sys/worker-commands/default/0b6e"
    );
}

#[test]
fn the_poll_names_the_queue_with_its_kind() {
    let mut options = WorkerOptions::new("orders");
    options.connection.namespace = "billing".to_owned();
    let queue = control_queue("billing", "group");
    let request = poll_request(&options, &queue, "poller");
    let task_queue = request.task_queue.expect("a task queue");
    assert_eq!(
        task_queue.name,
        "temporal-sys/worker-commands/billing/group"
    );
    assert_eq!(task_queue.kind, TaskQueueKind::WorkerCommands as i32);
    assert_eq!(task_queue.kind, 3, "TASK_QUEUE_KIND_WORKER_COMMANDS");
    assert_eq!(request.namespace, "billing");
    assert_eq!(request.worker_instance_key, "poller");
    assert_eq!(request.identity, options.connection.identity);
}

#[test]
fn commands_are_read_from_the_start_operation_payload() {
    let sent = ExecuteCommandsRequest {
        commands: vec![cancel(b"one"), cancel(b"two")],
    };
    let request = nexus_request(OPERATION, Some(ENCODING), sent.encode_to_vec());
    assert_eq!(read_commands(Some(&request)), Ok(sent.clone()));
    // Without an encoding, as the SDKs read it.
    let request = nexus_request(OPERATION, None, sent.encode_to_vec());
    assert_eq!(read_commands(Some(&request)), Ok(sent));
}

#[test]
fn what_cannot_be_read_is_an_error_not_a_panic() {
    assert_eq!(read_commands(None), Err(Unreadable::NotStartOperation));
    let cancel_op = Request {
        variant: Some(request::Variant::CancelOperation(Default::default())),
        ..Default::default()
    };
    assert_eq!(
        read_commands(Some(&cancel_op)),
        Err(Unreadable::NotStartOperation)
    );
    let other = nexus_request("FetchConfig", Some(ENCODING), Vec::new());
    let error = read_commands(Some(&other)).unwrap_err();
    assert_eq!(
        error,
        Unreadable::UnknownOperation("FetchConfig".to_owned())
    );
    let json = nexus_request(OPERATION, Some("json/protobuf"), b"{}".to_vec());
    assert!(matches!(
        read_commands(Some(&json)),
        Err(Unreadable::Encoding(_))
    ));
    let garbage = nexus_request(OPERATION, Some(ENCODING), vec![0xff, 0xff, 0xff]);
    let error = read_commands(Some(&garbage)).unwrap_err();
    assert!(matches!(error, Unreadable::Decode(_)), "{error:?}");
    // The failure the server requires: a Nexus handler failure, not retried.
    let failure = error.to_failure();
    let Some(FailureInfo::NexusHandlerFailureInfo(info)) = failure.failure_info else {
        panic!("not a Nexus handler failure: {failure:?}");
    };
    assert_eq!(info.r#type, "BAD_REQUEST");
    assert!(failure.message.contains("ExecuteCommandsRequest"));
}

#[test]
fn each_command_gets_its_result_in_order_held_or_not() {
    let request = ExecuteCommandsRequest {
        commands: vec![
            cancel(b"held"),
            WorkerCommand { r#type: None },
            cancel(b"gone"),
        ],
    };
    let mut asked = Vec::new();
    let response = execute(&request, |token| {
        asked.push(token.to_vec());
        token == b"held"
    });
    assert_eq!(asked, [b"held".to_vec(), b"gone".to_vec()]);
    let done = Some(worker_command_result::Type::CancelActivity(
        CancelActivityResult {},
    ));
    let kinds: Vec<_> = response.results.into_iter().map(|r| r.r#type).collect();
    assert_eq!(kinds, [done, None, done]);
}

#[test]
fn the_answer_is_a_sync_success_carrying_the_results() {
    let results = ExecuteCommandsResponse {
        results: vec![WorkerCommandResult {
            r#type: Some(worker_command_result::Type::CancelActivity(
                CancelActivityResult {},
            )),
        }],
    };
    let Some(response::Variant::StartOperation(start)) = completed(&results).variant else {
        panic!("not a start-operation response");
    };
    let Some(start_operation_response::Variant::SyncSuccess(sync)) = start.variant else {
        panic!("not a sync success");
    };
    let payload = sync.payload.expect("a payload");
    assert_eq!(payload.metadata["encoding"], ENCODING.as_bytes());
    let decoded = ExecuteCommandsResponse::decode(payload.data.as_slice()).unwrap();
    assert_eq!(decoded, results);
}
