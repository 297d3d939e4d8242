//! A real, throw-away Temporal dev server (`temporal server start-dev`) on a free loopback port.
//!
//! Used by tests and by a worker's `--dev` mode. The API is synchronous so it works from a
//! plain `#[test]` or `main`; the health check runs on a private current-thread runtime.
//!
//! For fault tests, a server can keep its state in a SQLite file, be killed without a
//! graceful stop, and come back on the same port with the same state; see
//! [`DevServer::kill`] and [`DevServer::restart`].
//!
//! ```no_run
//! use legwork_runtime::dev_server::DevServer;
//!
//! let server = DevServer::start()?;
//! println!("Temporal at {} (namespace {})", server.address(), server.namespace());
//! // dropping `server` stops it
//! # Ok::<(), legwork_runtime::dev_server::DevServerError>(())
//! ```

mod builder;
mod constants;
mod error;
mod log;
mod process;
mod server;
#[cfg(test)]
mod tests;

pub use builder::DevServerBuilder;
pub use constants::CLI_ENV;
pub use error::DevServerError;
pub use process::cli_available;
#[cfg(test)]
pub(crate) use process::skip_without_cli;
pub use server::DevServer;
