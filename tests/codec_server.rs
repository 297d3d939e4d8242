//! The codec server over real HTTP on loopback, as the Web UI and
//! `temporal --codec-endpoint` call it, and byte compatibility with the Python
//! encryption sample's codec (tests/python/codec_check.py), both ways.
//!
//! Python comes from `LEGWORK_PYTHONPATH` (scripts/python-env.sh, which scripts/test
//! sources); when it is unset the test runs that script itself.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use legwork::codec::{
    payloads_from_json, payloads_to_json, Aes256Gcm, CodecChain, CodecServer, Zlib,
};
use legwork::testing::payload;
use legwork::Payload;
use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The key and id of samples-python `encryption/codec.py`, which codec_check.py uses.
const SAMPLE_KEY: &[u8; 32] = b"test-key-test-key-test-key-test!";
const SAMPLE_KEY_ID: &str = "test-key-id";
const UI_ORIGIN: &str = "http://localhost:8233";

fn encryption() -> CodecChain {
    CodecChain::new().then(Aes256Gcm::new(SAMPLE_KEY_ID, SAMPLE_KEY).unwrap())
}

/// Compress, then encrypt: samples-go's `CompressAndEncryptDataConverter`.
fn compression_and_encryption() -> CodecChain {
    let aes = Aes256Gcm::new(SAMPLE_KEY_ID, SAMPLE_KEY).unwrap();
    CodecChain::new()
        .then(Zlib::new().always_encode(true))
        .then(aes)
}

/// Serves `server` on a free loopback port for the rest of the test.
async fn start(server: CodecServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(server.serve(listener));
    address
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection, read to its end.
async fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A POST as the CLI sends it: JSON and `X-Namespace`.
async fn post(address: SocketAddr, path: &str, namespace: &str, body: &str) -> Reply {
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Namespace", namespace),
    ];
    request(address, "POST", path, &headers, body).await
}

fn values() -> Vec<Payload> {
    let null = Payload::new(
        [("encoding".to_string(), b"binary/null".to_vec())].into(),
        Vec::new(),
    );
    vec![
        payload("Hello from Rust"),
        payload(&json!({"id": 7, "tags": ["a", "b"]})),
        null,
    ]
}

#[tokio::test]
async fn encode_then_decode_round_trips_under_any_prefix() {
    let address = start(CodecServer::new(encryption())).await;
    let plain = payloads_to_json(&values());

    let encoded = post(address, "/api/codec/encode", "default", &plain).await;
    assert_eq!(encoded.status, 200, "{}", encoded.body);
    assert_eq!(encoded.header("content-type"), Some("application/json"));
    let sent = payloads_from_json(encoded.body.as_bytes()).unwrap();
    assert_eq!(sent.len(), 3);
    assert!(sent
        .iter()
        .all(|p| p.metadata["encoding"] == b"binary/encrypted"));

    let decoded = post(address, "/decode", "default", &encoded.body).await;
    assert_eq!(decoded.status, 200, "{}", decoded.body);
    assert_eq!(
        payloads_from_json(decoded.body.as_bytes()).unwrap(),
        values()
    );
}

#[tokio::test]
async fn x_namespace_picks_the_namespace_s_chain() {
    let server =
        CodecServer::new(encryption()).namespace("compressed", compression_and_encryption());
    let address = start(server).await;
    let sent = post(
        address,
        "/encode",
        "compressed",
        &payloads_to_json(&values()),
    )
    .await;
    let through_default = post(address, "/decode", "other", &sent.body).await;
    let inner = payloads_from_json(through_default.body.as_bytes()).unwrap();
    assert_eq!(
        inner[0].metadata["encoding"], b"binary/zlib",
        "decrypted, not inflated"
    );
    let through_namespace = post(address, "/decode", "compressed", &sent.body).await;
    assert_eq!(
        payloads_from_json(through_namespace.body.as_bytes()).unwrap(),
        values()
    );
}

#[tokio::test]
async fn the_web_ui_s_cors_preflight_is_answered() {
    let ui = CodecServer::new(encryption())
        .allow_origin(UI_ORIGIN)
        .unwrap();
    let address = start(ui).await;
    let preflight = [
        ("Origin", UI_ORIGIN),
        ("Access-Control-Request-Method", "POST"),
        (
            "Access-Control-Request-Headers",
            "content-type,x-namespace,authorization",
        ),
    ];
    let reply = request(address, "OPTIONS", "/decode", &preflight, "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), Some(UI_ORIGIN));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("POST, GET, OPTIONS")
    );
    let allowed = reply
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for header in ["content-type", "x-namespace", "authorization"] {
        assert!(allowed.split(", ").any(|h| h == header), "{allowed}");
    }

    // The answer itself carries the origin too, or the browser hides it from the UI.
    let headers = [("Origin", UI_ORIGIN), ("X-Namespace", "default")];
    let body = payloads_to_json(&values());
    let reply = request(address, "POST", "/encode", &headers, &body).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some(UI_ORIGIN));

    // Without an Origin (the CLI) no CORS headers are needed, and none are sent.
    let reply = post(address, "/encode", "default", &body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn no_page_of_another_origin_may_read_an_answer() {
    let evil = [
        ("Origin", "https://evil.example"),
        ("X-Namespace", "default"),
    ];
    let body = payloads_to_json(&values());
    // By default, no origin at all: the server is no decryption oracle for web pages.
    let address = start(CodecServer::new(encryption())).await;
    for origin in [UI_ORIGIN, "https://evil.example", "null"] {
        let headers = [("Origin", origin), ("X-Namespace", "default")];
        let reply = request(address, "POST", "/decode", &headers, &body).await;
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(reply.header("access-control-allow-credentials"), None);
    }
    // With the UI's origin configured, only that one.
    let ui = CodecServer::new(encryption())
        .allow_origin(UI_ORIGIN)
        .unwrap();
    let address = start(ui).await;
    let reply = request(address, "POST", "/decode", &evil, &body).await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let preflight = [
        ("Origin", "https://evil.example"),
        ("Access-Control-Request-Method", "POST"),
    ];
    let reply = request(address, "OPTIONS", "/decode", &preflight, "").await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn bad_bodies_are_400_with_one_line() {
    let address = start(CodecServer::new(encryption())).await;
    for body in [
        "",
        "not json",
        r#"{"payloads":[{"data":"%%%"}]}"#,
        r#"{"payloads":7}"#,
    ] {
        let reply = post(address, "/decode", "default", body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.body.starts_with("malformed body: "), "{}", reply.body);
        assert_eq!(reply.body.trim_end().lines().count(), 1, "{}", reply.body);
    }

    // A payload encrypted with a key the server lacks: the key id, not a key.
    let stranger = CodecChain::new().then(Aes256Gcm::new("rotated-away", [5u8; 32]).unwrap());
    let sent = payloads_to_json(&stranger.encode(values()).await.unwrap());
    let reply = post(address, "/decode", "default", &sent).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .body
            .starts_with("decode failed: no key with id `rotated-away`"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let address = start(CodecServer::new(encryption())).await;
    for path in ["/", "/encoder", "/decode/more", "/metrics"] {
        let reply = post(address, path, "default", "{}").await;
        assert_eq!(reply.status, 404, "{path}");
    }
    let reply = request(address, "GET", "/encode", &[], "").await;
    assert_eq!(reply.status, 405);
    let reply = request(address, "POST", "/encode", &[], "{}").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "{\"payloads\":[]}")
    );
}

/// Runs tests/python/codec_check.py with `args`, `stdin` in; returns what it printed.
async fn python(args: &[&str], stdin: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/codec_check.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .args(args)
        .env("PYTHONPATH", common::python::python_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "codec_check.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What Python's codec writes, the server decodes; what the server encodes, Python's
/// codec decodes; with and without zlib. JSON crosses through protobuf's `json_format`.
#[tokio::test]
async fn python_s_sample_codec_and_legwork_read_each_other() {
    let server =
        CodecServer::new(encryption()).namespace("compressed", compression_and_encryption());
    let address = start(server).await;
    for (namespace, flags) in [("default", &[][..]), ("compressed", &["--zlib"][..])] {
        let from_python = python(&[&["encode"], flags].concat(), "").await;
        let decoded = post(address, "/decode", namespace, &from_python).await;
        assert_eq!(decoded.status, 200, "{}", decoded.body);
        let payloads = payloads_from_json(decoded.body.as_bytes()).unwrap();
        let read_by_rust: Vec<Json> = payloads
            .iter()
            .map(|p| match &p.metadata["encoding"][..] {
                b"json/plain" => serde_json::from_slice(&p.data).unwrap(),
                b"binary/null" => Json::Null,
                other => panic!("unexpected encoding {:?}", String::from_utf8_lossy(other)),
            })
            .collect();
        assert_eq!(
            read_by_rust,
            [
                json!("Hello from Python"),
                json!({"id": 7, "tags": ["a", "b"]}),
                Json::Null
            ]
        );

        let encoded = post(address, "/encode", namespace, &payloads_to_json(&values())).await;
        assert_eq!(encoded.status, 200, "{}", encoded.body);
        let read_by_python: Json =
            serde_json::from_str(&python(&[&["decode"], flags].concat(), &encoded.body).await)
                .unwrap();
        assert_eq!(
            read_by_python,
            json!(["Hello from Rust", {"id": 7, "tags": ["a", "b"]}, null])
        );
    }
}

/// Runs the dev server's `temporal` CLI against it; returns stdout.
async fn temporal(args: &[&str]) -> String {
    let server = common::server();
    let output = tokio::process::Command::new(server.cli_path())
        .args(args)
        .args([
            "--address",
            &server.address(),
            "--namespace",
            server.namespace(),
        ])
        .output()
        .await
        .expect("the temporal CLI runs");
    assert!(
        output.status.success(),
        "temporal {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The input payloads of the first event of `temporal workflow show --output json`.
fn started_input(history: &str) -> Vec<Payload> {
    let history: Json = serde_json::from_str(history).unwrap();
    let input = &history["events"][0]["workflowExecutionStartedEventAttributes"]["input"];
    payloads_from_json(input.to_string().as_bytes()).unwrap()
}

/// The real CLI with `--codec-endpoint`: it encodes a workflow's input through the
/// server (which sees its `X-Namespace`: only the `default` namespace's chain encrypts),
/// the history holds `binary/encrypted`, and `workflow show` decodes it back.
#[tokio::test]
async fn the_temporal_cli_encodes_and_shows_through_the_codec_server() {
    let server = CodecServer::new(CodecChain::new()).namespace("default", encryption());
    let endpoint = format!("http://{}", start(server).await);
    let workflow_id = common::task_queue("codec-cli");
    let input = r#"{"plan":"top secret"}"#;
    #[rustfmt::skip]
    temporal(&[
        "workflow", "start", "--type", "CodecProbe", "--task-queue", &workflow_id,
        "--workflow-id", &workflow_id, "--input", input, "--codec-endpoint", &endpoint,
    ])
    .await;

    let show = [
        "workflow",
        "show",
        "--workflow-id",
        &workflow_id,
        "--output",
        "json",
    ];
    let stored = started_input(&temporal(&show).await);
    assert_eq!(stored[0].metadata["encoding"], b"binary/encrypted");
    assert_eq!(stored[0].metadata["encryption-key-id"], b"test-key-id");
    let shown =
        started_input(&temporal(&[&show[..], &["--codec-endpoint", &endpoint]].concat()).await);
    assert_eq!(shown[0].metadata["encoding"], b"json/plain");
    assert_eq!(shown[0].data, input.as_bytes());
}
