//! Payload codecs: encryption and compression of payloads on their way to and from the
//! server, and a codec server so the Web UI and the `temporal` CLI can read them.
//!
//! A [`PayloadCodec`] turns payloads into other payloads (`Vec<Payload>` in,
//! `Vec<Payload>` out), may await (a key service, say) and may fail with a
//! [`CodecError`]. A [`CodecChain`] applies several in order. Built in:
//!
//! - [`Aes256Gcm`]: `binary/encrypted`, byte-compatible with the encryption samples of
//!   Temporal's Go and Python SDKs, keys chosen by id so they can rotate;
//! - [`Zlib`]: `binary/zlib`, as Go's `converter.NewZlibCodec`.
//!
//! [`CodecServer`] serves a chain over HTTP at `…/encode` and `…/decode`.
//!
//! ```
//! use legwork::codec::{Aes256Gcm, CodecChain, Zlib};
//! use legwork::Payload;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Compress, then encrypt (the order matters: ciphertext does not compress).
//! let chain = CodecChain::new()
//!     .then(Zlib::new())
//!     .then(Aes256Gcm::new("key-2024", [7u8; 32])?);
//! let plain = Payload::new(Default::default(), b"\"hello\"".to_vec());
//! let sent = chain.encode(vec![plain.clone()]).await?;
//! assert_eq!(sent[0].metadata["encoding"], b"binary/encrypted");
//! assert_eq!(chain.decode(sent).await?, vec![plain]);
//! # Ok::<_, legwork::codec::CodecError>(())
//! # }).unwrap();
//! ```

mod aes;
mod chain;
mod context;
mod error;
mod json;
mod payload_codec;
mod server;
mod zlib;

#[cfg(test)]
mod tests;

pub use aes::Aes256Gcm;
pub use chain::CodecChain;
pub use context::SerializationContext;
pub use error::CodecError;
pub use json::{payloads_from_json, payloads_to_json, PayloadsJsonError};
pub use payload_codec::{BoxFuture, CodecFuture, PayloadCodec};
pub use server::{serve, CodecServer};
pub use zlib::Zlib;
