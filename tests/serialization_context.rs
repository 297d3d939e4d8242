//! Serialization context across SDKs: a Python codec that picks its key by workflow id
//! (from temporalio's serialization context) and legwork's codec with the same rule (from
//! `SerializationContext`) round-trip an activity's arguments and result.

mod common;

use legwork::activity;
use legwork::codec::{
    Aes256Gcm, CodecChain, CodecError, CodecFuture, PayloadCodec, SerializationContext,
};
use legwork::Payload;
use serde_json::json;

use common::{server, start_worker, task_queue, worker_options};

/// Returns an object: the Python workflow (codec_workflow.py's) returns a `dict`.
#[activity]
fn shout(word: String, times: u32) -> serde_json::Value {
    json!({ "shout": vec![word.to_uppercase(); times as usize].join(" ") })
}

/// The key of a workflow, as context_codec_workflow.py derives it.
fn workflow_codec(context: &SerializationContext) -> Result<Aes256Gcm, CodecError> {
    let workflow_id = context.workflow_id.as_deref().ok_or_else(|| {
        CodecError::failed(
            "workflow-key",
            "no workflow id in the serialization context",
        )
    })?;
    let seed = format!("legwork-tenant:{workflow_id}");
    let key = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    Aes256Gcm::new(workflow_id, key.as_ref())
}

/// A codec that cannot work without a context: every key is the workflow's.
struct WorkflowKeyed;

impl PayloadCodec for WorkflowKeyed {
    fn encode(&self, _payloads: Vec<Payload>) -> CodecFuture<'_> {
        Box::pin(async { Err(CodecError::failed("workflow-key", "needs a context")) })
    }

    fn decode(&self, _payloads: Vec<Payload>) -> CodecFuture<'_> {
        Box::pin(async { Err(CodecError::failed("workflow-key", "needs a context")) })
    }

    fn encode_in<'a>(
        &'a self,
        context: &'a SerializationContext,
        payloads: Vec<Payload>,
    ) -> CodecFuture<'a> {
        Box::pin(async move { workflow_codec(context)?.encode(payloads).await })
    }

    fn decode_in<'a>(
        &'a self,
        context: &'a SerializationContext,
        payloads: Vec<Payload>,
    ) -> CodecFuture<'a> {
        Box::pin(async move { workflow_codec(context)?.decode(payloads).await })
    }
}

#[test]
fn a_key_per_workflow_round_trips_between_python_and_legwork() {
    let queue = task_queue("context-codec");
    let mut options = worker_options(&queue);
    options.codecs = CodecChain::new().then(WorkflowKeyed);
    let worker = start_worker(options);
    let args = [
        server().address(),
        task_queue("context-workflows"),
        queue,
        "shout".to_owned(),
        json!(["hey", 2]).to_string(),
    ];
    let out = common::python::run_script("context_codec_workflow.py", &args);
    assert_eq!(out["result"], json!({ "shout": "HEY HEY" }), "{out}");
    // Every payload of the history is sealed with the workflow's own key.
    assert_eq!(out["key_ids"], json!([out["workflow_id"]]), "{out}");
    drop(worker);
}
