//! sdk-core's default histogram buckets, in ms (`common/src/telemetry/metrics.rs`), for
//! the metrics that carry sdk-core's names.

pub(crate) const EXECUTION_LATENCY_MS: &[f64] = &[50., 100., 500., 1000., 5000., 10_000., 60_000.];
pub(crate) const SCHEDULE_TO_START_MS: &[f64] =
    &[100., 500., 1000., 5000., 10_000., 100_000., 1_000_000.];
pub(crate) const DEFAULT_MS: &[f64] = &[50., 100., 500., 1000., 2500., 10_000.];
