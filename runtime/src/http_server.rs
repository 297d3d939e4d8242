//! The accept-and-serve loop behind the worker's small HTTP/1 servers: `/metrics`
//! (`telemetry::exporter`), the health probes (`worker::health`) and the codec server.
//! Each brings only its handler; the loop, its limits, its error handling and its logging
//! are here.
//!
//! Limits, so that a client cannot hold a connection or memory for ever: the request head
//! must arrive within [`HEADER_READ_TIMEOUT`] (a client trickling its headers a byte at a
//! time is cut off), and the codec server bounds the body's size and how long it may take
//! (`codec::server`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::debug;

use crate::codec::BoxFuture;

/// How long a client has to send a request's head (its request line and headers).
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `address`; done at start, so that a taken port stops the worker there.
pub(crate) async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// What a server answers a request with.
type Handler =
    Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

/// Answers each connection on `listener` with `handle`, one task per connection, until
/// the task running this is dropped. `name` says which server, in debug logs.
///
/// The handler is boxed so that hyper's HTTP/1 server (its dispatcher, the per-connection
/// task, their drop glue) is compiled once rather than once per server; these servers see
/// a request every few seconds, so a box per request costs nothing.
pub(crate) fn serve<H, F>(
    listener: TcpListener,
    name: &'static str,
    handle: H,
) -> impl Future<Output = ()> + Send
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let handle: Handler = Arc::new(move |request| Box::pin(handle(request)));
    serve_with(listener, name, handle)
}

async fn serve_with(listener: TcpListener, name: &'static str, handle: Handler) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, or the like: try again a little later.
                debug!(%error, "{name} could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = Arc::clone(&handle);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = handle(request);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                debug!(%error, "{name} connection ended with an error");
            }
        });
    }
}
