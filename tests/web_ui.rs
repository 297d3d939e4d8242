//! The codec server in a real browser: headless Chromium (Debian's `chromium`, which
//! scripts/test installs) opens the dev server's own Web UI, started with
//! `--ui-codec-endpoint` pointing at legwork's [`CodecServer`], and sees an activity result
//! that the server holds only encrypted ([`Aes256Gcm`]) as its plain value; a page served
//! from another loopback origin cannot read a decode answer, while the same request sent
//! from outside a browser is answered.
//!
//! Chromium is driven through the Chrome DevTools Protocol over `--remote-debugging-pipe`:
//! JSON messages ending in a NUL byte on file descriptors 3 (to the browser) and 4 (from
//! it). That needs no websocket client, no port to discover and no new dependency: a
//! pipe, serde_json and a reader thread (libc for the descriptors, already a
//! dev-dependency).
//!
//! The workflow that calls the legwork activity is Python's (tests/python/
//! codec_workflow.py, as in tests/codec_interop.rs), so Python comes from
//! `LEGWORK_PYTHONPATH` (scripts/python-env.sh), set up by the test when it is unset.

mod common;

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{FromRawFd as _, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use legwork::codec::{payloads_from_json, Aes256Gcm, CodecChain, CodecServer};
use legwork::testing::DevServer;
use legwork::{activity, ActivityError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use common::{start_worker, task_queue, worker_options};

/// The key and id of samples-python `encryption/codec.py`, which codec_workflow.py uses.
const SAMPLE_KEY: &[u8; 32] = b"test-key-test-key-test-key-test!";
const SAMPLE_KEY_ID: &str = "test-key-id";
/// What the activity returns, in plain text: nowhere on the server, only in the page.
const PLAIN: &str = "parcel 7F3A left Lyon at 09:40";

/// How long the UI may take to show the decoded result, or a page its fetch.
const PAGE_DEADLINE: Duration = Duration::from_secs(30);

fn encryption() -> CodecChain {
    CodecChain::new().then(Aes256Gcm::new(SAMPLE_KEY_ID, SAMPLE_KEY).unwrap())
}

/// The activity's result (an object: codec_workflow.py returns a dict).
#[derive(Debug, Serialize, Deserialize)]
struct Tracking {
    note: String,
}

#[activity]
fn track_parcel(parcel: String) -> Result<Tracking, ActivityError> {
    Ok(Tracking {
        note: format!("parcel {parcel} left Lyon at 09:40"),
    })
}

#[test]
fn the_web_ui_shows_a_decoded_result_and_other_origins_cannot_read_decodes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // The codec server, allowing the UI's origin only. The UI's port is chosen first, so
    // that the codec server knows the origin and the dev server the codec endpoint.
    let ui_port = free_port();
    let ui_origin = format!("http://127.0.0.1:{ui_port}");
    let codec_listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let codec_address = codec_listener.local_addr().unwrap();
    let codec_server = CodecServer::new(encryption())
        .allow_origin(&ui_origin)
        .unwrap();
    runtime.spawn(codec_server.serve(codec_listener));

    // The dev server with its Web UI (`--headless=false` after the builder's
    // `--headless`: the last value of a flag wins).
    let ui_port_arg = ui_port.to_string();
    let codec_endpoint = format!("http://{codec_address}");
    let server = DevServer::builder()
        .kill_with_parent(true)
        .extra_args([
            "--headless=false",
            "--ui-port",
            &ui_port_arg,
            "--ui-ip",
            "127.0.0.1",
            "--ui-codec-endpoint",
            &codec_endpoint,
            "--ui-disable-news-fetch",
        ])
        .start()
        .expect("a dev server with its UI starts");

    // A legwork worker that encrypts what it sends, and a Python workflow (whose client
    // encrypts with the same key) that calls its activity.
    let activity_queue = task_queue("web-ui");
    let mut options = worker_options(&activity_queue);
    options.connection.address = server.address();
    options.codecs = encryption();
    let _worker = start_worker(options);
    let output = common::python::run_script(
        "codec_workflow.py",
        &[
            server.address(),
            task_queue("web-ui-wf"),
            activity_queue,
            "track_parcel".to_owned(),
            json!(["7F3A"]).to_string(),
        ],
    );
    assert_eq!(output["result"], json!({ "note": PLAIN }), "{output}");
    let workflow_id = output["workflow_id"].as_str().expect("workflow_id");
    let run_id = output["run_id"].as_str().expect("run_id");

    // The server holds the result encrypted: the plain value is nowhere in the history,
    // so a page that shows it got it from the codec server.
    let history = common::workflow_history(&server, workflow_id);
    assert!(
        !history.contains(PLAIN) && !history.contains("7F3A left"),
        "the plain value is in the server's history: {history}"
    );
    let decode_body = json!({ "payloads": [activity_result(&history)] }).to_string();
    let encrypted = payloads_from_json(decode_body.as_bytes()).unwrap();
    assert_eq!(
        encrypted[0].metadata.get("encoding").map(Vec::as_slice),
        Some(&b"binary/encrypted"[..]),
        "{decode_body}"
    );

    let browser = Browser::launch();

    // 1. The UI's page of the workflow shows the result decoded.
    let ui = browser.open(&format!(
        "{ui_origin}/namespaces/default/workflows/{workflow_id}/{run_id}/history"
    ));
    let began = Instant::now();
    let text = ui.wait_for_text(PLAIN, PAGE_DEADLINE);
    eprintln!("the UI showed the plain value after {:?}", began.elapsed());
    assert!(text.contains(PLAIN));

    // 2. A page from another origin asks the codec server to decode the same payload: the
    // browser does not let it read the answer. The same script in the UI's origin reads
    // it, so what stops the other page is CORS, not the request.
    let page = PageServer::start();
    let page_origin = format!("http://127.0.0.1:{}", page.address.port());
    assert_ne!(page_origin, ui_origin);
    let other = browser.open(&format!("{page_origin}/"));
    other.wait_for_text("another origin", PAGE_DEADLINE);
    let script = decode_script(&codec_endpoint, &decode_body);
    let from_other = other.evaluate(&script);
    let from_ui = ui.evaluate(&script);
    eprintln!("fetch from {page_origin}: {from_other}; from the UI's origin: {from_ui}");
    assert!(
        from_other.starts_with("blocked: TypeError"),
        "a page from {page_origin} read a decode answer: {from_other}"
    );
    assert_eq!(from_ui, format!("read: {PLAIN}"));

    // 3. Outside a browser the same request, with the other page's origin, is answered:
    // the server decodes for whoever reaches it, and only leaves out the CORS headers
    // that would let that origin's pages read the answer.
    let reply = post(codec_address, "/decode", &page_origin, &decode_body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        !reply
            .head
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{}",
        reply.head
    );
    let decoded = payloads_from_json(reply.body.as_bytes()).unwrap();
    let tracking: Tracking = serde_json::from_slice(&decoded[0].data).unwrap();
    assert_eq!(tracking.note, PLAIN, "{}", reply.body);
}

/// A script that POSTs `body` to the codec server's `/decode` as the UI does (a simple
/// request, so no preflight stands in the way: the answer is what the browser withholds),
/// and says what it could read: `read: <the first payload's data>` or `blocked: <error>`.
fn decode_script(endpoint: &str, body: &str) -> String {
    format!(
        "fetch({endpoint:?} + '/decode', {{ method: 'POST', headers: {{ 'Content-Type': \
         'text/plain' }}, body: {body:?} }})
           .then(answer => answer.json())
           .then(json => 'read: ' + JSON.parse(atob(json.payloads[0].data)).note,
                 error => 'blocked: ' + error)",
        endpoint = endpoint,
        body = body
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first payload of the history's `ActivityTaskCompleted` result, in proto3 JSON.
fn activity_result(history: &str) -> Json {
    let history: Json = serde_json::from_str(history).unwrap();
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .find_map(|event| event.get("activityTaskCompletedEventAttributes"))
        .map(|completed| completed["result"]["payloads"][0].clone())
        .unwrap_or_else(|| panic!("no ActivityTaskCompleted in {history}"))
}

// ---------------------------------------------------------------------------------------
// The page of another origin

/// Serves one small HTML page at every path, on a free loopback port, until the test ends.
struct PageServer {
    address: SocketAddr,
}

impl PageServer {
    fn start() -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let page = "<!doctype html><title>elsewhere</title><p>a page of another origin</p>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{page}",
                    page.len()
                );
            }
        });
        PageServer { address }
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// POSTs `body` over a fresh HTTP/1.0 connection (the answer ends with the connection).
fn post(address: SocketAddr, path: &str, origin: &str, body: &str) -> Reply {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {address}\r\nOrigin: {origin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Chromium over the DevTools protocol

fn chromium_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: `apt-get install -y --no-install-recommends \
                 chromium` (scripts/test does it)"
            )
        })
}

/// Headless Chromium with a fresh profile; killed when dropped.
struct Browser {
    child: Child,
    profile: PathBuf,
    to_browser: std::sync::Mutex<File>,
    from_browser: std::sync::Mutex<mpsc::Receiver<Json>>,
    next_id: std::sync::atomic::AtomicU64,
}

/// A tab, attached with its own session.
struct Tab<'a> {
    browser: &'a Browser,
    session: String,
}

/// A pipe's two ends, moved above the descriptors a child gets (3 and 4) and closed on
/// exec, so that placing them at 3 and 4 in the child cannot overwrite one with the other.
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let high = fds.map(|fd| {
        // SAFETY: duplicating and closing descriptors this function just created.
        unsafe {
            let copy = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            assert!(copy >= 10);
            libc::close(fd);
            copy
        }
    });
    (high[0], high[1])
}

impl Browser {
    fn launch() -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "legwork-web-ui-{}-{}",
            std::process::id(),
            free_port()
        ));
        let (commands_read, commands_write) = pipe();
        let (events_read, events_write) = pipe();
        let mut command = Command::new(chromium_binary());
        command
            .args([
                "--headless=new",
                // The test runs as root in CI, where Chromium's sandbox refuses to start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-pipe",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only dup2, which is async-signal-safe, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(commands_read, 3) < 0 || libc::dup2(events_write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        // SAFETY: the parent's ends are ours alone; the child's ends are closed here.
        let (to_browser, from_browser) = unsafe {
            libc::close(commands_read);
            libc::close(events_write);
            (
                File::from_raw_fd(commands_write),
                File::from_raw_fd(events_read),
            )
        };
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_browser);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop_if(|byte| *byte == 0);
                if let Ok(json) = serde_json::from_slice(&message) {
                    if sender.send(json).is_err() {
                        return;
                    }
                }
                message.clear();
            }
        });
        Browser {
            child,
            profile,
            to_browser: std::sync::Mutex::new(to_browser),
            from_browser: std::sync::Mutex::new(receiver),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Sends one command (to a tab's session, if any) and returns its result; events
    /// that come before the answer are dropped.
    fn call(&self, session: Option<&str>, method: &str, params: Json) -> Json {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser.lock().unwrap().write_all(&bytes).unwrap();
        let receiver = self.from_browser.lock().unwrap();
        loop {
            let answer = receiver
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("no answer from chromium to {method}: {e}"));
            if answer["id"] == id {
                if let Some(error) = answer.get("error") {
                    panic!("chromium refused {method}: {error}");
                }
                return answer["result"].clone();
            }
        }
    }

    /// A new tab at `url`.
    fn open(&self, url: &str) -> Tab<'_> {
        let target = self.call(None, "Target.createTarget", json!({ "url": url }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_owned();
        Tab {
            browser: self,
            session,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Tab<'_> {
    /// Evaluates `expression` in the page (awaiting it if it is a promise); its value as a
    /// string.
    fn evaluate(&self, expression: &str) -> String {
        let result = self.browser.call(
            Some(&self.session),
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        match &result["result"]["value"] {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// Polls the page's text until it contains `needle`; that text. Panics with the
    /// text at the deadline.
    fn wait_for_text(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.evaluate("document.body ? document.body.innerText : ''");
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the page did not show {needle:?} within {limit:?}; it shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
