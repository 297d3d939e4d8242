//! The request metrics of sdk-core's client (`client/src/metrics.rs`), as a service
//! wrapped around the gRPC channel, under the headers interceptor: every attempt of every
//! call is counted when issued, timed until its response, and counted as a failure when
//! the response carries a non-OK `grpc-status` (Temporal's errors are trailers-only
//! responses, so the status is in the headers). Transport errors are not failures, as in
//! core. Long polls are counted apart, as `long_request*`, with the task queue.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus::{Histogram, IntCounter, IntCounterVec};
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, GrpcMethod, Service};
use tonic::Code;

use super::exporter::{labels, Factory, Families};
use super::metrics::{millis, DEFAULT_MS, SERVICE_NAME};

/// The request instruments of one worker's connection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RpcMetrics(Arc<Inner>);

struct Inner {
    normal: Kind,
    long: Kind,
    /// Children per operation, resolved once.
    calls: RwLock<HashMap<String, Arc<Calls>>>,
}

/// `request*` or `long_request*`.
struct Kind {
    request: IntCounterVec,
    failure: IntCounterVec,
    latency: prometheus::HistogramVec,
}

struct Calls {
    operation: String,
    long: bool,
    request: IntCounter,
    latency: Histogram,
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
            calls: RwLock::default(),
        }))
    }

    fn calls(&self, operation: &str) -> Arc<Calls> {
        if let Some(calls) = self.0.calls.read().unwrap().get(operation) {
            return calls.clone();
        }
        let long = is_long(operation);
        let kind = if long { &self.0.long } else { &self.0.normal };
        let calls = Arc::new(Calls {
            operation: operation.to_owned(),
            long,
            request: kind.request.with_label_values(&[operation]),
            latency: kind.latency.with_label_values(&[operation]),
        });
        let mut cache = self.0.calls.write().unwrap();
        cache.entry(operation.to_owned()).or_insert(calls).clone()
    }

    fn failed(&self, calls: &Calls, code: Code) {
        let kind = if calls.long {
            &self.0.long
        } else {
            &self.0.normal
        };
        let labels = [calls.operation.as_str(), screaming_snake(code)];
        kind.failure.with_label_values(&labels).inc();
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
    S::Future: Send + 'static,
    B: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let measured = self.metrics.clone().map(|metrics| {
            let calls = metrics.calls(operation(&request));
            calls.request.inc();
            (metrics, calls, Instant::now())
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            if let Some((metrics, calls, issued)) = measured {
                calls.latency.observe(millis(issued.elapsed()));
                if let Some(code) = response.as_ref().ok().and_then(status) {
                    metrics.failed(&calls, code);
                }
            }
            response
        })
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
    use super::*;
    use std::future::{ready, Ready};

    /// Answers every call with the `grpc-status` it was built with.
    #[derive(Clone)]
    struct Answers(&'static str);

    impl Service<http::Request<Body>> for Answers {
        type Response = http::Response<()>;
        type Error = std::convert::Infallible;
        type Future = Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<Body>) -> Self::Future {
            let response = http::Response::builder().header("grpc-status", self.0);
            ready(Ok(response.body(()).unwrap()))
        }
    }

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
        let text = families.encode();
        for line in [
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
    }
}
