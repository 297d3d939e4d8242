//! Slots: the right to hold one activity task. The poll loop reserves one before each
//! poll, and the task gives it back once its result is reported and its threads are
//! done, so a worker never holds more tasks than its supplier allows.
//!
//! Which supplier issues them is the worker's choice, as sdk-core's `SlotSupplier`:
//! - [`fixed`]: a fixed number (`max_concurrent_activities`), the default;
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

use crate::worker::options::WorkerOptions;

/// The supplier `options` ask for.
pub(crate) fn supplier(options: &WorkerOptions) -> Arc<dyn SlotSupplier> {
    match options.resource_based_slots {
        Some(resource) => Arc::new(resource::ResourceSlots::new(resource)),
        None => Arc::new(fixed::FixedSlots::new(
            options.max_concurrent_activities.max(1),
        )),
    }
}

/// The most slots `options` allow: the fixed number, or the resource-based maximum.
pub(crate) fn most(options: &WorkerOptions) -> usize {
    match &options.resource_based_slots {
        Some(resource) => resource.maximum_slots,
        None => options.max_concurrent_activities.max(1),
    }
}

/// The slot setting, for the start-up line.
pub(crate) fn describe(options: &WorkerOptions) -> String {
    match &options.resource_based_slots {
        Some(resource) => format!(
            "resource-based: memory {}, cpu {}, {}..={} slots",
            resource.target_memory,
            resource.target_cpu,
            resource.minimum_slots,
            resource.maximum_slots
        ),
        None => options.max_concurrent_activities.max(1).to_string(),
    }
}
