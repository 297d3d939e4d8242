//! The bounded pool of named OS threads that runs sync activities.
//!
//! Threads are started on demand up to `max_threads` and then kept; jobs beyond that
//! wait in a queue. A job is never interrupted: a thread returns to the pool only when
//! the job has returned.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use prometheus::IntGauge;

type Job = Box<dyn FnOnce() + Send + 'static>;

pub(crate) struct BlockingPool {
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    max_threads: usize,
    nice: i32,
    /// The OS's default when `None`; set only by tests.
    stack_size: Option<usize>,
    state: Mutex<State>,
    job_ready: Condvar,
    /// Threads running a job now (`legwork_blocking_threads_busy`).
    busy: IntGauge,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

impl BlockingPool {
    /// `nice` is added to each thread's nice value (Linux; 0 leaves it alone).
    pub(crate) fn new(name: impl Into<String>, max_threads: usize, nice: i32) -> Self {
        BlockingPool {
            shared: Arc::new(Shared {
                name: name.into(),
                max_threads: max_threads.max(1),
                nice,
                stack_size: None,
                state: Mutex::new(State::default()),
                job_ready: Condvar::new(),
                busy: IntGauge::new("busy", "Threads running a job.").expect("a valid name"),
            }),
        }
    }

    /// Counts the threads running a job in `gauge`; called before the first job.
    pub(crate) fn count_busy(mut self, gauge: IntGauge) -> Self {
        Arc::get_mut(&mut self.shared)
            .expect("no thread started yet")
            .busy = gauge;
        self
    }

    /// Runs `job` on a pool thread, starting one if none is idle and the pool is not full.
    /// Fails only when the job needs a new thread, the OS refuses it, and no thread is left
    /// to take the job later: then the job is dropped, not run, and the caller says so.
    pub(crate) fn execute(&self, job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let mut state = self.shared.state.lock().unwrap();
        if state.idle > 0 || state.threads >= self.shared.max_threads {
            state.queue.push_back(Box::new(job));
            if state.idle > 0 {
                state.idle -= 1;
                drop(state);
                self.shared.job_ready.notify_one();
            }
            return Ok(());
        }
        state.threads += 1;
        let index = state.threads;
        drop(state);
        self.spawn_thread(index, Box::new(job))
    }

    /// A new thread that runs `first`, then serves the queue. If the OS refuses the
    /// thread, `first` waits in the queue for another, or fails when there is none.
    fn spawn_thread(&self, index: usize, first: Job) -> std::io::Result<()> {
        let shared = Arc::clone(&self.shared);
        // Handed over through a slot, so that a refused spawn gives the job back.
        let slot = Arc::new(Mutex::new(Some(first)));
        let handed = Arc::clone(&slot);
        let mut builder = thread::Builder::new().name(format!("{}-{index}", shared.name));
        if let Some(size) = shared.stack_size {
            builder = builder.stack_size(size);
        }
        let spawned = builder.spawn(move || {
            lower_priority(shared.nice);
            let first = handed.lock().unwrap().take();
            shared.work(first)
        });
        let Err(error) = spawned else {
            return Ok(());
        };
        let job = slot.lock().unwrap().take();
        let mut state = self.shared.state.lock().unwrap();
        state.threads -= 1;
        match job {
            Some(job) if state.threads > 0 => {
                state.queue.push_back(job);
                Ok(())
            }
            _ => Err(error),
        }
    }

    /// A pool whose threads the OS refuses (each asks for a 64 TiB stack), as when a
    /// process hits its thread or memory limit.
    #[cfg(test)]
    fn refusing() -> Self {
        let mut pool = BlockingPool::new("refused", 2, 0);
        Arc::get_mut(&mut pool.shared).unwrap().stack_size = Some(1 << 46);
        pool
    }

    #[cfg(test)]
    fn threads(&self) -> usize {
        self.shared.state.lock().unwrap().threads
    }
}

/// The failure of work the OS refused a thread for (`what`: "activity `x`"): retryable,
/// since another worker, or this one later, may have one.
pub(crate) fn refused(what: &str, error: &std::io::Error) -> crate::error::ActivityError {
    crate::error::ActivityError::new(format!(
        "{what} did not run: the OS refused a thread for it ({error})"
    ))
    .with_type("ThreadUnavailable")
}

/// Activity threads yield the CPU to the worker's own machinery and to a Temporal server on
/// the same machine: a pool full of CPU-bound activities must not starve the thread that
/// polls and responds, or the server that hands out the next task.
#[cfg(target_os = "linux")]
fn lower_priority(increment: i32) {
    if increment == 0 {
        return;
    }
    // SAFETY: gettid and setpriority only read their arguments; on Linux a thread id
    // names just this thread.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (current + increment).min(19));
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_increment: i32) {}

impl Shared {
    fn work(&self, first: Option<Job>) {
        if let Some(job) = first {
            self.run(job);
        }
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                self.run(job);
                state = self.state.lock().unwrap();
            } else {
                state.idle += 1;
                state = self.job_ready.wait(state).unwrap();
            }
        }
    }
}

impl Shared {
    fn run(&self, job: Job) {
        self.busy.inc();
        // Jobs catch their own panics (see `executor/blocking.rs`); this keeps the thread
        // alive even if one does not.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        self.busy.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn never_runs_more_than_max_threads_at_once() {
        let pool = BlockingPool::new("test-pool", 3, 0);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (done, finished) = mpsc::channel();
        for _ in 0..9 {
            let (running, peak, done) = (running.clone(), peak.clone(), done.clone());
            pool.execute(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(30));
                running.fetch_sub(1, Ordering::SeqCst);
                done.send(thread::current().name().unwrap().to_owned())
                    .unwrap();
            })
            .unwrap();
        }
        let names: Vec<String> = (0..9).map(|_| finished.recv().unwrap()).collect();
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(pool.threads(), 3);
        assert!(names.iter().all(|name| name.starts_with("test-pool-")));
    }

    #[test]
    fn a_panicking_job_does_not_kill_its_thread() {
        let pool = BlockingPool::new("panic-pool", 1, 0);
        pool.execute(|| panic!("boom")).unwrap();
        let (done, finished) = mpsc::channel();
        pool.execute(move || done.send(()).unwrap()).unwrap();
        finished.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn a_refused_thread_is_an_error_and_the_job_is_not_run() {
        let pool = BlockingPool::refusing();
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = ran.clone();
        let error = pool
            .execute(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap_err();
        eprintln!("refused: {error}");
        assert_eq!(pool.threads(), 0, "the refused thread is not counted");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
