//! Payloads as Temporal's default data converter writes them.
//!
//! - `binary/null` for `()` and `None` (no data);
//! - `binary/plain` for bytes (`Vec<u8>`), raw;
//! - `json/protobuf` or `binary/protobuf` for protobuf messages (feature `protobuf`,
//!   [`protobuf`]);
//! - `json/plain` for every other serde value, as compact UTF-8 JSON.
//!
//! Which codec a type gets is decided at compile time in the code `#[activity]`
//! generates, by autoref specialisation on a [`Probe`] (see [`probe`]).

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

mod probe;
#[cfg(feature = "protobuf")]
pub mod protobuf;
mod value;

pub use probe::*;
pub use value::Payload;
pub(crate) use value::{from_wire, to_wire};

pub(crate) const ENCODING: &str = "encoding";
pub(crate) const JSON_PLAIN: &str = "json/plain";
pub(crate) const BINARY_NULL: &str = "binary/null";
pub(crate) const BINARY_PLAIN: &str = "binary/plain";

/// Why a payload could not become a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload has no `encoding` metadata, so nothing says how to read its bytes.
    #[error("the payload has no `encoding` metadata; expected {expected}")]
    MissingEncoding {
        /// The encodings this codec reads, e.g. `json/plain or binary/null`.
        expected: &'static str,
    },
    /// The payload's `encoding` metadata is one this codec cannot read.
    #[error("unsupported payload encoding `{found}`; expected {expected}")]
    UnsupportedEncoding {
        /// The encoding as the payload names it: escaped, and cut to 64 characters.
        found: String,
        /// The encodings this codec reads, e.g. `json/plain or binary/null`.
        expected: &'static str,
    },
    /// The payload's JSON did not match the expected type.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The payload is not a valid protobuf message of the expected type (in its binary
    /// form, or in the proto3 JSON mapping).
    #[error("not a valid `{message_type}` in {encoding}: {cause}")]
    Protobuf {
        /// The full name of the message type the parameter expects, e.g. `shop.v1.Order`.
        message_type: String,
        /// The payload's encoding, `json/protobuf` or `binary/protobuf`.
        encoding: &'static str,
        /// Why it did not parse.
        cause: String,
    },
}

/// What the serde codec reads.
const JSON_EXPECTED: &str = "json/plain or binary/null";
/// What the bytes codec reads.
const BYTES_EXPECTED: &str = "binary/plain, json/plain or binary/null";
/// How much of an unknown encoding an error quotes.
const QUOTED_ENCODING_CHARS: usize = 64;

/// Decodes one payload into a `T`.
pub type Decoder<T> = fn(&Payload) -> Result<T, DecodeError>;
/// Encodes one value into a payload.
pub type Encoder<T> = fn(T) -> Result<Payload, serde_json::Error>;

/// The payload's `encoding` metadata, or `""` when it has none (or it is not UTF-8).
#[cfg(test)]
pub(crate) fn encoding_of(payload: &Payload) -> &str {
    payload.encoding().unwrap_or("")
}

/// The error for a payload whose encoding this codec does not read.
pub(crate) fn unsupported(payload: &Payload, expected: &'static str) -> DecodeError {
    let Some(raw) = payload.metadata.get(ENCODING) else {
        return DecodeError::MissingEncoding { expected };
    };
    // Quoted in a failure message: escaped, so control characters and invalid UTF-8
    // show as escapes, and cut short, so a huge value cannot bloat the failure.
    let text = String::from_utf8_lossy(raw);
    let mut escaped = text.escape_debug();
    let mut found: String = escaped.by_ref().take(QUOTED_ENCODING_CHARS).collect();
    if escaped.next().is_some() {
        found.push('…');
    }
    DecodeError::UnsupportedEncoding { found, expected }
}

pub(crate) fn payload(encoding: &str, data: Vec<u8>) -> Payload {
    Payload {
        metadata: HashMap::from([(ENCODING.to_owned(), encoding.as_bytes().to_vec())]),
        data,
        ..Default::default()
    }
}

/// Encodes a serde value: `binary/null` when it serialises to `null`, else `json/plain`.
pub fn encode_json<T: Serialize>(value: T) -> Result<Payload, serde_json::Error> {
    let data = serde_json::to_vec(&value)?;
    Ok(if data == b"null" {
        payload(BINARY_NULL, Vec::new())
    } else {
        payload(JSON_PLAIN, data)
    })
}

/// Decodes a `json/plain` payload, or `binary/null` as JSON `null`.
pub fn decode_json<T: DeserializeOwned>(payload: &Payload) -> Result<T, DecodeError> {
    decode_serde(payload, JSON_EXPECTED)
}

fn decode_serde<T: DeserializeOwned>(
    payload: &Payload,
    expected: &'static str,
) -> Result<T, DecodeError> {
    match payload.encoding() {
        Some(JSON_PLAIN) => Ok(serde_json::from_slice(&payload.data)?),
        // From a value, not the text `null`, so an error quotes no position in a text
        // the payload never had.
        Some(BINARY_NULL) => Ok(T::deserialize(serde_json::Value::Null)?),
        _ => Err(unsupported(payload, expected)),
    }
}

/// Encodes bytes as `binary/plain`.
pub fn encode_bytes(value: Vec<u8>) -> Result<Payload, serde_json::Error> {
    Ok(payload(BINARY_PLAIN, value))
}

/// Decodes `binary/plain`; a payload in another encoding is read as JSON (an array of bytes).
pub fn decode_bytes(payload: &Payload) -> Result<Vec<u8>, DecodeError> {
    match payload.encoding() {
        Some(BINARY_PLAIN) => Ok(payload.data.clone()),
        _ => decode_serde(payload, BYTES_EXPECTED),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        decode_bytes, decode_json, encode_json, encoding_of, payload, DecodeError, Decoder,
        Payload, Probe, BINARY_NULL, BINARY_PLAIN, ENCODING, JSON_PLAIN,
    };
    // The call shape of the generated code: every level's trait, and three references.
    #[allow(unused_imports)]
    use super::{DecodeViaPlain as _, DecodeViaProto as _, DecodeViaSerde as _};
    #[allow(unused_imports)]
    use super::{EncodeViaPlain as _, EncodeViaProto as _, EncodeViaSerde as _};

    fn decoder_for_bytes() -> Decoder<Vec<u8>> {
        (&&&Probe::<Vec<u8>>::new()).decoder()
    }

    #[test]
    fn unit_and_none_are_binary_null() {
        assert_eq!(encoding_of(&encode_json(()).unwrap()), BINARY_NULL);
        assert_eq!(encoding_of(&encode_json(None::<u8>).unwrap()), BINARY_NULL);
        let none: Option<u8> = decode_json(&encode_json(()).unwrap()).unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn binary_null_is_null_for_the_type_that_reads_it() {
        let null = encode_json(()).unwrap();
        assert_eq!(decode_json::<Option<u8>>(&null).unwrap(), None);
        assert_eq!(
            decode_json::<serde_json::Value>(&null).unwrap(),
            serde_json::Value::Null
        );
        assert_eq!(
            decode_json::<u8>(&null).unwrap_err().to_string(),
            "invalid type: null, expected u8"
        );
    }

    #[test]
    fn values_are_compact_json_plain() {
        let encoded = encode_json(serde_json::json!({"a": [1, 2]})).unwrap();
        assert_eq!(encoding_of(&encoded), JSON_PLAIN);
        assert_eq!(encoded.data, br#"{"a":[1,2]}"#);
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the double borrow is what selects the codec
    fn probe_picks_binary_plain_for_byte_vectors_only() {
        let bytes = (&&&Probe::<Vec<u8>>::new()).encoder()(vec![0xde, 0xad]).unwrap();
        assert_eq!(encoding_of(&bytes), BINARY_PLAIN);
        assert_eq!(bytes.data, [0xde, 0xad]);
        assert_eq!(decoder_for_bytes()(&bytes).unwrap(), [0xde, 0xad]);

        let numbers = (&&&Probe::<Vec<u16>>::new()).encoder()(vec![1, 2]).unwrap();
        assert_eq!(encoding_of(&numbers), JSON_PLAIN);
    }

    #[test]
    fn wrong_encoding_is_named_with_what_the_codec_reads() {
        let error = decode_json::<u8>(&payload("binary/protobuf", vec![])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported payload encoding `binary/protobuf`; expected json/plain or binary/null"
        );
        let error = decode_bytes(&payload("text/csv", vec![])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported payload encoding `text/csv`; expected binary/plain, json/plain or \
             binary/null"
        );
    }

    #[test]
    fn a_payload_without_encoding_says_so() {
        let bare = Payload {
            data: b"1".to_vec(),
            ..Default::default()
        };
        assert_eq!(
            decode_json::<u8>(&bare).unwrap_err().to_string(),
            "the payload has no `encoding` metadata; expected json/plain or binary/null"
        );
        assert!(matches!(
            decode_bytes(&bare),
            Err(DecodeError::MissingEncoding { .. })
        ));
    }

    #[test]
    fn odd_encodings_are_quoted_escaped_and_short() {
        let mut odd = payload("", vec![]);
        odd.metadata
            .insert(ENCODING.to_owned(), b"json/plain\n\xff".to_vec());
        assert_eq!(
            decode_json::<u8>(&odd).unwrap_err().to_string(),
            "unsupported payload encoding `json/plain\\n\u{fffd}`; expected json/plain or \
             binary/null"
        );
        let long = payload(&"x".repeat(1000), vec![]);
        let DecodeError::UnsupportedEncoding { found, .. } = decode_json::<u8>(&long).unwrap_err()
        else {
            panic!("expected an unsupported encoding");
        };
        assert_eq!(found, format!("{}…", "x".repeat(64)));
        // An empty encoding is present, just unknown.
        assert!(matches!(
            decode_json::<u8>(&payload("", vec![])),
            Err(DecodeError::UnsupportedEncoding { .. })
        ));
    }
}
