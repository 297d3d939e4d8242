//! [`InvalidOption`]: a worker setting that cannot work, named as an embedder sets it,
//! with the flag of `legwork::main!()` that sets the same thing for its own message.

use std::fmt;

/// A setting of [`WorkerOptions`](super::WorkerOptions) that cannot work; the worker
/// stops before it connects.
///
/// ```
/// use legwork::worker::{Worker, WorkerError, WorkerOptions};
///
/// let mut options = WorkerOptions::new("images");
/// options.max_activities_per_second = Some(-1.0);
/// let Err(WorkerError::InvalidOption(invalid)) = Worker::new(options).start() else {
///     panic!("refused");
/// };
/// assert_eq!(invalid.option, "max_activities_per_second");
/// assert_eq!(
///     invalid.to_string(),
///     "invalid max_activities_per_second: must be a positive number of activities per second, got -1"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidOption {
    /// The setting as `WorkerOptions` names it, e.g. `pollers`, `deployment.build_id`,
    /// `activity_limits`.
    pub option: &'static str,
    /// What is wrong, and what would work.
    pub reason: String,
    /// The flag of `legwork::main!()` that sets the same thing.
    flag: &'static str,
}

impl InvalidOption {
    pub(crate) fn new(option: &'static str, flag: &'static str, reason: impl Into<String>) -> Self {
        InvalidOption {
            option,
            reason: reason.into(),
            flag,
        }
    }

    /// The message as a worker started by `legwork::main!()` prints it: naming the flag.
    #[cfg_attr(not(any(feature = "cli", test)), allow(dead_code))]
    pub(crate) fn on_command_line(&self) -> String {
        format!("invalid {}: {}", self.flag, self.reason)
    }
}

impl fmt::Display for InvalidOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.option, self.reason)
    }
}

impl std::error::Error for InvalidOption {}

#[cfg(test)]
mod tests {
    use super::InvalidOption;

    #[test]
    fn embedders_read_the_option_and_the_command_line_the_flag() {
        let invalid = InvalidOption::new("pollers", "--pollers", "must be at least 1");
        assert_eq!(invalid.to_string(), "invalid pollers: must be at least 1");
        assert_eq!(
            invalid.on_command_line(),
            "invalid --pollers: must be at least 1"
        );
    }
}
