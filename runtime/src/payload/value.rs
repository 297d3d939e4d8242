//! [`Payload`]: legwork's own type for one encoded value, so that the public API does not
//! follow the protocol crate's versions. It converts to and from the wire message by
//! moving its fields; nothing is copied.

use std::collections::HashMap;
use std::fmt;

use prost::encoding::{bytes, hash_map, message, string};
use prost::Message;

use crate::proto::WirePayload;
use temporalio_protos::protos::temporal::api::common::v1::payload::ExternalPayloadDetails;

/// One encoded value as Temporal carries it: metadata (`encoding` and what codecs add)
/// and bytes.
///
/// Codecs and interceptors change `metadata` and `data` in place; build one with
/// [`Payload::new`].
///
/// ```
/// use std::collections::HashMap;
/// use legwork::Payload;
///
/// let mut payload = Payload::new(
///     HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
///     b"\"hello\"".to_vec(),
/// );
/// assert_eq!(payload.encoding(), Some("json/plain"));
/// payload.metadata.insert("encoding".into(), b"binary/encrypted".to_vec());
/// payload.data.reverse();
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Payload {
    /// `encoding` says how to read `data` (`json/plain`, `binary/null`, ...); codecs add
    /// their own keys.
    pub metadata: HashMap<String, Vec<u8>>,
    /// The encoded value.
    pub data: Vec<u8>,
    /// The wire's `external_payloads` (sizes of payloads stored outside Temporal), kept
    /// so that a payload passes through legwork unchanged.
    pub(crate) external_sizes: Vec<i64>,
}

impl Payload {
    /// A payload of `data` with `metadata`.
    pub fn new(metadata: HashMap<String, Vec<u8>>, data: Vec<u8>) -> Self {
        Payload {
            metadata,
            data,
            external_sizes: Vec::new(),
        }
    }

    /// The `encoding` metadata, when it is present and UTF-8.
    pub fn encoding(&self) -> Option<&str> {
        self.metadata
            .get(crate::payload::ENCODING)
            .and_then(|value| std::str::from_utf8(value).ok())
    }
}

/// The protobuf form, as codecs that work on whole payloads (encryption, compression)
/// read and write it, without going through an owned wire message.
impl Payload {
    /// The length of [`Payload::encode_to_vec`]'s output.
    pub(crate) fn encoded_len(&self) -> usize {
        hash_map::encoded_len(string::encoded_len, bytes::encoded_len, 1, &self.metadata)
            + if self.data.is_empty() {
                0
            } else {
                bytes::encoded_len(2, &self.data)
            }
            + self
                .external_sizes
                .iter()
                .map(|&size_bytes| message::encoded_len(3, &ExternalPayloadDetails { size_bytes }))
                .sum::<usize>()
    }

    /// The payload as a serialized `temporal.api.common.v1.Payload`.
    pub(crate) fn encode_to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        hash_map::encode(
            string::encode,
            string::encoded_len,
            bytes::encode,
            bytes::encoded_len,
            1,
            &self.metadata,
            &mut buf,
        );
        if !self.data.is_empty() {
            bytes::encode(2, &self.data, &mut buf);
        }
        for &size_bytes in &self.external_sizes {
            message::encode(3, &ExternalPayloadDetails { size_bytes }, &mut buf);
        }
        buf
    }

    /// Reads a serialized `temporal.api.common.v1.Payload`.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        WirePayload::decode(bytes).map(Payload::from_wire)
    }
}

/// Metadata values are shown as text where they are UTF-8 (encodings, key ids), and the
/// data only by its length: it may be a secret.
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut metadata: Vec<(&str, String)> = self
            .metadata
            .iter()
            .map(|(key, value)| (key.as_str(), String::from_utf8_lossy(value).into_owned()))
            .collect();
        metadata.sort();
        f.debug_struct("Payload")
            .field("metadata", &metadata)
            .field("data_len", &self.data.len())
            .finish_non_exhaustive()
    }
}

// Inherent functions, not `From` impls: a trait impl would put the protocol crate's type in
// legwork's public API.
impl Payload {
    /// The payload of a wire message, moved.
    pub(crate) fn from_wire(wire: WirePayload) -> Self {
        Payload {
            metadata: wire.metadata,
            data: wire.data,
            external_sizes: wire
                .external_payloads
                .into_iter()
                .map(|details| details.size_bytes)
                .collect(),
        }
    }

    /// The wire message of this payload, moved.
    pub(crate) fn into_wire(self) -> WirePayload {
        let payload = self;
        WirePayload {
            metadata: payload.metadata,
            data: payload.data,
            external_payloads: payload
                .external_sizes
                .into_iter()
                .map(|size_bytes| ExternalPayloadDetails { size_bytes })
                .collect(),
        }
    }
}

/// Payloads from the wire, in order.
pub(crate) fn from_wire(payloads: Vec<WirePayload>) -> Vec<Payload> {
    payloads.into_iter().map(Payload::from_wire).collect()
}

/// Payloads for the wire, in order.
pub(crate) fn to_wire(payloads: Vec<Payload>) -> Vec<WirePayload> {
    payloads.into_iter().map(Payload::into_wire).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_the_wire_and_back_unchanged() {
        let mut payload = Payload::new(
            HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
            b"1".to_vec(),
        );
        payload.external_sizes = vec![42];
        let wire = payload.clone().into_wire();
        assert_eq!(wire.external_payloads[0].size_bytes, 42);
        assert_eq!(payload.encoded_len(), wire.encoded_len());
        assert_eq!(payload.encode_to_vec(), wire.encode_to_vec());
        assert_eq!(Payload::decode(&wire.encode_to_vec()).unwrap(), payload);
        assert_eq!(Payload::from_wire(wire), payload);
    }

    #[test]
    fn debug_shows_the_data_only_by_length() {
        let payload = Payload::new(HashMap::new(), b"secret".to_vec());
        let shown = format!("{payload:?}");
        assert!(shown.contains("data_len: 6"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
