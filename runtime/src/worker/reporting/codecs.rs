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
use crate::codec::{CodecChain, CodecError};
use crate::error::{failure_type, ActivityError};
use crate::proto::service::PollActivityTaskQueueResponse;
use crate::proto::{Failure, FailureInfo, Payload, Payloads};

/// The chain, and where it runs.
#[derive(Clone)]
pub(crate) struct WorkerCodecs {
    chain: CodecChain,
    loops: Arc<EventLoops>,
}

impl WorkerCodecs {
    /// `None` for an empty chain: nothing to do, and no hop to the event loop.
    pub(crate) fn new(chain: &CodecChain, loops: &Arc<EventLoops>) -> Option<Self> {
        (!chain.is_empty()).then(|| WorkerCodecs {
            chain: chain.clone(),
            loops: loops.clone(),
        })
    }

    /// Decodes the payloads a task arrived with: its arguments and the previous attempt's
    /// heartbeat details.
    pub(crate) async fn decode_task(
        &self,
        task: &mut PollActivityTaskQueueResponse,
    ) -> Result<(), ActivityError> {
        for payloads in [&mut task.input, &mut task.heartbeat_details]
            .into_iter()
            .flatten()
        {
            let coded = std::mem::take(&mut payloads.payloads);
            payloads.payloads = self
                .run(coded, false)
                .await
                .map_err(|error| codec_failure("decode", error))?;
        }
        Ok(())
    }

    /// Encodes one payload about to be sent (heartbeat details).
    pub(crate) async fn encode_one(&self, payload: Payload) -> Result<Payload, ActivityError> {
        let mut encoded = self
            .run(vec![payload], true)
            .await
            .map_err(|error| codec_failure("encode", error))?;
        one(&mut encoded)
    }

    /// Encodes every payload of a report. A result that cannot be encoded becomes a
    /// failure; a failure whose details cannot be encoded is sent without them.
    pub(crate) async fn encode_report(&self, report: Report) -> Report {
        match report {
            Report::Completed(result) => match self.encode_one(result).await {
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
                self.encode_failure(&mut failure).await;
                Report::Failed {
                    failure,
                    last_heartbeat: self.encode_optional(last_heartbeat).await,
                }
            }
            Report::Canceled { details } => Report::Canceled {
                details: self.encode_optional(details).await,
            },
        }
    }

    async fn encode_failure(&self, failure: &mut Failure) {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &mut failure.failure_info {
            if let Some(details) = info.details.take() {
                info.details = self
                    .run(details.payloads, true)
                    .await
                    .ok()
                    .map(|payloads| Payloads { payloads });
            }
        }
    }

    async fn encode_optional(&self, payload: Option<Payload>) -> Option<Payload> {
        match payload {
            Some(payload) => self.encode_one(payload).await.ok(),
            None => None,
        }
    }

    async fn run(&self, payloads: Vec<Payload>, encode: bool) -> Result<Vec<Payload>, CodecError> {
        let chain = self.chain.clone();
        let expected = payloads.len();
        let coded = self
            .loops
            .place()
            .spawn(async move {
                if encode {
                    chain.encode(payloads).await
                } else {
                    chain.decode(payloads).await
                }
            })
            .await
            .unwrap_or_else(|error| {
                Err(CodecError::failed(
                    "codec chain",
                    format!("its task ended: {error}"),
                ))
            })?;
        if coded.len() != expected {
            return Err(CodecError::malformed(
                "codec chain",
                format!("{expected} payloads went in, {} came out", coded.len()),
            ));
        }
        Ok(coded)
    }
}

fn one(payloads: &mut Vec<Payload>) -> Result<Payload, ActivityError> {
    payloads
        .pop()
        .ok_or_else(|| ActivityError::new("the codec chain returned no payload"))
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
