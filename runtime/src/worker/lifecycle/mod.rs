//! A worker's life: start-up, the control loop, what it tells the server about itself
//! (worker heartbeats, deployment), the commands the server pushes, and shutdown.

pub(crate) mod commands;
pub(crate) mod deployment;
pub(crate) mod health;
pub(crate) mod run;
pub(crate) mod shutdown;
pub(crate) mod startup;
pub(crate) mod worker_heartbeat;
pub(crate) mod worker_heartbeat_state;
