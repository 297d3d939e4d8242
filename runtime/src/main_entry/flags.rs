//! The flags of a generated `main`, and how they combine with `temporal.toml` and the
//! `TEMPORAL_*` variables: flags over environment over file, as Temporal's CLI does.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

mod isolated;
mod slots;
mod storage;

use super::duration::parse_duration;
use crate::connection::{ClientCertificate, ConnectionOptions, Pem, Secret, TlsMode};
use crate::telemetry::logs::LogFormat;
use crate::worker::{Deployment, Pollers, VersioningMode, WorkerOptions};

/// `--versioning-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ModeFlag {
    Versioned,
    Unversioned,
}

/// A Temporal activity worker built with legwork.
///
/// Connection settings come from the flags, else the TEMPORAL_* variables, else the
/// profile in temporal.toml ($TEMPORAL_CONFIG_FILE, else temporalio/temporal.toml in the
/// OS config directory), as every Temporal SDK and the `temporal` CLI read them.
#[derive(Debug, Parser)]
#[command(version, about = "A Temporal activity worker built with legwork.", long_about = None)]
pub(super) struct Flags {
    /// Temporal frontend address, host:port [env: TEMPORAL_ADDRESS] [default: 127.0.0.1:7233]
    #[arg(long, help_heading = "Connection")]
    pub(super) address: Option<String>,
    /// Temporal namespace [env: TEMPORAL_NAMESPACE] [default: default]
    #[arg(long, help_heading = "Connection")]
    pub(super) namespace: Option<String>,
    /// Profile of the config file to use [env: TEMPORAL_PROFILE] [default: default]
    #[arg(long, help_heading = "Connection")]
    pub(super) profile: Option<String>,
    /// Config file with connection profiles [env: TEMPORAL_CONFIG_FILE]
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub(super) config_file: Option<PathBuf>,
    /// API key, sent as `authorization: Bearer <key>`; turns TLS on unless --tls=false.
    /// Prefer the variable: flags show in `ps` [env: TEMPORAL_API_KEY]
    #[arg(long, value_name = "KEY", help_heading = "Connection")]
    pub(super) api_key: Option<Secret>,
    /// Use TLS (`--tls`, `--tls=false`) [env: TEMPORAL_TLS] [default: on with an API key
    /// or any TLS setting]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          require_equals = true, help_heading = "Connection")]
    pub(super) tls: Option<bool>,
    /// CA that signed the server's certificate; replaces the OS roots
    /// [env: TEMPORAL_TLS_SERVER_CA_CERT_PATH]
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub(super) tls_ca_path: Option<PathBuf>,
    /// Client certificate for mTLS, with --tls-key-path [env: TEMPORAL_TLS_CLIENT_CERT_PATH]
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub(super) tls_cert_path: Option<PathBuf>,
    /// Private key of the client certificate [env: TEMPORAL_TLS_CLIENT_KEY_PATH]
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub(super) tls_key_path: Option<PathBuf>,
    /// Name to verify the server's certificate against [env: TEMPORAL_TLS_SERVER_NAME]
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub(super) tls_server_name: Option<String>,
    /// Extra gRPC header sent with every call; repeatable [env: TEMPORAL_GRPC_META_<KEY>]
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_header,
          help_heading = "Connection")]
    pub(super) grpc_meta: Vec<(String, String)>,
    /// Identity recorded with every call [default: pid@hostname]
    #[arg(long, help_heading = "Connection")]
    pub(super) identity: Option<String>,

    /// Task queue to poll [default: chosen by the binary]
    #[arg(long, env = "TEMPORAL_TASK_QUEUE")]
    pub(super) task_queue: Option<String>,
    /// Most activity tasks held at once, sync and async together.
    #[arg(long, default_value_t = 100)]
    pub(super) max_concurrent_activities: usize,
    #[command(flatten)]
    pub(super) slots: slots::SlotFlags,
    #[command(flatten)]
    pub(super) isolated: isolated::IsolatedFlags,
    #[command(flatten)]
    pub(super) storage: storage::StorageFlags,
    /// Threads that run sync activities [default: max-concurrent-activities]
    #[arg(long)]
    pub(super) blocking_threads: Option<usize>,
    /// Open long polls: N (fixed), MIN..MAX (autoscaled, starting at 5 within the
    /// bounds), or auto [default: auto: autoscaled 1..100 where the namespace enrols
    /// workers, else 5]
    #[arg(long, value_name = "N|MIN..MAX|auto", value_parser = parse_pollers,
          help_heading = "Fleet")]
    pub(super) pollers: Option<Pollers>,
    /// The most activities this worker starts per second [default: no limit]
    #[arg(long, value_name = "RATE", help_heading = "Fleet")]
    pub(super) max_activities_per_second: Option<f64>,
    /// A limit for the whole task queue, enforced by the server across its workers; sent
    /// with every poll (the last poll wins: give every worker the same) [default: none
    /// sent]
    #[arg(long, value_name = "RATE", help_heading = "Fleet")]
    pub(super) max_task_queue_activities_per_second: Option<f64>,
    /// Worker Deployment this worker belongs to (Worker Deployment Versioning); needs
    /// --build-id
    #[arg(long, value_name = "NAME", help_heading = "Fleet")]
    pub(super) deployment_name: Option<String>,
    /// This build's id [default: a checksum of the executable]
    #[arg(long, value_name = "ID", help_heading = "Fleet")]
    pub(super) build_id: Option<String>,
    /// Join the deployment's version (versioned) or take tasks whatever the version
    /// (unversioned) [default: versioned with --deployment-name, else unversioned]
    #[arg(long, value_enum, value_name = "MODE", help_heading = "Fleet")]
    pub(super) versioning_mode: Option<ModeFlag>,
    /// Serve GET /healthz and /readyz (ready once the server answered a poll, not ready
    /// from SIGTERM on) for orchestrators' probes, e.g. 0.0.0.0:8080
    #[arg(long, value_name = "ADDR", help_heading = "Fleet")]
    pub(super) health_bind: Option<std::net::SocketAddr>,
    /// How long in-flight activities may run on after SIGINT/SIGTERM (30s, 500ms, 2m, or
    /// seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) shutdown_grace: Duration,
    /// Warn when one poll of an async activity holds its thread longer than this.
    #[arg(long, default_value = "100ms", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) stall_threshold: Duration,
    /// The same in milliseconds (older spelling).
    #[arg(
        long,
        hide = true,
        value_name = "MILLISECONDS",
        conflicts_with = "stall_threshold"
    )]
    pub(super) stall_threshold_ms: Option<u64>,
    /// Log lines as readable text (colour only on a terminal) or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub(super) log_format: LogFormat,
    /// Serve Prometheus metrics at http://ADDR/metrics, e.g. 0.0.0.0:9464.
    #[arg(long, value_name = "ADDR")]
    pub(super) metrics_bind: Option<std::net::SocketAddr>,
    /// Also serve a codec server (for the Web UI and `temporal --codec-endpoint`) with the
    /// worker's codecs (`main!(codecs = ...)`), e.g. 127.0.0.1:8081.
    #[arg(long, value_name = "ADDR")]
    pub(super) codec_server_bind: Option<std::net::SocketAddr>,
    /// Let pages of this origin read the codec server's answers (CORS), e.g. the Web UI's
    /// http://localhost:8233; repeatable [default: none, so no web page can]
    #[arg(long, value_name = "ORIGIN", requires = "codec_server_bind")]
    pub(super) codec_server_allow_origin: Vec<String>,
    /// Print each registered activity, its kind and source location, then exit.
    #[arg(long)]
    pub(super) list: bool,
    /// Start a local dev server with the `temporal` CLI (from TEMPORAL_CLI or PATH) and
    /// serve against it, ignoring every connection setting.
    #[arg(long, conflicts_with = "address")]
    pub(super) dev: bool,
}

/// A flag given without its partner.
#[derive(Debug, thiserror::Error)]
pub(super) enum FlagError {
    #[error("{given} needs {missing} too (a client certificate and its key go together)")]
    HalfCertificate {
        given: &'static str,
        missing: &'static str,
    },
}

impl Flags {
    /// The stall threshold, from whichever spelling was used.
    pub(super) fn stall_threshold(&self) -> Duration {
        self.stall_threshold_ms
            .map_or(self.stall_threshold, Duration::from_millis)
    }

    /// Lays the isolated children's flags over `options`.
    pub(super) fn apply_isolated(&self, options: &mut crate::isolated::IsolatedOptions) {
        self.isolated.apply(options);
    }

    /// Lays the external storage flags over `options`.
    pub(super) fn apply_storage(&self, options: &mut WorkerOptions) {
        self.storage.apply(options);
    }

    /// Lays the fleet flags (pollers, rate limits, deployment, probes) over `options`;
    /// what cannot work is refused when the worker starts, with the flag to fix.
    pub(super) fn apply_fleet(&self, options: &mut WorkerOptions) {
        options.pollers = self.pollers.unwrap_or_default();
        options.max_activities_per_second = self.max_activities_per_second;
        options.max_task_queue_activities_per_second = self.max_task_queue_activities_per_second;
        let versioned = match self.versioning_mode {
            Some(mode) => mode == ModeFlag::Versioned,
            None => self.deployment_name.is_some(),
        };
        options.deployment = Deployment {
            name: self.deployment_name.clone(),
            build_id: self.build_id.clone(),
            mode: if versioned {
                VersioningMode::Versioned
            } else {
                VersioningMode::Unversioned
            },
        };
        options.health_bind = self.health_bind;
        self.slots.apply(options);
    }

    /// Lays the connection flags over `connection` (from the environment and the file).
    pub(super) fn apply(&self, connection: &mut ConnectionOptions) -> Result<(), FlagError> {
        if let Some(address) = &self.address {
            connection.address = address.clone();
        }
        if let Some(namespace) = &self.namespace {
            connection.namespace = namespace.clone();
        }
        if let Some(key) = &self.api_key {
            connection.api_key = Some(key.clone());
        }
        if let Some(tls) = self.tls {
            connection.tls = if tls { TlsMode::On } else { TlsMode::Off };
        }
        if let Some(path) = &self.tls_ca_path {
            connection.server_ca = Some(Pem::Path(path.clone()));
        }
        if let Some(name) = &self.tls_server_name {
            connection.server_name = Some(name.clone());
        }
        self.apply_client_certificate(connection)?;
        for (key, value) in &self.grpc_meta {
            connection.headers.retain(|(existing, _)| existing != key);
            connection.headers.push((key.clone(), value.clone()));
        }
        if let Some(identity) = &self.identity {
            connection.identity = identity.clone();
        }
        Ok(())
    }

    /// A flag replaces its half of a certificate from the environment or file; alone, with
    /// nothing to pair with, it is an error.
    fn apply_client_certificate(
        &self,
        connection: &mut ConnectionOptions,
    ) -> Result<(), FlagError> {
        let cert = self.tls_cert_path.clone().map(Pem::Path);
        let key = self.tls_key_path.clone().map(Pem::Path);
        let existing = connection.client_certificate.take();
        connection.client_certificate = match (cert, key, existing) {
            (None, None, existing) => existing,
            (Some(cert), Some(key), _) => Some(ClientCertificate { cert, key }),
            (Some(cert), None, Some(existing)) => Some(ClientCertificate { cert, ..existing }),
            (None, Some(key), Some(existing)) => Some(ClientCertificate { key, ..existing }),
            (Some(_), None, None) => {
                return Err(FlagError::HalfCertificate {
                    given: "--tls-cert-path",
                    missing: "--tls-key-path",
                })
            }
            (None, Some(_), None) => {
                return Err(FlagError::HalfCertificate {
                    given: "--tls-key-path",
                    missing: "--tls-cert-path",
                })
            }
        };
        Ok(())
    }
}

/// `auto`, `N` or `MIN..MAX` (autoscaled, starting at 5 kept within the bounds).
fn parse_pollers(text: &str) -> Result<Pollers, String> {
    let number = |part: &str| {
        part.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{text}` is not N, MIN..MAX or auto"))
    };
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Pollers::Auto);
    }
    match text.split_once("..") {
        Some((minimum, maximum)) => {
            let (minimum, maximum) = (number(minimum)?, number(maximum)?);
            let initial = Pollers::DEFAULT_INITIAL.clamp(minimum, maximum.max(minimum));
            Ok(Pollers::autoscaling(minimum, initial, maximum))
        }
        None => Ok(Pollers::Fixed(number(text)?)),
    }
}

/// `KEY=VALUE`, the key lower-cased as gRPC metadata keys are.
fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_ascii_lowercase(), value.to_owned()))
        }
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests;
