//! What no SDK measures, under the `legwork_` prefix: how the event loop and the control
//! runtime keep up (lag), async activities that hold their thread (stalls) and the spare
//! event-loop threads started meanwhile, the blocking pool's busy threads, and heartbeats
//! sent or coalesced.

use std::time::Duration;

use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge};

use crate::telemetry::exporter::Factory;

/// Lag is healthy below a few ms; a blocked runtime shows as seconds.
const LAG_MS: &[f64] = &[1., 5., 10., 50., 100., 500., 1000., 5000.];
/// A stall is at least the threshold (100 ms by default) long.
const STALL_MS: &[f64] = &[100., 250., 500., 1000., 2500., 10_000., 60_000.];

pub(super) struct Own {
    stalled_polls: IntCounterVec,
    stall_duration: HistogramVec,
    pub(super) event_loop_lag: Histogram,
    pub(super) control_loop_lag: Histogram,
    pub(super) blocking_busy: IntGauge,
    pub(super) event_loop_spares: IntGauge,
    pub(super) heartbeats_sent: IntCounter,
    pub(super) heartbeats_coalesced: IntCounter,
    pub(super) isolated: IsolatedMetrics,
}

/// The child processes of isolated activities.
#[derive(Clone)]
pub(crate) struct IsolatedMetrics {
    /// Children running, idle or busy.
    pub(crate) live: IntGauge,
    /// Children running an attempt.
    pub(crate) busy: IntGauge,
    crashes: IntCounterVec,
    kills: IntCounterVec,
}

impl IsolatedMetrics {
    fn new(make: &Factory) -> Self {
        IsolatedMetrics {
            live: make.gauge(
                "legwork_isolated_children",
                "Child processes of isolated activities running, idle or busy.",
                &[],
            ),
            busy: make.gauge(
                "legwork_isolated_children_busy",
                "Child processes of isolated activities running an attempt.",
                &[],
            ),
            crashes: make.counters(
                "legwork_isolated_crashes",
                "Attempts of isolated activities whose child died, by cause (stack_overflow, memory_limit, signal, exit).",
                &["cause"],
            ),
            kills: make.counters(
                "legwork_isolated_kills",
                "Children killed after the kill grace, by why they were told to stop.",
                &["reason"],
            ),
        }
    }

    /// `cause`: `stack_overflow`, `memory_limit`, `signal` or `exit`.
    pub(crate) fn crashed(&self, cause: &str) {
        self.crashes.with_label_values(&[cause]).inc();
    }

    /// `reason`: why the child was told to stop (`cancel requested`, `timed out`, ...).
    pub(crate) fn killed(&self, reason: &str) {
        self.kills.with_label_values(&[reason]).inc();
    }
}

impl Own {
    pub(super) fn new(make: &Factory) -> Self {
        Own {
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
            event_loop_spares: make.gauge(
                "legwork_event_loop_spares",
                "Spare event-loop threads running: started when every event-loop thread was held by a stalled poll.",
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
            isolated: IsolatedMetrics::new(make),
        }
    }

    /// Stalls are rare (and a bug in the activity): their child is resolved when seen.
    pub(super) fn stalled(&self, activity: &str) {
        self.stalled_polls.with_label_values(&[activity]).inc();
    }

    pub(super) fn stall_ended(&self, activity: &str, held: Duration) {
        let histogram = self.stall_duration.with_label_values(&[activity]);
        histogram.observe(duration_ms(held));
    }
}

/// Fractional milliseconds, for legwork's own histograms: a lag of 0.3 ms is worth seeing.
pub(crate) fn duration_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
