//! The reference payload that takes a stored payload's place in history, in the two forms
//! the SDKs write: `json/protobuf` of `temporal.api.sdk.v1.ExternalStorageReference`
//! (proto3 JSON: `driverName`, `claimData`), and the older
//! `json/external-storage-reference` (`driver_name`, `driver_claim.claim_data`), which
//! Python still reads for workflows started before the message existed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::payload::{Payload, ENCODING};

const JSON_PROTOBUF: &str = "json/protobuf";
const MESSAGE_TYPE_KEY: &str = "messageType";
const MESSAGE_TYPE: &str = "temporal.api.sdk.v1.ExternalStorageReference";
const LEGACY_ENCODING: &str = "json/external-storage-reference";

/// Where a driver put one payload: driver-defined keys and values (for S3: `bucket`,
/// `key`, `hash_algorithm`, `hash_value`), as every SDK writes them.
pub type Claim = BTreeMap<String, String>;

/// A payload stored outside Temporal: which driver, and its claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reference {
    pub(crate) driver_name: String,
    pub(crate) claim: Claim,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferenceJson {
    #[serde(default)]
    driver_name: String,
    #[serde(default)]
    claim_data: Claim,
}

#[derive(Deserialize)]
struct LegacyJson {
    driver_name: String,
    driver_claim: LegacyClaim,
}

#[derive(Deserialize)]
struct LegacyClaim {
    claim_data: Claim,
}

/// Whether metadata marks a payload as a reference, in either form.
pub(crate) fn is_reference(metadata: &HashMap<String, Vec<u8>>) -> bool {
    match metadata.get(ENCODING).map(Vec::as_slice) {
        Some(encoding) if encoding == LEGACY_ENCODING.as_bytes() => true,
        Some(encoding) if encoding == JSON_PROTOBUF.as_bytes() => {
            metadata.get(MESSAGE_TYPE_KEY).map(Vec::as_slice) == Some(MESSAGE_TYPE.as_bytes())
        }
        _ => false,
    }
}

impl Reference {
    /// The reference `payload` holds, if it is one; `Err` for a reference that does not
    /// parse (the attempt fails rather than reading it as an argument).
    pub(crate) fn read(payload: &Payload) -> Result<Option<Reference>, String> {
        match payload.encoding() {
            Some(JSON_PROTOBUF)
                if payload.metadata.get(MESSAGE_TYPE_KEY).map(Vec::as_slice)
                    == Some(MESSAGE_TYPE.as_bytes()) =>
            {
                let json: ReferenceJson = serde_json::from_slice(&payload.data)
                    .map_err(|error| format!("a malformed storage reference: {error}"))?;
                Ok(Some(Reference {
                    driver_name: json.driver_name,
                    claim: json.claim_data,
                }))
            }
            Some(LEGACY_ENCODING) => {
                let json: LegacyJson = serde_json::from_slice(&payload.data)
                    .map_err(|error| format!("a malformed storage reference: {error}"))?;
                Ok(Some(Reference {
                    driver_name: json.driver_name,
                    claim: json.driver_claim.claim_data,
                }))
            }
            _ => Ok(None),
        }
    }

    /// The payload written in place of one of `stored_size` bytes, in the current form.
    pub(crate) fn write(&self, stored_size: usize) -> Payload {
        let json = ReferenceJson {
            driver_name: self.driver_name.clone(),
            claim_data: self.claim.clone(),
        };
        let data = serde_json::to_vec(&json).unwrap_or_default();
        let metadata = HashMap::from([
            (ENCODING.to_owned(), JSON_PROTOBUF.as_bytes().to_vec()),
            (
                MESSAGE_TYPE_KEY.to_owned(),
                MESSAGE_TYPE.as_bytes().to_vec(),
            ),
        ]);
        let mut payload = Payload::new(metadata, data);
        payload.external_sizes = vec![i64::try_from(stored_size).unwrap_or(i64::MAX)];
        payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Claim {
        Claim::from([
            ("bucket".to_owned(), "payloads".to_owned()),
            ("key".to_owned(), "v0/d/sha256/ab".to_owned()),
        ])
    }

    #[test]
    fn writes_and_reads_the_current_form() {
        let reference = Reference {
            driver_name: "aws.s3driver".into(),
            claim: claim(),
        };
        let payload = reference.write(1 << 20);
        assert_eq!(payload.encoding(), Some("json/protobuf"));
        assert_eq!(payload.metadata["messageType"], MESSAGE_TYPE.as_bytes());
        assert_eq!(payload.external_sizes, [1 << 20]);
        let text = String::from_utf8(payload.data.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"driverName":"aws.s3driver","claimData":{"#),
            "{text}"
        );
        assert_eq!(Reference::read(&payload), Ok(Some(reference)));
    }

    #[test]
    fn reads_the_legacy_form_python_still_reads() {
        let data = br#"{"driver_name":"aws.s3driver","driver_claim":{"claim_data":{"bucket":"payloads","key":"v0/d/sha256/ab"}}}"#;
        let payload = Payload::new(
            HashMap::from([(ENCODING.to_owned(), LEGACY_ENCODING.as_bytes().to_vec())]),
            data.to_vec(),
        );
        let read = Reference::read(&payload).unwrap().unwrap();
        assert_eq!(read.driver_name, "aws.s3driver");
        assert_eq!(read.claim, claim());
    }

    #[test]
    fn other_payloads_are_not_references_and_a_broken_one_is_an_error() {
        let plain = crate::payload::encode_json("hello").unwrap();
        assert_eq!(Reference::read(&plain), Ok(None));
        let mut other_proto = plain.clone();
        other_proto
            .metadata
            .insert(ENCODING.into(), b"json/protobuf".to_vec());
        other_proto
            .metadata
            .insert(MESSAGE_TYPE_KEY.into(), b"shop.v1.Order".to_vec());
        assert_eq!(Reference::read(&other_proto), Ok(None));
        let mut broken = Reference {
            driver_name: "d".into(),
            claim: claim(),
        }
        .write(1);
        broken.data = b"{not json".to_vec();
        assert!(Reference::read(&broken).is_err());
    }
}
