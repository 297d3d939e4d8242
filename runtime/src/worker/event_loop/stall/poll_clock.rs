//! `PollClock`: one activity's poll in progress, as the stall sweep reads it. Apart from
//! `mod.rs` so that `in_progress.rs`, which holds them, does not depend on the detector.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;

use crate::registry::ActivityDescriptor;

/// One activity's poll in progress, stamped in nanoseconds since `epoch()` (0: none).
pub(super) struct PollClock {
    pub(super) descriptor: &'static ActivityDescriptor,
    pub(super) activity_id: String,
    pub(super) attempt: u32,
    /// The start stamp of the poll in progress, `| FLAGGED` once the sweep has counted it
    /// in `held`; the poll takes it back out when it ends.
    pub(super) poll_started: AtomicU64,
    /// Flagged polls in progress on the loop this activity runs on.
    pub(super) held: Arc<AtomicUsize>,
    /// The start stamp of the latest poll already warned about.
    pub(super) warned: AtomicU64,
}
