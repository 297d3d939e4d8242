//! What a process costs, read from Linux's /proc: resident memory, threads, open file
//! descriptors and CPU time (as `bench/harness.py` reads them).

use std::fmt;
use std::time::Duration;

const MIB: f64 = 1024.0 * 1024.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Resident set size (`VmRSS`), in bytes.
    pub rss: u64,
    /// Threads (`Threads`).
    pub threads: u64,
    /// Entries in `/proc/PID/fd`.
    pub fds: u64,
    /// User plus system CPU time (`utime + stime`, in clock ticks of 10 ms).
    pub cpu: Duration,
}

impl Usage {
    /// Reads `pid`; `None` once it has exited.
    pub fn of(pid: u32) -> Option<Usage> {
        Some(Usage {
            rss: status_field(pid, "VmRSS:")? * 1024,
            threads: status_field(pid, "Threads:")?,
            fds: open_fds(pid)?,
            cpu: cpu_time(pid)?,
        })
    }

    pub fn rss_mib(&self) -> f64 {
        self.rss as f64 / MIB
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RSS {:.2} MiB, {} threads, {} fds, CPU {:.2} s",
            self.rss_mib(),
            self.threads,
            self.fds,
            self.cpu.as_secs_f64()
        )
    }
}

/// Resident set size in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// The first number on the line of `/proc/PID/status` that starts with `name`
/// (`VmRSS:` is in KiB).
pub fn status_field(pid: u32, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn open_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// `utime + stime` of the whole process, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
}

/// The first process whose command line (`/proc/PID/cmdline`, one string per argument)
/// satisfies `matches`, e.g. the dev server listening on a given port.
pub fn find_process(matches: impl Fn(&[String]) -> bool) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let argv: Vec<String> = cmdline
                .split(|byte| *byte == 0)
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            matches(&argv)
        })
}

/// Threads whose name (`/proc/PID/task/TID/comm`, cut to 15 bytes) starts with `prefix`.
pub fn threads_named(pid: u32, prefix: &str) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(
        tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(prefix))
            .count() as u64,
    )
}

/// The processes whose parent is `parent` (field 4 of `/proc/PID/stat`).
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // The command name may hold spaces and parentheses: fields follow the last `)`.
            let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            rest.split_whitespace().nth(1) == Some(parent.to_string().as_str())
        })
        .collect()
}

/// Whether `pid` is a process that still runs (not gone, not a zombie).
pub fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    state.split_whitespace().next() != Some("Z")
}
