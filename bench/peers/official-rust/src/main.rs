//! The official Rust SDK (temporalio-sdk 1.1.1) serving legwork's benchmark activities.
//!
//! ```text
//! bench-official-rust --address 127.0.0.1:7233 --task-queue q
//! ```
//! Plain `fn` activities run on tokio's blocking pool (`spawn_blocking`, as the
//! `#[activities]` macro generates), `async fn` ones on the runtime's worker threads. Names
//! are set by hand: the macro's default is `Bench::noop_sync`.
//!
//! For the `concurrency` scenario: `--max-concurrent-activities N` (activity slots, the
//! SDK's default 100) and `--blocking-threads N` (tokio's blocking pool, default 512: the
//! ceiling of sync activities running at once). With `BENCH_LAG_FILE` set, a probe appends
//! `unix_seconds lag_ms` every 500 ms: how late a timer fires on the one runtime that polls,
//! responds and runs async activities (legwork's `legwork_control_loop_lag`, measured the
//! same way).

use std::time::Duration;

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Burns `ms` of this thread's CPU time.
fn burn(ms: u64) -> u64 {
    let end = thread_cpu() + Duration::from_millis(ms);
    let mut spins = 0u64;
    while thread_cpu() < end {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
    spins
}

pub struct Bench;

#[activities]
impl Bench {
    #[activity(name = "noop_sync")]
    pub fn noop_sync(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "noop_async")]
    pub async fn noop_async(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "tiny_sync")]
    pub fn tiny_sync(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "tiny_async")]
    pub async fn tiny_async(_ctx: ActivityContext) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(name = "cpu_sync")]
    pub fn cpu_sync(_ctx: ActivityContext, ms: u64) -> Result<u64, ActivityError> {
        Ok(burn(ms))
    }

    #[activity(name = "block_sync")]
    pub fn block_sync(_ctx: ActivityContext, ms: u64) -> Result<(), ActivityError> {
        std::thread::sleep(Duration::from_millis(ms));
        Ok(())
    }

    /// The rogue: blocks the thread inside an `async fn`.
    #[activity(name = "block_async")]
    pub async fn block_async(_ctx: ActivityContext, ms: u64) -> Result<(), ActivityError> {
        std::thread::sleep(Duration::from_millis(ms));
        Ok(())
    }

    /// Awaits a timer: parked, it holds no thread.
    #[activity(name = "sleep_async")]
    pub async fn sleep_async(_ctx: ActivityContext, ms: u64) -> Result<(), ActivityError> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }

    /// The `crash` scenario's crash: the SDK has no isolation, so it takes the worker.
    #[activity(name = "abort_sync")]
    pub fn abort_sync(_ctx: ActivityContext) -> Result<(), ActivityError> {
        std::process::abort()
    }

    /// The `runaway` scenario's runaway: heartbeats every 100 ms for ever, ignoring the
    /// error that says it was cancelled.
    #[activity(name = "runaway_sync")]
    pub fn runaway_sync(ctx: ActivityContext) -> Result<(), ActivityError> {
        let handle = tokio::runtime::Handle::current();
        let mut beat = 0u64;
        loop {
            beat = beat.wrapping_add(1);
            let _ignored = handle.block_on(ctx.record_heartbeat(beat));
            let until = std::time::Instant::now() + Duration::from_millis(100);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
    }

    #[activity(name = "heartbeat_sync")]
    pub fn heartbeat_sync(
        ctx: ActivityContext,
        total_ms: u64,
        every_ms: u64,
    ) -> Result<u64, ActivityError> {
        let handle = tokio::runtime::Handle::current();
        let start = std::time::Instant::now();
        let mut beats = 0u64;
        while start.elapsed() < Duration::from_millis(total_ms) {
            std::thread::sleep(Duration::from_millis(every_ms));
            beats += 1;
            handle
                .block_on(ctx.record_heartbeat(beats))
                .map_err(|e| ActivityError::from(anyhow_like(e.to_string())))?;
        }
        Ok(beats)
    }
}

fn anyhow_like(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

fn flag(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// Appends how late a 500 ms timer fires on this runtime to `path`, one line a tick.
async fn lag_probe(path: String) {
    use std::io::Write;
    let tick = Duration::from_millis(500);
    let Ok(mut file) = std::fs::File::create(&path) else {
        eprintln!("cannot create {path}");
        return;
    };
    let mut due = tokio::time::Instant::now() + tick;
    loop {
        tokio::time::sleep_until(due).await;
        let now = tokio::time::Instant::now();
        let lag = now.saturating_duration_since(due);
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let _ = writeln!(
            file,
            "{:.3} {:.3}",
            wall.as_secs_f64(),
            lag.as_secs_f64() * 1e3
        );
        due = now + tick;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let blocking: usize = flag("--blocking-threads", "512").parse()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(blocking)
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let address = flag("--address", "127.0.0.1:7233");
    let task_queue = flag("--task-queue", "bench");
    let slots: usize = flag("--max-concurrent-activities", "100").parse()?;
    if let Ok(path) = std::env::var("BENCH_LAG_FILE") {
        tokio::spawn(lag_probe(path));
    }
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let url: temporalio_client::Url = format!("http://{address}").parse()?;
    let connection = Connection::connect(ConnectionOptions::new(url).build()).await?;
    let client = Client::new(connection, ClientOptions::new("default").build())?;
    let fixed = |n| FixedSizeSlotSupplier::new(n);
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(fixed(100))
        .activity_task_slot_supplier(fixed(slots))
        .local_activity_task_slot_supplier(fixed(100))
        .nexus_task_slot_supplier(fixed(100))
        .build();
    let options = WorkerOptions::new(task_queue)
        .register_activities(Bench)
        .tuner(tuner)
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    worker.run().await?;
    Ok(())
}
