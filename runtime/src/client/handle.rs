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
    /// Whose payloads this activity's are.
    fn payload_context(&self) -> SerializationContext {
        let mut context = self.client.payload_context(&self.activity_id);
        context.activity_run_id = self.run_id.clone();
        context
    }

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
                    // An empty outcome is the server's long poll expiring: ask again.
                    if let Some(outcome) = response.into_inner().outcome {
                        let outcome = self
                            .client
                            .decode_outcome(&self.payload_context(), outcome)
                            .await?;
                        if let Some(outcome) = ActivityOutcome::from_proto(outcome) {
                            return Ok(outcome);
                        }
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

    /// Waits for the activity and returns its result payload as the activity encoded it
    /// (after the client's codecs), `None` if the worker sent none; a failure is
    /// [`ClientError::Failed`]. Typed handles decode from here.
    pub async fn result_payload(&self) -> Result<Option<Payload>, ClientError> {
        self.completed_payload().await
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

    /// The activity's current state, with its last failure, heartbeat details and outcome,
    /// their payloads decoded by the client's codecs.
    pub async fn describe(&self) -> Result<ActivityDescription, ClientError> {
        let run_id = self.run_id.clone().unwrap_or_default();
        let request = self.describe_request(run_id, Vec::new());
        let response = self
            .client
            .service()
            .describe_activity_execution(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("DescribeActivityExecution"))?;
        self.description_of(response.into_inner()).await
    }

    /// Waits until the activity's state differs from `seen` (an earlier
    /// [`describe`](Self::describe) or `wait_for_change`), however long that takes, and
    /// describes it then: the server long-polls, so nothing is polled here. A closed
    /// activity is described at once. The server may fold several changes into one.
    ///
    /// ```no_run
    /// use legwork::client::{ActivityHandle, RunState};
    ///
    /// # async fn run(handle: ActivityHandle) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut seen = handle.describe().await?;
    /// while seen.run_state != RunState::Started {
    ///     seen = handle.wait_for_change(&seen).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for_change(
        &self,
        seen: &ActivityDescription,
    ) -> Result<ActivityDescription, ClientError> {
        if seen.long_poll_token.is_empty() {
            return self.describe().await;
        }
        loop {
            // The token needs the run it was taken from.
            let request = self.describe_request(seen.run_id.clone(), seen.long_poll_token.clone());
            let response = self
                .client
                .service()
                .describe_activity_execution(with_deadline(request, LONG_POLL_DEADLINE))
                .await;
            match response {
                Ok(response) => return self.description_of(response.into_inner()).await,
                // Our own deadline passing only means nothing changed yet: ask again.
                Err(status) if status.code() == Code::DeadlineExceeded => {}
                Err(status) => return Err(rpc_error("DescribeActivityExecution")(status)),
            }
        }
    }

    fn describe_request(
        &self,
        run_id: String,
        long_poll_token: Vec<u8>,
    ) -> service::DescribeActivityExecutionRequest {
        service::DescribeActivityExecutionRequest {
            namespace: self.client.namespace.clone(),
            activity_id: self.activity_id.clone(),
            run_id,
            include_outcome: true,
            include_heartbeat_details: true,
            include_last_failure: true,
            long_poll_token,
            ..Default::default()
        }
    }

    async fn description_of(
        &self,
        response: service::DescribeActivityExecutionResponse,
    ) -> Result<ActivityDescription, ClientError> {
        let outcome = match response.outcome {
            Some(outcome) => {
                let context = self.payload_context();
                ActivityOutcome::from_proto(self.client.decode_outcome(&context, outcome).await?)
            }
            None => None,
        };
        // `raw` stays as the server sent it; the plain fields get decoded payloads.
        let mut description =
            ActivityDescription::from_proto(response.info.unwrap_or_default(), outcome);
        description.long_poll_token = response.long_poll_token;
        let context = self.payload_context();
        description.last_heartbeat_details = self
            .client
            .decode_payloads(
                &context,
                std::mem::take(&mut description.last_heartbeat_details),
            )
            .await?;
        if let Some(mut failure) = description.raw.last_failure.clone() {
            self.client.decode_failure(&context, &mut failure).await?;
            description.last_failure = Some(ActivityFailure::from_proto(failure));
        }
        Ok(description)
    }
}
