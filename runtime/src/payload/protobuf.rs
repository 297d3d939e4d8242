//! Protobuf messages as activity arguments and results (feature `protobuf`).
//!
//! A parameter or result whose type is a prost message with a [`ReflectMessage`] impl
//! (prost-reflect's derive, or `prost-reflect-build`) is read and written as Temporal's
//! Go and Python SDKs do:
//!
//! - reading goes by the payload's `encoding`: `json/protobuf` (the proto3 JSON mapping,
//!   what Go and Python write by default) or `binary/protobuf` (the wire format). The
//!   `messageType` metadata is not checked, as in Go: a payload that parses as the
//!   parameter's type is accepted. Unknown JSON fields are skipped, as unknown fields
//!   of the wire format are, so a newer caller can add fields;
//! - writing is `json/protobuf` unless [`set_write_encoding`] says otherwise, with
//!   `messageType` set to the message's full name. The JSON is protojson: lowerCamelCase
//!   field names, enums by name, 64-bit integers as strings, default values left out.
//!
//! ```
//! # #[cfg(feature = "protobuf")] {
//! use legwork::protobuf::{set_write_encoding, write_encoding, ProtoEncoding};
//!
//! assert_eq!(write_encoding(), ProtoEncoding::Json);
//! // For peers that read only the wire format; once, before the worker starts.
//! set_write_encoding(ProtoEncoding::Binary);
//! # }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

pub use prost_reflect;
use prost_reflect::{DeserializeOptions, DynamicMessage, ReflectMessage, SerializeOptions};
use serde::ser::Error as _;

use super::{payload, unsupported, DecodeError};
use crate::payload::Payload;

/// The encoding of the proto3 JSON form.
pub const JSON_PROTOBUF: &str = "json/protobuf";
/// The encoding of the wire format.
pub const BINARY_PROTOBUF: &str = "binary/protobuf";
/// The metadata key holding the message's full name.
pub const MESSAGE_TYPE: &str = "messageType";
const PROTO_EXPECTED: &str = "json/protobuf or binary/protobuf";

/// How legwork writes protobuf results (reading accepts both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoEncoding {
    /// `json/protobuf`, the default of Temporal's Go and Python data converters; readable
    /// in the Web UI.
    #[default]
    Json,
    /// `binary/protobuf`: smaller, and faster to write and read.
    Binary,
}

/// Whether results are written as `binary/protobuf`; process-wide, as the encoder is a
/// plain function chosen at compile time.
static WRITE_BINARY: AtomicBool = AtomicBool::new(false);

/// Sets how protobuf results (and anything else legwork encodes from a message) are
/// written, for the whole process. Call it before the worker starts.
pub fn set_write_encoding(encoding: ProtoEncoding) {
    WRITE_BINARY.store(encoding == ProtoEncoding::Binary, Ordering::Relaxed);
}

/// How protobuf messages are written; see [`set_write_encoding`].
pub fn write_encoding() -> ProtoEncoding {
    if WRITE_BINARY.load(Ordering::Relaxed) {
        ProtoEncoding::Binary
    } else {
        ProtoEncoding::Json
    }
}

/// Encodes a message in the [`write_encoding`], with `messageType`.
pub fn encode<T: ReflectMessage>(value: T) -> Result<Payload, serde_json::Error> {
    encode_as(&value, write_encoding())
}

/// Encodes a message as `encoding` says, with `messageType`.
pub fn encode_as<T: ReflectMessage>(
    value: &T,
    encoding: ProtoEncoding,
) -> Result<Payload, serde_json::Error> {
    let descriptor = value.descriptor();
    let mut encoded = match encoding {
        ProtoEncoding::Binary => payload(BINARY_PROTOBUF, value.encode_to_vec()),
        ProtoEncoding::Json => {
            // Through the wire format into a message that knows its field names; the
            // only way this fails is a descriptor that does not match the type.
            let mut dynamic = DynamicMessage::new(descriptor.clone());
            dynamic.transcode_from(value).map_err(|error| {
                serde_json::Error::custom(format!(
                    "`{}` does not match its descriptor: {error}",
                    descriptor.full_name()
                ))
            })?;
            let mut serializer = serde_json::Serializer::new(Vec::new());
            dynamic.serialize_with_options(&mut serializer, &SerializeOptions::new())?;
            payload(JSON_PROTOBUF, serializer.into_inner())
        }
    };
    encoded.metadata.insert(
        MESSAGE_TYPE.to_owned(),
        descriptor.full_name().as_bytes().to_vec(),
    );
    Ok(encoded)
}

/// Decodes a `json/protobuf` or `binary/protobuf` payload into `T`, whatever its
/// `messageType` says.
pub fn decode<T: ReflectMessage + Default>(payload: &Payload) -> Result<T, DecodeError> {
    let invalid = |encoding: &'static str, cause: String| DecodeError::Protobuf {
        message_type: T::default().descriptor().full_name().to_owned(),
        encoding,
        cause,
    };
    match payload.encoding() {
        Some(BINARY_PROTOBUF) => T::decode(payload.data.as_slice())
            .map_err(|error| invalid(BINARY_PROTOBUF, cause_of(&error))),
        Some(JSON_PROTOBUF) => decode_json(payload).map_err(|cause| invalid(JSON_PROTOBUF, cause)),
        _ => Err(unsupported(payload, PROTO_EXPECTED)),
    }
}

fn decode_json<T: ReflectMessage + Default>(payload: &Payload) -> Result<T, String> {
    let descriptor = T::default().descriptor();
    let mut deserializer = serde_json::Deserializer::from_slice(&payload.data);
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let dynamic = DynamicMessage::deserialize_with_options(descriptor, &mut deserializer, &options)
        .and_then(|dynamic| deserializer.end().map(|()| dynamic))
        .map_err(|error| error.to_string())?;
    dynamic
        .transcode_to::<T>()
        .map_err(|error| cause_of(&error))
}

/// prost's error without its fixed "failed to decode Protobuf message: " prefix, which
/// the failure already says in its own words.
fn cause_of(error: &prost::DecodeError) -> String {
    let text = error.to_string();
    match text.strip_prefix("failed to decode Protobuf message: ") {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_reflect::prost_types::{Duration, Timestamp};

    use super::*;
    use crate::payload::encoding_of;

    fn labelled(encoding: &str, data: &[u8]) -> Payload {
        payload(encoding, data.to_vec())
    }

    #[test]
    fn json_is_the_proto3_mapping_with_the_message_type() {
        let stamp = Timestamp {
            seconds: 1,
            nanos: 500_000_000,
        };
        let encoded = encode_as(&stamp, ProtoEncoding::Json).unwrap();
        assert_eq!(encoding_of(&encoded), JSON_PROTOBUF);
        assert_eq!(encoded.metadata[MESSAGE_TYPE], b"google.protobuf.Timestamp");
        assert_eq!(encoded.data, br#""1970-01-01T00:00:01.500Z""#);
        assert_eq!(decode::<Timestamp>(&encoded).unwrap(), stamp);
    }

    #[test]
    fn binary_is_the_wire_format() {
        let duration = Duration {
            seconds: -4,
            nanos: -1,
        };
        let encoded = encode_as(&duration, ProtoEncoding::Binary).unwrap();
        assert_eq!(encoding_of(&encoded), BINARY_PROTOBUF);
        assert_eq!(encoded.metadata[MESSAGE_TYPE], b"google.protobuf.Duration");
        assert_eq!(encoded.data, duration.encode_to_vec());
        assert_eq!(decode::<Duration>(&encoded).unwrap(), duration);
    }

    #[test]
    fn the_write_encoding_is_json_unless_set() {
        // The only test that sets it, and it puts it back.
        assert_eq!(write_encoding(), ProtoEncoding::Json);
        set_write_encoding(ProtoEncoding::Binary);
        let encoded = encode(Duration::default());
        set_write_encoding(ProtoEncoding::Json);
        assert_eq!(encoding_of(&encoded.unwrap()), BINARY_PROTOBUF);
    }

    #[test]
    fn failures_name_the_type_the_encoding_and_the_cause() {
        let error = decode::<Duration>(&labelled(JSON_PROTOBUF, b"{")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("not a valid `google.protobuf.Duration` in json/protobuf: "),
            "{error}"
        );
        let error = decode::<Duration>(&labelled(BINARY_PROTOBUF, &[0x08])).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("not a valid `google.protobuf.Duration` in binary/protobuf: "),
            "{error}"
        );
        let error = decode::<Duration>(&labelled("json/plain", b"{}")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported payload encoding `json/plain`; expected json/protobuf or \
             binary/protobuf"
        );
        let error = decode::<Duration>(&Payload::default()).unwrap_err();
        assert!(matches!(error, DecodeError::MissingEncoding { .. }));
    }
}
