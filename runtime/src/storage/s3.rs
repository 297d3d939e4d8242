//! [`S3Driver`] (feature `s3`): payloads in Amazon S3 or an S3-compatible store, in the
//! format of Python's `temporalio.contrib.aws.s3driver`: the same driver name
//! (`aws.s3driver`), object keys and claim (`bucket`, `key`, `hash_algorithm`,
//! `hash_value`), and the serialized `Payload` as the object. Either side reads what the
//! other stored.
//!
//! Built on `object_store` (Apache Arrow's): async, one HTTP client for S3 and its
//! compatibles, credentials from the standard `AWS_*` variables, and far lighter to
//! build than the AWS SDK. A claim names its bucket, so a store is kept per bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::ObjectStore;

use super::filesystem::{claim_value, verify};
use super::key::{object_key, sha256_hex, HASH_ALGORITHM};
use super::{Claim, StorageDriver, StorageError, StorageFuture};
use crate::codec::SerializationContext;
use crate::connection::Secret;
use crate::payload::Payload;

/// Stores payloads in one S3 bucket and reads them from any bucket a claim names.
///
/// Credentials, region and endpoint come from the `AWS_*` variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...)
/// unless set here.
///
/// ```no_run
/// use legwork::storage::{ExternalStorage, S3Driver};
///
/// let storage = ExternalStorage::new(S3Driver::new("temporal-payloads"));
/// // An S3-compatible store on this machine (MinIO, moto):
/// let local = S3Driver::new("payloads").endpoint("http://127.0.0.1:9000");
/// ```
#[derive(Clone)]
pub struct S3Driver {
    name: String,
    bucket: String,
    endpoint: Option<String>,
    region: Option<String>,
    credentials: Option<(String, Secret)>,
    stores: Arc<Mutex<HashMap<String, Arc<AmazonS3>>>>,
}

impl S3Driver {
    /// The driver kind, and its default name (Python's).
    pub const KIND: &'static str = "aws.s3driver";

    /// A driver named `aws.s3driver` storing in `bucket`.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Driver {
            name: Self::KIND.to_owned(),
            bucket: bucket.into(),
            endpoint: None,
            region: None,
            credentials: None,
            stores: Arc::default(),
        }
    }

    /// Another name, for more than one S3 configuration (the name references carry).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// An S3-compatible endpoint, e.g. `http://127.0.0.1:9000` (plain HTTP is allowed
    /// only for an `http://` endpoint given here).
    #[must_use]
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The region, when `AWS_REGION` does not say it.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Static credentials, when the `AWS_*` variables do not hold them.
    #[must_use]
    pub fn credentials(mut self, access_key_id: impl Into<String>, secret: Secret) -> Self {
        self.credentials = Some((access_key_id.into(), secret));
        self
    }

    /// The store for `bucket`, built once.
    fn store(&self, bucket: &str) -> Result<Arc<AmazonS3>, StorageError> {
        let mut stores = self
            .stores
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(store) = stores.get(bucket) {
            return Ok(store.clone());
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &self.region {
            builder = builder.with_region(region);
        }
        if let Some((key_id, secret)) = &self.credentials {
            builder = builder
                .with_access_key_id(key_id)
                .with_secret_access_key(secret.expose());
        }
        let store = Arc::new(builder.build().map_err(|error| {
            StorageError::Invalid(format!(
                "driver `{}`: bucket `{bucket}`: {error}",
                self.name
            ))
        })?);
        stores.insert(bucket.to_owned(), store.clone());
        Ok(store)
    }

    async fn put(
        &self,
        context: &SerializationContext,
        payload: Payload,
    ) -> Result<Claim, StorageError> {
        let bytes = payload.encode_to_vec();
        let hash = sha256_hex(&bytes);
        let key = object_key(context, &hash);
        let store = self.store(&self.bucket)?;
        let path = path(&self.name, &key)?;
        store.put(&path, bytes.into()).await.map_err(|error| {
            StorageError::unavailable(
                &self.name,
                format!("storing s3://{}/{key}: {error}", self.bucket),
            )
        })?;
        Ok(Claim::from([
            ("bucket".to_owned(), self.bucket.clone()),
            ("key".to_owned(), key),
            ("hash_algorithm".to_owned(), HASH_ALGORITHM.to_owned()),
            ("hash_value".to_owned(), hash),
        ]))
    }

    async fn get(&self, claim: Claim) -> Result<Payload, StorageError> {
        let bucket = claim_value(&self.name, &claim, "bucket")?;
        let key = claim_value(&self.name, &claim, "key")?;
        let store = self.store(bucket)?;
        let location = format!("s3://{bucket}/{key}");
        let fetched = match store.get(&path(&self.name, key)?).await {
            Ok(result) => result.bytes().await,
            Err(error) => Err(error),
        };
        let bytes = fetched.map_err(|error| match error {
            object_store::Error::NotFound { .. } => {
                StorageError::not_found(&self.name, location.clone())
            }
            other => StorageError::unavailable(&self.name, format!("fetching {location}: {other}")),
        })?;
        verify(&self.name, &claim, &bytes)?;
        Payload::decode(&bytes).map_err(|error| {
            StorageError::Invalid(format!(
                "driver `{}`: {location} is not a payload: {error}",
                self.name
            ))
        })
    }
}

fn path(driver: &str, key: &str) -> Result<Path, StorageError> {
    Path::parse(key)
        .map_err(|error| StorageError::Invalid(format!("driver `{driver}`: key `{key}`: {error}")))
}

impl StorageDriver for S3Driver {
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
        // One at a time: a task's payloads are few (usually one), and an error stops
        // the rest.
        Box::pin(async move {
            let mut claims = Vec::with_capacity(payloads.len());
            for payload in payloads {
                claims.push(self.put(context, payload).await?);
            }
            Ok(claims)
        })
    }

    fn retrieve<'a>(
        &'a self,
        _context: &'a SerializationContext,
        claims: Vec<Claim>,
    ) -> StorageFuture<'a, Vec<Payload>> {
        Box::pin(async move {
            let mut payloads = Vec::with_capacity(claims.len());
            for claim in claims {
                payloads.push(self.get(claim).await?);
            }
            Ok(payloads)
        })
    }
}

impl std::fmt::Debug for S3Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Driver")
            .field("name", &self.name)
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &self.credentials.as_ref().map(|(id, _)| id))
            .finish_non_exhaustive()
    }
}
