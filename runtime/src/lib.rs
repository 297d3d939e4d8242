//! The runtime behind `legwork`: registry, payloads, worker, client.
//!
//! Users depend on the `legwork` facade, which re-exports what is public here.

#![deny(missing_docs)]

mod attempt;
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
mod priority;
mod procfs;
mod proto;
mod registry;
mod retry_policy;
mod run_blocking;
mod telemetry;

pub mod client;
pub mod codec;
pub mod connection;
pub mod dev_server;
pub mod interceptor;
pub mod isolated;
pub mod storage;
pub mod testing;
pub mod worker;

#[doc(hidden)]
pub mod __private;

/// The Temporal API's messages as `temporalio-protos` generates them (feature
/// `protocol`), for the `raw()` views of the client's answers. **Not covered by legwork's
/// semver**: this module follows `temporalio-protos`' versions.
#[cfg(feature = "protocol")]
pub mod protocol {
    pub use temporalio_protos::protos::temporal::api::*;
}

pub use attempt::CancelReason;
pub use context::{ActivityContext, ActivityInfo};
pub use dynamic::{DynamicArgs, DynamicCall};
pub use error::ActivityError;
#[cfg(feature = "protobuf")]
pub use payload::protobuf;
pub use payload::DecodeError;
pub use payload::Payload;
pub use priority::Priority;
pub use registry::{ActivityDescriptor, ActivityKind, DuplicateActivity, Registry, SourceLocation};
pub use retry_policy::RetryPolicy;
pub use run_blocking::run_blocking;
/// OpenTelemetry: traces that continue the workflow's, exported through OTLP.
#[cfg(feature = "otel")]
pub use telemetry::trace::otel;
