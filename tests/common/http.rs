//! Plain HTTP/1.0 requests, for the worker's own small servers (`/metrics`, the probes)
//! and the local S3 server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// What a GET got back.
pub struct Reply {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The status line and the headers.
    pub head: String,
    pub body: String,
}

/// GETs an `http://IP:PORT/path` URL, as the dev server gives its metrics address.
pub fn get_url(url: &str) -> Reply {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let address = host.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
    get(address, &format!("/{path}"))
}

/// GETs `path` from `address` over a fresh connection, read to its close (10 s at most
/// between reads). HTTP/1.0, so that the body is never chunked: Go's servers (the dev
/// server's `/metrics`) chunk HTTP/1.1 answers, and a chunk boundary can split a line.
pub fn get(address: SocketAddr, path: &str) -> Reply {
    request(address, "GET", path)
}

/// `method` (with no body) on `path` from `address`, as [`get`] does.
pub fn request(address: SocketAddr, method: &str, path: &str) -> Reply {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("{address}: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in:\n{response}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in:\n{head}"));
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}
