//! The executor seam: each attempt runs where its activity's kind says, through the
//! interceptors, with panics and crashes turned into failures. One module per executor:
//! `blocking` (plain `fn`s on the pool), `event_loop` (async fns on the event loop or a
//! spare) and `isolated` (plain `fn`s in child processes).

mod blocking;
mod event_loop;
pub(crate) mod isolated;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use tokio::runtime::Handle;
use tracing::Span;

use self::isolated::ChildPool;
use super::event_loop::spare::EventLoops;
use super::event_loop::stall::StallWatch;
use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::interceptor::{ActivityInput, InterceptorChain};
use crate::pool::BlockingPool;
use crate::proto::Payload;
use crate::registry::{ActivityDescriptor, Invoker, Outcome};

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
    /// The children of isolated activities, started with the worker when it has any.
    pub(crate) isolated: OnceLock<Arc<ChildPool>>,
}

/// sdk-core's margin past a timeout before it cancels an attempt locally.
const LOCAL_TIMEOUT_BUFFER: std::time::Duration = std::time::Duration::from_secs(5);

/// How long past its start-to-close or heartbeat timeout an attempt is cancelled locally:
/// sdk-core's 5 s where the attempt can only be asked to stop; none for an isolated one,
/// whose child is told at the timeout and killed a kill grace later, so that its slot
/// serves again as soon as the server has timed it out.
pub(crate) fn local_timeout_buffer(invoker: &Invoker) -> std::time::Duration {
    match invoker {
        Invoker::Isolated { .. } => std::time::Duration::ZERO,
        Invoker::Sync(_) | Invoker::Async(_) => LOCAL_TIMEOUT_BUFFER,
    }
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
        // An isolated attempt leaves the process. Interceptors stay here: their heartbeat
        // hook sees the child's heartbeats; `execute_sync` does not wrap the attempt.
        if let Invoker::Isolated { memory_limit, .. } = descriptor.invoker {
            return match self.isolated.get() {
                Some(pool) => {
                    let ctx = ctx.intercepted(&self.interceptors);
                    isolated::run(pool, name, memory_limit, ctx, payloads, span).await
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
            let intercepted = ctx.clone().intercepted(&self.interceptors);
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
