//! Why a codec failed. Messages name key ids, never keys.

use std::error::Error;

/// Why a payload could not be encoded or decoded.
///
/// Every message is one line, names the codec or the key id involved, and never
/// contains key material.
///
/// ```
/// use legwork::codec::CodecError;
///
/// let error = CodecError::failed("my-kms-codec", "key service unreachable");
/// assert_eq!(error.to_string(), "codec `my-kms-codec` failed: key service unreachable");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A `binary/encrypted` payload names a key id this codec has no key for.
    #[error(
        "no key with id `{key_id}` to decrypt a binary/encrypted payload (known key ids: {})",
        known.join(", ")
    )]
    UnknownKey {
        /// The payload's `encryption-key-id`, escaped and cut to 64 characters.
        key_id: String,
        /// The ids this codec has keys for.
        known: Vec<String>,
    },
    /// The key is known but the payload does not decrypt: the key under that id is not
    /// the one it was encrypted with, or the data was altered (the GCM tag is wrong).
    #[error(
        "a binary/encrypted payload does not decrypt with key `{key_id}`: \
         the key is not the one it was encrypted with, or the data was altered"
    )]
    Decrypt {
        /// The payload's `encryption-key-id`.
        key_id: String,
    },
    /// A key given to [`Aes256Gcm`](super::Aes256Gcm) is not 32 bytes long.
    #[error("key `{key_id}` is {length} bytes long; AES-256-GCM needs 32")]
    InvalidKey {
        /// The id given with the key.
        key_id: String,
        /// The key's length in bytes.
        length: usize,
    },
    /// A payload claims a codec's encoding but its content is not what that codec writes.
    #[error("{codec}: {reason}")]
    Malformed {
        /// The codec, e.g. `aes-256-gcm` or `zlib`.
        codec: String,
        /// What is wrong.
        reason: String,
    },
    /// A codec panicked; the chain caught it.
    #[error("codec `{codec}` panicked: {message}")]
    Panicked {
        /// The codec's [`name`](super::PayloadCodec::name).
        codec: String,
        /// The panic's message, when it was a string.
        message: String,
    },
    /// A codec failed for a reason of its own (a key service that did not answer, say).
    #[error("codec `{codec}` failed: {source}")]
    Failed {
        /// The codec's name.
        codec: String,
        /// The cause.
        source: Box<dyn Error + Send + Sync>,
    },
}

impl CodecError {
    /// A failure of a user's codec, with its cause.
    pub fn failed(
        codec: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self::Failed {
            codec: codec.into(),
            source: source.into(),
        }
    }

    /// A payload that claims a codec's encoding but is not what that codec writes.
    pub fn malformed(codec: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Malformed {
            codec: codec.into(),
            reason: reason.into(),
        }
    }
}
