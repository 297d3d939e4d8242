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
mod usage;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) use per_type::{TypeLimits, TypePermit};
pub use resource::ResourceBasedSlots;

/// Issues slots. The poll loop is its only caller of `reserve`, one reservation at a
/// time; permits are released by dropping them, from any thread.
pub(crate) trait SlotSupplier: Send + Sync + 'static {
    /// Waits until a slot may be issued, and issues it.
    fn reserve(&self) -> Pin<Box<dyn Future<Output = SlotPermit> + Send + '_>>;
    /// Slots that could be reserved now without waiting, when the supplier knows
    /// (a resource-based supplier does not: it depends on the next measurement).
    fn available(&self) -> Option<usize>;
    /// Slots issued and not yet released: polls in flight and tasks held.
    fn issued(&self) -> usize;
    /// What worker heartbeats report as `slot_supplier_kind`, with sdk-core's names.
    fn kind(&self) -> &'static str;
}

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

/// One issued slot; dropping it releases it.
pub(crate) struct SlotPermit {
    /// Whatever the supplier needs dropped to take the slot back.
    _release: Box<dyn Send + Sync>,
    _issued: IssuedGuard,
    /// The activity type's permit, when its type is limited: released with the slot.
    _type_permit: Option<TypePermit>,
}

impl SlotPermit {
    fn new(release: impl Send + Sync + 'static, issued: &Arc<AtomicUsize>) -> Self {
        issued.fetch_add(1, Ordering::AcqRel);
        SlotPermit {
            _release: Box::new(release),
            _issued: IssuedGuard(issued.clone()),
            _type_permit: None,
        }
    }

    /// Keeps the task's per-type permit until the slot itself is released, so that the
    /// limit counts an attempt until no thread works for it any more.
    pub(crate) fn hold(&mut self, type_permit: Option<TypePermit>) {
        if type_permit.is_some() {
            self._type_permit = type_permit;
        }
    }
}

/// Counts a slot as issued while it lives.
struct IssuedGuard(Arc<AtomicUsize>);

impl Drop for IssuedGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
