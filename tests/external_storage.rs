//! External payload storage against real components: the dev server, moto's S3 server
//! (tests/common/moto.rs) and Python's own `ExternalStorage` with its S3 driver
//! (tests/python/storage_workflow.py). A Python workflow's stored argument reaches a
//! legwork activity whole, legwork's stored result reaches the workflow, the history holds
//! references only; the same with the AES codec on both sides; a missing object fails
//! the attempt with its typed failure and the worker serves on.
//!
//! Python comes from `LEGWORK_PYTHONPATH` (scripts/python-env.sh, which installs moto
//! and aioboto3 beside the SDK).

mod common;

use std::sync::OnceLock;

use legwork::activity;
use legwork::client::{ActivityOutcome, Client, StartActivity};
use legwork::codec::{Aes256Gcm, CodecChain};
use legwork::connection::Secret;
use legwork::storage::{ExternalStorage, S3Driver};
use legwork::worker::WorkerOptions;
use serde_json::Value as Json;

use common::moto::Moto;
use common::{failure_of, server, start_once, start_worker, task_queue, worker_options};

const BUCKET: &str = "legwork-payloads";
/// 1 MiB: four times the SDKs' threshold.
const SIZE: usize = 1 << 20;
/// The key and id of samples-python `encryption/codec.py` (codec_check.py's codec).
const SAMPLE_KEY: &[u8; 32] = b"test-key-test-key-test-key-test!";
const SAMPLE_KEY_ID: &str = "test-key-id";
const REFERENCE_TYPE: &str = "temporal.api.sdk.v1.ExternalStorageReference";

#[activity]
fn reverse_text(text: String) -> String {
    text.chars().rev().collect()
}

#[activity]
fn text_len(text: String) -> usize {
    text.len()
}

/// One S3 server for the binary, with the bucket made.
fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let moto = Moto::start();
        moto.create_bucket(BUCKET);
        moto
    })
}

fn storage() -> ExternalStorage {
    let driver = S3Driver::new(BUCKET)
        .endpoint(moto().endpoint())
        .region("us-east-1")
        .credentials("testing", Secret::new("testing"));
    ExternalStorage::new(driver)
}

fn storing_worker(queue: &str, codecs: CodecChain) -> WorkerOptions {
    let mut options = worker_options(queue);
    options.external_storage = Some(storage());
    options.codecs = codecs;
    options
}

fn run_python(activity_queue: &str, codec: &str) -> Json {
    let args = [
        server().address(),
        task_queue("storage-workflows"),
        activity_queue.to_owned(),
        "reverse_text".to_owned(),
        moto().endpoint(),
        BUCKET.to_owned(),
        SIZE.to_string(),
        codec.to_owned(),
    ];
    common::python::run_script("storage_workflow.py", &args)
}

/// The workflow's text, as storage_workflow.py builds it, reversed.
fn expected_head() -> String {
    let text: String = (0..SIZE)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    text.chars().rev().take(32).collect()
}

/// Every payload in the history is small, and the activity's argument and result are
/// references to what was stored.
fn assert_references_only(out: &Json) {
    let payloads = out["history_payloads"]
        .as_array()
        .expect("history payloads");
    for payload in payloads {
        assert!(payload["data_len"].as_u64().unwrap() < 4096, "{payload}");
    }
    let references: Vec<&Json> = payloads
        .iter()
        .filter(|p| p["metadata"]["messageType"] == REFERENCE_TYPE)
        .collect();
    let stored_large = |p: &&&Json| {
        p["external_sizes"]
            .as_array()
            .is_some_and(|sizes| sizes.iter().any(|s| s.as_u64().unwrap() > SIZE as u64))
    };
    let paths: Vec<&str> = references
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(
        references.iter().filter(stored_large).count() >= 2,
        "the argument and the result are stored references: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains("activity_task_scheduled")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains("activity_task_completed")),
        "{paths:?}"
    );
}

/// Every stored object's first bytes, as text (serialized payloads: metadata readable).
fn stored_objects() -> String {
    let objects = moto().objects(BUCKET);
    let heads: Vec<&str> = objects
        .values()
        .map(|head| head.as_str().unwrap())
        .collect();
    heads.join("\n")
}

#[test]
fn python_stores_the_argument_legwork_reads_it_and_stores_the_result_python_reads() {
    let queue = task_queue("storage-plain");
    let worker = start_worker(storing_worker(&queue, CodecChain::new()));
    let out = run_python(&queue, "plain");
    assert_eq!(out["result_len"], SIZE, "{out}");
    assert_eq!(out["result_head"], expected_head());
    assert_references_only(&out);
    drop(worker);
}

#[test]
fn with_the_aes_codec_on_both_sides_only_ciphertext_is_stored() {
    let queue = task_queue("storage-aes");
    let codecs = CodecChain::new().then(Aes256Gcm::new(SAMPLE_KEY_ID, SAMPLE_KEY).unwrap());
    let worker = start_worker(storing_worker(&queue, codecs));
    let out = run_python(&queue, "aes");
    assert_eq!(out["result_len"], SIZE, "{out}");
    assert_eq!(out["result_head"], expected_head());
    assert_references_only(&out);
    // Codecs run before storage: the objects hold encrypted payloads.
    let stored = stored_objects();
    assert!(stored.contains("binary/encrypted"), "{stored}");
    drop(worker);
}

#[tokio::test]
async fn a_missing_object_fails_the_attempt_with_its_type_and_the_worker_serves_on() {
    let queue = task_queue("storage-missing");
    let client = Client::connect(&server().address(), "default")
        .await
        .unwrap()
        .with_external_storage(storage());
    // Started before any worker polls the queue, so the object can go first.
    let big = "x".repeat(512 * 1024);
    let handle = start_once(&client, StartActivity::new("text_len", &queue).arg(&big)).await;
    let marker = format!("/ai/{}/", handle.id());
    let keys: Vec<String> = moto()
        .objects(BUCKET)
        .keys()
        .filter(|key| key.contains(&marker))
        .cloned()
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "the client stored the argument under the activity's id: {keys:?}"
    );
    moto().delete(BUCKET, &keys[0]);

    let worker = start_worker(storing_worker(&queue, CodecChain::new()));
    let failure = failure_of(&handle).await;
    assert_eq!(
        failure.failure_type.as_deref(),
        Some("ExternalStorageObjectNotFound"),
        "{failure:?}"
    );
    assert!(failure.non_retryable, "{failure:?}");
    assert!(
        failure.message.contains(&keys[0]),
        "the message names the object: {failure:?}"
    );

    let small = start_once(&client, StartActivity::new("text_len", &queue).arg(&"four")).await;
    match small.outcome().await.unwrap() {
        ActivityOutcome::Completed(Some(payload)) => {
            assert_eq!(payload.data, b"4", "the worker serves on");
        }
        other => panic!("expected a completion, got {other:?}"),
    }
    drop(worker);
}
