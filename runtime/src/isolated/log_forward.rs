//! The child's `tracing` events, sent to the worker, which logs them inside the attempt's
//! span: a line an isolated activity logs reads like one it would log in-process.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use super::link::Link;
use super::protocol::{from_child, Log};

pub(crate) struct ForwardLogs(Link);

impl ForwardLogs {
    /// The child's global subscriber: everything at `RUST_LOG`'s level or above (info by
    /// default), as the worker would filter it.
    pub(crate) fn install(link: Link) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(ForwardLogs(link));
        // An executable that set its own subscriber before `init()` keeps it.
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

impl<S: Subscriber> Layer<S> for ForwardLogs {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        self.0.send(from_child::Kind::Log(Log {
            level: level_code(*metadata.level()),
            target: metadata.target().to_owned(),
            message: fields.text,
        }));
    }
}

/// The message first, then `name=value` for each other field.
#[derive(Default)]
struct Fields {
    text: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.text);
            let _ = write!(self.text, "{value:?}");
            if !rest.is_empty() {
                self.text.push(' ');
                self.text.push_str(&rest);
            }
        } else {
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            let _ = write!(self.text, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings print as they are, not quoted as `Debug` would.
        self.record_debug(field, &format_args!("{value}"));
    }
}

pub(crate) fn level_code(level: Level) -> i32 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}
