//! A handle on one standalone activity: its outcome, description and cancellation.

use super::*;

/// One standalone activity (one run of it, when the run id is known).
#[derive(Debug, Clone)]
pub struct ActivityHandle {
    pub(super) client: Client,
    pub(super) activity_id: String,
    pub(super) run_id: Option<String>,
}

impl ActivityHandle {
    /// The activity id.
    pub fn id(&self) -> &str {
        &self.activity_id
    }

    /// The run id, when known (always after [`Client::start_activity`]).
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Waits until the activity closes, however long that takes, and returns how it ended.
    ///
    /// Long-polls `PollActivityExecution`, each call with a 70 s deadline, until the
    /// response carries an outcome.
    pub async fn outcome(&self) -> Result<ActivityOutcome, ClientError> {
        loop {
            let request = service::PollActivityExecutionRequest {
                namespace: self.client.namespace.clone(),
                activity_id: self.activity_id.clone(),
                run_id: self.run_id.clone().unwrap_or_default(),
            };
            let response = self
                .client
                .service()
                .poll_activity_execution(with_deadline(request, LONG_POLL_DEADLINE))
                .await;
            match response {
                Ok(response) => {
                    if let Some(outcome) = response
                        .into_inner()
                        .outcome
                        .and_then(ActivityOutcome::from_proto)
                    {
                        return self.decoded(outcome).await;
                    }
                }
                // Our own deadline passing only means nothing happened yet: poll again.
                Err(status) if status.code() == Code::DeadlineExceeded => {}
                Err(status) => return Err(rpc_error("PollActivityExecution")(status)),
            }
        }
    }

    /// Waits for the activity and decodes its JSON result (a `binary/null` or absent result
    /// decodes as JSON `null`, so `()` and `Option` work). For `binary/plain` results use
    /// [`result_bytes`](Self::result_bytes).
    pub async fn result<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        match self.completed_payload().await? {
            Some(payload) => Ok(decode_json(&payload)?),
            None => serde_json::from_slice(b"null").map_err(|_| ClientError::NoResult),
        }
    }

    /// Waits for the activity and returns its result as bytes (`binary/plain`, or JSON bytes).
    pub async fn result_bytes(&self) -> Result<Vec<u8>, ClientError> {
        let payload = self
            .completed_payload()
            .await?
            .ok_or(ClientError::NoResult)?;
        Ok(decode_bytes(&payload)?)
    }

    /// The result as the activity returned it, through the client's codecs.
    async fn decoded(&self, outcome: ActivityOutcome) -> Result<ActivityOutcome, ClientError> {
        match outcome {
            ActivityOutcome::Completed(Some(payload)) if !self.client.codecs.is_empty() => {
                let mut decoded = self.client.codecs.decode(vec![payload]).await?;
                Ok(ActivityOutcome::Completed(decoded.pop()))
            }
            outcome => Ok(outcome),
        }
    }

    async fn completed_payload(&self) -> Result<Option<Payload>, ClientError> {
        match self.outcome().await? {
            ActivityOutcome::Completed(payload) => Ok(payload),
            ActivityOutcome::Failed(failure) => Err(ClientError::Failed(Box::new(failure))),
        }
    }

    /// Asks the server to cancel the activity. A scheduled activity no worker has started is
    /// canceled at once; a running one is canceled when its worker acknowledges (workers
    /// learn of it through heartbeats).
    pub async fn cancel(&self, reason: &str) -> Result<(), ClientError> {
        let request = service::RequestCancelActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            identity: self.client.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            reason: reason.to_owned(),
        };
        self.client
            .service()
            .request_cancel_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("RequestCancelActivityExecution"))?;
        Ok(())
    }

    /// The activity's current state, with its last failure, heartbeat details and outcome.
    pub async fn describe(&self) -> Result<ActivityDescription, ClientError> {
        let request = service::DescribeActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
            include_outcome: true,
            include_heartbeat_details: true,
            include_last_failure: true,
            ..Default::default()
        };
        let response = self
            .client
            .service()
            .describe_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("DescribeActivityExecution"))?
            .into_inner();
        let outcome = response.outcome.and_then(ActivityOutcome::from_proto);
        Ok(ActivityDescription::from_proto(
            response.info.unwrap_or_default(),
            outcome,
        ))
    }
}
