//! Polling: how many polls stay open, how fast tasks may be taken, and one poll.

pub(crate) mod poll;
pub(crate) mod poll_scaler;
pub(crate) mod poller_gate;
pub(crate) mod pollers;
pub(crate) mod rate_limit;
