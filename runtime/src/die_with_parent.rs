//! Child processes that die with the process that started them: the dev server the tests
//! and `--dev` start, and isolated activities' children.
//!
//! Linux sends the parent-death signal when the *thread* that forked the child exits, not
//! the process. So a child that must outlive the thread that asked for it is forked from
//! one keeper thread that lives as long as the process; isolated children are forked from
//! the worker's control thread on purpose, and die with the worker.

use std::io;

/// In the child between fork and exec: SIGKILL when the parent thread goes, and exit at
/// once if the parent is already gone (it may have died between fork and prctl).
///
/// # Safety
/// Only for `pre_exec`: it makes async-signal-safe calls only (prctl, getppid, _exit).
#[cfg(target_os = "linux")]
pub(crate) unsafe fn arm(parent: u32) -> io::Result<()> {
    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
        return Err(io::Error::last_os_error());
    }
    if libc::getppid() as u32 != parent {
        libc::_exit(1);
    }
    Ok(())
}

/// Spawns `command` from the process-wide keeper thread, so that the child dies with the
/// process rather than with the calling thread.
#[cfg(target_os = "linux")]
pub(crate) fn spawn(mut command: std::process::Command) -> io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    use std::sync::mpsc::{channel, Sender};
    use std::sync::Mutex;

    type Request = (
        std::process::Command,
        Sender<io::Result<std::process::Child>>,
    );
    /// The keeper's inbox; started by the first spawn, under the lock, so only once.
    static KEEPER: Mutex<Option<Sender<Request>>> = Mutex::new(None);

    let parent = std::process::id();
    // SAFETY: `arm` is async-signal-safe.
    unsafe {
        command.pre_exec(move || arm(parent));
    }
    let (reply, answer) = channel();
    {
        let mut keeper = KEEPER
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if keeper.is_none() {
            let (requests, incoming) = channel::<Request>();
            std::thread::Builder::new()
                .name("legwork-process-keeper".to_owned())
                // Lives as long as the process: its children's parent-death signal is
                // tied to it. The static keeps a sender, so `incoming` never ends.
                .spawn(move || {
                    for (mut command, reply) in incoming {
                        let _ = reply.send(command.spawn());
                    }
                })?;
            *keeper = Some(requests);
        }
        let sent = match keeper.as_ref() {
            Some(keeper) => keeper.send((command, reply)).is_ok(),
            None => false,
        };
        if !sent {
            return Err(io::Error::other("the process keeper thread is gone"));
        }
    }
    answer
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("the process keeper thread is gone")))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn spawn(mut command: std::process::Command) -> io::Result<std::process::Child> {
    command.spawn()
}
