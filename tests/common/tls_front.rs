//! A real TLS front for integration tests: nginx, in the foreground as a child process,
//! terminating TLS on three loopback listeners and proxying gRPC to a backend (the dev
//! server, which has no TLS of its own). Certificates are made fresh by rcgen.
//!
//! The three listeners:
//! - `tls`: TLS only.
//! - `mtls`: TLS and a client certificate signed by [`Certs::client_ca`]; without one the
//!   answer is gRPC UNAUTHENTICATED "client certificate required".
//! - `api_key`: TLS and `authorization: Bearer` [`TlsFront::API_KEY`]; any other key (or
//!   none) is gRPC UNAUTHENTICATED "invalid API key".
//!
//! On every listener, a backend that is down (nginx's 502/503/504) is gRPC UNAVAILABLE.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// How long `start` and `restart` wait for the ports to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `restart` keeps trying when nginx cannot bind the old ports yet.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);
const LOG_TAIL_LINES: usize = 30;

/// Certificates made fresh into a temp dir of their own (removed on drop): a CA and a
/// server certificate for `localhost` and `127.0.0.1` signed by it; a client CA and a
/// client certificate (CN=worker) signed by that; and an unrelated "other" CA, for the
/// wrong-CA case. Keys are P-256, in PKCS#8 PEM.
#[derive(Debug)]
pub struct Certs {
    pub dir: PathBuf,
    /// The CA that signed the server certificate: what clients trust.
    pub ca: PathBuf,
    /// A CA that signed nothing used here.
    pub other_ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// The CA that signed the client certificate: what the mTLS listener trusts.
    pub client_ca: PathBuf,
}

impl Certs {
    pub fn generate() -> Certs {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "legwork-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("the certificate dir is created");
        let write = |name: &str, contents: &str| {
            let path = dir.join(name);
            fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            path
        };

        let (ca_pem, ca) = new_ca("legwork test CA");
        let (client_ca_pem, client_ca) = new_ca("legwork test client CA");
        let (other_ca_pem, _) = new_ca("legwork unrelated CA");
        let (server_pem, server_key) = new_leaf(
            &ca,
            "localhost",
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_pem, client_key) = new_leaf(
            &client_ca,
            "worker",
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        );

        Certs {
            ca: write("ca.pem", &ca_pem),
            other_ca: write("other-ca.pem", &other_ca_pem),
            client_ca: write("client-ca.pem", &client_ca_pem),
            server_cert: write("server.pem", &server_pem),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_pem),
            client_key: write("client.key", &client_key),
            dir,
        }
    }

    /// The CA that signed the server certificate, as PEM.
    pub fn ca_pem(&self) -> String {
        read(&self.ca)
    }

    pub fn client_cert_pem(&self) -> String {
        read(&self.client_cert)
    }

    pub fn client_key_pem(&self) -> String {
        read(&self.client_key)
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A self-signed CA: its certificate as PEM, and the issuer that signs with it.
fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("a P-256 key");
    let cert = params.self_signed(&key).expect("the CA certificate");
    (cert.pem(), Issuer::new(params, key))
}

/// A leaf certificate (CA:FALSE) signed by `issuer`: its PEM and its key's PEM.
fn new_leaf(
    issuer: &Issuer<'static, KeyPair>,
    common_name: &str,
    subject_alt_names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params = CertificateParams::new(subject_alt_names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().expect("a P-256 key");
    let cert = params
        .signed_by(&key, issuer)
        .expect("the leaf certificate");
    (cert.pem(), key.serialize_pem())
}

/// nginx in front of `backend`, on three loopback ports (see the module docs). Killed when
/// dropped, and when the test process dies.
#[derive(Debug)]
pub struct TlsFront {
    pub certs: Certs,
    /// TLS only.
    pub tls: u16,
    /// TLS and a client certificate signed by `certs.client_ca`.
    pub mtls: u16,
    /// TLS and `authorization: Bearer API_KEY`.
    pub api_key: u16,
    backend: String,
    prefix: PathBuf,
    child: Option<Child>,
}

impl TlsFront {
    /// The key the `api_key` listener accepts.
    pub const API_KEY: &'static str = "test-api-key-5e1f";

    /// Starts nginx with fresh certificates, proxying to `backend` (`127.0.0.1:PORT`), and
    /// blocks until nginx answers on all three ports (at most 10 s; panics with nginx's
    /// error log otherwise).
    pub fn start(backend: &str) -> TlsFront {
        let certs = Certs::generate();
        let prefix = certs.dir.join("nginx");
        fs::create_dir_all(prefix.join("logs")).expect("the nginx prefix dir is created");
        let mut front = TlsFront {
            certs,
            tls: 0,
            mtls: 0,
            api_key: 0,
            backend: backend.to_owned(),
            prefix,
            child: None,
        };
        // Free ports are found by binding and letting go, so another process may take one
        // before nginx binds it: then try again with new ones.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let [tls, mtls, api_key] = free_ports();
            (front.tls, front.mtls, front.api_key) = (tls, mtls, api_key);
            fs::write(front.conf_path(), front.config()).expect("nginx.conf is written");
            match front.spawn_and_wait(Instant::now() + START_TIMEOUT) {
                Ok(()) => return front,
                Err(error) if attempt < 3 && is_bind_error(&error) => {}
                Err(error) => panic!("nginx did not start: {error}\n{}", front.log_tail()),
            }
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self, port: u16) -> String {
        format!("{LOOPBACK}:{port}")
    }

    /// Kills nginx and waits for it: the ports stop accepting connections, and open
    /// connections are cut.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts nginx again on the same ports (stopping it first if it runs), retrying for a
    /// few seconds while a port cannot be bound yet.
    pub fn restart(&mut self) {
        self.stop();
        let rebind_deadline = Instant::now() + REBIND_TIMEOUT;
        loop {
            match self.spawn_and_wait(Instant::now() + START_TIMEOUT) {
                Ok(()) => return,
                Err(error) if Instant::now() < rebind_deadline && is_bind_error(&error) => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("nginx did not restart: {error}\n{}", self.log_tail()),
            }
        }
    }

    fn conf_path(&self) -> PathBuf {
        self.prefix.join("nginx.conf")
    }

    fn error_log(&self) -> PathBuf {
        self.prefix.join("logs/error.log")
    }

    /// Where nginx's own stdout and stderr go.
    fn output_log(&self) -> PathBuf {
        self.prefix.join("logs/output.log")
    }

    /// Spawns nginx and waits until every port accepts; on failure nginx is stopped and
    /// the error says why.
    fn spawn_and_wait(&mut self, deadline: Instant) -> Result<(), String> {
        let log_start = fs::metadata(self.error_log()).map_or(0, |m| m.len() as usize);
        let output = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.output_log())
            .map_err(|e| format!("{}: {e}", self.output_log().display()))?;
        let mut command = Command::new(nginx_binary());
        command
            .arg("-e")
            .arg(self.error_log())
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(self.conf_path())
            .stdin(Stdio::null())
            .stdout(output.try_clone().map_err(|e| e.to_string())?)
            .stderr(output);
        let child = super::process::spawn_killed_with_parent(command)
            .map_err(|e| format!("spawning {}: {e}", nginx_binary().display()))?;
        self.child = Some(child);

        let ports = [self.tls, self.mtls, self.api_key];
        loop {
            let child = self.child.as_mut().expect("just spawned");
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                self.child = None;
                let log = fs::read(self.error_log()).unwrap_or_default();
                let new_lines = String::from_utf8_lossy(log.get(log_start..).unwrap_or_default());
                return Err(format!("nginx exited with {status}: {}", new_lines.trim()));
            }
            if ports.iter().all(|&port| nginx_answers(port)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "ports {ports:?} did not accept connections in time"
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last lines of nginx's error log and of its output.
    fn log_tail(&self) -> String {
        format!(
            "--- {} (tail) ---\n{}\n--- {} (tail) ---\n{}",
            self.error_log().display(),
            tail(&self.error_log()),
            self.output_log().display(),
            tail(&self.output_log()),
        )
    }

    fn config(&self) -> String {
        let listener = |port: u16, name: &str, checks: &str| {
            format!(
                r#"
    server {{  # {name}
        listen {LOOPBACK}:{port} ssl http2;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
{checks}
        error_page 495 496 = @no_client_cert;
        error_page 401 = @bad_api_key;
        error_page 502 503 504 = @unavailable;

        location / {{
{location_checks}
            grpc_pass grpc://{backend};
            # The defaults (60 s) are shorter than a 70 s long poll.
            grpc_read_timeout 120s;
            grpc_send_timeout 120s;
        }}
        location @no_client_cert {{
            default_type application/grpc;
            add_header grpc-status 16 always;
            add_header grpc-message "client certificate required" always;
            return 200;
        }}
        location @bad_api_key {{
            default_type application/grpc;
            add_header grpc-status 16 always;
            add_header grpc-message "invalid API key" always;
            return 200;
        }}
        location @unavailable {{
            default_type application/grpc;
            add_header grpc-status 14 always;
            add_header grpc-message "backend unavailable" always;
            return 200;
        }}
    }}
"#,
                server_cert = self.certs.server_cert.display(),
                server_key = self.certs.server_key.display(),
                backend = self.backend,
                location_checks = if name == "api_key" {
                    "            if ($api_key_ok = 0) { return 401; }"
                } else {
                    ""
                },
            )
        };
        let mtls_checks = format!(
            "        ssl_client_certificate {};\n        ssl_verify_client on;",
            self.certs.client_ca.display()
        );
        let logs = self.prefix.join("logs");
        let logs = logs.display();
        format!(
            r#"# Written by tests/common/tls_front.rs. Run in the foreground:
# nginx -e {error_log} -p {prefix} -c {conf}
daemon off;
master_process off;
worker_processes 1;
error_log {error_log} warn;
pid {logs}/nginx.pid;

events {{
    worker_connections 512;
}}

http {{
    access_log off;
    # nginx 1.22 leaves TLSv1.3 out by default.
    ssl_protocols TLSv1.2 TLSv1.3;
    # gRPC messages can be larger than the default 1 MB.
    client_max_body_size 0;
    client_body_temp_path {logs}/client_body;
    proxy_temp_path {logs}/proxy;
    fastcgi_temp_path {logs}/fastcgi;
    uwsgi_temp_path {logs}/uwsgi;
    scgi_temp_path {logs}/scgi;

    map $http_authorization $api_key_ok {{
        default 0;
        "Bearer {api_key}" 1;
    }}
{tls}{mtls}{api_key_server}}}
"#,
            error_log = self.error_log().display(),
            prefix = self.prefix.display(),
            conf = self.conf_path().display(),
            api_key = Self::API_KEY,
            tls = listener(self.tls, "tls", ""),
            mtls = listener(self.mtls, "mtls", &mtls_checks),
            api_key_server = listener(self.api_key, "api_key", ""),
        )
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The nginx binary: `nginx` on `PATH`, else `/usr/sbin/nginx` (Debian puts it there, often
/// outside a non-root `PATH`).
pub fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("nginx"))
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nginx is not installed (not on PATH, not /usr/sbin/nginx): \
                 `apt-get install -y nginx` (scripts/test does it)"
            )
        })
}

/// Whether nginx itself answers on `port`: a plain HTTP request to a TLS port gets its "400
/// The plain HTTP request was sent to HTTPS port". Merely accepting TCP is not enough: a
/// port taken by another process accepts too, while nginx is still retrying its bind().
fn nginx_answers(port: u16) -> bool {
    let probe = || -> io::Result<bool> {
        let timeout = Duration::from_millis(500);
        let mut stream = TcpStream::connect_timeout(&(LOOPBACK, port).into(), timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
        let mut answer = Vec::new();
        // nginx closes the connection after its answer; a timeout ends the read too.
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        Ok(answer.starts_with("HTTP/1.1 400") && answer.contains("Server: nginx"))
    };
    probe().unwrap_or(false)
}

/// Three distinct free loopback ports: every listener is held until all are chosen.
fn free_ports() -> [u16; 3] {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind((LOOPBACK, 0)).expect("a free loopback port"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().unwrap().port();
    [port(0), port(1), port(2)]
}

/// nginx logged "bind() to ... failed (98: Address already in use)" and exited.
fn is_bind_error(error: &str) -> bool {
    error.starts_with("nginx exited") && error.contains("Address already in use")
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}
