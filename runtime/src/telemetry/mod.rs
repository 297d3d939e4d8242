//! What a worker tells operators: Temporal's metrics (and legwork's own), traces that
//! continue a workflow's, and log lines that carry the activity they come from.
//!
//! - `metrics`: the instruments, with sdk-core's names, labels and buckets;
//! - `exporter`: `GET /metrics` in Prometheus text format;
//! - `rpc`: the request metrics, a layer over the gRPC channel;
//! - `trace`: the `RunActivity` span and its parent from the `_tracer-data` header;
//! - `logs`: the subscriber a generated `main` installs (text or JSON);
//! - `cost`: what recording costs an attempt, for `benches/event_loop.rs`.

// The bench probe, and the fake transport the RPC metrics' unit tests answer with.
#[cfg(any(test, feature = "bench-internals"))]
pub(crate) mod cost;
pub(crate) mod exporter;
#[cfg(feature = "cli")]
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod rpc;
pub(crate) mod trace;
