//! Reports the end of an attempt to the server, for as long as the report can still count.

use super::failure_reason::FailureReason;
use std::future::Future;
use std::time::{Duration, Instant};

use tonic::{Code, Request, Response, Status};
use tracing::warn;

use crate::connection::{with_deadline, ServiceClient, UNARY_DEADLINE};
use crate::error::{failure_type, ActivityError};
use crate::payload::Payload;
use crate::proto::service::{
    RespondActivityTaskCanceledRequest, RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedRequest,
};
use crate::proto::{Failure, Payloads, WorkerDeploymentOptions};
use crate::worker::server::contact::{is_unreachable, Contact};
use crate::worker::server::retry;

/// How an attempt ends, as the server hears it.
#[derive(Debug)]
pub(crate) enum Report {
    Completed(Payload),
    Failed {
        failure: Box<Failure>,
        last_heartbeat: Option<Payload>,
    },
    Canceled {
        details: Option<Payload>,
    },
}

fn payloads(payload: Option<Payload>) -> Option<Payloads> {
    payload.map(|payload| Payloads {
        payloads: vec![payload.into_wire()],
    })
}

/// The server's default `limit.blobSize.error`: a result over it is refused, and the
/// attempt would time out with its result lost.
pub(crate) const MAX_RESULT_BYTES: usize = 2 * 1024 * 1024;

impl Report {
    /// A result the server would refuse becomes a clear, non-retryable failure now, since
    /// the same input would produce it again.
    pub(crate) fn within_size_limit(self, activity: &str) -> Report {
        let Report::Completed(payload) = &self else {
            return self;
        };
        let size = payload.encoded_len();
        if size <= MAX_RESULT_BYTES {
            return self;
        }
        let error = ActivityError::new(format!(
            "the result of {activity} is {size} bytes, over the server's limit of \
             {MAX_RESULT_BYTES} bytes; return a reference to the data (a path, a URL, a key) \
             instead of the data"
        ))
        .with_type(failure_type::PAYLOAD_TOO_LARGE)
        .non_retryable();
        Report::Failed {
            failure: Box::new(error.to_failure()),
            last_heartbeat: None,
        }
    }
}

/// When a report without a deadline of its own (one made at shutdown) stops being retried.
const REPORT_WITHOUT_DEADLINE: Duration = Duration::from_secs(60);

/// Who is reporting: the worker's connection and identity.
pub(crate) struct Reporter<'a> {
    pub(crate) client: &'a ServiceClient,
    pub(crate) contact: &'a Contact,
    pub(crate) namespace: &'a str,
    pub(crate) identity: &'a str,
    /// Sent with every report, as with every poll (Worker Deployment Versioning).
    pub(crate) deployment: &'a WorkerDeploymentOptions,
}

impl Reporter<'_> {
    /// Sends the report, retrying while the server cannot be reached until the attempt's
    /// own `deadline` (start-to-close or schedule-to-close) has passed: until then the
    /// result still counts. After that, or on an error retrying cannot fix, it is dropped
    /// with a log line; the server times the attempt out and retries it.
    pub(crate) async fn report(
        &self,
        activity: &str,
        task_token: Vec<u8>,
        report: Report,
        deadline: Option<Instant>,
    ) {
        let deadline = deadline.unwrap_or_else(|| Instant::now() + REPORT_WITHOUT_DEADLINE);
        match self.send(task_token, report, deadline).await {
            Ok(()) => {}
            Err(status) if status.code() == Code::NotFound => warn!(
                activity,
                "the server no longer knows this attempt (cancelled or timed out); its result was dropped"
            ),
            Err(status) if is_unreachable(&status) => warn!(
                activity,
                "could not report the result before the attempt's deadline: the server was \
                 unreachable; it will retry the activity"
            ),
            Err(status) => warn!(activity, %status, "could not report the activity's result"),
        }
    }

    /// The `RespondActivityTask*` call that says `report`, retried until `deadline`.
    async fn send(
        &self,
        task_token: Vec<u8>,
        report: Report,
        deadline: Instant,
    ) -> Result<(), Status> {
        let (namespace, identity) = (self.namespace.to_owned(), self.identity.to_owned());
        let deployment_options = Some(self.deployment.clone());
        match report {
            Report::Completed(payload) => {
                let request = RespondActivityTaskCompletedRequest {
                    task_token,
                    result: payloads(Some(payload)),
                    identity,
                    namespace,
                    deployment_options,
                    ..Default::default()
                };
                self.call(request, deadline, |mut client, request| async move {
                    client.respond_activity_task_completed(request).await
                })
                .await
            }
            Report::Failed {
                failure,
                last_heartbeat,
            } => {
                let request = RespondActivityTaskFailedRequest {
                    task_token,
                    cause: FailureReason::of(&failure).cause() as i32,
                    failure: Some(*failure),
                    last_heartbeat_details: payloads(last_heartbeat),
                    identity,
                    namespace,
                    deployment_options,
                    ..Default::default()
                };
                // Boxed: the largest request; inline, it would size every report's task.
                let call = self.call(request, deadline, |mut client, request| async move {
                    client.respond_activity_task_failed(request).await
                });
                Box::pin(call).await
            }
            Report::Canceled { details } => {
                let request = RespondActivityTaskCanceledRequest {
                    task_token,
                    details: payloads(details),
                    identity,
                    namespace,
                    deployment_options,
                    ..Default::default()
                };
                self.call(request, deadline, |mut client, request| async move {
                    client.respond_activity_task_canceled(request).await
                })
                .await
            }
        }
    }

    async fn call<Req, Resp, F, Fut>(
        &self,
        request: Req,
        deadline: Instant,
        rpc: F,
    ) -> Result<(), Status>
    where
        Req: Clone,
        F: Fn(ServiceClient, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let call_deadline = UNARY_DEADLINE.min(left).max(Duration::from_millis(100));
            let result = rpc(
                self.client.clone(),
                with_deadline(request.clone(), call_deadline),
            )
            .await;
            self.contact.observe(&result);
            let status = match result {
                Ok(_) => return Ok(()),
                Err(status) => status,
            };
            // A report the server never got can be sent again: it is keyed by the task
            // token, and a second one for the same attempt is refused with NotFound.
            let worth_retrying = is_unreachable(&status) || retry::is_retryable(&status);
            let delay = retry::CALL.delay(attempt);
            if !worth_retrying || Instant::now() + delay >= deadline {
                return Err(status);
            }
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::FailureInfo;

    fn result_of(bytes: usize) -> Report {
        Report::Completed(Payload {
            data: vec![b'x'; bytes],
            ..Default::default()
        })
    }

    #[test]
    fn a_result_over_the_limit_becomes_a_clear_final_failure() {
        let Report::Failed { failure, .. } = result_of(3 << 20).within_size_limit("export") else {
            panic!("expected a failure")
        };
        assert!(failure.message.contains("export"), "{}", failure.message);
        assert!(
            failure.message.contains("3145733 bytes"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("2097152 bytes"),
            "{}",
            failure.message
        );
        let Some(FailureInfo::ApplicationFailureInfo(info)) = failure.failure_info else {
            panic!("an application failure")
        };
        assert_eq!(info.r#type, "PayloadTooLargeError");
        assert!(info.non_retryable);
    }

    #[test]
    fn a_result_within_the_limit_is_kept() {
        assert!(matches!(
            result_of(1 << 20).within_size_limit("export"),
            Report::Completed(_)
        ));
    }
}
