//! The event loop that runs async activities: its lag, the stall detector, and the spare
//! loops that take over from a held one.

pub(crate) mod lag;
pub(crate) mod spare;
pub(crate) mod stall;
