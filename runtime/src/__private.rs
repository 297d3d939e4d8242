//! Not public API. Used by the code `#[activity]` and `legwork::main!` generate.
//!
//! Generated code names items only as `::legwork::__private::...`, so users depend on
//! `legwork` alone.

pub use crate::client::typed::{encode_arg, ClientDecodeFallback, ClientEncodeFallback, ResultOk};
pub use crate::client::{ActivityOptions, Client, ClientError, TypedActivityHandle};
pub use crate::context::ActivityContext;
pub use crate::dynamic::{box_dynamic, run_dynamic, DynamicCall};
pub use crate::error::ActivityError;
pub use crate::invoke::{finish, into_result, ArgDecoder, Args};
#[cfg(feature = "cli")]
pub use crate::main_entry::{run_main, MainDefaults};
pub use crate::payload::{encode_json, DecodeViaSerde, EncodeViaSerde, Probe};
// The probe's plain level and its protobuf level (no impl without the `protobuf`
// feature), above serde; see `payload/probe.rs`.
pub use crate::invoke::{BoxOutcome, Outcome};
pub use crate::payload::{
    DecodeViaPlain, DecodeViaProto, EncodeViaPlain, EncodeViaProto, ProtoSerdeBound, SerdeBound,
};
pub use crate::registry::{ActivityDescriptor, Invoker, SourceLocation};

/// The descriptor `#[activity]` submits; a `const fn`, so that it can be a static.
pub const fn descriptor(
    name: &'static str,
    function: &'static str,
    location: SourceLocation,
    invoker: Invoker,
    max_concurrent: Option<usize>,
) -> ActivityDescriptor {
    ActivityDescriptor {
        name,
        function,
        location,
        invoker,
        max_concurrent,
    }
}

/// Where `#[activity]` found the function.
pub const fn location(file: &'static str, line: u32, column: u32) -> SourceLocation {
    SourceLocation { file, line, column }
}

/// How a descriptor's attempts are invoked; for legwork's own tests of the generated code.
pub fn invoker(descriptor: &ActivityDescriptor) -> Invoker {
    descriptor.invoker
}
pub use crate::registry::{DynamicDescriptor, DYNAMIC_NAME};
pub use inventory;
pub use serde;

/// Boxes an async activity's future; keeps generated code free of `Box::pin` paths.
pub fn box_outcome<F>(future: F) -> BoxOutcome
where
    F: std::future::Future<Output = Outcome> + Send + 'static,
{
    Box::pin(future)
}

#[cfg(feature = "bench-internals")]
/// Measures what the stall detector adds to one poll of an async activity's future, for
/// `benches/event_loop.rs`: `(plain, watched)` nanoseconds per poll.
pub fn stall_detector_cost(polls: u32) -> (f64, f64) {
    crate::worker::stall_detector_cost(polls)
}

#[cfg(feature = "bench-internals")]
/// How long after an async activity's poll begins to block the stall detector reports
/// it, for `samples` polls blocking twice `threshold` each, for `benches/event_loop.rs`.
pub fn stall_report_delay(
    threshold: std::time::Duration,
    samples: u32,
) -> Vec<std::time::Duration> {
    crate::worker::stall_report_delay(threshold, samples)
}

#[cfg(feature = "bench-internals")]
/// What metrics cost an attempt, for `benches/event_loop.rs`: nanoseconds for its two RPCs
/// unmetered and metered, and for its own series.
pub fn metrics_recording_cost(attempts: u32) -> (f64, f64, f64) {
    crate::telemetry::cost::recording_cost(attempts)
}
