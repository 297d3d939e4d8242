//! What the worker and the client call: large payloads out to the storing driver, and
//! references back in from whichever driver they name.

use std::collections::BTreeMap;

use super::reference::Reference;
use super::{ExternalStorage, StorageError};
use crate::codec::SerializationContext;
use crate::payload::Payload;

impl ExternalStorage {
    /// `payloads` with each one of threshold size or more stored by the first driver and
    /// replaced by a reference; smaller ones pass through.
    pub(crate) async fn offload(
        &self,
        context: &SerializationContext,
        mut payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, StorageError> {
        let large: Vec<usize> = (0..payloads.len())
            .filter(|&index| payloads[index].encoded_len() >= self.threshold)
            .collect();
        if large.is_empty() {
            return Ok(payloads);
        }
        let driver = &self.drivers[0];
        let stored: Vec<Payload> = large
            .iter()
            .map(|&index| std::mem::take(&mut payloads[index]))
            .collect();
        let sizes: Vec<usize> = stored.iter().map(Payload::encoded_len).collect();
        let claims = driver.store(context, stored).await?;
        expect_count(driver.name(), "claims", claims.len(), large.len())?;
        for ((index, claim), size) in large.into_iter().zip(claims).zip(sizes) {
            let reference = Reference {
                driver_name: driver.name().to_owned(),
                claim,
            };
            payloads[index] = reference.write(size);
        }
        Ok(payloads)
    }

    /// `payloads` with every reference replaced by the payload it points to.
    pub(crate) async fn fetch(
        &self,
        context: &SerializationContext,
        mut payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, StorageError> {
        // By driver, in order, so each driver is asked once for all of its claims.
        let mut by_driver: BTreeMap<String, Vec<(usize, Reference)>> = BTreeMap::new();
        for (index, payload) in payloads.iter().enumerate() {
            if let Some(reference) = Reference::read(payload).map_err(StorageError::Invalid)? {
                by_driver
                    .entry(reference.driver_name.clone())
                    .or_default()
                    .push((index, reference));
            }
        }
        for (name, references) in by_driver {
            let Some(driver) = self.driver(&name) else {
                return Err(StorageError::DriverNotFound {
                    name,
                    known: self.known(),
                });
            };
            let (indices, claims): (Vec<usize>, Vec<_>) = references
                .into_iter()
                .map(|(index, reference)| (index, reference.claim))
                .unzip();
            let fetched = driver.retrieve(context, claims).await?;
            expect_count(&name, "payloads", fetched.len(), indices.len())?;
            for (index, payload) in indices.into_iter().zip(fetched) {
                payloads[index] = payload;
            }
        }
        Ok(payloads)
    }

    fn known(&self) -> String {
        let names: Vec<&str> = self.drivers.iter().map(|d| d.name()).collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// The error for the first reference among `payloads` on a worker or client without
/// external storage: no driver can read it.
pub(crate) fn unreadable_reference(payloads: &[Payload]) -> Option<StorageError> {
    payloads
        .iter()
        .find_map(|payload| match Reference::read(payload) {
            Ok(Some(reference)) => Some(StorageError::DriverNotFound {
                name: reference.driver_name,
                known: "none: no external storage is configured".to_owned(),
            }),
            Ok(None) => None,
            Err(error) => Some(StorageError::Invalid(error)),
        })
}

fn expect_count(driver: &str, what: &str, got: usize, expected: usize) -> Result<(), StorageError> {
    if got == expected {
        return Ok(());
    }
    Err(StorageError::Invalid(format!(
        "driver `{driver}` returned {got} {what} for {expected}"
    )))
}

#[cfg(test)]
mod tests {
    use super::super::FilesystemDriver;
    use super::*;
    use crate::payload::encode_json;

    fn context() -> SerializationContext {
        SerializationContext {
            namespace: "default".into(),
            workflow_id: Some("wf-1".into()),
            ..Default::default()
        }
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn large_payloads_become_references_and_come_back_whole() {
        let dir = tempdir("roundtrip");
        let storage = ExternalStorage::new(FilesystemDriver::new(&dir)).threshold(1024);
        let small = encode_json("small").unwrap();
        let large = encode_json("x".repeat(4096)).unwrap();
        let sent = run(storage.offload(&context(), vec![small.clone(), large.clone()])).unwrap();
        assert_eq!(sent[0], small);
        assert_eq!(sent[1].encoding(), Some("json/protobuf"));
        assert_eq!(sent[1].external_sizes, [large.encoded_len() as i64]);
        let back = run(storage.fetch(&context(), sent)).unwrap();
        assert_eq!(back, vec![small, large]);
    }

    #[test]
    fn an_unknown_driver_and_a_missing_object_are_typed() {
        let dir = tempdir("missing");
        let storage = ExternalStorage::new(FilesystemDriver::new(&dir)).threshold(0);
        let sent = run(storage.offload(&context(), vec![encode_json(1).unwrap()])).unwrap();

        let elsewhere = ExternalStorage::new(FilesystemDriver::named("other", &dir));
        let error = run(elsewhere.fetch(&context(), sent.clone())).unwrap_err();
        assert!(
            matches!(error, StorageError::DriverNotFound { .. }),
            "{error}"
        );
        assert!(error.is_retryable());

        std::fs::remove_dir_all(&dir).unwrap();
        let error = run(storage.fetch(&context(), sent)).unwrap_err();
        assert_eq!(
            error.failure_type(),
            "ExternalStorageObjectNotFound",
            "{error}"
        );
        assert!(!error.is_retryable());
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "legwork-storage-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
