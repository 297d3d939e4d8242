//! Payloads as Temporal's default data converter writes them.
//!
//! - `binary/null` for `()` and `None` (no data);
//! - `binary/plain` for bytes (`Vec<u8>`), raw;
//! - `json/plain` for every other serde value, as compact UTF-8 JSON.
//!
//! Which codec a type gets is decided at compile time in the code `#[activity]`
//! generates: `(&&Probe::<T>::new()).decoder()` finds the bytes impl first when `T` is
//! `Vec<u8>` and falls back to serde otherwise (autoref specialisation).

use std::collections::HashMap;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::proto::Payload;

const ENCODING: &str = "encoding";
pub(crate) const JSON_PLAIN: &str = "json/plain";
pub(crate) const BINARY_NULL: &str = "binary/null";
pub(crate) const BINARY_PLAIN: &str = "binary/plain";

/// Why a payload could not become a value.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The payload's `encoding` metadata is one this codec cannot read.
    #[error("unsupported payload encoding `{0}`")]
    UnsupportedEncoding(String),
    /// The payload's JSON did not match the expected type.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Decodes one payload into a `T`.
pub type Decoder<T> = fn(&Payload) -> Result<T, DecodeError>;
/// Encodes one value into a payload.
pub type Encoder<T> = fn(T) -> Result<Payload, serde_json::Error>;

/// The payload's `encoding` metadata, or `""` when it has none.
pub fn encoding_of(payload: &Payload) -> &str {
    payload
        .metadata
        .get(ENCODING)
        .and_then(|value| std::str::from_utf8(value).ok())
        .unwrap_or("")
}

fn payload(encoding: &str, data: Vec<u8>) -> Payload {
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
    match encoding_of(payload) {
        JSON_PLAIN => Ok(serde_json::from_slice(&payload.data)?),
        BINARY_NULL => Ok(serde_json::from_slice(b"null")?),
        other => Err(DecodeError::UnsupportedEncoding(other.to_owned())),
    }
}

/// Encodes bytes as `binary/plain`.
pub fn encode_bytes(value: Vec<u8>) -> Result<Payload, serde_json::Error> {
    Ok(payload(BINARY_PLAIN, value))
}

/// Decodes `binary/plain`; a payload in another encoding is read as JSON (an array of bytes).
pub fn decode_bytes(payload: &Payload) -> Result<Vec<u8>, DecodeError> {
    match encoding_of(payload) {
        BINARY_PLAIN => Ok(payload.data.clone()),
        _ => decode_json(payload),
    }
}

/// Selects a codec for `T` at compile time; see the module docs.
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

pub trait DecodeViaBytes {
    fn decoder(self) -> Decoder<Vec<u8>>;
}
impl DecodeViaBytes for &&Probe<Vec<u8>> {
    fn decoder(self) -> Decoder<Vec<u8>> {
        decode_bytes
    }
}

pub trait DecodeViaSerde<T> {
    fn decoder(self) -> Decoder<T>;
}
impl<T: DeserializeOwned> DecodeViaSerde<T> for &Probe<T> {
    fn decoder(self) -> Decoder<T> {
        decode_json::<T>
    }
}

pub trait EncodeViaBytes {
    fn encoder(self) -> Encoder<Vec<u8>>;
}
impl EncodeViaBytes for &&Probe<Vec<u8>> {
    fn encoder(self) -> Encoder<Vec<u8>> {
        encode_bytes
    }
}

pub trait EncodeViaSerde<T> {
    fn encoder(self) -> Encoder<T>;
}
impl<T: Serialize> EncodeViaSerde<T> for &Probe<T> {
    fn encoder(self) -> Encoder<T> {
        encode_json::<T>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder_for_bytes() -> Decoder<Vec<u8>> {
        (&&Probe::<Vec<u8>>::new()).decoder()
    }

    #[test]
    fn unit_and_none_are_binary_null() {
        assert_eq!(encoding_of(&encode_json(()).unwrap()), BINARY_NULL);
        assert_eq!(encoding_of(&encode_json(None::<u8>).unwrap()), BINARY_NULL);
        let none: Option<u8> = decode_json(&encode_json(()).unwrap()).unwrap();
        assert_eq!(none, None);
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
        let bytes = (&&Probe::<Vec<u8>>::new()).encoder()(vec![0xde, 0xad]).unwrap();
        assert_eq!(encoding_of(&bytes), BINARY_PLAIN);
        assert_eq!(bytes.data, [0xde, 0xad]);
        assert_eq!(decoder_for_bytes()(&bytes).unwrap(), [0xde, 0xad]);

        let numbers = (&&Probe::<Vec<u16>>::new()).encoder()(vec![1, 2]).unwrap();
        assert_eq!(encoding_of(&numbers), JSON_PLAIN);
    }

    #[test]
    fn wrong_encoding_is_named() {
        let error = decode_json::<u8>(&payload("binary/protobuf", vec![])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported payload encoding `binary/protobuf`"
        );
    }
}
