//! From [`ConnectionOptions`] to a tonic [`Endpoint`]: the URL, and TLS through rustls.
//!
//! tonic applies TLS only to `https://` URLs and silently stays plaintext on `http://`,
//! so the scheme is chosen here from the resolved TLS mode, never left to chance.

use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use super::error::ConnectError;
use super::options::{ConnectionOptions, Pem, TlsMode};

/// TCP connect plus TLS handshake: well inside the 15 s in which a misconfigured worker
/// must have stopped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoint to dial, TLS configured when it is on.
pub(super) fn endpoint(options: &ConnectionOptions) -> Result<Endpoint, ConnectError> {
    if options.disable_host_verification {
        return Err(ConnectError::HostVerificationUnsupported);
    }
    let tls = options.tls_enabled();
    let url = url(&options.address, options.tls, tls)?;
    let endpoint = Endpoint::from_shared(url)
        .map_err(|error| ConnectError::InvalidAddress {
            address: options.address.clone(),
            reason: error.to_string(),
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        // sdk-core's keep-alive: a dead connection is noticed in 45 s even while idle.
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(15))
        .keep_alive_while_idle(true);
    if !tls {
        return Ok(endpoint);
    }
    let mut config = ClientTlsConfig::new().timeout(CONNECT_TIMEOUT);
    config = match &options.server_ca {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read_pem(ca, PemKind::ServerCa)?)),
        // No CA given: trust the operating system's roots, as every SDK does.
        None => config.with_native_roots(),
    };
    let mut endpoint = endpoint;
    if let Some(name) = &options.server_name {
        config = config.domain_name(name.clone());
        // `:authority` must match the name the certificate is checked against.
        let origin = format!("https://{name}")
            .parse()
            .map_err(|_| ConnectError::InvalidServerName(name.clone()))?;
        endpoint = endpoint.origin(origin);
    }
    if let Some(client) = &options.client_certificate {
        let cert = read_pem(&client.cert, PemKind::ClientCert)?;
        let key = read_pem(&client.key, PemKind::ClientKey)?;
        config = config.identity(Identity::from_pem(cert, key));
    }
    endpoint.tls_config(config).map_err(|error| {
        // The PEM was checked above, so what is left is a setting tonic refuses.
        ConnectError::InvalidTlsSettings(error.to_string())
    })
}

/// `https://host:port` or `http://host:port`; an explicit scheme must agree with TLS.
fn url(address: &str, mode: TlsMode, tls: bool) -> Result<String, ConnectError> {
    let conflict = |reason: &str| ConnectError::InvalidAddress {
        address: address.to_owned(),
        reason: reason.to_owned(),
    };
    match address.split_once("://") {
        Some(("http", _)) if tls => Err(conflict(
            "it says http:// but TLS is on; drop the scheme (host:port) or turn TLS off",
        )),
        Some(("https", _)) if mode == TlsMode::Off => Err(conflict(
            "it says https:// but TLS is off; drop the scheme (host:port) or turn TLS on",
        )),
        Some(("http" | "https", _)) => Ok(address.to_owned()),
        Some(_) => Err(conflict("use host:port")),
        None if tls => Ok(format!("https://{address}")),
        None => Ok(format!("http://{address}")),
    }
}

/// Which PEM a setting holds, for checks and for messages that say how to fix it.
#[derive(Clone, Copy, Debug)]
pub(super) enum PemKind {
    ServerCa,
    ClientCert,
    ClientKey,
}

impl PemKind {
    pub(super) fn describe(self) -> &'static str {
        match self {
            PemKind::ServerCa => "server CA certificate",
            PemKind::ClientCert => "client certificate",
            PemKind::ClientKey => "client private key",
        }
    }

    /// The flag and the variable that set it.
    pub(super) fn setting(self) -> &'static str {
        match self {
            PemKind::ServerCa => "--tls-ca-path or TEMPORAL_TLS_SERVER_CA_CERT_PATH",
            PemKind::ClientCert => "--tls-cert-path or TEMPORAL_TLS_CLIENT_CERT_PATH",
            PemKind::ClientKey => "--tls-key-path or TEMPORAL_TLS_CLIENT_KEY_PATH",
        }
    }

    fn marker(self) -> &'static str {
        match self {
            PemKind::ServerCa | PemKind::ClientCert => "-----BEGIN CERTIFICATE-----",
            PemKind::ClientKey => "PRIVATE KEY-----",
        }
    }
}

/// Reads a PEM setting and checks it holds what it should, so that a swapped or empty file
/// is named here rather than failing deep inside the TLS stack.
fn read_pem(pem: &Pem, kind: PemKind) -> Result<Vec<u8>, ConnectError> {
    let (bytes, origin) = match pem {
        Pem::Path(path) => {
            let bytes = std::fs::read(path).map_err(|source| ConnectError::ReadPem {
                kind: kind.describe(),
                setting: kind.setting(),
                path: path.clone(),
                source,
            })?;
            (bytes, path.display().to_string())
        }
        Pem::Data(data) => (data.expose().as_bytes().to_vec(), "inline data".to_owned()),
    };
    if !String::from_utf8_lossy(&bytes).contains(kind.marker()) {
        return Err(ConnectError::NotPem {
            kind: kind.describe(),
            setting: kind.setting(),
            origin,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::options::ClientCertificate;

    #[test]
    fn scheme_follows_tls() {
        assert_eq!(url("h:1", TlsMode::Auto, false).unwrap(), "http://h:1");
        assert_eq!(url("h:1", TlsMode::On, true).unwrap(), "https://h:1");
        assert_eq!(
            url("https://h:1", TlsMode::Auto, true).unwrap(),
            "https://h:1"
        );
        let error = url("http://h:1", TlsMode::On, true)
            .unwrap_err()
            .to_string();
        assert!(error.contains("http:// but TLS is on"), "{error}");
        assert!(url("https://h:1", TlsMode::Off, false).is_err());
        assert!(url("ftp://h:1", TlsMode::Auto, false).is_err());
    }

    #[test]
    fn host_verification_skip_is_refused() {
        let mut options = ConnectionOptions::new("h:1");
        options.disable_host_verification = true;
        let error = endpoint(&options).unwrap_err().to_string();
        assert!(error.contains("disable_host_verification"), "{error}");
        assert!(error.contains("--tls-ca-path"), "{error}");
    }

    #[test]
    fn missing_and_swapped_pem_files_are_named() {
        let mut options = ConnectionOptions::new("h:1");
        options.server_ca = Some(Pem::path("/nonexistent/ca.pem"));
        let error = endpoint(&options).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
        assert!(error.contains("server CA"), "{error}");

        let mut options = ConnectionOptions::new("h:1");
        options.client_certificate = Some(ClientCertificate {
            cert: Pem::data("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            key: Pem::data("-----BEGIN CERTIFICATE-----\nsecret-bits\n"),
        });
        let error = endpoint(&options).unwrap_err().to_string();
        assert!(error.contains("client private key"), "{error}");
        assert!(!error.contains("secret-bits"), "{error}");
    }
}
