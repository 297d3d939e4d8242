//! Which activity each event-loop thread is polling right now.
//!
//! A thread polls one future at a time, so the polls in progress are at most one per
//! thread. Each thread publishes its current poll in a slot of its own; the sweep reads
//! the slots, and its cost is one lock per event-loop thread however many activities are
//! parked (with 10,000 parked, walking every activity 20 times a second cost 17 ms of CPU
//! a second).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::poll_clock::PollClock;

/// What one thread is polling: `Some` from the start of a poll to its end.
#[derive(Default)]
struct Slot {
    current: Mutex<Option<Arc<PollClock>>>,
}

/// The slots of one worker's event-loop threads (primary and spares). No `Default`: each
/// needs an id of its own (`new`).
pub(super) struct InProgress {
    /// Tells one worker's slots from another's on a thread that served both.
    id: u64,
    slots: Mutex<Vec<Arc<Slot>>>,
}

thread_local! {
    /// This thread's slot, and the `InProgress::id` it is listed in.
    static SLOT: RefCell<Option<(u64, Arc<Slot>)>> = const { RefCell::new(None) };
}

impl InProgress {
    pub(super) fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        InProgress {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            slots: Mutex::default(),
        }
    }

    /// Runs `poll` with `clock` published as this thread's poll in progress.
    pub(super) fn publish<T>(&self, clock: &Arc<PollClock>, poll: impl FnOnce() -> T) -> T {
        /// Clears the slot even if the poll unwinds.
        struct Published<'a>(&'a Slot);
        impl Drop for Published<'_> {
            fn drop(&mut self) {
                self.0.current.lock().unwrap().take();
            }
        }
        SLOT.with(|cell| {
            if !matches!(&*cell.borrow(), Some((id, _)) if *id == self.id) {
                *cell.borrow_mut() = Some((self.id, self.register()));
            }
            // Borrowed, not cloned: this runs on every poll of every async activity.
            let cell = cell.borrow();
            let slot = &cell.as_ref().expect("registered above").1;
            *slot.current.lock().unwrap() = Some(clock.clone());
            let _published = Published(slot);
            poll()
        })
    }

    /// The polls in progress now, one per thread at most.
    pub(super) fn current(&self) -> Vec<Arc<PollClock>> {
        let mut slots = self.slots.lock().unwrap();
        // A thread that ended dropped its own reference: its slot goes.
        slots.retain(|slot| Arc::strong_count(slot) > 1);
        slots
            .iter()
            .filter_map(|slot| slot.current.lock().unwrap().clone())
            .collect()
    }

    /// A new slot for the calling thread, listed for the sweep.
    fn register(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot::default());
        self.slots.lock().unwrap().push(slot.clone());
        slot
    }
}
