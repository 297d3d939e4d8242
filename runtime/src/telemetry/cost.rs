//! What recording costs an attempt, for `benches/event_loop.rs`: its two RPCs (the poll
//! that brought it and its report) through [`Metered`], with and without metrics, and the
//! instruments the worker records for the attempt itself (the same calls as the worker's
//! `Measured`: its type's children, received, schedule-to-start, the slot gauges, the
//! execution and end-to-end latencies).

// Built for the benchmark probe (feature `bench-internals`) and for the RPC metering's
// unit tests, which use only `Answers`; without the feature the probe is unused.
#![cfg_attr(not(feature = "bench-internals"), allow(dead_code))]

use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tonic::body::Body;
use tonic::codegen::{http, GrpcMethod, Service};

use super::exporter::Families;
use super::metrics::{millis, WorkerMetrics};
use super::rpc::{Metered, RpcMetrics};

/// Nanoseconds per attempt: `(rpcs_unmetered, rpcs_metered, attempt_series)`.
pub(crate) fn recording_cost(attempts: u32) -> (f64, f64, f64) {
    let metrics = WorkerMetrics::new("default", "bench", 10, ["noop_sync"]);
    let families = Families::default();
    let rpc = RpcMetrics::new(&families, "default", "bench");
    let unmetered = per_attempt(attempts, || two_rpcs(&mut Metered::new(Answers("0"), None)));
    let mut metered = Metered::new(Answers("0"), Some(rpc));
    let metered = per_attempt(attempts, || two_rpcs(&mut metered));
    let series = per_attempt(attempts, || {
        let activity = metrics.activity(black_box("noop_sync"), black_box(""));
        activity.received.inc();
        metrics.schedule_to_start(Duration::from_millis(3));
        let slot = metrics.slot_used();
        let received = Instant::now();
        activity
            .execution_latency
            .observe(millis(received.elapsed()));
        activity
            .succeed_endtoend
            .observe(millis(received.elapsed()));
        drop(slot);
    });
    (unmetered, metered, series)
}

fn per_attempt(attempts: u32, mut attempt: impl FnMut()) -> f64 {
    let began = Instant::now();
    for _ in 0..attempts {
        attempt();
    }
    began.elapsed().as_nanos() as f64 / f64::from(attempts.max(1))
}

fn two_rpcs(service: &mut Metered<Answers>) {
    for method in ["PollActivityTaskQueue", "RespondActivityTaskCompleted"] {
        let mut request = http::Request::new(Body::empty());
        // As tonic's generated client marks its requests.
        let method = GrpcMethod::new("temporal.api.workflowservice.v1.WorkflowService", method);
        request.extensions_mut().insert(method);
        let mut response = pin!(service.call(request));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            response.as_mut().poll(&mut cx),
            Poll::Ready(Ok(_))
        ));
    }
}

/// A channel that answers every call at once with the `grpc-status` it was built with
/// (also the channel of `rpc`'s tests).
#[derive(Clone)]
pub(super) struct Answers(pub(super) &'static str);

impl Service<http::Request<Body>> for Answers {
    type Response = http::Response<()>;
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        let response = http::Response::builder().header("grpc-status", self.0);
        ready(Ok(response.body(()).expect("a valid response")))
    }
}
