//! `ResourceBasedSlots`: the settings of the resource-based supplier (`resource.rs`), apart
//! from it so that the worker's options and the PID controllers name them without it.

use std::time::Duration;

use crate::worker::invalid_option::InvalidOption;

/// Slots issued while CPU and memory stay under targets, instead of a fixed number: set
/// [`Slots::ResourceBased`](super::Slots::ResourceBased)
/// (or pass `--resource-based-slots`). sdk-core's controller and defaults for activity
/// slots: past the minimum, a slot is issued at most every `ramp_throttle`, and only while
/// two PID controllers (P 5, I 0, D 1) fed CPU and memory usage say there is room. Usage
/// is the process's cgroup v2 limits where set (containers), else the host's.
///
/// ```
/// use legwork::worker::{ResourceBasedSlots, Slots, WorkerOptions};
///
/// let mut options = WorkerOptions::new("images");
/// let mut slots = ResourceBasedSlots::new(0.8, 0.9); // memory, then CPU, as sdk-core
/// slots.maximum_slots = 500;
/// options.slots = Slots::ResourceBased(slots);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ResourceBasedSlots {
    /// Memory usage to stay under, a fraction in `(0, 1]` of the cgroup's `memory.max`,
    /// else of the host's memory.
    pub target_memory: f64,
    /// CPU usage to stay under, a fraction in `(0, 1]` of the cgroup's `cpu.max`, else of
    /// all the host's cores.
    pub target_cpu: f64,
    /// Slots issued whatever the usage (1).
    pub minimum_slots: usize,
    /// Slots never exceeded (10 000).
    pub maximum_slots: usize,
    /// Past the minimum, the least time between two slots (50 ms), so that usage shows
    /// the last task's load before the next one starts.
    pub ramp_throttle: Duration,
}

impl ResourceBasedSlots {
    /// sdk-core's minimum for activity slots.
    pub const DEFAULT_MINIMUM: usize = 1;
    /// sdk-core's maximum for activity slots.
    pub const DEFAULT_MAXIMUM: usize = 10_000;
    /// sdk-core's ramp throttle for activity slots.
    pub const DEFAULT_RAMP_THROTTLE: Duration = Duration::from_millis(50);

    /// Targets for memory and CPU usage, as fractions (sdk-core's
    /// `ResourceBasedTuner::new(target_mem, target_cpu)` order), with sdk-core's bounds.
    pub fn new(target_memory: f64, target_cpu: f64) -> Self {
        ResourceBasedSlots {
            target_memory,
            target_cpu,
            minimum_slots: Self::DEFAULT_MINIMUM,
            maximum_slots: Self::DEFAULT_MAXIMUM,
            ramp_throttle: Self::DEFAULT_RAMP_THROTTLE,
        }
    }

    /// Settings that cannot work, named as the option and as the flag that sets them.
    pub(crate) fn validate(&self) -> Result<(), InvalidOption> {
        for (option, flag, target) in [
            ("slots.target_memory", "--target-memory", self.target_memory),
            ("slots.target_cpu", "--target-cpu", self.target_cpu),
        ] {
            if !(target > 0.0 && target <= 1.0) {
                return Err(InvalidOption::new(
                    option,
                    flag,
                    format!("must be a fraction above 0 and at most 1 (0.8 is 80 %), got {target}"),
                ));
            }
        }
        if self.minimum_slots > self.maximum_slots || self.maximum_slots == 0 {
            return Err(InvalidOption::new(
                "slots",
                "--resource-based-slots",
                format!(
                    "resource-based slots need 0 <= minimum <= maximum and maximum >= 1, got \
                     minimum {} and maximum {}",
                    self.minimum_slots, self.maximum_slots
                ),
            ));
        }
        Ok(())
    }
}
