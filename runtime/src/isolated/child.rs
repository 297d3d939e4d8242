//! The child's side: an executable started by its worker with [`CHILD_ENV`] set serves
//! attempts over its socket until the worker closes it.
//!
//! One attempt at a time, each on a thread of its own (the stack a pool thread has, so an
//! activity overflows here where it would overflow in-process). Heartbeats and log lines
//! are written to the socket as they happen, so the worker has them even if the very next
//! instruction kills the child.

use std::io;
use std::os::unix::io::FromRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::link::Link;
use super::log_forward::ForwardLogs;
use super::protocol::{from_child, read_frame, reason_of, to_child, Outcome, Run, ToChild};
use crate::attempt::Attempt;
use crate::context::{ActivityContext, ActivityInfo};
use crate::error::ActivityError;
use crate::invoke::Args;
use crate::registry::{Invoker, Registry};

/// Serves attempts on descriptor `fd` until the worker closes the socket.
pub(crate) fn serve(fd: i32) -> io::Result<()> {
    // SAFETY: the worker put its end of a socket pair on `fd` before exec; nothing else in
    // this process owns it.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    let mut reader = stream.try_clone()?;
    let link = Link::new(stream);
    ForwardLogs::install(link.clone());
    let registry = Registry::linked().map_err(|error| io::Error::other(error.to_string()))?;
    link.send(from_child::Kind::Hello(std::process::id()));
    let worker_shutdown = CancellationToken::new();
    let current: Arc<Mutex<Option<Arc<Attempt>>>> = Arc::default();
    while let Some(ToChild { kind }) = read_frame::<ToChild>(&mut reader)? {
        match kind {
            Some(to_child::Kind::Run(run)) => {
                let attempt = start(&registry, *run, &link, &worker_shutdown)?;
                *current.lock().unwrap() = Some(attempt);
            }
            Some(to_child::Kind::Cancel(code)) => {
                let attempt = current.lock().unwrap().clone();
                if let (Some(attempt), Some(reason)) = (attempt, reason_of(code)) {
                    attempt.cancel(reason);
                }
            }
            Some(to_child::Kind::Shutdown(_)) => worker_shutdown.cancel(),
            None => {}
        }
    }
    Ok(())
}

/// Starts one attempt on its own thread; the outcome goes to the socket when it returns.
fn start(
    registry: &Registry,
    run: Run,
    link: &Link,
    worker_shutdown: &CancellationToken,
) -> io::Result<Arc<Attempt>> {
    if run.worker_shutdown {
        worker_shutdown.cancel();
    }
    let task = run.task.unwrap_or_default();
    let info = ActivityInfo::from_task(&task, &run.namespace, &run.task_queue);
    let forward = link.clone();
    let attempt = Attempt::forwarding(
        worker_shutdown.clone(),
        Box::new(move |details| {
            forward.send(from_child::Kind::Heartbeat(details.clone().into_wire()));
        }),
    );
    let ctx = ActivityContext::with_attempt(info, attempt.clone());
    let descriptor = registry
        .get(&run.function)
        .map(|descriptor| (descriptor.name, descriptor.invoker));
    let (link, memory_limit, args) = (link.clone(), run.memory_limit, run.args);
    std::thread::Builder::new()
        .name(format!("legwork-isolated-{}", run.function))
        .spawn(move || {
            let outcome = match descriptor {
                Some((name, Invoker::Isolated { invoke, .. } | Invoker::Sync(invoke))) => {
                    let _limit = MemoryLimit::set(memory_limit);
                    catch_unwind(AssertUnwindSafe(|| {
                        invoke(&ctx, Args::new(name, crate::payload::from_wire(args)))
                    }))
                    .unwrap_or_else(|panic| Err(ActivityError::from_panic(name, &*panic)))
                }
                _ => Err(ActivityError::new(format!(
                    "`{}` is not a sync or isolated activity in this executable",
                    run.function
                ))),
            };
            link.send(from_child::Kind::Outcome(Outcome::of(outcome)));
        })?;
    Ok(attempt)
}

/// The data-segment cap of one attempt (`RLIMIT_DATA`, which on Linux since 4.7 counts
/// anonymous mappings too, so large allocations hit it); lifted again when dropped. Only
/// the soft limit moves, so the child can lift it.
struct MemoryLimit(Option<libc::rlimit>);

impl MemoryLimit {
    fn set(bytes: u64) -> Self {
        if bytes == 0 {
            return MemoryLimit(None);
        }
        let mut before = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_DATA, &mut before) != 0 {
                return MemoryLimit(None);
            }
            let capped = libc::rlimit {
                rlim_cur: (bytes as libc::rlim_t).min(before.rlim_max),
                rlim_max: before.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &capped) != 0 {
                return MemoryLimit(None);
            }
        }
        MemoryLimit(Some(before))
    }
}

impl Drop for MemoryLimit {
    fn drop(&mut self) {
        if let Some(before) = &self.0 {
            // SAFETY: as above.
            unsafe {
                libc::setrlimit(libc::RLIMIT_DATA, before);
            }
        }
    }
}
