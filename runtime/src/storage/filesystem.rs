//! [`FilesystemDriver`]: payloads as files under a directory every worker and client of
//! the namespace can reach (a shared volume), keyed as the S3 driver keys objects.

use std::io;
use std::path::{Path, PathBuf};

use super::key::{object_key, sha256_hex, HASH_ALGORITHM};
use super::{Claim, StorageDriver, StorageError, StorageFuture};
use crate::codec::SerializationContext;
use crate::payload::Payload;

/// Stores payloads as files under a root directory. The claim holds the key (the path
/// under the root) and the content hash, which is checked on the way back.
///
/// Blocking file I/O runs on Tokio's blocking threads, never on the thread that polls.
#[derive(Clone, Debug)]
pub struct FilesystemDriver {
    name: String,
    root: PathBuf,
}

impl FilesystemDriver {
    /// The driver kind, and its default name.
    pub const KIND: &'static str = "legwork.filesystem";

    /// A driver named `legwork.filesystem` storing under `root`.
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self::named(Self::KIND, root)
    }

    /// A driver with its own name, for more than one filesystem root.
    pub fn named(name: impl Into<String>, root: impl AsRef<Path>) -> Self {
        FilesystemDriver {
            name: name.into(),
            root: root.as_ref().to_path_buf(),
        }
    }

    fn store_one(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.root.join(key);
        let failed = |error: io::Error| {
            StorageError::unavailable(&self.name, format!("writing {}: {error}", path.display()))
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        // Written aside and renamed, so a reader never sees half an object.
        let partial = path.with_extension(format!("partial-{}", fastrand::u64(..)));
        std::fs::write(&partial, bytes).map_err(failed)?;
        std::fs::rename(&partial, &path).map_err(failed)
    }

    fn retrieve_one(&self, claim: &Claim) -> Result<Payload, StorageError> {
        let key = claim_value(&self.name, claim, "key")?;
        // A claim is data from history: it must not reach outside the root.
        if key.split('/').any(|part| part == ".." || part.is_empty()) || key.starts_with('/') {
            return Err(StorageError::Invalid(format!(
                "driver `{}`: the key `{key}` leaves the storage root",
                self.name
            )));
        }
        let path = self.root.join(key);
        let bytes = std::fs::read(&path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => {
                StorageError::not_found(&self.name, path.display().to_string())
            }
            _ => StorageError::unavailable(
                &self.name,
                format!("reading {}: {error}", path.display()),
            ),
        })?;
        verify(&self.name, claim, &bytes)?;
        Payload::decode(&bytes).map_err(|error| {
            StorageError::Invalid(format!(
                "driver `{}`: {key} is not a payload: {error}",
                self.name
            ))
        })
    }
}

impl StorageDriver for FilesystemDriver {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        Self::KIND
    }

    fn store<'a>(
        &'a self,
        context: &'a SerializationContext,
        payloads: Vec<Payload>,
    ) -> StorageFuture<'a, Vec<Claim>> {
        let driver = self.clone();
        let context = context.clone();
        Box::pin(async move {
            blocking(&driver.name.clone(), move || {
                payloads
                    .iter()
                    .map(|payload| {
                        let bytes = payload.encode_to_vec();
                        let hash = sha256_hex(&bytes);
                        let key = object_key(&context, &hash);
                        driver.store_one(&key, &bytes)?;
                        Ok(claim(key, hash))
                    })
                    .collect()
            })
            .await
        })
    }

    fn retrieve<'a>(
        &'a self,
        _context: &'a SerializationContext,
        claims: Vec<Claim>,
    ) -> StorageFuture<'a, Vec<Payload>> {
        let driver = self.clone();
        Box::pin(async move {
            blocking(&driver.name.clone(), move || {
                claims
                    .iter()
                    .map(|claim| driver.retrieve_one(claim))
                    .collect()
            })
            .await
        })
    }
}

/// The claim every legwork driver writes: where, and the content hash.
pub(crate) fn claim(key: String, hash: String) -> Claim {
    Claim::from([
        ("key".to_owned(), key),
        ("hash_algorithm".to_owned(), HASH_ALGORITHM.to_owned()),
        ("hash_value".to_owned(), hash),
    ])
}

/// A claim's value, or why the claim is unusable.
pub(crate) fn claim_value<'c>(
    driver: &str,
    claim: &'c Claim,
    key: &str,
) -> Result<&'c str, StorageError> {
    claim.get(key).map(String::as_str).ok_or_else(|| {
        StorageError::Invalid(format!("driver `{driver}`: the claim has no `{key}`"))
    })
}

/// Checks the stored bytes against the claim's hash, as Python's S3 driver does.
pub(crate) fn verify(driver: &str, claim: &Claim, bytes: &[u8]) -> Result<(), StorageError> {
    let algorithm = claim_value(driver, claim, "hash_algorithm")?;
    let expected = claim_value(driver, claim, "hash_value")?;
    if algorithm != HASH_ALGORITHM {
        return Err(StorageError::Invalid(format!(
            "driver `{driver}`: unsupported hash algorithm `{algorithm}`"
        )));
    }
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(StorageError::Invalid(format!(
            "driver `{driver}`: the stored payload's sha256 is {actual}, the claim says {expected}"
        )));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    driver: &str,
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(StorageError::unavailable(driver, error.to_string())))
}
