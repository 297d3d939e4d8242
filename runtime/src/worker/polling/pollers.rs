//! How many `PollActivityTaskQueue` calls a worker keeps open: the `Pollers` setting, and
//! what it resolves to once the namespace is known (`Behavior`). How the number follows
//! the server is `poll_scaler.rs`; the poll loop's lock around it is `poller_gate.rs`.

use crate::worker::invalid_option::InvalidOption;

/// How many polls a worker keeps open. [`Pollers::Auto`] by default.
///
/// ```
/// use legwork::worker::{Pollers, WorkerOptions};
///
/// let mut options = WorkerOptions::new("images");
/// options.pollers = Pollers::Fixed(2);
/// options.pollers = Pollers::autoscaling(1, 5, 100);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pollers {
    /// Autoscaling with the SDKs' bounds (minimum 1, initial 5, maximum 100) where the
    /// namespace asks workers to enrol (its `poller_autoscaling_auto_enroll` capability),
    /// else a fixed 5, as Go's SDK does with poller settings left at their defaults.
    #[default]
    Auto,
    /// Exactly this many polls, whatever the server suggests.
    Fixed(usize),
    /// Follow the server's suggestions within `minimum..=maximum`, starting at `initial`.
    Autoscaling {
        /// The fewest polls kept open; at least 1.
        minimum: usize,
        /// The polls opened at start; at least `minimum`.
        initial: usize,
        /// The most polls open at once; at least `initial`.
        maximum: usize,
    },
}

impl Pollers {
    /// The SDKs' autoscaling bounds (sdk-go `internal_worker.go`, sdk-python `_worker.py`):
    /// the fewest polls an autoscaling worker keeps open.
    pub const DEFAULT_MINIMUM: usize = 1;
    /// Polls an autoscaling worker starts with, and the fixed count of [`Pollers::Auto`]
    /// on namespaces that do not enrol workers.
    pub const DEFAULT_INITIAL: usize = 5;
    /// The most polls an autoscaling worker keeps open.
    pub const DEFAULT_MAXIMUM: usize = 100;

    /// Autoscaling within `minimum..=maximum`, starting at `initial`.
    pub fn autoscaling(minimum: usize, initial: usize, maximum: usize) -> Self {
        Pollers::Autoscaling {
            minimum,
            initial,
            maximum,
        }
    }

    /// What the worker does on a namespace that does (or does not) ask workers to enrol;
    /// an error names the setting that cannot work.
    pub(crate) fn resolve(self, auto_enroll: bool) -> Result<Behavior, InvalidOption> {
        match self {
            Pollers::Auto if auto_enroll => Ok(Behavior::Autoscaling {
                minimum: Pollers::DEFAULT_MINIMUM,
                initial: Pollers::DEFAULT_INITIAL,
                maximum: Pollers::DEFAULT_MAXIMUM,
            }),
            Pollers::Auto => Ok(Behavior::Fixed(Pollers::DEFAULT_INITIAL)),
            Pollers::Fixed(0) => Err(invalid("must be at least 1".to_owned())),
            Pollers::Fixed(count) => Ok(Behavior::Fixed(count)),
            Pollers::Autoscaling {
                minimum,
                initial,
                maximum,
            } if minimum >= 1 && minimum <= initial && initial <= maximum => {
                Ok(Behavior::Autoscaling {
                    minimum,
                    initial,
                    maximum,
                })
            }
            Pollers::Autoscaling {
                minimum,
                initial,
                maximum,
            } => Err(invalid(format!(
                "autoscaling needs 1 <= minimum <= initial <= maximum, got minimum {minimum}, \
                 initial {initial}, maximum {maximum}"
            ))),
        }
    }
}

fn invalid(reason: String) -> InvalidOption {
    InvalidOption::new("pollers", "--pollers", reason)
}

/// The poller setting a worker runs with, once the namespace is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Behavior {
    Fixed(usize),
    Autoscaling {
        minimum: usize,
        initial: usize,
        maximum: usize,
    },
}

impl Behavior {
    pub(crate) fn is_autoscaling(self) -> bool {
        matches!(self, Behavior::Autoscaling { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_namespace_and_bad_bounds_are_refused() {
        assert_eq!(Pollers::Auto.resolve(false).unwrap(), Behavior::Fixed(5));
        assert_eq!(
            Pollers::Auto.resolve(true).unwrap(),
            Behavior::Autoscaling {
                minimum: 1,
                initial: 5,
                maximum: 100
            }
        );
        assert_eq!(Pollers::Fixed(3).resolve(true).unwrap(), Behavior::Fixed(3));
        assert!(Pollers::Fixed(0).resolve(false).is_err());
        let error = Pollers::autoscaling(2, 1, 10).resolve(false).unwrap_err();
        assert_eq!(error.option, "pollers");
        assert!(error.reason.contains("minimum 2, initial 1"), "{error}");
        assert!(Pollers::autoscaling(0, 1, 10).resolve(false).is_err());
    }
}
