//! One child process, seen from the worker: started, spoken to, and reaped.

use std::collections::VecDeque;
use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::codec::BoxFuture;
use crate::isolated::protocol::{
    frame, from_child, read_frame_async, to_child, FromChild, ToChild, CHILD_ENV, CHILD_FD,
    EXIT_NOT_A_CHILD,
};

/// How long a new child has to say hello: the executable starting and its registry built.
const HELLO_WAIT: Duration = Duration::from_secs(10);
/// The child's last stderr lines kept for a crash report.
const STDERR_LINES: usize = 12;
/// After its socket closed, how long a child has to exit before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct ChildProcess {
    pub(crate) pid: u32,
    process: tokio::process::Child,
    writer: OwnedWriteHalf,
    frames: mpsc::UnboundedReceiver<from_child::Kind>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_done: Option<JoinHandle<()>>,
    /// Attempts this child has started.
    pub(crate) served: u32,
}

impl ChildProcess {
    /// Starts `exe` as a child and waits for its hello. `died` hears the child's pid when
    /// its socket closes, whenever that is.
    ///
    /// Spawned from the worker's control thread, which lives as long as the worker: the
    /// child's parent-death signal is tied to the thread that forked it.
    pub(crate) async fn start(exe: &Path, died: mpsc::UnboundedSender<u32>) -> io::Result<Self> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let theirs = OwnedFd::from(theirs);
        let parent = std::process::id();
        let mut command = tokio::process::Command::new(exe);
        command
            .env(CHILD_ENV, CHILD_FD.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let raw = theirs.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls: setpgid, fcntl, dup2,
        // and `die_with_parent::arm`'s.
        unsafe {
            command.pre_exec(move || in_child_before_exec(raw, parent));
        }
        let mut process = command.spawn()?;
        drop(theirs);
        let pid = process.id().unwrap_or_default();
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_done = process
            .stderr
            .take()
            .map(|pipe| tokio::spawn(keep_stderr(pipe, stderr.clone())));
        ours.set_nonblocking(true)?;
        let (mut reader, writer) = UnixStream::from_std(ours)?.into_split();
        let (sender, frames) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(FromChild { kind: Some(kind) })) = read_frame_async(&mut reader).await
            {
                if sender.send(kind).is_err() {
                    break;
                }
            }
            let _ = died.send(pid);
        });
        let mut child = ChildProcess {
            pid,
            process,
            writer,
            frames,
            stderr,
            stderr_done,
            served: 0,
        };
        child.wait_for_hello().await?;
        Ok(child)
    }

    async fn wait_for_hello(&mut self) -> io::Result<()> {
        match tokio::time::timeout(HELLO_WAIT, self.frames.recv()).await {
            Ok(Some(from_child::Kind::Hello(_))) => Ok(()),
            Ok(_) => {
                let status = self.reap().await;
                Err(io::Error::other(not_a_child(status, &self.stderr_tail())))
            }
            Err(_) => {
                self.kill().await;
                Err(io::Error::other(format!(
                    "it did not answer within {HELLO_WAIT:?}; {}",
                    ADD_INIT
                )))
            }
        }
    }

    pub(crate) async fn send(&mut self, kind: to_child::Kind) -> io::Result<()> {
        let bytes = frame(&ToChild { kind: Some(kind) });
        self.writer.write_all(&bytes).await
    }

    /// The child's next frame; `None` once its socket closed (it died, or is dying).
    pub(crate) async fn next(&mut self) -> Option<from_child::Kind> {
        self.frames.recv().await
    }

    /// Whether the child has exited (an idle one that died is not handed out).
    pub(crate) fn has_exited(&mut self) -> bool {
        !matches!(self.process.try_wait(), Ok(None))
    }

    /// Kills the child (SIGKILL), with whatever processes it started in its group (an
    /// activity's own subprocesses), and reaps it.
    pub(crate) async fn kill(&mut self) -> ExitStatus {
        if let Ok(group) = i32::try_from(self.pid) {
            if group > 0 {
                // SAFETY: a signal to the group the child leads (it called setpgid(0, 0)).
                unsafe {
                    libc::kill(-group, libc::SIGKILL);
                }
            }
        }
        let _ = self.process.start_kill();
        self.reap().await
    }

    /// Waits for the exit status (killing a child that lingers with its socket closed)
    /// and for its last stderr lines.
    ///
    /// Boxed: awaited from several places, whose codegen units would each hold a copy of
    /// the body; a child ends rarely, so the box costs nothing.
    pub(crate) fn reap(&mut self) -> BoxFuture<'_, ExitStatus> {
        Box::pin(self.reap_inner())
    }

    async fn reap_inner(&mut self) -> ExitStatus {
        let status = match tokio::time::timeout(EXIT_WAIT, self.process.wait()).await {
            Ok(Ok(status)) => status,
            _ => {
                let _ = self.process.start_kill();
                self.process.wait().await.unwrap_or_default()
            }
        };
        if let Some(done) = self.stderr_done.take() {
            let _ = tokio::time::timeout(EXIT_WAIT, done).await;
        }
        status
    }

    pub(crate) fn stderr_tail(&self) -> Vec<String> {
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        tail.iter().cloned().collect()
    }
}

const ADD_INIT: &str = "call legwork::isolated::init() first thing in main (legwork::main!() does)";

/// Why a child that exited before its hello cannot serve.
fn not_a_child(status: ExitStatus, stderr: &[String]) -> String {
    let said = match status.code() {
        Some(EXIT_NOT_A_CHILD) => "it started a worker of its own".to_owned(),
        Some(code) => format!("it exited with code {code}"),
        None => format!("it died ({status})"),
    };
    let last = stderr.last().map(|line| format!(" (stderr: {line})"));
    format!("{said}{}; {ADD_INIT}", last.unwrap_or_default())
}

/// Runs in the child between fork and exec: the socket onto its agreed descriptor, a
/// process group of its own, and death with the worker.
fn in_child_before_exec(socket: i32, parent: u32) -> io::Result<()> {
    // SAFETY: plain system calls on integers; all async-signal-safe.
    unsafe {
        // Ctrl-C in a terminal signals the whole foreground group: the worker begins a
        // graceful shutdown, and its children must not die under the attempts it grants
        // the grace period. They die with the worker all the same (below).
        if libc::setpgid(0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if socket == CHILD_FD {
            // dup2 onto itself would leave close-on-exec set.
            let flags = libc::fcntl(socket, libc::F_GETFD);
            if flags < 0 || libc::fcntl(socket, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
        } else if libc::dup2(socket, CHILD_FD) < 0 {
            return Err(io::Error::last_os_error());
        }
        // Dies with the worker's control thread, which forked it.
        crate::die_with_parent::arm(parent)
    }
}

/// Copies the child's stderr through to the worker's, keeping the last lines.
async fn keep_stderr(pipe: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{line}");
        let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
        if tail.len() == STDERR_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}
