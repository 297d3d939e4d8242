//! An interceptor most workers want: one structured log line per attempt, with how long
//! it took and how it ended, and a warning for the slow ones.
//!
//! ```text
//! cargo run --example timing -- --dev --log-format json
//! temporal activity execute --type resize --task-queue timing \
//!     --activity-id resize-1 --start-to-close-timeout 10s --input 1200
//! ```
//!
//! prints, besides the worker's own lines, something like
//! `{"level":"INFO","fields":{"message":"attempt ended","activity":"resize","attempt":1,
//! "elapsed_ms":1201,"outcome":"completed"}, ...}` and, past 1 s, the same at WARN.

use std::time::{Duration, Instant};

use legwork::interceptor::{
    ActivityInput, ActivityInterceptor, InterceptedFuture, InterceptorChain, NextAsync, NextSync,
};
use legwork::{activity, ActivityError, ActivityInfo, Payload};

/// Logs every attempt's duration and outcome; warns past `slow`.
///
/// The line is emitted inside the attempt's `RunActivity` span, on the activity's own
/// thread, so it carries the span's fields (activity id, workflow) like the activity's
/// own log lines.
pub struct TimingLog {
    slow: Duration,
}

impl TimingLog {
    fn log(&self, info: &ActivityInfo, started: Instant, outcome: &Result<Payload, ActivityError>) {
        let elapsed = started.elapsed();
        let ended = match outcome {
            Ok(_) => "completed",
            Err(error) => error.error_type(),
        };
        let elapsed_ms = elapsed.as_millis() as u64;
        if elapsed > self.slow {
            tracing::warn!(
                activity = %info.activity_type,
                attempt = info.attempt,
                elapsed_ms,
                outcome = ended,
                "slow attempt"
            );
        } else {
            tracing::info!(
                activity = %info.activity_type,
                attempt = info.attempt,
                elapsed_ms,
                outcome = ended,
                "attempt ended"
            );
        }
    }
}

impl ActivityInterceptor for TimingLog {
    // Sync activities: here on the activity's pool thread.
    fn execute_sync(
        &self,
        input: ActivityInput,
        next: NextSync<'_>,
    ) -> Result<Payload, ActivityError> {
        let info = input.info().clone();
        let started = Instant::now();
        let outcome = next.run(input);
        self.log(&info, started, &outcome);
        outcome
    }

    // Async activities: a future on the event loop; never block in it.
    fn execute_async(&self, input: ActivityInput, next: NextAsync) -> InterceptedFuture<'_> {
        Box::pin(async move {
            let info = input.info().clone();
            let started = Instant::now();
            let outcome = next.run(input).await;
            self.log(&info, started, &outcome);
            outcome
        })
    }
}

fn interceptors() -> InterceptorChain {
    InterceptorChain::new().then(TimingLog {
        slow: Duration::from_secs(1),
    })
}

/// Stands in for real work: takes `ms` milliseconds.
#[activity]
fn resize(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[activity(async)]
async fn notify(user: String) -> Result<(), ActivityError> {
    if user.is_empty() {
        return Err(ActivityError::new("no user")
            .with_type("NoUser")
            .non_retryable());
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

legwork::main!(task_queue = "timing", interceptors = interceptors);
