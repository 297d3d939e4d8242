//! The slot flags: resource-based slots and per-type limits.

use std::collections::BTreeMap;

use crate::worker::{ResourceBasedSlots, Slots, WorkerOptions};

/// sdk-core leaves the targets to the user; the SDKs' samples use 80 %.
const DEFAULT_TARGET: f64 = 0.8;

#[derive(Debug, clap::Args)]
pub(in crate::main_entry) struct SlotFlags {
    /// Issue slots while CPU and memory stay under --target-cpu and --target-memory
    /// (cgroup limits where set, else the host's), as sdk-core's resource-based tuner,
    /// instead of a fixed --max-concurrent-activities
    #[arg(
        long,
        conflicts_with = "max_concurrent_activities",
        help_heading = "Slots"
    )]
    resource_based_slots: bool,
    /// CPU usage to stay under, a fraction [default: 0.8]
    #[arg(
        long,
        value_name = "FRACTION",
        requires = "resource_based_slots",
        help_heading = "Slots"
    )]
    target_cpu: Option<f64>,
    /// Memory usage to stay under, a fraction [default: 0.8]
    #[arg(
        long,
        value_name = "FRACTION",
        requires = "resource_based_slots",
        help_heading = "Slots"
    )]
    target_memory: Option<f64>,
    /// At most N attempts of activity TYPE run at once; repeatable; overrides
    /// #[activity(max_concurrent = N)]
    #[arg(long = "max-concurrent", value_name = "TYPE=N", value_parser = parse_limit,
          help_heading = "Slots")]
    max_concurrent: Vec<(String, usize)>,
}

impl SlotFlags {
    /// Lays the slot flags over `options`; bad targets are refused when the worker starts.
    pub(in crate::main_entry) fn apply(&self, options: &mut WorkerOptions) {
        if self.resource_based_slots {
            options.slots = Slots::ResourceBased(ResourceBasedSlots::new(
                self.target_memory.unwrap_or(DEFAULT_TARGET),
                self.target_cpu.unwrap_or(DEFAULT_TARGET),
            ));
        }
        let limits: BTreeMap<_, _> = self.max_concurrent.iter().cloned().collect();
        options.activity_limits.extend(limits);
    }
}

/// `TYPE=N`, N at least 1.
fn parse_limit(text: &str) -> Result<(String, usize), String> {
    let error = || format!("`{text}` is not TYPE=N with N a whole number of at least 1");
    let (name, limit) = text.rsplit_once('=').ok_or_else(error)?;
    let limit = limit.trim().parse::<usize>().map_err(|_| error())?;
    if name.trim().is_empty() || limit == 0 {
        return Err(error());
    }
    Ok((name.trim().to_owned(), limit))
}

#[cfg(test)]
mod tests {
    use super::super::Flags;
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Flags, clap::Error> {
        Flags::try_parse_from(std::iter::once("worker").chain(args.iter().copied()))
    }

    #[test]
    fn resource_based_slots_and_type_limits() {
        let mut options = WorkerOptions::new("q");
        parse(&[]).unwrap().slots.apply(&mut options);
        assert_eq!(options.slots, Slots::Fixed(100));
        assert!(options.activity_limits.is_empty());

        let flags = parse(&[
            "--resource-based-slots",
            "--target-cpu=0.9",
            "--max-concurrent",
            "render=2",
            "--max-concurrent=resize=4",
        ])
        .unwrap();
        flags.slots.apply(&mut options);
        assert_eq!(
            options.slots,
            Slots::ResourceBased(ResourceBasedSlots::new(0.8, 0.9))
        );
        assert_eq!(
            options.activity_limits,
            BTreeMap::from([("render".to_owned(), 2), ("resize".to_owned(), 4)])
        );
    }

    #[test]
    fn contradictions_and_bad_limits_are_refused() {
        let both = parse(&["--resource-based-slots", "--max-concurrent-activities=10"]);
        assert!(both
            .unwrap_err()
            .to_string()
            .contains("cannot be used with"));
        let alone = parse(&["--target-memory=0.5"]).unwrap_err().to_string();
        assert!(alone.contains("--resource-based-slots"), "{alone}");
        for bad in ["render", "render=0", "=3", "render=-1", "render=x"] {
            let error = parse(&["--max-concurrent", bad]).unwrap_err().to_string();
            assert!(error.contains("TYPE=N"), "{bad}: {error}");
        }
    }
}
