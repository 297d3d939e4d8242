//! `run_blocking`: the `asyncio.to_thread` of legwork.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::attempt::Attempt;
use crate::error::ActivityError;
use crate::pool::BlockingPool;

/// Where an async activity's blocking work goes: its worker's blocking pool.
#[derive(Clone)]
pub(crate) struct BlockingScope {
    pub(crate) pool: Arc<BlockingPool>,
    pub(crate) attempt: Arc<Attempt>,
    pub(crate) activity: &'static str,
}

tokio::task_local! {
    pub(crate) static SCOPE: BlockingScope;
}

/// Runs blocking code from an async activity on the worker's blocking pool, the same
/// bounded pool that runs sync activities, and awaits its result.
///
/// As for a sync activity, a panic becomes a `PanicError` failure, and the thread is
/// never interrupted: if the activity is cancelled while waiting, the closure still runs
/// to its end, and the activity's slot is freed only then. Outside a worker (in a unit
/// test) the closure runs on a thread of its own.
///
/// ```
/// use legwork::{activity, run_blocking, ActivityError};
///
/// #[activity(async)]
/// async fn checksum(path: String) -> Result<u64, ActivityError> {
///     let bytes = run_blocking(move || std::fs::read(path)).await??;
///     Ok(bytes.iter().map(|&b| u64::from(b)).sum())
/// }
/// ```
pub async fn run_blocking<F, T>(work: F) -> Result<T, ActivityError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    let scope = SCOPE.try_with(Clone::clone).ok();
    let activity = scope
        .as_ref()
        .map_or("run_blocking", |scope| scope.activity);
    let job = {
        let busy = scope.as_ref().map(|scope| scope.attempt.enter_blocking());
        // The caller's span (an activity's `RunActivity`), so the closure's log lines
        // carry it as the activity's own do.
        let span = tracing::Span::current();
        move || {
            let _entered = span.enter();
            let outcome = catch_unwind(AssertUnwindSafe(work))
                .map_err(|panic| ActivityError::from_panic(activity, &*panic));
            let _ = sender.send(outcome);
            drop(busy);
        }
    };
    match scope {
        Some(scope) => scope.pool.execute(job).map_err(|error| {
            crate::pool::refused(&format!("run_blocking in activity `{activity}`"), &error)
        })?,
        None => {
            std::thread::Builder::new()
                .name("legwork-run-blocking".to_owned())
                .spawn(job)
                .map_err(|error| {
                    ActivityError::new(format!("could not start a thread: {error}"))
                })?;
        }
    }
    receiver
        .await
        .unwrap_or_else(|_| Err(ActivityError::new("the blocking closure's thread vanished")))
}
