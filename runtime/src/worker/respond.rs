//! Reports the end of an attempt to the server.

use std::time::Duration;

use tonic::{Code, Request};
use tracing::warn;

use super::retry;
use crate::connection::ServiceClient;
use crate::proto::service::{
    RespondActivityTaskCompletedRequest, RespondActivityTaskFailedRequest,
};
use crate::proto::Payloads;
use crate::registry::Outcome;

const CALL_DEADLINE: Duration = Duration::from_secs(10);

pub(crate) fn with_deadline<T>(message: T, deadline: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    request
}

/// Sends Completed or Failed for `outcome`. Errors are logged: the server will time the
/// attempt out and retry it, and re-running an activity here could repeat side effects.
pub(crate) async fn respond(
    client: &ServiceClient,
    namespace: &str,
    identity: &str,
    activity: &str,
    task_token: Vec<u8>,
    outcome: Outcome,
) {
    let result = match outcome {
        Ok(payload) => {
            let request = RespondActivityTaskCompletedRequest {
                task_token,
                result: Some(Payloads {
                    payloads: vec![payload],
                }),
                identity: identity.to_owned(),
                namespace: namespace.to_owned(),
                ..Default::default()
            };
            retry::CALL
                .retry(|| {
                    let mut client = client.clone();
                    let request = with_deadline(request.clone(), CALL_DEADLINE);
                    async move { client.respond_activity_task_completed(request).await }
                })
                .await
                .map(drop)
        }
        Err(error) => {
            let request = RespondActivityTaskFailedRequest {
                task_token,
                failure: Some(error.to_failure()),
                identity: identity.to_owned(),
                namespace: namespace.to_owned(),
                ..Default::default()
            };
            retry::CALL
                .retry(|| {
                    let mut client = client.clone();
                    let request = with_deadline(request.clone(), CALL_DEADLINE);
                    async move { client.respond_activity_task_failed(request).await }
                })
                .await
                .map(drop)
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
