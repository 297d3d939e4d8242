//! Worker Deployment Versioning: which deployment and build this worker belongs to, sent
//! as `deployment_options` on every poll and completion (the current API; never the
//! legacy `worker_version_capabilities` / `worker_version` fields).
//!
//! Unversioned by default, with a build id that tells builds apart in `temporal
//! task-queue describe`: a checksum of the executable, as Go's SDK does, so that it
//! changes exactly when the code does, with nothing to set.

use std::io::Read;
use std::sync::OnceLock;

use crate::proto::{WorkerDeploymentOptions, WorkerVersioningMode};
use crate::worker::invalid_option::InvalidOption;

/// Whether the worker joins a Worker Deployment Version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersioningMode {
    /// Tasks reach this worker whatever its build (rolling upgrades). The default.
    #[default]
    Unversioned,
    /// The worker belongs to the version `deployment name` + `build id`, which the server
    /// routes to as the version is made current or ramping (`temporal worker deployment
    /// set-current-version`). An activity-only worker in this mode gets tasks only while
    /// its version is current or ramping, or when the workflows that schedule the
    /// activities run on the same version.
    Versioned,
}

/// The deployment this worker belongs to. Unversioned by default, with a checksum of the
/// executable as its build id.
///
/// ```
/// use legwork::worker::{Deployment, WorkerOptions};
///
/// let mut options = WorkerOptions::new("images");
/// options.deployment = Deployment::versioned("image-service", "2024-06-01.3");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deployment {
    /// The Worker Deployment's name; required when versioned.
    pub name: Option<String>,
    /// This build's id; `None` is a checksum of the executable (unversioned only).
    pub build_id: Option<String>,
    /// Whether the worker joins its deployment version.
    pub mode: VersioningMode,
}

impl Deployment {
    /// A versioned worker of deployment `name`, build `build_id`.
    pub fn versioned(name: impl Into<String>, build_id: impl Into<String>) -> Self {
        Deployment {
            name: Some(name.into()),
            build_id: Some(build_id.into()),
            mode: VersioningMode::Versioned,
        }
    }

    /// An unversioned worker reporting `build_id` (instead of the executable's checksum).
    pub fn unversioned(build_id: impl Into<String>) -> Self {
        Deployment {
            build_id: Some(build_id.into()),
            ..Deployment::default()
        }
    }

    /// The options as polls and completions carry them; an error names the missing or
    /// invalid setting and the flag that fixes it.
    pub(crate) fn resolve(&self) -> Result<WorkerDeploymentOptions, InvalidOption> {
        let name = self.name.as_deref().map(str::trim);
        let build_id = self.build_id.as_deref().map(str::trim);
        let invalid_name =
            |reason: String| InvalidOption::new("deployment.name", "--deployment-name", reason);
        let invalid_build = |reason: &str| {
            InvalidOption::new("deployment.build_id", "--build-id", reason.to_owned())
        };
        if name == Some("") {
            return Err(invalid_name("is empty".to_owned()));
        }
        if build_id == Some("") {
            return Err(invalid_build("is empty"));
        }
        if let Some(name) = name.filter(|name| name.contains('.')) {
            // The server joins name and build id with a dot into the version string.
            return Err(invalid_name(format!(
                "`{name}` contains a `.`; choose one without"
            )));
        }
        if name.is_some() && build_id.is_none() {
            return Err(invalid_build(
                "is missing: a deployment name needs a build id too (the build names the version)",
            ));
        }
        let mode = match self.mode {
            VersioningMode::Versioned if name.is_none() => {
                return Err(invalid_name(
                    "is missing: versioning needs a deployment name and a build id".to_owned(),
                ))
            }
            VersioningMode::Versioned => WorkerVersioningMode::Versioned,
            VersioningMode::Unversioned => WorkerVersioningMode::Unversioned,
        };
        Ok(WorkerDeploymentOptions {
            deployment_name: name.unwrap_or_default().to_owned(),
            build_id: build_id.map_or_else(executable_checksum, str::to_owned),
            worker_versioning_mode: mode as i32,
        })
    }
}

/// The default build id: the first 32 hex digits of the executable's SHA-256, read once
/// per process (about 25 ms for a 10 MB release binary); empty if it cannot be read.
fn executable_checksum() -> String {
    static CHECKSUM: OnceLock<String> = OnceLock::new();
    CHECKSUM
        .get_or_init(|| {
            let digest = std::env::current_exe()
                .and_then(std::fs::File::open)
                .and_then(|mut file| {
                    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
                    let mut buffer = vec![0; 1 << 20];
                    loop {
                        let read = file.read(&mut buffer)?;
                        if read == 0 {
                            return Ok(context.finish());
                        }
                        context.update(&buffer[..read]);
                    }
                });
            match digest {
                Ok(digest) => digest.as_ref()[..16]
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect(),
                Err(error) => {
                    tracing::debug!(%error, "could not read the executable for a build id");
                    String::new()
                }
            }
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unversioned_by_default_with_the_executables_checksum() {
        let options = Deployment::default().resolve().unwrap();
        assert_eq!(
            options.worker_versioning_mode,
            WorkerVersioningMode::Unversioned as i32
        );
        assert_eq!(options.deployment_name, "");
        assert_eq!(options.build_id.len(), 32, "{}", options.build_id);
        assert_eq!(options.build_id, executable_checksum());
        let given = Deployment::unversioned("v7").resolve().unwrap();
        assert_eq!(given.build_id, "v7");
    }

    #[test]
    fn versioned_carries_name_and_build() {
        let options = Deployment::versioned("images", "b1").resolve().unwrap();
        assert_eq!(options.deployment_name, "images");
        assert_eq!(options.build_id, "b1");
        assert_eq!(
            options.worker_versioning_mode,
            WorkerVersioningMode::Versioned as i32
        );
    }

    #[test]
    fn incomplete_settings_are_refused_naming_the_option_and_the_flag() {
        let mut no_build = Deployment::versioned("images", "b1");
        no_build.build_id = None;
        let error = no_build.resolve().unwrap_err();
        assert_eq!(error.option, "deployment.build_id");
        assert!(error
            .on_command_line()
            .starts_with("invalid --build-id: is missing"));
        let no_name = Deployment {
            mode: VersioningMode::Versioned,
            ..Deployment::unversioned("b1")
        };
        let error = no_name.resolve().unwrap_err();
        assert_eq!(error.option, "deployment.name");
        assert!(error.on_command_line().contains("--deployment-name"));
        let dotted = Deployment::versioned("a.b", "b1").resolve().unwrap_err();
        assert!(dotted.reason.contains("`a.b`"), "{dotted}");
        assert!(Deployment::versioned(" ", "b1").resolve().is_err());
        assert!(Deployment::versioned("images", "").resolve().is_err());
    }
}
