//! The subscriber a generated `main` installs: human text on a terminal, plain text (no
//! colour codes) when stderr is a file or a pipe, or one JSON object per line; and, with
//! feature `otel` and the standard `OTEL_*` variables, OTLP export of the spans.
//!
//! Inside an activity every line carries the fields of its `RunActivity` span (activity
//! type and id, attempt, workflow id), in the text's span prefix or the JSON's `span`.

use std::fmt::{self, Debug};
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One readable line per event; colour only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// What must live as long as the process logs: the OTLP exporter, flushed on drop.
#[derive(Default)]
pub(crate) struct Telemetry {
    #[cfg(feature = "otel")]
    _otel: Option<crate::otel::OtelGuard>,
}

/// Installs the global subscriber: `RUST_LOG` filters the log lines (default `info`), to
/// stderr. An OTLP exporter that cannot start is returned as the error, after logging is
/// up, so that the caller can say so in a log line.
pub(crate) fn init(format: LogFormat) -> Result<Telemetry, Box<dyn std::error::Error>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(use_colour())
            .fmt_fields(ReadableFields)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(lines);
    #[cfg(feature = "otel")]
    {
        let otel = crate::otel::configured_in_env()
            .then(crate::otel::init_from_env)
            .transpose();
        let guard = otel.as_ref().ok().and_then(Option::as_ref);
        // Its own filter: `RUST_LOG=warn` must not stop the spans from being exported.
        let spans = guard.map(|guard| {
            crate::otel::layer(guard.tracer())
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
        });
        let _ = subscriber.with(spans).try_init();
        Ok(Telemetry { _otel: otel? })
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = subscriber.try_init();
        Ok(Telemetry::default())
    }
}

/// Span and event fields as `name=value`, leaving out the OpenTelemetry attributes
/// (`otel.*`, `temporal*`) that repeat the activity's fields for trace backends.
struct ReadableFields;

impl<'writer> FormatFields<'writer> for ReadableFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = ReadableVisitor {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct ReadableVisitor<'writer> {
    writer: Writer<'writer>,
    empty: bool,
    result: fmt::Result,
}

impl Visit for ReadableVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("otel.") || name.starts_with("temporal") {
            return;
        }
        let separator = if self.empty { "" } else { " " };
        self.empty = false;
        self.result = if name == "message" {
            write!(self.writer, "{separator}{value:?}")
        } else {
            write!(self.writer, "{separator}{name}={value:?}")
        };
    }
}

/// Colour only for a person at a terminal: never into files, pipes or collectors, and
/// never when `NO_COLOR` is set (no-color.org).
fn use_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
