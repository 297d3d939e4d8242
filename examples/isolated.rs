//! Containing activities: each attempt of an `#[activity(isolated)]` runs in a child
//! process, so a crash, a runaway or a memory blow-up costs that attempt, never the worker
//! or the plain activities beside it.
//!
//! ```text
//! cargo run --example isolated -- --dev
//! temporal activity execute --type misbehave --task-queue isolated --activity-id m1 \
//!     --start-to-close-timeout 30s --input '"segfault"'
//! ```
//!
//! The first attempt dies of SIGSEGV; the worker reports it as a retryable
//! `ProcessCrashed` failure, starts another child, and the second attempt returns the
//! child's process id. The integration tests (`tests/isolated.rs`) drive every activity
//! here.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use legwork::{activity, ActivityContext, ActivityError};

/// A plain sync activity, in the worker's own process: returns the worker's pid after
/// `millis`.
#[activity]
fn steady(millis: u64) -> Result<u32, ActivityError> {
    std::thread::sleep(Duration::from_millis(millis));
    Ok(std::process::id())
}

/// When it started, in milliseconds since the epoch: tells a test when a slot served
/// again.
#[activity]
fn started_at() -> Result<u64, ActivityError> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64))
}

/// Misbehaves on its first attempt as `how` says, then returns its child's pid.
#[activity(isolated, memory_limit = "256MiB")]
fn misbehave(ctx: &ActivityContext, how: String) -> Result<u32, ActivityError> {
    tracing::info!(how = %how, attempt = ctx.info().attempt, "misbehaving");
    if ctx.info().attempt == 1 {
        match how.as_str() {
            "stack_overflow" => {
                recurse(&[0; 64]);
            }
            "abort" => std::process::abort(),
            // As a fault in C code ends: Rust's own SIGSEGV handler (it watches for stack
            // overflows) is put back to the default first, or a raised signal is ignored.
            // SAFETY: resetting a handler and raising a signal at ourselves is the point.
            "segfault" => unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
            },
            "exit3" => std::process::exit(3),
            "allocate" => allocate_up_to(2 << 30),
            _ => return Err(ActivityError::new(format!("unknown misbehaviour `{how}`"))),
        }
    }
    Ok(std::process::id())
}

/// Overflows the stack: every frame keeps a buffer the optimiser cannot drop.
#[allow(unconditional_recursion)]
fn recurse(buffer: &[u8; 64]) -> u8 {
    let mut next = *buffer;
    next[0] = next[0].wrapping_add(1);
    std::hint::black_box(&mut next);
    recurse(&next).wrapping_add(next[1])
}

/// Touches memory 16 MiB at a time, stopping at `most` bytes: harmless where no limit
/// holds, a memory overrun where one does.
fn allocate_up_to(most: usize) {
    const CHUNK: usize = 16 << 20;
    let mut kept = Vec::new();
    while kept.len() * CHUNK < most {
        kept.push(vec![1u8; CHUNK]);
    }
    std::hint::black_box(&kept);
}

/// Never returns and never checks for cancellation; with `heartbeat`, it heartbeats every
/// 100 ms and ignores the error that says it was cancelled.
#[activity(isolated)]
fn runaway(ctx: &ActivityContext, heartbeat: bool) -> Result<(), ActivityError> {
    let mut last = Instant::now();
    loop {
        if heartbeat && last.elapsed() >= Duration::from_millis(100) {
            let _ignored = ctx.heartbeat(&"still going");
            last = Instant::now();
        }
        std::hint::spin_loop();
    }
}

/// Starts a `sleep` of its own, heartbeats its pid, and never stops: killing the child
/// must take the `sleep` with it.
#[activity(isolated)]
fn spawns_and_hangs(ctx: &ActivityContext) -> Result<(), ActivityError> {
    let sleeper = std::process::Command::new("sleep").arg("600").spawn()?;
    loop {
        let _ignored = ctx.heartbeat(&sleeper.id());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The child's pid: which child served the attempt.
#[activity(isolated)]
fn whoami() -> Result<u32, ActivityError> {
    Ok(std::process::id())
}

/// Attempt 1 heartbeats 1..=`upto` and aborts; a later attempt returns where it would
/// resume.
#[activity(isolated)]
fn resume(ctx: &ActivityContext, upto: u32) -> Result<u32, ActivityError> {
    let from = ctx.last_heartbeat::<u32>()?.unwrap_or(0);
    if ctx.info().attempt == 1 {
        for i in 1..=upto {
            ctx.heartbeat(&i)?;
        }
        std::process::abort();
    }
    Ok(from)
}

/// Heartbeats until it is cancelled, then stops as a well-behaved activity does.
#[activity(isolated)]
fn polite(ctx: &ActivityContext) -> Result<(), ActivityError> {
    loop {
        ctx.heartbeat(&"working")?;
        std::thread::sleep(Duration::from_millis(50));
    }
}

legwork::main!(task_queue = "isolated");
