//! Runs one activity task where its kind says, and turns panics into failures.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tracing::{Instrument, Span};

use super::stall::StallWatch;
use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::invoke::{until_cancelled, Args};
use crate::pool::BlockingPool;
use crate::registry::{ActivityDescriptor, Invoker, Outcome};
use crate::run_blocking::{BlockingScope, SCOPE};

/// Where activities run; never the runtime that talks to the server.
pub(crate) struct Executors {
    pub(crate) blocking: Arc<BlockingPool>,
    pub(crate) event_loop: Handle,
    pub(crate) stall_watch: StallWatch,
}

impl Executors {
    /// Runs the attempt inside `span` (its `RunActivity` span), entered on whichever
    /// thread polls or runs the user's code, so that its log lines carry the span.
    pub(crate) async fn run(
        &self,
        descriptor: &'static ActivityDescriptor,
        ctx: ActivityContext,
        args: Args,
        span: Span,
    ) -> Outcome {
        match descriptor.invoker {
            Invoker::Sync(invoke) => {
                let (sender, receiver) = oneshot::channel();
                self.blocking.execute(move || {
                    let _entered = span.enter();
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
                let scope = BlockingScope {
                    pool: self.blocking.clone(),
                    attempt: ctx.attempt().clone(),
                    activity: descriptor.name,
                };
                let info = ctx.info();
                let watched = self.stall_watch.watch(
                    invoke(ctx.clone(), args),
                    descriptor,
                    info.activity_id.clone(),
                    info.attempt,
                );
                let attempt = until_cancelled(ctx.attempt().clone(), watched);
                let task = self
                    .event_loop
                    .spawn(SCOPE.scope(scope, attempt).instrument(span));
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
