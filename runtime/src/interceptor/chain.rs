//! The chain of interceptors, and the `next` handles that walk it to the activity.

use std::fmt;
use std::sync::Arc;

use super::{ActivityInput, ActivityInterceptor};
use crate::context::{ActivityContext, ActivityInfo, HeartbeatHook};
use crate::invoke::Args;
use crate::invoke::{BoxOutcome, Outcome};
use crate::payload::Payload;

/// Interceptors in the order they were added: the first added is the outermost (it sees
/// the input first and the outcome last), as with Python's `interceptors=[...]` list.
///
/// Cloning is cheap (the interceptors are shared).
///
/// ```
/// use legwork::interceptor::{ActivityInterceptor, InterceptorChain};
///
/// struct Audit;
/// impl ActivityInterceptor for Audit {}
///
/// let chain = InterceptorChain::new().then(Audit);
/// let mut options = legwork::worker::WorkerOptions::new("images");
/// options.interceptors = chain;
/// ```
#[derive(Clone)]
pub struct InterceptorChain {
    interceptors: Arc<[Arc<dyn ActivityInterceptor>]>,
}

impl Default for InterceptorChain {
    fn default() -> Self {
        InterceptorChain {
            interceptors: Arc::new([]),
        }
    }
}

impl InterceptorChain {
    /// An empty chain: attempts run as they would without one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an interceptor inside those already in the chain.
    #[must_use]
    pub fn then(self, interceptor: impl ActivityInterceptor) -> Self {
        self.then_shared(Arc::new(interceptor))
    }

    /// [`then`](Self::then) for an interceptor shared with other chains.
    #[must_use]
    pub fn then_shared(self, interceptor: Arc<dyn ActivityInterceptor>) -> Self {
        let mut interceptors = self.interceptors.to_vec();
        interceptors.push(interceptor);
        InterceptorChain {
            interceptors: interceptors.into(),
        }
    }

    /// How many interceptors the chain holds.
    pub fn len(&self) -> usize {
        self.interceptors.len()
    }

    /// The chain holds no interceptor: attempts run the activity directly.
    pub fn is_empty(&self) -> bool {
        self.interceptors.is_empty()
    }

    /// Runs a sync activity through the chain; called on its pool thread.
    pub(crate) fn run_sync(
        &self,
        activity: &'static str,
        invoke: fn(&ActivityContext, Args) -> Outcome,
        input: ActivityInput,
    ) -> Outcome {
        NextSync {
            rest: &self.interceptors,
            activity,
            invoke,
        }
        .run(input)
    }

    /// Runs an async activity through the chain; the future is polled on the event loop.
    pub(crate) fn run_async(
        &self,
        activity: &'static str,
        invoke: fn(ActivityContext, Args) -> BoxOutcome,
        input: ActivityInput,
    ) -> BoxOutcome {
        NextAsync {
            chain: self.clone(),
            index: 0,
            activity,
            invoke,
        }
        .run(input)
    }

    /// The outbound heartbeat hooks, in order, as a context runs them; `None` for an
    /// empty chain.
    pub(crate) fn heartbeat_hook(&self) -> Option<HeartbeatHook> {
        if self.is_empty() {
            return None;
        }
        let chain = self.clone();
        Some(Arc::new(
            move |info: &ActivityInfo, details: &mut Payload| {
                for interceptor in chain.interceptors.iter() {
                    interceptor.heartbeat(info, details);
                }
            },
        ))
    }
}

impl fmt::Debug for InterceptorChain {
    /// The interceptors' names: their own `Debug` is not asked, so state they hold (a
    /// credential, say) cannot print through the worker's options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InterceptorChain")
            .field(
                &self
                    .interceptors
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The rest of the chain around a sync activity: the next interceptor, or the activity.
pub struct NextSync<'a> {
    rest: &'a [Arc<dyn ActivityInterceptor>],
    activity: &'static str,
    invoke: fn(&ActivityContext, Args) -> Outcome,
}

impl NextSync<'_> {
    /// Runs the rest of the chain with `input`, on this thread, and returns its outcome.
    pub fn run(self, input: ActivityInput) -> Outcome {
        match self.rest.split_first() {
            Some((interceptor, rest)) => interceptor.execute_sync(
                input,
                NextSync {
                    rest,
                    activity: self.activity,
                    invoke: self.invoke,
                },
            ),
            None => (self.invoke)(&input.ctx, Args::new(self.activity, input.args)),
        }
    }
}

/// The rest of the chain around an async activity: the next interceptor, or the activity.
pub struct NextAsync {
    chain: InterceptorChain,
    index: usize,
    activity: &'static str,
    invoke: fn(ActivityContext, Args) -> BoxOutcome,
}

impl NextAsync {
    /// The rest of the chain with `input`, as a future to await.
    pub fn run(self, input: ActivityInput) -> BoxOutcome {
        Box::pin(async move {
            match self.chain.interceptors.get(self.index).cloned() {
                Some(interceptor) => {
                    let next = NextAsync {
                        index: self.index + 1,
                        ..self
                    };
                    interceptor.execute_async(input, next).await
                }
                None => (self.invoke)(input.ctx, Args::new(self.activity, input.args)).await,
            }
        })
    }
}
