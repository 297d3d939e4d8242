//! The codec server: the HTTP protocol the Temporal Web UI and
//! `temporal --codec-endpoint` speak (sdk-go `converter.NewPayloadCodecHTTPHandler`).
//!
//! - `POST {any prefix}/encode` and `POST {any prefix}/decode`: the body is proto3-JSON
//!   `Payloads`, the answer the same shape, encoded or decoded by the chain;
//! - `X-Namespace` picks a chain registered for that namespace, the default otherwise;
//! - `OPTIONS` on those paths answers the Web UI's CORS preflight; answers carry CORS
//!   headers only for an origin the server was told to allow (none by default), so a web
//!   page the user happens to visit cannot make their browser decode payloads here;
//! - 400 with a one-line message for a body that is not `Payloads` or a codec that
//!   fails (as Go's handler), 413 past the body limit, 408 for a body slower than 30 s,
//!   405 for other methods, 404 for other paths.

use std::collections::HashMap;
use std::error::Error;
use std::sync::Arc;

use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::{Body, Bytes};
use hyper::header::{self, HeaderValue, InvalidHeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tracing::debug;

use super::chain::CodecChain;
use super::error::CodecError;
use super::json::{payloads_from_json, payloads_to_json};
use crate::payload::Payload;

/// What the Web UI may send: `Authorization` and `Authorization-Extras` when it passes
/// the user's access token (`codec.passAccessToken`).
const ALLOW_HEADERS: &str = "Content-Type, X-Namespace, Authorization, Authorization-Extras";
const ALLOW_METHODS: &str = "POST, GET, OPTIONS";
/// How long a browser may cache a preflight.
const PREFLIGHT_MAX_AGE: &str = "600";
/// Default bound on a request body.
const DEFAULT_MAX_BODY: usize = 64 << 20;
/// How long a request body may take to arrive; a client that trickles it is answered 408.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// An HTTP codec server for a [`CodecChain`]: embed [`handle`](Self::handle) in your own
/// hyper (or axum) server, or run [`serve`](Self::serve).
///
/// CORS: none by default. A browser then lets no page read an answer, which keeps the
/// server from being a decryption oracle for any site the user visits; the CLI
/// (`--codec-endpoint`) sends no `Origin` and is served as before. Name the Web UI's
/// origin with [`allow_origin`](Self::allow_origin) (as Temporal's sample codec servers
/// take `-web`): answers to that origin carry it, with
/// `Access-Control-Allow-Credentials: true`, which the UI's `codec.includeCredentials`
/// needs. Keep the server where only the UI's users reach it all the same.
///
/// ```no_run
/// use legwork::codec::{Aes256Gcm, CodecChain, CodecServer};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let chain = CodecChain::new().then(Aes256Gcm::new("key-1", [7u8; 32])?);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8888").await?;
/// // Then: temporal workflow show --codec-endpoint http://127.0.0.1:8888 ...
/// CodecServer::new(chain)
///     .allow_origin("http://localhost:8233")?
///     .serve(listener)
///     .await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CodecServer {
    default: CodecChain,
    namespaces: HashMap<String, CodecChain>,
    allowed_origins: Vec<HeaderValue>,
    max_body: usize,
}

/// What a request asks for.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Encode,
    Decode,
}

impl CodecServer {
    /// A server that applies `codecs` whatever the namespace.
    pub fn new(codecs: CodecChain) -> Self {
        Self {
            default: codecs,
            namespaces: HashMap::new(),
            allowed_origins: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Applies `codecs` to requests whose `X-Namespace` is `namespace`.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>, codecs: CodecChain) -> Self {
        self.namespaces.insert(namespace.into(), codecs);
        self
    }

    /// Lets pages of this origin (the Web UI's, e.g. `https://temporal.example.com` or
    /// `http://localhost:8233`) read answers; call it once per origin.
    pub fn allow_origin(mut self, origin: &str) -> Result<Self, InvalidHeaderValue> {
        self.allowed_origins.push(HeaderValue::from_str(origin)?);
        Ok(self)
    }

    /// The largest request body accepted (64 MiB by default); larger is a 413.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Answers one request; never fails (errors are 4xx answers).
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn Error + Send + Sync>>,
    {
        let Some(operation) = operation(request.uri().path()) else {
            return text(
                StatusCode::NOT_FOUND,
                "not found: the codec server answers POST …/encode and POST …/decode",
            );
        };
        let origin = request.headers().get(header::ORIGIN).cloned();
        let mut response = match *request.method() {
            Method::OPTIONS => preflight(),
            Method::POST => self.apply(operation, request).await,
            _ => {
                let mut response = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed: use POST (or OPTIONS for a CORS preflight)",
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
                response
            }
        };
        self.add_cors(&mut response, origin);
        response
    }

    /// Serves HTTP/1 on `listener` until the task running it is dropped.
    pub async fn serve(self, listener: TcpListener) {
        let server = Arc::new(self);
        crate::http_server::serve(listener, "codec server", move |request| {
            let server = Arc::clone(&server);
            async move { server.handle(request).await }
        })
        .await
    }

    async fn apply<B>(&self, operation: Operation, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn Error + Send + Sync>>,
    {
        let namespace = request
            .headers()
            .get("x-namespace")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let payloads = match self.read_payloads(request.into_body()).await {
            Ok(payloads) => payloads,
            Err(response) => return response,
        };
        let chain = namespace
            .as_deref()
            .and_then(|namespace| self.namespaces.get(namespace))
            .unwrap_or(&self.default);
        let count = payloads.len();
        debug!(
            ?operation,
            namespace,
            payloads = count,
            "codec server request"
        );
        let result = match operation {
            Operation::Encode => chain.encode(payloads).await,
            Operation::Decode => chain.decode(payloads).await,
        };
        respond(operation, result)
    }

    /// The body as payloads, or the 4xx answer saying why not.
    async fn read_payloads<B>(&self, body: B) -> Result<Vec<Payload>, Response<Full<Bytes>>>
    where
        B: Body,
        B::Error: Into<Box<dyn Error + Send + Sync>>,
    {
        let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, self.max_body).collect());
        let Ok(read) = read.await else {
            let message = format!("the body did not arrive within {BODY_TIMEOUT:?}");
            return Err(text(StatusCode::REQUEST_TIMEOUT, &message));
        };
        let body = match read {
            Ok(body) => body.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => {
                let message = format!("the body is larger than {} bytes", self.max_body);
                return Err(text(StatusCode::PAYLOAD_TOO_LARGE, &message));
            }
            Err(error) => {
                let message = format!("could not read the body: {error}");
                return Err(text(StatusCode::BAD_REQUEST, &message));
            }
        };
        payloads_from_json(&body)
            .map_err(|error| text(StatusCode::BAD_REQUEST, &format!("malformed body: {error}")))
    }

    /// CORS headers for an allowed origin; none for any other, or without one.
    fn add_cors(&self, response: &mut Response<Full<Bytes>>, origin: Option<HeaderValue>) {
        let Some(origin) = origin.filter(|origin| self.allowed_origins.contains(origin)) else {
            return;
        };
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        // The answer depends on the request's origin: caches must know.
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Serves `codecs` on `listener` with the defaults of [`CodecServer`] (no CORS), until the
/// task running it is dropped.
///
/// ```no_run
/// use legwork::codec::{serve, CodecChain, Zlib};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// println!("codec server on http://{}", listener.local_addr()?);
/// serve(listener, CodecChain::new().then(Zlib::new())).await;
/// # Ok(())
/// # }
/// ```
pub async fn serve(listener: TcpListener, codecs: CodecChain) {
    CodecServer::new(codecs).serve(listener).await
}

/// The chain's payloads as JSON, or a 400 naming what failed (as Go's handler answers).
fn respond(
    operation: Operation,
    result: Result<Vec<Payload>, CodecError>,
) -> Response<Full<Bytes>> {
    match result {
        Ok(payloads) => {
            let mut response = Response::new(Full::new(Bytes::from(payloads_to_json(&payloads))));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => {
            let verb = match operation {
                Operation::Encode => "encode",
                Operation::Decode => "decode",
            };
            text(StatusCode::BAD_REQUEST, &format!("{verb} failed: {error}"))
        }
    }
}

/// The operation a path asks for: only its last segment counts, as in Go's handler.
fn operation(path: &str) -> Option<Operation> {
    if path.ends_with("/encode") {
        Some(Operation::Encode)
    } else if path.ends_with("/decode") {
        Some(Operation::Decode)
    } else {
        None
    }
}

fn preflight() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    response
}

/// A plain-text answer of one line (a codec's message may hold newlines).
fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let line = message.replace(['\r', '\n'], " ");
    let mut response = Response::new(Full::new(Bytes::from(line + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
