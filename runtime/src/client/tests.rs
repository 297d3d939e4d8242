//! The client against a real dev server, with raw gRPC standing in for a worker.

use super::*;
use crate::dev_server::{skip_without_cli, DevServer};
use crate::proto::ApplicationFailureInfo;

mod completion;
mod policies;

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(super) async fn client_of(server: &DevServer) -> Client {
    Client::connect(&server.address(), server.namespace())
        .await
        .unwrap()
}

/// Plays the worker's part over raw gRPC, since the real worker lives elsewhere.
pub(super) struct FakeWorker {
    service: ServiceClient,
    namespace: String,
    task_queue: String,
}

impl FakeWorker {
    pub(super) async fn new(server: &DevServer, task_queue: &str) -> Self {
        FakeWorker {
            service: crate::connection::connect_plain(&server.address())
                .await
                .unwrap(),
            namespace: server.namespace().to_owned(),
            task_queue: task_queue.to_owned(),
        }
    }

    pub(super) async fn poll(&self) -> service::PollActivityTaskQueueResponse {
        let request = service::PollActivityTaskQueueRequest {
            namespace: self.namespace.clone(),
            task_queue: Some(TaskQueue {
                name: self.task_queue.clone(),
                kind: TaskQueueKind::Normal.into(),
                ..Default::default()
            }),
            identity: "fake-worker".to_owned(),
            ..Default::default()
        };
        let task = self
            .service
            .clone()
            .poll_activity_task_queue(with_deadline(request, LONG_POLL_DEADLINE))
            .await
            .unwrap()
            .into_inner();
        assert!(
            !task.task_token.is_empty(),
            "no activity task within the poll"
        );
        task
    }

    async fn complete(&self, task_token: Vec<u8>, result: Payload) {
        let request = service::RespondActivityTaskCompletedRequest {
            namespace: self.namespace.clone(),
            task_token,
            result: Some(Payloads {
                payloads: vec![result.into_wire()],
            }),
            identity: "fake-worker".to_owned(),
            ..Default::default()
        };
        self.service
            .clone()
            .respond_activity_task_completed(with_deadline(request, UNARY_DEADLINE))
            .await
            .unwrap();
    }

    async fn fail(&self, task_token: Vec<u8>, failure: Failure) {
        let request = service::RespondActivityTaskFailedRequest {
            namespace: self.namespace.clone(),
            task_token,
            failure: Some(failure),
            identity: "fake-worker".to_owned(),
            ..Default::default()
        };
        self.service
            .clone()
            .respond_activity_task_failed(with_deadline(request, UNARY_DEADLINE))
            .await
            .unwrap();
    }
}

fn application_failure(failure_type: &str, message: &str, non_retryable: bool) -> Failure {
    Failure {
        message: message.to_owned(),
        source: "legwork".to_owned(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: failure_type.to_owned(),
                non_retryable,
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

#[test]
fn start_options_become_the_request() {
    let request = StartActivity::new("greet", "q")
        .id("a-1")
        .arg(&"world")
        .arg(&())
        .heartbeat_timeout(Duration::from_secs(5))
        .max_attempts(3)
        .priority(Priority {
            priority_key: Some(2),
            fairness_key: Some("tenant-a".into()),
            fairness_weight: Some(1.5),
        })
        .into_request("default", "me")
        .unwrap();
    let priority = request.priority.clone().unwrap();
    assert_eq!(priority.priority_key, 2);
    assert_eq!(priority.fairness_key, "tenant-a");
    assert_eq!(priority.fairness_weight, 1.5);
    assert_eq!(request.activity_id, "a-1");
    assert_eq!(request.activity_type.unwrap().name, "greet");
    assert_eq!(request.task_queue.unwrap().name, "q");
    assert_eq!(request.start_to_close_timeout.unwrap().seconds, 60);
    assert_eq!(request.heartbeat_timeout.unwrap().seconds, 5);
    assert_eq!(request.retry_policy.unwrap().maximum_attempts, 3);
    let input = crate::payload::from_wire(request.input.unwrap().payloads);
    assert_eq!(input[0].data, br#""world""#);
    assert_eq!(crate::payload::encoding_of(&input[1]), "binary/null");
}

#[test]
fn application_is_the_innermost_application_failure() {
    let mut outer = application_failure("Outer", "outer", false);
    outer.cause = Some(Box::new(application_failure("Inner", "inner", true)));
    let timeout = Failure {
        message: "timed out".to_owned(),
        cause: Some(Box::new(outer)),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(Default::default())),
        ..Default::default()
    };
    let failure = ActivityFailure::from_proto(timeout);
    assert!(failure.is_timeout());
    let application = failure.application().unwrap();
    assert_eq!(application.failure_type.as_deref(), Some("Inner"));
    assert!(application.non_retryable);
}

#[test]
fn scheduled_activity_is_described_and_canceled() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    runtime().block_on(async {
        let client = client_of(&server).await;
        let handle = client
            .start_activity(StartActivity::new("nobody-runs-me", "idle-queue").arg(&1))
            .await
            .unwrap();
        assert!(handle.run_id().is_some());

        let description = handle.describe().await.unwrap();
        eprintln!("scheduled: {description:#?}");
        assert_eq!(description.status, ActivityStatus::Running);
        assert_eq!(description.run_state, RunState::Scheduled);
        assert_eq!(description.activity_type, "nobody-runs-me");
        assert!(description.schedule_time.is_some());
        assert!(description.close_time.is_none());
        assert!(description.outcome.is_none());

        handle.cancel("changed my mind").await.unwrap();
        let ActivityOutcome::Failed(failure) = handle.outcome().await.unwrap() else {
            panic!("a canceled activity has a failure outcome");
        };
        eprintln!("canceled outcome: {failure:#?}");
        assert!(failure.is_canceled(), "{failure}");
        assert!(failure.application().is_none());

        let description = handle.describe().await.unwrap();
        assert_eq!(description.status, ActivityStatus::Canceled);
        assert_eq!(
            description.canceled_reason.as_deref(),
            Some("changed my mind")
        );
        assert!(description.close_time.is_some());
        assert!(matches!(
            handle.result::<i32>().await,
            Err(ClientError::Failed(failure)) if failure.is_canceled()
        ));
    });
}

#[test]
fn completed_and_failed_activities_report_their_outcome() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    eprintln!("dev server started in {:?}", server.startup_time());
    runtime().block_on(async {
        let client = client_of(&server).await;
        let worker = FakeWorker::new(&server, "fake-queue").await;

        let greeting = client
            .start_activity(StartActivity::new("greet", "fake-queue").arg(&"world"))
            .await
            .unwrap();
        let task = worker.poll().await;
        assert_eq!(task.activity_id, greeting.id());
        let started = greeting.describe().await.unwrap();
        assert_eq!(started.run_state, RunState::Started);
        assert_eq!(started.attempt, 1);
        assert!(started.last_started_time.is_some());
        worker
            .complete(task.task_token, encode_json("hello, world").unwrap())
            .await;
        assert_eq!(greeting.result::<String>().await.unwrap(), "hello, world");
        let done = greeting.describe().await.unwrap();
        assert_eq!(done.status, ActivityStatus::Completed);
        assert!(matches!(
            done.outcome,
            Some(ActivityOutcome::Completed(Some(_)))
        ));

        let doomed = client
            .start_activity(StartActivity::new("explode", "fake-queue"))
            .await
            .unwrap();
        let task = worker.poll().await;
        worker
            .fail(
                task.task_token,
                application_failure("Kaput", "it broke", true),
            )
            .await;
        let Err(ClientError::Failed(failure)) = doomed.result::<String>().await else {
            panic!("expected a failure");
        };
        eprintln!("failed outcome: {failure:#?}");
        let application = failure.application().expect("an application failure");
        assert_eq!(application.failure_type.as_deref(), Some("Kaput"));
        assert_eq!(application.message, "it broke");
        assert!(application.non_retryable);
        let closed = doomed.describe().await.unwrap();
        eprintln!(
            "failed description last_failure: {:#?}",
            closed.last_failure
        );
        assert_eq!(closed.status, ActivityStatus::Failed);
    });
}

#[test]
fn exhausted_retries_and_timeouts_have_their_own_shapes() {
    if skip_without_cli() {
        return;
    }
    let server = DevServer::start().unwrap();
    runtime().block_on(async {
        let client = client_of(&server).await;
        let worker = FakeWorker::new(&server, "retry-queue").await;

        let flaky = client
            .start_activity(StartActivity::new("flaky", "retry-queue").max_attempts(1))
            .await
            .unwrap();
        let task = worker.poll().await;
        worker
            .fail(
                task.task_token,
                application_failure("Flaky", "try again", false),
            )
            .await;
        let ActivityOutcome::Failed(failure) = flaky.outcome().await.unwrap() else {
            panic!("expected a failure");
        };
        eprintln!("retries exhausted: {failure}");
        assert_eq!(failure.kind, "application");
        assert_eq!(
            failure.retry_state.as_deref(),
            Some("MAXIMUM_ATTEMPTS_REACHED")
        );
        assert!(!failure.application().unwrap().non_retryable);

        let slow = client
            .start_activity(
                StartActivity::new("slow", "retry-queue")
                    .start_to_close_timeout(Duration::from_secs(1))
                    .max_attempts(1),
            )
            .await
            .unwrap();
        let _ignored_task = worker.poll().await;
        let ActivityOutcome::Failed(failure) = slow.outcome().await.unwrap() else {
            panic!("expected a timeout");
        };
        eprintln!("timed out: {failure}");
        assert!(failure.is_timeout(), "{failure:#?}");
        assert_eq!(failure.timeout_type.as_deref(), Some("START_TO_CLOSE"));
        assert_eq!(
            slow.describe().await.unwrap().status,
            ActivityStatus::TimedOut
        );

        // A timeout after a failed attempt carries that attempt's failure as its cause.
        let failed_then_slow = client
            .start_activity(
                StartActivity::new("failed-then-slow", "retry-queue")
                    .start_to_close_timeout(Duration::from_secs(1))
                    .retry_policy(RetryPolicy {
                        initial_interval: Some(Duration::from_millis(10)),
                        maximum_attempts: Some(2),
                        ..Default::default()
                    }),
            )
            .await
            .unwrap();
        let task = worker.poll().await;
        worker
            .fail(
                task.task_token,
                application_failure("Flaky", "first attempt", false),
            )
            .await;
        let _ignored_second_attempt = worker.poll().await;
        let ActivityOutcome::Failed(failure) = failed_then_slow.outcome().await.unwrap() else {
            panic!("expected a timeout");
        };
        eprintln!("failed then timed out: {failure}");
        assert!(failure.is_timeout(), "{failure:#?}");
        let application = failure.application().expect("the first attempt's failure");
        assert_eq!(application.failure_type.as_deref(), Some("Flaky"));
        assert_eq!(application.message, "first attempt");
    });
}
