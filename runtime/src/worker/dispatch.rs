//! Runs one activity task where its kind says, and turns panics into failures.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::pool::BlockingPool;
use crate::context::ActivityContext;
use crate::error::{failure_type, ActivityError};
use crate::invoke::{run_async, Args};
use crate::registry::{ActivityDescriptor, Invoker, Outcome, Registry};

/// Where activities run; never the runtime that talks to the server.
pub(crate) struct Executors {
    pub(crate) blocking: BlockingPool,
    pub(crate) event_loop: Handle,
}

impl Executors {
    pub(crate) async fn run(
        &self,
        descriptor: &'static ActivityDescriptor,
        ctx: ActivityContext,
        args: Args,
    ) -> Outcome {
        match descriptor.invoker {
            Invoker::Sync(invoke) => {
                let (sender, receiver) = oneshot::channel();
                self.blocking.execute(move || {
                    let outcome = catch_unwind(AssertUnwindSafe(|| invoke(&ctx, args)))
                        .unwrap_or_else(|panic| {
                            Err(ActivityError::from_panic(descriptor.name, &*panic))
                        });
                    let _ = sender.send(outcome);
                });
                receiver
                    .await
                    .unwrap_or_else(|_| Err(ActivityError::new("the activity's thread vanished")))
            }
            Invoker::Async(invoke) => {
                let task = self.event_loop.spawn(run_async(invoke, ctx, args));
                match task.await {
                    Ok(outcome) => outcome,
                    Err(error) if error.is_panic() => Err(ActivityError::from_panic(
                        descriptor.name,
                        &*error.into_panic(),
                    )),
                    Err(error) => Err(ActivityError::new(format!(
                        "the activity was aborted: {error}"
                    ))),
                }
            }
        }
    }
}

/// The failure for a type this worker does not serve, worded as the Python SDK words it.
pub(crate) fn not_found(activity_type: &str, registry: &Registry) -> ActivityError {
    let known: Vec<&str> = registry.names().collect();
    ActivityError::new(format!(
        "activity function {activity_type} is not registered on this worker, available activities: {}",
        if known.is_empty() { "(none)".to_owned() } else { known.join(", ") }
    ))
    .with_type(failure_type::NOT_FOUND)
}
