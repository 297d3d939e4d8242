//! Interceptors: the user's own code around every attempt (inbound) and around what an
//! activity asks of its context (outbound).
//!
//! An interceptor is user code, so it runs where the activity runs, never on the thread
//! that talks to the server:
//!
//! - around a sync `#[activity]`, [`ActivityInterceptor::execute_sync`] runs on the
//!   activity's `legwork-blocking-N` thread, and the rest of the chain (ending in the
//!   activity) is a plain call: the interceptor may block, as the activity may;
//! - around an `#[activity(async)]`, [`ActivityInterceptor::execute_async`] is a future
//!   on the activity event loop (`legwork-async-N`), with the rest of the chain a future
//!   to await: it must not block, as the activity must not, and the stall detector
//!   watches it with the activity.
//!
//! That is why there are two inbound methods rather than one: a single synchronous
//! `around` could not await an async activity without blocking the event loop, and a
//! single async one would put a sync activity's interceptor on an event loop (Python's
//! choice: its interceptors run on the asyncio loop even for activities on a thread pool,
//! so a blocking interceptor stalls every async activity). Both methods default to
//! calling the next one, so an interceptor that only cares about one kind writes one.
//!
//! A panic in an interceptor fails that attempt as a panic in the activity does
//! (`PanicError`); the worker and the other attempts carry on.
//!
//! ```
//! use legwork::interceptor::{ActivityInput, ActivityInterceptor, InterceptorChain, NextSync};
//! use legwork::{ActivityError, Payload};
//!
//! /// Refuses attempts that do not carry a `tenant` header.
//! struct RequireTenant;
//!
//! impl ActivityInterceptor for RequireTenant {
//!     fn execute_sync(&self, input: ActivityInput, next: NextSync<'_>) -> Result<Payload, ActivityError> {
//!         if !input.headers.contains_key("tenant") {
//!             return Err(ActivityError::new("no tenant header").non_retryable());
//!         }
//!         next.run(input)
//!     }
//! }
//!
//! let chain = InterceptorChain::new().then(RequireTenant);
//! assert_eq!(chain.len(), 1);
//! ```

mod chain;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

pub use chain::{InterceptorChain, NextAsync, NextSync};

use crate::context::{ActivityContext, ActivityInfo};
pub use crate::invoke::{BoxOutcome, Outcome};
use crate::payload::Payload;

/// An interceptor's future around an async activity.
pub type InterceptedFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// Code of the user's around every attempt, and around heartbeats; registered with
/// [`InterceptorChain`] on `WorkerOptions::interceptors` or
/// `legwork::main!(interceptors = ...)`.
///
/// Every method has a default that passes through, so an implementation writes only what
/// it changes. In a chain, the first interceptor added is the outermost: it sees the
/// input first and the outcome last.
pub trait ActivityInterceptor: Send + Sync + 'static {
    /// Around one attempt of a sync activity, on the activity's pool thread.
    ///
    /// `input` holds the argument payloads (decoded by the codecs, not yet deserialized),
    /// the headers and the context; change them and pass them on with
    /// [`next.run(input)`](NextSync::run), or return an error without calling it to fail
    /// the attempt. The outcome `next` returns (the encoded result, or the failure) may be
    /// replaced.
    fn execute_sync(&self, input: ActivityInput, next: NextSync<'_>) -> Outcome {
        next.run(input)
    }

    /// Around one attempt of an async activity, as a future on the activity event loop;
    /// the same contract as [`execute_sync`](Self::execute_sync). It must not block.
    ///
    /// ```
    /// use std::time::Instant;
    /// use legwork::interceptor::{ActivityInput, ActivityInterceptor, InterceptedFuture, NextAsync};
    ///
    /// struct Timing;
    ///
    /// impl ActivityInterceptor for Timing {
    ///     fn execute_async(&self, input: ActivityInput, next: NextAsync) -> InterceptedFuture<'_> {
    ///         Box::pin(async move {
    ///             let started = Instant::now();
    ///             let activity = input.info().activity_type.clone();
    ///             let outcome = next.run(input).await;
    ///             eprintln!("{activity} took {:?}", started.elapsed());
    ///             outcome
    ///         })
    ///     }
    /// }
    /// ```
    fn execute_async(&self, input: ActivityInput, next: NextAsync) -> InterceptedFuture<'_> {
        next.run(input)
    }

    /// Outbound: each heartbeat the activity records, on the thread that records it,
    /// before it is handed to the worker. The details (already serialized) may be changed.
    fn heartbeat(&self, info: &ActivityInfo, details: &mut Payload) {
        let _ = (info, details);
    }

    /// The interceptor's name in `Debug` output of a chain.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// What an attempt starts with, as the inbound interceptors see it.
#[non_exhaustive]
pub struct ActivityInput {
    /// One payload per argument, after the codecs, before deserialization.
    pub args: Vec<Payload>,
    /// The headers of the activity task (tracing context, a caller's own), as sent: the
    /// codecs do not touch headers.
    pub headers: HashMap<String, Payload>,
    /// The context the activity will receive.
    pub ctx: ActivityContext,
}

impl ActivityInput {
    pub(crate) fn new(
        args: Vec<Payload>,
        headers: HashMap<String, Payload>,
        ctx: ActivityContext,
    ) -> Self {
        ActivityInput { args, headers, ctx }
    }

    /// Facts about the attempt: activity type, id, attempt number, workflow, timeouts.
    pub fn info(&self) -> &ActivityInfo {
        self.ctx.info()
    }

    /// Changes the [`ActivityInfo`] the activity (and the interceptors after this one)
    /// will see through `ctx.info()`, the outbound `info` of the SDKs' interceptors; the
    /// attempt itself (cancellation, heartbeats, its report) is unchanged.
    pub fn map_info(&mut self, change: impl FnOnce(&mut ActivityInfo)) {
        let mut info = self.ctx.info().clone();
        change(&mut info);
        self.ctx = self.ctx.with_info(info);
    }
}

impl std::fmt::Debug for ActivityInput {
    /// Payloads by size only: arguments and headers may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sizes = |payloads: &mut dyn Iterator<Item = &Payload>| {
            payloads.map(|p| p.data.len()).collect::<Vec<_>>()
        };
        f.debug_struct("ActivityInput")
            .field("activity", &self.info().activity_type)
            .field("arg_bytes", &sizes(&mut self.args.iter()))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
