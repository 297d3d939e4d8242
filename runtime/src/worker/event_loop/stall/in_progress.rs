//! Which activity each event-loop thread is polling right now.
//!
//! A thread polls one future at a time, so the polls in progress are at most one per
//! thread. Each thread publishes its current poll in a slot of its own; the sweep reads
//! the slots, and its cost is one lock per event-loop thread however many activities are
//! parked (with 10,000 parked, walking every activity 20 times a second cost 17 ms of CPU
//! a second).
//!
//! The sweep sleeps for good while no poll is in progress (`await_poll`): the first poll
//! to start afterwards wakes it. The poll reads the sweep's flag under its slot's lock,
//! and the sweep raises the flag before it reads the slots, so that one of the two always
//! sees the other: a poll never starts unseen.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::poll_clock::PollClock;

/// What one thread is polling.
#[derive(Default)]
struct Slot {
    current: Mutex<Current>,
}

#[derive(Default)]
struct Current {
    /// `Some` from the start of a poll to its end.
    clock: Option<Arc<PollClock>>,
    /// Polls this thread has started, counted under the lock it takes anyway.
    started: u64,
}

/// The slots of one worker's event-loop threads (primary and spares). No `Default`: each
/// needs an id of its own (`new`).
pub(super) struct InProgress {
    /// Tells one worker's slots from another's on a thread that served both.
    id: u64,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Raised by the sweep before it sleeps for want of polls; the next poll lowers it
    /// and wakes the sweep through `wake`.
    sweep_idle: AtomicBool,
    wake: Notify,
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
            sweep_idle: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Runs `poll` with `clock` published as this thread's poll in progress.
    pub(super) fn publish<T>(&self, clock: &Arc<PollClock>, poll: impl FnOnce() -> T) -> T {
        /// Clears the slot even if the poll unwinds.
        struct Published<'a>(&'a Slot);
        impl Drop for Published<'_> {
            fn drop(&mut self) {
                self.0.current.lock().unwrap().clock.take();
            }
        }
        SLOT.with(|cell| {
            if !matches!(&*cell.borrow(), Some((id, _)) if *id == self.id) {
                *cell.borrow_mut() = Some((self.id, self.register()));
            }
            // Borrowed, not cloned: this runs on every poll of every async activity.
            let cell = cell.borrow();
            let slot = &cell.as_ref().expect("registered above").1;
            let mut current = slot.current.lock().unwrap();
            current.clock = Some(clock.clone());
            current.started = current.started.wrapping_add(1);
            // Read under the slot's lock: see the module's comment.
            let sweep_idle = self.sweep_idle.load(Ordering::Relaxed);
            drop(current);
            if sweep_idle && self.sweep_idle.swap(false, Ordering::AcqRel) {
                self.wake.notify_one();
            }
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
            .filter_map(|slot| slot.current.lock().unwrap().clock.clone())
            .collect()
    }

    /// Whether a poll started since `*seen` was taken (updating it) or one is running.
    pub(super) fn polled_since(&self, seen: &mut u64) -> bool {
        let slots = self.slots.lock().unwrap();
        let (mut started, mut running) = (0u64, false);
        for slot in slots.iter() {
            let current = slot.current.lock().unwrap();
            started = started.wrapping_add(current.started);
            running |= current.clock.is_some();
        }
        // Threads that ended take their counts with them: any change means polls.
        let changed = std::mem::replace(seen, started) != started;
        changed || running
    }

    /// Returns once a poll may be in progress: at once if one is, else when the next
    /// poll starts. A wake left from a poll the sweep had already seen makes it return
    /// early once, which costs one look.
    pub(super) async fn await_poll(&self) {
        self.sweep_idle.store(true, Ordering::Release);
        if self.current().is_empty() {
            self.wake.notified().await;
        }
        self.sweep_idle.store(false, Ordering::Release);
    }

    /// A new slot for the calling thread, listed for the sweep.
    fn register(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot::default());
        self.slots.lock().unwrap().push(slot.clone());
        slot
    }
}
