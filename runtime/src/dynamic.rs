//! Dynamic activities: one `#[activity(dynamic)]` function per worker serves every
//! activity type no other function registers, reading the type and the raw arguments.

use std::any::{Any, TypeId};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use crate::context::ActivityContext;
use crate::error::{failure_type, ActivityError};
use crate::invoke::{clip, Args, MAX_CAUSE_BYTES};
use crate::invoke::{BoxOutcome, Outcome};
use crate::payload::Payload;
use crate::payload::{decode_bytes, decode_json, DecodeError};

/// One call of a dynamic activity: the activity type the caller asked for and its
/// argument payloads, after the worker's payload codecs.
///
/// ```
/// use legwork::{activity, ActivityContext, ActivityError, DynamicCall};
///
/// /// Serves every activity type no other function of this worker registers.
/// #[activity(dynamic)]
/// fn fallback(ctx: &ActivityContext, call: DynamicCall) -> Result<String, ActivityError> {
///     match call.activity_type() {
///         "shout" => {
///             let (text, times): (String, usize) = call.args()?;
///             Ok(text.to_uppercase().repeat(times))
///         }
///         other => Err(ActivityError::new(format!("no activity `{other}` here"))
///             .with_type("NotFoundError")
///             .non_retryable()),
///     }
/// }
///
/// // The function stays callable; a call can be built by hand to test it.
/// use legwork::testing::payload;
/// let call = DynamicCall::new("shout", vec![payload(&"hey"), payload(&2)]);
/// let ctx = ActivityContext::new(Default::default());
/// assert_eq!(fallback(&ctx, call).unwrap(), "HEYHEY");
/// ```
#[derive(Debug, Clone)]
pub struct DynamicCall {
    activity_type: String,
    payloads: Vec<Payload>,
}

impl DynamicCall {
    /// A call of `activity_type` with these argument payloads, e.g. to test a dynamic
    /// activity without a server.
    pub fn new(activity_type: impl Into<String>, payloads: Vec<Payload>) -> Self {
        DynamicCall {
            activity_type: activity_type.into(),
            payloads,
        }
    }

    /// The call of the attempt `ctx` describes; used by the code `#[activity]` generates.
    #[doc(hidden)]
    pub fn of_attempt(ctx: &ActivityContext, args: Args) -> Self {
        Self::new(ctx.info().activity_type.clone(), args.into_payloads())
    }

    /// The activity type the workflow or client asked for.
    pub fn activity_type(&self) -> &str {
        &self.activity_type
    }

    /// The argument payloads, one per argument, in order.
    pub fn payloads(&self) -> &[Payload] {
        &self.payloads
    }

    /// The argument payloads, owned.
    pub fn into_payloads(self) -> Vec<Payload> {
        self.payloads
    }

    /// How many arguments the caller passed.
    pub fn len(&self) -> usize {
        self.payloads.len()
    }

    /// Whether the caller passed no arguments.
    pub fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    /// Decodes argument `index` as a typed activity would: `Vec<u8>` from `binary/plain`,
    /// any other serde type from `json/plain` (`binary/null` as `null`).
    ///
    /// A missing argument is a non-retryable `ArgumentCountError`, a payload that does
    /// not decode a non-retryable `PayloadDecodeError`; both name the activity type, so
    /// `?` is all a dynamic activity needs.
    pub fn decode<T: DeserializeOwned + 'static>(&self, index: usize) -> Result<T, ActivityError> {
        let Some(payload) = self.payloads.get(index) else {
            return Err(ActivityError::new(format!(
                "activity `{}` was given {} but argument {index} was read",
                self.activity_type,
                count(self.payloads.len()),
            ))
            .with_type(failure_type::ARGUMENT_COUNT)
            .non_retryable());
        };
        let decoded = catch_unwind(AssertUnwindSafe(|| decode_one::<T>(payload)));
        let decoded = decoded.map_err(|panic| {
            let doing = format!("decoding argument {index}");
            ActivityError::from_panic_while(&self.activity_type, &doing, &*panic)
        })?;
        decoded.map_err(|error| {
            ActivityError::new(format!(
                "activity `{}` could not decode argument {index}: {}",
                self.activity_type,
                clip(error.to_string(), MAX_CAUSE_BYTES)
            ))
            .with_type(failure_type::DECODE)
            .non_retryable()
        })
    }

    /// Decodes every argument at once into a tuple, `()` for none: `call.args::<(String,
    /// u32)>()`. A different number of arguments is a non-retryable `ArgumentCountError`.
    pub fn args<A: DynamicArgs>(&self) -> Result<A, ActivityError> {
        if self.payloads.len() != A::COUNT {
            return Err(ActivityError::new(format!(
                "activity `{}` takes {} but was given {}",
                self.activity_type,
                count(A::COUNT),
                self.payloads.len()
            ))
            .with_type(failure_type::ARGUMENT_COUNT)
            .non_retryable());
        }
        A::decode(self)
    }
}

fn count(n: usize) -> String {
    match n {
        0 => "no arguments".to_owned(),
        1 => "1 argument".to_owned(),
        n => format!("{n} arguments"),
    }
}

/// The payload conversion of typed activities, chosen by `TypeId` because a generic
/// method cannot use the compile-time probe the macro uses.
fn decode_one<T: DeserializeOwned + 'static>(payload: &Payload) -> Result<T, DecodeError> {
    if TypeId::of::<T>() == TypeId::of::<Vec<u8>>() {
        let bytes: Box<dyn Any> = Box::new(decode_bytes(payload)?);
        if let Ok(value) = bytes.downcast::<T>() {
            return Ok(*value);
        }
    }
    decode_json(payload)
}

/// A tuple of argument types [`DynamicCall::args`] can decode: `()` and tuples of up to
/// eight serde types.
pub trait DynamicArgs: Sized {
    /// How many payloads the tuple reads.
    const COUNT: usize;
    /// Decodes the payloads in order; the count is already checked.
    fn decode(call: &DynamicCall) -> Result<Self, ActivityError>;
}

macro_rules! dynamic_args {
    ($count:literal; $($ty:ident $index:tt),*) => {
        impl<$($ty: DeserializeOwned + 'static),*> DynamicArgs for ($($ty,)*) {
            const COUNT: usize = $count;
            #[allow(unused_variables)]
            fn decode(call: &DynamicCall) -> Result<Self, ActivityError> {
                Ok(($(call.decode::<$ty>($index)?,)*))
            }
        }
    };
}

dynamic_args!(0;);
dynamic_args!(1; A 0);
dynamic_args!(2; A 0, B 1);
dynamic_args!(3; A 0, B 1, C 2);
dynamic_args!(4; A 0, B 1, C 2, D 3);
dynamic_args!(5; A 0, B 1, C 2, D 3, E 4);
dynamic_args!(6; A 0, B 1, C 2, D 3, E 4, F 5);
dynamic_args!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
dynamic_args!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// Runs a sync dynamic activity's body; a panic names the activity type that was
/// called, not the function (the worker would only know the function).
pub fn run_dynamic(activity_type: &str, body: impl FnOnce() -> Outcome) -> Outcome {
    catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(ActivityError::from_panic(activity_type, &*panic)))
}

/// Boxes an async dynamic activity's future; a panic while polling it names the
/// activity type that was called.
pub fn box_dynamic<F>(activity_type: String, future: F) -> BoxOutcome
where
    F: Future<Output = Outcome> + Send + 'static,
{
    Box::pin(NamesPanics {
        activity_type,
        future: Box::pin(future),
    })
}

struct NamesPanics<F> {
    activity_type: String,
    future: Pin<Box<F>>,
}

impl<F: Future<Output = Outcome>> Future for NamesPanics<F> {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        match catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => Poll::Ready(Err(ActivityError::from_panic(&this.activity_type, &*panic))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{encode_bytes, encode_json};

    fn call(payloads: Vec<Payload>) -> DynamicCall {
        DynamicCall::new("shout", payloads)
    }

    #[test]
    fn args_decode_like_typed_activities() {
        let payloads = vec![
            encode_json("hey").unwrap(),
            encode_bytes(vec![1, 2]).unwrap(),
            encode_json(()).unwrap(),
        ];
        let (text, bytes, none): (String, Vec<u8>, Option<u8>) = call(payloads).args().unwrap();
        assert_eq!((text.as_str(), bytes, none), ("hey", vec![1, 2], None));
        let () = call(vec![]).args().unwrap();
    }

    #[test]
    fn a_wrong_count_names_the_type_and_both_counts() {
        let error = call(vec![encode_json(1).unwrap()])
            .args::<(u8, u8)>()
            .unwrap_err();
        assert_eq!(
            error.message(),
            "activity `shout` takes 2 arguments but was given 1"
        );
        assert_eq!(error.error_type(), "ArgumentCountError");
        assert!(error.is_non_retryable());
        let error = call(vec![]).decode::<u8>(0).unwrap_err();
        assert_eq!(
            error.message(),
            "activity `shout` was given no arguments but argument 0 was read"
        );
    }

    #[test]
    fn a_bad_payload_is_a_decode_error_naming_the_argument() {
        let error = call(vec![encode_json("loud").unwrap()])
            .decode::<u32>(0)
            .unwrap_err();
        assert!(
            error
                .message()
                .starts_with("activity `shout` could not decode argument 0: invalid type"),
            "{}",
            error.message()
        );
        assert_eq!(error.error_type(), "PayloadDecodeError");
        assert!(error.is_non_retryable());
    }

    #[test]
    fn panics_name_the_called_type() {
        let error = run_dynamic("shout", || panic!("too loud")).unwrap_err();
        assert_eq!(error.error_type(), "PanicError");
        assert_eq!(error.message(), "activity `shout` panicked: too loud");

        let future = box_dynamic("whisper".to_owned(), async { panic!("too quiet") });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let error = runtime.block_on(future).unwrap_err();
        assert_eq!(error.message(), "activity `whisper` panicked: too quiet");
    }
}
