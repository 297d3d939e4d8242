//! The client's codecs on every payload it sends or reads: arguments, results, heartbeat
//! details, and the details inside failures (the whole cause chain).

use super::*;

impl Client {
    pub(super) async fn encode_payloads(
        &self,
        payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, ClientError> {
        if self.codecs.is_empty() || payloads.is_empty() {
            return Ok(payloads);
        }
        Ok(self.codecs.encode(payloads).await?)
    }

    pub(super) async fn decode_payloads(
        &self,
        payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, ClientError> {
        if self.codecs.is_empty() || payloads.is_empty() {
            return Ok(payloads);
        }
        Ok(self.codecs.decode(payloads).await?)
    }

    /// Decodes the payloads of `failure` and of each of its causes.
    pub(super) async fn decode_failure(&self, failure: &mut Failure) -> Result<(), ClientError> {
        if self.codecs.is_empty() {
            return Ok(());
        }
        let mut current = Some(failure);
        while let Some(failure) = current {
            self.code_failure_details(failure, false).await?;
            current = failure.cause.as_deref_mut();
        }
        Ok(())
    }

    /// Encodes the payloads of `failure` and of each of its causes.
    pub(super) async fn encode_failure(&self, failure: &mut Failure) -> Result<(), ClientError> {
        if self.codecs.is_empty() {
            return Ok(());
        }
        let mut current = Some(failure);
        while let Some(failure) = current {
            self.code_failure_details(failure, true).await?;
            current = failure.cause.as_deref_mut();
        }
        Ok(())
    }

    async fn code_failure_details(
        &self,
        failure: &mut Failure,
        encode: bool,
    ) -> Result<(), ClientError> {
        let details = match &mut failure.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => &mut info.details,
            Some(FailureInfo::CanceledFailureInfo(info)) => &mut info.details,
            Some(FailureInfo::TimeoutFailureInfo(info)) => &mut info.last_heartbeat_details,
            Some(FailureInfo::ResetWorkflowFailureInfo(info)) => &mut info.last_heartbeat_details,
            _ => return Ok(()),
        };
        if let Some(Payloads { payloads }) = details.take() {
            let payloads = from_wire(payloads);
            let payloads = if encode {
                self.encode_payloads(payloads).await?
            } else {
                self.decode_payloads(payloads).await?
            };
            *details = Some(Payloads {
                payloads: to_wire(payloads),
            });
        }
        Ok(())
    }

    /// An outcome with its result or failure decoded.
    pub(super) async fn decode_outcome(
        &self,
        mut outcome: ActivityExecutionOutcome,
    ) -> Result<ActivityExecutionOutcome, ClientError> {
        match &mut outcome.value {
            Some(activity_execution_outcome::Value::Result(payloads)) => {
                let coded = from_wire(std::mem::take(&mut payloads.payloads));
                payloads.payloads = to_wire(self.decode_payloads(coded).await?);
            }
            Some(activity_execution_outcome::Value::Failure(failure)) => {
                self.decode_failure(failure).await?;
            }
            None => {}
        }
        Ok(outcome)
    }
}
