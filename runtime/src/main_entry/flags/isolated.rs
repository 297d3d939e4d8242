//! The flags of isolated activities' child processes.

use std::time::Duration;

use crate::isolated::{parse_size, IsolatedOptions};
use crate::main_entry::duration::parse_duration;

#[derive(Debug, clap::Args)]
pub(in crate::main_entry) struct IsolatedFlags {
    /// How long an isolated activity's child, told its attempt is cancelled, timed out or
    /// abandoned at shutdown, has to return before it is killed
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration,
          help_heading = "Isolated activities")]
    isolated_kill_grace: Duration,
    /// Replace a child after it ran N attempts (leaky native libraries) [default: never]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
          help_heading = "Isolated activities")]
    isolated_max_tasks: Option<u32>,
    /// Memory limit of a child while it runs an isolated activity without a
    /// `memory_limit` of its own, e.g. 512MiB [default: none]
    #[arg(long, value_name = "SIZE", value_parser = parse_limit,
          help_heading = "Isolated activities")]
    isolated_memory_limit: Option<u64>,
    /// Children kept started and idle
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        help_heading = "Isolated activities"
    )]
    isolated_warm: usize,
}

impl IsolatedFlags {
    pub(in crate::main_entry) fn apply(&self, options: &mut IsolatedOptions) {
        options.kill_grace = self.isolated_kill_grace;
        options.max_tasks_per_child = self.isolated_max_tasks;
        options.memory_limit = self.isolated_memory_limit;
        options.warm_children = self.isolated_warm;
    }
}

fn parse_limit(text: &str) -> Result<u64, String> {
    match parse_size(text) {
        Some(0) | None => Err(format!(
            "`{text}` is not a size: write a whole number and KiB, MiB or GiB, e.g. 512MiB"
        )),
        Some(bytes) => Ok(bytes),
    }
}
