//! The flags of external payload storage.

use std::path::PathBuf;

use crate::isolated::parse_size;
use crate::storage::{ExternalStorage, FilesystemDriver};
use crate::worker::WorkerOptions;

#[derive(Debug, clap::Args)]
pub(in crate::main_entry) struct StorageFlags {
    /// Store payloads over the threshold as files under DIR (a volume every worker and
    /// client of the namespace mounts), and read references to them
    #[arg(long, value_name = "DIR", help_heading = "External payload storage")]
    external_storage_dir: Option<PathBuf>,
    /// Store payloads over the threshold in this S3 bucket (as Python's
    /// `aws.s3driver` does), and read references to any bucket; credentials, region and
    /// endpoint from the AWS_* variables
    #[cfg(feature = "s3")]
    #[arg(
        long,
        value_name = "BUCKET",
        conflicts_with = "external_storage_dir",
        help_heading = "External payload storage"
    )]
    external_storage_s3_bucket: Option<String>,
    /// Store payloads of this serialized size or more, e.g. 256KiB (the SDKs' default)
    #[arg(long, value_name = "SIZE", value_parser = parse_threshold,
          help_heading = "External payload storage")]
    external_storage_threshold: Option<u64>,
}

impl StorageFlags {
    /// Sets `options.external_storage` when a driver is named.
    pub(in crate::main_entry) fn apply(&self, options: &mut WorkerOptions) {
        let storage = match &self.external_storage_dir {
            Some(dir) => Some(ExternalStorage::new(FilesystemDriver::new(dir))),
            None => self.s3(),
        };
        options.external_storage = storage.map(|storage| match self.external_storage_threshold {
            Some(bytes) => storage.threshold(usize::try_from(bytes).unwrap_or(usize::MAX)),
            None => storage,
        });
    }

    #[cfg(feature = "s3")]
    fn s3(&self) -> Option<ExternalStorage> {
        let bucket = self.external_storage_s3_bucket.as_ref()?;
        Some(ExternalStorage::new(crate::storage::S3Driver::new(bucket)))
    }

    #[cfg(not(feature = "s3"))]
    fn s3(&self) -> Option<ExternalStorage> {
        None
    }
}

fn parse_threshold(text: &str) -> Result<u64, String> {
    match text.parse::<u64>().ok().or_else(|| parse_size(text)) {
        Some(bytes) => Ok(bytes),
        None => Err(format!(
            "`{text}` is not a size: write bytes, or a whole number and KiB, MiB or GiB, e.g. 256KiB"
        )),
    }
}
