//! The `RunActivity` span of every attempt, named as the Temporal SDKs name it, and (with
//! feature `otel`) its remote parent: the W3C trace context that a workflow's tracing
//! interceptor (Python, Go, TypeScript) wrote into the task's `_tracer-data` header.
//!
//! The span has two readers. Log lines written inside an activity carry its plain fields
//! (`activity_type`, `activity_id`, `attempt`, `workflow_id`), whatever the subscriber.
//! tracing-opentelemetry reads its `otel.*` fields (name, kind, status) and exports the
//! rest as attributes, so the exported span matches Python's `RunActivity:<type>`.

use std::collections::HashMap;

use tracing::{field, Span};

use crate::context::ActivityInfo;
use crate::error::ActivityError;
use crate::invoke::Outcome;
use crate::payload::{ENCODING, JSON_PLAIN};
use crate::proto::WirePayload;
use crate::proto::{ApplicationErrorCategory, FailureInfo, Header};

#[cfg(feature = "otel")]
pub mod otel;

/// The header key of Temporal's tracing interceptors, in every SDK.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) const TRACER_HEADER: &str = "_tracer-data";

/// The span of one attempt, not yet entered. Enter it where the activity's code runs, so
/// that its log lines and child spans belong to it.
pub(crate) fn activity_span(info: &ActivityInfo, header: Option<&Header>) -> Span {
    let span = tracing::info_span!(
        "RunActivity",
        otel.name = %format_args!("RunActivity:{}", info.activity_type),
        otel.kind = "server",
        // Recorded by `record_outcome` when the attempt fails.
        otel.status_code = field::Empty,
        otel.status_description = field::Empty,
        temporalActivityID = %info.activity_id,
        // Set only when non-empty, as Python's interceptor does.
        temporalWorkflowID = field::Empty,
        temporalRunID = field::Empty,
        activity_type = %info.activity_type,
        activity_id = %info.activity_id,
        // i64: tracing-opentelemetry has no u64 visitor and would export a string.
        attempt = i64::from(info.attempt),
        // Always present for log pipelines: empty for a standalone activity.
        workflow_id = info.workflow_id.as_deref().unwrap_or(""),
    );
    if let Some(workflow_id) = &info.workflow_id {
        span.record("temporalWorkflowID", workflow_id.as_str());
    }
    if let Some(run_id) = &info.workflow_run_id {
        span.record("temporalRunID", run_id.as_str());
    }
    #[cfg(feature = "otel")]
    if let Some(parent) = carrier(header).and_then(|carrier| otel::remote_context(&carrier)) {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        // Fails only when no OpenTelemetry layer is installed (or the span is filtered
        // out): then there is nothing to parent.
        let _ = span.set_parent(parent);
    }
    #[cfg(not(feature = "otel"))]
    let _ = header;
    span
}

/// Marks the span as failed, as Python's interceptor does: any failure but a benign one.
/// A cancellation is not an error there either (`CancelledError` is no `Exception`).
pub(crate) fn record_outcome(span: &Span, outcome: &Outcome) {
    let Err(error) = outcome else { return };
    if error.cancel_reason().is_some() || is_benign(error) {
        return;
    }
    // The code first: tracing-opentelemetry turns a later bare "ERROR" into an error
    // without description, and a description alone into an error with it.
    span.record("otel.status_code", "ERROR");
    // `<type>: <message>`, the form of Python's `f"{type(exc).__name__}: {exc}"`.
    span.record("otel.status_description", error.to_string());
}

fn is_benign(error: &ActivityError) -> bool {
    matches!(
        error.to_failure().failure_info,
        Some(FailureInfo::ApplicationFailureInfo(info))
            if info.category == ApplicationErrorCategory::Benign as i32
    )
}

/// The propagation carrier in the header: a `json/plain` object such as
/// `{"traceparent":"00-…-…-01"}`. `None` when it is missing or does not decode (a header
/// codec may have encrypted it): the span then starts a trace of its own.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) fn carrier(header: Option<&Header>) -> Option<HashMap<String, String>> {
    carrier_of(header?.fields.get(TRACER_HEADER)?)
}

#[cfg_attr(not(feature = "otel"), allow(dead_code))]
fn carrier_of(payload: &WirePayload) -> Option<HashMap<String, String>> {
    if payload.metadata.get(ENCODING).map(Vec::as_slice) != Some(JSON_PLAIN.as_bytes()) {
        return None;
    }
    let object: HashMap<String, serde_json::Value> = serde_json::from_slice(&payload.data).ok()?;
    // Only string entries mean something to the W3C propagators.
    let carrier: HashMap<String, String> = object
        .into_iter()
        .filter_map(|(key, value)| match value {
            serde_json::Value::String(value) => Some((key, value)),
            _ => None,
        })
        .collect();
    (!carrier.is_empty()).then_some(carrier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::encode_json;

    const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn header(payload: crate::payload::Payload) -> Header {
        Header {
            fields: HashMap::from([(TRACER_HEADER.to_owned(), payload.into_wire())]),
        }
    }

    fn traceparent_header() -> Header {
        header(encode_json(HashMap::from([("traceparent", TRACEPARENT)])).unwrap())
    }

    #[test]
    fn a_json_object_is_the_carrier() {
        let carrier = carrier(Some(&traceparent_header())).unwrap();
        assert_eq!(carrier["traceparent"], TRACEPARENT);
    }

    #[test]
    fn missing_or_undecodable_headers_give_no_carrier() {
        assert_eq!(carrier(None), None);
        assert_eq!(carrier(Some(&Header::default())), None);
        let mut encrypted = traceparent_header();
        let payload = encrypted.fields.get_mut(TRACER_HEADER).unwrap();
        payload
            .metadata
            .insert("encoding".to_owned(), b"binary/encrypted".to_vec());
        assert_eq!(carrier(Some(&encrypted)), None);
        let mut garbage = traceparent_header();
        garbage.fields.get_mut(TRACER_HEADER).unwrap().data = b"{not json".to_vec();
        assert_eq!(carrier(Some(&garbage)), None);
        let not_an_object = header(encode_json(["traceparent", TRACEPARENT]).unwrap());
        assert_eq!(carrier(Some(&not_an_object)), None);
        let no_strings = header(encode_json(HashMap::from([("traceparent", 7)])).unwrap());
        assert_eq!(carrier(Some(&no_strings)), None);
    }

    #[test]
    fn benign_failures_are_recognised() {
        assert!(is_benign(&ActivityError::new("expected").benign()));
        assert!(!is_benign(&ActivityError::new("boom")));
    }

    #[cfg(feature = "otel")]
    mod remote {
        use opentelemetry::trace::TraceContextExt;

        use super::*;

        #[test]
        fn a_valid_traceparent_is_a_remote_parent() {
            let carrier = carrier(Some(&traceparent_header())).unwrap();
            let context = otel::remote_context(&carrier).unwrap();
            let parent = context.span().span_context().clone();
            assert!(parent.is_remote());
            assert_eq!(
                parent.trace_id().to_string(),
                "0af7651916cd43dd8448eb211c80319c"
            );
            assert_eq!(parent.span_id().to_string(), "b7ad6b7169203331");
            assert!(parent.is_sampled());
        }

        #[test]
        fn the_random_flag_does_not_lose_the_parent() {
            // What Python's opentelemetry-sdk 1.45 writes: sampled (01) + random (02).
            let traceparent = TRACEPARENT.replace("-01", "-03");
            let carrier = HashMap::from([("traceparent".to_owned(), traceparent)]);
            let context = otel::remote_context(&carrier).unwrap();
            assert!(context.span().span_context().is_sampled());
            let unsampled = TRACEPARENT.replace("-01", "-02");
            let carrier = HashMap::from([("traceparent".to_owned(), unsampled)]);
            let context = otel::remote_context(&carrier).unwrap();
            assert!(!context.span().span_context().is_sampled());
        }

        #[test]
        fn a_malformed_traceparent_is_no_parent() {
            for traceparent in [
                "",
                "garbage",
                "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            ] {
                let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
                assert!(otel::remote_context(&carrier).is_none(), "{traceparent:?}");
            }
        }

        #[test]
        fn without_a_layer_the_span_still_exists() {
            let info = ActivityInfo {
                activity_type: "resize".to_owned(),
                ..Default::default()
            };
            let span = activity_span(&info, Some(&traceparent_header()));
            record_outcome(&span, &Err(ActivityError::new("boom")));
        }
    }
}
