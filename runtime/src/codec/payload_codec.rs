//! `PayloadCodec`, the seam every codec implements, and what codecs share: the
//! `encoding` metadata and error-message quoting.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::context::SerializationContext;
use super::error::CodecError;
use crate::payload::Payload;

/// The metadata key naming a payload's encoding.
pub(crate) const ENCODING: &str = "encoding";

/// A boxed, `Send` future: what a [`PayloadCodec`] returns, so that codecs can be
/// trait objects and still await.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The future a codec call returns: the payloads encoded or decoded, or why not.
pub type CodecFuture<'a> = BoxFuture<'a, Result<Vec<Payload>, CodecError>>;

/// Turns payloads into other payloads on the way to the server (`encode`) and back
/// (`decode`), as the SDKs' `PayloadCodec` does.
///
/// The contract, the SDKs' own:
/// - `decode` leaves alone the payloads it did not encode (check the `encoding`
///   metadata), so codecs can be added to a chain without breaking old histories;
/// - a codec returns at least one payload for a non-empty input (usually exactly one
///   per payload);
/// - a failure is an `Err`. A panic is caught by the [`CodecChain`] and becomes
///   [`CodecError::Panicked`], but do not rely on it.
///
/// [`CodecChain`]: crate::codec::CodecChain
///
/// A codec that awaits a key service:
///
/// ```
/// use legwork::codec::{CodecError, CodecFuture, PayloadCodec};
/// use legwork::Payload;
///
/// struct Tagged;
///
/// async fn current_tag() -> Result<Vec<u8>, CodecError> {
///     Ok(b"v1".to_vec()) // a call to a key service, say
/// }
///
/// impl PayloadCodec for Tagged {
///     fn encode(&self, mut payloads: Vec<Payload>) -> CodecFuture<'_> {
///         Box::pin(async move {
///             let tag = current_tag().await?;
///             for payload in &mut payloads {
///                 payload.metadata.insert("tag".into(), tag.clone());
///             }
///             Ok(payloads)
///         })
///     }
///
///     fn decode(&self, mut payloads: Vec<Payload>) -> CodecFuture<'_> {
///         Box::pin(async move {
///             for payload in &mut payloads {
///                 payload.metadata.remove("tag");
///             }
///             Ok(payloads)
///         })
///     }
/// }
/// ```
pub trait PayloadCodec: Send + Sync + 'static {
    /// Encodes payloads about to be sent to the server.
    fn encode(&self, payloads: Vec<Payload>) -> CodecFuture<'_>;

    /// Decodes payloads received from the server; passes through those it did not encode.
    fn decode(&self, payloads: Vec<Payload>) -> CodecFuture<'_>;

    /// Encodes payloads of `context` (whose they are: namespace, workflow, activity),
    /// which the worker and the client pass, so that a key can be chosen per workflow or
    /// per tenant. By default [`encode`](Self::encode): existing codecs ignore it.
    fn encode_in<'a>(
        &'a self,
        context: &'a SerializationContext,
        payloads: Vec<Payload>,
    ) -> CodecFuture<'a> {
        let _ = context;
        self.encode(payloads)
    }

    /// Decodes payloads of `context`; by default [`decode`](Self::decode).
    fn decode_in<'a>(
        &'a self,
        context: &'a SerializationContext,
        payloads: Vec<Payload>,
    ) -> CodecFuture<'a> {
        let _ = context;
        self.decode(payloads)
    }

    /// The codec's name in errors; the type's name unless overridden.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// A shared or boxed codec is the codec: every call goes to it.
macro_rules! forward_codec {
    ($($pointer:ident),*) => {$(
        impl<T: PayloadCodec + ?Sized> PayloadCodec for $pointer<T> {
            fn encode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
                (**self).encode(payloads)
            }

            fn decode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
                (**self).decode(payloads)
            }

            fn encode_in<'a>(
                &'a self,
                context: &'a SerializationContext,
                payloads: Vec<Payload>,
            ) -> CodecFuture<'a> {
                (**self).encode_in(context, payloads)
            }

            fn decode_in<'a>(
                &'a self,
                context: &'a SerializationContext,
                payloads: Vec<Payload>,
            ) -> CodecFuture<'a> {
                (**self).decode_in(context, payloads)
            }

            fn name(&self) -> &str {
                (**self).name()
            }
        }
    )*};
}

forward_codec!(Arc, Box);

/// The payload's `encoding` metadata as bytes (empty when absent).
pub(crate) fn encoding_of(payload: &Payload) -> &[u8] {
    payload.metadata.get(ENCODING).map_or(&[], Vec::as_slice)
}

/// A value from the outside world (a key id, an encoding), escaped and cut to 64
/// characters, so an error message stays one readable line.
pub(crate) fn quoted(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 64;
    let text = String::from_utf8_lossy(bytes);
    let mut quoted: String = text
        .chars()
        .take(MAX_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > MAX_CHARS {
        quoted.push('…');
    }
    quoted
}
