//! The kernel's counters in `/proc`, parsed the same way wherever legwork reads them: the
//! resource-based slot supplier (`worker/slots/usage.rs`) and worker heartbeats
//! (`worker/lifecycle/worker_heartbeat_state.rs`). Pure functions of the file's text, so
//! that a malformed or surprising file gives `None`, never a panic or an underflow.

/// Busy and total clock ticks of the whole host, from the `cpu` line of `/proc/stat`:
/// user nice system idle iowait irq softirq steal (guest time is already in user); idle
/// and iowait count as not busy.
pub(crate) fn parse_proc_stat(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let total = ticks
        .iter()
        .take(8)
        .fold(0u64, |sum, t| sum.saturating_add(*t));
    let idle = ticks
        .get(3)?
        .saturating_add(ticks.get(4).copied().unwrap_or(0));
    Some((total.saturating_sub(idle), total))
}

/// `MemTotal` and `MemAvailable` of `/proc/meminfo`, in bytes.
pub(crate) fn parse_meminfo(meminfo: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        meminfo.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()?;
            kib.checked_mul(1024)
        })
    };
    Some((field("MemTotal")?, field("MemAvailable")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_count_idle_and_iowait_as_not_busy() {
        let stat = "cpu  700 100 200 8000 500 0 0 0 0 0\ncpu0 350 50 100 4000 250 0 0 0 0 0\n";
        assert_eq!(parse_proc_stat(stat), Some((1000, 9500)));
        assert_eq!(parse_proc_stat("intr 1 2 3\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 x 3 4\n"), None);
        // Fewer fields than idle: not a panic, not a guess.
        assert_eq!(parse_proc_stat("cpu  1 2 3\n"), None);
        // Huge counters saturate instead of overflowing.
        let huge = format!("cpu  {} {} 0 0 0 0 0 0\n", u64::MAX, u64::MAX);
        assert_eq!(parse_proc_stat(&huge), Some((u64::MAX, u64::MAX)));
    }

    #[test]
    fn memory_in_bytes() {
        let meminfo = "MemTotal:       16000 kB\nMemFree: 100 kB\nMemAvailable:    4000 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some((16000 * 1024, 4000 * 1024)));
        assert_eq!(parse_meminfo("MemTotal: 1000 kB\n"), None);
        assert_eq!(
            parse_meminfo("MemTotalish: 1 kB\nMemAvailable: 1 kB\n"),
            None
        );
    }
}
