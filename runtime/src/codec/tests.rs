//! Codecs on their own: round trips, byte compatibility with Python fixtures, failures.
//! Over HTTP, and live against Python, in `tests/codec_server.rs`.

use std::collections::HashMap;

use super::payload_codec::encoding_of;
use super::*;
use crate::payload::Payload;

/// The key and key id of samples-python's `encryption/codec.py` (and samples-go's).
const SAMPLE_KEY: &[u8; 32] = b"test-key-test-key-test-key-test!";
const SAMPLE_KEY_ID: &str = "test-key-id";

/// What `tests/python/codec_check.py encode` printed (the samples' codec over
/// temporalio 1.35's default converter): "Hello from Python", {"id": 7, "tags": ["a",
/// "b"]} and None.
const PYTHON_ENCRYPTED: &str = r#"{"payloads": [{"metadata": {"encryption-key-id": "dGVzdC1rZXktaWQ=", "encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "mnfgqw3ImRc+Cd8C3FBtDWBTkj7WKy4xzI6c7zlo3gui12Q92BBh0PdKcMZ8PFuO5mS+3rRWqlQ7E7tsQCV+NsNomwIPXlLYLQ=="}, {"metadata": {"encryption-key-id": "dGVzdC1rZXktaWQ=", "encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "wbcgL6ig0dI/1uS2sqi4y40DzRdiKgSypNW6POJJrXki5q7WTihZlRV3intOUtwgWtnsvJ2m1pl0YsE+l+GWrbWIdyw0xALSMZaJdsAhSw=="}, {"metadata": {"encryption-key-id": "dGVzdC1rZXktaWQ=", "encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "oktypk1//uD9mrNHBE+Q2AGTLpnxO0lYmI+EtcFocDtmQ/1fC5HEDB/cX6X/WlvtwzEh/tM="}]}"#;

/// The same values through `codec_check.py encode --zlib`: zlib (as Go's codec), then
/// the samples' encryption.
const PYTHON_COMPRESSED: &str = r#"{"payloads": [{"metadata": {"encryption-key-id": "dGVzdC1rZXktaWQ=", "encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "BK6QKzZL7qdOfVm0AFujmnsWprxOSBz+TcHLP6Eni8N5VrInHn8vdVAHJ4CDLEyniLp2RQdGYbd7WJ60Ij1ut7+sm1BhwKkuom/IPYPPUL/D69SMtofYQPAANY9FcrVhi680PzuNvsPwrkRO"}, {"metadata": {"encryption-key-id": "dGVzdC1rZXktaWQ=", "encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "pXMMMpYhafgLRjTgQBTlA0BAYMlDO3z7a8ue5dz0yqYwN0g/Ywzdf8NQmk0ZRKJs4I2VYCjnhmb80OxpZcjiWjkNSBkT2NiC9+/tR7BoFr2l/NvN5wa5hAxD81tNmRChWBofua9xdadQ2xQ/blzdrOF+"}, {"metadata": {"encryption-key-id": "dGVzdC1rZXktaWQ=", "encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "5hSl/1AniHNOrRmDSuApShmJyRHiabx2dTjmUBv4HeKIhukvYt4HnnlI+nKormCwl5FVqxZhQsKnDsuneDpzhvHPnM9v6sCy86Y/D0SaAvoUwl2A2dbxCw=="}]}"#;

/// A key whose bytes are readable text, so a leak would show in any output.
const SECRET: &[u8; 32] = b"SECRET-KEY-MATERIAL-do-not-print";

fn payload(encoding: &str, data: &[u8]) -> Payload {
    Payload {
        metadata: HashMap::from([
            ("encoding".to_string(), encoding.as_bytes().to_vec()),
            ("messageType".to_string(), b"none".to_vec()),
        ]),
        data: data.to_vec(),
        ..Default::default()
    }
}

fn samples() -> Vec<Payload> {
    vec![
        payload("json/plain", br#"{"a":1}"#),
        payload("binary/null", b""),
        payload("binary/plain", &[0, 255, 7]),
    ]
}

fn sample_codec() -> Aes256Gcm {
    Aes256Gcm::new(SAMPLE_KEY_ID, SAMPLE_KEY).unwrap()
}

fn encoding(payload: &Payload) -> &str {
    std::str::from_utf8(encoding_of(payload)).unwrap()
}

fn json_values(payloads: &[Payload]) -> Vec<serde_json::Value> {
    payloads
        .iter()
        .map(|p| match encoding(p) {
            "json/plain" => serde_json::from_slice(&p.data).unwrap(),
            "binary/null" => serde_json::Value::Null,
            other => panic!("unexpected encoding {other}"),
        })
        .collect()
}

#[tokio::test]
async fn python_encrypted_payloads_decrypt() {
    let encrypted = payloads_from_json(PYTHON_ENCRYPTED.as_bytes()).unwrap();
    let decoded = sample_codec().decode(encrypted).await.unwrap();
    assert_eq!(
        json_values(&decoded),
        [
            serde_json::json!("Hello from Python"),
            serde_json::json!({"id": 7, "tags": ["a", "b"]}),
            serde_json::Value::Null,
        ]
    );
}

#[tokio::test]
async fn python_compressed_then_encrypted_payloads_decode_through_a_chain() {
    let chain = CodecChain::new().then(Zlib::new()).then(sample_codec());
    let encrypted = payloads_from_json(PYTHON_COMPRESSED.as_bytes()).unwrap();
    let decoded = chain.decode(encrypted).await.unwrap();
    assert_eq!(json_values(&decoded)[0], "Hello from Python");
    assert_eq!(decoded.len(), 3);
}

#[tokio::test]
async fn encryption_round_trips_whole_payloads_in_the_samples_format() {
    let codec = sample_codec();
    let encrypted = codec.encode(samples()).await.unwrap();
    for (sent, original) in encrypted.iter().zip(samples()) {
        let keys: HashMap<_, _> = sent.metadata.clone();
        assert_eq!(
            keys,
            HashMap::from([
                ("encoding".to_string(), b"binary/encrypted".to_vec()),
                ("encryption-key-id".to_string(), b"test-key-id".to_vec()),
            ])
        );
        // nonce ‖ ciphertext of the serialized payload ‖ tag.
        assert_eq!(sent.data.len(), 12 + original.encoded_len() + 16);
    }
    assert_ne!(
        encrypted,
        codec.encode(samples()).await.unwrap(),
        "fresh nonces"
    );
    assert_eq!(codec.decode(encrypted).await.unwrap(), samples());
}

#[tokio::test]
async fn decoding_leaves_other_encodings_alone() {
    let plain = samples();
    assert_eq!(sample_codec().decode(plain.clone()).await.unwrap(), plain);
    assert_eq!(Zlib::new().decode(plain.clone()).await.unwrap(), plain);
}

#[tokio::test]
async fn rotated_keys_decrypt_by_key_id() {
    let old = Aes256Gcm::new("2024", [1; 32]).unwrap();
    let written_before = old.encode(samples()).await.unwrap();
    let rotated = Aes256Gcm::new("2025", [2; 32])
        .unwrap()
        .with_key("2024", [1; 32])
        .unwrap();
    let written_after = rotated.encode(samples()).await.unwrap();
    assert_eq!(written_after[0].metadata["encryption-key-id"], b"2025");
    assert_eq!(rotated.decode(written_before).await.unwrap(), samples());
    assert_eq!(rotated.decode(written_after).await.unwrap(), samples());
}

#[tokio::test]
async fn an_unknown_key_id_is_named() {
    let encrypted = Aes256Gcm::new("other", [3; 32])
        .unwrap()
        .encode(samples())
        .await
        .unwrap();
    let error = sample_codec().decode(encrypted).await.unwrap_err();
    assert!(matches!(&error, CodecError::UnknownKey { key_id, .. } if key_id == "other"));
    assert_eq!(
        error.to_string(),
        "no key with id `other` to decrypt a binary/encrypted payload (known key ids: test-key-id)"
    );
}

#[tokio::test]
async fn tampered_data_and_wrong_keys_do_not_decrypt() {
    let codec = sample_codec();
    let mut encrypted = codec.encode(samples()).await.unwrap();
    let last = encrypted[0].data.len() - 1;
    encrypted[0].data[last] ^= 1;
    let error = codec.decode(encrypted).await.unwrap_err();
    assert!(matches!(&error, CodecError::Decrypt { key_id } if key_id == "test-key-id"));
    assert!(
        error.to_string().contains("the data was altered"),
        "{error}"
    );

    let impostor = Aes256Gcm::new(SAMPLE_KEY_ID, [9; 32]).unwrap();
    let encrypted = impostor.encode(samples()).await.unwrap();
    let error = codec.decode(encrypted).await.unwrap_err();
    assert!(matches!(error, CodecError::Decrypt { .. }));
}

#[tokio::test]
async fn malformed_encrypted_payloads_are_errors() {
    let codec = sample_codec();
    let mut short = payload("binary/encrypted", &[0; 27]);
    short
        .metadata
        .insert("encryption-key-id".into(), b"test-key-id".to_vec());
    let error = codec.decode(vec![short]).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("27 bytes, fewer than a nonce and a tag"),
        "{error}"
    );

    let no_id = payload("binary/encrypted", &[0; 40]);
    let error = codec.decode(vec![no_id]).await.unwrap_err();
    assert!(
        error.to_string().contains("no `encryption-key-id`"),
        "{error}"
    );
}

#[test]
fn keys_must_be_32_bytes_and_never_print() {
    let error = Aes256Gcm::new("short", &SECRET[..31]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "key `short` is 31 bytes long; AES-256-GCM needs 32"
    );

    let codec = Aes256Gcm::new("k1", SECRET)
        .unwrap()
        .with_key("k0", SECRET)
        .unwrap();
    let chain = CodecChain::new().then(codec);
    let outputs = [
        format!("{chain:?}"),
        format!("{:?}", sample_codec()),
        format!("{error:?} {error}"),
        format!("{:?}", Aes256Gcm::new("k", [0u8; 3]).unwrap_err()),
    ];
    let secret = String::from_utf8_lossy(SECRET);
    let as_numbers = format!("{:?}", &SECRET[..4]); // `[83, 69, 67, 82]`
    for output in outputs {
        assert!(
            !output.contains(&*secret) && !output.contains("SECRET"),
            "{output}"
        );
        assert!(
            !output.contains(&as_numbers[1..as_numbers.len() - 1]),
            "{output}"
        );
        assert!(!output.contains("test-key-test"), "{output}");
    }
}

#[tokio::test]
async fn zlib_compresses_as_go_does_and_only_when_smaller() {
    let big = payload("json/plain", "[1,2,3]".repeat(200).as_bytes());
    let tiny = payload("json/plain", b"1");
    let sent = Zlib::new()
        .encode(vec![big.clone(), tiny.clone()])
        .await
        .unwrap();
    assert_eq!(
        sent[0].metadata,
        HashMap::from([("encoding".into(), b"binary/zlib".to_vec())])
    );
    assert!(sent[0].data.len() < big.data.len() / 10);
    assert_eq!(
        sent[0].data[0], 0x78,
        "a zlib stream (RFC 1950), as Go's compress/zlib"
    );
    assert_eq!(sent[1], tiny, "compressing would not make it smaller");

    let always = Zlib::new()
        .always_encode(true)
        .encode(vec![tiny.clone()])
        .await
        .unwrap();
    assert_eq!(encoding(&always[0]), "binary/zlib");
    assert_eq!(
        Zlib::new().decode(sent).await.unwrap(),
        vec![big, tiny.clone()]
    );
    assert_eq!(Zlib::new().decode(always).await.unwrap(), vec![tiny]);
}

#[tokio::test]
async fn zlib_refuses_garbage_and_bombs() {
    let garbage = payload("binary/zlib", b"not zlib");
    let error = Zlib::new().decode(vec![garbage]).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("zlib: a binary/zlib payload does not inflate"),
        "{error}"
    );

    let big = payload("json/plain", &vec![b'0'; 100_000]);
    let sent = Zlib::new().encode(vec![big]).await.unwrap();
    let error = Zlib::new()
        .max_inflated(10_000)
        .decode(sent)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("past the bound of 10000 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn a_chain_encodes_in_order_and_decodes_in_reverse() {
    let chain = CodecChain::new()
        .then(Zlib::new().always_encode(true))
        .then(sample_codec());
    let sent = chain.encode(samples()).await.unwrap();
    assert_eq!(encoding(&sent[0]), "binary/encrypted");
    let inner = sample_codec().decode(sent.clone()).await.unwrap();
    assert_eq!(encoding(&inner[0]), "binary/zlib");
    assert_eq!(chain.decode(sent).await.unwrap(), samples());

    let empty = CodecChain::new();
    assert!(empty.is_empty());
    assert_eq!(empty.encode(samples()).await.unwrap(), samples());
}

/// Panics in the call itself or in its future; fails when asked to.
struct Faulty;

impl PayloadCodec for Faulty {
    fn encode(&self, _: Vec<Payload>) -> CodecFuture<'_> {
        panic!("encode blew up");
    }

    fn decode(&self, payloads: Vec<Payload>) -> CodecFuture<'_> {
        Box::pin(async move {
            if payloads.is_empty() {
                return Err(CodecError::failed("faulty", "nothing to decode"));
            }
            tokio::task::yield_now().await;
            panic!("decode blew up after {} payloads", payloads.len())
        })
    }

    fn name(&self) -> &str {
        "faulty"
    }
}

#[tokio::test]
async fn panics_and_failures_in_a_codec_are_errors() {
    let chain = CodecChain::new().then(Faulty).then(Zlib::new());
    let error = chain.encode(samples()).await.unwrap_err();
    assert_eq!(error.to_string(), "codec `faulty` panicked: encode blew up");
    let error = chain.decode(samples()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "codec `faulty` panicked: decode blew up after 3 payloads"
    );
    let error = chain.decode(vec![]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "codec `faulty` failed: nothing to decode"
    );
    // The chain is still usable.
    assert!(chain.decode(samples()).await.is_err());
    assert_eq!(format!("{chain:?}"), r#"CodecChain(["faulty", "zlib"])"#);
}

#[test]
fn proto3_json_round_trips_and_reads_what_protojson_allows() {
    let mut with_external = payload("binary/plain", &[0xfb, 0xff]);
    with_external.external_sizes = vec![1 << 40];
    let json = payloads_to_json(&[with_external.clone()]);
    assert!(
        json.contains(r#""externalPayloads":[{"sizeBytes":"1099511627776"}]"#),
        "{json}"
    );
    assert_eq!(
        payloads_from_json(json.as_bytes()).unwrap(),
        vec![with_external]
    );

    // URL-safe and unpadded base64, nulls, a number for an int64, unknown fields.
    let lenient = br#"{"payloads":[{"metadata":{"encoding":"YmluYXJ5L3BsYWlu","x":null},
        "data":"-_8","external_payloads":[{"size_bytes":5}],"future":1}],"other":true}"#;
    let read = payloads_from_json(lenient).unwrap();
    assert_eq!(read[0].data, [0xfb, 0xff]);
    assert_eq!(read[0].metadata["x"], b"");
    assert_eq!(read[0].external_sizes, [5]);
    assert_eq!(payloads_from_json(b"{}").unwrap(), vec![]);
}

#[test]
fn malformed_json_errors_say_where() {
    let error = payloads_from_json(br#"{"payloads":[{"data":"%%"}]}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("payloads[0].data is not base64"),
        "{error}"
    );
    let error = payloads_from_json(br#"{"payloads":[{"metadata":{"encoding":"!"}}]}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(r#"payloads[0].metadata["encoding"]"#),
        "{error}"
    );
    let error = payloads_from_json(b"[1]").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("expected {\"payloads\":[...]} in proto3 JSON"),
        "{error}"
    );
}
