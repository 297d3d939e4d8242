//! The `TEMPORAL_*` variables, over the file's values.

use super::error::EnvConfigError;
use super::settings::{header_name, pem, Settings, TlsSettings};
use crate::connection::options::{Pem, Secret};

const GRPC_META_PREFIX: &str = "TEMPORAL_GRPC_META_";

/// Every variable that makes the profile's `tls` table exist (sdk-core's list).
const TLS_VARS: [&str; 9] = [
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
];

/// The process environment. Non-UTF-8 names or values cannot be Temporal settings (nor a
/// usable HOME here), so they are skipped rather than failing the load.
pub(super) fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// The environment, as a slice of pairs so tests need not touch the real one.
pub(super) struct Env<'a>(pub(super) &'a [(String, String)]);

impl Env<'_> {
    /// A variable's value; an empty value counts as unset (as the SDKs treat
    /// `TEMPORAL_CONFIG_FILE` and `TEMPORAL_PROFILE`, and as a templated
    /// `TEMPORAL_ADDRESS=` usually means).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    pub(super) fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    pub(super) fn bool(&self, variable: &'static str) -> Result<Option<bool>, EnvConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(EnvConfigError::InvalidBool {
                variable,
                value: value.to_owned(),
            }),
        }
    }

    /// `TEMPORAL_GRPC_META_*` as (header, value); here an empty value is kept: it means
    /// "remove this header".
    pub(super) fn grpc_meta(&self) -> impl Iterator<Item = (String, &str)> {
        self.0.iter().filter_map(|(key, value)| {
            // `TEMPORAL_GRPC_META_` alone would name an empty, invalid header.
            let header = key
                .strip_prefix(GRPC_META_PREFIX)
                .filter(|h| !h.is_empty())?;
            Some((header_name(header), value.as_str()))
        })
    }
}

/// `{prefix}_PATH` or `{prefix}_DATA`; either replaces what the file said.
fn env_pem(env: &Env, prefix: &str, slot: &mut Option<Pem>) -> Result<(), EnvConfigError> {
    let (path_var, data_var) = (format!("{prefix}_PATH"), format!("{prefix}_DATA"));
    let from_env = pem(env.owned(&path_var), env.owned(&data_var), || {
        EnvConfigError::PathAndData {
            path_key: path_var.clone(),
            data_key: data_var.clone(),
            place: "the environment".to_owned(),
        }
    })?;
    if from_env.is_some() {
        *slot = from_env;
    }
    Ok(())
}

impl Settings {
    /// The environment over the file, variable by variable.
    pub(super) fn apply_env(&mut self, env: &Env) -> Result<(), EnvConfigError> {
        if let Some(address) = env.owned("TEMPORAL_ADDRESS") {
            self.address = Some(address);
        }
        if let Some(namespace) = env.owned("TEMPORAL_NAMESPACE") {
            self.namespace = Some(namespace);
        }
        if let Some(api_key) = env.get("TEMPORAL_API_KEY") {
            self.api_key = Some(Secret::new(api_key));
        }
        self.apply_tls_env(env)?;
        for (header, value) in env.grpc_meta() {
            if value.is_empty() {
                self.grpc_meta.remove(&header);
            } else {
                self.grpc_meta.insert(header, value.to_owned());
            }
        }
        Ok(())
    }

    fn apply_tls_env(&mut self, env: &Env) -> Result<(), EnvConfigError> {
        let enabled = env.bool("TEMPORAL_TLS")?;
        let skip_host_check = env.bool("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION")?;
        if !TLS_VARS.iter().any(|var| env.get(var).is_some()) {
            return Ok(());
        }
        // Any TLS variable creates the table, so (unless TEMPORAL_TLS=false) TLS is on.
        let tls = self.tls.get_or_insert_with(TlsSettings::default);
        if let Some(enabled) = enabled {
            tls.disabled = Some(!enabled);
        }
        env_pem(env, "TEMPORAL_TLS_CLIENT_CERT", &mut tls.client_cert)?;
        env_pem(env, "TEMPORAL_TLS_CLIENT_KEY", &mut tls.client_key)?;
        env_pem(env, "TEMPORAL_TLS_SERVER_CA_CERT", &mut tls.server_ca)?;
        if let Some(server_name) = env.owned("TEMPORAL_TLS_SERVER_NAME") {
            tls.server_name = Some(server_name);
        }
        if let Some(skip) = skip_host_check {
            tls.disable_host_verification = skip;
        }
        Ok(())
    }
}
