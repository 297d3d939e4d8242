//! The event-loop executor: an async fn on the event loop, or on a spare when every
//! event-loop thread is held, watched by the stall detector.

use tracing::{Instrument, Span};

use super::executors::{Executors, Start};
use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::invoke::{until_cancelled, Args};
use crate::invoke::{BoxOutcome, Outcome};
use crate::registry::ActivityDescriptor;
use crate::run_blocking::{BlockingScope, SCOPE};

pub(super) async fn run(
    executors: &Executors,
    descriptor: &'static ActivityDescriptor,
    invoke: fn(ActivityContext, Args) -> BoxOutcome,
    start: Start,
    ctx: ActivityContext,
    span: Span,
) -> Outcome {
    let name = descriptor.name;
    let scope = BlockingScope {
        pool: executors.blocking.clone(),
        attempt: ctx.attempt().clone(),
        activity: name,
    };
    let info = ctx.info();
    // The chain's future is polled on the event loop only; building it runs no user code.
    // The stall detector watches interceptors and activity alike.
    let future: BoxOutcome = match start {
        Start::Intercepted(input) => executors.interceptors.run_async(name, invoke, input),
        Start::Plain(payloads) => invoke(ctx.clone(), Args::new(name, payloads)),
    };
    // On the event loop, or a spare when every event-loop thread is held.
    let placement = executors.loops.place();
    let watched = executors.stall_watch.watch(
        future,
        descriptor,
        info.activity_id.clone(),
        info.attempt,
        placement.held(),
    );
    let attempt = until_cancelled(ctx.attempt().clone(), watched);
    let task = placement.spawn(SCOPE.scope(scope, attempt).instrument(span));
    match task.await {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => {
            Err(ActivityError::from_panic(name, &*error.into_panic()))
        }
        Err(error) => Err(ActivityError::new(format!(
            "the activity was aborted: {error}"
        ))),
    }
}
