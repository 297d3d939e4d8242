//! The worker's payload codecs: arguments and the previous attempt's heartbeat details are
//! decoded before the activity runs; results, failure details and heartbeat details are
//! encoded before they are sent. Headers are left alone, as in every SDK.
//!
//! A codec is user code that may await a key service, so it runs where async activities
//! run, never on the control runtime: on the event loop, or on a spare while every
//! event-loop thread is held by a stalled poll. A codec that fails fails the attempt; it
//! never panics the worker.

use std::sync::Arc;

use crate::worker::event_loop::spare::EventLoops;

use super::respond::Report;
use crate::codec::{CodecChain, CodecError, SerializationContext};
use crate::error::{failure_type, ActivityError};
use crate::payload::{from_wire, to_wire, Payload};
use crate::proto::service::PollActivityTaskQueueResponse;
use crate::proto::{Failure, FailureInfo, Payloads};
use crate::storage::{is_reference, unreadable_reference, ExternalStorage, StorageError};

/// The chain and the external storage, and where they run.
#[derive(Clone)]
pub(crate) struct WorkerCodecs {
    chain: CodecChain,
    storage: Option<ExternalStorage>,
    loops: Arc<EventLoops>,
}

/// Why payloads could not be encoded or decoded.
enum PayloadError {
    Codec(CodecError),
    Storage(StorageError),
}

impl WorkerCodecs {
    /// `None` without codecs or storage: nothing to do, and no hop to the event loop.
    pub(crate) fn new(
        chain: &CodecChain,
        storage: Option<&ExternalStorage>,
        loops: &Arc<EventLoops>,
    ) -> Option<Self> {
        (!chain.is_empty() || storage.is_some()).then(|| WorkerCodecs {
            chain: chain.clone(),
            storage: storage.cloned(),
            loops: loops.clone(),
        })
    }

    /// Decodes the payloads a task arrived with: its arguments and the previous attempt's
    /// heartbeat details.
    pub(crate) async fn decode_task(
        &self,
        task: &mut PollActivityTaskQueueResponse,
        context: &SerializationContext,
    ) -> Result<(), ActivityError> {
        for payloads in [&mut task.input, &mut task.heartbeat_details]
            .into_iter()
            .flatten()
        {
            let coded = from_wire(std::mem::take(&mut payloads.payloads));
            payloads.payloads = to_wire(
                self.run(coded, false, context)
                    .await
                    .map_err(|error| payload_failure("decode", error))?,
            );
        }
        Ok(())
    }

    /// Encodes one payload about to be sent (heartbeat details).
    pub(crate) async fn encode_one(
        &self,
        payload: Payload,
        context: &SerializationContext,
    ) -> Result<Payload, ActivityError> {
        let mut encoded = self
            .run(vec![payload], true, context)
            .await
            .map_err(|error| payload_failure("encode", error))?;
        one(&mut encoded)
    }

    /// Encodes every payload of a report. A result that cannot be encoded becomes a
    /// failure; a failure whose details cannot be encoded is sent without them.
    pub(crate) async fn encode_report(
        &self,
        report: Report,
        context: &SerializationContext,
    ) -> Report {
        match report {
            Report::Completed(result) => match self.encode_one(result, context).await {
                Ok(result) => Report::Completed(result),
                Err(error) => Report::Failed {
                    failure: Box::new(error.to_failure()),
                    last_heartbeat: None,
                },
            },
            Report::Failed {
                mut failure,
                last_heartbeat,
            } => {
                self.encode_failure(&mut failure, context).await;
                Report::Failed {
                    failure,
                    last_heartbeat: self.encode_optional(last_heartbeat, context).await,
                }
            }
            Report::Canceled { details } => Report::Canceled {
                details: self.encode_optional(details, context).await,
            },
        }
    }

    async fn encode_failure(&self, failure: &mut Failure, context: &SerializationContext) {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &mut failure.failure_info {
            if let Some(details) = info.details.take() {
                info.details = self
                    .run(from_wire(details.payloads), true, context)
                    .await
                    .ok()
                    .map(|payloads| Payloads {
                        payloads: to_wire(payloads),
                    });
            }
        }
    }

    async fn encode_optional(
        &self,
        payload: Option<Payload>,
        context: &SerializationContext,
    ) -> Option<Payload> {
        match payload {
            Some(payload) => self.encode_one(payload, context).await.ok(),
            None => None,
        }
    }

    /// Codecs then storage on the way out, storage then codecs on the way in (the SDKs'
    /// order), on the event loop.
    async fn run(
        &self,
        payloads: Vec<Payload>,
        encode: bool,
        context: &SerializationContext,
    ) -> Result<Vec<Payload>, PayloadError> {
        let (chain, storage, context) = (self.chain.clone(), self.storage.clone(), context.clone());
        let expected = payloads.len();
        let coded = self
            .loops
            .place()
            .spawn(async move {
                if encode {
                    let encoded = chain
                        .encode_in(&context, payloads)
                        .await
                        .map_err(PayloadError::Codec)?;
                    match &storage {
                        Some(storage) => storage
                            .offload(&context, encoded)
                            .await
                            .map_err(PayloadError::Storage),
                        None => Ok(encoded),
                    }
                } else {
                    let fetched = match &storage {
                        Some(storage) => storage
                            .fetch(&context, payloads)
                            .await
                            .map_err(PayloadError::Storage)?,
                        None => payloads,
                    };
                    chain
                        .decode_in(&context, fetched)
                        .await
                        .map_err(PayloadError::Codec)
                }
            })
            .await
            .unwrap_or_else(|error| {
                Err(PayloadError::Codec(CodecError::failed(
                    "codec chain",
                    format!("its task ended: {error}"),
                )))
            })?;
        if coded.len() != expected {
            return Err(PayloadError::Codec(CodecError::malformed(
                "codec chain",
                format!("{expected} payloads went in, {} came out", coded.len()),
            )));
        }
        Ok(coded)
    }
}

/// Without codecs or storage: a task whose payloads hold a storage reference fails with
/// the typed failure, not as an argument that does not decode.
pub(crate) fn refuse_references(task: &PollActivityTaskQueueResponse) -> Result<(), ActivityError> {
    for payloads in [&task.input, &task.heartbeat_details].into_iter().flatten() {
        // Only a payload whose metadata says reference is copied and parsed.
        let suspects: Vec<Payload> = payloads
            .payloads
            .iter()
            .filter(|payload| is_reference(&payload.metadata))
            .map(|payload| Payload::from_wire(payload.clone()))
            .collect();
        if let Some(error) = unreadable_reference(&suspects) {
            return Err(payload_failure("decode", PayloadError::Storage(error)));
        }
    }
    Ok(())
}

/// Whose payloads a task carries, read from the task before its info is built.
pub(crate) fn task_context(
    task: &PollActivityTaskQueueResponse,
    namespace: &str,
    task_queue: &str,
) -> SerializationContext {
    let non_empty = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    let workflow = task.workflow_execution.as_ref();
    SerializationContext {
        namespace: non_empty(&task.workflow_namespace).unwrap_or_else(|| namespace.to_owned()),
        task_queue: Some(task_queue.to_owned()),
        activity_type: task.activity_type.as_ref().map(|t| t.name.clone()),
        activity_id: non_empty(&task.activity_id),
        activity_run_id: non_empty(&task.activity_run_id),
        workflow_id: workflow.and_then(|w| non_empty(&w.workflow_id)),
        workflow_run_id: workflow.and_then(|w| non_empty(&w.run_id)),
        workflow_type: task.workflow_type.as_ref().and_then(|t| non_empty(&t.name)),
    }
}

fn one(payloads: &mut Vec<Payload>) -> Result<Payload, ActivityError> {
    payloads
        .pop()
        .ok_or_else(|| ActivityError::new("the codec chain returned no payload"))
}

/// A codec's or the storage's failure as the attempt's.
fn payload_failure(direction: &str, error: PayloadError) -> ActivityError {
    match error {
        PayloadError::Codec(error) => codec_failure(direction, error),
        PayloadError::Storage(error) => {
            let failure = ActivityError::new(format!("could not {direction} payloads: {error}"))
                .with_type(error.failure_type());
            if error.is_retryable() {
                failure
            } else {
                failure.non_retryable()
            }
        }
    }
}

/// A codec's failure as the attempt's: a key that is missing or a service that did not
/// answer may be fixed by the time of a retry; data that does not decrypt or parse will not.
fn codec_failure(direction: &str, error: CodecError) -> ActivityError {
    let retryable = matches!(
        error,
        CodecError::UnknownKey { .. } | CodecError::Failed { .. } | CodecError::Panicked { .. }
    );
    let failure = ActivityError::new(format!("could not {direction} payloads: {error}"))
        .with_type(failure_type::CODEC);
    if retryable {
        failure
    } else {
        failure.non_retryable()
    }
}
