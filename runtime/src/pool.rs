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

    pub(crate) fn execute(&self, job: impl FnOnce() + Send + 'static) {
        let mut state = self.shared.state.lock().unwrap();
        state.queue.push_back(Box::new(job));
        if state.idle > 0 {
            state.idle -= 1;
            drop(state);
            self.shared.job_ready.notify_one();
        } else if state.threads < self.shared.max_threads {
            state.threads += 1;
            let index = state.threads;
            drop(state);
            self.spawn_thread(index);
        }
    }

    fn spawn_thread(&self, index: usize) {
        let shared = Arc::clone(&self.shared);
        thread::Builder::new()
            .name(format!("{}-{index}", shared.name))
            .spawn(move || {
                lower_priority(shared.nice);
                shared.work()
            })
            .expect("the OS refused to start a pool thread");
    }

    #[cfg(test)]
    fn threads(&self) -> usize {
        self.shared.state.lock().unwrap().threads
    }
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
    fn work(&self) {
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                self.busy.inc();
                // Jobs catch their own panics (see `task.rs`); this keeps the thread alive
                // even if one does not.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                self.busy.dec();
                state = self.state.lock().unwrap();
            } else {
                state.idle += 1;
                state = self.job_ready.wait(state).unwrap();
            }
        }
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
            });
        }
        let names: Vec<String> = (0..9).map(|_| finished.recv().unwrap()).collect();
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(pool.threads(), 3);
        assert!(names.iter().all(|name| name.starts_with("test-pool-")));
    }

    #[test]
    fn a_panicking_job_does_not_kill_its_thread() {
        let pool = BlockingPool::new("panic-pool", 1, 0);
        pool.execute(|| panic!("boom"));
        let (done, finished) = mpsc::channel();
        pool.execute(move || done.send(()).unwrap());
        finished.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(pool.threads(), 1);
    }
}
