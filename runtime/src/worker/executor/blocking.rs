//! The blocking executor: a plain `fn` on a thread of the bounded pool.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tokio::sync::oneshot;
use tracing::Span;

use super::executors::{Executors, Start};
use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::invoke::Args;
use crate::invoke::Outcome;

pub(super) async fn run(
    executors: &Executors,
    name: &'static str,
    invoke: fn(&ActivityContext, Args) -> Outcome,
    start: Start,
    ctx: ActivityContext,
    span: Span,
) -> Outcome {
    let (sender, receiver) = oneshot::channel();
    let interceptors = executors.interceptors.clone();
    let started = executors.blocking.execute(move || {
        let _entered = span.enter();
        // The interceptors run here, on the pool thread, inside the same guard as the
        // activity: their panics fail the attempt, not the worker.
        let outcome = catch_unwind(AssertUnwindSafe(|| match start {
            Start::Intercepted(input) => interceptors.run_sync(name, invoke, input),
            Start::Plain(payloads) => invoke(&ctx, Args::new(name, payloads)),
        }))
        .unwrap_or_else(|panic| Err(ActivityError::from_panic(name, &*panic)));
        let _ = sender.send(outcome);
    });
    if let Err(error) = started {
        return Err(crate::pool::refused(&format!("activity `{name}`"), &error));
    }
    receiver
        .await
        .unwrap_or_else(|_| Err(ActivityError::new("the activity's thread vanished")))
}
