//! The `main` that `legwork::main!()` generates: flags, environment, signals, shutdown.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing::{error, info};

use crate::dev_server::DevServer;
use crate::registry::Registry;
use crate::worker::{Worker, WorkerOptions};

/// Defaults a binary chose in `legwork::main!(...)`.
pub struct MainDefaults {
    pub task_queue: &'static str,
}

/// A Temporal activity worker built with legwork.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Flags {
    /// Temporal frontend address, host:port.
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "127.0.0.1:7233")]
    address: String,
    /// Temporal namespace.
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    namespace: String,
    /// Task queue to poll [default: chosen by the binary]
    #[arg(long, env = "TEMPORAL_TASK_QUEUE")]
    task_queue: Option<String>,
    /// Most activity tasks held at once, sync and async together.
    #[arg(long, default_value_t = 100)]
    max_concurrent_activities: usize,
    /// Threads that run sync activities [default: max-concurrent-activities]
    #[arg(long)]
    blocking_threads: Option<usize>,
    /// Concurrent long polls.
    #[arg(long, default_value_t = 5)]
    pollers: usize,
    /// Seconds in-flight activities may run on after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    shutdown_grace: f64,
    /// Warn when one poll of an async activity holds its thread longer than this.
    #[arg(long, default_value_t = 100, value_name = "MILLISECONDS")]
    stall_threshold_ms: u64,
    /// Print each registered activity, its kind and source location, then exit.
    #[arg(long)]
    list: bool,
    /// Start a local dev server with the `temporal` CLI (from TEMPORAL_CLI or PATH) and
    /// serve against it.
    #[arg(long, conflicts_with = "address")]
    dev: bool,
}

/// Runs a worker until SIGINT or SIGTERM, then shuts it down gracefully.
pub fn run_main(defaults: MainDefaults) -> ExitCode {
    init_logging();
    let flags = Flags::parse();
    let registry = match Registry::linked() {
        Ok(registry) => registry,
        Err(duplicate) => return fail(duplicate),
    };
    if flags.list {
        print_activities(&registry);
        return ExitCode::SUCCESS;
    }
    let dev_server = if flags.dev {
        match DevServer::start() {
            Ok(server) => {
                info!(address = %server.address(), "dev server started");
                Some(server)
            }
            Err(error) => return fail(error),
        }
    } else {
        None
    };
    let mut options =
        WorkerOptions::new(flags.task_queue.as_deref().unwrap_or(defaults.task_queue));
    options.address = match &dev_server {
        Some(server) => server.address(),
        None => flags.address,
    };
    options.namespace = flags.namespace;
    options.max_concurrent_activities = flags.max_concurrent_activities;
    options.blocking_threads = flags
        .blocking_threads
        .unwrap_or(flags.max_concurrent_activities);
    options.pollers = flags.pollers;
    options.shutdown_grace = Duration::from_secs_f64(flags.shutdown_grace.max(0.0));
    options.stall_threshold = Duration::from_millis(flags.stall_threshold_ms);
    let worker = match Worker::new(options).registry(registry).start() {
        Ok(worker) => worker,
        Err(error) => return fail(error),
    };
    if let Err(error) = wait_for_signal() {
        return fail(error);
    }
    worker.shutdown();
    // A second signal means "now": exit without waiting for the grace period.
    std::thread::spawn(|| {
        if wait_for_signal().is_ok() {
            std::process::exit(130);
        }
    });
    worker.join();
    drop(dev_server);
    ExitCode::SUCCESS
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    error!("{error}");
    ExitCode::FAILURE
}

fn print_activities(registry: &Registry) {
    for descriptor in registry.iter() {
        println!(
            "{}\t{}\t{}\t{}",
            descriptor.name,
            descriptor.invoker.kind(),
            descriptor.function,
            descriptor.location
        );
    }
}

fn wait_for_signal() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    })
}
