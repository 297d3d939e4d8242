//! `binary/zlib`: compression of whole payloads, as Go's `converter.NewZlibCodec`.
//!
//! The Python SDK ships no compression codec; Go's is the reference: the serialized
//! `Payload` proto, zlib-compressed (RFC 1950, default level), in a payload whose only
//! metadata is `encoding: binary/zlib`. Like Go's default, a payload is replaced only
//! when compressing makes it smaller, unless [`Zlib::always_encode`] is set (Go's
//! `AlwaysEncode`).

use std::io::{Read as _, Write as _};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::error::CodecError;
use super::payload_codec::{encoding_of, CodecFuture, PayloadCodec, ENCODING};
use crate::payload::Payload;

/// The encoding of a compressed payload.
pub(crate) const BINARY_ZLIB: &str = "binary/zlib";
/// The codec's name in errors.
const NAME: &str = "zlib";
/// Default bound on what one payload may inflate to.
const DEFAULT_MAX_INFLATED: usize = 64 << 20;

/// zlib compression of whole payloads (`binary/zlib`), compatible with Go's
/// `converter.NewZlibCodec`.
///
/// Payloads that are not `binary/zlib` pass through `decode` unchanged. Inflating stops
/// at a bound (64 MiB by default, [`max_inflated`](Self::max_inflated)), so a small
/// hostile payload posted to a codec server cannot take all memory.
///
/// ```
/// use legwork::codec::Zlib;
///
/// // Compress every payload, even those that do not shrink (Go's `AlwaysEncode`).
/// let zlib = Zlib::new().always_encode(true).max_inflated(16 << 20);
/// # let _ = zlib;
/// ```
#[derive(Debug, Clone)]
pub struct Zlib {
    always_encode: bool,
    max_inflated: usize,
}

impl Default for Zlib {
    fn default() -> Self {
        Self::new()
    }
}

impl Zlib {
    /// Compresses payloads that get smaller; inflates up to 64 MiB per payload.
    pub fn new() -> Self {
        Self {
            always_encode: false,
            max_inflated: DEFAULT_MAX_INFLATED,
        }
    }

    /// Whether to compress a payload even when that does not make it smaller.
    #[must_use]
    pub fn always_encode(mut self, always: bool) -> Self {
        self.always_encode = always;
        self
    }

    /// The most bytes one payload may inflate to; more is an error.
    #[must_use]
    pub fn max_inflated(mut self, bytes: usize) -> Self {
        self.max_inflated = bytes;
        self
    }

    fn compress(&self, payload: Payload) -> Result<Payload, CodecError> {
        let serialized = payload.encode_to_vec();
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        let compressed = encoder
            .write_all(&serialized)
            .and_then(|()| encoder.finish())
            .map_err(|error| CodecError::failed(NAME, error))?;
        if !self.always_encode && compressed.len() >= serialized.len() {
            return Ok(payload);
        }
        Ok(Payload {
            metadata: [(ENCODING.to_string(), BINARY_ZLIB.as_bytes().to_vec())].into(),
            data: compressed,
            ..Default::default()
        })
    }

    fn inflate(&self, payload: Payload) -> Result<Payload, CodecError> {
        if encoding_of(&payload) != BINARY_ZLIB.as_bytes() {
            return Ok(payload);
        }
        let mut inflated = Vec::new();
        // One byte past the bound tells "exactly at the bound" from "over it".
        let limit = u64::try_from(self.max_inflated)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        ZlibDecoder::new(payload.data.as_slice())
            .take(limit)
            .read_to_end(&mut inflated)
            .map_err(|error| {
                CodecError::malformed(
                    NAME,
                    format!("a {BINARY_ZLIB} payload does not inflate: {error}"),
                )
            })?;
        if inflated.len() > self.max_inflated {
            return Err(CodecError::malformed(
                NAME,
                format!(
                    "a {BINARY_ZLIB} payload inflates past the bound of {} bytes",
                    self.max_inflated
                ),
            ));
        }
        Payload::decode(inflated.as_slice()).map_err(|error| {
            CodecError::malformed(
                NAME,
                format!(
                    "a {BINARY_ZLIB} payload inflates to something that is not a Payload: {error}"
                ),
            )
        })
    }
}

impl PayloadCodec for Zlib {
    fn encode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        let encoded = payloads.into_iter().map(|p| self.compress(p)).collect();
        Box::pin(std::future::ready(encoded))
    }

    fn decode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        let decoded = payloads.into_iter().map(|p| self.inflate(p)).collect();
        Box::pin(std::future::ready(decoded))
    }

    fn name(&self) -> &str {
        NAME
    }
}
