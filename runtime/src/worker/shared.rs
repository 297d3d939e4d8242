//! `Shared`: what every part of a running worker reads (options, client, executors, slots,
//! the ledger, counters). It lives apart from the code that uses it, so that the control
//! loop, polling, tasks, commands and shutdown each depend on it and not on each other.

use crate::codec::SerializationContext;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::event_loop::lag::LagMonitor;
use super::executor::Executors;
use super::lifecycle::health::Health;
use super::lifecycle::worker_heartbeat_state::Presence;
use super::options::WorkerOptions;
use super::polling::poller_gate::PollerGate;
use super::polling::rate_limit::RateLimiter;
use super::reporting::codecs::WorkerCodecs;
use super::reporting::ledger::InFlight;
use super::reporting::respond::{Report, Reporter};
use super::server::contact::Contact;
use super::slots::{SlotSupplier, TypeLimits};
use crate::connection::ServiceClient;
use crate::proto::WorkerDeploymentOptions;
use crate::registry::Registry;
use crate::telemetry::metrics::WorkerMetrics;

/// One per running worker, behind an `Arc`, built by `startup::connect`.
pub(crate) struct Shared {
    pub(crate) options: WorkerOptions,
    pub(crate) registry: Registry,
    pub(crate) client: ServiceClient,
    pub(crate) executors: Executors,
    /// `max_concurrent` per activity type.
    pub(crate) type_limits: TypeLimits,
    pub(crate) shutdown: CancellationToken,
    /// What the poll loop keeps between polls.
    pub(crate) polling: Polling,
    /// Attempts not yet reported, by task token. Whoever takes a token reports it.
    pub(crate) in_flight: InFlight,
    pub(crate) control: tokio::runtime::Handle,
    pub(crate) responses: TaskTracker,
    pub(crate) instance_key: String,
    /// Whether the server answers: one warning per outage, not one per failed call.
    pub(crate) contact: Arc<Contact>,
    /// Payload codecs, when there are any.
    pub(crate) codecs: Option<WorkerCodecs>,
    /// Worker heartbeats: whether to send them, and what the last one said.
    pub(crate) presence: Presence,
    /// Counted for the report at the end (`WorkerReport`).
    pub(crate) stats: Stats,
    pub(crate) metrics: WorkerMetrics,
    /// Sent on every poll and report.
    pub(crate) deployment: WorkerDeploymentOptions,
}

/// What the worker counts for its report and its lag lines.
pub(crate) struct Stats {
    pub(crate) heartbeats_sent: Arc<AtomicU64>,
    pub(crate) stalls: Arc<AtomicU64>,
    pub(crate) event_loop_lag: Arc<LagMonitor>,
    pub(crate) control_lag: Arc<LagMonitor>,
}

impl Shared {
    /// `report` as the server must see it: through the payload codecs, if any.
    pub(crate) async fn encoded(&self, report: Report, context: &SerializationContext) -> Report {
        match &self.codecs {
            Some(codecs) => codecs.encode_report(report, context).await,
            None => report,
        }
    }

    pub(crate) fn reporter(&self) -> Reporter<'_> {
        Reporter {
            client: &self.client,
            contact: &self.contact,
            namespace: &self.options.connection.namespace,
            identity: &self.options.connection.identity,
            deployment: &self.deployment,
        }
    }
}

/// What the poll loop keeps between polls.
pub(crate) struct Polling {
    /// Issues the slot each poll takes first.
    pub(crate) slots: Arc<dyn SlotSupplier>,
    /// How many polls stay open, following the server's suggestions when autoscaling.
    pub(crate) gate: Arc<PollerGate>,
    /// `max_activities_per_second`, when set.
    pub(crate) rate_limiter: Option<RateLimiter>,
    /// Polls failed in a row, for the backoff.
    pub(crate) failures: AtomicU32,
    /// Drops the polls still open (shutdown, once the server had its chance to answer).
    pub(crate) stop: CancellationToken,
    /// The server answers open polls after `ShutdownWorker`; else they are dropped at once.
    pub(crate) complete_on_shutdown: bool,
    /// What `/readyz` says.
    pub(crate) health: Arc<Health>,
    /// This worker's worker-commands queue, where the namespace advertises them: named on
    /// every activity poll, polled by `commands.rs`.
    pub(crate) control_queue: Option<String>,
}
