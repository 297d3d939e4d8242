//! The activities of the performance benchmark (`bench/run`), served by legwork.
//!
//! ```text
//! cargo build --release --example bench
//! target/release/examples/bench --address 127.0.0.1:7233 --task-queue q
//! ```
//! The same activities, by the same names, are served by the peers under `bench/peers/`
//! (the `*_isolated` ones are legwork's own: the peers serve `*_sync` in their place).

use std::time::{Duration, Instant};

use legwork::codec::{Aes256Gcm, CodecChain};
use legwork::{activity, ActivityContext, ActivityError};

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Burns `ms` of this thread's CPU time (not wall time: a preempted thread burns longer).
fn burn(ms: u64) -> u64 {
    let end = thread_cpu() + Duration::from_millis(ms);
    let mut spins = 0u64;
    while thread_cpu() < end {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
    spins
}

#[activity]
fn noop_sync() {}

#[activity(async)]
async fn noop_async() {}

#[activity]
fn tiny_sync() {}

#[activity(async)]
async fn tiny_async() {}

#[activity]
fn cpu_sync(ms: u64) -> u64 {
    burn(ms)
}

#[activity]
fn block_sync(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// The rogue: a blocking call inside an `async fn`, the mistake Python's docs warn about.
#[activity(async, allow_blocking)]
async fn block_async(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Awaits a timer: parked, it holds no thread (the `concurrency` scenario keeps 10,000 of
/// these in flight at once).
#[activity(async)]
async fn sleep_async(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Sleeps `every_ms` at a time until `total_ms` have passed, heartbeating after each sleep.
#[activity]
fn heartbeat_sync(
    ctx: &ActivityContext,
    total_ms: u64,
    every_ms: u64,
) -> Result<u64, ActivityError> {
    let start = Instant::now();
    let mut beats = 0u64;
    while start.elapsed() < Duration::from_millis(total_ms) {
        std::thread::sleep(Duration::from_millis(every_ms));
        beats += 1;
        ctx.heartbeat(&beats)?;
    }
    Ok(beats)
}

/// `noop_sync` in a child process: what containment costs a no-op (the `isolated`
/// scenario, against `noop_sync` in-process).
#[activity(isolated)]
fn noop_isolated() {}

/// Aborts its child (the `crash` scenario): the attempt fails, the worker and the sync
/// activities in flight beside it carry on.
#[activity(isolated)]
fn abort_isolated() {
    std::process::abort()
}

/// Heartbeats every 100 ms for ever, ignoring the error that says it was cancelled, as
/// code stuck in a native library would (the `runaway` scenario).
fn run_away(ctx: &ActivityContext) -> ! {
    loop {
        let _ignored = ctx.heartbeat(&"still going");
        let until = Instant::now() + Duration::from_millis(100);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
}

/// The runaway in a child process: killed `--isolated-kill-grace` after its cancel.
#[activity(isolated)]
fn runaway_isolated(ctx: &ActivityContext) {
    run_away(ctx)
}

/// The runaway in the worker's process: it holds its slot for ever.
#[activity]
fn runaway_sync(ctx: &ActivityContext) {
    run_away(ctx)
}

/// The AES-256-GCM codec when `BENCH_PAYLOAD_KEY` (32 bytes) is set, for the
/// `noop_sync_encrypted` scenario; no codec otherwise.
fn codecs() -> CodecChain {
    match std::env::var("BENCH_PAYLOAD_KEY") {
        Ok(key) => CodecChain::new()
            .then(Aes256Gcm::new("bench", key.as_bytes()).expect("BENCH_PAYLOAD_KEY: 32 bytes")),
        Err(_) => CodecChain::new(),
    }
}

#[cfg(feature = "cli")]
legwork::main!(task_queue = "bench", codecs = codecs);

/// Without legwork's `cli` feature (`bench/run --sizes` builds the standalone crate with
/// `--no-default-features`): the worker built by hand, as an embedder would, on
/// `--address` and `--task-queue` only; it runs until the process is killed.
#[cfg(not(feature = "cli"))]
fn main() {
    // The isolated activities' children are this executable: serve, if this is one.
    legwork::isolated::init();
    let mut options = legwork::worker::WorkerOptions::new("bench");
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--address", Some(address)) => options.connection.address = address.clone(),
            ("--task-queue", Some(queue)) => options.task_queue = queue.clone(),
            (flag, _) => {
                panic!("{flag}: without the `cli` feature, only --address and --task-queue")
            }
        }
    }
    options.codecs = codecs();
    let worker = legwork::worker::Worker::new(options)
        .start()
        .expect("the worker starts");
    worker.join();
}
