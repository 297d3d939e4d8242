//! Argument decoding and result encoding for the code `#[activity]` generates.

use std::vec;

use std::future::Future;
use std::sync::Arc;

use crate::attempt::Attempt;
use crate::error::{failure_type, ActivityError};
use crate::payload::{Decoder, Encoder};
use crate::proto::Payload;
use crate::registry::Outcome;

/// The argument payloads of one activity task, one payload per parameter.
pub struct Args {
    activity: &'static str,
    payloads: Vec<Payload>,
}

impl Args {
    pub fn new(activity: &'static str, payloads: Vec<Payload>) -> Self {
        Args { activity, payloads }
    }

    /// Checks the payload count against the function's parameters, by name.
    pub fn expect(self, params: &'static [&'static str]) -> Result<ArgDecoder, ActivityError> {
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

/// Decodes the arguments in order; built by [`Args::expect`].
pub struct ArgDecoder {
    activity: &'static str,
    params: &'static [&'static str],
    payloads: vec::IntoIter<Payload>,
    index: usize,
}

impl ArgDecoder {
    /// Decodes the next argument; a failure names the activity, the parameter and the cause.
    pub fn next<T>(&mut self, decoder: Decoder<T>) -> Result<T, ActivityError> {
        let index = self.index;
        self.index += 1;
        let payload = self
            .payloads
            .next()
            .expect("Args::expect checked the argument count");
        decoder(&payload).map_err(|error| {
            ActivityError::new(format!(
                "activity `{}` could not decode argument {} (`{}`): {error}",
                self.activity, index, self.params[index]
            ))
            .with_type(failure_type::DECODE)
            .non_retryable()
        })
    }
}

/// Turns a user's `Result<T, E>` into one with an [`ActivityError`].
pub fn into_result<T, E: Into<ActivityError>>(result: Result<T, E>) -> Result<T, ActivityError> {
    result.map_err(Into::into)
}

/// Encodes a successful value; an encoding failure fails the activity, non-retryably.
pub fn finish<T>(result: Result<T, ActivityError>, encoder: Encoder<T>) -> Outcome {
    encoder(result?).map_err(|error| {
        ActivityError::new(format!("could not encode the result: {error}"))
            .with_type(failure_type::ENCODE)
            .non_retryable()
    })
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
        let error = args.expect(&["path", "width"]).err().unwrap();
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
        let mut decoder = args.expect(&["width"]).unwrap();
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
}
