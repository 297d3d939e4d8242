//! `binary/encrypted`: AES-256-GCM as Temporal's encryption samples write it
//! (samples-go `encryption/`, samples-python `encryption/codec.py`).
//!
//! The whole payload (metadata and data) is serialized as a `Payload` proto and
//! encrypted; the result is a payload with metadata `encoding: binary/encrypted`,
//! `encryption-key-id: <id>` and data `nonce (12 random bytes) ‖ ciphertext ‖ tag (16)`,
//! with no associated data. Decoding picks the key by `encryption-key-id`.

use std::collections::BTreeMap;
use std::fmt;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::error::CodecError;
use super::payload_codec::{encoding_of, quoted, CodecFuture, PayloadCodec, ENCODING};
use crate::payload::Payload;

/// The encoding of an encrypted payload.
pub(crate) const BINARY_ENCRYPTED: &str = "binary/encrypted";
/// The metadata key naming the key a payload was encrypted with.
pub(crate) const KEY_ID: &str = "encryption-key-id";
/// The codec's name in errors.
const NAME: &str = "aes-256-gcm";
/// The length of AES-256-GCM's tag, which follows the ciphertext.
const TAG_LEN: usize = 16;

/// AES-256-GCM encryption of whole payloads, byte-compatible with the encryption samples
/// of Temporal's Go and Python SDKs: what one encrypts, the others decrypt with the same
/// key and key id.
///
/// Encrypts with the current key; decrypts with any key it knows, chosen by the
/// payload's `encryption-key-id`, so keys can rotate: add the new key as current and
/// keep the old ones with [`with_key`](Self::with_key) while histories still hold them.
/// Payloads that are not `binary/encrypted` pass through `decode` unchanged.
///
/// Keys never print: `Debug` shows the key ids only, and errors name the key id.
///
/// ```
/// use legwork::codec::{Aes256Gcm, CodecError};
///
/// # fn keys() -> ([u8; 32], [u8; 32]) { ([1; 32], [2; 32]) }
/// let (new_key, old_key) = keys(); // from a secret store, say
/// let codec = Aes256Gcm::new("2025-06", new_key)?.with_key("2024-11", old_key)?;
/// assert_eq!(
///     format!("{codec:?}"),
///     r#"Aes256Gcm { current: "2025-06", key_ids: ["2024-11", "2025-06"] }"#
/// );
/// # Ok::<_, CodecError>(())
/// ```
pub struct Aes256Gcm {
    current: String,
    keys: BTreeMap<String, LessSafeKey>,
    random: SystemRandom,
}

impl Aes256Gcm {
    /// A codec that encrypts with `key` (32 bytes) and writes `key_id` beside it.
    pub fn new(key_id: impl Into<String>, key: impl AsRef<[u8]>) -> Result<Self, CodecError> {
        let current = key_id.into();
        let mut keys = BTreeMap::new();
        keys.insert(current.clone(), aead_key(&current, key.as_ref())?);
        Ok(Self {
            current,
            keys,
            random: SystemRandom::new(),
        })
    }

    /// Adds a key that decrypts payloads naming `key_id` (an older key, while
    /// histories still hold payloads encrypted with it). Replaces a key of the same id,
    /// the current one included.
    pub fn with_key(
        mut self,
        key_id: impl Into<String>,
        key: impl AsRef<[u8]>,
    ) -> Result<Self, CodecError> {
        let key_id = key_id.into();
        let key = aead_key(&key_id, key.as_ref())?;
        self.keys.insert(key_id, key);
        Ok(self)
    }

    /// The id written into the payloads this codec encrypts: the last key added with
    /// [`with_key`](Self::with_key) only decrypts.
    ///
    /// ```
    /// use legwork::codec::Aes256Gcm;
    ///
    /// let codec = Aes256Gcm::new("key-2026", [7u8; 32])?.with_key("key-2025", [9u8; 32])?;
    /// assert_eq!(codec.current_key_id(), "key-2026");
    /// # Ok::<(), legwork::codec::CodecError>(())
    /// ```
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    fn encrypt(&self, payload: &Payload) -> Result<Payload, CodecError> {
        let key = &self.keys[&self.current];
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| CodecError::failed(NAME, "the system's random source failed"))?;
        let mut sealed = payload.encode_to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| CodecError::failed(NAME, "the payload is too large to encrypt"))?;
        let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&sealed);
        Ok(Payload {
            metadata: [
                (ENCODING.to_string(), BINARY_ENCRYPTED.as_bytes().to_vec()),
                (KEY_ID.to_string(), self.current.as_bytes().to_vec()),
            ]
            .into(),
            data,
            ..Default::default()
        })
    }

    /// Decrypts a `binary/encrypted` payload; passes others through.
    fn decrypt(&self, payload: Payload) -> Result<Payload, CodecError> {
        if encoding_of(&payload) != BINARY_ENCRYPTED.as_bytes() {
            return Ok(payload);
        }
        let Some(raw_id) = payload.metadata.get(KEY_ID) else {
            return Err(CodecError::malformed(
                NAME,
                format!("a {BINARY_ENCRYPTED} payload has no `{KEY_ID}` metadata"),
            ));
        };
        let key_id = quoted(raw_id);
        let key = self.key(raw_id, &key_id)?;
        if payload.data.len() < NONCE_LEN + TAG_LEN {
            return Err(CodecError::malformed(
                NAME,
                format!(
                    "a {BINARY_ENCRYPTED} payload holds {} bytes, fewer than a nonce and a tag",
                    payload.data.len()
                ),
            ));
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("the split is NONCE_LEN long");
        let mut sealed = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::empty(), &mut sealed)
            .map_err(|_| CodecError::Decrypt {
                key_id: key_id.clone(),
            })?;
        Payload::decode(&plain[..]).map_err(|error| {
            CodecError::malformed(
                NAME,
                format!("key `{key_id}` decrypted something that is not a Payload: {error}"),
            )
        })
    }

    /// The key named by a payload's (raw) key id.
    fn key(&self, raw_id: &[u8], quoted_id: &str) -> Result<&LessSafeKey, CodecError> {
        std::str::from_utf8(raw_id)
            .ok()
            .and_then(|id| self.keys.get(id))
            .ok_or_else(|| CodecError::UnknownKey {
                key_id: quoted_id.to_string(),
                known: self.keys.keys().cloned().collect(),
            })
    }
}

impl PayloadCodec for Aes256Gcm {
    fn encode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        let encoded = payloads.iter().map(|p| self.encrypt(p)).collect();
        Box::pin(std::future::ready(encoded))
    }

    fn decode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        let decoded = payloads.into_iter().map(|p| self.decrypt(p)).collect();
        Box::pin(std::future::ready(decoded))
    }

    fn name(&self) -> &str {
        NAME
    }
}

impl fmt::Debug for Aes256Gcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aes256Gcm")
            .field("current", &self.current)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A ring key from 32 bytes; the error names the id and the length, not the bytes.
fn aead_key(key_id: &str, key: &[u8]) -> Result<LessSafeKey, CodecError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| CodecError::InvalidKey {
            key_id: quoted(key_id.as_bytes()),
            length: key.len(),
        })
}
