//! Payload codecs end to end, on a real dev server: a Python workflow whose client encrypts
//! with the encryption codec of Temporal's samples-python calls a legwork activity whose
//! worker encrypts with [`Aes256Gcm`] under the same key id and key; a legwork client and
//! worker round-trip through the same chain; a worker without the key fails the attempt
//! clearly. In every case the server only ever holds `binary/encrypted` payloads.
//!
//! Python comes from `LEGWORK_PYTHONPATH` (scripts/python-env.sh, which scripts/test
//! sources); when it is unset the test runs that script itself.

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use legwork::client::{ActivityStatus, StartActivity};
use legwork::codec::{payloads_from_json, Aes256Gcm, CodecChain};
use legwork::RetryPolicy;
use legwork::{activity, ActivityContext, ActivityError, Payload};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use common::{server, start_worker, task_queue, worker_options};

/// The key and id of samples-python `encryption/codec.py`, which codec_check.py's
/// `SampleEncryptionCodec` (and so codec_workflow.py) uses.
const SAMPLE_KEY: &[u8; 32] = b"test-key-test-key-test-key-test!";
const SAMPLE_KEY_ID: &str = "test-key-id";
/// A key the sample's payloads were not encrypted with, under another id.
const OTHER_KEY: &[u8; 32] = b"other-key-other-key-other-key-!!";
const OTHER_KEY_ID: &str = "other-key-id";

const ENCRYPTED: &[u8] = b"binary/encrypted";

fn encryption() -> CodecChain {
    CodecChain::new().then(Aes256Gcm::new(SAMPLE_KEY_ID, SAMPLE_KEY).unwrap())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
    unit_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    customer: String,
    lines: Vec<Line>,
    rush: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Quote {
    customer: String,
    total_cents: u64,
    items: u32,
    summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Progress {
    packed: u32,
    note: String,
}

/// Every (order, discount) `price_order` received, decoded.
static PRICED: Mutex<Vec<(Order, u32)>> = Mutex::new(Vec::new());

fn quote(order: &Order, discount_percent: u32, summary: String) -> Quote {
    let gross: u64 = order
        .lines
        .iter()
        .map(|line| u64::from(line.quantity) * line.unit_cents)
        .sum();
    Quote {
        customer: order.customer.clone(),
        total_cents: gross * u64::from(100 - discount_percent) / 100,
        items: order.lines.iter().map(|line| line.quantity).sum(),
        summary,
    }
}

/// Several arguments, a struct among them, and a struct back. An argument that arrived
/// still encrypted would not deserialize (a `PayloadDecodeError`, never this body).
#[activity]
fn price_order(order: Order, discount_percent: u32) -> Result<Quote, ActivityError> {
    PRICED
        .lock()
        .unwrap()
        .push((order.clone(), discount_percent));
    if discount_percent > 100 {
        return Err(ActivityError::new("a discount over 100%").non_retryable());
    }
    let summary = format!(
        "{} lines for {}{}",
        order.lines.len(),
        order.customer,
        if order.rush { ", rush" } else { "" }
    );
    Ok(quote(&order, discount_percent, summary))
}

/// Fails its first attempt after a heartbeat, with failure details; the retry resumes
/// from that heartbeat. Every payload kind a worker reads or writes goes through the
/// codecs: arguments, the previous heartbeat, heartbeat details, failure details, result.
#[activity]
fn pack_order(ctx: &ActivityContext, order: Order) -> Result<Quote, ActivityError> {
    match ctx.last_heartbeat::<Progress>()? {
        None => {
            let progress = Progress {
                packed: 2,
                note: "box 1 of 2 taped".to_owned(),
            };
            ctx.heartbeat(&progress)?;
            Err(ActivityError::new("the tape ran out")
                .with_type("TapeRanOut")
                .with_details(&progress))
        }
        Some(progress) => {
            let summary = format!(
                "resumed at attempt {} from {} packed ({})",
                ctx.info().attempt,
                progress.packed,
                progress.note
            );
            Ok(quote(&order, 0, summary))
        }
    }
}

fn sample_order(customer: &str) -> Order {
    Order {
        customer: customer.to_owned(),
        lines: vec![
            Line {
                sku: "tea-☕-250g".to_owned(),
                quantity: 3,
                unit_cents: 1250,
            },
            Line {
                sku: "mug".to_owned(),
                quantity: 2,
                unit_cents: 899,
            },
        ],
        rush: true,
    }
}

/// Runs the Python workflow to its end and returns what it printed.
fn run_python_workflow(activity_queue: &str, activity: &str, args: &Json) -> Json {
    let args = [
        server().address(),
        task_queue("codec-interop-wf"),
        activity_queue.to_owned(),
        activity.to_owned(),
        args.to_string(),
    ];
    common::python::run_script("codec_workflow.py", &args)
}

/// The metadata of the history payloads under `path_prefix` (e.g.
/// `activity_task_scheduled_event_attributes.input`).
fn stored_under<'a>(output: &'a Json, path_prefix: &str) -> Vec<&'a Json> {
    output["history_payloads"]
        .as_array()
        .expect("history_payloads")
        .iter()
        .filter(|payload| {
            payload["path"]
                .as_str()
                .is_some_and(|path| path.starts_with(path_prefix))
        })
        .collect()
}

/// The dev server's `temporal` CLI against it, `--output json`; returns what it printed.
fn temporal_json(args: &[&str]) -> Json {
    let server = server();
    let output = Command::new(server.cli_path())
        .args(args)
        .args(["--address", &server.address()])
        .args(["--namespace", server.namespace(), "--output", "json"])
        .output()
        .expect("the temporal CLI runs");
    assert!(
        output.status.success(),
        "temporal {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the CLI prints JSON")
}

fn assert_encrypted(payload: &Payload, what: &str) {
    assert_eq!(
        payload.metadata.get("encoding").map(Vec::as_slice),
        Some(ENCRYPTED),
        "{what}: {payload:?}"
    );
    assert_eq!(
        payload.metadata.get("encryption-key-id").map(Vec::as_slice),
        Some(SAMPLE_KEY_ID.as_bytes()),
        "{what}"
    );
}

#[test]
fn python_workflow_and_legwork_activity_share_encrypted_payloads() {
    let activity_queue = task_queue("codec-interop");
    let mut options = worker_options(&activity_queue);
    options.codecs = encryption();
    let _worker = start_worker(options);

    let order = sample_order("Zoë from Python");
    let output = run_python_workflow(&activity_queue, "price_order", &json!([order, 10]));
    eprintln!("history payloads: {:#}", output["history_payloads"]);

    // The arguments arrived decoded, as Python sent them...
    let priced = PRICED.lock().unwrap().clone();
    assert!(
        priced.contains(&(order.clone(), 10)),
        "price_order received {priced:?}"
    );
    // ...and Python decoded the struct the activity returned.
    assert_eq!(
        output["result"],
        json!({
            "customer": "Zoë from Python",
            "total_cents": (3 * 1250 + 2 * 899) * 90 / 100,
            "items": 5,
            "summary": "2 lines for Zoë from Python, rush",
        }),
        "{output}"
    );

    // The server holds the activity's two arguments and its result encrypted only.
    let input = stored_under(&output, "activity_task_scheduled_event_attributes.input");
    let result = stored_under(&output, "activity_task_completed_event_attributes.result");
    assert_eq!(input.len(), 2, "{output}");
    assert_eq!(result.len(), 1, "{output}");
    // And so is every other payload of the history (the workflow's input and result).
    let every = stored_under(&output, "");
    assert!(every.len() >= 5, "{output}");
    for payload in every {
        assert_eq!(
            payload["metadata"]["encoding"], "binary/encrypted",
            "{payload}"
        );
        assert_eq!(
            payload["metadata"]["encryption-key-id"], SAMPLE_KEY_ID,
            "{payload}"
        );
    }
}

#[tokio::test]
async fn a_legwork_client_and_worker_with_the_same_codec_round_trip() {
    let activity_queue = task_queue("codec-round-trip");
    let mut options = worker_options(&activity_queue);
    options.codecs = encryption();
    let _worker = start_worker(options);
    let client = common::client().await.with_codecs(encryption());

    let order = sample_order("Zoë from Rust");
    let handle = client
        .start_activity(
            StartActivity::new("pack_order", &activity_queue)
                .arg(&order)
                .start_to_close_timeout(Duration::from_secs(20))
                .retry_policy({
                    let mut policy = RetryPolicy::default();
                    policy.initial_interval = Some(Duration::from_millis(100));
                    policy.maximum_attempts = Some(2);
                    policy
                }),
        )
        .await
        .expect("the activity starts");
    let quote: Quote = handle.result().await.expect("the result decodes");
    assert_eq!(
        quote,
        Quote {
            customer: "Zoë from Rust".to_owned(),
            total_cents: 3 * 1250 + 2 * 899,
            items: 5,
            summary: "resumed at attempt 2 from 2 packed (box 1 of 2 taped)".to_owned(),
        }
    );

    let described = handle.describe().await.expect("describe");
    assert_eq!(described.status, ActivityStatus::Completed);
    assert_eq!(described.attempt, 2);

    // What the server stores, as the CLI (without a codec endpoint) shows it: every
    // payload the client or the worker sent is encrypted.
    let cli = temporal_json(&["activity", "describe", "--activity-id", handle.id()]);
    eprintln!("temporal activity describe: {cli:#}");
    let payloads_at = |pointer: &str| {
        let json = cli
            .pointer(pointer)
            .unwrap_or_else(|| panic!("no {pointer} in {cli}"));
        payloads_from_json(json.to_string().as_bytes()).expect("payloads")
    };
    for (pointer, what) in [
        ("/input", "the input"),
        ("/info/heartbeatDetails", "the heartbeat details"),
        (
            "/info/lastFailure/applicationFailureInfo/details",
            "the failure details",
        ),
        ("/outcome/result", "the result"),
    ] {
        let stored = payloads_at(pointer);
        assert_eq!(stored.len(), 1, "{what}: {cli}");
        assert_encrypted(&stored[0], what);
    }
    assert_eq!(cli["info"]["lastFailure"]["message"], "the tape ran out");
}

#[tokio::test]
async fn a_worker_without_the_key_fails_the_attempt_clearly() {
    let activity_queue = task_queue("codec-no-key");
    let mut options = worker_options(&activity_queue);
    options.codecs = CodecChain::new().then(Aes256Gcm::new(OTHER_KEY_ID, OTHER_KEY).unwrap());
    let _worker = start_worker(options);
    let client = common::client().await.with_codecs(encryption());

    let customer = "Zoë without the key";
    let handle = client
        .start_activity(
            StartActivity::new("price_order", &activity_queue)
                .arg(&sample_order(customer))
                .arg(&10)
                .start_to_close_timeout(Duration::from_secs(20))
                .retry_policy({
                    let mut policy = RetryPolicy::default();
                    policy.initial_interval = Some(Duration::from_millis(100));
                    policy.maximum_attempts = Some(2);
                    policy
                }),
        )
        .await
        .expect("the activity starts");
    let failure = common::failure_of(&handle).await;
    eprintln!("without the key: {failure}");
    let application = failure.application().expect("an application failure");
    assert_eq!(
        application.failure_type.as_deref(),
        Some("PayloadCodecError"),
        "{failure}"
    );
    let message = &application.message;
    assert!(message.contains(&format!("`{SAMPLE_KEY_ID}`")), "{message}");
    assert!(message.contains(OTHER_KEY_ID), "{message}");
    for key in [&SAMPLE_KEY[..], &OTHER_KEY[..]] {
        let text = String::from_utf8_lossy(key);
        let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
        assert!(
            !message.contains(&*text) && !message.contains(&hex),
            "{message}"
        );
        assert!(!format!("{failure:?}").contains(&*text), "{failure:?}");
    }
    // Retryable: the server ran the second attempt, and stopped only at the maximum.
    assert!(!application.non_retryable, "{failure}");
    assert_eq!(
        failure.retry_state.as_deref(),
        Some("MAXIMUM_ATTEMPTS_REACHED")
    );
    assert_eq!(handle.describe().await.unwrap().attempt, 2);
    // The activity itself never ran.
    assert!(PRICED
        .lock()
        .unwrap()
        .iter()
        .all(|(order, _)| order.customer != customer));
}
