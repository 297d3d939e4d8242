//! The request metrics of sdk-core's client (`client/src/metrics.rs`), as a service
//! wrapped around the gRPC channel, under the headers interceptor: every attempt of every
//! call is counted when issued, timed until its response, and counted as a failure when
//! the response carries a non-OK `grpc-status` (Temporal's errors are trailers-only
//! responses, so the status is in the headers). Transport errors are not failures, as in
//! core. Long polls are counted apart, as `long_request*`, with the task queue.
//!
//! Two RPCs go with every activity (its poll and its report), so the per-call work is
//! kept to atomics: the calls a worker makes have their children resolved once, in a
//! table found by a `match` on the method name (no lock, no hashing); any other call's
//! are kept in a map. The future adds no allocation, metered or not.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use prometheus::{Histogram, IntCounter, IntCounterVec};
use tonic::body::Body;
use tonic::codegen::{http, GrpcMethod, Service};
use tonic::Code;

use super::exporter::{labels, Factory, Families};
use super::metrics::{millis, DEFAULT_MS, SERVICE_NAME};

/// The calls a worker makes. The position in this list is the index in [`Inner::known`]
/// and what [`known`] returns.
const KNOWN: [&str; 9] = [
    "PollActivityTaskQueue",
    "RespondActivityTaskCompleted",
    "RespondActivityTaskFailed",
    "RespondActivityTaskCanceled",
    "RecordActivityTaskHeartbeat",
    "RecordWorkerHeartbeat",
    "ShutdownWorker",
    "GetSystemInfo",
    "DescribeNamespace",
];

/// The index of `operation` in [`KNOWN`]: a `match` the compiler turns into length and
/// byte comparisons.
fn known(operation: &str) -> Option<usize> {
    Some(match operation {
        "PollActivityTaskQueue" => 0,
        "RespondActivityTaskCompleted" => 1,
        "RespondActivityTaskFailed" => 2,
        "RespondActivityTaskCanceled" => 3,
        "RecordActivityTaskHeartbeat" => 4,
        "RecordWorkerHeartbeat" => 5,
        "ShutdownWorker" => 6,
        "GetSystemInfo" => 7,
        "DescribeNamespace" => 8,
        _ => return None,
    })
}

/// The request instruments of one worker's connection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RpcMetrics(Arc<Inner>);

struct Inner {
    normal: Kind,
    long: Kind,
    /// Children of the [`KNOWN`] operations, in that order, resolved on first call (so
    /// that a scrape lists only the operations called, as core's does).
    known: [OnceLock<Arc<Calls>>; KNOWN.len()],
    /// Children of any other operation, resolved on its first call.
    other: RwLock<HashMap<String, Arc<Calls>>>,
}

/// `request*` or `long_request*`.
struct Kind {
    request: IntCounterVec,
    failure: IntCounterVec,
    latency: prometheus::HistogramVec,
}

/// The children of one operation, and its failure counters (by status code).
struct Calls {
    operation: String,
    request: IntCounter,
    latency: Histogram,
    failure: IntCounterVec,
}

impl Kind {
    fn new(make: &Factory, prefix: &str, what: &str) -> Self {
        let name = |suffix: &str| format!("temporal_{prefix}{suffix}");
        Kind {
            request: make.counters(
                &name(""),
                &format!("{what} issued, retries included."),
                &["operation"],
            ),
            failure: make.counters(
                &name("_failure"),
                &format!("{what} answered with a non-OK gRPC status."),
                &["operation", "status_code"],
            ),
            latency: make.histograms(
                &name("_latency"),
                &format!("Milliseconds until the answer to one of the {what}."),
                DEFAULT_MS,
                &["operation"],
            ),
        }
    }
}

impl RpcMetrics {
    /// Request metrics labelled with `namespace`; long polls also with `task_queue`.
    pub(crate) fn new(families: &Families, namespace: &str, task_queue: &str) -> Self {
        let base = [("namespace", namespace), ("service_name", SERVICE_NAME)];
        let normal = Factory {
            families,
            labels: labels(&base),
        };
        let long = Factory {
            families,
            labels: labels(&[base[0], base[1], ("task_queue", task_queue)]),
        };
        RpcMetrics(Arc::new(Inner {
            normal: Kind::new(&normal, "request", "RPCs"),
            long: Kind::new(&long, "long_request", "long-poll RPCs"),
            known: Default::default(),
            other: RwLock::default(),
        }))
    }

    fn calls(&self, operation: &str) -> Arc<Calls> {
        if let Some(index) = known(operation) {
            let calls = self.0.known[index].get_or_init(|| Arc::new(self.0.resolve(operation)));
            return calls.clone();
        }
        if let Some(calls) = self.0.other.read().unwrap().get(operation) {
            return calls.clone();
        }
        let calls = Arc::new(self.0.resolve(operation));
        let mut other = self.0.other.write().unwrap();
        other.entry(operation.to_owned()).or_insert(calls).clone()
    }
}

impl Inner {
    fn resolve(&self, operation: &str) -> Calls {
        let kind = if is_long(operation) {
            &self.long
        } else {
            &self.normal
        };
        Calls {
            operation: operation.to_owned(),
            request: kind.request.with_label_values(&[operation]),
            latency: kind.latency.with_label_values(&[operation]),
            failure: kind.failure.clone(),
        }
    }
}

impl Calls {
    /// Failures are rare: their child is resolved when one happens.
    fn failed(&self, code: Code) {
        let labels = [self.operation.as_str(), screaming_snake(code)];
        self.failure.with_label_values(&labels).inc();
    }
}

/// The calls core's `CallType` marks long: the task-queue polls.
fn is_long(operation: &str) -> bool {
    operation.starts_with("Poll") && operation.ends_with("TaskQueue")
}

/// A service (the gRPC channel) whose calls are measured; `None` measures nothing (the
/// client), so that worker and client share one `ServiceClient` type.
#[derive(Clone)]
pub struct Metered<S> {
    inner: S,
    metrics: Option<RpcMetrics>,
}

impl<S> Metered<S> {
    pub(crate) fn new(inner: S, metrics: Option<RpcMetrics>) -> Self {
        Metered { inner, metrics }
    }
}

impl<S, B> Service<http::Request<Body>> for Metered<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let measuring = self.metrics.as_ref().map(|metrics| {
            let calls = metrics.calls(operation(&request));
            calls.request.inc();
            Measuring {
                calls,
                issued: Instant::now(),
            }
        });
        MeteredFuture {
            response: self.inner.call(request),
            measuring,
        }
    }
}

/// What a metered call records when its response arrives.
struct Measuring {
    calls: Arc<Calls>,
    issued: Instant,
}

pin_project_lite::pin_project! {
    /// The response of a [`Metered`] call: the channel's own future, plus what to record
    /// when it is ready.
    pub struct MeteredFuture<F> {
        #[pin]
        response: F,
        measuring: Option<Measuring>,
    }
}

impl<F, B, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.response.poll(cx));
        if let Some(Measuring { calls, issued }) = this.measuring.take() {
            calls.latency.observe(millis(issued.elapsed()));
            if let Some(code) = response.as_ref().ok().and_then(status) {
                calls.failed(code);
            }
        }
        Poll::Ready(response)
    }
}

/// The gRPC method: from the extension tonic's generated client sets, else the path.
fn operation<T>(request: &http::Request<T>) -> &str {
    match request.extensions().get::<GrpcMethod>() {
        Some(method) => method.method(),
        None => {
            let path = request.uri().path();
            path.rsplit('/').next().unwrap_or(path)
        }
    }
}

/// A non-OK `grpc-status` in the response's headers.
fn status<B>(response: &http::Response<B>) -> Option<Code> {
    let value = response.headers().get("grpc-status")?;
    let code = Code::from(value.to_str().ok()?.parse::<i32>().ok()?);
    (code != Code::Ok).then_some(code)
}

/// The code as the gRPC spec and the Java SDK spell it, as core labels it.
fn screaming_snake(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::super::cost::Answers;
    use super::*;

    fn call(service: &mut Metered<Answers>, method: &str) {
        let request = http::Request::builder()
            .uri(format!(
                "http://server/temporal.api.workflowservice.v1.WorkflowService/{method}"
            ))
            .body(Body::empty())
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(service.call(request)).unwrap();
    }

    #[test]
    fn counts_calls_failures_and_long_polls_apart() {
        let families = Families::default();
        let metrics = RpcMetrics::new(&families, "ns", "tq");
        let mut ok = Metered::new(Answers("0"), Some(metrics.clone()));
        let mut unavailable = Metered::new(Answers("14"), Some(metrics));
        call(&mut ok, "RespondActivityTaskCompleted");
        call(&mut ok, "RespondActivityTaskCompleted");
        call(&mut unavailable, "PollActivityTaskQueue");
        call(&mut ok, "DescribeTaskQueue");
        let text = families.encode();
        for line in [
            r#"temporal_request{namespace="ns",operation="DescribeTaskQueue",service_name="legwork"} 1"#,
            r#"temporal_request{namespace="ns",operation="RespondActivityTaskCompleted",service_name="legwork"} 2"#,
            r#"temporal_long_request{namespace="ns",operation="PollActivityTaskQueue",service_name="legwork",task_queue="tq"} 1"#,
            r#"temporal_long_request_failure{namespace="ns",operation="PollActivityTaskQueue",service_name="legwork",status_code="UNAVAILABLE",task_queue="tq"} 1"#,
            r#"temporal_request_latency_count{namespace="ns",operation="RespondActivityTaskCompleted",service_name="legwork"} 2"#,
            r#"temporal_long_request_latency_bucket{namespace="ns",operation="PollActivityTaskQueue",service_name="legwork",task_queue="tq",le="50"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        assert!(
            text.contains("# TYPE temporal_request_failure counter\n"),
            "{text}"
        );
        assert!(!text.contains("temporal_request_failure{"), "{text}");
        assert!(!text.contains("ShutdownWorker"), "only calls made: {text}");
    }

    #[test]
    fn the_table_of_known_calls_matches_its_names() {
        for (index, operation) in KNOWN.iter().enumerate() {
            assert_eq!(known(operation), Some(index), "{operation}");
        }
        assert_eq!(known("DescribeTaskQueue"), None);
    }
}
