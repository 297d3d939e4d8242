//! The executor seam: each attempt runs where its activity's kind says, through the
//! interceptors, with panics and crashes turned into failures. One module per executor:
//! `blocking` (plain `fn`s on the pool), `event_loop` (async fns on the event loop or a
//! spare) and `isolated` (plain `fn`s in child processes).

mod blocking;
mod event_loop;
mod executors;
pub(crate) mod isolated;

use tracing::Span;

use self::executors::Start;
pub(crate) use self::executors::{local_timeout_buffer, Executors, TaskInput};
use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::interceptor::ActivityInput;
use crate::invoke::Outcome;
use crate::registry::{ActivityDescriptor, Invoker};

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
        // An isolated attempt leaves the process. Interceptors stay here: their heartbeat
        // hook sees the child's heartbeats; `execute_sync` does not wrap the attempt.
        if let Invoker::Isolated { memory_limit, .. } = descriptor.invoker {
            return match self.isolated.get() {
                Some(pool) => {
                    let ctx = ctx.with_heartbeat_hook(self.interceptors.heartbeat_hook());
                    // Boxed: its future (about 2 KiB, a child's round trip) would
                    // otherwise sit inline in every attempt's future, parked or not.
                    Box::pin(isolated::run(pool, name, memory_limit, ctx, payloads, span)).await
                }
                None => Err(ActivityError::new(format!(
                    "isolated activity `{name}` has no child processes on this worker"
                ))),
            };
        }
        // Without interceptors the headers are not needed, and the context stays as built.
        let start = if self.interceptors.is_empty() {
            Start::Plain(payloads)
        } else {
            let intercepted = ctx
                .clone()
                .with_heartbeat_hook(self.interceptors.heartbeat_hook());
            Start::Intercepted(ActivityInput::new(payloads, headers, intercepted))
        };
        match descriptor.invoker {
            Invoker::Sync(invoke) => blocking::run(self, name, invoke, start, ctx, span).await,
            Invoker::Async(invoke) => {
                event_loop::run(self, descriptor, invoke, start, ctx, span).await
            }
            Invoker::Isolated { .. } => unreachable!("isolated attempts returned above"),
        }
    }
}
