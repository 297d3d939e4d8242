//! What goes back to the server about an attempt: its end, its heartbeats, through the
//! payload codecs; and the ledger that makes each attempt reported exactly once.

pub(crate) mod activity_heartbeat;
pub(crate) mod codecs;
pub(crate) mod failure_reason;
pub(crate) mod ledger;
pub(crate) mod respond;
