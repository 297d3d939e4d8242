//! One profile's settings while the file and the environment are merged, and their
//! mapping to [`ConnectionOptions`].

use std::collections::BTreeMap;

use super::error::EnvConfigError;
use crate::connection::options::{ClientCertificate, ConnectionOptions, Pem, Secret, TlsMode};

/// `My_Header` → `my-header`, for file keys and variable suffixes alike.
pub(super) fn header_name(key: &str) -> String {
    key.to_lowercase().replace('_', "-")
}

/// One profile's settings while file and environment are merged. Secrets are already
/// wrapped.
#[derive(Default)]
pub(super) struct Settings {
    pub(super) address: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) api_key: Option<Secret>,
    /// `Some` when the profile has a `tls` table (or a `TEMPORAL_TLS*` variable made one).
    pub(super) tls: Option<TlsSettings>,
    pub(super) grpc_meta: BTreeMap<String, String>,
}

#[derive(Default)]
pub(super) struct TlsSettings {
    pub(super) disabled: Option<bool>,
    pub(super) client_cert: Option<Pem>,
    pub(super) client_key: Option<Pem>,
    pub(super) server_ca: Option<Pem>,
    pub(super) server_name: Option<String>,
    pub(super) disable_host_verification: bool,
}

/// An empty string in the file means "not set", as an empty variable does.
pub(super) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

/// One PEM setting from one source: a path or the data, never both.
pub(super) fn pem(
    path: Option<String>,
    data: Option<String>,
    conflict: impl FnOnce() -> EnvConfigError,
) -> Result<Option<Pem>, EnvConfigError> {
    match (non_empty(path), non_empty(data)) {
        (Some(_), Some(_)) => Err(conflict()),
        (Some(path), None) => Ok(Some(Pem::path(path))),
        (None, Some(data)) => Ok(Some(Pem::data(data))),
        (None, None) => Ok(None),
    }
}

impl Settings {
    /// A `tls` table means TLS on (or off, if disabled); no table leaves it to
    /// [`TlsMode::Auto`], so an API key alone still turns TLS on, as in the SDKs.
    pub(super) fn into_options(self) -> Result<ConnectionOptions, EnvConfigError> {
        let mut options = ConnectionOptions::default();
        if let Some(address) = self.address {
            options.address = address;
        }
        if let Some(namespace) = self.namespace {
            options.namespace = namespace;
        }
        options.api_key = self.api_key;
        options.headers = self.grpc_meta.into_iter().collect();
        match self.tls {
            None => options.tls = TlsMode::Auto,
            // TLS off: the table's certificates and names are moot, as in sdk-core, so
            // they are dropped rather than checked.
            Some(tls) if tls.disabled == Some(true) => options.tls = TlsMode::Off,
            Some(tls) => {
                options.tls = TlsMode::On;
                options.client_certificate = match (tls.client_cert, tls.client_key) {
                    (Some(cert), Some(key)) => Some(ClientCertificate { cert, key }),
                    (Some(_), None) => return Err(EnvConfigError::MissingClientKey),
                    (None, Some(_)) => return Err(EnvConfigError::MissingClientCertificate),
                    (None, None) => None,
                };
                options.server_ca = tls.server_ca;
                options.server_name = tls.server_name;
                options.disable_host_verification = tls.disable_host_verification;
            }
        }
        Ok(options)
    }
}
