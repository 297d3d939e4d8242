//! The client's codecs on every payload it sends or reads: arguments, results, heartbeat
//! details, and the details inside failures (the whole cause chain).

use super::*;
use crate::storage::unreadable_reference;

impl Client {
    /// The context of this client's payloads about `activity_id` (empty when unknown).
    pub(super) fn payload_context(&self, activity_id: &str) -> SerializationContext {
        SerializationContext {
            namespace: self.namespace.clone(),
            activity_id: (!activity_id.is_empty()).then(|| activity_id.to_owned()),
            ..SerializationContext::default()
        }
    }

    /// Codecs, then external storage, as a worker sends payloads.
    pub(super) async fn encode_payloads(
        &self,
        context: &SerializationContext,
        payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, ClientError> {
        if payloads.is_empty() {
            return Ok(payloads);
        }
        let payloads = self.codecs.encode_in(context, payloads).await?;
        match &self.storage {
            Some(storage) => Ok(storage.offload(context, payloads).await?),
            None => Ok(payloads),
        }
    }

    /// External storage, then codecs, as a worker reads payloads.
    pub(super) async fn decode_payloads(
        &self,
        context: &SerializationContext,
        payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, ClientError> {
        if payloads.is_empty() {
            return Ok(payloads);
        }
        let payloads = match &self.storage {
            Some(storage) => storage.fetch(context, payloads).await?,
            None => match unreadable_reference(&payloads) {
                Some(error) => return Err(error.into()),
                None => payloads,
            },
        };
        Ok(self.codecs.decode_in(context, payloads).await?)
    }

    /// Decodes the payloads of `failure` and of each of its causes.
    pub(super) async fn decode_failure(
        &self,
        context: &SerializationContext,
        failure: &mut Failure,
    ) -> Result<(), ClientError> {
        let mut current = Some(failure);
        while let Some(failure) = current {
            self.code_failure_details(context, failure, false).await?;
            current = failure.cause.as_deref_mut();
        }
        Ok(())
    }

    /// Encodes the payloads of `failure` and of each of its causes.
    pub(super) async fn encode_failure(
        &self,
        context: &SerializationContext,
        failure: &mut Failure,
    ) -> Result<(), ClientError> {
        let mut current = Some(failure);
        while let Some(failure) = current {
            self.code_failure_details(context, failure, true).await?;
            current = failure.cause.as_deref_mut();
        }
        Ok(())
    }

    async fn code_failure_details(
        &self,
        context: &SerializationContext,
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
                self.encode_payloads(context, payloads).await?
            } else {
                self.decode_payloads(context, payloads).await?
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
        context: &SerializationContext,
        mut outcome: ActivityExecutionOutcome,
    ) -> Result<ActivityExecutionOutcome, ClientError> {
        match &mut outcome.value {
            Some(activity_execution_outcome::Value::Result(payloads)) => {
                let coded = from_wire(std::mem::take(&mut payloads.payloads));
                payloads.payloads = to_wire(self.decode_payloads(context, coded).await?);
            }
            Some(activity_execution_outcome::Value::Failure(failure)) => {
                self.decode_failure(context, failure).await?;
            }
            None => {}
        }
        Ok(outcome)
    }
}
