#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[doc(inline)]
pub use legwork_macros::activity;
pub use legwork_runtime::run_blocking;
pub use legwork_runtime::{
    client, ActivityContext, ActivityError, ActivityInfo, CancelReason, DecodeError, Payload,
    Priority, RetryPolicy,
};
pub use legwork_runtime::{DynamicArgs, DynamicCall};

#[doc(hidden)]
pub use legwork_runtime::__private;

/// The activities a worker serves: every `#[activity]` registers an
/// [`ActivityDescriptor`](registry::ActivityDescriptor) at link time, and a
/// [`Registry`](registry::Registry) finds them by name.
///
/// A worker serves every linked activity unless it is given a registry of its own, for
/// example to serve some of them:
///
/// ```no_run
/// use legwork::registry::Registry;
/// use legwork::worker::{Worker, WorkerOptions};
///
/// let linked = Registry::linked()?;
/// let images = linked.iter().filter(|d| d.name().starts_with("image_"));
/// let worker = Worker::new(WorkerOptions::new("images"))
///     .registry(Registry::from_descriptors(images)?)
///     .start()?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub mod registry {
    pub use legwork_runtime::{
        ActivityDescriptor, ActivityKind, DuplicateActivity, Registry, SourceLocation,
    };
}

/// Generates the `main` of an activity worker: flags, environment, signals, graceful
/// shutdown. See the crate docs for the flags.
///
/// Optional settings, in any order: `task_queue = "..."` (the default task queue, else the
/// crate's name) and `codecs = path::to::fn` (a `fn() -> legwork::codec::CodecChain`: the
/// payload codecs of the worker and of `--codec-server-bind`) and `interceptors =
/// path::to::fn` (a `fn() -> legwork::interceptor::InterceptorChain`: code around every
/// attempt, see [`interceptor`]).
///
/// ```no_run
/// legwork::main!(task_queue = "images");
/// ```
///
/// ```no_run
/// use legwork::codec::{Aes256Gcm, CodecChain};
///
/// fn codecs() -> CodecChain {
///     let key = std::env::var("PAYLOAD_KEY").expect("PAYLOAD_KEY holds 32 bytes");
///     CodecChain::new().then(Aes256Gcm::new("key-2026", key.as_bytes()).expect("a 32-byte key"))
/// }
///
/// legwork::main!(task_queue = "images", codecs = codecs);
/// ```
///
/// A misspelt key is a compile error naming it:
///
/// ```compile_fail,E0599
/// legwork::main!(task_queu = "images"); // error[E0599]: no method named `task_queu`
/// ```
///
/// and so is anything that is not `key = value`:
///
/// ```compile_fail
/// legwork::main!("images"); // error: expected `legwork::main!()` or ...
/// ```
///
/// Needs the `cli` feature (on by default): without it, `main!()` is a compile error that
/// says so, and legwork builds without clap and tracing-subscriber's formatters.
#[cfg(feature = "cli")]
#[macro_export]
macro_rules! main {
    ($($key:ident = $value:expr),* $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::run_main(
                $crate::__private::MainDefaults::new(::core::env!("CARGO_CRATE_NAME"))
                    $(.$key($value))*
            )
        }
    };
    ($($other:tt)+) => {
        ::core::compile_error!(
            "expected `legwork::main!()` or `legwork::main!(task_queue = \"...\", codecs = make_codecs)`"
        );
    };
}

/// Without the `cli` feature: a compile error that says to enable it.
#[cfg(not(feature = "cli"))]
#[doc(hidden)]
#[macro_export]
macro_rules! main {
    // Inside a `main`, so that this is the only error.
    ($($any:tt)*) => {
        fn main() {
            ::core::compile_error!(
                "`legwork::main!()` needs legwork's `cli` feature, which `default-features = false` turned off: add `features = [\"cli\"]` to the legwork dependency (or build a `legwork::worker::Worker` yourself)"
            );
        }
    };
}

/// Helpers for tests that need a real Temporal server.
#[cfg(feature = "testing")]
pub mod testing {
    pub use legwork_runtime::dev_server::{DevServer, DevServerBuilder, DevServerError};
    pub use legwork_runtime::testing::{payload, ActivityEnvironment};
}

/// The guide, one page per topic (the repository's `docs/` folder); every Rust block in
/// it is compiled and run as a doctest.
pub mod guide {
    #[doc = include_str!("../docs/writing-activities.md")]
    pub mod writing_activities {}
    #[doc = include_str!("../docs/long-running-activities.md")]
    pub mod long_running_activities {}
    #[doc = include_str!("../docs/event-loop.md")]
    pub mod event_loop {}
    #[doc = include_str!("../docs/containing-activities.md")]
    pub mod containing_activities {}
    #[doc = include_str!("../docs/payloads.md")]
    pub mod payloads {}
    #[doc = include_str!("../docs/external-storage.md")]
    pub mod external_storage {}
    #[doc = include_str!("../docs/dynamic-activities.md")]
    pub mod dynamic_activities {}
    #[doc = include_str!("../docs/interceptors.md")]
    pub mod interceptors {}
    #[doc = include_str!("../docs/async-completion.md")]
    pub mod async_completion {}
    #[doc = include_str!("../docs/client.md")]
    pub mod client {}
    #[doc = include_str!("../docs/slots.md")]
    pub mod slots {}
    #[doc = include_str!("../docs/flags.md")]
    pub mod flags {}
    #[doc = include_str!("../docs/fleet.md")]
    pub mod fleet {}
    #[doc = include_str!("../docs/connecting.md")]
    pub mod connecting {}
    #[doc = include_str!("../docs/observability.md")]
    pub mod observability {}
    #[doc = include_str!("../docs/guarantees.md")]
    pub mod guarantees {}
    #[doc = include_str!("../docs/benchmarks.md")]
    pub mod benchmarks {}
    #[doc = include_str!("../docs/operations.md")]
    pub mod operations {}
    #[doc = include_str!("../docs/coming-from-python.md")]
    pub mod coming_from_python {}
    #[doc = include_str!("../docs/coming-from-rust-sdk.md")]
    pub mod coming_from_rust_sdk {}
    #[doc = include_str!("../docs/protobuf.md")]
    pub mod protobuf_guide {}
}

pub use legwork_runtime::codec;
pub use legwork_runtime::connection;
pub use legwork_runtime::interceptor;
pub use legwork_runtime::isolated;
pub use legwork_runtime::storage;
pub use legwork_runtime::worker;

/// Protobuf messages as activity arguments and results (feature `protobuf`): prost types
/// with prost-reflect's `ReflectMessage`, read from `json/protobuf` or `binary/protobuf`
/// and written as `json/protobuf`, as Temporal's Go and Python SDKs do.
#[cfg(feature = "protobuf")]
pub use legwork_runtime::protobuf;

#[cfg(feature = "protocol")]
pub use legwork_runtime::protocol;

/// OpenTelemetry (feature `otel`): each attempt's `RunActivity` span continues the trace
/// of the workflow that scheduled it, and spans go out through OTLP.
#[cfg(feature = "otel")]
pub use legwork_runtime::otel;
