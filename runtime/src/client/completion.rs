//! Completing an activity from outside its worker ("async completion"): by task token, by
//! workflow and activity id, or by a standalone activity's id.

use crate::error::ActivityError;

use super::*;

/// Which attempt or activity an [`AsyncActivityHandle`] speaks for.
#[derive(Debug, Clone)]
enum Target {
    /// One attempt; the server rejects the token once that attempt has ended.
    Token(TaskToken),
    /// The current attempt of an activity. An empty `workflow_id` names a standalone
    /// activity.
    Ids {
        workflow_id: String,
        run_id: String,
        activity_id: String,
    },
}

/// An activity whose attempt ended with [`ActivityError::complete_async`], to be
/// completed, failed, heartbeated or reported canceled from here. Values go through the
/// client's codecs, as the worker's would.
///
/// ```no_run
/// use legwork_runtime::client::{Client, TaskToken};
///
/// # async fn run(client: Client, token_text: &str) -> Result<(), Box<dyn std::error::Error>> {
/// // The token the activity handed out, e.g. with an approval request.
/// let token: TaskToken = token_text.parse()?;
/// let activity = client.async_activity(token);
/// if activity.heartbeat(&"waiting for a reviewer").await? {
///     activity.report_cancellation().await?; // the caller gave up
/// } else {
///     activity.complete(&"approved").await?;
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncActivityHandle {
    client: Client,
    target: Target,
}

impl Client {
    /// The attempt that handed out `token` ([`ActivityContext::task_token`]).
    ///
    /// [`ActivityContext::task_token`]: crate::ActivityContext::task_token
    pub fn async_activity(&self, token: TaskToken) -> AsyncActivityHandle {
        AsyncActivityHandle {
            client: self.clone(),
            target: Target::Token(token),
        }
    }

    /// The activity `activity_id` of a workflow (`run_id: None` for its latest run).
    pub fn async_activity_by_id(
        &self,
        workflow_id: impl Into<String>,
        run_id: Option<String>,
        activity_id: impl Into<String>,
    ) -> AsyncActivityHandle {
        AsyncActivityHandle {
            client: self.clone(),
            target: Target::Ids {
                workflow_id: workflow_id.into(),
                run_id: run_id.unwrap_or_default(),
                activity_id: activity_id.into(),
            },
        }
    }

    /// The standalone activity `activity_id` (`run_id: None` for its latest run).
    pub fn async_activity_standalone(
        &self,
        activity_id: impl Into<String>,
        run_id: Option<String>,
    ) -> AsyncActivityHandle {
        self.async_activity_by_id("", run_id, activity_id)
    }
}

impl AsyncActivityHandle {
    /// Completes the activity with `value`, encoded as JSON (`binary/null` for `()`).
    pub async fn complete<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), ClientError> {
        self.complete_payload(Some(encode_json(value)?)).await
    }

    /// Completes the activity with a result already encoded (`None`: no result).
    pub async fn complete_payload(&self, result: Option<Payload>) -> Result<(), ClientError> {
        let result = self.encoded(result).await?;
        let (mut client, namespace, identity) = self.parts();
        match &self.target {
            Target::Token(token) => {
                let request = service::RespondActivityTaskCompletedRequest {
                    namespace,
                    identity,
                    task_token: token.as_bytes().to_vec(),
                    result,
                    ..Default::default()
                };
                let call = client.respond_activity_task_completed(deadline(request));
                call.await
                    .map_err(rpc_error("RespondActivityTaskCompleted"))?;
            }
            Target::Ids {
                workflow_id,
                run_id,
                activity_id,
            } => {
                let request = service::RespondActivityTaskCompletedByIdRequest {
                    namespace,
                    identity,
                    workflow_id: workflow_id.clone(),
                    run_id: run_id.clone(),
                    activity_id: activity_id.clone(),
                    result,
                    ..Default::default()
                };
                let call = client.respond_activity_task_completed_by_id(deadline(request));
                call.await
                    .map_err(rpc_error("RespondActivityTaskCompletedById"))?;
            }
        }
        Ok(())
    }

    /// Fails the current attempt with `error`; the server retries the activity as its
    /// retry policy says (a [`non_retryable`](ActivityError::non_retryable) error ends it).
    pub async fn fail(&self, error: ActivityError) -> Result<(), ClientError> {
        let mut failure = error.to_failure();
        self.client
            .encode_failure(&self.payload_context(), &mut failure)
            .await?;
        let (mut client, namespace, identity) = self.parts();
        match &self.target {
            Target::Token(token) => {
                let request = service::RespondActivityTaskFailedRequest {
                    namespace,
                    identity,
                    task_token: token.as_bytes().to_vec(),
                    failure: Some(failure),
                    ..Default::default()
                };
                let call = client.respond_activity_task_failed(deadline(request));
                call.await.map_err(rpc_error("RespondActivityTaskFailed"))?;
            }
            Target::Ids {
                workflow_id,
                run_id,
                activity_id,
            } => {
                let request = service::RespondActivityTaskFailedByIdRequest {
                    namespace,
                    identity,
                    workflow_id: workflow_id.clone(),
                    run_id: run_id.clone(),
                    activity_id: activity_id.clone(),
                    failure: Some(failure),
                    ..Default::default()
                };
                let call = client.respond_activity_task_failed_by_id(deadline(request));
                call.await
                    .map_err(rpc_error("RespondActivityTaskFailedById"))?;
            }
        }
        Ok(())
    }

    /// Records a heartbeat with `details` (JSON), which keeps a heartbeat timeout from
    /// firing and reaches the next attempt and `describe`. Returns whether cancellation
    /// of the activity was requested: then finish with
    /// [`report_cancellation`](Self::report_cancellation).
    pub async fn heartbeat<T: Serialize + ?Sized>(&self, details: &T) -> Result<bool, ClientError> {
        let details = self.encoded(Some(encode_json(details)?)).await?;
        let (mut client, namespace, identity) = self.parts();
        let response = match &self.target {
            Target::Token(token) => {
                let request = service::RecordActivityTaskHeartbeatRequest {
                    namespace,
                    identity,
                    task_token: token.as_bytes().to_vec(),
                    details,
                    ..Default::default()
                };
                let call = client.record_activity_task_heartbeat(deadline(request));
                call.await
                    .map_err(rpc_error("RecordActivityTaskHeartbeat"))?
                    .into_inner()
                    .cancel_requested
            }
            Target::Ids {
                workflow_id,
                run_id,
                activity_id,
            } => {
                let request = service::RecordActivityTaskHeartbeatByIdRequest {
                    namespace,
                    identity,
                    workflow_id: workflow_id.clone(),
                    run_id: run_id.clone(),
                    activity_id: activity_id.clone(),
                    details,
                    ..Default::default()
                };
                let call = client.record_activity_task_heartbeat_by_id(deadline(request));
                call.await
                    .map_err(rpc_error("RecordActivityTaskHeartbeatById"))?
                    .into_inner()
                    .cancel_requested
            }
        };
        Ok(response)
    }

    /// Tells the server the activity stopped because its cancellation was requested. The
    /// server accepts this only after a cancel request.
    pub async fn report_cancellation(&self) -> Result<(), ClientError> {
        let (mut client, namespace, identity) = self.parts();
        match &self.target {
            Target::Token(token) => {
                let request = service::RespondActivityTaskCanceledRequest {
                    namespace,
                    identity,
                    task_token: token.as_bytes().to_vec(),
                    ..Default::default()
                };
                let call = client.respond_activity_task_canceled(deadline(request));
                call.await
                    .map_err(rpc_error("RespondActivityTaskCanceled"))?;
            }
            Target::Ids {
                workflow_id,
                run_id,
                activity_id,
            } => {
                let request = service::RespondActivityTaskCanceledByIdRequest {
                    namespace,
                    identity,
                    workflow_id: workflow_id.clone(),
                    run_id: run_id.clone(),
                    activity_id: activity_id.clone(),
                    ..Default::default()
                };
                let call = client.respond_activity_task_canceled_by_id(deadline(request));
                call.await
                    .map_err(rpc_error("RespondActivityTaskCanceledById"))?;
            }
        }
        Ok(())
    }

    fn parts(&self) -> (ServiceClient, String, String) {
        (
            self.client.service(),
            self.client.namespace.clone(),
            self.client.identity.clone(),
        )
    }

    /// Whose payloads these are, as far as the target says.
    fn payload_context(&self) -> SerializationContext {
        match &self.target {
            Target::Token(_) => self.client.payload_context(""),
            Target::Ids {
                workflow_id,
                run_id,
                activity_id,
            } => {
                let mut context = self.client.payload_context(activity_id);
                context.workflow_id = (!workflow_id.is_empty()).then(|| workflow_id.clone());
                context.workflow_run_id = (!run_id.is_empty()).then(|| run_id.clone());
                context
            }
        }
    }

    async fn encoded(&self, payload: Option<Payload>) -> Result<Option<Payloads>, ClientError> {
        match payload {
            Some(payload) => Ok(Some(Payloads {
                payloads: to_wire(
                    self.client
                        .encode_payloads(&self.payload_context(), vec![payload])
                        .await?,
                ),
            })),
            None => Ok(None),
        }
    }
}

fn deadline<T>(request: T) -> tonic::Request<T> {
    with_deadline(request, UNARY_DEADLINE)
}
