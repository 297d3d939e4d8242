//! The worker's instruments, named, labelled and bucketed as sdk-core exports them by
//! default (so that Temporal's `temporal-core-sdks-otel.json` dashboard works as is):
//! prefix `temporal_`, durations in whole milliseconds, no unit suffix, no `_total`.
//! What no SDK measures has the prefix `legwork_`, in the same style.
//!
//! Recording is always on: an increment is one atomic add on a child resolved in advance
//! (per activity and workflow type, cached), so the worker need not know whether anyone
//! scrapes. Every series carries `namespace`, `task_queue` and `service_name="legwork"`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge};

use super::exporter::{labels, Factory, Families};
use crate::proto::{ApplicationErrorCategory, Failure, FailureInfo};

/// The `service_name` label. sdk-core says `temporal-core-sdk`; legwork is not core, and
/// the core dashboard does not filter on it.
pub(crate) const SERVICE_NAME: &str = "legwork";

/// sdk-core's default buckets, in ms (`common/src/telemetry/metrics.rs`).
const EXECUTION_LATENCY_MS: &[f64] = &[50., 100., 500., 1000., 5000., 10_000., 60_000.];
const SCHEDULE_TO_START_MS: &[f64] = &[100., 500., 1000., 5000., 10_000., 100_000., 1_000_000.];
pub(crate) const DEFAULT_MS: &[f64] = &[50., 100., 500., 1000., 2500., 10_000.];
/// Lag is healthy below a few ms; a blocked runtime shows as seconds.
const LAG_MS: &[f64] = &[1., 5., 10., 50., 100., 500., 1000., 5000.];
/// A stall is at least the threshold (100 ms by default) long.
const STALL_MS: &[f64] = &[100., 250., 500., 1000., 2500., 10_000., 60_000.];

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
    by_type: ByType,
    /// Children per (activity type, workflow type), resolved once.
    cache: RwLock<HashMap<String, HashMap<String, Arc<ActivityMetrics>>>>,
    stalled_polls: IntCounterVec,
    stall_duration: HistogramVec,
    event_loop_lag: Histogram,
    control_loop_lag: Histogram,
    blocking_busy: IntGauge,
    heartbeats_sent: IntCounter,
    heartbeats_coalesced: IntCounter,
}

/// The vectors behind [`ActivityMetrics`].
struct ByType {
    received: IntCounterVec,
    execution_latency: HistogramVec,
    succeed_endtoend: HistogramVec,
    failed: IntCounterVec,
    cancelled: IntCounterVec,
    task_error: IntCounterVec,
    unregistered: IntCounterVec,
}

const TYPES: &[&str] = &["activity_type", "workflow_type"];

impl ByType {
    fn new(make: &Factory) -> Self {
        ByType {
            received: make.counters(
                "temporal_activity_task_received",
                "Activity tasks received from polls.",
                &["activity_type", "workflow_type", "eager"],
            ),
            execution_latency: make.histograms(
                "temporal_activity_execution_latency",
                "Milliseconds from receiving an activity task to its end, whatever the outcome.",
                EXECUTION_LATENCY_MS,
                TYPES,
            ),
            succeed_endtoend: make.histograms(
                "temporal_activity_succeed_endtoend_latency",
                "Milliseconds from the activity's first schedule to its success.",
                DEFAULT_MS,
                TYPES,
            ),
            failed: make.counters(
                "temporal_activity_execution_failed",
                "Attempts that failed, benign failures excepted.",
                TYPES,
            ),
            cancelled: make.counters(
                "temporal_activity_execution_cancelled",
                "Attempts reported as canceled after a cancel request.",
                TYPES,
            ),
            task_error: make.counters(
                "temporal_activity_task_error",
                "Attempts that panicked.",
                TYPES,
            ),
            unregistered: make.counters(
                "temporal_unregistered_activity_invocation",
                "Tasks for an activity type this worker does not serve.",
                TYPES,
            ),
        }
    }
}

/// The instruments of one (activity type, workflow type).
pub(crate) struct ActivityMetrics {
    pub(crate) received: IntCounter,
    pub(crate) execution_latency: Histogram,
    pub(crate) succeed_endtoend: Histogram,
    pub(crate) failed: IntCounter,
    pub(crate) cancelled: IntCounter,
    pub(crate) task_error: IntCounter,
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
            by_type: ByType::new(&make),
            cache: RwLock::default(),
            stalled_polls: make.counters(
                "legwork_stalled_polls",
                "Polls of async activities that held their event-loop thread past the stall threshold.",
                &["activity_type"],
            ),
            stall_duration: make.histograms(
                "legwork_stall_duration",
                "Milliseconds a stalled poll held its event-loop thread.",
                STALL_MS,
                &["activity_type"],
            ),
            event_loop_lag: make.histogram(
                "legwork_event_loop_lag",
                "Milliseconds a probe waited to run on the event loop of async activities.",
                LAG_MS,
            ),
            control_loop_lag: make.histogram(
                "legwork_control_loop_lag",
                "Milliseconds a timer fired late on the runtime that polls and responds.",
                LAG_MS,
            ),
            blocking_busy: make.gauge(
                "legwork_blocking_threads_busy",
                "Blocking-pool threads running a sync activity or a run_blocking closure.",
                &[],
            ),
            heartbeats_sent: make.counter(
                "legwork_heartbeats_sent",
                "RecordActivityTaskHeartbeat calls made.",
            ),
            heartbeats_coalesced: make.counter(
                "legwork_heartbeats_coalesced",
                "ctx.heartbeat calls that cost no RPC: replaced by a later one before the throttle let them out.",
            ),
            families: families.clone(),
            namespace: namespace.to_owned(),
            task_queue: task_queue.to_owned(),
        };
        instruments.slots_available.set(slots as i64);
        let metrics = WorkerMetrics(Arc::new(instruments));
        for activity in activities {
            metrics.activity(activity, "");
        }
        metrics
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
        let cached = self.0.cache.read().unwrap();
        if let Some(found) = cached.get(activity).and_then(|types| types.get(workflow)) {
            return found.clone();
        }
        drop(cached);
        let mut cache = self.0.cache.write().unwrap();
        let by_workflow = cache.entry(activity.to_owned()).or_default();
        by_workflow
            .entry(workflow.to_owned())
            .or_insert_with(|| Arc::new(self.resolve(activity, workflow)))
            .clone()
    }

    fn resolve(&self, activity: &str, workflow: &str) -> ActivityMetrics {
        let by = &self.0.by_type;
        let types = [activity, workflow];
        ActivityMetrics {
            received: by
                .received
                .with_label_values(&[activity, workflow, "false"]),
            execution_latency: by.execution_latency.with_label_values(&types),
            succeed_endtoend: by.succeed_endtoend.with_label_values(&types),
            failed: by.failed.with_label_values(&types),
            cancelled: by.cancelled.with_label_values(&types),
            task_error: by.task_error.with_label_values(&types),
        }
    }

    /// A task for a type this worker does not serve: resolved here, not cached, so that
    /// registered types get no series that can only be 0.
    pub(crate) fn unregistered(&self, activity: &str, workflow: &str) {
        let counter = &self.0.by_type.unregistered;
        counter.with_label_values(&[activity, workflow]).inc();
    }

    /// A poll of an async activity stalled (counted once, when first seen).
    pub(crate) fn stalled(&self, activity: &str) {
        self.0.stalled_polls.with_label_values(&[activity]).inc();
    }

    /// A stalled poll released its thread after `held`.
    pub(crate) fn stall_ended(&self, activity: &str, held: Duration) {
        let histogram = self.0.stall_duration.with_label_values(&[activity]);
        histogram.observe(duration_ms(held));
    }

    pub(crate) fn event_loop_lag(&self) -> Histogram {
        self.0.event_loop_lag.clone()
    }

    pub(crate) fn control_loop_lag(&self) -> Histogram {
        self.0.control_loop_lag.clone()
    }

    pub(crate) fn blocking_busy(&self) -> IntGauge {
        self.0.blocking_busy.clone()
    }

    pub(crate) fn heartbeats_sent(&self) -> IntCounter {
        self.0.heartbeats_sent.clone()
    }

    pub(crate) fn heartbeats_coalesced(&self, count: u64) {
        self.0.heartbeats_coalesced.inc_by(count);
    }
}

/// Fractional milliseconds, for legwork's own histograms: a lag of 0.3 ms is worth seeing.
pub(crate) fn duration_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Core counts every failure but a BENIGN `ApplicationFailure` (`should_record_failure_metric`).
pub(crate) fn counts_as_failed(failure: &Failure) -> bool {
    !matches!(
        &failure.failure_info,
        Some(FailureInfo::ApplicationFailureInfo(info))
            if info.category == ApplicationErrorCategory::Benign as i32
    )
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
mod tests {
    use super::*;
    use crate::error::ActivityError;

    /// Each line must appear whole; `$B` stands for the worker's labels, `$G` for
    /// `activity_type="greet"` and them.
    fn assert_lines(metrics: &WorkerMetrics, lines: &[&str]) {
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
    fn activity_series_carry_types_and_worker_labels() {
        let metrics = WorkerMetrics::new("ns", "tq", 10, ["greet"]);
        let greet = metrics.activity("greet", "");
        assert!(
            Arc::ptr_eq(&greet, &metrics.activity("greet", "")),
            "cached"
        );
        greet.failed.inc();
        greet
            .execution_latency
            .observe(millis(Duration::from_millis(120)));
        metrics.activity("greet", "Order").received.inc();
        assert_lines(
            &metrics,
            &[
                "# TYPE temporal_activity_execution_failed counter",
                r#"temporal_activity_execution_failed{$G,workflow_type=""} 1"#,
                r#"temporal_activity_task_received{activity_type="greet",eager="false",$B,workflow_type=""} 0"#,
                r#"temporal_activity_task_received{activity_type="greet",eager="false",$B,workflow_type="Order"} 1"#,
                r#"temporal_activity_execution_latency_bucket{$G,workflow_type="",le="100"} 0"#,
                r#"temporal_activity_execution_latency_bucket{$G,workflow_type="",le="500"} 1"#,
                r#"temporal_activity_execution_latency_bucket{$G,workflow_type="",le="+Inf"} 1"#,
                r#"temporal_activity_execution_latency_sum{$G,workflow_type=""} 120"#,
                r#"temporal_activity_execution_latency_count{$G,workflow_type=""} 1"#,
            ],
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

    #[test]
    fn benign_failures_do_not_count() {
        let failure = |error: ActivityError| counts_as_failed(&error.to_failure());
        assert!(failure(ActivityError::new("boom")));
        assert!(!failure(ActivityError::new("expected").benign()));
    }
}
