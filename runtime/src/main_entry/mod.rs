//! The `main` that `legwork::main!()` generates: flags, environment, signals, shutdown.

mod duration;
mod flags;

use flags::Flags;

use std::process::ExitCode;

use clap::Parser;
use tracing::{error, info};

use crate::codec::CodecChain;
use crate::connection::ConnectionOptions;
use crate::dev_server::DevServer;
use crate::interceptor::InterceptorChain;
use crate::registry::Registry;
use crate::telemetry::logs;
use crate::worker::{Slots, Worker, WorkerError, WorkerOptions};

/// What a binary chose in `legwork::main!(...)`, set by the macro through these methods
/// (an unknown key is a "no method" error on that key).
pub struct MainDefaults {
    task_queue: &'static str,
    codecs: Option<fn() -> CodecChain>,
    interceptors: Option<fn() -> InterceptorChain>,
}

impl MainDefaults {
    /// The defaults of a binary named `crate_name`.
    pub fn new(crate_name: &'static str) -> Self {
        MainDefaults {
            task_queue: crate_name,
            codecs: None,
            interceptors: None,
        }
    }

    /// `main!(task_queue = "...")`: the task queue when `--task-queue` is not given.
    pub fn task_queue(mut self, task_queue: &'static str) -> Self {
        self.task_queue = task_queue;
        self
    }

    /// `main!(codecs = make_codecs)`: the payload codecs of the worker (and of
    /// `--codec-server-bind`).
    pub fn codecs(mut self, codecs: fn() -> CodecChain) -> Self {
        self.codecs = Some(codecs);
        self
    }

    /// `main!(interceptors = make_interceptors)`: the worker's interceptors.
    pub fn interceptors(mut self, interceptors: fn() -> InterceptorChain) -> Self {
        self.interceptors = Some(interceptors);
        self
    }
}

/// Runs a worker until SIGINT or SIGTERM, then shuts it down gracefully.
pub fn run_main(defaults: MainDefaults) -> ExitCode {
    // Before anything else: a child started for isolated activities serves them and exits.
    crate::isolated::init();
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
    let options = match worker_options(&flags, &defaults, dev_server.as_ref()) {
        Ok(options) => options,
        Err(error) => return fail(error),
    };
    if let Some(bind) = flags.codec_server_bind {
        let origins = &flags.codec_server_allow_origin;
        match serve_codecs(bind, options.codecs.clone(), origins) {
            Ok(address) => info!("codec server at http://{address} (POST /encode, /decode)"),
            Err(error) => return fail(error),
        }
    }
    let worker = match Worker::new(options).registry(registry).start() {
        Ok(worker) => worker,
        Err(error) => return fail(on_command_line(error)),
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

/// A start failure as this command's user fixes it: by flag, where the library's
/// message names an option.
fn on_command_line(error: WorkerError) -> String {
    match error {
        WorkerError::InvalidOption(invalid) => invalid.on_command_line(),
        WorkerError::UnknownNamespace { namespace, address } => format!(
            "namespace `{namespace}` does not exist on {address}; check --namespace or \
             TEMPORAL_NAMESPACE (on Temporal Cloud it is `<name>.<account>`)"
        ),
        other => other.to_string(),
    }
}

/// The worker's settings from the flags, the environment and what `main!` chose.
fn worker_options(
    flags: &Flags,
    defaults: &MainDefaults,
    dev_server: Option<&DevServer>,
) -> Result<WorkerOptions, Box<dyn std::error::Error>> {
    let mut options =
        WorkerOptions::new(flags.task_queue.as_deref().unwrap_or(defaults.task_queue));
    options.connection = match dev_server {
        Some(server) => ConnectionOptions::new(server.address()),
        None => connection(flags)?,
    };
    options.slots = Slots::Fixed(flags.max_concurrent_activities);
    options.blocking_threads = flags
        .blocking_threads
        .unwrap_or(flags.max_concurrent_activities);
    flags.apply_fleet(&mut options);
    options.shutdown_grace = flags.shutdown_grace;
    options.metrics_bind = flags.metrics_bind;
    options.stall_threshold = flags.stall_threshold();
    options.codecs = defaults.codecs.map_or_else(CodecChain::new, |make| make());
    flags.apply_isolated(&mut options.isolated);
    flags.apply_storage(&mut options);
    options.interceptors = defaults
        .interceptors
        .map_or_else(InterceptorChain::new, |make| make());
    Ok(options)
}

/// Serves the codec server for the Web UI and `temporal --codec-endpoint` on a thread of
/// its own, bound here so that a taken address stops the worker at start.
fn serve_codecs(
    bind: std::net::SocketAddr,
    codecs: CodecChain,
    origins: &[String],
) -> Result<std::net::SocketAddr, Box<dyn std::error::Error>> {
    let mut server = crate::codec::CodecServer::new(codecs);
    for origin in origins {
        server = server.allow_origin(origin).map_err(|_| {
            format!("--codec-server-allow-origin {origin:?} is not a valid origin; write it as scheme://host[:port]")
        })?;
    }
    let listener = std::net::TcpListener::bind(bind).map_err(|error| {
        format!("cannot serve the codec server on {bind}: {error}; choose another --codec-server-bind address")
    })?;
    let address = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("legwork-codec-server".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the codec server");
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => server.serve(listener).await,
                    Err(error) => error!("the codec server stopped: {error}"),
                }
            });
        })?;
    Ok(address)
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
            descriptor.kind().as_str(),
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
