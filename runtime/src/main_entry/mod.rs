//! The `main` that `legwork::main!()` generates: flags, environment, signals, shutdown.

mod duration;
mod flags;

use flags::Flags;

use std::process::ExitCode;

use clap::Parser;
use tracing::{error, info};

use crate::connection::ConnectionOptions;
use crate::dev_server::DevServer;
use crate::registry::Registry;
use crate::telemetry::logs;
use crate::worker::{Worker, WorkerOptions};

/// Defaults a binary chose in `legwork::main!(...)`.
pub struct MainDefaults {
    pub task_queue: &'static str,
}

/// Runs a worker until SIGINT or SIGTERM, then shuts it down gracefully.
pub fn run_main(defaults: MainDefaults) -> ExitCode {
    let flags = Flags::parse();
    // Kept to the end: it flushes exported spans when dropped.
    let _telemetry = match logs::init(flags.log_format) {
        Ok(telemetry) => telemetry,
        Err(error) => return fail(error),
    };
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
    options.connection = match &dev_server {
        Some(server) => ConnectionOptions::new(server.address()),
        None => match connection(&flags) {
            Ok(connection) => connection,
            Err(error) => return fail(error),
        },
    };
    options.max_concurrent_activities = flags.max_concurrent_activities;
    options.blocking_threads = flags
        .blocking_threads
        .unwrap_or(flags.max_concurrent_activities);
    options.pollers = flags.pollers;
    options.shutdown_grace = flags.shutdown_grace;
    options.metrics_bind = flags.metrics_bind;
    options.stall_threshold = flags.stall_threshold();
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

/// The file's profile, overlaid by the environment, overlaid by the flags.
fn connection(flags: &Flags) -> Result<ConnectionOptions, Box<dyn std::error::Error>> {
    let mut connection =
        ConnectionOptions::from_profile(flags.config_file.as_deref(), flags.profile.as_deref())?;
    flags.apply(&mut connection)?;
    Ok(connection)
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
