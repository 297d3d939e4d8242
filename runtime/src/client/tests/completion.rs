//! Async completion by token and by id, with the client's codecs on every payload, against
//! a dev server; raw gRPC plays the worker that handed the activity over.

use crate::codec::{CodecChain, Zlib};
use crate::error::ActivityError;
use crate::payload::decode_json;

use super::*;

async fn zlib_client(server: &DevServer) -> Client {
    client_of(server)
        .await
        .with_codecs(CodecChain::new().then(Zlib::new().always_encode(true)))
}

fn is_zlib(payload: &Payload) -> bool {
    crate::payload::encoding_of(payload) == "binary/zlib"
}

#[test]
fn completed_by_token_with_heartbeats_on_the_way() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    runtime().block_on(async {
        let client = zlib_client(&server).await;
        let worker = FakeWorker::new(&server, "async-queue").await;
        let handle = client
            .start_activity(StartActivity::new("approve", "async-queue"))
            .await
            .unwrap();
        let task = worker.poll().await;
        // The token survives the trip through text, as it would between processes.
        let token: TaskToken = TaskToken::from(task.task_token).to_string().parse().unwrap();
        let elsewhere = client.async_activity(token.clone());

        assert!(!elsewhere.heartbeat(&"halfway").await.unwrap());
        let described = handle.describe().await.unwrap();
        assert!(is_zlib(&Payload::from_wire(
            described.raw.heartbeat_details.unwrap().payloads[0].clone()
        )));
        let details = &described.last_heartbeat_details[0];
        assert_eq!(decode_json::<String>(details).unwrap(), "halfway");

        elsewhere.complete(&"approved").await.unwrap();
        assert_eq!(handle.result::<String>().await.unwrap(), "approved");
        // The attempt is over: the token no longer names anything.
        let again = client.async_activity(token).complete(&"twice").await;
        assert!(
            matches!(&again, Err(ClientError::Rpc { status, .. }) if status.code() == Code::NotFound),
            "{again:?}"
        );
    });
}

#[test]
fn standalone_activity_failed_and_canceled_by_id() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    runtime().block_on(async {
        let client = zlib_client(&server).await;
        let worker = FakeWorker::new(&server, "by-id-queue").await;

        let doomed = client
            .start_activity(StartActivity::new("review", "by-id-queue").max_attempts(1))
            .await
            .unwrap();
        worker.poll().await;
        let by_id = client.async_activity_standalone(doomed.id(), None);
        assert!(!by_id.heartbeat(&7).await.unwrap());
        let rejection = ActivityError::new("rejected by Ada")
            .with_type("Rejected")
            .with_details(&"wrong totals")
            .non_retryable();
        by_id.fail(rejection).await.unwrap();
        let ActivityOutcome::Failed(failure) = doomed.outcome().await.unwrap() else {
            panic!("the activity did not fail");
        };
        let application = failure.application().expect("an application failure");
        assert_eq!(application.failure_type.as_deref(), Some("Rejected"));
        assert_eq!(application.message, "rejected by Ada");
        // The details crossed the server zlib-encoded and come back decoded.
        let Some(FailureInfo::ApplicationFailureInfo(info)) = &application.raw.failure_info else {
            panic!("no application failure info");
        };
        let details = &Payload::from_wire(info.details.as_ref().unwrap().payloads[0].clone());
        assert_eq!(decode_json::<String>(details).unwrap(), "wrong totals");

        let canceled = client
            .start_activity(StartActivity::new("review", "by-id-queue"))
            .await
            .unwrap();
        worker.poll().await;
        canceled.cancel("no longer needed").await.unwrap();
        let by_id =
            client.async_activity_by_id("", canceled.run_id().map(str::to_owned), canceled.id());
        assert!(by_id.heartbeat(&8).await.unwrap(), "cancel_requested");
        by_id.report_cancellation().await.unwrap();
        assert!(matches!(
            canceled.outcome().await.unwrap(),
            ActivityOutcome::Failed(failure) if failure.is_canceled()
        ));
    });
}
