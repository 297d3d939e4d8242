//! Why a dev server could not start.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use super::constants::{CLI_ENV, INSTALL_HINT, LOOPBACK};

/// Why a dev server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// Neither `TEMPORAL_CLI` nor `PATH` leads to a `temporal` binary.
    #[error("the Temporal CLI was not found: {CLI_ENV} is unset and no `temporal` is on PATH; {INSTALL_HINT}")]
    CliNotFound,
    /// `TEMPORAL_CLI` names a file that does not exist.
    #[error("{CLI_ENV} is set to `{0}`, which does not exist; {INSTALL_HINT}")]
    CliMissing(PathBuf),
    /// No free loopback port could be reserved.
    #[error("could not find a free port on {LOOPBACK}: {0}")]
    NoFreePort(#[source] std::io::Error),
    /// The log file for the server's output could not be created.
    #[error("could not create the dev server log file {path}: {source}")]
    LogFile {
        /// The log file.
        path: PathBuf,
        /// Why it could not be created.
        source: std::io::Error,
    },
    /// The CLI could not be run.
    #[error("could not run `{cli}`: {source}")]
    Spawn {
        /// The CLI binary.
        cli: PathBuf,
        /// Why it could not be run.
        source: std::io::Error,
    },
    /// The server process ended before it became healthy.
    #[error("the dev server exited during start-up ({status}); last lines of {log}:\n{tail}")]
    ExitedEarly {
        /// How the process ended.
        status: ExitStatus,
        /// The file holding the server's output.
        log: PathBuf,
        /// The last 40 lines of that file.
        tail: String,
    },
    /// The server did not become healthy in time.
    #[error("the dev server was not healthy after {timeout:?} (last check: {last_error}); last lines of {log}:\n{tail}")]
    Unhealthy {
        /// The start-up timeout ([`startup_timeout`]).
        ///
        /// [`startup_timeout`]: crate::dev_server::DevServerBuilder::startup_timeout
        timeout: Duration,
        /// What the last health check got.
        last_error: String,
        /// The file holding the server's output.
        log: PathBuf,
        /// The last 40 lines of that file.
        tail: String,
    },
    /// An I/O error while supervising the process or building the health-check runtime.
    #[error("dev server I/O error: {0}")]
    Io(#[from] std::io::Error),
}
