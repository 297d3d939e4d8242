//! The worker of the reliability tests (`tests/load.rs`) and of the long run (`scripts/soak`).
//!
//! ```text
//! cargo build --release --example soak
//! target/release/examples/soak --address 127.0.0.1:7233 --task-queue q
//! ```
//!
//! Each activity that a test counts returns the worker's process id (and the attempt), so
//! the client learns from the server's record which worker process completed it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use legwork::{activity, ActivityContext, ActivityError};

/// A no-op, or `work_us` of blocking work (a sleep); returns the worker's pid.
#[activity]
fn pid_sync(work_us: u64) -> u32 {
    if work_us > 0 {
        std::thread::sleep(Duration::from_micros(work_us));
    }
    std::process::id()
}

/// A no-op, or `work_us` of waiting on the event loop; returns the worker's pid.
#[activity(async)]
async fn pid_async(work_us: u64) -> u32 {
    if work_us > 0 {
        tokio::time::sleep(Duration::from_micros(work_us)).await;
    }
    std::process::id()
}

/// Sleeps until the wall clock reads `until_ms` (milliseconds since the Unix epoch), in
/// 10 ms steps, stopping early once the attempt is cancelled (as a well-behaved sync
/// activity does); `stubborn` ignores cancellation. Returns `(pid, attempt)`.
#[activity]
fn nap_sync(
    ctx: &ActivityContext,
    until_ms: u64,
    stubborn: bool,
) -> Result<(u32, u32), ActivityError> {
    while let Some(left) = time_left(until_ms) {
        if !stubborn {
            if let Some(reason) = ctx.cancel_reason() {
                return Err(ActivityError::cancelled(reason));
            }
        }
        std::thread::sleep(left.min(Duration::from_millis(10)));
    }
    Ok((std::process::id(), ctx.info().attempt))
}

/// Waits until the wall clock reads `until_ms`; dropped at its `.await` once cancelled.
/// Returns `(pid, attempt)`.
#[activity(async)]
async fn nap_async(ctx: &ActivityContext, until_ms: u64) -> (u32, u32) {
    if let Some(left) = time_left(until_ms) {
        tokio::time::sleep(left).await;
    }
    (std::process::id(), ctx.info().attempt)
}

/// The long run's activities: nothing at all.
#[activity]
fn noop_sync() {}

#[activity(async)]
async fn noop_async() {}

fn time_left(until_ms: u64) -> Option<Duration> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(until_ms)
        .checked_sub(now)
        .filter(|left| !left.is_zero())
}

legwork::main!(task_queue = "soak");
