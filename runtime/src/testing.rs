//! Runs activities without a server: chosen info, captured heartbeats, cancellation and
//! worker shutdown on demand.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::attempt::{Attempt, CancelReason};
use crate::context::{ActivityContext, ActivityInfo};
use crate::error::ActivityError;
use crate::invoke::{until_cancelled, Args};
use crate::payload::Payload;
use crate::payload::{decode_json, encode_json};
use crate::registry::{Invoker, Registry};

/// Encodes one argument as the default converter would.
pub fn payload<T: Serialize + ?Sized>(value: &T) -> Payload {
    encode_json(value).expect("the test argument encodes as JSON")
}

/// One attempt of an activity, run in-process.
///
/// ```
/// use legwork::testing::{payload, ActivityEnvironment};
/// use legwork::{activity, ActivityContext, ActivityError, CancelReason};
///
/// #[activity]
/// fn count(ctx: &ActivityContext, to: u32) -> Result<u32, ActivityError> {
///     for i in 0..to {
///         ctx.heartbeat(&i)?;
///     }
///     Ok(to)
/// }
///
/// let env = ActivityEnvironment::new();
/// assert_eq!(env.run_as::<u32>("count", vec![payload(&3)]).unwrap(), 3);
/// assert_eq!(env.heartbeats::<u32>(), [0, 1, 2]);
///
/// let cancelled = ActivityEnvironment::new();
/// cancelled.cancel(CancelReason::CancelRequested);
/// let error = cancelled.run("count", vec![payload(&3)]).unwrap_err();
/// assert_eq!(error.cancel_reason(), Some(CancelReason::CancelRequested));
/// ```
#[derive(Clone)]
pub struct ActivityEnvironment {
    info: ActivityInfo,
    attempt: Arc<Attempt>,
    shutdown: CancellationToken,
}

impl Default for ActivityEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl ActivityEnvironment {
    /// An environment whose info names a first attempt on task queue `test`.
    pub fn new() -> Self {
        let info = ActivityInfo {
            activity_id: "test-activity".to_owned(),
            attempt: 1,
            task_queue: "test".to_owned(),
            namespace: "default".to_owned(),
            ..ActivityInfo::default()
        };
        let shutdown = CancellationToken::new();
        ActivityEnvironment {
            info,
            attempt: Attempt::new(shutdown.clone(), None),
            shutdown,
        }
    }

    /// Replaces the info the activity sees (its `activity_type` is set by `run`).
    pub fn with_info(mut self, info: ActivityInfo) -> Self {
        self.info = info;
        self
    }

    /// Details the "previous attempt" recorded, for [`ActivityContext::last_heartbeat`].
    pub fn with_last_heartbeat<T: Serialize + ?Sized>(mut self, details: &T) -> Self {
        self.info.heartbeat_details = vec![payload(details)];
        self
    }

    /// Cancels the attempt, from any thread (clone the environment to keep a handle).
    pub fn cancel(&self, reason: CancelReason) {
        self.attempt.cancel(reason);
    }

    /// Begins a worker shutdown: `is_worker_shutdown` turns true.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Every heartbeat the activity recorded, decoded.
    pub fn heartbeats<T: DeserializeOwned>(&self) -> Vec<T> {
        self.attempt
            .recorded_heartbeats()
            .iter()
            .map(|details| decode_json(details).expect("heartbeat details decode"))
            .collect()
    }

    /// A context for calling an activity function directly.
    pub fn context(&self) -> ActivityContext {
        ActivityContext::with_attempt(self.info.clone(), self.attempt.clone())
    }

    /// Runs the activity registered as `name` to its end, on this thread for a sync or an
    /// isolated activity (in-process: no child is started, so a crash ends the test) and on
    /// a fresh event loop for an async one. As on a worker, a name no
    /// function registers goes to the `#[activity(dynamic)]` one, if any. A panic becomes
    /// an error.
    pub fn run(&self, name: &str, args: Vec<Payload>) -> Result<Payload, ActivityError> {
        let registry = Registry::linked().map_err(|error| ActivityError::new(error.to_string()))?;
        let Some(descriptor) = registry.resolve(name) else {
            return Err(registry.not_found(name));
        };
        let mut info = self.info.clone();
        info.activity_type = name.to_owned();
        let ctx = ActivityContext::with_attempt(info, self.attempt.clone());
        let args = Args::new(descriptor.name, args);
        let outcome = match descriptor.invoker {
            // In-process: the environment tests the function, not the child around it.
            Invoker::Sync(invoke) | Invoker::Isolated { invoke, .. } => {
                catch_unwind(AssertUnwindSafe(|| invoke(&ctx, args)))
            }
            Invoker::Async(invoke) => std::thread::scope(|scope| {
                let attempt = self.attempt.clone();
                // Its own thread: the caller may already be inside an async runtime.
                scope
                    .spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("a test event loop starts")
                            .block_on(until_cancelled(attempt, invoke(ctx, args)))
                    })
                    .join()
            }),
        };
        outcome.unwrap_or_else(|panic| Err(ActivityError::from_panic(name, &*panic)))
    }

    /// [`run`](Self::run), with the result decoded.
    pub fn run_as<T: DeserializeOwned>(
        &self,
        name: &str,
        args: Vec<Payload>,
    ) -> Result<T, ActivityError> {
        let payload = self.run(name, args)?;
        decode_json(&payload).map_err(|error| ActivityError::new(error.to_string()))
    }
}
