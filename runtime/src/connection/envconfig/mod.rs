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
//! - `settings`: one profile's settings and their mapping to [`ConnectionOptions`];
//! - `error`: the errors;
//! - here: profile selection and the loader.

mod env;
mod error;
mod file;
mod settings;
#[cfg(test)]
mod tests;

use std::path::Path;

use super::options::ConnectionOptions;
use env::Env;
pub use error::EnvConfigError;
use error::{FROM_PROFILE_VAR, GIVEN_EXPLICITLY};
use file::{ConfigFile, Location};
use settings::Settings;

const DEFAULT_PROFILE: &str = "default";

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
