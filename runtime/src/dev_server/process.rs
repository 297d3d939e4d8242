//! The dev server's process: finding the CLI, free ports, spawning it in its own process
//! group with its output in the log file, and signalling the group.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::builder::DevServerBuilder;
use super::constants::{CLI_ENV, LOOPBACK};
use super::error::DevServerError;

impl DevServerBuilder {
    pub(super) fn spawn(
        &self,
        cli: &Path,
        port: u16,
        metrics_port: Option<u16>,
        log_path: &Path,
        append: bool,
    ) -> Result<Child, DevServerError> {
        let log = if append {
            OpenOptions::new().create(true).append(true).open(log_path)
        } else {
            File::create(log_path)
        };
        let log = log.map_err(|source| DevServerError::LogFile {
            path: log_path.to_owned(),
            source,
        })?;
        let mut command = Command::new(cli);
        command
            .args(self.command_line(port, metrics_port))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        put_in_own_process_group(&mut command);
        let spawned = if self.kill_with_parent {
            crate::die_with_parent::spawn(command)
        } else {
            command.spawn()
        };
        spawned.map_err(|source| DevServerError::Spawn {
            cli: cli.to_owned(),
            source,
        })
    }
}

/// `TEMPORAL_CLI` if set, else the first `temporal` on `PATH`.
pub(super) fn find_cli() -> Result<PathBuf, DevServerError> {
    if let Some(path) = std::env::var_os(CLI_ENV).filter(|value| !value.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(DevServerError::CliMissing(path))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("temporal"))
        .find(|candidate| candidate.is_file())
        .ok_or(DevServerError::CliNotFound)
}

/// Whether a CLI can be found, for tests that need a server.
pub fn cli_available() -> bool {
    find_cli().is_ok()
}

/// Distinct free loopback ports. All listeners are held until every port is chosen, so the
/// kernel cannot hand out the same port twice; the server binds them right after.
pub(super) fn reserve_ports(count: usize) -> Result<Vec<u16>, DevServerError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((LOOPBACK, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(DevServerError::NoFreePort)?;
    listeners
        .iter()
        .map(|listener| Ok(listener.local_addr()?.port()))
        .collect::<Result<_, std::io::Error>>()
        .map_err(DevServerError::NoFreePort)
}

/// In its own process group the server does not receive the terminal's Ctrl-C: the
/// process that owns it decides when to stop it (in `Drop`).
#[cfg(unix)]
fn put_in_own_process_group(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

#[cfg(not(unix))]
fn put_in_own_process_group(_command: &mut Command) {}

pub(super) enum Signal {
    /// A graceful stop.
    Term,
    /// No stop at all.
    Kill,
}

#[cfg(unix)]
pub(super) fn signal_group(child: &Child, signal: Signal) {
    let signal = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // The child leads its own process group, so this signals it and anything it spawned.
    if let Ok(group) = libc::pid_t::try_from(child.id()) {
        // SAFETY: killpg only sends a signal; it touches no memory of ours.
        unsafe {
            libc::killpg(group, signal);
        }
    }
}

#[cfg(not(unix))]
pub(super) fn signal_group(_child: &Child, _signal: Signal) {}

#[cfg(test)]
/// Whether to skip a test that needs the CLI: only outside CI, where a missing CLI is a
/// setup problem to fix rather than a reason to pass.
pub(crate) fn skip_without_cli() -> bool {
    if cli_available() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but no Temporal CLI was found: {}",
        DevServerError::CliNotFound
    );
    eprintln!("skipping: {}", DevServerError::CliNotFound);
    true
}
