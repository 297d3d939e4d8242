//! `temporal.api.common.v1.Payloads` in proto3 JSON, the codec server's wire format:
//! `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`.
//!
//! Reading follows proto3 JSON's rules where they matter here: bytes in standard or
//! URL-safe base64, padded or not; absent or `null` fields are empty; both the JSON
//! name (`externalPayloads`) and the proto name are accepted; fields this format does
//! not know are ignored. Writing uses standard padded base64 and sorted metadata.

use std::collections::{BTreeMap, HashMap};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, Engine as _};
use serde::{Deserialize, Serialize};

use crate::payload::Payload;

/// A body that is not proto3-JSON `Payloads`; the message says where, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PayloadsJsonError(String);

/// Standard and URL-safe alphabets, padding optional: what protojson accepts.
const READ_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const READ_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Deserialize, Serialize)]
struct PayloadsJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payloads: Option<Vec<PayloadJson>>,
}

#[derive(Deserialize, Serialize)]
struct PayloadJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<BTreeMap<String, Option<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(
        default,
        rename = "externalPayloads",
        alias = "external_payloads",
        skip_serializing_if = "Option::is_none"
    )]
    external_payloads: Option<Vec<ExternalJson>>,
}

#[derive(Deserialize, Serialize)]
struct ExternalJson {
    /// An int64: a string in proto3 JSON, though a number is accepted too.
    #[serde(default, rename = "sizeBytes", alias = "size_bytes")]
    size_bytes: Option<serde_json::Value>,
}

/// Reads proto3-JSON `Payloads`.
///
/// ```
/// use legwork::codec::payloads_from_json;
///
/// let body = br#"{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"IkhpIg=="}]}"#;
/// let payloads = payloads_from_json(body)?;
/// assert_eq!(payloads[0].metadata["encoding"], b"json/plain");
/// assert_eq!(payloads[0].data, b"\"Hi\"");
/// # Ok::<_, legwork::codec::PayloadsJsonError>(())
/// ```
pub fn payloads_from_json(body: &[u8]) -> Result<Vec<Payload>, PayloadsJsonError> {
    let parsed: PayloadsJson = serde_json::from_slice(body).map_err(|error| {
        PayloadsJsonError(format!(
            "expected {{\"payloads\":[...]}} in proto3 JSON: {error}"
        ))
    })?;
    let payloads = parsed.payloads.unwrap_or_default();
    payloads
        .into_iter()
        .enumerate()
        .map(|(index, payload)| payload_from_json(index, payload))
        .collect()
}

/// Writes proto3-JSON `Payloads`.
///
/// ```
/// use legwork::codec::payloads_to_json;
/// use legwork::Payload;
///
/// let payload = Payload::new(
///     [("encoding".to_string(), b"json/plain".to_vec())].into(),
///     b"\"Hi\"".to_vec(),
/// );
/// assert_eq!(
///     payloads_to_json(&[payload]),
///     r#"{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"IkhpIg=="}]}"#
/// );
/// ```
pub fn payloads_to_json(payloads: &[Payload]) -> String {
    let json = PayloadsJson {
        payloads: Some(payloads.iter().map(payload_to_json).collect()),
    };
    serde_json::to_string(&json).expect("strings and maps of strings always serialize")
}

fn payload_from_json(index: usize, json: PayloadJson) -> Result<Payload, PayloadsJsonError> {
    let mut metadata = HashMap::new();
    for (key, value) in json.metadata.unwrap_or_default() {
        let value = bytes(value.as_deref(), || {
            format!("payloads[{index}].metadata[{key:?}]")
        })?;
        metadata.insert(key, value);
    }
    let data = bytes(json.data.as_deref(), || format!("payloads[{index}].data"))?;
    let external_sizes = json
        .external_payloads
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(n, external)| {
            let size_bytes = int64(external.size_bytes.as_ref()).ok_or_else(|| {
                PayloadsJsonError(format!(
                    "payloads[{index}].externalPayloads[{n}].sizeBytes is not an int64"
                ))
            })?;
            Ok(size_bytes)
        })
        .collect::<Result<_, PayloadsJsonError>>()?;
    let mut payload = Payload::new(metadata, data);
    payload.external_sizes = external_sizes;
    Ok(payload)
}

fn payload_to_json(payload: &Payload) -> PayloadJson {
    let metadata = payload
        .metadata
        .iter()
        .map(|(key, value)| (key.clone(), Some(STANDARD.encode(value))))
        .collect();
    let external = &payload.external_sizes;
    PayloadJson {
        metadata: Some(metadata),
        data: Some(STANDARD.encode(&payload.data)),
        external_payloads: (!external.is_empty()).then(|| {
            external
                .iter()
                .map(|size| ExternalJson {
                    size_bytes: Some(serde_json::Value::String(size.to_string())),
                })
                .collect()
        }),
    }
}

/// Base64 in either alphabet, padded or not; `null` or absent is empty.
fn bytes(text: Option<&str>, field: impl Fn() -> String) -> Result<Vec<u8>, PayloadsJsonError> {
    let text = text.unwrap_or_default();
    READ_STANDARD
        .decode(text)
        .or_else(|_| READ_URL_SAFE.decode(text))
        .map_err(|error| PayloadsJsonError(format!("{} is not base64: {error}", field())))
}

/// An int64 as proto3 JSON writes it (a string) or as a number; absent is 0.
fn int64(value: Option<&serde_json::Value>) -> Option<i64> {
    match value {
        None | Some(serde_json::Value::Null) => Some(0),
        Some(serde_json::Value::String(text)) => text.parse().ok(),
        Some(number) => number.as_i64(),
    }
}
