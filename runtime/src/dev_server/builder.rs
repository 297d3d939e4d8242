//! `DevServerBuilder`: a dev server's options, and the command line they make. Starting
//! one is `server.rs`; running the process, `process.rs`.

use std::path::PathBuf;
use std::time::Duration;

use super::constants::LOOPBACK;

const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Options for [`DevServer`]; made by [`DevServer::builder`].
///
/// [`DevServer`]: crate::dev_server::DevServer
/// [`DevServer::builder`]: crate::dev_server::DevServer::builder
#[derive(Debug, Clone)]
pub struct DevServerBuilder {
    pub(super) port: Option<u16>,
    pub(super) db_filename: Option<PathBuf>,
    pub(super) metrics: bool,
    pub(super) log_level: String,
    pub(super) extra_args: Vec<String>,
    pub(super) startup_timeout: Duration,
    pub(super) kill_with_parent: bool,
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
    ///
    /// [`DevServer::kill`]: crate::dev_server::DevServer::kill
    /// [`DevServer::restart`]: crate::dev_server::DevServer::restart
    pub fn db_filename(mut self, path: impl Into<PathBuf>) -> Self {
        self.db_filename = Some(path.into());
        self
    }

    /// Serves Prometheus metrics on another free port; see [`DevServer::metrics_url`].
    ///
    /// [`DevServer::metrics_url`]: crate::dev_server::DevServer::metrics_url
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

    pub(super) fn command_line(&self, port: u16, metrics_port: Option<u16>) -> Vec<String> {
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
}
