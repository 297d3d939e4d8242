//! Traces that cross SDKs: a Python workflow, traced by temporalio's TracingInterceptor,
//! calls legwork activities; their `RunActivity` spans must continue its trace, as a
//! Python or Go activity's would.
//!
//! Python comes from `LEGWORK_PYTHONPATH` (scripts/python-env.sh, which scripts/test
//! sources); when it is unset the test runs that script itself.
#![cfg(feature = "otel")]

mod common;

use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use legwork::{activity, run_blocking, ActivityError};
use opentelemetry::trace::{SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry::{Key, Value};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::Value as Json;
use tonic::transport::server::TcpIncoming;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

use common::{server, start_worker, task_queue, worker_options};

#[activity]
fn traced_sync(input: String) -> String {
    tracing::info!("inside traced_sync");
    input
}

#[activity(async)]
async fn traced_async(input: String) -> Result<String, ActivityError> {
    tracing::info!("inside traced_async");
    run_blocking(|| tracing::info!("inside run_blocking")).await?;
    Ok(input)
}

#[activity]
fn traced_fails(_input: String) -> Result<String, ActivityError> {
    Err(ActivityError::new("kaput").with_type("Kaput"))
}

#[activity]
fn traced_benign(_input: String) -> Result<String, ActivityError> {
    Err(ActivityError::new("nothing to do").benign())
}

const ACTIVITIES: [&str; 4] = [
    "traced_sync",
    "traced_async",
    "traced_fails",
    "traced_benign",
];

/// Spans end on the worker's threads, so the subscriber is the process's global default,
/// set once for this test binary.
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    &EXPORTER
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let layer = legwork::otel::layer(provider.tracer("trace_interop"));
            // INFO, the level of `RunActivity`: not the gRPC stack's debug spans.
            tracing_subscriber::registry()
                .with(layer.with_filter(LevelFilter::INFO))
                .init();
            (exporter, provider)
        })
        .0
}

/// Runs the Python workflow to its end and returns what it printed.
fn run_python_workflow(activity_queue: &str) -> Json {
    let mut args = vec![
        server().address(),
        task_queue("trace-interop-wf"),
        activity_queue.to_owned(),
    ];
    args.extend(ACTIVITIES.iter().map(|name| name.to_string()));
    common::python::run_script("trace_workflow.py", &args)
}

/// legwork's span of `activity`, waiting for it to end: the worker closes it right after
/// reporting, so it may end just after the workflow hears the result.
fn run_activity_span(activity: &str) -> SpanData {
    let name = format!("RunActivity:{activity}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = exporter().get_finished_spans().unwrap();
        if let Some(span) = spans.into_iter().find(|span| span.name == name) {
            return span;
        }
        assert!(Instant::now() < deadline, "no span {name} was exported");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn python_span<'a>(output: &'a Json, name: &str) -> &'a Json {
    output["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["name"] == name)
        .unwrap_or_else(|| panic!("no Python span {name} in {output}"))
}

fn attribute(span: &SpanData, key: &'static str) -> Option<Value> {
    let key = Key::from_static_str(key);
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .map(|attribute| attribute.value.clone())
}

fn event_names(span: &SpanData) -> Vec<String> {
    span.events
        .iter()
        .map(|event| event.name.to_string())
        .collect()
}

#[test]
fn run_activity_spans_continue_the_python_workflow_trace() {
    exporter();
    let activity_queue = task_queue("trace-interop");
    let _worker = start_worker(worker_options(&activity_queue));
    let output = run_python_workflow(&activity_queue);
    assert_eq!(output["results"]["traced_sync"], "traced", "{output}");
    assert_eq!(output["results"]["traced_async"], "traced", "{output}");

    for activity in ACTIVITIES {
        let start = python_span(&output, &format!("StartActivity:{activity}"));
        let run = run_activity_span(activity);
        assert_eq!(
            run.span_context.trace_id().to_string(),
            start["trace_id"].as_str().unwrap(),
            "{activity}: the workflow's trace"
        );
        assert_eq!(
            run.parent_span_id.to_string(),
            start["span_id"].as_str().unwrap(),
            "{activity}: StartActivity is the parent"
        );
        assert!(run.parent_span_is_remote, "{activity}");
        assert_eq!(run.span_kind, SpanKind::Server, "{activity}");
        assert!(matches!(
            attribute(&run, "temporalActivityID"),
            Some(Value::String(id)) if !id.as_str().is_empty()
        ));
        let workflow_id = output["workflow_id"].as_str().unwrap().to_owned();
        let run_id = output["run_id"].as_str().unwrap().to_owned();
        assert_eq!(
            attribute(&run, "temporalWorkflowID"),
            Some(workflow_id.into())
        );
        assert_eq!(attribute(&run, "temporalRunID"), Some(run_id.into()));
        assert_eq!(attribute(&run, "attempt"), Some(Value::I64(1)));
        assert_eq!(
            attribute(&run, "activity_type"),
            Some(activity.to_owned().into())
        );
    }

    // Entered where the user's code runs: the blocking thread, the event loop, and the
    // pool thread of a `run_blocking` closure.
    let sync = run_activity_span("traced_sync");
    assert_eq!(event_names(&sync), ["inside traced_sync"]);
    assert_eq!(sync.status, Status::Unset);
    let async_events = event_names(&run_activity_span("traced_async"));
    assert_eq!(async_events, ["inside traced_async", "inside run_blocking"]);

    assert_eq!(
        run_activity_span("traced_fails").status,
        Status::error("Kaput: kaput")
    );
    assert_eq!(run_activity_span("traced_benign").status, Status::Unset);
}

/// A stand-in collector: hands every export request to the test.
struct Collector(Mutex<mpsc::Sender<ExportTraceServiceRequest>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.lock().unwrap().send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[test]
fn spans_reach_the_otlp_collector_the_environment_names() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = mpsc::channel();
    let collector = TraceServiceServer::new(Collector(Mutex::new(sender)));
    runtime.spawn(
        tonic::transport::Server::builder()
            .serve_with_incoming(collector, TcpIncoming::from(listener)),
    );
    // Process-wide, but no other test of this binary reads OTEL_* variables.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{address}"));
    std::env::set_var("OTEL_SERVICE_NAME", "trace-interop");
    assert!(legwork::otel::configured_in_env());

    let otel = legwork::otel::init_from_env().expect("OTLP export starts");
    otel.tracer().in_span("probe", |_| {});
    // Dropping the guard flushes the batch: no waiting for the 5 s schedule.
    drop(otel);

    let request = received
        .recv_timeout(Duration::from_secs(10))
        .expect("the collector receives the span");
    let resource_spans = &request.resource_spans[0];
    let service_name = resource_spans
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|attribute| attribute.key == "service.name")
        .and_then(|attribute| attribute.value.as_ref()?.value.clone());
    assert_eq!(
        service_name,
        Some(AnyValue::StringValue("trace-interop".to_owned()))
    );
    assert_eq!(resource_spans.scope_spans[0].spans[0].name, "probe");
}
