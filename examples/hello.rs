//! A worker with a sync and an async activity.
//!
//! ```text
//! cargo run --example hello -- --dev          # with its own dev server
//! cargo run --example hello -- --address 127.0.0.1:7233
//! temporal activity execute --type compose_greeting --task-queue hello \
//!     --activity-id greet-1 --start-to-close-timeout 10s --input '"Ada"'
//! ```

use std::time::Duration;

use legwork::{activity, ActivityContext, ActivityError};

/// Plain `fn`: runs on the worker's blocking pool, so it may block as it likes.
#[activity(name = "compose_greeting")]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Plain `fn` with the context: CPU-bound work belongs on the blocking pool.
#[activity]
fn count_primes(ctx: &ActivityContext, below: u64) -> Result<u64, ActivityError> {
    if below > 10_000_000 {
        return Err(ActivityError::new(format!("{below} is too large"))
            .with_type("TooLarge")
            .non_retryable());
    }
    tracing::info!(
        attempt = ctx.info().attempt,
        "counting primes below {below}"
    );
    Ok((2..below).filter(|&n| is_prime(n)).count() as u64)
}

fn is_prime(n: u64) -> bool {
    (2..)
        .take_while(|d| d * d <= n)
        .all(|d| !n.is_multiple_of(d))
}

/// `async fn`: runs on the event loop, so it must never block; it awaits instead.
#[activity(async)]
async fn delayed_echo(message: String, delay_ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    message
}

legwork::main!(task_queue = "hello");
