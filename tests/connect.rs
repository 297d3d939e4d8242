//! Connecting through a real TLS front (nginx, see `common/tls_front.rs`) in front of a real
//! dev server: TLS, mTLS and API keys for `main!()` workers and the client; each start-up
//! misconfiguration stops the worker fast with one line naming the cause and the fix.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use legwork::client::{Client, StartActivity};
use legwork::connection::{ClientCertificate, ConnectError, ConnectionOptions, Pem, Secret};

use legwork::activity;

use common::process::{execute, WorkerProcess};
use common::tls_front::TlsFront;
use common::{server, start_worker, task_queue, worker_options};

/// A misconfigured worker must have stopped within this.
const FAIL_FAST: Duration = Duration::from_secs(15);

/// One front for the tests that do not stop it.
fn front() -> &'static TlsFront {
    static FRONT: OnceLock<TlsFront> = OnceLock::new();
    FRONT.get_or_init(|| TlsFront::start(&server().address()))
}

fn path(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `compose_greeting` through the CLI, straight to the dev server in plaintext.
fn greet_through_cli(queue: &str, name: &str) {
    let output = execute(
        &server().address(),
        queue,
        "compose_greeting",
        &format!("{queue}-{name}"),
        &[&format!("\"{name}\"")],
    );
    assert!(output.contains(&format!("\"Hello, {name}!\"")), "{output}");
}

/// A `main!()` worker started with `args`, serving until it has greeted once.
fn serve_once(args: &[&str], env: &[(&str, &str)]) {
    let queue = task_queue("tls");
    let mut all = vec!["--task-queue", &queue];
    all.extend_from_slice(args);
    let mut worker = WorkerProcess::spawn_with(&all, env);
    worker.wait_for_log("legwork worker serving");
    greet_through_cli(&queue, "Tess");
    assert_eq!(worker.terminate().code(), Some(0));
}

#[test]
fn main_worker_serves_over_tls() {
    let front = front();
    serve_once(
        &[
            "--address",
            &front.address(front.tls),
            "--tls-ca-path",
            path(&front.certs.ca),
        ],
        &[],
    );
}

#[test]
fn main_worker_serves_over_mtls() {
    let front = front();
    serve_once(
        &[
            "--address",
            &front.address(front.mtls),
            "--tls-ca-path",
            path(&front.certs.ca),
            "--tls-cert-path",
            path(&front.certs.client_cert),
            "--tls-key-path",
            path(&front.certs.client_key),
        ],
        &[],
    );
}

#[test]
fn main_worker_serves_with_an_api_key_from_its_variable() {
    let front = front();
    serve_once(
        &[
            "--address",
            &front.address(front.api_key),
            "--tls-ca-path",
            path(&front.certs.ca),
        ],
        // The key alone turns TLS on.
        &[("TEMPORAL_API_KEY", TlsFront::API_KEY)],
    );
}

/// What the in-process worker serves: the same name as the `hello` example's.
#[activity(name = "compose_greeting")]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Options for the client and in-process workers, for one of the front's listeners.
fn options_for(port: u16) -> ConnectionOptions {
    let front = front();
    let mut options = ConnectionOptions::new(front.address(port));
    options.server_ca = Some(Pem::path(&front.certs.ca));
    options
}

fn mtls_options() -> ConnectionOptions {
    let front = front();
    let mut options = options_for(front.mtls);
    options.client_certificate = Some(ClientCertificate {
        cert: Pem::path(&front.certs.client_cert),
        // Inline data, as TEMPORAL_TLS_CLIENT_KEY_DATA gives it.
        key: Pem::data(front.certs.client_key_pem()),
    });
    options
}

fn api_key_options() -> ConnectionOptions {
    let mut options = options_for(front().api_key);
    options.api_key = Some(Secret::new(TlsFront::API_KEY));
    options
}

#[tokio::test]
async fn the_client_runs_activities_over_each_listener() {
    // The worker too connects through the front, with mTLS.
    let queue = task_queue("tls-client");
    let mut options = worker_options(&queue);
    options.connection = mtls_options();
    let _worker = start_worker(options);

    for (listener, connection) in [
        ("tls", options_for(front().tls)),
        ("mtls", mtls_options()),
        ("api key", api_key_options()),
    ] {
        let client = Client::connect_with(connection)
            .await
            .unwrap_or_else(|error| panic!("{listener}: {error}"));
        let handle = client
            .start_activity(
                StartActivity::new("compose_greeting", &queue)
                    .arg(&listener)
                    .start_to_close_timeout(Duration::from_secs(20))
                    .max_attempts(1),
            )
            .await
            .unwrap();
        let greeting: String = handle.result().await.unwrap();
        assert_eq!(greeting, format!("Hello, {listener}!"));
    }
}

#[tokio::test]
async fn a_rotated_api_key_is_used_without_reconnecting() {
    let mut options = api_key_options();
    options.api_key = Some(Secret::new(TlsFront::API_KEY));
    let client = Client::connect_with(options).await.unwrap();
    client.set_api_key(Some(Secret::new("revoked"))).unwrap();
    let queue = task_queue("rotate");
    let error = client
        .start_activity(
            StartActivity::new("compose_greeting", &queue)
                .start_to_close_timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid API key"), "{error}");
    client
        .set_api_key(Some(Secret::new(TlsFront::API_KEY)))
        .unwrap();
    client
        .start_activity(
            StartActivity::new("compose_greeting", &queue)
                .start_to_close_timeout(Duration::from_secs(5)),
        )
        .await
        .expect("the restored key is accepted");
}

/// Starts a worker that must fail; checks the exit, the time and that exactly one error
/// line says what is wrong (`words`) and how to fix it (`fix`).
fn assert_fails_fast(args: &[&str], words: &[&str], fix: &str) -> String {
    let mut all = vec!["--task-queue", "never-polled"];
    all.extend_from_slice(args);
    let worker = WorkerProcess::spawn_with(&all, &[]);
    let (status, elapsed, lines) = worker.wait_for_exit(FAIL_FAST + Duration::from_secs(5));
    let output = lines.join("\n");
    assert!(!status.success(), "it exited {status}:\n{output}");
    assert!(elapsed <= FAIL_FAST, "it took {elapsed:?}:\n{output}");
    let errors: Vec<&String> = lines.iter().filter(|line| line.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{output}");
    let error = errors[0];
    eprintln!("{error}");
    for word in words {
        assert!(error.contains(word), "{word:?} missing from: {error}");
    }
    assert!(error.contains(fix), "the fix {fix:?} missing from: {error}");
    assert!(
        lines.len() <= 3,
        "no transport error dump, just the error:\n{output}"
    );
    error.clone()
}

#[test]
fn wrong_ca_stops_the_worker() {
    let front = front();
    assert_fails_fast(
        &[
            "--address",
            &front.address(front.tls),
            "--tls-ca-path",
            path(&front.certs.other_ca),
        ],
        &["not trusted", "UnknownIssuer"],
        "--tls-ca-path",
    );
}

#[test]
fn wrong_server_name_stops_the_worker() {
    let front = front();
    assert_fails_fast(
        &[
            "--address",
            &front.address(front.tls),
            "--tls-ca-path",
            path(&front.certs.ca),
            "--tls-server-name",
            "payments.example",
        ],
        &["not valid for the name"],
        "--tls-server-name",
    );
}

#[test]
fn missing_client_certificate_stops_the_worker() {
    let front = front();
    assert_fails_fast(
        &[
            "--address",
            &front.address(front.mtls),
            "--tls-ca-path",
            path(&front.certs.ca),
        ],
        &["requires credentials", "client certificate required"],
        "--tls-cert-path",
    );
}

#[test]
fn rejected_api_key_stops_the_worker_without_showing_it() {
    let front = front();
    let error = assert_fails_fast(
        &[
            "--address",
            &front.address(front.api_key),
            "--tls-ca-path",
            path(&front.certs.ca),
            "--api-key",
            "wrong-key-77",
        ],
        &["rejected the API key", "invalid API key"],
        "TEMPORAL_API_KEY",
    );
    assert!(!error.contains("wrong-key-77"), "{error}");
}

#[test]
fn plaintext_against_a_tls_port_stops_the_worker() {
    let front = front();
    assert_fails_fast(
        &["--address", &front.address(front.tls), "--tls=false"],
        &["expects TLS"],
        "--tls",
    );
}

#[test]
fn tls_against_a_plaintext_port_stops_the_worker() {
    let front = front();
    assert_fails_fast(
        &[
            "--address",
            &server().address(),
            "--tls-ca-path",
            path(&front.certs.ca),
        ],
        &["does not speak TLS"],
        "--tls=false",
    );
}

#[test]
fn unknown_namespace_stops_the_worker() {
    assert_fails_fast(
        &[
            "--address",
            &server().address(),
            "--namespace",
            "no-such-ns",
        ],
        &["namespace `no-such-ns` does not exist"],
        "--namespace",
    );
}

#[tokio::test]
async fn the_client_fails_with_the_same_diagnosis() {
    let mut options = options_for(front().tls);
    options.server_ca = Some(Pem::path(&front().certs.other_ca));
    let error = Client::connect_with(options).await.unwrap_err();
    assert!(
        matches!(error, ConnectError::UntrustedCertificate { .. }),
        "{error}"
    );
}

/// The base64 lines of a PEM: what a leak would show.
fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|line| !line.starts_with("-----") && line.len() >= 16)
        .map(str::to_owned)
        .collect()
}

fn assert_no_secret(output: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !output.contains(secret.as_str()),
            "a secret leaked into the output: {secret}"
        );
    }
}

#[test]
fn trace_logs_of_a_worker_never_show_the_api_key_or_private_key() {
    let front = front();
    let key_pem = front.certs.client_key_pem();
    let mut secrets = pem_body_lines(&key_pem);
    secrets.push(TlsFront::API_KEY.to_owned());
    let address = front.address(front.api_key);
    let env = [
        ("RUST_LOG", "trace"),
        ("TEMPORAL_API_KEY", TlsFront::API_KEY),
        (
            "TEMPORAL_TLS_CLIENT_CERT_DATA",
            &front.certs.client_cert_pem(),
        ),
        ("TEMPORAL_TLS_CLIENT_KEY_DATA", &key_pem),
    ];
    let queue = task_queue("trace");
    let ca = path(&front.certs.ca);
    let mut worker = WorkerProcess::spawn_with(
        &[
            "--task-queue",
            &queue,
            "--address",
            &address,
            "--tls-ca-path",
            ca,
        ],
        &env,
    );
    worker.wait_for_log("legwork worker serving");
    greet_through_cli(&queue, "Trace");
    assert_eq!(worker.terminate().code(), Some(0));
    let output = worker.drain_log().join("\n");
    assert!(output.contains("TRACE"), "trace logging was on");
    assert_no_secret(&output, &secrets);

    // A rejected key at start, at trace level.
    let rejected = WorkerProcess::spawn_with(
        &[
            "--address",
            &address,
            "--tls-ca-path",
            ca,
            "--api-key",
            "wrong-key-9d",
        ],
        &env,
    );
    let (status, _, lines) = rejected.wait_for_exit(FAIL_FAST);
    assert!(!status.success());
    assert_no_secret(&lines.join("\n"), &["wrong-key-9d".to_owned()]);
}

/// A writer that keeps everything logged, for the client's trace test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn trace_logs_debug_output_and_errors_of_the_client_never_show_secrets() {
    let key_pem = front().certs.client_key_pem();
    let mut secrets = pem_body_lines(&key_pem);
    secrets.push(TlsFront::API_KEY.to_owned());
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let mut written = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut options = api_key_options();
            options.client_certificate = Some(ClientCertificate {
                cert: Pem::data(front().certs.client_cert_pem()),
                key: Pem::data(key_pem.clone()),
            });
            let mut written = format!("{options:?}\n");
            let client = Client::connect_with(options.clone()).await.unwrap();
            written += &format!("{client:?}\n");
            let error = client
                .handle("no-such-activity", None)
                .describe()
                .await
                .unwrap_err();
            written += &format!("{error}\n{error:?}\n");
            options.api_key = Some(Secret::new("wrong-key-3f"));
            let error = Client::connect_with(options).await.unwrap_err();
            written += &format!("{error}\n{error:?}\n");
            written
        })
    });
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("TRACE"), "trace logging was on");
    written += &logged;
    secrets.push("wrong-key-3f".to_owned());
    assert_no_secret(&written, &secrets);
}

#[test]
fn a_worker_takes_its_whole_connection_from_a_temporal_toml_profile() {
    let front = front();
    let config = front.certs.dir.join("temporal.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[profile.default]
address = "127.0.0.1:1"

[profile.secure]
address = "{address}"
namespace = "default"

[profile.secure.tls]
server_ca_cert_path = "{ca}"
client_cert_path = "{cert}"
client_key_path = "{key}"

[profile.secure.grpc_meta]
x_team = "payments"
"#,
            address = front.address(front.mtls),
            ca = path(&front.certs.ca),
            cert = path(&front.certs.client_cert),
            key = path(&front.certs.client_key),
        ),
    )
    .unwrap();
    let config = path(&config);
    serve_once(
        &[],
        &[
            ("TEMPORAL_CONFIG_FILE", config),
            ("TEMPORAL_PROFILE", "secure"),
        ],
    );
    // A profile that is not in the file stops the worker and names it.
    let worker = WorkerProcess::spawn_with(&["--config-file", config, "--profile", "staging"], &[]);
    let (status, _, lines) = worker.wait_for_exit(FAIL_FAST);
    assert!(!status.success());
    let output = lines.join("\n");
    assert!(output.contains("staging"), "{output}");
    assert!(
        output.contains("secure"),
        "the profiles that exist: {output}"
    );
}

#[tokio::test]
async fn a_worker_serves_again_after_the_front_restarts() {
    let mut own_front = TlsFront::start(&server().address());
    let queue = task_queue("reconnect");
    let mut options = worker_options(&queue);
    let mut connection = ConnectionOptions::new(own_front.address(own_front.tls));
    connection.server_ca = Some(Pem::path(&own_front.certs.ca));
    options.connection = connection;
    let worker = start_worker(options);
    let client = common::client().await;
    let run = |name: &'static str| {
        let client = client.clone();
        let queue = queue.clone();
        async move {
            let handle = client
                .start_activity(
                    StartActivity::new("compose_greeting", &queue)
                        .arg(&name)
                        .start_to_close_timeout(Duration::from_secs(30))
                        .max_attempts(1),
                )
                .await
                .unwrap();
            handle.result::<String>().await.unwrap()
        }
    };
    assert_eq!(run("before").await, "Hello, before!");

    // Every connection through the front is cut while polls are open.
    let own_front = tokio::task::spawn_blocking(move || {
        own_front.stop();
        std::thread::sleep(Duration::from_secs(2));
        own_front.restart();
        own_front
    })
    .await
    .unwrap();
    let back = std::time::Instant::now();
    let after = tokio::time::timeout(Duration::from_secs(40), run("after"))
        .await
        .expect("served again in time");
    assert_eq!(after, "Hello, after!");
    eprintln!(
        "served again {:?} after the front came back",
        back.elapsed()
    );
    drop(own_front);
    drop(worker);
}
