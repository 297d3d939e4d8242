//! The typed side of the client: what `#[activity]` generates for each function
//! (`GreetActivity::start(&client, options, name)`) returns a [`TypedActivityHandle`], whose
//! `result()` is the activity's own result type.

use std::marker::PhantomData;
use std::ops::Deref;

use super::*;
use crate::payload::{Decoder, Encoder, Probe};

/// A standalone activity started through its generated client, e.g. `GreetActivity::start`;
/// [`result`](Self::result) returns the activity's result type.
///
/// It derefs to [`ActivityHandle`] for the rest: `id()`, `describe()`, `cancel()`,
/// `outcome()`.
///
/// ```no_run
/// use legwork::client::{ActivityOptions, Client, ClientError};
/// use legwork::{activity, ActivityError};
///
/// #[activity]
/// fn greet(name: String) -> Result<String, ActivityError> {
///     Ok(format!("Hello, {name}!"))
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::connect("127.0.0.1:7233", "default").await?;
/// // The arguments are the function's, checked by the compiler.
/// let handle = GreetActivity::start(&client, ActivityOptions::new("greetings"), "world".to_owned()).await?;
/// println!("started {}", handle.id());
/// let greeting: String = handle.result().await?;
/// // Or both at once:
/// let greeting = GreetActivity::execute(&client, ActivityOptions::new("greetings"), "you".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
pub struct TypedActivityHandle<R> {
    handle: ActivityHandle,
    decoder: Decoder<R>,
    _result: PhantomData<fn() -> R>,
}

impl<R> TypedActivityHandle<R> {
    /// Starts `activity_type` with encoded arguments; `decoder` reads its result. Called
    /// by generated code, which picks both conversions by type, as the worker does.
    #[doc(hidden)]
    pub async fn start(
        client: &Client,
        activity_type: &str,
        options: ActivityOptions,
        args: Vec<Payload>,
        decoder: Decoder<R>,
    ) -> Result<Self, ClientError> {
        let handle = client
            .start_activity_with_payloads(activity_type, options, args)
            .await?;
        Ok(Self::new(handle, decoder))
    }

    /// A typed view of a handle, reading the result with `decoder`.
    #[doc(hidden)]
    pub fn new(handle: ActivityHandle, decoder: Decoder<R>) -> Self {
        TypedActivityHandle {
            handle,
            decoder,
            _result: PhantomData,
        }
    }

    /// Waits until the activity closes and decodes its result. A failed, timed-out or
    /// canceled activity is [`ClientError::Failed`]; no result payload reads as `null`
    /// (so `()` and `Option` work), else [`ClientError::NoResult`].
    pub async fn result(&self) -> Result<R, ClientError> {
        match self.handle.result_payload().await? {
            Some(payload) => Ok((self.decoder)(&payload)?),
            None => {
                let null = encode_json(()).map_err(ClientError::Encode)?;
                (self.decoder)(&null).map_err(|_| ClientError::NoResult)
            }
        }
    }

    /// The untyped handle.
    pub fn into_inner(self) -> ActivityHandle {
        self.handle
    }
}

impl<R> Deref for TypedActivityHandle<R> {
    type Target = ActivityHandle;

    fn deref(&self) -> &ActivityHandle {
        &self.handle
    }
}

impl<R> Clone for TypedActivityHandle<R> {
    fn clone(&self) -> Self {
        Self::new(self.handle.clone(), self.decoder)
    }
}

impl<R> std::fmt::Debug for TypedActivityHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedActivityHandle")
            .field("handle", &self.handle)
            .field("result", &std::any::type_name::<R>())
            .finish()
    }
}

/// Encodes one argument for a generated `start`.
#[doc(hidden)]
pub fn encode_arg<T>(encoder: Encoder<T>, value: T) -> Result<Payload, ClientError> {
    encoder(value).map_err(ClientError::from)
}

/// The conversion a generated client falls back to when the activity's argument type has
/// no encoding (it is `Deserialize` only): the call compiles, as the function does, and
/// starting it is an encode error naming the type.
#[doc(hidden)]
pub trait ClientEncodeFallback<T> {
    fn encoder(self) -> Encoder<T>;
}

impl<T> ClientEncodeFallback<T> for Probe<T> {
    fn encoder(self) -> Encoder<T> {
        |_| {
            Err(serde::ser::Error::custom(format!(
                "`{}` has no payload encoding (it does not implement `Serialize`), so a \
                 client cannot send it",
                std::any::type_name::<T>()
            )))
        }
    }
}

/// As [`ClientEncodeFallback`], for a result type with no decoding (`Serialize` only).
#[doc(hidden)]
pub trait ClientDecodeFallback<T> {
    fn decoder(self) -> Decoder<T>;
}

impl<T> ClientDecodeFallback<T> for Probe<T> {
    fn decoder(self) -> Decoder<T> {
        |_| {
            Err(DecodeError::Json(serde::de::Error::custom(format!(
                "`{}` has no payload decoding (it does not implement `Deserialize`), so a \
                 client cannot read it",
                std::any::type_name::<T>()
            ))))
        }
    }
}

/// The success type of a `Result` alias that names none (`-> fmt::Result`).
#[doc(hidden)]
pub trait ResultOk {
    type Ok;
}

impl<T, E> ResultOk for Result<T, E> {
    type Ok = T;
}
