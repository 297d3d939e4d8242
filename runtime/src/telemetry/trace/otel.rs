//! OpenTelemetry for a worker (feature `otel`): every attempt's `RunActivity` span
//! continues the trace of the workflow that scheduled it, and spans go out through OTLP.
//!
//! A generated `main` calls [`init_from_env`] when [`configured_in_env`] says so. A binary
//! with a subscriber of its own adds [`layer`] to it:
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//!
//! let otel = legwork::otel::init_from_env().expect("OTLP export starts");
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(legwork::otel::layer(otel.tracer()))
//!     .init();
//! // ... run the worker; dropping `otel` flushes the spans still buffered.
//! ```

use std::collections::HashMap;

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
pub use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tokio::runtime::Runtime;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// The propagators of Temporal's tracing interceptors: W3C TraceContext and Baggage.
fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The remote context in a `_tracer-data` carrier; `None` unless it names a valid span.
pub(crate) fn remote_context(carrier: &HashMap<String, String>) -> Option<Context> {
    let mut carrier = carrier.clone();
    if let Some(traceparent) = carrier.get_mut("traceparent") {
        *traceparent = known_flags_only(traceparent);
    }
    let context = propagator().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// The traceparent with only the `sampled` flag kept. opentelemetry_sdk 0.31 rejects a
/// version-00 traceparent whose flags exceed `02`, so the W3C Level 2 `random` flag that
/// Python's opentelemetry-sdk sets beside `sampled` (`…-03`) would cost the parent. The
/// W3C spec says to ignore unknown flags, as opentelemetry_sdk 0.33 does.
fn known_flags_only(traceparent: &str) -> String {
    let parts: Vec<&str> = traceparent.trim().split('-').collect();
    match parts[..] {
        ["00", trace_id, span_id, flags] if flags.len() == 2 => {
            match u8::from_str_radix(flags, 16) {
                Ok(flags) => format!("00-{trace_id}-{span_id}-{:02x}", flags & 1),
                Err(_) => traceparent.to_owned(),
            }
        }
        _ => traceparent.to_owned(),
    }
}

/// The tracing layer that turns spans into OpenTelemetry spans of `tracer`, configured as
/// legwork's spans need: an error *log line* inside an activity does not fail its span
/// (only a failed attempt does, as in the other SDKs).
pub fn layer<S>(tracer: SdkTracer) -> OpenTelemetryLayer<S, SdkTracer>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_error_events_to_status(false)
        // The thread that creates `RunActivity` is the control thread, not the one that
        // runs the activity: naming it would mislead.
        .with_threads(false)
}

/// Why OTLP export could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtelError {
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (the value given) asks for HTTP; legwork speaks gRPC.
    #[error(
        "OTEL_EXPORTER_OTLP_PROTOCOL={0:?}: legwork exports OTLP over gRPC only; \
         set it to `grpc` (and the endpoint to the collector's gRPC port, usually 4317)"
    )]
    UnsupportedProtocol(String),
    /// opentelemetry-otlp could not build the span exporter (e.g. a bad endpoint URL).
    #[error("the OTLP span exporter: {0}")]
    Exporter(#[from] ExporterBuildError),
    /// The thread that runs the exporter could not be started.
    #[error("could not start the OTLP exporter's thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Whether the standard variables ask for OTLP traces: `OTEL_TRACES_EXPORTER=otlp`, or an
/// OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or `…_TRACES_ENDPOINT`) and no
/// `OTEL_TRACES_EXPORTER=none`.
pub fn configured_in_env() -> bool {
    match env("OTEL_TRACES_EXPORTER").as_deref() {
        // A list, as in `otlp,console`.
        Some(exporters) => exporters.split(',').any(|name| name.trim() == "otlp"),
        None => traces_endpoint().is_some(),
    }
}

/// Starts exporting spans through OTLP/gRPC as the standard `OTEL_*` variables say
/// (`OTEL_EXPORTER_OTLP_ENDPOINT`, `…_HEADERS`, `…_TIMEOUT`, `…_COMPRESSION`,
/// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`),
/// and installs the tracer provider and the W3C propagators as OpenTelemetry's globals.
///
/// Spans reach the exporter through [`layer`] (or [`OtelGuard::layer`]) in the tracing
/// subscriber. An `https://` endpoint is verified against the system's roots.
pub fn init_from_env() -> Result<OtelGuard, OtelError> {
    if let Some(protocol) = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .filter(|protocol| protocol != "grpc")
    {
        return Err(OtelError::UnsupportedProtocol(protocol));
    }
    // tonic's channel spawns its connection tasks on the runtime it is built in. A runtime
    // of its own keeps export independent of the worker's: spans still flush when the
    // guard drops after the worker's runtimes have shut down.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("legwork-otlp")
        .enable_all()
        .build()?;
    let exporter = {
        let _entered = runtime.enter();
        let builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        let builder = match traces_endpoint() {
            Some(endpoint) if endpoint.starts_with("https://") => builder
                .with_tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots()),
            _ => builder,
        };
        builder
            .with_protocol(opentelemetry_otlp::Protocol::Grpc)
            .build()?
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(propagator());
    Ok(OtelGuard {
        provider,
        runtime: Some(runtime),
    })
}

/// Keeps OTLP export running; dropping it flushes the spans still buffered (within the
/// exporter's timeout) and stops the exporter's thread.
#[must_use = "dropping the guard stops the export"]
pub struct OtelGuard {
    provider: SdkTracerProvider,
    runtime: Option<Runtime>,
}

impl OtelGuard {
    /// A tracer of the provider, named `legwork`.
    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer("legwork")
    }

    /// [`layer`] over [`OtelGuard::tracer`].
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        layer(self.tracer())
    }

    /// The provider, to make tracers of other names.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

impl std::fmt::Debug for OtelGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelGuard").finish_non_exhaustive()
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        // Shutdown exports what is buffered; it needs the runtime, so that goes last.
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "flushing spans to the OTLP collector failed");
        }
        if let Some(runtime) = self.runtime.take() {
            // Not `drop`: that panics when the guard is dropped inside async code.
            runtime.shutdown_background();
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_ascii_lowercase())
        .filter(|value| !value.is_empty())
}

/// The traces endpoint as opentelemetry-otlp resolves it, to choose TLS by its scheme.
fn traces_endpoint() -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .find_map(env)
}
