//! `Executors`, where activities run, and what an attempt starts from. Apart from `mod.rs`
//! (which sends each attempt to its executor) so that the executors depend on it, not on
//! the dispatch.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use tokio::runtime::Handle;

use super::isolated::ChildPool;
use crate::interceptor::{ActivityInput, InterceptorChain};
use crate::payload::Payload;
use crate::pool::BlockingPool;
use crate::registry::Invoker;
use crate::worker::event_loop::spare::EventLoops;
use crate::worker::event_loop::stall::StallWatch;

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
pub(super) enum Start {
    Plain(Vec<Payload>),
    Intercepted(ActivityInput),
}

/// The argument payloads and the headers of one task.
pub(crate) type TaskInput = (Vec<Payload>, HashMap<String, Payload>);
