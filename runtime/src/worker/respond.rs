//! Reports the end of an attempt to the server.

use std::future::Future;

use tonic::{Code, Request, Response, Status};
use tracing::warn;

use super::retry;
use crate::connection::{with_deadline, ServiceClient, UNARY_DEADLINE};
use crate::proto::service::{
    RespondActivityTaskCanceledRequest, RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedRequest,
};
use crate::proto::{Failure, Payload, Payloads};

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
        payloads: vec![payload],
    })
}

/// Who is reporting: the worker's connection and identity.
pub(crate) struct Reporter<'a> {
    pub(crate) client: &'a ServiceClient,
    pub(crate) namespace: &'a str,
    pub(crate) identity: &'a str,
}

impl Reporter<'_> {
    /// Sends the report. Errors are logged: the server will time the attempt out and
    /// retry it, and re-running an activity here could repeat its side effects.
    pub(crate) async fn report(&self, activity: &str, task_token: Vec<u8>, report: Report) {
        let (namespace, identity) = (self.namespace.to_owned(), self.identity.to_owned());
        let result = match report {
            Report::Completed(payload) => {
                let request = RespondActivityTaskCompletedRequest {
                    task_token,
                    result: payloads(Some(payload)),
                    identity,
                    namespace,
                    ..Default::default()
                };
                self.call(request, |mut client, request| async move {
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
                    failure: Some(*failure),
                    last_heartbeat_details: payloads(last_heartbeat),
                    identity,
                    namespace,
                    ..Default::default()
                };
                self.call(request, |mut client, request| async move {
                    client.respond_activity_task_failed(request).await
                })
                .await
            }
            Report::Canceled { details } => {
                let request = RespondActivityTaskCanceledRequest {
                    task_token,
                    details: payloads(details),
                    identity,
                    namespace,
                    ..Default::default()
                };
                self.call(request, |mut client, request| async move {
                    client.respond_activity_task_canceled(request).await
                })
                .await
            }
        };
        match result {
            Ok(()) => {}
            Err(status) if status.code() == Code::NotFound => warn!(
                activity,
                "the server no longer knows this attempt (cancelled or timed out); its result was dropped"
            ),
            Err(status) => warn!(activity, %status, "could not report the activity's result"),
        }
    }

    async fn call<Req, Resp, F, Fut>(&self, request: Req, rpc: F) -> Result<(), Status>
    where
        Req: Clone,
        F: Fn(ServiceClient, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        retry::CALL
            .retry(|| {
                rpc(
                    self.client.clone(),
                    with_deadline(request.clone(), UNARY_DEADLINE),
                )
            })
            .await
            .map(drop)
    }
}
