//! Slots: the right to hold one activity task. The poll loop reserves one before each
//! poll, and the task gives it back once its result is reported and its threads are
//! done, so a worker never holds more tasks than its supplier allows.
//!
//! Which supplier issues them is the worker's choice, as sdk-core's `SlotSupplier`:
//! - [`fixed`]: a fixed number ([`Slots::Fixed`]), the default;
//! - [`resource`]: as many as CPU and memory allow ([`ResourceBasedSlots`]), sdk-core's
//!   PID controllers over usage read from cgroup v2 or `/proc` ([`usage`]).
//!
//! [`per_type`] adds what no SDK has: a limit per activity type, inside the worker's slots.

mod fixed;
mod per_type;
mod pid;
mod resource;
pub(crate) mod resource_options;
mod supplier;
mod usage;

use std::sync::Arc;

pub(crate) use per_type::TypeLimits;
pub use resource_options::ResourceBasedSlots;
pub(crate) use supplier::{SlotPermit, SlotSupplier};

/// How many activity tasks a worker holds at once, sync and async together (sdk-core's
/// slot suppliers).
///
/// ```
/// use legwork::worker::{ResourceBasedSlots, Slots, WorkerOptions};
///
/// let mut options = WorkerOptions::new("images");
/// options.slots = Slots::Fixed(20);
/// options.slots = Slots::ResourceBased(ResourceBasedSlots::new(0.8, 0.9));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Slots {
    /// Exactly this many (at least 1); 100 by default, as every SDK.
    Fixed(usize),
    /// As many as CPU and memory allow, within bounds: see [`ResourceBasedSlots`].
    ResourceBased(ResourceBasedSlots),
}

impl Default for Slots {
    fn default() -> Self {
        Slots::Fixed(100)
    }
}

impl Slots {
    /// The supplier this setting asks for.
    pub(crate) fn supplier(&self) -> Arc<dyn SlotSupplier> {
        match *self {
            Slots::ResourceBased(resource) => Arc::new(resource::ResourceSlots::new(resource)),
            Slots::Fixed(count) => Arc::new(fixed::FixedSlots::new(count.max(1))),
        }
    }

    /// The most slots this allows: the fixed number, or the resource-based maximum.
    pub(crate) fn most(&self) -> usize {
        match self {
            Slots::ResourceBased(resource) => resource.maximum_slots,
            Slots::Fixed(count) => (*count).max(1),
        }
    }

    /// The setting, for the start-up line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Slots::ResourceBased(resource) => format!(
                "resource-based: memory {}, cpu {}, {}..={} slots",
                resource.target_memory,
                resource.target_cpu,
                resource.minimum_slots,
                resource.maximum_slots
            ),
            Slots::Fixed(count) => (*count).max(1).to_string(),
        }
    }
}
