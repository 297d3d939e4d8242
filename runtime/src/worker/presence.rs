//! The worker's presence on the server: `WorkerHeartbeat`s, so that `temporal worker list`,
//! `temporal worker describe` and the UI's worker views show a legwork worker, its slots and
//! its host, as they show workers of the other SDKs.
//!
//! As in sdk-core: one `RecordWorkerHeartbeat` at start and then every minute, only where
//! the namespace advertises `worker_heartbeats`, and never again once the server answers
//! `Unimplemented`. The last heartbeat (status `SHUTDOWN`) rides on `ShutdownWorker`.
//! These are worker heartbeats, not the activity heartbeats of `heartbeat.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

use super::retry;
use super::run::Shared;
use crate::connection::{with_deadline, UNARY_DEADLINE};
use crate::proto::service::RecordWorkerHeartbeatRequest;
use crate::proto::{
    WorkerHeartbeat, WorkerHostInfo, WorkerPollerInfo, WorkerSlotsInfo, WorkerStatus,
};

/// How often a running worker tells the server it is there: sdk-core's and Go's default.
const INTERVAL: Duration = Duration::from_secs(60);
/// The name the server shows, and filters on: `temporal worker list -q 'SdkName="legwork"'`.
const SDK_NAME: &str = "legwork";

/// What the heartbeats of one worker share: whether to send them, and what the previous
/// one said, for the fields that are differences (elapsed time, last-interval counts).
pub(super) struct Presence {
    /// The namespace advertises worker heartbeats and the server has not refused one.
    enabled: AtomicBool,
    start_time: SystemTime,
    /// Groups the workers of one client, namespace and process; each legwork worker has
    /// its own client, so its own key.
    grouping_key: String,
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
struct SincePrevious {
    /// `None` for the first heartbeat, as sdk-core and Go leave it.
    elapsed: Option<Duration>,
    processed: u64,
    failed: u64,
    cpu_usage: Option<f32>,
}

impl Presence {
    /// `supported` is the namespace's `capabilities.worker_heartbeats`.
    pub(super) fn new(supported: bool) -> Self {
        Presence {
            enabled: AtomicBool::new(supported),
            start_time: SystemTime::now(),
            grouping_key: uuid::Uuid::new_v4().to_string(),
            previous: Mutex::new(Previous::default()),
        }
    }

    fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Also names the worker's worker-commands queue, as in sdk-go and sdk-core.
    pub(super) fn grouping_key(&self) -> &str {
        &self.grouping_key
    }

    /// Compares with the previous heartbeat's state, and makes this one the previous.
    fn since_previous(&self, now: SystemTime, processed: u64, failed: u64) -> SincePrevious {
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

/// Sends a heartbeat now and then every [`INTERVAL`] until shutdown begins; from then on
/// `ShutdownWorker` carries the last one ([`final_heartbeat`]).
pub(super) async fn run(shared: Arc<Shared>) {
    if !shared.presence.enabled() {
        debug!("the namespace does not advertise worker heartbeats; none are sent");
        return;
    }
    let mut ticks = tokio::time::interval(INTERVAL);
    // After a stall, one heartbeat and then the normal rhythm, not a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let request = RecordWorkerHeartbeatRequest {
            namespace: shared.options.connection.namespace.clone(),
            identity: shared.options.connection.identity.clone(),
            worker_heartbeat: vec![heartbeat(&shared, WorkerStatus::Running)],
            ..Default::default()
        };
        let mut client = shared.client.clone();
        let sent = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            sent = client.record_worker_heartbeat(with_deadline(request, UNARY_DEADLINE)) => sent,
        };
        match sent {
            Ok(_) => debug!("worker heartbeat sent"),
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                shared.presence.enabled.store(false, Ordering::Relaxed);
                info!(%status, "the server does not take worker heartbeats; none are sent");
                return;
            }
            // The next tick tries again; a missed one only ages the server's view.
            Err(status) if retry::is_retryable(&status) => {
                debug!(%status, "worker heartbeat failed; next in {INTERVAL:?}");
            }
            Err(status) => warn!(%status, "worker heartbeat failed; next in {INTERVAL:?}"),
        }
    }
}

/// The heartbeat `ShutdownWorker` carries, when heartbeats are on: status `SHUTDOWN`, which
/// takes the worker off the server's list at once rather than when its heartbeats age out.
pub(super) fn final_heartbeat(shared: &Shared) -> Option<WorkerHeartbeat> {
    shared
        .presence
        .enabled()
        .then(|| heartbeat(shared, WorkerStatus::Shutdown))
}

/// The worker as it is now. Moves the previous-heartbeat state on, so call it once per
/// heartbeat sent.
fn heartbeat(shared: &Shared, status: WorkerStatus) -> WorkerHeartbeat {
    let options = &shared.options;
    let now = SystemTime::now();
    let counts = shared.in_flight.counts();
    let failed = counts.failed;
    let processed = counts.completed + failed + counts.canceled;
    let since = shared.presence.since_previous(now, processed, failed);
    let slots = ActivitySlots::now(shared);
    WorkerHeartbeat {
        worker_instance_key: shared.instance_key.clone(),
        worker_identity: options.connection.identity.clone(),
        host_info: Some(WorkerHostInfo {
            host_name: gethostname::gethostname().to_string_lossy().into_owned(),
            worker_grouping_key: shared.presence.grouping_key.clone(),
            process_id: std::process::id().to_string(),
            current_host_cpu_usage: since.cpu_usage.unwrap_or(0.0),
            current_host_mem_usage: memory_usage().unwrap_or(0.0),
        }),
        task_queue: options.task_queue.clone(),
        sdk_name: SDK_NAME.to_owned(),
        sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
        status: status as i32,
        start_time: Some(shared.presence.start_time.into()),
        heartbeat_time: Some(now.into()),
        elapsed_since_last_heartbeat: since.elapsed.and_then(|elapsed| elapsed.try_into().ok()),
        activity_task_slots_info: Some(WorkerSlotsInfo {
            current_available_slots: saturate(slots.available),
            current_used_slots: saturate(slots.used),
            slot_supplier_kind: shared.polling.slots.kind().to_owned(),
            total_processed_tasks: saturate(processed),
            total_failed_tasks: saturate(failed),
            last_interval_processed_tasks: saturate(since.processed),
            last_interval_failure_tasks: saturate(since.failed),
        }),
        activity_poller_info: Some(WorkerPollerInfo {
            current_pollers: saturate(slots.polls),
            // Not tracked: the poll loop does not record when a poll last succeeded.
            last_successful_poll_time: None,
            is_autoscaling: shared.polling.gate.is_autoscaling(),
        }),
        ..Default::default()
    }
}

/// The activity slots, as sdk-core counts them: a slot is *available* when nothing holds
/// it, *used* when a task holds it. A poll in flight holds one too (the slot is taken
/// before the poll), so the slots held by neither count the polls in flight.
struct ActivitySlots {
    available: u64,
    used: u64,
    polls: u64,
}

impl ActivitySlots {
    fn now(shared: &Shared) -> Self {
        // A resource-based supplier cannot tell what it would issue: none are counted.
        let available = shared.polling.slots.available().unwrap_or(0) as u64;
        let used = shared.in_flight.len() as u64;
        let held = shared.polling.slots.issued() as u64;
        // A task reported but not yet dropped its permit can make this briefly high by one.
        let polls = held
            .saturating_sub(used)
            .min(shared.polling.gate.active() as u64);
        ActivitySlots {
            available,
            used: used.min(held),
            polls,
        }
    }
}

fn saturate(count: u64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
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
fn memory_usage() -> Option<f32> {
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

    #[test]
    fn counts_beyond_i32_saturate() {
        assert_eq!(saturate(7), 7);
        assert_eq!(saturate(u64::MAX), i32::MAX);
    }
}
