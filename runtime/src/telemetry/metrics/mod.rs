//! The worker's instruments, named, labelled and bucketed as sdk-core exports them by
//! default (so that Temporal's `temporal-core-sdks-otel.json` dashboard works as is):
//! prefix `temporal_`, durations in whole milliseconds, no unit suffix, no `_total`.
//! What no SDK measures has the prefix `legwork_`, in the same style.
//!
//! - this module: the worker-level series (start, polls, slots, schedule-to-start);
//! - `activity`: the series of each activity type, resolved before the hot path;
//! - `own`: legwork's own (lag, stalls, spare event loops, busy blocking threads,
//!   heartbeats).
//!
//! The RPC series are the channel's, in `telemetry::rpc`. Every series carries
//! `namespace`, `task_queue` and `service_name="legwork"`. Recording is an atomic
//! operation on a child resolved in advance.

mod activity;
mod buckets;
mod own;

use std::sync::Arc;
use std::time::Duration;

use prometheus::{Histogram, IntCounter, IntGauge};

use self::activity::ActivityTable;
pub(crate) use self::activity::{counts_as_failed, ActivityMetrics};
pub(crate) use self::buckets::DEFAULT_MS;
use self::buckets::SCHEDULE_TO_START_MS;
use self::own::Own;
pub(crate) use self::own::{duration_ms, IsolatedMetrics};
use super::exporter::{labels, Factory, Families};

/// The `service_name` label. sdk-core says `temporal-core-sdk`; legwork is not core, and
/// the core dashboard does not filter on it.
pub(crate) const SERVICE_NAME: &str = "legwork";

/// Whole milliseconds, as sdk-core records durations.
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_millis() as f64
}

/// One worker's instruments. Cheap to clone.
#[derive(Clone)]
pub(crate) struct WorkerMetrics(Arc<Instruments>);

struct Instruments {
    families: Families,
    namespace: String,
    task_queue: String,
    worker_start: IntCounter,
    poll_no_task: IntCounter,
    num_pollers: IntGauge,
    slots_available: IntGauge,
    slots_used: IntGauge,
    schedule_to_start: Histogram,
    activities: ActivityTable,
    own: Own,
}

impl WorkerMetrics {
    /// Instruments for a worker on `task_queue` with `slots` slots; the children of each
    /// `activities` type without a workflow (standalone) are resolved now.
    pub(crate) fn new<'a>(
        namespace: &str,
        task_queue: &str,
        slots: usize,
        activities: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let families = Families::default();
        let make = Factory {
            families: &families,
            labels: labels(&[
                ("namespace", namespace),
                ("task_queue", task_queue),
                ("service_name", SERVICE_NAME),
            ]),
        };
        let instruments = Instruments {
            worker_start: make.counter("temporal_worker_start", "Workers started."),
            poll_no_task: make.counter(
                "temporal_activity_poll_no_task",
                "Activity polls that ended without a task.",
            ),
            num_pollers: make.gauge(
                "temporal_num_pollers",
                "Polls in flight.",
                &[("poller_type", "activity_task")],
            ),
            slots_available: make.gauge(
                "temporal_worker_task_slots_available",
                "Slots free to take a task.",
                &[("worker_type", "ActivityWorker")],
            ),
            slots_used: make.gauge(
                "temporal_worker_task_slots_used",
                "Slots holding a task.",
                &[("worker_type", "ActivityWorker")],
            ),
            schedule_to_start: make.histogram(
                "temporal_activity_schedule_to_start_latency",
                "Milliseconds from the attempt's schedule to its start, in server time.",
                SCHEDULE_TO_START_MS,
            ),
            activities: ActivityTable::new(&make, activities),
            own: Own::new(&make),
            families: families.clone(),
            namespace: namespace.to_owned(),
            task_queue: task_queue.to_owned(),
        };
        instruments.slots_available.set(slots as i64);
        WorkerMetrics(Arc::new(instruments))
    }

    pub(crate) fn families(&self) -> &Families {
        &self.0.families
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.0.namespace
    }

    pub(crate) fn task_queue(&self) -> &str {
        &self.0.task_queue
    }

    pub(crate) fn worker_started(&self) {
        self.0.worker_start.inc();
    }

    pub(crate) fn poll_no_task(&self) {
        self.0.poll_no_task.inc();
    }

    pub(crate) fn schedule_to_start(&self, latency: Duration) {
        self.0.schedule_to_start.observe(millis(latency));
    }

    /// Counts a poll in flight until the guard drops.
    pub(crate) fn polling(&self) -> GaugeGuard {
        GaugeGuard::new(&self.0.num_pollers, None)
    }

    /// Marks a slot as holding a task until the guard drops.
    pub(crate) fn slot_used(&self) -> GaugeGuard {
        GaugeGuard::new(&self.0.slots_used, Some(&self.0.slots_available))
    }

    /// The instruments of an activity type run for a workflow type ("" when standalone).
    pub(crate) fn activity(&self, activity: &str, workflow: &str) -> Arc<ActivityMetrics> {
        self.0.activities.get(activity, workflow)
    }

    /// A task for a type this worker does not serve.
    pub(crate) fn unregistered(&self, activity: &str, workflow: &str) {
        self.0.activities.unregistered(activity, workflow);
    }

    /// A poll of an async activity stalled (counted once, when first seen).
    pub(crate) fn stalled(&self, activity: &str) {
        self.0.own.stalled(activity);
    }

    /// A stalled poll released its thread after `held`.
    pub(crate) fn stall_ended(&self, activity: &str, held: Duration) {
        self.0.own.stall_ended(activity, held);
    }

    pub(crate) fn event_loop_lag(&self) -> Histogram {
        self.0.own.event_loop_lag.clone()
    }

    pub(crate) fn control_loop_lag(&self) -> Histogram {
        self.0.own.control_loop_lag.clone()
    }

    pub(crate) fn blocking_busy(&self) -> IntGauge {
        self.0.own.blocking_busy.clone()
    }

    pub(crate) fn isolated(&self) -> IsolatedMetrics {
        self.0.own.isolated.clone()
    }

    pub(crate) fn event_loop_spares(&self) -> IntGauge {
        self.0.own.event_loop_spares.clone()
    }

    pub(crate) fn heartbeats_sent(&self) -> IntCounter {
        self.0.own.heartbeats_sent.clone()
    }

    pub(crate) fn heartbeats_coalesced(&self, count: u64) {
        self.0.own.heartbeats_coalesced.inc_by(count);
    }
}

/// Adds one to a gauge (and takes one from its complement) while alive.
pub(crate) struct GaugeGuard {
    up: IntGauge,
    down: Option<IntGauge>,
}

impl GaugeGuard {
    fn new(up: &IntGauge, down: Option<&IntGauge>) -> Self {
        up.inc();
        if let Some(down) = down {
            down.dec();
        }
        GaugeGuard {
            up: up.clone(),
            down: down.cloned(),
        }
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.up.dec();
        if let Some(down) = &self.down {
            down.inc();
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Each line must appear whole; `$B` stands for the worker's labels, `$G` for
    /// `activity_type="greet"` and them.
    pub(crate) fn assert_lines(metrics: &WorkerMetrics, lines: &[&str]) {
        let text = metrics.families().encode();
        let base = r#"namespace="ns",service_name="legwork",task_queue="tq""#;
        for line in lines {
            let line = line
                .replace("$G", &format!(r#"activity_type="greet",{base}"#))
                .replace("$B", base);
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        assert!(
            !text.contains("_total") && !text.contains("_milli"),
            "{text}"
        );
    }

    #[test]
    fn gauges_follow_slots_and_pollers() {
        let metrics = WorkerMetrics::new("ns", "tq", 10, []);
        let held = (metrics.slot_used(), metrics.polling());
        assert_lines(
            &metrics,
            &[
                r#"temporal_worker_task_slots_available{$B,worker_type="ActivityWorker"} 9"#,
                r#"temporal_worker_task_slots_used{$B,worker_type="ActivityWorker"} 1"#,
                r#"temporal_num_pollers{namespace="ns",poller_type="activity_task",service_name="legwork",task_queue="tq"} 1"#,
            ],
        );
        drop(held);
        assert_lines(
            &metrics,
            &[
                r#"temporal_worker_task_slots_available{$B,worker_type="ActivityWorker"} 10"#,
                r#"temporal_worker_task_slots_used{$B,worker_type="ActivityWorker"} 0"#,
            ],
        );
    }

    #[test]
    fn worker_series_and_legwork_own_in_ms_buckets() {
        let metrics = WorkerMetrics::new("ns", "tq", 1, []);
        metrics.worker_started();
        metrics.poll_no_task();
        metrics.schedule_to_start(Duration::from_millis(1500));
        metrics.unregistered("greet", "");
        metrics.stalled("spin");
        metrics.stall_ended("spin", Duration::from_micros(150_500));
        assert_lines(
            &metrics,
            &[
                "temporal_worker_start{$B} 1",
                "temporal_activity_poll_no_task{$B} 1",
                r#"temporal_activity_schedule_to_start_latency_bucket{$B,le="1000"} 0"#,
                r#"temporal_activity_schedule_to_start_latency_bucket{$B,le="5000"} 1"#,
                r#"temporal_unregistered_activity_invocation{$G,workflow_type=""} 1"#,
                r#"legwork_stalled_polls{activity_type="spin",$B} 1"#,
                r#"legwork_stall_duration_sum{activity_type="spin",$B} 150.5"#,
            ],
        );
    }
}
