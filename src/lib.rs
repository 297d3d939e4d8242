#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use legwork_macros::activity;
pub use legwork_runtime::run_blocking;
pub use legwork_runtime::{
    client, ActivityContext, ActivityDescriptor, ActivityError, ActivityInfo, CancelReason,
    DecodeError, Invoker, Payload, Registry, RetryPolicy, SourceLocation,
};

#[doc(hidden)]
pub use legwork_runtime::__private;

/// Generates the `main` of an activity worker: flags, environment, signals, graceful
/// shutdown. See the crate docs for the flags.
///
/// ```no_run
/// legwork::main!(task_queue = "images");
/// ```
#[macro_export]
macro_rules! main {
    () => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::run_main($crate::__private::MainDefaults {
                task_queue: ::core::env!("CARGO_CRATE_NAME"),
            })
        }
    };
    (task_queue = $task_queue:literal $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::run_main($crate::__private::MainDefaults {
                task_queue: $task_queue,
            })
        }
    };
    ($($other:tt)+) => {
        ::core::compile_error!(
            "expected `legwork::main!()` or `legwork::main!(task_queue = \"...\")`"
        );
    };
}

/// Helpers for tests that need a real Temporal server.
#[cfg(feature = "testing")]
pub mod testing {
    pub use legwork_runtime::dev_server::{DevServer, DevServerBuilder, DevServerError};
    pub use legwork_runtime::testing::{payload, ActivityEnvironment};
}

pub use legwork_runtime::worker;
pub use legwork_runtime::codec;

/// OpenTelemetry (feature `otel`): each attempt's `RunActivity` span continues the trace
/// of the workflow that scheduled it, and spans go out through OTLP.
#[cfg(feature = "otel")]
pub use legwork_runtime::otel;
