//! The series of each activity type (and workflow type, "" when standalone): received,
//! latencies, failures, cancellations, panics, and tasks for types not served here.
//!
//! Every attempt records into them, so their children are resolved before the hot path:
//! those of each registered type without a workflow (the standalone activities) at
//! start, in a map that is only ever read; those of a (type, workflow type) pair on its
//! first attempt, behind a lock that is then only taken to read.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec};

use super::buckets::{DEFAULT_MS, EXECUTION_LATENCY_MS};
use crate::proto::{ApplicationErrorCategory, Failure, FailureInfo};
use crate::telemetry::exporter::Factory;

const TYPES: &[&str] = &["activity_type", "workflow_type"];

/// The instruments of one (activity type, workflow type).
pub(crate) struct ActivityMetrics {
    pub(crate) received: IntCounter,
    pub(crate) execution_latency: Histogram,
    pub(crate) succeed_endtoend: Histogram,
    pub(crate) failed: FailedCounter,
    pub(crate) cancelled: IntCounter,
    pub(crate) task_error: IntCounter,
}

/// `temporal_activity_execution_failed` of one activity and workflow type, counted by
/// `failure_reason` (sdk-core's label: `ActivityError`, `PayloadsTooLarge`,
/// `ExternalStorageError`). The reason's child is looked up at the failure: failures are
/// few, and no series of a reason that never happened is shown.
pub(crate) struct FailedCounter {
    family: IntCounterVec,
    activity: String,
    workflow: String,
}

impl FailedCounter {
    pub(crate) fn inc(&self, reason: &str) {
        self.family
            .with_label_values(&[self.activity.as_str(), self.workflow.as_str(), reason])
            .inc();
    }
}

/// The per-type families and their resolved children.
pub(super) struct ActivityTable {
    by_type: ByType,
    /// Registered types run standalone (workflow type ""), resolved at start.
    standalone: HashMap<String, Arc<ActivityMetrics>>,
    /// Children per (activity type, workflow type), resolved on first sight.
    with_workflow: RwLock<HashMap<String, HashMap<String, Arc<ActivityMetrics>>>>,
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

impl ActivityTable {
    /// The families, with the standalone children of `activities` resolved now.
    pub(super) fn new<'a>(make: &Factory, activities: impl IntoIterator<Item = &'a str>) -> Self {
        let by_type = ByType::new(make);
        let standalone = activities
            .into_iter()
            .map(|activity| (activity.to_owned(), Arc::new(by_type.resolve(activity, ""))))
            .collect();
        ActivityTable {
            by_type,
            standalone,
            with_workflow: RwLock::default(),
        }
    }

    /// The instruments of an activity type run for a workflow type ("" when standalone).
    pub(super) fn get(&self, activity: &str, workflow: &str) -> Arc<ActivityMetrics> {
        if workflow.is_empty() {
            if let Some(found) = self.standalone.get(activity) {
                return found.clone();
            }
        }
        let cached = self.with_workflow.read().unwrap();
        if let Some(found) = cached.get(activity).and_then(|types| types.get(workflow)) {
            return found.clone();
        }
        drop(cached);
        let mut cache = self.with_workflow.write().unwrap();
        let by_workflow = cache.entry(activity.to_owned()).or_default();
        by_workflow
            .entry(workflow.to_owned())
            .or_insert_with(|| Arc::new(self.by_type.resolve(activity, workflow)))
            .clone()
    }

    /// A task for a type this worker does not serve: resolved here, not cached, so that
    /// registered types get no series that can only be 0.
    pub(super) fn unregistered(&self, activity: &str, workflow: &str) {
        let counter = &self.by_type.unregistered;
        counter.with_label_values(&[activity, workflow]).inc();
    }
}

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
                "Attempts that failed, benign failures excepted, by failure reason.",
                &["activity_type", "workflow_type", "failure_reason"],
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

    fn resolve(&self, activity: &str, workflow: &str) -> ActivityMetrics {
        let types = [activity, workflow];
        ActivityMetrics {
            received: self
                .received
                .with_label_values(&[activity, workflow, "false"]),
            execution_latency: self.execution_latency.with_label_values(&types),
            succeed_endtoend: self.succeed_endtoend.with_label_values(&types),
            failed: FailedCounter {
                family: self.failed.clone(),
                activity: activity.to_owned(),
                workflow: workflow.to_owned(),
            },
            cancelled: self.cancelled.with_label_values(&types),
            task_error: self.task_error.with_label_values(&types),
        }
    }
}

/// Core counts every failure but a BENIGN `ApplicationFailure` (`should_record_failure_metric`).
pub(crate) fn counts_as_failed(failure: &Failure) -> bool {
    !matches!(
        &failure.failure_info,
        Some(FailureInfo::ApplicationFailureInfo(info))
            if info.category == ApplicationErrorCategory::Benign as i32
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_lines;
    use super::super::{millis, WorkerMetrics};
    use super::*;
    use crate::error::ActivityError;
    use std::time::Duration;

    #[test]
    fn activity_series_carry_types_and_worker_labels() {
        let metrics = WorkerMetrics::new("ns", "tq", 10, ["greet"]);
        let greet = metrics.activity("greet", "");
        assert!(
            Arc::ptr_eq(&greet, &metrics.activity("greet", "")),
            "cached"
        );
        let order = metrics.activity("greet", "Order");
        assert!(
            Arc::ptr_eq(&order, &metrics.activity("greet", "Order")),
            "cached per workflow type"
        );
        greet.failed.inc("ActivityError");
        greet
            .execution_latency
            .observe(millis(Duration::from_millis(120)));
        order.received.inc();
        metrics.activity("other", "").received.inc();
        assert_lines(
            &metrics,
            &[
                "# TYPE temporal_activity_execution_failed counter",
                r#"temporal_activity_execution_failed{activity_type="greet",failure_reason="ActivityError",$B,workflow_type=""} 1"#,
                r#"temporal_activity_task_received{activity_type="greet",eager="false",$B,workflow_type=""} 0"#,
                r#"temporal_activity_task_received{activity_type="greet",eager="false",$B,workflow_type="Order"} 1"#,
                r#"temporal_activity_task_received{activity_type="other",eager="false",$B,workflow_type=""} 1"#,
                r#"temporal_activity_execution_latency_bucket{$G,workflow_type="",le="100"} 0"#,
                r#"temporal_activity_execution_latency_bucket{$G,workflow_type="",le="500"} 1"#,
                r#"temporal_activity_execution_latency_bucket{$G,workflow_type="",le="+Inf"} 1"#,
                r#"temporal_activity_execution_latency_sum{$G,workflow_type=""} 120"#,
                r#"temporal_activity_execution_latency_count{$G,workflow_type=""} 1"#,
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
