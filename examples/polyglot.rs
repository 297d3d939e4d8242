//! Rust activities that a Python workflow calls by name (`examples/python/polyglot.py`).
//!
//! ```text
//! scripts/example polyglot
//! ```
//!
//! That one command starts this worker with its own dev server (`--dev`), runs the Python
//! workflow against it and prints what the workflow returns. By hand, in two terminals:
//!
//! ```text
//! cargo run --example polyglot -- --dev     # logs "dev server started address=..."
//! PYTHONPATH=.tools/python python3 examples/python/polyglot.py 127.0.0.1:PORT
//! ```
//!
//! (`.tools/python` is where `scripts/example` installs temporalio; any environment with
//! `pip install temporalio` will do.)
//!
//! The workflow names each activity by the string it is registered under (`greet`,
//! `sum_of_squares`, `await_approval`; `--list` prints them) and passes its arguments as
//! JSON, which serde decodes into the parameters.

use std::thread;
use std::time::Duration;

use legwork::{activity, ActivityContext, ActivityError};

/// The simplest activity: a plain `fn`, run on the worker's blocking pool.
#[activity]
fn greet(name: String) -> String {
    format!("Hello, {name}, from Rust!")
}

/// A long sync activity that heartbeats its progress, `(next, sum)`, after every step.
///
/// The workflow sets a heartbeat timeout shorter than the whole run, so the activity
/// completes only because it heartbeats. A retry resumes from the last heartbeat instead
/// of starting over, and `?` on `heartbeat` stops it once the workflow cancels it.
#[activity]
fn sum_of_squares(ctx: &ActivityContext, up_to: u64) -> Result<u64, ActivityError> {
    let (mut next, mut sum) = ctx.last_heartbeat::<(u64, u64)>()?.unwrap_or((1, 0));
    while next <= up_to {
        sum += next * next;
        next += 1;
        // Stands for a slow step (a query, a file, a computation).
        thread::sleep(Duration::from_millis(20));
        ctx.heartbeat(&(next, sum))?;
    }
    Ok(sum)
}

/// An async activity that waits for an approval that never comes, until the workflow
/// cancels it.
///
/// It checks every 200 ms and heartbeats each check: cancellation reaches an activity
/// through its heartbeats. On cancellation it records what it had done as a last
/// heartbeat, which the workflow receives as the details of the `CancelledError`, and
/// returns the cancellation, so the activity ends Canceled.
#[activity(async)]
async fn await_approval(ctx: &ActivityContext, ticket: String) -> Result<String, ActivityError> {
    let mut checks = 0u32;
    loop {
        ctx.heartbeat(&checks)?;
        tokio::select! {
            reason = ctx.cancelled() => {
                tracing::info!(%ticket, checks, "approval wait cancelled ({reason}); cleaning up");
                ctx.heartbeat(&format!("ticket {ticket}: stopped after {checks} checks"))
                    .ok();
                return Err(ActivityError::cancelled(reason));
            }
            () = tokio::time::sleep(Duration::from_millis(200)) => checks += 1,
        }
    }
}

legwork::main!(task_queue = "polyglot");
