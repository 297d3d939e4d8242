//! The worker's presence on the server: `WorkerHeartbeat`s, so that `temporal worker list`,
//! `temporal worker describe` and the UI's worker views show a legwork worker, its slots and
//! its host, as they show workers of the other SDKs.
//!
//! As in sdk-core: one `RecordWorkerHeartbeat` at start and then every minute, only where
//! the namespace advertises `worker_heartbeats`, and never again once the server answers
//! `Unimplemented`. The last heartbeat (status `SHUTDOWN`) rides on `ShutdownWorker`.
//! These are worker heartbeats, not the activity heartbeats of `activity_heartbeat.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

use super::worker_heartbeat_state::memory_usage;
use crate::connection::{with_deadline, UNARY_DEADLINE};
use crate::proto::service::RecordWorkerHeartbeatRequest;
use crate::proto::{
    StorageDriverInfo, WorkerHeartbeat, WorkerHostInfo, WorkerPollerInfo, WorkerSlotsInfo,
    WorkerStatus,
};
use crate::worker::options::WorkerOptions;
use crate::worker::server::retry;
use crate::worker::shared::Shared;

/// How often a running worker tells the server it is there: sdk-core's and Go's default.
const INTERVAL: Duration = Duration::from_secs(60);
/// The name the server shows, and filters on: `temporal worker list -q 'SdkName="legwork"'`.
const SDK_NAME: &str = "legwork";

/// Sends a heartbeat now and then every [`INTERVAL`] until shutdown begins; from then on
/// `ShutdownWorker` carries the last one ([`final_heartbeat`]).
pub(crate) async fn run(shared: Arc<Shared>) {
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
                shared.presence.disable();
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
pub(crate) fn final_heartbeat(shared: &Shared) -> Option<WorkerHeartbeat> {
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
        drivers: drivers(options),
        ..Default::default()
    }
}

/// The storage drivers in use, by kind, as sdk-core lists them.
fn drivers(options: &WorkerOptions) -> Vec<StorageDriverInfo> {
    let Some(storage) = &options.external_storage else {
        return Vec::new();
    };
    let mut kinds: Vec<String> = storage.drivers().map(|(_, kind)| kind.to_owned()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| StorageDriverInfo { r#type: kind })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_beyond_i32_saturate() {
        assert_eq!(saturate(7), 7);
        assert_eq!(saturate(u64::MAX), i32::MAX);
    }
}
