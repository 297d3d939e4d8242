//! The runtime behind `legwork`: registry, payloads, worker, client.
//!
//! Users depend on the `legwork` facade, which re-exports what is public here.

#![deny(missing_docs)]

mod attempt;
mod connection;
mod context;
mod die_with_parent;
mod dynamic;
mod error;
mod http_server;
mod invoke;
#[cfg(feature = "cli")]
mod main_entry;
mod payload;
mod pool;
mod procfs;
mod proto;
mod registry;
mod run_blocking;
mod telemetry;

pub mod client;
pub mod codec;
pub mod dev_server;
pub mod interceptor;
pub mod isolated;
pub mod testing;
pub mod worker;

#[doc(hidden)]
pub mod __private;

pub use attempt::CancelReason;
pub use connection::ConnectError;
pub use context::{ActivityContext, ActivityInfo, RetryPolicy};
pub use dynamic::{DynamicArgs, DynamicCall};
pub use error::ActivityError;
#[cfg(feature = "protobuf")]
pub use payload::protobuf;
pub use payload::DecodeError;
pub use proto::Payload;
pub use registry::{ActivityDescriptor, DuplicateActivity, Invoker, Registry, SourceLocation};
pub use run_blocking::run_blocking;
/// OpenTelemetry: traces that continue the workflow's, exported through OTLP.
#[cfg(feature = "otel")]
pub use telemetry::trace::otel;
