//! The TLS front fixture (tests/common/tls_front.rs) checked with a client we did not write:
//! the `temporal` CLI's `operator cluster health`, through nginx, to the dev server. No
//! legwork connection code is involved.
//!
//! The CLI (1.9.1) names the gRPC code of a failure ("gRPC request was unauthenticated")
//! but keeps the server's message to itself for UNAUTHENTICATED, so the status and message
//! nginx sends are also read raw, with `curl --http2` when there is one.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use common::server;
use common::tls_front::{nginx_binary, Certs, TlsFront};

/// One front for the read-only tests; the restart test starts its own.
fn front() -> &'static TlsFront {
    static FRONT: OnceLock<TlsFront> = OnceLock::new();
    FRONT.get_or_init(|| start_front(&server().address()))
}

fn start_front(backend: &str) -> TlsFront {
    let started = Instant::now();
    let front = TlsFront::start(backend);
    eprintln!(
        "TlsFront::start (certificates and nginx) took {:?}",
        started.elapsed()
    );
    front
}

/// The connection flags of one CLI call.
#[derive(Default)]
struct Flags<'a> {
    ca: Option<&'a Path>,
    cert: Option<(&'a Path, &'a Path)>,
    api_key: Option<&'a str>,
}

/// `temporal operator cluster health` against `address`, with nothing from the
/// environment or a config file: only `flags`.
fn health(address: &str, flags: Flags) -> Output {
    let cli = std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".to_owned());
    let mut command = Command::new(&cli);
    command
        .args(["operator", "cluster", "health", "--address", address])
        .args(["--disable-config-file", "--disable-config-env"])
        .args(["--command-timeout", "15s", "--color", "never"]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TEMPORAL_") {
            command.env_remove(name);
        }
    }
    if let Some(ca) = flags.ca {
        command.arg("--tls-ca-path").arg(ca);
    }
    if let Some((cert, key)) = flags.cert {
        command.arg("--tls-cert-path").arg(cert);
        command.arg("--tls-key-path").arg(key);
    }
    if let Some(key) = flags.api_key {
        command.args(["--api-key", key]);
    }
    let started = Instant::now();
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{cli} does not run: {e}"));
    eprintln!(
        "health {address}: {:?} in {:?}\n  stdout: {}\n  stderr: {}",
        output.status,
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    output
}

fn assert_serving(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("SERVING"),
        "expected SERVING, got {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The call failed, and its output mentions every one of `needles`.
fn assert_fails_with(output: &Output, needles: &[&str]) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "expected a failure, got: {text}");
    assert!(!text.contains("SERVING"), "expected a failure, got: {text}");
    for needle in needles {
        assert!(text.contains(needle), "expected {needle:?} in: {text}");
    }
}

/// What the CLI prints for a gRPC UNAUTHENTICATED answer.
const CLI_UNAUTHENTICATED: &[&str] = &["authentication failed", "gRPC request was unauthenticated"];

/// The `grpc-status` and `grpc-message` nginx answers a health check with, read by curl
/// (nginx's own answers come as headers). `None` when curl is not installed.
fn raw_grpc_status(address: &str, ca: &Path, header: Option<&str>) -> Option<(String, String)> {
    let mut command = Command::new("curl");
    command
        .args([
            "--silent",
            "--show-error",
            "--http2",
            "--include",
            "--max-time",
            "10",
        ])
        .arg("--cacert")
        .arg(ca)
        .args([
            "-X",
            "POST",
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
        ])
        .args(["--data-binary", ""]);
    if let Some(header) = header {
        command.args(["-H", header]);
    }
    command.arg(format!("https://{address}/grpc.health.v1.Health/Check"));
    let output = match command.output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("curl is not installed: the raw gRPC status is not checked");
            return None;
        }
        Err(error) => panic!("curl does not run: {error}"),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let header = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in curl's answer: {text}"))
    };
    let status = (header("grpc-status:"), header("grpc-message:"));
    eprintln!(
        "curl {address}: grpc-status {}, grpc-message {:?}",
        status.0, status.1
    );
    Some(status)
}

fn assert_raw_grpc_status(
    address: &str,
    ca: &Path,
    header: Option<&str>,
    code: &str,
    message: &str,
) {
    if let Some((got_code, got_message)) = raw_grpc_status(address, ca, header) {
        assert_eq!((got_code.as_str(), got_message.as_str()), (code, message));
    }
}

#[test]
fn certificates_are_generated_fresh() {
    let started = Instant::now();
    let (a, b) = (Certs::generate(), Certs::generate());
    eprintln!("two Certs::generate took {:?}", started.elapsed());
    assert_ne!(a.dir, b.dir);
    assert_ne!(a.ca_pem(), b.ca_pem());
    for path in [
        &a.ca,
        &a.other_ca,
        &a.client_ca,
        &a.server_cert,
        &a.server_key,
        &a.client_cert,
        &a.client_key,
    ] {
        assert!(path.starts_with(&a.dir), "{} is outside", path.display());
        assert!(path.is_file(), "{} is missing", path.display());
    }
    assert!(a.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(a
        .client_cert_pem()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(a
        .client_key_pem()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let dir = a.dir.clone();
    drop(a);
    assert!(!dir.exists(), "Certs removes its dir when dropped");
}

#[test]
fn nginx_is_found() {
    assert!(nginx_binary().is_file());
}

#[test]
fn tls_listener_serves_with_the_ca_only() {
    let front = front();
    let address = front.address(front.tls);
    assert!(address.starts_with("127.0.0.1:"));
    let certs = &front.certs;
    assert_serving(&health(
        &address,
        Flags {
            ca: Some(&certs.ca),
            ..Flags::default()
        },
    ));
    // A CA that did not sign the server certificate: the handshake fails.
    assert_fails_with(
        &health(
            &address,
            Flags {
                ca: Some(&certs.other_ca),
                ..Flags::default()
            },
        ),
        &[
            "TLS handshake failed",
            "certificate signed by unknown authority",
        ],
    );
}

#[test]
fn mtls_listener_wants_the_client_certificate() {
    let front = front();
    let address = front.address(front.mtls);
    let certs = &front.certs;
    assert_serving(&health(
        &address,
        Flags {
            ca: Some(&certs.ca),
            cert: Some((&certs.client_cert, &certs.client_key)),
            ..Flags::default()
        },
    ));
    assert_fails_with(
        &health(
            &address,
            Flags {
                ca: Some(&certs.ca),
                ..Flags::default()
            },
        ),
        CLI_UNAUTHENTICATED,
    );
    assert_raw_grpc_status(
        &address,
        &certs.ca,
        None,
        "16",
        "client certificate required",
    );
    // A certificate the client CA did not sign (the server's own) is no better.
    assert_fails_with(
        &health(
            &address,
            Flags {
                ca: Some(&certs.ca),
                cert: Some((&certs.server_cert, &certs.server_key)),
                ..Flags::default()
            },
        ),
        CLI_UNAUTHENTICATED,
    );
}

#[test]
fn api_key_listener_checks_the_key() {
    let front = front();
    let address = front.address(front.api_key);
    let certs = &front.certs;
    assert_serving(&health(
        &address,
        Flags {
            ca: Some(&certs.ca),
            api_key: Some(TlsFront::API_KEY),
            ..Flags::default()
        },
    ));
    assert_fails_with(
        &health(
            &address,
            Flags {
                ca: Some(&certs.ca),
                api_key: Some("wrong-key"),
                ..Flags::default()
            },
        ),
        CLI_UNAUTHENTICATED,
    );
    let wrong = "authorization: Bearer wrong-key";
    assert_raw_grpc_status(&address, &certs.ca, Some(wrong), "16", "invalid API key");
    assert_fails_with(
        &health(
            &address,
            Flags {
                ca: Some(&certs.ca),
                ..Flags::default()
            },
        ),
        CLI_UNAUTHENTICATED,
    );
    assert_raw_grpc_status(&address, &certs.ca, None, "16", "invalid API key");
}

#[test]
fn restart_brings_the_same_ports_back() {
    let mut front = start_front(&server().address());
    let ports = [front.tls, front.mtls, front.api_key];
    let tls = front.address(front.tls);
    let ca = front.certs.ca.clone();
    let with_ca = || Flags {
        ca: Some(&ca),
        ..Flags::default()
    };
    assert_serving(&health(&tls, with_ca()));

    front.stop();
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still accepts after stop"
        );
    }
    assert_fails_with(&health(&tls, with_ca()), &["connection refused"]);

    let started = Instant::now();
    front.restart();
    eprintln!("TlsFront::restart took {:?}", started.elapsed());
    assert_eq!([front.tls, front.mtls, front.api_key], ports);
    assert_serving(&health(&tls, with_ca()));
    assert_serving(&health(
        &front.address(front.mtls),
        Flags {
            ca: Some(&ca),
            cert: Some((&front.certs.client_cert, &front.certs.client_key)),
            ..Flags::default()
        },
    ));
}

#[test]
fn a_backend_that_is_down_is_unavailable() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let front = start_front(&format!("127.0.0.1:{port}"));
    assert_fails_with(
        &health(
            &front.address(front.tls),
            Flags {
                ca: Some(&front.certs.ca),
                ..Flags::default()
            },
        ),
        &["backend unavailable"],
    );
    let address = front.address(front.tls);
    assert_raw_grpc_status(&address, &front.certs.ca, None, "14", "backend unavailable");
}
