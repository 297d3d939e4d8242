//! `DevServer`: starting one from its options, waiting until it is healthy, killing,
//! restarting and stopping it.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use super::builder::DevServerBuilder;
use super::constants::{LOOPBACK, NAMESPACE};
use super::error::DevServerError;
use super::log::{log_file_path, read_log_tail};
use super::process::{find_cli, reserve_ports, signal_group, Signal};
use crate::connection::{connect_plain, with_deadline};
use crate::proto::service::DescribeNamespaceRequest;

const HEALTH_POLL_INTERVAL: Duration = Duration::from_millis(100);
const HEALTH_RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `Drop` waits after SIGTERM before it sends SIGKILL.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

impl DevServerBuilder {
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
pub(super) async fn check_health(address: &str) -> Result<(), String> {
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
