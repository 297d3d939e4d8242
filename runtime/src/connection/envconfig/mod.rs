//! Temporal's environment configuration: profiles in `temporal.toml` and `TEMPORAL_*`
//! variables, read the way the official SDKs and the `temporal` CLI read them.
//!
//! Precedence, lowest first: [`ConnectionOptions::default`], the selected profile of the
//! config file, the environment. A command-line flag beats all three; that is the
//! caller's business. Checked against sdk-core `crates/common/src/envconfig.rs` and
//! sdk-go `contrib/envconfig`.
//!
//! Secrets (the API key, `*_data` PEM) are held as [`Secret`] / [`Pem`] from the moment
//! they are read, and no error message quotes a value from the file or a secret variable.
//!
//! - `file`: finding and parsing `temporal.toml`;
//! - `env`: the `TEMPORAL_*` variables;
//! - here: the errors, profile selection and the mapping to [`ConnectionOptions`].

mod env;
mod file;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::options::{ClientCertificate, ConnectionOptions, Pem, Secret, TlsMode};
use env::Env;
use file::{ConfigFile, Location};

const DEFAULT_PROFILE: &str = "default";

// Where a file or profile name came from; shown in errors so the user knows what to fix.
const GIVEN_EXPLICITLY: &str = "given explicitly";
const FROM_CONFIG_FILE_VAR: &str = "from TEMPORAL_CONFIG_FILE";
const FROM_PROFILE_VAR: &str = "from TEMPORAL_PROFILE";
const DEFAULT_LOCATION: &str = "the default location";

/// Why the environment configuration (`temporal.toml` and `TEMPORAL_*` variables) could
/// not be loaded. Messages are one line, say what to fix, and never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvConfigError {
    /// The config file exists (or was named) but could not be read.
    #[error("cannot read the Temporal config file {} ({named_by}): {source}; {}", path.display(), read_fix(named_by))]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Where its name came from: "given explicitly", "from TEMPORAL_CONFIG_FILE" or
        /// "the default location".
        named_by: &'static str,
        /// Why reading failed.
        source: io::Error,
    },
    /// The config file is not valid TOML, or a value has the wrong type.
    #[error("the Temporal config file {} is invalid{}: {message}; fix the file there", path.display(), at(*line, *column))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based; 0 when the parser gave no position.
        line: usize,
        /// 1-based; 0 when the parser gave no position.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A profile was asked for (argument or `TEMPORAL_PROFILE`) and is not in the file.
    #[error("{}", profile_not_found(profile, named_by, file.as_deref(), available.as_deref()))]
    ProfileNotFound {
        /// The profile asked for.
        profile: String,
        /// Where its name came from: "given explicitly" or "from TEMPORAL_PROFILE".
        named_by: &'static str,
        /// The file looked at; `None` when no config directory could be determined.
        file: Option<PathBuf>,
        /// The profiles the file has; `None` when there is no file.
        available: Option<Vec<String>>,
    },
    /// A path and inline data for the same PEM, from the same source.
    #[error("{path_key} and {data_key} are both set in {place}; keep only one of them")]
    PathAndData {
        /// The path's key or variable, e.g. `client_cert_path`.
        path_key: String,
        /// The inline data's key or variable, e.g. `client_cert_data`.
        data_key: String,
        /// Where both are set: a profile of the file, or "the environment".
        place: String,
    },
    /// A boolean variable holds something else.
    #[error("{variable}=`{value}` is not a boolean; use true, false, 1 or 0")]
    InvalidBool {
        /// The variable, e.g. `TEMPORAL_TLS`.
        variable: &'static str,
        /// Its value (boolean variables never hold secrets).
        value: String,
    },
    /// A client certificate without its key.
    #[error("a client certificate is configured but no client key; mutual TLS needs both: set client_key_path or client_key_data in the profile, or TEMPORAL_TLS_CLIENT_KEY_PATH or TEMPORAL_TLS_CLIENT_KEY_DATA")]
    MissingClientKey,
    /// A client key without its certificate.
    #[error("a client key is configured but no client certificate; mutual TLS needs both: set client_cert_path or client_cert_data in the profile, or TEMPORAL_TLS_CLIENT_CERT_PATH or TEMPORAL_TLS_CLIENT_CERT_DATA")]
    MissingClientCertificate,
}

fn read_fix(named_by: &str) -> &'static str {
    match named_by {
        FROM_CONFIG_FILE_VAR => "fix TEMPORAL_CONFIG_FILE, or unset it to use the default file",
        DEFAULT_LOCATION => "fix its permissions, or point TEMPORAL_CONFIG_FILE at another file",
        _ => "check the path",
    }
}

fn at(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" at line {line}, column {column}")
    }
}

fn profile_not_found(
    profile: &str,
    named_by: &str,
    file: Option<&Path>,
    available: Option<&[String]>,
) -> String {
    let head = format!("Temporal config profile `{profile}` ({named_by}) was not found");
    match (file, available) {
        (Some(file), Some([])) => format!(
            "{head}: {} has no profiles; add a [profile.{profile}] table",
            file.display()
        ),
        (Some(file), Some(names)) => format!(
            "{head} in {}, which has {}; use one of those or add a [profile.{profile}] table",
            file.display(),
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
        (Some(file), None) => format!(
            "{head}: there is no config file at {}; create it with a [profile.{profile}] table or set TEMPORAL_CONFIG_FILE",
            file.display()
        ),
        (None, _) => format!(
            "{head}: no user config directory is known ({} is not set); set TEMPORAL_CONFIG_FILE",
            file::config_dir_var()
        ),
    }
}

impl ConnectionOptions {
    /// Options from `temporal.toml` and `TEMPORAL_*` variables, as every Temporal SDK and
    /// the `temporal` CLI read them.
    ///
    /// The file is `TEMPORAL_CONFIG_FILE`, else `temporalio/temporal.toml` in the user's
    /// config directory (`$XDG_CONFIG_HOME` or `~/.config` on Linux, `~/Library/Application
    /// Support` on macOS, `%APPDATA%` on Windows); a missing default file is fine. The
    /// profile is `TEMPORAL_PROFILE`, else `default`. Variables such as `TEMPORAL_ADDRESS`,
    /// `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY` and `TEMPORAL_TLS_*` override the file.
    /// What neither sets keeps [`ConnectionOptions::default`]'s value.
    ///
    /// ```no_run
    /// use legwork::connection::ConnectionOptions;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = ConnectionOptions::from_env()?;
    /// println!("namespace {} at {}", options.namespace, options.address);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Result<ConnectionOptions, EnvConfigError> {
        ConnectionOptions::from_profile(None, None)
    }

    /// Like [`ConnectionOptions::from_env`], with an explicit config file and/or profile
    /// (what `--config-file` and `--profile` pass). Each replaces its variable
    /// (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`); a file or profile named either way
    /// must exist.
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use legwork::connection::ConnectionOptions;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let staging = ConnectionOptions::from_profile(
    ///     Some(Path::new("/etc/temporal/temporal.toml")),
    ///     Some("staging"),
    /// )?;
    /// assert!(staging.tls_enabled() || staging.api_key.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_profile(
        file: Option<&Path>,
        profile: Option<&str>,
    ) -> Result<ConnectionOptions, EnvConfigError> {
        load(file, profile, &env::process_env())
    }
}

/// The loader itself, pure: `file` and `profile` are the explicit choices (or `None`),
/// `vars` the whole environment as name/value pairs.
pub(crate) fn load(
    file: Option<&Path>,
    profile: Option<&str>,
    vars: &[(String, String)],
) -> Result<ConnectionOptions, EnvConfigError> {
    let env = Env(vars);
    let location = file::locate(file, &env);
    let config = match &location {
        Some(location) => file::read(location)?,
        None => None,
    };
    let mut settings = profile_settings(location.as_ref(), config, profile, &env)?;
    settings.apply_env(&env)?;
    settings.into_options()
}

/// `My_Header` → `my-header`, for file keys and variable suffixes alike.
fn header_name(key: &str) -> String {
    key.to_lowercase().replace('_', "-")
}

/// One profile's settings while file and environment are merged. Secrets are already
/// wrapped.
#[derive(Default)]
struct Settings {
    address: Option<String>,
    namespace: Option<String>,
    api_key: Option<Secret>,
    /// `Some` when the profile has a `tls` table (or a `TEMPORAL_TLS*` variable made one).
    tls: Option<TlsSettings>,
    grpc_meta: BTreeMap<String, String>,
}

#[derive(Default)]
struct TlsSettings {
    disabled: Option<bool>,
    client_cert: Option<Pem>,
    client_key: Option<Pem>,
    server_ca: Option<Pem>,
    server_name: Option<String>,
    disable_host_verification: bool,
}

/// The selected profile: explicit `profile` > `TEMPORAL_PROFILE` > `default`. Only a
/// profile that was asked for must exist.
fn profile_settings(
    location: Option<&Location>,
    config: Option<ConfigFile>,
    profile: Option<&str>,
    env: &Env,
) -> Result<Settings, EnvConfigError> {
    let (name, named_by) = match profile.filter(|name| !name.is_empty()) {
        Some(name) => (name.to_owned(), Some(GIVEN_EXPLICITLY)),
        None => match env.owned("TEMPORAL_PROFILE") {
            Some(name) => (name, Some(FROM_PROFILE_VAR)),
            None => (DEFAULT_PROFILE.to_owned(), None),
        },
    };
    let mut profiles = config.map(|config| config.profile);
    let found = profiles
        .as_mut()
        .and_then(|profiles| profiles.remove(&name));
    match (found, location, named_by) {
        (Some(found), Some(location), _) => {
            let place = format!("profile `{name}` of {}", location.path.display());
            Settings::from_file(found, &place)
        }
        (_, _, None) => Ok(Settings::default()),
        (_, _, Some(named_by)) => Err(EnvConfigError::ProfileNotFound {
            profile: name,
            named_by,
            file: location.map(|location| location.path.clone()),
            available: profiles.map(|profiles| profiles.into_keys().collect()),
        }),
    }
}

/// An empty string in the file means "not set", as an empty variable does.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

/// One PEM setting from one source: a path or the data, never both.
fn pem(
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
    fn into_options(self) -> Result<ConnectionOptions, EnvConfigError> {
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
