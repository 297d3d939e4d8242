//! [`StorageError`]: why a payload could not be stored or fetched, and whether a retry
//! can help.

/// Why external storage failed. The attempt fails with it: its failure type names the
/// cause, and it is retryable only where the cause can pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A reference names a driver this worker (or client) does not have. Retryable:
    /// another worker of the queue may have it, and a deploy can add it.
    #[error(
        "a payload is stored externally by driver `{name}`, which is not configured here \
         (configured: {known}); add that driver to the external storage"
    )]
    DriverNotFound {
        /// The name the reference carries.
        name: String,
        /// The configured drivers' names, comma-separated, or `none`.
        known: String,
    },
    /// The stored object is gone (deleted, expired, or never written). Not retryable.
    #[error("driver `{driver}`: the stored payload is missing: {detail}")]
    NotFound {
        /// The driver's name.
        driver: String,
        /// Where it looked, e.g. the bucket and key.
        detail: String,
    },
    /// The store could not be reached or failed (network, throttling, a 5xx).
    /// Retryable.
    #[error("driver `{driver}` failed: {detail}")]
    Unavailable {
        /// The driver's name.
        driver: String,
        /// What failed.
        detail: String,
    },
    /// A reference, a claim or a stored object is not what it must be (a malformed
    /// reference, a hash that does not match, a wrong number of results). Not retryable.
    #[error("external storage: {0}")]
    Invalid(String),
}

impl StorageError {
    /// A driver's "the object is not there".
    pub fn not_found(driver: &str, detail: impl Into<String>) -> Self {
        StorageError::NotFound {
            driver: driver.to_owned(),
            detail: detail.into(),
        }
    }

    /// A driver's "the store failed; try again".
    pub fn unavailable(driver: &str, detail: impl Into<String>) -> Self {
        StorageError::Unavailable {
            driver: driver.to_owned(),
            detail: detail.into(),
        }
    }

    /// Whether a retry of the attempt can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StorageError::DriverNotFound { .. } | StorageError::Unavailable { .. }
        )
    }

    /// The failure type an attempt that hit it fails with.
    pub fn failure_type(&self) -> &'static str {
        match self {
            StorageError::DriverNotFound { .. } => "ExternalStorageDriverNotFound",
            StorageError::NotFound { .. } => "ExternalStorageObjectNotFound",
            StorageError::Unavailable { .. } => "ExternalStorageUnavailable",
            StorageError::Invalid(_) => "ExternalStorageInvalid",
        }
    }
}
