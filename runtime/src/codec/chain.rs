//! Several codecs applied in order, with panics turned into errors.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::context::SerializationContext;
use super::error::CodecError;
use super::payload_codec::{CodecFuture, PayloadCodec};
use crate::payload::Payload;

/// Codecs applied in the order they were added on encode, and in reverse on decode:
/// `CodecChain::new().then(Zlib::new()).then(aes)` compresses, then encrypts; decoding
/// decrypts, then inflates.
///
/// This is the order of the TypeScript SDK's `payloadCodecs` array. Go's
/// `NewCodecDataConverter(parent, a, b)` lists them the other way round (it encodes with
/// `b` first), so a chain ported from Go reverses its list.
///
/// Cloning is cheap (the codecs are shared). A panic inside a codec is caught and
/// becomes [`CodecError::Panicked`]. An empty chain passes payloads through.
///
/// ```
/// use legwork::codec::{CodecChain, Zlib};
/// use legwork::Payload;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let chain = CodecChain::new().then(Zlib::new().always_encode(true));
/// let payload = Payload::new(Default::default(), b"[1,2,3]".to_vec());
/// let sent = chain.encode(vec![payload.clone()]).await?;
/// assert_eq!(sent[0].metadata["encoding"], b"binary/zlib");
/// assert_eq!(chain.decode(sent).await?, vec![payload]);
/// # Ok::<_, legwork::codec::CodecError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct CodecChain {
    codecs: Vec<Arc<dyn PayloadCodec>>,
}

impl CodecChain {
    /// An empty chain: payloads pass through.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a codec that encodes after (and decodes before) those already in the chain.
    #[must_use]
    pub fn then(self, codec: impl PayloadCodec) -> Self {
        self.then_shared(Arc::new(codec))
    }

    /// [`then`](Self::then) for a codec shared with other chains.
    #[must_use]
    pub fn then_shared(mut self, codec: Arc<dyn PayloadCodec>) -> Self {
        self.codecs.push(codec);
        self
    }

    /// Whether the chain has no codecs, so callers can skip it.
    pub fn is_empty(&self) -> bool {
        self.codecs.is_empty()
    }

    /// Encodes with each codec in order.
    pub async fn encode(&self, mut payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        for codec in &self.codecs {
            payloads = guarded(codec.as_ref(), |codec| codec.encode(payloads)).await?;
        }
        Ok(payloads)
    }

    /// Decodes with each codec in reverse order.
    pub async fn decode(&self, mut payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        for codec in self.codecs.iter().rev() {
            payloads = guarded(codec.as_ref(), |codec| codec.decode(payloads)).await?;
        }
        Ok(payloads)
    }

    /// [`encode`](Self::encode) with each codec told whose payloads these are.
    pub async fn encode_in(
        &self,
        context: &SerializationContext,
        mut payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, CodecError> {
        for codec in &self.codecs {
            payloads = guarded(codec.as_ref(), |codec| codec.encode_in(context, payloads)).await?;
        }
        Ok(payloads)
    }

    /// [`decode`](Self::decode) with each codec told whose payloads these are.
    pub async fn decode_in(
        &self,
        context: &SerializationContext,
        mut payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, CodecError> {
        for codec in self.codecs.iter().rev() {
            payloads = guarded(codec.as_ref(), |codec| codec.decode_in(context, payloads)).await?;
        }
        Ok(payloads)
    }
}

impl PayloadCodec for CodecChain {
    fn encode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        Box::pin(CodecChain::encode(self, payloads))
    }

    fn decode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        Box::pin(CodecChain::decode(self, payloads))
    }

    fn name(&self) -> &str {
        "chain"
    }
}

impl fmt::Debug for CodecChain {
    /// The codecs' names: a codec's own `Debug` is not asked, so a user's codec that
    /// holds a key cannot print it through the chain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CodecChain")
            .field(&self.codecs.iter().map(|c| c.name()).collect::<Vec<_>>())
            .finish()
    }
}

/// Runs one codec call, turning a panic (in the call or while polling its future) into
/// [`CodecError::Panicked`], so a faulty codec fails one payload, not the worker.
fn guarded<'a>(
    codec: &'a dyn PayloadCodec,
    call: impl FnOnce(&'a dyn PayloadCodec) -> CodecFuture<'a>,
) -> CodecFuture<'a> {
    match catch_unwind(AssertUnwindSafe(|| call(codec))) {
        Ok(future) => Box::pin(CatchUnwind { codec, future }),
        Err(panic) => Box::pin(std::future::ready(Err(panicked(codec, panic)))),
    }
}

/// A codec's future whose panics become errors.
struct CatchUnwind<'a> {
    codec: &'a dyn PayloadCodec,
    future: CodecFuture<'a>,
}

impl Future for CatchUnwind<'_> {
    type Output = Result<Vec<Payload>, CodecError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The future is not polled again after a panic: it ends here, with the error.
        let this = &mut *self;
        match catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => Poll::Ready(Err(panicked(this.codec, panic))),
        }
    }
}

fn panicked(codec: &dyn PayloadCodec, panic: Box<dyn Any + Send>) -> CodecError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    let name = catch_unwind(AssertUnwindSafe(|| codec.name().to_string()))
        .unwrap_or_else(|_| "a codec whose name panics".to_string());
    CodecError::Panicked {
        codec: name,
        message,
    }
}
