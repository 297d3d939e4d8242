//! Finding and parsing `temporal.toml`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::env::Env;
use super::error::{EnvConfigError, DEFAULT_LOCATION, FROM_CONFIG_FILE_VAR, GIVEN_EXPLICITLY};
use super::settings::{header_name, non_empty, pem, Settings, TlsSettings};
use crate::connection::options::{Pem, Secret};

/// A config file to read, and what named it.
pub(super) struct Location {
    pub(super) path: PathBuf,
    pub(super) named_by: &'static str,
}

pub(super) fn locate(file: Option<&Path>, env: &Env) -> Option<Location> {
    // An empty path counts as unset, as Go's `ConfigFilePath: ""` does.
    if let Some(path) = file.filter(|path| !path.as_os_str().is_empty()) {
        return Some(Location {
            path: path.to_owned(),
            named_by: GIVEN_EXPLICITLY,
        });
    }
    if let Some(path) = env.get("TEMPORAL_CONFIG_FILE") {
        return Some(Location {
            path: PathBuf::from(path),
            named_by: FROM_CONFIG_FILE_VAR,
        });
    }
    config_dir(env).map(|dir| Location {
        path: dir.join("temporalio").join("temporal.toml"),
        named_by: DEFAULT_LOCATION,
    })
}

/// The user's config directory, as `dirs::config_dir()` / Go's `os.UserConfigDir()`
/// compute it, but from `env` so tests can choose it.
pub(super) fn config_dir(env: &Env) -> Option<PathBuf> {
    let home = || env.get("HOME").map(PathBuf::from);
    if cfg!(target_os = "windows") {
        env.get("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        home().map(|home| home.join("Library").join("Application Support"))
    } else {
        // The XDG spec says to ignore a relative XDG_CONFIG_HOME; `dirs` does.
        env.get("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| home().map(|home| home.join(".config")))
    }
}

/// The parsed file, or `None` when the default file does not exist.
pub(super) fn read(location: &Location) -> Result<Option<ConfigFile>, EnvConfigError> {
    let text = match std::fs::read_to_string(&location.path) {
        Ok(text) => text,
        Err(error)
            if error.kind() == io::ErrorKind::NotFound && location.named_by == DEFAULT_LOCATION =>
        {
            return Ok(None);
        }
        Err(source) => {
            return Err(EnvConfigError::ReadFile {
                path: location.path.clone(),
                named_by: location.named_by,
                source,
            })
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| parse_error(&location.path, &text, &error))
}

/// A one-line parse error with its position. toml's own `Display` is several lines and
/// quotes the offending line, which may hold a key, so only its message is kept.
fn parse_error(path: &Path, text: &str, error: &toml::de::Error) -> EnvConfigError {
    let (line, column) = match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
            (
                before.matches('\n').count() + 1,
                before[line_start..].chars().count() + 1,
            )
        }
        None => (0, 0),
    };
    EnvConfigError::Parse {
        path: path.to_owned(),
        line,
        column,
        message: redact_values(error.message()),
    }
}

/// serde's type errors quote the offending value (`invalid type: string "…", expected a
/// boolean`), and a misplaced value may be a key; keep only its kind.
fn redact_values(message: &str) -> String {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    for prefix in ["invalid type: ", "invalid value: "] {
        let Some((unexpected, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once(", expected "))
        else {
            continue;
        };
        let kind = unexpected
            .split(' ')
            .take_while(|word| !word.starts_with(['"', '`', '\'']))
            .collect::<Vec<_>>()
            .join(" ");
        return format!("{prefix}{kind}, expected {expected}");
    }
    message
}

// The file's shape. No `Debug`: these hold the API key and key PEM as plain strings.
// Unknown keys are ignored, the SDKs' non-strict default.

#[derive(Deserialize, Default)]
#[serde(expecting = "a table of [profile.NAME] tables")]
pub(super) struct ConfigFile {
    #[serde(default)]
    pub(super) profile: BTreeMap<String, FileProfile>,
}

#[derive(Deserialize)]
#[serde(expecting = "a [profile.NAME] table")]
pub(super) struct FileProfile {
    address: Option<String>,
    namespace: Option<String>,
    api_key: Option<String>,
    tls: Option<FileTls>,
    /// Parsed so a malformed table fails as in the SDKs; legwork has no remote codec.
    #[allow(dead_code)]
    codec: Option<FileCodec>,
    #[serde(default)]
    grpc_meta: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a `tls` table")]
struct FileTls {
    disabled: Option<bool>,
    client_cert_path: Option<String>,
    client_cert_data: Option<String>,
    client_key_path: Option<String>,
    client_key_data: Option<String>,
    server_ca_cert_path: Option<String>,
    server_ca_cert_data: Option<String>,
    server_name: Option<String>,
    #[serde(default)]
    disable_host_verification: bool,
}

#[derive(Deserialize)]
#[serde(expecting = "a `codec` table")]
#[allow(dead_code)]
struct FileCodec {
    endpoint: Option<String>,
    auth: Option<String>,
}

fn file_pem(
    path: Option<String>,
    data: Option<String>,
    key: &str,
    place: &str,
) -> Result<Option<Pem>, EnvConfigError> {
    pem(path, data, || EnvConfigError::PathAndData {
        path_key: format!("{key}_path"),
        data_key: format!("{key}_data"),
        place: place.to_owned(),
    })
}

impl Settings {
    pub(super) fn from_file(profile: FileProfile, place: &str) -> Result<Settings, EnvConfigError> {
        let tls = match profile.tls {
            Some(tls) => Some(TlsSettings {
                disabled: tls.disabled,
                client_cert: file_pem(
                    tls.client_cert_path,
                    tls.client_cert_data,
                    "client_cert",
                    place,
                )?,
                client_key: file_pem(
                    tls.client_key_path,
                    tls.client_key_data,
                    "client_key",
                    place,
                )?,
                server_ca: file_pem(
                    tls.server_ca_cert_path,
                    tls.server_ca_cert_data,
                    "server_ca_cert",
                    place,
                )?,
                server_name: non_empty(tls.server_name),
                disable_host_verification: tls.disable_host_verification,
            }),
            None => None,
        };
        Ok(Settings {
            address: non_empty(profile.address),
            namespace: non_empty(profile.namespace),
            api_key: non_empty(profile.api_key).map(Secret::new),
            tls,
            grpc_meta: (profile.grpc_meta.into_iter())
                .map(|(key, value)| (header_name(&key), value))
                .collect(),
        })
    }
}
