//! An async activity that calls an HTTP service, and hands a blocking library (flate2 and
//! `std::fs`) to the blocking pool with `run_blocking`.
//!
//! ```text
//! scripts/example http_service
//! cargo run --example http_service -- --address 127.0.0.1:7233   # your own server
//! ```
//!
//! The activity is `archive_page`: it fetches a page, gzips it into a file and returns
//! where it put it. The demo starts a stand-in HTTP service on 127.0.0.1 whose first
//! answer for each page is `503` (retried by the server) and which has no page `/missing`
//! (`404`, not retried), a worker in this process, and runs the activity through a real
//! server. (The dev server is `legwork::testing::DevServer`, feature `testing`.)
//!
//! The client is hyper's, which is already in legwork's dependency tree; with `reqwest`,
//! `fetch` would be `reqwest::get(url).await?.error_for_status()?.bytes().await?`.

use std::collections::HashSet;
use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{header, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use legwork::client::{ActivityOutcome, Client, StartActivity};
use legwork::testing::DevServer;
use legwork::worker::{Worker, WorkerOptions};
use legwork::RetryPolicy;
use legwork::{activity, run_blocking, ActivityContext, ActivityError};
use serde::{Deserialize, Serialize};

const TASK_QUEUE: &str = "http-service";

/// What `archive_page` returns: a reference to the data, not the data.
#[derive(Debug, Serialize, Deserialize)]
struct Archived {
    path: PathBuf,
    bytes: usize,
    gzip_bytes: u64,
    attempt: u32,
}

/// Fetches `url` and writes it gzipped into `dir`.
///
/// The fetch awaits the network on the event loop. Compression and file I/O block, so
/// they go to the worker's blocking pool through `run_blocking`; the event loop keeps
/// serving other async activities meanwhile.
#[activity(async)]
async fn archive_page(
    ctx: &ActivityContext,
    url: String,
    dir: PathBuf,
) -> Result<Archived, ActivityError> {
    let body = fetch(&url).await?;
    let bytes = body.len();
    let name = url.rsplit('/').next().unwrap_or("index");
    let path = dir.join(format!("{name}.txt.gz"));
    let gzip_bytes = run_blocking({
        let path = path.clone();
        move || gzip_to_file(&body, &path)
    })
    .await?
    .map_err(|error| ActivityError::new(format!("cannot write {}: {error}", path.display())))?;
    Ok(Archived {
        path,
        bytes,
        gzip_bytes,
        attempt: ctx.info().attempt,
    })
}

/// GET `url` over HTTP/1.1. A server error is retryable (the server retries the activity
/// with backoff); a client error is not, since asking again would get the same answer.
async fn fetch(url: &str) -> Result<Bytes, ActivityError> {
    let uri: Uri = url
        .parse()
        .map_err(|error| ActivityError::new(format!("bad URL {url}: {error}")).non_retryable())?;
    let authority = uri
        .authority()
        .ok_or_else(|| ActivityError::new(format!("no host in {url}")).non_retryable())?
        .clone();
    let request = Request::get(uri.path())
        .header(header::HOST, authority.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|error| ActivityError::new(error.to_string()).non_retryable())?;
    let io_error = |error: &dyn Error| ActivityError::new(format!("GET {url}: {error}"));

    let stream = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .map_err(|error| io_error(&error))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| io_error(&error))?;
    // The connection is driven by a task of its own, on the same event loop.
    tokio::spawn(connection);
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .map_err(|elapsed| io_error(&elapsed))?
        .map_err(|error| io_error(&error))?;

    let status = response.status();
    if !status.is_success() {
        let error = ActivityError::new(format!("GET {url}: {status}")).with_type("HttpStatus");
        let retryable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        return Err(if retryable {
            error
        } else {
            error.non_retryable()
        });
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| io_error(&error))?;
    Ok(body.to_bytes())
}

/// Blocking: gzips `data` into `path`; the size written.
fn gzip_to_file(data: &[u8], path: &Path) -> std::io::Result<u64> {
    let mut encoder = GzEncoder::new(std::fs::File::create(path)?, Compression::default());
    encoder.write_all(data)?;
    encoder.finish()?.sync_all()?;
    Ok(std::fs::metadata(path)?.len())
}

fn main() -> Result<(), Box<dyn Error>> {
    init_logs();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, address] if flag == "--address" => demo(address),
        [] => {
            let server = DevServer::builder().kill_with_parent(true).start()?;
            println!("dev server at {}", server.address());
            demo(&server.address())
        }
        _ => Err("usage: http_service [--address HOST:PORT]".into()),
    }
}

fn demo(address: &str) -> Result<(), Box<dyn Error>> {
    let pages = serve_pages()?;
    println!("HTTP service at http://{pages}");
    let dir = std::env::temp_dir().join(format!("legwork-http-service-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let mut options = WorkerOptions::new(TASK_QUEUE);
    options.connection.address = address.to_owned();
    let worker = Worker::new(options).start()?;

    let runtime = tokio::runtime::Runtime::new()?;
    let client = runtime.block_on(Client::connect(address, "default"))?;
    let mut retries = RetryPolicy::default();
    retries.initial_interval = Some(Duration::from_millis(200));
    retries.maximum_attempts = Some(5);
    let archive = |page: &str| {
        StartActivity::new("archive_page", TASK_QUEUE)
            .arg(&format!("http://{pages}/pages/{page}"))
            .arg(&dir)
            .retry_policy(retries.clone())
    };

    // The service answers 503 first: the server retries, the second attempt succeeds.
    let handle = runtime.block_on(client.start_activity(archive("report")))?;
    let archived: Archived = runtime.block_on(handle.result())?;
    let unpacked = gunzip(&archived.path)?;
    println!(
        "archive_page(report): {} bytes, gzipped to {} bytes in {} on attempt {}",
        archived.bytes,
        archived.gzip_bytes,
        archived.path.display(),
        archived.attempt
    );
    if unpacked != page_text("report") || archived.attempt != 2 {
        return Err("expected the page, gzipped, on the second attempt".into());
    }

    // A 404 is not retried: the activity fails on its first attempt.
    let handle = runtime.block_on(client.start_activity(archive("missing")))?;
    match runtime.block_on(handle.outcome())? {
        ActivityOutcome::Failed(failure) => {
            let cause = failure.application().unwrap_or(&failure);
            println!(
                "archive_page(missing) failed, not retried: {}",
                cause.message
            );
        }
        other => return Err(format!("expected a failure, got {other:?}").into()),
    }

    worker.shutdown();
    worker.join();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn gunzip(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut text)?;
    Ok(text)
}

/// The page the stand-in service serves as `/pages/{name}`.
fn page_text(name: &str) -> String {
    (1..=2000)
        .map(|line| format!("{name}, line {line}: all work and no play makes a dull activity\n"))
        .collect()
}

/// A stand-in HTTP/1.1 service on 127.0.0.1, one connection at a time on a thread:
/// `GET /pages/{name}` answers `503` the first time for each name and the page after.
fn serve_pages() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    thread::spawn(move || {
        let mut asked = HashSet::new();
        for stream in listener.incoming().flatten() {
            if let Err(error) = answer(stream, &mut asked) {
                eprintln!("the HTTP service dropped a request: {error}");
            }
        }
    });
    Ok(address)
}

fn answer(mut stream: TcpStream, asked: &mut HashSet<String>) -> std::io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers, up to the empty line.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path.strip_prefix("/pages/") {
        Some("missing") | None => ("404 Not Found", "no such page\n".to_owned()),
        Some(name) if asked.insert(name.to_owned()) => {
            ("503 Service Unavailable", "busy, try again\n".to_owned())
        }
        Some(name) => ("200 OK", page_text(name)),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Log lines (the worker's, the activity's) to stderr, so stdout holds the demo's report.
fn init_logs() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
