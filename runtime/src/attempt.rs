//! The state one attempt shares between the activity's context and the worker:
//! cancellation and the heartbeat details waiting to be sent.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::codec::SerializationContext;
use crate::payload::Payload;

/// Why an activity was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// A client or workflow asked for it (`RequestCancelActivityExecution`, a workflow's
    /// cancel command); reported as Canceled.
    CancelRequested,
    /// The activity was paused on the server.
    Paused,
    /// The activity was reset on the server.
    Reset,
    /// The attempt outlived its start-to-close or heartbeat timeout; the server has
    /// already timed it out, so nothing is reported.
    TimedOut,
    /// The server no longer knows the attempt; nothing is reported.
    NotFound,
    /// The worker shut down and the grace period ended; reported as a retryable
    /// `WorkerShutdown` failure, so another worker takes it.
    WorkerShutdown,
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CancelReason::CancelRequested => "cancel requested",
            CancelReason::Paused => "paused",
            CancelReason::Reset => "reset",
            CancelReason::TimedOut => "timed out",
            CancelReason::NotFound => "not found",
            CancelReason::WorkerShutdown => "worker shutdown",
        })
    }
}

/// Starts whatever sends heartbeats for an attempt; called on the first heartbeat.
pub(crate) type HeartbeatStarter = Box<dyn Fn(Arc<Attempt>) + Send + Sync>;
/// Hands each heartbeat on at once (an isolated child to its worker, which throttles).
pub(crate) type HeartbeatForward = Box<dyn Fn(&Payload) + Send + Sync>;

pub(crate) struct Attempt {
    cancel: CancellationToken,
    reason: OnceLock<CancelReason>,
    pub(crate) worker_shutdown: CancellationToken,
    /// Cancelled when the attempt has returned; stops its heartbeat loop and timers.
    pub(crate) finished: CancellationToken,
    heartbeat: Mutex<HeartbeatState>,
    pub(crate) heartbeat_ready: Notify,
    starter: Option<HeartbeatStarter>,
    forward: Option<HeartbeatForward>,
    me: std::sync::Weak<Attempt>,
    /// `run_blocking` closures still running; the slot waits for them.
    blocking_jobs: AtomicUsize,
    blocking_done: Notify,
    /// Whose payloads this attempt reports, for codecs and external storage; `None` when
    /// empty (a worker with neither), so that every parked attempt does not carry eight
    /// empty strings. Read through [`Attempt::payload_context`].
    payload_context: Option<Box<SerializationContext>>,
}

/// The context of a worker without codecs or storage.
static EMPTY_CONTEXT: SerializationContext = SerializationContext {
    namespace: String::new(),
    task_queue: None,
    activity_type: None,
    activity_id: None,
    activity_run_id: None,
    workflow_id: None,
    workflow_type: None,
    workflow_run_id: None,
};

/// Marks a `run_blocking` closure as running until dropped.
pub(crate) struct BlockingJob(Arc<Attempt>);

impl Drop for BlockingJob {
    fn drop(&mut self) {
        if self.0.blocking_jobs.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.blocking_done.notify_waiters();
        }
    }
}

#[derive(Default)]
struct HeartbeatState {
    /// Recorded, not yet sent.
    pending: Option<Payload>,
    /// The last recorded, sent or not: reported with a failure or a cancellation.
    latest: Option<Payload>,
    /// Every recorded heartbeat, kept only when there is no starter (tests).
    recorded: Vec<Payload>,
    started: bool,
    /// Heartbeats replaced before they were sent: calls that cost no RPC.
    coalesced: u64,
}

impl fmt::Debug for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("cancel_reason", &self.cancel_reason())
            .field("worker_shutdown", &self.worker_shutdown.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Attempt {
    /// `starter` is `None` outside a worker: heartbeats are then only recorded.
    pub(crate) fn new(
        worker_shutdown: CancellationToken,
        starter: Option<HeartbeatStarter>,
    ) -> Arc<Self> {
        Self::build(
            worker_shutdown,
            starter,
            None,
            SerializationContext::default(),
        )
    }

    /// An attempt of a polled task, whose reports carry `payload_context`.
    pub(crate) fn of_task(
        worker_shutdown: CancellationToken,
        starter: HeartbeatStarter,
        payload_context: SerializationContext,
    ) -> Arc<Self> {
        Self::build(worker_shutdown, Some(starter), None, payload_context)
    }

    fn build(
        worker_shutdown: CancellationToken,
        starter: Option<HeartbeatStarter>,
        forward: Option<HeartbeatForward>,
        payload_context: SerializationContext,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Attempt {
            cancel: CancellationToken::new(),
            reason: OnceLock::new(),
            worker_shutdown,
            finished: CancellationToken::new(),
            heartbeat: Mutex::new(HeartbeatState::default()),
            heartbeat_ready: Notify::new(),
            starter,
            forward,
            me: me.clone(),
            blocking_jobs: AtomicUsize::new(0),
            blocking_done: Notify::new(),
            payload_context: (payload_context != EMPTY_CONTEXT).then(|| Box::new(payload_context)),
        })
    }

    /// Whose payloads this attempt reports: what codecs and external storage are given.
    pub(crate) fn payload_context(&self) -> &SerializationContext {
        self.payload_context.as_deref().unwrap_or(&EMPTY_CONTEXT)
    }

    /// An attempt in an isolated child: each heartbeat goes to `forward` as it is recorded.
    pub(crate) fn forwarding(
        worker_shutdown: CancellationToken,
        forward: HeartbeatForward,
    ) -> Arc<Self> {
        Self::build(
            worker_shutdown,
            None,
            Some(forward),
            SerializationContext::default(),
        )
    }

    /// Cancels the attempt; the first reason given is the one that stays.
    pub(crate) fn cancel(&self, reason: CancelReason) {
        let _ = self.reason.set(reason);
        self.cancel.cancel();
    }

    pub(crate) fn cancel_reason(&self) -> Option<CancelReason> {
        self.reason.get().copied()
    }

    pub(crate) async fn cancelled(&self) -> CancelReason {
        self.cancel.cancelled().await;
        self.cancel_reason()
            .expect("a reason is set before the token is cancelled")
    }

    pub(crate) fn enter_blocking(self: &Arc<Self>) -> BlockingJob {
        self.blocking_jobs.fetch_add(1, Ordering::AcqRel);
        BlockingJob(self.clone())
    }

    /// Waits until no `run_blocking` closure of this attempt is running.
    pub(crate) async fn blocking_jobs_done(&self) {
        loop {
            let done = self.blocking_done.notified();
            if self.blocking_jobs.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }

    pub(crate) fn record_heartbeat(&self, details: Payload) {
        if let Some(forward) = &self.forward {
            forward(&details);
            self.heartbeat.lock().unwrap().latest = Some(details);
            return;
        }
        let start = {
            let mut state = self.heartbeat.lock().unwrap();
            state.latest = Some(details.clone());
            if self.starter.is_none() {
                state.recorded.push(details);
                return;
            }
            if state.pending.replace(details).is_some() {
                state.coalesced += 1;
            }
            !std::mem::replace(&mut state.started, true)
        };
        if start {
            if let (Some(starter), Some(me)) = (&self.starter, self.me.upgrade()) {
                starter(me);
            }
        }
        self.heartbeat_ready.notify_one();
    }

    /// Heartbeats that never became an RPC of their own: replaced while pending, plus the
    /// one still pending if it is to be dropped rather than flushed.
    pub(crate) fn coalesced_heartbeats(&self, pending_dropped: bool) -> u64 {
        let state = self.heartbeat.lock().unwrap();
        state.coalesced + u64::from(pending_dropped && state.pending.is_some())
    }

    pub(crate) fn take_pending_heartbeat(&self) -> Option<Payload> {
        self.heartbeat.lock().unwrap().pending.take()
    }

    pub(crate) fn latest_heartbeat(&self) -> Option<Payload> {
        self.heartbeat.lock().unwrap().latest.clone()
    }

    pub(crate) fn recorded_heartbeats(&self) -> Vec<Payload> {
        self.heartbeat.lock().unwrap().recorded.clone()
    }
}
