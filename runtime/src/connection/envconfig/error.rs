//! [`EnvConfigError`]: why `temporal.toml` and the `TEMPORAL_*` variables could not be
//! loaded, in one line that says what to fix.

use std::io;
use std::path::{Path, PathBuf};

// Where a file or profile name came from; shown in errors so the user knows what to fix.
pub(super) const GIVEN_EXPLICITLY: &str = "given explicitly";
pub(super) const FROM_CONFIG_FILE_VAR: &str = "from TEMPORAL_CONFIG_FILE";
pub(super) const FROM_PROFILE_VAR: &str = "from TEMPORAL_PROFILE";
pub(super) const DEFAULT_LOCATION: &str = "the default location";

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

pub(super) fn read_fix(named_by: &str) -> &'static str {
    match named_by {
        FROM_CONFIG_FILE_VAR => "fix TEMPORAL_CONFIG_FILE, or unset it to use the default file",
        DEFAULT_LOCATION => "fix its permissions, or point TEMPORAL_CONFIG_FILE at another file",
        _ => "check the path",
    }
}

pub(super) fn at(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" at line {line}, column {column}")
    }
}

pub(super) fn profile_not_found(
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
            config_dir_var()
        ),
    }
}

/// The variable the user's config directory derives from, for messages.
pub(super) fn config_dir_var() -> &'static str {
    if cfg!(target_os = "windows") {
        "APPDATA"
    } else {
        "HOME"
    }
}
