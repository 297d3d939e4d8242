//! The warm children: handed out one per attempt, taken back after a clean outcome,
//! replaced when they die, retire or are killed.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::process::ChildProcess;
use crate::isolated::IsolatedOptions;
use crate::telemetry::metrics::IsolatedMetrics;

pub(crate) struct ChildPool {
    exe: PathBuf,
    pub(crate) options: IsolatedOptions,
    idle: Mutex<Vec<ChildProcess>>,
    pub(crate) metrics: IsolatedMetrics,
    /// Hears the pid of every child whose socket closed.
    died: mpsc::UnboundedSender<u32>,
}

impl ChildPool {
    /// Starts the warm children; the first one's hello is the check that this executable
    /// can serve as a child at all, so a worker that cannot run its isolated activities
    /// stops at start.
    pub(crate) async fn start(
        options: IsolatedOptions,
        metrics: IsolatedMetrics,
    ) -> Result<Arc<Self>, String> {
        let exe = std::env::current_exe().map_err(|error| {
            format!("isolated activities need the worker's executable: {error}")
        })?;
        let (died, deaths) = mpsc::unbounded_channel();
        let pool = Arc::new(ChildPool {
            exe,
            options,
            idle: Mutex::new(Vec::new()),
            metrics,
            died,
        });
        let first = pool.spawn().await.map_err(|error| {
            format!("this executable cannot run isolated activities as a child process: {error}")
        })?;
        pool.idle.lock().unwrap().push(first);
        pool.replenish();
        tokio::spawn(watch_idle(Arc::downgrade(&pool), deaths));
        Ok(pool)
    }

    async fn spawn(&self) -> io::Result<ChildProcess> {
        let child = ChildProcess::start(&self.exe, self.died.clone()).await?;
        self.metrics.live.inc();
        debug!(pid = child.pid, "isolated child started");
        Ok(child)
    }

    /// An idle child, or a new one.
    pub(crate) async fn checkout(self: &Arc<Self>) -> io::Result<ChildProcess> {
        loop {
            let idle = self.idle.lock().unwrap().pop();
            match idle {
                Some(mut child) => {
                    if child.has_exited() {
                        self.discard(child).await;
                        continue;
                    }
                    self.replenish();
                    return Ok(child);
                }
                None => return self.spawn().await,
            }
        }
    }

    /// Takes back a child whose attempt ended cleanly; one that has served its
    /// `max_tasks_per_child` is retired and replaced.
    pub(crate) async fn checkin(self: &Arc<Self>, child: ChildProcess) {
        let retire = self
            .options
            .max_tasks_per_child
            .is_some_and(|most| child.served >= most);
        if retire {
            debug!(
                pid = child.pid,
                served = child.served,
                "isolated child retired"
            );
            self.discard(child).await;
            self.replenish();
        } else {
            self.idle.lock().unwrap().push(child);
        }
    }

    /// Kills (if still alive) and reaps a child that will not serve again.
    pub(crate) async fn discard(&self, mut child: ChildProcess) {
        child.kill().await;
        self.metrics.live.dec();
    }

    /// Starts children in the background until `warm_children` are idle.
    pub(crate) fn replenish(self: &Arc<Self>) {
        let missing = self
            .options
            .warm_children
            .saturating_sub(self.idle.lock().unwrap().len());
        for _ in 0..missing {
            let pool = self.clone();
            tokio::spawn(async move {
                match pool.spawn().await {
                    Ok(child) => pool.idle.lock().unwrap().push(child),
                    Err(error) => warn!("could not start an isolated child: {error}"),
                }
            });
        }
    }

    /// Kills every idle child; busy ones are killed by their attempts.
    pub(crate) async fn close(&self) {
        let idle: Vec<_> = std::mem::take(&mut *self.idle.lock().unwrap());
        for child in idle {
            self.discard(child).await;
        }
    }
}

/// Replaces idle children that die (a busy child's death is its attempt's to report).
async fn watch_idle(pool: Weak<ChildPool>, mut deaths: mpsc::UnboundedReceiver<u32>) {
    while let Some(pid) = deaths.recv().await {
        let Some(pool) = pool.upgrade() else { return };
        let dead = {
            let mut idle = pool.idle.lock().unwrap();
            let at = idle.iter().position(|child| child.pid == pid);
            at.map(|at| idle.swap_remove(at))
        };
        if let Some(mut child) = dead {
            let status = child.kill().await;
            pool.metrics.live.dec();
            warn!(pid, %status, "an idle isolated child died; starting another");
            pool.replenish();
        }
    }
}
