//! What a connection to Temporal is made of: address, namespace, credentials, TLS, headers.
//!
//! Secrets (the API key, a private key's PEM) live in [`Secret`], whose `Debug` and
//! `Display` never show the value, so no log line, error or `{:?}` can leak them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A value that must never be printed: an API key or a private key's PEM.
///
/// `Debug` and `Display` print `<redacted>`; [`Secret::expose`] is the only way to the
/// value.
///
/// ```
/// let key = legwork::connection::Secret::new("k-123");
/// assert_eq!(format!("{key:?}"), "<redacted>");
/// assert_eq!(key.expose(), "k-123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

/// PEM given either as a file to read or as the data itself (`*_path` or `*_data` in
/// `temporal.toml`). Data is never printed: it may be a private key.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file holding PEM; read when connecting.
    Path(PathBuf),
    /// The PEM text itself.
    Data(Secret),
}

impl Pem {
    /// PEM text given inline.
    pub fn data(pem: impl Into<String>) -> Self {
        Pem::Data(Secret::new(pem))
    }

    /// A PEM file, read when connecting.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Pem::Path(path.into())
    }
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::Path(path) => f.debug_tuple("Path").field(path).finish(),
            Pem::Data(_) => f.write_str("Data(<redacted>)"),
        }
    }
}

/// Whether to speak TLS to the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// On when an API key or any TLS setting (CA, server name, client certificate) is
    /// given, or the address says `https://`; off otherwise. What every official SDK does.
    #[default]
    Auto,
    /// Always TLS.
    On,
    /// Never TLS, even with an API key (for a plaintext proxy that checks the key).
    Off,
}

/// A client certificate and its private key, for mutual TLS. Both or neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate chain, PEM.
    pub cert: Pem,
    /// The private key, PEM.
    pub key: Pem,
}

/// How to reach a Temporal namespace: one value for the worker, the client and
/// `legwork::main!()`.
///
/// Start from [`ConnectionOptions::new`] (a local server) or [`ConnectionOptions::from_env`]
/// (`temporal.toml` and `TEMPORAL_*` variables, as every Temporal SDK and the CLI read
/// them), then change fields.
///
/// ```
/// use legwork::connection::{ClientCertificate, ConnectionOptions, Pem};
///
/// let mut cloud = ConnectionOptions::new("payments.a2b3c.tmprl.cloud:7233");
/// cloud.namespace = "payments.a2b3c".into();
/// cloud.client_certificate = Some(ClientCertificate {
///     cert: Pem::path("/etc/temporal/client.pem"),
///     key: Pem::path("/etc/temporal/client.key"),
/// });
/// // TLS turns on by itself: a client certificate is set.
/// assert!(cloud.tls_enabled());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionOptions {
    /// `host:port` of the Temporal frontend; an `http://` or `https://` URL also works.
    pub address: String,
    /// The namespace every call targets.
    pub namespace: String,
    /// Sent as `authorization: Bearer <key>`; turns TLS on unless TLS is [`TlsMode::Off`].
    pub api_key: Option<Secret>,
    /// Whether to use TLS.
    pub tls: TlsMode,
    /// The CA that signed the server's certificate. When unset, the operating system's
    /// roots are trusted; when set, only this CA is.
    pub server_ca: Option<Pem>,
    /// The name to verify the server's certificate against (and send as SNI), when it
    /// differs from the address's host.
    pub server_name: Option<String>,
    /// A client certificate for mutual TLS.
    pub client_certificate: Option<ClientCertificate>,
    /// `temporal.toml`'s `disable_host_verification`. legwork refuses it at connect
    /// time: see [`ConnectError::HostVerificationUnsupported`](super::error::ConnectError).
    pub disable_host_verification: bool,
    /// Extra gRPC metadata sent with every call (lower-case keys).
    pub headers: Vec<(String, String)>,
    /// Recorded by the server with every call; `{pid}@{hostname}` by default.
    pub identity: String,
}

impl ConnectionOptions {
    /// A plaintext connection to `address`, namespace `default`.
    pub fn new(address: impl Into<String>) -> Self {
        ConnectionOptions {
            address: address.into(),
            namespace: "default".to_owned(),
            api_key: None,
            tls: TlsMode::Auto,
            server_ca: None,
            server_name: None,
            client_certificate: None,
            disable_host_verification: false,
            headers: Vec::new(),
            identity: default_identity(),
        }
    }

    /// Whether this connection will use TLS, once [`TlsMode::Auto`] is resolved.
    pub fn tls_enabled(&self) -> bool {
        match self.tls {
            TlsMode::On => true,
            TlsMode::Off => false,
            TlsMode::Auto => {
                self.address.starts_with("https://")
                    || (!self.address.starts_with("http://")
                        && (self.api_key.is_some()
                            || self.server_ca.is_some()
                            || self.server_name.is_some()
                            || self.client_certificate.is_some()))
            }
        }
    }
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions::new("127.0.0.1:7233")
    }
}

/// `{pid}@{hostname}`, as the other SDKs identify a worker or client.
pub(crate) fn default_identity() -> String {
    format!(
        "{}@{}",
        std::process::id(),
        gethostname::gethostname().to_string_lossy()
    )
}
