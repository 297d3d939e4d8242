//! How much memory and CPU this process may still use, as fractions of its limits: the
//! cgroup v2 limits where the process's cgroup (or an ancestor) sets them (`memory.max`
//! and `memory.current`; `cpu.max` and `cpu.stat`'s `usage_usec`), else the host's
//! (`/proc/meminfo`'s `MemAvailable`, `/proc/stat`). Sampled every 100 ms on a thread of
//! its own, as sdk-core does, so the poll loop only reads two atomics.
//!
//! sdk-core reads the limits at `/sys/fs/cgroup` itself, right inside a container with
//! its own cgroup namespace; here the process's own cgroup (from `/proc/self/cgroup`) and
//! its ancestors are read, so a limit set by systemd or a Kubernetes pod on a host
//! without cgroup namespaces counts too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::pid::Usage;
use crate::procfs::{parse_meminfo, parse_proc_stat};

/// How often usage is read (sdk-core's refresh interval).
const REFRESH: Duration = Duration::from_millis(100);

/// The latest usage, refreshed by a `legwork-resources` thread until dropped.
pub(crate) struct Sampler {
    latest: Arc<[AtomicU64; 2]>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    pub(crate) fn start() -> Self {
        let mut reader = Reader::new(Path::new("/proc"), Path::new("/sys/fs/cgroup"));
        let latest = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        store(&latest, reader.read());
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = latest.clone();
        let thread = std::thread::Builder::new()
            .name("legwork-resources".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH) {
                    store(&shared, reader.read());
                }
            })
            .ok();
        Sampler {
            latest,
            stop: Some(stop),
            thread,
        }
    }

    pub(crate) fn latest(&self) -> Usage {
        Usage {
            memory: f64::from_bits(self.latest[0].load(Ordering::Acquire)),
            cpu: f64::from_bits(self.latest[1].load(Ordering::Acquire)),
        }
    }
}

fn store(latest: &[AtomicU64; 2], usage: Usage) {
    latest[0].store(usage.memory.to_bits(), Ordering::Release);
    latest[1].store(usage.cpu.to_bits(), Ordering::Release);
}

impl Drop for Sampler {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads usage from `proc` and the cgroup v2 hierarchy mounted at `cgroup_root`.
pub(crate) struct Reader {
    proc: PathBuf,
    /// The process's cgroup, then each ancestor up to the root: where limits may be set.
    cgroups: Vec<PathBuf>,
    previous_cpu: Option<CpuSample>,
}

/// A cumulative CPU reading, to difference with the next.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CpuSample {
    /// `usage_usec` of a cgroup whose `cpu.max` allows `cores`.
    Cgroup {
        usage_usec: u64,
        cores: f64,
        at: Instant,
    },
    /// Busy and total ticks of the host.
    Host { busy: u64, total: u64 },
}

impl Reader {
    pub(crate) fn new(proc: &Path, cgroup_root: &Path) -> Self {
        let own = std::fs::read_to_string(proc.join("self/cgroup")).unwrap_or_default();
        Reader {
            proc: proc.to_owned(),
            cgroups: cgroup_dirs(&own, cgroup_root),
            previous_cpu: None,
        }
    }

    pub(crate) fn read(&mut self) -> Usage {
        Usage {
            memory: self.memory().unwrap_or(0.0),
            cpu: self.cpu().unwrap_or(0.0),
        }
    }

    /// The fraction of memory in use under the tightest `memory.max`, else on the host.
    fn memory(&self) -> Option<f64> {
        let host = std::fs::read_to_string(self.proc.join("meminfo")).ok();
        let host = host.as_deref().and_then(parse_meminfo);
        let limited = self
            .cgroups
            .iter()
            .filter_map(|dir| {
                let max = read(dir, "memory.max")?.trim().parse::<u64>().ok()?;
                let current = read(dir, "memory.current")?.trim().parse::<u64>().ok()?;
                Some((max, current))
            })
            .min_by_key(|(max, _)| *max);
        match (limited, host) {
            (Some((max, current)), host) => {
                // A limit above the host's memory is no limit.
                let total = host.map_or(max, |(total, _)| max.min(total));
                Some(current as f64 / total.max(1) as f64)
            }
            (None, Some((total, available))) => {
                Some(total.saturating_sub(available) as f64 / total.max(1) as f64)
            }
            (None, None) => None,
        }
    }

    /// The fraction of allowed CPU used since the last reading; `None` on the first.
    fn cpu(&mut self) -> Option<f64> {
        let sample = self.cgroup_cpu().or_else(|| {
            let stat = std::fs::read_to_string(self.proc.join("stat")).ok()?;
            let (busy, total) = parse_proc_stat(&stat)?;
            Some(CpuSample::Host { busy, total })
        })?;
        let previous = self.previous_cpu.replace(sample)?;
        cpu_fraction(previous, sample)
    }

    /// The cgroup with the fewest cores allowed by `cpu.max`, and its usage.
    fn cgroup_cpu(&self) -> Option<CpuSample> {
        let (dir, cores) = self
            .cgroups
            .iter()
            .filter_map(|dir| Some((dir, parse_cpu_max(&read(dir, "cpu.max")?)?)))
            .min_by(|(_, a), (_, b)| a.total_cmp(b))?;
        let usage_usec = parse_usage_usec(&read(dir, "cpu.stat")?)?;
        Some(CpuSample::Cgroup {
            usage_usec,
            cores,
            at: Instant::now(),
        })
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// Usage between two readings of the same source, clamped to `0..=1`.
fn cpu_fraction(previous: CpuSample, now: CpuSample) -> Option<f64> {
    let fraction = match (previous, now) {
        (
            CpuSample::Cgroup {
                usage_usec: before,
                at: then,
                ..
            },
            CpuSample::Cgroup {
                usage_usec,
                cores,
                at,
            },
        ) => {
            let elapsed = at.duration_since(then).as_micros() as f64;
            usage_usec.saturating_sub(before) as f64 / (elapsed * cores)
        }
        (
            CpuSample::Host { busy, total },
            CpuSample::Host {
                busy: busy_now,
                total: total_now,
            },
        ) => busy_now.saturating_sub(busy) as f64 / total_now.saturating_sub(total) as f64,
        // The source changed (a limit appeared or went): start again.
        _ => return None,
    };
    fraction.is_finite().then(|| fraction.clamp(0.0, 1.0))
}

/// The process's cgroup v2 directory (the `0::/path` line) and its ancestors up to
/// `root`, nearest first; empty without cgroup v2.
fn cgroup_dirs(own_cgroup: &str, root: &Path) -> Vec<PathBuf> {
    let Some(path) = own_cgroup.lines().find_map(|line| line.strip_prefix("0::")) else {
        return Vec::new();
    };
    let mut dir = root.to_owned();
    let mut dirs = vec![dir.clone()];
    for part in path
        .split('/')
        .filter(|part| !part.is_empty() && *part != "..")
    {
        dir.push(part);
        dirs.push(dir.clone());
    }
    dirs.reverse();
    dirs
}

/// Cores allowed by `cpu.max` (`QUOTA PERIOD`); `None` for `max` (no limit).
fn parse_cpu_max(cpu_max: &str) -> Option<f64> {
    let mut parts = cpu_max.split_whitespace();
    let quota = parts.next()?.parse::<u64>().ok()?;
    let period = parts.next()?.parse::<u64>().ok()?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

/// `usage_usec` from `cpu.stat`.
fn parse_usage_usec(cpu_stat: &str) -> Option<u64> {
    cpu_stat.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("usage_usec"), Some(value)) => value.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_files() {
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(
            parse_usage_usec("usage_usec 123456\nuser_usec 1\n"),
            Some(123456)
        );
    }

    #[test]
    fn the_cgroup_and_its_ancestors_nearest_first() {
        let root = Path::new("/sys/fs/cgroup");
        let dirs = cgroup_dirs("1:cpu:/x\n0::/kubepods/pod1/ctr\n", root);
        assert_eq!(
            dirs,
            [
                root.join("kubepods/pod1/ctr"),
                root.join("kubepods/pod1"),
                root.join("kubepods"),
                root.to_owned()
            ]
        );
        assert_eq!(cgroup_dirs("0::/\n", root), [root.to_owned()]);
        assert!(
            cgroup_dirs("4:memory:/a\n", root).is_empty(),
            "cgroup v1 only"
        );
    }

    #[test]
    fn cpu_is_used_time_over_allowed_time() {
        let at = Instant::now();
        let before = CpuSample::Cgroup {
            usage_usec: 1_000_000,
            cores: 2.0,
            at,
        };
        let after = CpuSample::Cgroup {
            usage_usec: 1_100_000,
            cores: 2.0,
            at: at + Duration::from_millis(100),
        };
        // 100 ms of CPU in 100 ms, of 2 cores allowed.
        assert_eq!(cpu_fraction(before, after), Some(0.5));
        let host = |busy, total| CpuSample::Host { busy, total };
        assert_eq!(cpu_fraction(host(10, 100), host(40, 200)), Some(0.3));
        assert_eq!(
            cpu_fraction(host(10, 100), host(10, 100)),
            None,
            "no time passed"
        );
        assert_eq!(
            cpu_fraction(host(10, 100), after),
            None,
            "the source changed"
        );
    }

    #[test]
    fn the_tightest_cgroup_limit_wins_over_the_host() {
        let base = std::env::temp_dir().join(format!("legwork-usage-{}", std::process::id()));
        let (proc, cgroup) = (base.join("proc"), base.join("cgroup"));
        let leaf = cgroup.join("pod/ctr");
        std::fs::create_dir_all(proc.join("self")).unwrap();
        std::fs::create_dir_all(&leaf).unwrap();
        let write = |path: PathBuf, text: &str| std::fs::write(path, text).unwrap();
        write(proc.join("self/cgroup"), "0::/pod/ctr\n");
        write(
            proc.join("meminfo"),
            "MemTotal: 4000000 kB\nMemAvailable: 3600000 kB\n",
        );
        write(proc.join("stat"), "cpu  1 0 1 8 0 0 0 0\n");
        // The pod allows 1 GiB, the container would allow 2: the pod's limit counts.
        write(cgroup.join("pod/memory.max"), "1073741824\n");
        write(cgroup.join("pod/memory.current"), "268435456\n");
        write(leaf.join("memory.max"), "2147483648\n");
        write(leaf.join("memory.current"), "268435456\n");
        write(leaf.join("cpu.max"), "max 100000\n");

        let mut reader = Reader::new(&proc, &cgroup);
        assert_eq!(reader.memory(), Some(0.25));
        assert_eq!(reader.read().cpu, 0.0, "no difference yet");
        write(proc.join("stat"), "cpu  4 0 4 12 0 0 0 0\n");
        assert_eq!(reader.read().cpu, 0.6, "6 busy ticks of 10, from the host");

        // Without cgroup limits, the host's memory.
        std::fs::remove_file(cgroup.join("pod/memory.max")).unwrap();
        std::fs::remove_file(leaf.join("memory.max")).unwrap();
        assert!((reader.memory().unwrap() - 0.1).abs() < 1e-9);
        let _ = std::fs::remove_dir_all(&base);
    }
}
