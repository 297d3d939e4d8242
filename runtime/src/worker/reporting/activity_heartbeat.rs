//! Sends an attempt's heartbeats, throttled as sdk-core throttles them.
//!
//! The first heartbeat goes out at once. While a call is in flight or the throttle window
//! is open, newer details replace older ones; when the window closes, the latest details
//! go out, or the loop waits for the next heartbeat, which then goes out at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounter;
use tokio::sync::Notify;
use tonic::Code;
use tracing::{debug, warn};

use super::codecs::WorkerCodecs;
use crate::attempt::{Attempt, CancelReason, HeartbeatStarter};
use crate::connection::ServiceClient;
use crate::connection::{with_deadline, UNARY_DEADLINE};
use crate::context::ActivityInfo;
use crate::payload::Payload;
use crate::proto::service::{
    RecordActivityTaskHeartbeatRequest, RecordActivityTaskHeartbeatResponse,
};
use crate::proto::Payloads;
use crate::worker::server::contact::{is_unreachable, Contact};
use crate::worker::shared::Shared;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// `0.8 × heartbeat timeout`, or 30 s without one, and never more than 60 s.
pub(crate) fn throttle_interval(heartbeat_timeout: Option<Duration>) -> Duration {
    heartbeat_timeout
        .map_or(DEFAULT_INTERVAL, |timeout| timeout.mul_f64(0.8))
        .min(MAX_INTERVAL)
}

/// What a heartbeat loop needs from its worker.
pub(crate) struct HeartbeatLink {
    pub(crate) client: ServiceClient,
    pub(crate) namespace: String,
    pub(crate) identity: String,
    pub(crate) task_token: Vec<u8>,
    pub(crate) interval: Duration,
    /// Notified after each heartbeat the server accepted (resets the local timeout).
    pub(crate) acked: Arc<Notify>,
    /// Heartbeat calls sent by this worker, for its report.
    pub(crate) sent: Arc<AtomicU64>,
    /// The same, for `/metrics` (`legwork_heartbeats_sent`).
    pub(crate) sent_metric: IntCounter,
    /// Whether the server answers.
    pub(crate) contact: Arc<Contact>,
    /// Payload codecs for the details, when there are any.
    pub(crate) codecs: Option<WorkerCodecs>,
}

pub(crate) async fn heartbeat_loop(attempt: Arc<Attempt>, link: HeartbeatLink) {
    loop {
        tokio::select! {
            _ = attempt.heartbeat_ready.notified() => {}
            _ = attempt.finished.cancelled() => return,
        }
        let Some(details) = attempt.take_pending_heartbeat() else {
            continue;
        };
        if !send_heartbeat(&attempt, &link, details).await {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(link.interval) => {}
            _ = attempt.finished.cancelled() => return,
        }
    }
}

/// Sends one heartbeat and acts on the answer; false when the attempt is gone.
pub(crate) async fn send_heartbeat(
    attempt: &Attempt,
    link: &HeartbeatLink,
    details: Payload,
) -> bool {
    let details = encoded(attempt, link, details).await;
    let request = RecordActivityTaskHeartbeatRequest {
        task_token: link.task_token.clone(),
        details: details.map(|details| Payloads {
            payloads: vec![details.into_wire()],
        }),
        identity: link.identity.clone(),
        namespace: link.namespace.clone(),
        ..Default::default()
    };
    link.sent.fetch_add(1, Ordering::Relaxed);
    link.sent_metric.inc();
    let mut client = link.client.clone();
    let result = client
        .record_activity_task_heartbeat(with_deadline(request, UNARY_DEADLINE))
        .await;
    link.contact.observe(&result);
    match result {
        Ok(response) => {
            link.acked.notify_one();
            if let Some(reason) = cancel_reason(&response.into_inner()) {
                debug!(%reason, "the server cancelled the activity");
                attempt.cancel(reason);
            }
            true
        }
        Err(status) if status.code() == Code::NotFound => {
            attempt.cancel(CancelReason::NotFound);
            false
        }
        // An outage is told once, by `contact`.
        Err(status) if is_unreachable(&status) => {
            debug!(%status, "heartbeat failed");
            true
        }
        Err(status) => {
            warn!(%status, "heartbeat failed");
            true
        }
    }
}

/// The details as the server must see them: through the payload codecs, if any.
async fn encoded(attempt: &Attempt, link: &HeartbeatLink, details: Payload) -> Option<Payload> {
    match &link.codecs {
        None => Some(details),
        // Sent without details rather than not at all: the heartbeat still keeps the
        // attempt alive.
        Some(codecs) => match codecs.encode_one(details, attempt.payload_context()).await {
            Ok(details) => Some(details),
            Err(error) => {
                warn!(%error, "heartbeat details could not be encoded; sent without them");
                None
            }
        },
    }
}

/// Why the server's answer to a heartbeat stops the attempt, if it does: sdk-core's
/// priority, cancelled, then reset, then paused.
fn cancel_reason(response: &RecordActivityTaskHeartbeatResponse) -> Option<CancelReason> {
    if response.cancel_requested {
        Some(CancelReason::CancelRequested)
    } else if response.activity_reset {
        Some(CancelReason::Reset)
    } else if response.activity_paused {
        Some(CancelReason::Paused)
    } else {
        None
    }
}

/// The heartbeat loop an attempt of `token` starts with its first heartbeat.
pub(crate) fn heartbeat_starter(
    shared: &Arc<Shared>,
    token: &[u8],
    info: &ActivityInfo,
    acked: &Arc<Notify>,
) -> HeartbeatStarter {
    let (shared, token, acked) = (shared.clone(), token.to_vec(), acked.clone());
    let interval = throttle_interval(info.heartbeat_timeout);
    Box::new(move |attempt| {
        let link = heartbeat_link(&shared, &token, interval, acked.clone());
        shared.control.spawn(heartbeat_loop(attempt, link));
    })
}

fn heartbeat_link(
    shared: &Shared,
    token: &[u8],
    interval: Duration,
    acked: Arc<Notify>,
) -> HeartbeatLink {
    HeartbeatLink {
        client: shared.client.clone(),
        namespace: shared.options.connection.namespace.clone(),
        identity: shared.options.connection.identity.clone(),
        task_token: token.to_vec(),
        interval,
        acked,
        sent: shared.stats.heartbeats_sent.clone(),
        sent_metric: shared.metrics.heartbeats_sent(),
        contact: shared.contact.clone(),
        codecs: shared.codecs.clone(),
    }
}

/// Sends details recorded since the last heartbeat call, so the server has them before
/// it hears of the cancellation.
pub(crate) async fn flush_heartbeat(shared: &Shared, token: &[u8], attempt: &Attempt) {
    if let Some(details) = attempt.take_pending_heartbeat() {
        let link = heartbeat_link(shared, token, Duration::ZERO, Arc::default());
        send_heartbeat(attempt, &link, details).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_follows_sdk_core() {
        assert_eq!(
            throttle_interval(Some(Duration::from_secs(2))),
            Duration::from_millis(1600)
        );
        assert_eq!(throttle_interval(None), Duration::from_secs(30));
        assert_eq!(
            throttle_interval(Some(Duration::from_secs(600))),
            Duration::from_secs(60)
        );
    }
}
