//! `#[activity(isolated)]`: attempts that run in child processes of the worker, so that a
//! crash, a runaway or a memory overrun costs one attempt, never the worker.
//!
//! The child is the worker's own executable started again: its activities are linked in
//! at build time, so nothing crosses the socket but the attempt's facts and payloads. An
//! executable serves as a child once its `main` calls [`init`] first; `legwork::main!()`
//! does. Codecs and interceptors stay in the worker: the child sees arguments already
//! decoded by the codecs and returns its result before they encode it; interceptors'
//! heartbeat hook sees the child's heartbeats, and their `execute_sync` hook does not run
//! around isolated attempts.
//!
//! ```no_run
//! #[legwork::activity(isolated)]
//! fn transcode(path: String) -> String {
//!     path // a native library that may crash, called here
//! }
//!
//! fn main() {
//!     // First: when this process was started as an isolated child, this serves the
//!     // worker's attempts and exits; otherwise it returns at once.
//!     legwork::isolated::init();
//!     // ... the application, which starts a `legwork::worker::Worker` ...
//! }
//! ```

mod child;
mod link;
mod log_forward;
pub(crate) mod protocol;

use std::time::Duration;

/// Settings of the child processes that run isolated activities: the `isolated` field of
/// the worker's options.
///
/// ```
/// use std::time::Duration;
///
/// let mut options = legwork::worker::WorkerOptions::new("images");
/// options.isolated.kill_grace = Duration::from_secs(2);
/// options.isolated.max_tasks_per_child = Some(100);
/// options.isolated.memory_limit = Some(512 << 20);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IsolatedOptions {
    /// How long a child that was told its attempt is cancelled, timed out or abandoned at
    /// shutdown has to return before it is killed (`--isolated-kill-grace`). 5 s.
    pub kill_grace: Duration,
    /// A child is replaced after this many attempts, for native libraries that leak
    /// (`--isolated-max-tasks`). `None`, the default, keeps children as long as they live.
    pub max_tasks_per_child: Option<u32>,
    /// The data-segment cap of a child while it runs an attempt, in bytes, for isolated
    /// activities without a `memory_limit` of their own (`--isolated-memory-limit`).
    /// `None`, the default, sets none.
    pub memory_limit: Option<u64>,
    /// Children kept started and idle, so that an attempt does not wait for one to start.
    /// 1 by default; more start on demand, up to the worker's slots.
    pub warm_children: usize,
}

impl Default for IsolatedOptions {
    fn default() -> Self {
        IsolatedOptions {
            kill_grace: Duration::from_secs(5),
            max_tasks_per_child: None,
            memory_limit: None,
            warm_children: 1,
        }
    }
}

/// Makes this executable usable as an isolated child: call it first thing in `main`
/// (`legwork::main!()` does). When the worker started this process as a child, it serves
/// attempts and exits when the worker closes its socket, never returning; otherwise it
/// returns at once and does nothing.
///
/// A worker with isolated activities starts one child when it starts; if the executable
/// does not call this, the worker stops at start saying so.
pub fn init() {
    let Some(fd) = std::env::var_os(protocol::CHILD_ENV) else {
        return;
    };
    let fd = fd.to_str().and_then(|fd| fd.parse::<i32>().ok());
    let code = match fd.map(child::serve) {
        Some(Ok(())) => 0,
        Some(Err(error)) => {
            eprintln!("legwork isolated child: {error}");
            1
        }
        None => {
            eprintln!(
                "legwork isolated child: {} is not a descriptor",
                protocol::CHILD_ENV
            );
            1
        }
    };
    std::process::exit(code);
}

/// Called where a worker starts: a process started as a child must never start a worker
/// of its own (its `main` skipped [`init`]), so it exits with a code the parent reads as
/// "add `init()`".
pub(crate) fn refuse_worker_in_child() {
    if std::env::var_os(protocol::CHILD_ENV).is_some() {
        eprintln!(
            "legwork: started as an isolated child, but main() did not call \
             legwork::isolated::init() first"
        );
        std::process::exit(protocol::EXIT_NOT_A_CHILD);
    }
}

/// `"512MiB"` (a whole number and `KiB`, `MiB` or `GiB`) as bytes, as
/// `#[activity(memory_limit = "...")]` and `--isolated-memory-limit` take it.
#[cfg(any(feature = "cli", test))]
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let shift = match unit.trim() {
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// `512 MiB`, as failures and logs print a limit.
pub(crate) fn show_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print_with_binary_units() {
        assert_eq!(parse_size("256MiB"), Some(256 << 20));
        assert_eq!(parse_size(" 2 GiB "), Some(2 << 30));
        for bad in [
            "",
            "256",
            "256MB",
            "GiB",
            "-1MiB",
            "1.5GiB",
            "99999999999999GiB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
        assert_eq!(show_size(256 << 20), "256 MiB");
        assert_eq!(show_size(3 << 30), "3 GiB");
        assert_eq!(show_size(1536), "1536 bytes");
        assert_eq!(show_size(4096), "4 KiB");
    }
}
