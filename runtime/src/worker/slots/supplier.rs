//! The `SlotSupplier` seam and the `SlotPermit` every supplier issues.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::per_type::TypePermit;

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

/// One issued slot; dropping it releases it.
pub(crate) struct SlotPermit {
    /// Whatever the supplier needs dropped to take the slot back.
    _release: Box<dyn Send + Sync>,
    _issued: IssuedGuard,
    /// The activity type's permit, when its type is limited: released with the slot.
    _type_permit: Option<TypePermit>,
}

impl SlotPermit {
    pub(super) fn new(release: impl Send + Sync + 'static, issued: &Arc<AtomicUsize>) -> Self {
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
