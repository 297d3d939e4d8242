//! Argument decoding and result encoding for the code `#[activity]` generates.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::vec;

use crate::attempt::Attempt;
use crate::error::{failure_type, ActivityError};
use crate::payload::Payload;
use crate::payload::{Decoder, Encoder};

/// What an activity returns once its result is encoded.
pub type Outcome = Result<Payload, ActivityError>;
/// The future of an async activity.
pub type BoxOutcome = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// The argument payloads of one activity task, one payload per parameter.
pub struct Args {
    activity: &'static str,
    payloads: Vec<Payload>,
}

impl Args {
    /// The arguments of a task of `activity` (named in decoding errors), one payload per
    /// parameter after the context, in order.
    pub fn new(activity: &'static str, payloads: Vec<Payload>) -> Self {
        Args { activity, payloads }
    }

    /// The payloads as they came, for a dynamic activity (`dynamic.rs`).
    pub(crate) fn into_payloads(self) -> Vec<Payload> {
        self.payloads
    }

    /// A decoder of the arguments, one per parameter; a count that differs from the
    /// parameters (named for the error) is an error.
    pub fn into_decoder(
        self,
        params: &'static [&'static str],
    ) -> Result<ArgDecoder, ActivityError> {
        if self.payloads.len() != params.len() {
            let expected = match params {
                [] => "no arguments".to_owned(),
                [one] => format!("1 argument ({one})"),
                many => format!("{} arguments ({})", many.len(), many.join(", ")),
            };
            return Err(ActivityError::new(format!(
                "activity `{}` takes {expected} but was given {}",
                self.activity,
                self.payloads.len()
            ))
            .with_type(failure_type::ARGUMENT_COUNT)
            .non_retryable());
        }
        Ok(ArgDecoder {
            activity: self.activity,
            params,
            payloads: self.payloads.into_iter(),
            index: 0,
        })
    }
}

/// Decodes the arguments in order; built by [`Args::into_decoder`].
pub struct ArgDecoder {
    activity: &'static str,
    params: &'static [&'static str],
    payloads: vec::IntoIter<Payload>,
    index: usize,
}

/// How much of a decoding error's cause a failure quotes: serde quotes the offending
/// value, and a huge string argument must not become a huge failure message.
pub(crate) const MAX_CAUSE_BYTES: usize = 1024;

impl ArgDecoder {
    /// Decodes the next argument; a failure names the activity, the parameter and the cause.
    pub fn next<T>(&mut self, decoder: Decoder<T>) -> Result<T, ActivityError> {
        let index = self.index;
        self.index += 1;
        let param = self.params.get(index).copied().unwrap_or("?");
        let Some(payload) = self.payloads.next() else {
            // Generated code decodes exactly the checked count; never reached from it.
            return Err(ActivityError::new(format!(
                "activity `{}` has no payload for argument {index} (`{param}`)",
                self.activity
            ))
            .with_type(failure_type::ARGUMENT_COUNT)
            .non_retryable());
        };
        let decoded = catch_unwind(AssertUnwindSafe(|| decoder(&payload))).map_err(|panic| {
            let doing = format!("decoding argument {index} (`{param}`)");
            ActivityError::from_panic_while(self.activity, &doing, &*panic)
        })?;
        decoded.map_err(|error| {
            ActivityError::new(format!(
                "activity `{}` could not decode argument {index} (`{param}`): {}",
                self.activity,
                clip(error.to_string(), MAX_CAUSE_BYTES)
            ))
            .with_type(failure_type::DECODE)
            .non_retryable()
        })
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), saying how much was cut.
pub(crate) fn clip(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… ({cut} more bytes)"));
    text
}

/// Turns a user's `Result<T, E>` into one with an [`ActivityError`].
pub fn into_result<T, E: Into<ActivityError>>(result: Result<T, E>) -> Result<T, ActivityError> {
    result.map_err(Into::into)
}

/// Encodes a successful value. A `Serialize` that fails fails the activity, non-retryably
/// (`PayloadEncodeError`); one that panics is a `PanicError` that says where it panicked.
pub fn finish<T>(activity: &str, result: Result<T, ActivityError>, encoder: Encoder<T>) -> Outcome {
    let value = result?;
    match catch_unwind(AssertUnwindSafe(|| encoder(value))) {
        Ok(Ok(payload)) => Ok(payload),
        Ok(Err(error)) => Err(ActivityError::new(format!(
            "activity `{activity}` could not encode its result: {}",
            clip(error.to_string(), MAX_CAUSE_BYTES)
        ))
        .with_type(failure_type::ENCODE)
        .non_retryable()),
        Err(panic) => Err(ActivityError::from_panic_while(
            activity,
            "encoding its result",
            &*panic,
        )),
    }
}

/// Runs an async activity until it ends or is cancelled. The activity is polled first, so
/// one that selects on `ctx.cancelled()` sees the cancellation before it is dropped.
pub(crate) async fn until_cancelled(
    attempt: Arc<Attempt>,
    activity: impl Future<Output = Outcome>,
) -> Outcome {
    tokio::select! {
        biased;
        outcome = activity => outcome,
        reason = attempt.cancelled() => Err(ActivityError::cancelled(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{decode_json, encode_json};

    #[test]
    fn wrong_count_names_parameters() {
        let args = Args::new("resize", vec![encode_json("a").unwrap()]);
        let error = args.into_decoder(&["path", "width"]).err().unwrap();
        assert_eq!(
            error.message(),
            "activity `resize` takes 2 arguments (path, width) but was given 1"
        );
        assert!(error.is_non_retryable());
        assert_eq!(error.error_type(), "ArgumentCountError");
    }

    #[test]
    fn decode_error_names_activity_argument_and_cause() {
        let args = Args::new("resize", vec![encode_json("wide").unwrap()]);
        let mut decoder = args.into_decoder(&["width"]).unwrap();
        let error = decoder.next::<u32>(decode_json).unwrap_err();
        assert!(
            error.message().starts_with(
                "activity `resize` could not decode argument 0 (`width`): invalid type"
            ),
            "{}",
            error.message()
        );
        assert!(error.is_non_retryable());
    }

    #[test]
    fn a_huge_cause_is_clipped() {
        let huge = "é".repeat(5000);
        let args = Args::new("resize", vec![encode_json(&huge).unwrap()]);
        let error = args
            .into_decoder(&["width"])
            .unwrap()
            .next::<u32>(decode_json)
            .unwrap_err();
        assert!(error.message().len() < 1200, "{}", error.message().len());
        assert!(
            error.message().ends_with(" more bytes)"),
            "{}",
            error.message()
        );
        assert_eq!(clip("abc".to_owned(), 3), "abc");
        assert_eq!(clip("aé".to_owned(), 2), "a… (2 more bytes)");
    }

    #[test]
    fn a_panicking_deserialize_is_a_panic_error_naming_the_argument() {
        struct Explodes;
        impl<'de> serde::Deserialize<'de> for Explodes {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                panic!("no way")
            }
        }
        let args = Args::new("resize", vec![encode_json(1).unwrap()]);
        let mut decoder = args.into_decoder(&["size"]).unwrap();
        let error = decoder.next::<Explodes>(decode_json).err().unwrap();
        assert_eq!(error.error_type(), "PanicError");
        assert_eq!(
            error.message(),
            "activity `resize` panicked while decoding argument 0 (`size`): no way"
        );
        assert!(!error.is_non_retryable());
    }

    #[test]
    fn decoding_past_the_checked_count_is_an_error_not_a_panic() {
        let mut decoder = Args::new("resize", vec![]).into_decoder(&[]).unwrap();
        let error = decoder.next::<u32>(decode_json).unwrap_err();
        assert_eq!(error.error_type(), "ArgumentCountError");
    }

    struct Refuses;
    impl serde::Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("not today"))
        }
    }

    struct Explodes;
    impl serde::Serialize for Explodes {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("kaboom")
        }
    }

    #[test]
    fn a_result_that_does_not_encode_fails_naming_the_activity() {
        let error = finish("resize", Ok(Refuses), encode_json).unwrap_err();
        assert_eq!(error.error_type(), "PayloadEncodeError");
        assert_eq!(
            error.message(),
            "activity `resize` could not encode its result: not today"
        );
        assert!(error.is_non_retryable());
    }

    #[test]
    fn a_panic_in_a_results_serialize_is_a_panic_error() {
        let error = finish("resize", Ok(Explodes), encode_json).unwrap_err();
        assert_eq!(error.error_type(), "PanicError");
        assert_eq!(
            error.message(),
            "activity `resize` panicked while encoding its result: kaboom"
        );
        assert!(!error.is_non_retryable());
    }
}

#[cfg(test)]
mod proptests;
