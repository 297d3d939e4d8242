//! Runs one activity task where its kind says, through the interceptors, and turns
//! panics into failures.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tracing::{Instrument, Span};

use super::spare::EventLoops;
use super::stall::StallWatch;
use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::interceptor::{ActivityInput, InterceptorChain};
use crate::invoke::{until_cancelled, Args};
use crate::pool::BlockingPool;
use crate::proto::Payload;
use crate::registry::{ActivityDescriptor, BoxOutcome, Invoker, Outcome};
use crate::run_blocking::{BlockingScope, SCOPE};

/// Where activities run; never the runtime that talks to the server.
pub(crate) struct Executors {
    pub(crate) blocking: Arc<BlockingPool>,
    /// The event loop itself, for what must run there (its lag probe).
    pub(crate) event_loop: Handle,
    /// The event loop and its spares: where async activities are placed.
    pub(crate) loops: Arc<EventLoops>,
    pub(crate) stall_watch: StallWatch,
    /// Run with the activity, on its thread: they are user code too.
    pub(crate) interceptors: InterceptorChain,
}

/// How an attempt begins: straight into the activity, or into the interceptors.
enum Start {
    Plain(Vec<Payload>),
    Intercepted(ActivityInput),
}

/// The argument payloads and the headers of one task.
pub(crate) type TaskInput = (Vec<Payload>, HashMap<String, Payload>);

impl Executors {
    /// Runs the attempt inside `span` (its `RunActivity` span), entered on whichever
    /// thread polls or runs the user's code, so that its log lines carry the span.
    pub(crate) async fn run(
        &self,
        descriptor: &'static ActivityDescriptor,
        ctx: ActivityContext,
        (payloads, headers): TaskInput,
        span: Span,
    ) -> Outcome {
        let name = descriptor.name;
        // Without interceptors the headers are not needed, and the context stays as built.
        let start = if self.interceptors.is_empty() {
            Start::Plain(payloads)
        } else {
            let intercepted = ctx.clone().intercepted(&self.interceptors);
            Start::Intercepted(ActivityInput::new(payloads, headers, intercepted))
        };
        match descriptor.invoker {
            Invoker::Sync(invoke) => {
                let (sender, receiver) = oneshot::channel();
                let interceptors = self.interceptors.clone();
                self.blocking.execute(move || {
                    let _entered = span.enter();
                    // The interceptors run here, on the pool thread, inside the same guard
                    // as the activity: their panics fail the attempt, not the worker.
                    let outcome = catch_unwind(AssertUnwindSafe(|| match start {
                        Start::Intercepted(input) => interceptors.run_sync(name, invoke, input),
                        Start::Plain(payloads) => invoke(&ctx, Args::new(name, payloads)),
                    }))
                    .unwrap_or_else(|panic| Err(ActivityError::from_panic(name, &*panic)));
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
                    activity: name,
                };
                let info = ctx.info();
                // The chain's future is polled on the event loop only; building it runs
                // no user code. The stall detector watches interceptors and activity alike.
                let future: BoxOutcome = match start {
                    Start::Intercepted(input) => self.interceptors.run_async(name, invoke, input),
                    Start::Plain(payloads) => invoke(ctx.clone(), Args::new(name, payloads)),
                };
                // On the event loop, or a spare when every event-loop thread is held.
                let placement = self.loops.place();
                let watched = self.stall_watch.watch(
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
        }
    }
}
