//! External payload storage: payloads over a size threshold are kept outside Temporal
//! (S3, a shared filesystem), and a small reference takes their place in history, as the
//! SDKs' external storage does (Python's `ExternalStorage`, Go's and TypeScript's
//! drivers), in the same format: a legwork activity reads what a Python workflow stored,
//! and a Python workflow reads what legwork stored.
//!
//! The order is the SDKs': on the way out, codecs first, then storage (what is stored is
//! the encoded payload, encrypted if a codec encrypts); on the way in, storage first.
//!
//! ```no_run
//! use legwork::storage::{ExternalStorage, FilesystemDriver};
//! use legwork::worker::WorkerOptions;
//!
//! let mut options = WorkerOptions::new("reports");
//! options.external_storage = Some(ExternalStorage::new(FilesystemDriver::new("/mnt/payloads")));
//! ```

use std::fmt;
use std::sync::Arc;

use crate::codec::{BoxFuture, SerializationContext};
use crate::payload::Payload;

mod error;
mod filesystem;
mod key;
mod reference;
#[cfg(feature = "s3")]
mod s3;
mod store;

pub use error::StorageError;
pub use filesystem::FilesystemDriver;
pub(crate) use reference::is_reference;
pub use reference::Claim;
#[cfg(feature = "s3")]
pub use s3::S3Driver;
pub(crate) use store::unreadable_reference;

/// The future a driver call returns.
pub type StorageFuture<'a, T> = BoxFuture<'a, Result<T, StorageError>>;

/// Stores payloads somewhere and fetches them back by the claims it returned, as the
/// SDKs' `StorageDriver`.
///
/// A driver is chosen for a reference by its [`name`](StorageDriver::name), so a name
/// must be the same on every worker and client that reads the same references (Python's
/// S3 driver is `aws.s3driver` unless renamed).
pub trait StorageDriver: Send + Sync + 'static {
    /// The name references carry; unique among a worker's drivers.
    fn name(&self) -> &str;

    /// The kind of driver, the same in every language (`aws.s3driver`,
    /// `legwork.filesystem`); worker heartbeats list it.
    fn kind(&self) -> &str;

    /// Stores `payloads` (already through the codecs) and returns one claim per payload,
    /// in order. `context` says whose payloads they are.
    fn store<'a>(
        &'a self,
        context: &'a SerializationContext,
        payloads: Vec<Payload>,
    ) -> StorageFuture<'a, Vec<Claim>>;

    /// Fetches the payloads of `claims`, one per claim, in order.
    fn retrieve<'a>(
        &'a self,
        context: &'a SerializationContext,
        claims: Vec<Claim>,
    ) -> StorageFuture<'a, Vec<Payload>>;
}

/// Payloads of [`ExternalStorage::DEFAULT_THRESHOLD`] bytes or more go to the driver
/// that stores; any configured driver reads references that name it.
///
/// Cloning is cheap (the drivers are shared).
#[derive(Clone)]
pub struct ExternalStorage {
    drivers: Vec<Arc<dyn StorageDriver>>,
    threshold: usize,
}

impl ExternalStorage {
    /// The SDKs' default threshold: 256 KiB, serialized size.
    pub const DEFAULT_THRESHOLD: usize = 256 * 1024;

    /// `driver` stores payloads over the threshold and reads references naming it.
    pub fn new(driver: impl StorageDriver) -> Self {
        ExternalStorage {
            drivers: vec![Arc::new(driver)],
            threshold: Self::DEFAULT_THRESHOLD,
        }
    }

    /// Also reads references that name `driver` (written by another worker or SDK);
    /// the first driver still does the storing.
    #[must_use]
    pub fn reading(mut self, driver: impl StorageDriver) -> Self {
        self.drivers.push(Arc::new(driver));
        self
    }

    /// Stores payloads of `bytes` or more (serialized size); 0 stores every payload.
    #[must_use]
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The threshold in bytes.
    pub fn threshold_bytes(&self) -> usize {
        self.threshold
    }

    /// The drivers' names and kinds, the storing one first, for worker heartbeats and the
    /// start-up line.
    pub fn drivers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.drivers.iter().map(|d| (d.name(), d.kind()))
    }

    fn driver(&self, name: &str) -> Option<&Arc<dyn StorageDriver>> {
        self.drivers.iter().find(|driver| driver.name() == name)
    }
}

impl fmt::Debug for ExternalStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalStorage")
            .field("drivers", &self.drivers().collect::<Vec<_>>())
            .field("threshold", &self.threshold)
            .finish()
    }
}
