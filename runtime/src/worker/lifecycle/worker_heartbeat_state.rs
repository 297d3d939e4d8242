//! What the worker heartbeats of one worker share between sends (`Presence`), and the
//! host's CPU and memory usage they carry. Sending them is `worker_heartbeat.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// What the heartbeats of one worker share: whether to send them, and what the previous
/// one said, for the fields that are differences (elapsed time, last-interval counts).
pub(crate) struct Presence {
    /// The namespace advertises worker heartbeats and the server has not refused one.
    enabled: AtomicBool,
    pub(crate) start_time: SystemTime,
    /// Groups the workers of one client, namespace and process; each legwork worker has
    /// its own client, so its own key.
    pub(crate) grouping_key: String,
    previous: Mutex<Previous>,
}

#[derive(Default)]
struct Previous {
    sent_at: Option<SystemTime>,
    processed: u64,
    failed: u64,
    cpu: Option<CpuTimes>,
}

/// What changed since the previous heartbeat.
pub(crate) struct SincePrevious {
    /// `None` for the first heartbeat, as sdk-core and Go leave it.
    pub(crate) elapsed: Option<Duration>,
    pub(crate) processed: u64,
    pub(crate) failed: u64,
    pub(crate) cpu_usage: Option<f32>,
}

impl Presence {
    /// `supported` is the namespace's `capabilities.worker_heartbeats`.
    pub(crate) fn new(supported: bool) -> Self {
        Presence {
            enabled: AtomicBool::new(supported),
            start_time: SystemTime::now(),
            grouping_key: uuid::Uuid::new_v4().to_string(),
            previous: Mutex::new(Previous::default()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The server refused one (`Unimplemented`): none are sent again.
    pub(crate) fn disable(&self) {
        self.enabled.store(false, Ordering::Relaxed);
    }

    /// Also names the worker's worker-commands queue, as in sdk-go and sdk-core.
    pub(crate) fn grouping_key(&self) -> &str {
        &self.grouping_key
    }

    /// Compares with the previous heartbeat's state, and makes this one the previous.
    pub(crate) fn since_previous(
        &self,
        now: SystemTime,
        processed: u64,
        failed: u64,
    ) -> SincePrevious {
        let cpu = CpuTimes::read();
        let mut previous = self.previous.lock().unwrap();
        let since = SincePrevious {
            elapsed: previous
                .sent_at
                .map(|sent_at| now.duration_since(sent_at).unwrap_or_default()),
            processed: processed.saturating_sub(previous.processed),
            failed: failed.saturating_sub(previous.failed),
            cpu_usage: cpu.map(|cpu| cpu.usage_since(previous.cpu.as_ref())),
        };
        *previous = Previous {
            sent_at: Some(now),
            processed,
            failed,
            cpu: cpu.or(previous.cpu),
        };
        since
    }
}

/// Cumulative CPU time of the whole host, in clock ticks, from the first line of
/// `/proc/stat` (Linux only; elsewhere usage is reported as 0).
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

impl CpuTimes {
    fn read() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    fn parse(stat: &str) -> Option<Self> {
        let (busy, total) = crate::procfs::parse_proc_stat(stat)?;
        Some(CpuTimes { busy, total })
    }

    /// The busy share of all cores since `earlier`; since boot when there is no earlier
    /// sample (the first heartbeat) or no tick has passed.
    fn usage_since(self, earlier: Option<&CpuTimes>) -> f32 {
        let (busy, total) = match earlier {
            Some(earlier) if self.total > earlier.total => (
                self.busy.saturating_sub(earlier.busy),
                self.total - earlier.total,
            ),
            _ => (self.busy, self.total),
        };
        if total == 0 {
            return 0.0;
        }
        (busy as f64 / total as f64).clamp(0.0, 1.0) as f32
    }
}

/// The used share of the host's memory: 1 − `MemAvailable` / `MemTotal` from
/// `/proc/meminfo` (Linux only).
pub(crate) fn memory_usage() -> Option<f32> {
    parse_memory_usage(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

fn parse_memory_usage(meminfo: &str) -> Option<f32> {
    let (total, available) = crate::procfs::parse_meminfo(meminfo)?;
    (total > 0).then(|| (1.0 - available as f64 / total as f64).clamp(0.0, 1.0) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  700 100 200 8000 500 0 0 0 0 0\ncpu0 350 50 100 4000 250 0 0 0 0 0\n";

    #[test]
    fn cpu_times_count_idle_and_iowait_as_not_busy() {
        let times = CpuTimes::parse(STAT).unwrap();
        assert_eq!(
            times,
            CpuTimes {
                busy: 1000,
                total: 9500
            }
        );
        assert!(CpuTimes::parse("intr 1 2 3\n").is_none());
    }

    #[test]
    fn cpu_usage_is_the_busy_share_since_the_previous_sample() {
        let earlier = CpuTimes {
            busy: 1000,
            total: 9500,
        };
        let later = CpuTimes {
            busy: 1150,
            total: 9700,
        };
        assert_eq!(later.usage_since(Some(&earlier)), 0.75);
        // No earlier sample, or no tick since: the average since boot.
        let since_boot = (1150.0 / 9700.0) as f32;
        assert_eq!(later.usage_since(None), since_boot);
        assert_eq!(later.usage_since(Some(&later)), since_boot);
    }

    #[test]
    fn memory_usage_is_what_is_not_available() {
        let meminfo = "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n";
        assert_eq!(parse_memory_usage(meminfo), Some(0.75));
        assert_eq!(parse_memory_usage("MemTotal: 1000 kB\n"), None);
    }
}
