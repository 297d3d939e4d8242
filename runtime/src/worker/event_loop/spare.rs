//! Spare event loops: the event loop heals itself. When every thread of the event loop is
//! held by a poll the stall detector has flagged, new async activities start on a spare
//! event-loop thread instead of queueing behind the rogue; spares are bounded (one per
//! core) and retired once the stalls end and their tasks are done.
//!
//! Each spare is a Tokio runtime of its own with one worker thread (`legwork-spare-N`),
//! multi-threaded like the main loop so that `block_in_place` works there too. A task
//! never moves: what was queued on a held loop before the stall was flagged waits there.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prometheus::IntGauge;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// The event loop and its spares. The stall detector counts the flagged polls in progress
/// on each loop (its `held` counter); dispatch places each new async activity on the first
/// loop that is not held.
pub(crate) struct EventLoops {
    primary: Handle,
    primary_threads: usize,
    primary_held: Arc<AtomicUsize>,
    max_spares: usize,
    /// In the order they were started; dispatch takes the first free one.
    spares: Mutex<Vec<Spare>>,
    /// Names the next spare thread.
    started: AtomicUsize,
    /// `legwork_event_loop_spares`.
    gauge: IntGauge,
    closed: AtomicBool,
}

struct Spare {
    name: String,
    /// Taken by `Drop`.
    runtime: Option<Runtime>,
    /// Flagged polls in progress on its one thread.
    held: Arc<AtomicUsize>,
    /// Activities placed on it and not yet ended.
    tasks: Arc<AtomicUsize>,
}

impl Spare {
    fn runtime(&self) -> &Runtime {
        self.runtime
            .as_ref()
            .expect("a spare's runtime is taken only when it drops")
    }

    fn is_held(&self) -> bool {
        self.held.load(Ordering::Acquire) >= 1
    }

    /// Nothing of legwork's or the user's left on it, including tasks an activity spawned.
    fn is_idle(&self) -> bool {
        self.tasks.load(Ordering::Acquire) == 0 && self.runtime().metrics().num_alive_tasks() == 0
    }
}

/// Where an async activity runs: the loop's handle, the counter its flagged polls go to,
/// and, on a spare, the mark that keeps the spare alive until the activity ends.
pub(crate) struct Placement {
    handle: Handle,
    held: Arc<AtomicUsize>,
    task: Option<TaskMark>,
}

/// Counts an activity on a spare while alive.
struct TaskMark(Arc<AtomicUsize>);

impl Drop for TaskMark {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Placement {
    /// The counter of flagged polls in progress on this loop, for the stall detector.
    pub(crate) fn held(&self) -> Arc<AtomicUsize> {
        self.held.clone()
    }

    pub(crate) fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.task {
            None => self.handle.spawn(future),
            Some(mark) => self.handle.spawn(async move {
                let _mark = mark;
                future.await
            }),
        }
    }
}

/// Where new async activities go after a sweep of the stall detector.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// The event loop has a thread no flagged poll holds.
    Primary,
    /// Every thread of the event loop is held; a spare takes new activities.
    Spare { name: String, new: bool },
    /// The event loop and every spare are held, and no more spares may start.
    Exhausted { spares: usize },
}

impl Route {
    /// What the stall warning adds.
    pub(crate) fn describe(&self) -> String {
        match self {
            Route::Primary => String::new(),
            Route::Spare { name, new: true } => format!(
                ". Every event-loop thread is held, so a spare thread took over: new async \
                 activities start on `{name}`"
            ),
            Route::Spare { name, new: false } => {
                format!(". New async activities start on spare thread `{name}`")
            }
            Route::Exhausted { spares } => format!(
                ". Every event-loop thread and all {spares} spare threads (one per core) are \
                 held: new async activities wait for one to be free"
            ),
        }
    }
}

impl EventLoops {
    pub(crate) fn new(
        primary: Handle,
        primary_threads: usize,
        max_spares: usize,
        gauge: IntGauge,
    ) -> Self {
        gauge.set(0);
        EventLoops {
            primary,
            primary_threads: primary_threads.max(1),
            primary_held: Arc::default(),
            max_spares,
            spares: Mutex::default(),
            started: AtomicUsize::new(0),
            gauge,
            closed: AtomicBool::new(false),
        }
    }

    fn primary_is_held(&self) -> bool {
        self.primary_held.load(Ordering::Acquire) >= self.primary_threads
    }

    /// The first loop that is not held; the event loop when all are (the activity waits
    /// there, as it would without spares). One atomic load while the event loop is free.
    pub(crate) fn place(&self) -> Placement {
        if self.primary_is_held() {
            let spares = self.spares.lock().unwrap();
            if let Some(spare) = spares.iter().find(|spare| !spare.is_held()) {
                // Counted under the lock, so that `rebalance` cannot retire it meanwhile.
                spare.tasks.fetch_add(1, Ordering::AcqRel);
                return Placement {
                    handle: spare.runtime().handle().clone(),
                    held: spare.held.clone(),
                    task: Some(TaskMark(spare.tasks.clone())),
                };
            }
        }
        Placement {
            handle: self.primary.clone(),
            held: self.primary_held.clone(),
            task: None,
        }
    }

    /// Whether the sweep must keep looking: spares exist, to be retired when done.
    pub(crate) fn has_spares(&self) -> bool {
        !self.spares.lock().unwrap().is_empty()
    }

    /// Called by the stall detector's sweep after it flagged polls: retires the spares no
    /// longer needed (a loop before them is free, and they are idle), starts one when
    /// every loop is held and the bound allows, and says where new activities go.
    pub(crate) fn rebalance(&self) -> Route {
        let mut spares = self.spares.lock().unwrap();
        if self.closed.load(Ordering::Acquire) {
            return Route::Primary;
        }
        let mut needed = self.primary_is_held();
        let mut route = (!needed).then_some(Route::Primary);
        spares.retain(|spare| {
            if needed || !spare.is_idle() {
                if needed && !spare.is_held() && route.is_none() {
                    route = Some(Route::Spare {
                        name: spare.name.clone(),
                        new: false,
                    });
                }
                needed &= spare.is_held();
                return true;
            }
            info!(
                "spare event-loop thread `{}` retired: the stalls it covered have ended",
                spare.name
            );
            false
        });
        let route = match route {
            Some(route) => route,
            None if spares.len() < self.max_spares => match self.start_spare() {
                Ok(spare) => {
                    let name = spare.name.clone();
                    spares.push(spare);
                    Route::Spare { name, new: true }
                }
                Err(error) => {
                    warn!("could not start a spare event-loop thread: {error}");
                    Route::Exhausted {
                        spares: spares.len(),
                    }
                }
            },
            None => Route::Exhausted {
                spares: spares.len(),
            },
        };
        // Retired runtimes were dropped by `retain`: see `Drop for Spare`.
        self.gauge.set(spares.len() as i64);
        route
    }

    fn start_spare(&self) -> std::io::Result<Spare> {
        let name = format!(
            "legwork-spare-{}",
            self.started.fetch_add(1, Ordering::Relaxed) + 1
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name.clone())
            .enable_all()
            .build()?;
        Ok(Spare {
            name,
            runtime: Some(runtime),
            held: Arc::default(),
            tasks: Arc::default(),
        })
    }

    /// At worker end: spares stop without waiting for what still blocks on them, as the
    /// event loop does; no activity is placed on a spare afterwards.
    pub(crate) fn shutdown(&self) {
        let mut spares = self.spares.lock().unwrap();
        self.closed.store(true, Ordering::Release);
        spares.clear();
        self.gauge.set(0);
    }
}

impl Drop for Spare {
    /// Never waits: this runs on the control runtime, and a spare still blocked by a rogue
    /// poll must not hold anything up. An idle spare's thread ends at once.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loops(threads: usize, max_spares: usize) -> (Runtime, EventLoops) {
        let primary = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap();
        let loops = EventLoops::new(
            primary.handle().clone(),
            threads,
            max_spares,
            IntGauge::new("spares", "spares").unwrap(),
        );
        (primary, loops)
    }

    #[test]
    fn a_free_event_loop_takes_everything_and_starts_no_spare() {
        let (_primary, loops) = loops(2, 2);
        loops.primary_held.store(1, Ordering::Release);
        assert!(loops.place().task.is_none());
        assert_eq!(loops.rebalance(), Route::Primary);
        assert!(!loops.has_spares());
    }

    #[test]
    fn spares_take_over_up_to_the_bound_and_retire_when_the_stalls_end() {
        let (_primary, loops) = loops(2, 2);
        loops.primary_held.store(2, Ordering::Release);
        let Route::Spare { name, new: true } = loops.rebalance() else {
            panic!("no spare started")
        };
        assert_eq!(name, "legwork-spare-1");
        assert_eq!(loops.gauge.get(), 1);
        let placed = loops.place();
        assert!(placed.task.is_some(), "placed on the spare");
        // A rogue lands on the spare: a second one starts, then the bound is reached.
        placed.held.store(1, Ordering::Release);
        assert!(matches!(loops.rebalance(), Route::Spare { new: true, .. }));
        let second = loops.place();
        second.held.store(1, Ordering::Release);
        assert_eq!(loops.rebalance(), Route::Exhausted { spares: 2 });
        assert!(loops.place().task.is_none(), "waits on the event loop");

        // The stalls end; spares with an activity stay until it ends.
        loops.primary_held.store(0, Ordering::Release);
        placed.held.store(0, Ordering::Release);
        second.held.store(0, Ordering::Release);
        assert_eq!(loops.rebalance(), Route::Primary);
        assert_eq!(loops.gauge.get(), 2);
        drop(placed);
        drop(second);
        assert_eq!(loops.rebalance(), Route::Primary);
        assert_eq!(loops.gauge.get(), 0);
        assert!(!loops.has_spares());
    }

    #[test]
    fn an_activity_placed_on_a_spare_runs_there() {
        let (primary, loops) = loops(1, 1);
        loops.primary_held.store(1, Ordering::Release);
        loops.rebalance();
        let placed = loops.place();
        let thread = placed.spawn(async { std::thread::current().name().map(str::to_owned) });
        let name = primary.block_on(thread).unwrap();
        assert_eq!(name.as_deref(), Some("legwork-spare-1"));
        loops.shutdown();
        assert!(!loops.has_spares());
        assert!(loops.place().task.is_none());
    }
}
