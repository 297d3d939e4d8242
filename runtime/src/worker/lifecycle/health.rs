//! `GET /healthz` and `GET /readyz` for orchestrators' probes (`WorkerOptions::health_bind`).
//!
//! Served on the control runtime, the one that polls and responds: an answer to
//! `/healthz` shows that loop is turning, whatever activities do to their own threads.
//! `/readyz` answers 200 once the server has answered a poll (the namespace, task queue
//! and credentials are accepted), and 503 again from the moment shutdown begins, so a
//! rolling update waits for new workers to take tasks and stops counting old ones at once.
//!
//! Its own small HTTP/1 server (hyper, as `telemetry::exporter`'s `/metrics`), so that
//! probes work without exposing metrics, and the two can sit on different ports.

use std::future::ready;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Response, StatusCode};
use tokio::net::TcpListener;

use crate::http_server;

/// What the probes report.
#[derive(Debug, Default)]
pub(crate) struct Health {
    polled: AtomicBool,
    stopping: AtomicBool,
}

impl Health {
    /// The server answered a poll.
    pub(crate) fn poll_accepted(&self) {
        self.polled.store(true, Ordering::Relaxed);
    }

    /// Whether a poll has been answered yet.
    pub(crate) fn has_polled(&self) -> bool {
        self.polled.load(Ordering::Relaxed)
    }

    /// Shutdown began: no longer ready, for good.
    pub(crate) fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn readiness(&self) -> (StatusCode, &'static str) {
        if self.stopping.load(Ordering::Relaxed) {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        } else if self.has_polled() {
            (StatusCode::OK, "ready\n")
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "waiting for the server to answer a poll\n",
            )
        }
    }
}

/// Serves the probes until the runtime it runs on stops.
pub(crate) async fn serve(listener: TcpListener, health: Arc<Health>) {
    http_server::serve(listener, "health server", move |request| {
        ready(respond(request.method(), request.uri().path(), &health))
    })
    .await
}

fn respond(method: &Method, path: &str, health: &Health) -> Response<Full<Bytes>> {
    let (status, body) = match (method, path) {
        (&Method::GET | &Method::HEAD, "/healthz") => (StatusCode::OK, "ok\n"),
        (&Method::GET | &Method::HEAD, "/readyz") => health.readiness(),
        _ => (StatusCode::NOT_FOUND, ""),
    };
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a response of static parts is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_after_a_poll_until_shutdown() {
        let health = Health::default();
        let status = |path| respond(&Method::GET, path, &health).status();
        assert_eq!(status("/healthz"), StatusCode::OK);
        assert_eq!(status("/readyz"), StatusCode::SERVICE_UNAVAILABLE);
        health.poll_accepted();
        assert_eq!(status("/readyz"), StatusCode::OK);
        health.stopping();
        assert_eq!(status("/readyz"), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status("/healthz"), StatusCode::OK);
        assert_eq!(status("/metrics"), StatusCode::NOT_FOUND);
    }
}
