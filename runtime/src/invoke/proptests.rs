//! Property tests of the payload and invoke paths: whatever payloads a caller sends
//! (arbitrary bytes; metadata with arbitrary keys and values; an encoding that is one
//! legwork reads, another Temporal one, random bytes, or none), for every codec
//! (`json/plain` and `binary/null` through serde, `binary/plain` for `Vec<u8>`) and
//! 0 to 4 arguments, decoding and invoking never panic: they give the value when the
//! input is valid, and otherwise a typed error that names what failed.
//!
//! CI runs proptest's default of 256 cases per property. To run more (proptest reads
//! `PROPTEST_CASES`; nothing here overrides it):
//!
//! ```sh
//! PROPTEST_CASES=100000 cargo test -p legwork-runtime --lib proptests
//! ```

// `(&&&Probe::<T>::new())`: the borrows are what select the codec, as in the
// generated code.
#![allow(clippy::needless_borrow)]

use std::any::{type_name, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::*;
// No protobuf level: none of the types here is a message.
use crate::payload::{
    DecodeError, DecodeViaPlain as _, DecodeViaSerde as _, EncodeViaPlain as _,
    EncodeViaSerde as _, Probe,
};

/// The decoder `#[activity]` generates for a parameter of type `$ty`.
macro_rules! decoder_for {
    ($ty:ty) => {
        (&&&Probe::<$ty>::new()).decoder()
    };
}

/// The encoder `#[activity]` generates for a result of type `$ty`.
macro_rules! encoder_for {
    ($ty:ty) => {
        (&&&Probe::<$ty>::new()).encoder()
    };
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Size {
    width: u32,
    height: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Dot,
    Circle { radius: u32 },
    Pair(i8, String),
}

/// Encodings the payloads get: those legwork reads, other Temporal ones, random ones
/// (UTF-8 or not), or none at all.
fn encoding() -> impl Strategy<Value = Option<Vec<u8>>> {
    const KNOWN: [&str; 7] = [
        "json/plain",
        "binary/null",
        "binary/plain",
        "json/protobuf",
        "binary/protobuf",
        "binary/encrypted",
        "",
    ];
    prop_oneof![
        6 => prop::sample::select(&KNOWN[..]).prop_map(|e| Some(e.as_bytes().to_vec())),
        1 => Just(None),
        1 => any::<String>().prop_map(|e| Some(e.into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(Some),
    ]
}

/// Any JSON document, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// JSON of the types the tests decode into, so that valid input is common too.
fn typed_json() -> impl Strategy<Value = Value> {
    fn json<T: Serialize>(value: T) -> Value {
        serde_json::to_value(value).expect("a test value encodes")
    }
    prop_oneof![
        any::<String>().prop_map(json),
        any::<u32>().prop_map(json),
        any::<i64>().prop_map(json),
        any::<bool>().prop_map(json),
        any::<Option<String>>().prop_map(json),
        any::<Vec<u8>>().prop_map(json),
        any::<Vec<u16>>().prop_map(json),
        (any::<u32>(), any::<u32>()).prop_map(|(width, height)| json(Size { width, height })),
        (any::<i8>(), any::<String>()).prop_map(|(a, b)| json(Shape::Pair(a, b))),
        any::<u32>().prop_map(|radius| json(Shape::Circle { radius })),
        Just(json(Shape::Dot)),
    ]
}

/// Payload data: random bytes, any JSON, JSON of an expected type, or JSON cut short.
fn data() -> impl Strategy<Value = Vec<u8>> {
    let bytes = |value: Value| serde_json::to_vec(&value).expect("JSON encodes");
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..48),
        2 => json_value().prop_map(bytes),
        3 => typed_json().prop_map(bytes),
        1 => (json_value(), any::<Index>()).prop_map(move |(value, cut)| {
            let mut data = bytes(value);
            data.truncate(cut.index(data.len() + 1));
            data
        }),
    ]
}

/// A payload as any client could send it.
fn payload() -> impl Strategy<Value = Payload> {
    let metadata = prop::collection::hash_map(
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..8),
        0..3,
    );
    (encoding(), metadata, data()).prop_map(|(encoding, mut metadata, data)| {
        match encoding {
            Some(encoding) => metadata.insert("encoding".to_owned(), encoding),
            None => metadata.remove("encoding"),
        };
        Payload {
            metadata,
            data,
            ..Default::default()
        }
    })
}

/// What decoding a payload into `T` must give, worked out without legwork's code.
#[derive(Debug)]
enum Expect<T> {
    Value(T),
    MissingEncoding,
    UnsupportedEncoding,
    Json,
}

fn is_bytes<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<Vec<u8>>()
}

fn oracle<T: DeserializeOwned + 'static>(payload: &Payload) -> Expect<T> {
    let json = |data: &[u8]| match serde_json::from_slice(data) {
        Ok(value) => Expect::Value(value),
        Err(_) => Expect::Json,
    };
    match payload.metadata.get("encoding").map(Vec::as_slice) {
        None => Expect::MissingEncoding,
        Some(b"binary/plain") if is_bytes::<T>() => {
            Expect::Value(serde_json::from_value(Value::from(payload.data.clone())).unwrap())
        }
        Some(b"json/plain") => json(&payload.data),
        Some(b"binary/null") => json(b"null"),
        Some(_) => Expect::UnsupportedEncoding,
    }
}

/// Decodes `payload` with the codec `#[activity]` picks for `T` and checks the outcome
/// against the [`oracle`].
fn check_decode<T>(payload: &Payload, decoder: Decoder<T>) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + PartialEq + Debug + 'static,
{
    match (oracle::<T>(payload), decoder(payload)) {
        (Expect::Value(want), Ok(got)) => prop_assert_eq!(got, want, "{}", type_name::<T>()),
        (Expect::MissingEncoding, Err(DecodeError::MissingEncoding { .. })) => {}
        (Expect::UnsupportedEncoding, Err(DecodeError::UnsupportedEncoding { found, .. })) => {
            prop_assert!(found.chars().count() <= 65, "{found}");
        }
        (Expect::Json, Err(DecodeError::Json(_))) => {}
        (want, got) => prop_assert!(
            false,
            "{}: expected {:?}, got {:?}",
            type_name::<T>(),
            want,
            got
        ),
    }
    Ok(())
}

fn round_trip<T: Clone + PartialEq + Debug>(
    value: T,
    (encoder, decoder): (Encoder<T>, Decoder<T>),
    expected: T,
) -> Result<(), TestCaseError> {
    let payload = encoder(value.clone()).unwrap();
    let decoded = decoder(&payload).unwrap();
    prop_assert_eq!(decoded, expected, "{:?}", value);
    Ok(())
}

/// `value` as serde_json reads back its own JSON. serde_json reads floats fast rather
/// than exactly: without its `float_roundtrip` feature a float can come back a few units
/// in the last place off (`1.9674287595553146e-174` is read as `1.9674287595553142e-174`).
/// The codec must lose nothing beyond that.
fn reread<T: Serialize + DeserializeOwned>(value: &T) -> T {
    serde_json::from_slice(&serde_json::to_vec(value).unwrap()).unwrap()
}

/// The codec `#[activity]` picks for `$ty`: its encoder and decoder.
macro_rules! codec {
    ($ty:ty) => {
        (encoder_for!($ty), decoder_for!($ty))
    };
}

/// How one activity's invocation must end, given its parameters' decoders.
#[derive(Debug, PartialEq)]
enum Verdict {
    Ok,
    Count,
    Decode(usize),
}

/// A parameter as the oracle sees it: its name and whether a payload decodes into it.
type Param = (&'static str, fn(&Payload) -> bool);

fn decodes<T: DeserializeOwned + 'static>(payload: &Payload) -> bool {
    matches!(oracle::<T>(payload), Expect::Value(_))
}

fn verdict(params: &[Param], payloads: &[Payload]) -> Verdict {
    if params.len() != payloads.len() {
        return Verdict::Count;
    }
    match params
        .iter()
        .zip(payloads)
        .position(|((_, decodes), payload)| !decodes(payload))
    {
        Some(index) => Verdict::Decode(index),
        None => Verdict::Ok,
    }
}

/// Checks an error against the verdict: its type, retryability and what it names.
fn check_error(
    activity: &str,
    params: &[Param],
    payloads: &[Payload],
    (error_type, message, non_retryable): (&str, &str, bool),
) -> Result<(), TestCaseError> {
    prop_assert!(non_retryable, "bad input is not retried: {message}");
    match verdict(params, payloads) {
        Verdict::Ok => prop_assert!(false, "valid input failed: {error_type}: {message}"),
        Verdict::Count => {
            prop_assert_eq!(error_type, "ArgumentCountError");
            let given = format!("but was given {}", payloads.len());
            let takes = format!("activity `{activity}` takes ");
            prop_assert!(message.starts_with(&takes), "{}", message);
            prop_assert!(message.ends_with(&given), "{}", message);
        }
        Verdict::Decode(index) => {
            prop_assert_eq!(error_type, "PayloadDecodeError");
            let named = format!(
                "activity `{activity}` could not decode argument {index} (`{}`): ",
                params[index].0
            );
            prop_assert!(message.starts_with(&named), "{} / {}", message, named);
            prop_assert!(
                message.len() <= named.len() + 1024 + 32,
                "{}",
                message.len()
            );
        }
    }
    Ok(())
}

/// Decodes `$args` exactly as the code `#[activity]` generates for these parameters.
macro_rules! invoke {
    ($args:expr; $($name:ident: $ty:ty),*) => {{
        #[allow(unused_mut, unused_variables)]
        let decoded = (move || -> Result<(), ActivityError> {
            let mut decoder = $args.into_decoder(&[$(stringify!($name)),*])?;
            $( let _: $ty = decoder.next(decoder_for!($ty))?; )*
            Ok(())
        })();
        decoded
    }};
}

/// The parameters of the signatures below, as the oracle sees them.
macro_rules! params {
    ($($name:ident: $ty:ty),*) => {
        [$((stringify!($name), decodes::<$ty> as fn(&Payload) -> bool)),*]
    };
}

/// Up to 5 payloads, so that every signature also gets one too many.
fn payloads() -> impl Strategy<Value = Vec<Payload>> {
    prop::collection::vec(payload(), 0..=5)
}

/// Runs the same signatures through the activities `#[activity]` really generates.
mod registered {
    use legwork::activity;

    use super::{Shape, Size};

    #[activity]
    fn sync0() -> u8 {
        0
    }

    #[activity]
    fn sync1(text: String) -> String {
        text
    }

    #[activity]
    fn sync2(data: Vec<u8>, count: u32) -> (Vec<u8>, u32) {
        (data, count)
    }

    #[activity]
    fn sync3(label: Option<String>, size: Size, shape: Shape) -> (Option<String>, Size, Shape) {
        (label, size, shape)
    }

    #[activity]
    fn sync4(
        number: i64,
        numbers: Vec<u16>,
        nothing: (),
        data: Vec<u8>,
    ) -> (i64, Vec<u16>, (), Vec<u8>) {
        (number, numbers, nothing, data)
    }

    #[activity(async)]
    async fn async0() -> u8 {
        0
    }

    #[activity(async)]
    async fn async1(text: String) -> String {
        text
    }

    #[activity(async)]
    async fn async2(data: Vec<u8>, count: u32) -> (Vec<u8>, u32) {
        (data, count)
    }

    #[activity(async)]
    async fn async3(
        label: Option<String>,
        size: Size,
        shape: Shape,
    ) -> (Option<String>, Size, Shape) {
        (label, size, shape)
    }

    #[activity(async)]
    async fn async4(
        number: i64,
        numbers: Vec<u16>,
        nothing: (),
        data: Vec<u8>,
    ) -> (i64, Vec<u16>, (), Vec<u8>) {
        (number, numbers, nothing, data)
    }
}

/// The signatures of [`registered`]'s activities, by argument count.
fn signature(count: usize) -> Vec<Param> {
    match count {
        0 => params!().to_vec(),
        1 => params!(text: String).to_vec(),
        2 => params!(data: Vec<u8>, count: u32).to_vec(),
        3 => params!(label: Option<String>, size: Size, shape: Shape).to_vec(),
        _ => params!(number: i64, numbers: Vec<u16>, nothing: (), data: Vec<u8>).to_vec(),
    }
}

/// The decoded arguments as the activities echo them, JSON-encoded.
fn echoed(count: usize, payloads: &[Payload]) -> Value {
    fn value<T: DeserializeOwned + Serialize + Debug + 'static>(payload: &Payload) -> Value {
        match oracle::<T>(payload) {
            Expect::Value(value) => serde_json::to_value(value).unwrap(),
            other => panic!("the oracle said this decodes: {other:?}"),
        }
    }
    let p = payloads;
    match count {
        0 => Value::from(0),
        1 => value::<String>(&p[0]),
        2 => Value::Array(vec![value::<Vec<u8>>(&p[0]), value::<u32>(&p[1])]),
        3 => Value::Array(vec![
            value::<Option<String>>(&p[0]),
            value::<Size>(&p[1]),
            value::<Shape>(&p[2]),
        ]),
        _ => Value::Array(vec![
            value::<i64>(&p[0]),
            value::<Vec<u16>>(&p[1]),
            value::<()>(&p[2]),
            value::<Vec<u8>>(&p[3]),
        ]),
    }
}

/// Runs a registered activity with `payloads` and checks how it ended.
fn check_registered(kind: &str, count: usize, payloads: Vec<Payload>) -> Result<(), TestCaseError> {
    let name = format!("{kind}{count}");
    let params = signature(count);
    let environment = legwork::testing::ActivityEnvironment::new();
    // The facade's `Payload` is the dev-dependency's copy of this crate's type.
    let facade_payloads = payloads
        .iter()
        .map(|p| legwork::Payload::new(p.metadata.clone(), p.data.clone()))
        .collect();
    match environment.run(&name, facade_payloads) {
        Ok(result) => {
            prop_assert_eq!(verdict(&params, &payloads), Verdict::Ok);
            let result = Payload::new(result.metadata.clone(), result.data.clone());
            let got: Value = crate::payload::decode_json(&result).unwrap();
            prop_assert_eq!(got, echoed(count, &payloads));
        }
        Err(error) => check_error(
            &name,
            &params,
            &payloads,
            (
                error.error_type(),
                error.message(),
                error.is_non_retryable(),
            ),
        )?,
    }
    Ok(())
}

proptest! {
    /// Every codec decodes any payload into the value, or says which way it is wrong.
    #[test]
    fn every_codec_decodes_any_payload_or_says_why(payload in payload()) {
        check_decode::<String>(&payload, decoder_for!(String))?;
        check_decode::<u32>(&payload, decoder_for!(u32))?;
        check_decode::<i64>(&payload, decoder_for!(i64))?;
        check_decode::<f64>(&payload, decoder_for!(f64))?;
        check_decode::<bool>(&payload, decoder_for!(bool))?;
        check_decode::<()>(&payload, decoder_for!(()))?;
        check_decode::<Option<String>>(&payload, decoder_for!(Option<String>))?;
        check_decode::<Vec<u8>>(&payload, decoder_for!(Vec<u8>))?;
        check_decode::<Vec<u16>>(&payload, decoder_for!(Vec<u16>))?;
        check_decode::<Size>(&payload, decoder_for!(Size))?;
        check_decode::<Shape>(&payload, decoder_for!(Shape))?;
        check_decode::<BTreeMap<String, i64>>(&payload, decoder_for!(BTreeMap<String, i64>))?;
        check_decode::<Value>(&payload, decoder_for!(Value))?;
    }

    /// What a codec encodes, it decodes back to the same value.
    #[test]
    fn values_round_trip_through_their_codec(
        text in any::<String>(),
        number in any::<i64>(),
        float in any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()),
        label in any::<Option<String>>(),
        bytes in any::<Vec<u8>>(),
        numbers in any::<Vec<u16>>(),
        (width, height) in (any::<u32>(), any::<u32>()),
        value in json_value(),
    ) {
        round_trip(text.clone(), codec!(String), text)?;
        round_trip(number, codec!(i64), number)?;
        round_trip(float, codec!(f64), reread(&float))?;
        round_trip(label.clone(), codec!(Option<String>), label)?;
        round_trip(bytes.clone(), codec!(Vec<u8>), bytes)?;
        round_trip(numbers.clone(), codec!(Vec<u16>), numbers)?;
        let size = Size { width, height };
        round_trip(size.clone(), codec!(Size), size)?;
        round_trip(value.clone(), codec!(Value), reread(&value))?;
    }

    /// The decoding steps of the generated invoker, for 0 to 4 parameters: the count is
    /// checked first, then each argument in order, and the first failure is named.
    #[test]
    fn the_invoke_path_checks_the_count_then_each_argument(
        count in 0usize..=4,
        payloads in payloads(),
    ) {
        let args = Args::new("sig", payloads.clone());
        let outcome = match count {
            0 => invoke!(args;),
            1 => invoke!(args; text: String),
            2 => invoke!(args; data: Vec<u8>, count: u32),
            3 => invoke!(args; label: Option<String>, size: Size, shape: Shape),
            _ => invoke!(args; number: i64, numbers: Vec<u16>, nothing: (), data: Vec<u8>),
        };
        let params = signature(count);
        match outcome {
            Ok(()) => prop_assert_eq!(verdict(&params, &payloads), Verdict::Ok),
            Err(error) => check_error(
                "sig",
                &params,
                &payloads,
                (error.error_type(), error.message(), error.is_non_retryable()),
            )?,
        }
    }

    /// Sync activities that `#[activity]` generated, run through their real invoker.
    #[test]
    fn registered_sync_activities_never_panic_on_any_input(
        count in 0usize..=4,
        payloads in payloads(),
    ) {
        check_registered("sync", count, payloads)?;
    }

    /// Async activities that `#[activity]` generated, run through their real invoker.
    #[test]
    fn registered_async_activities_never_panic_on_any_input(
        count in 0usize..=4,
        payloads in payloads(),
    ) {
        check_registered("async", count, payloads)?;
    }

    /// Argument payloads of the right count, each valid, invalid or foreign, give the
    /// value or the first bad argument: more valid cases than the random mix above.
    #[test]
    fn right_count_payloads_fail_only_on_a_bad_argument(
        kind in prop::sample::select(&["sync", "async"][..]),
        count in 0usize..=4,
        payloads in prop::collection::vec(payload(), 4),
    ) {
        let payloads = payloads[..count].to_vec();
        check_registered(kind, count, payloads)?;
    }

    /// Encoding a result never panics out of `finish`: a value, a `PayloadEncodeError`
    /// (serde_json refuses maps with non-string keys), or a `PanicError`.
    #[test]
    fn finishing_a_result_never_unwinds(
        map in prop::collection::hash_map(any::<(u8, u8)>(), any::<u8>(), 0..3),
        panics in any::<bool>(),
    ) {
        #[derive(Clone)]
        struct MaybePanics(bool);
        impl Serialize for MaybePanics {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if self.0 {
                    panic!("Serialize panicked");
                }
                serializer.serialize_u8(1)
            }
        }
        let empty = map.is_empty();
        match finish("sig", Ok(map), encoder_for!(HashMap<(u8, u8), u8>)) {
            Ok(payload) => {
                prop_assert!(empty);
                prop_assert_eq!(payload.data, b"{}".to_vec());
            }
            Err(error) => {
                prop_assert!(!empty);
                prop_assert_eq!(error.error_type(), "PayloadEncodeError");
                prop_assert!(error.message().starts_with("activity `sig` could not encode its result: "));
            }
        }
        match finish("sig", Ok(MaybePanics(panics)), encoder_for!(MaybePanics)) {
            Ok(_) => prop_assert!(!panics),
            Err(error) => {
                prop_assert!(panics);
                prop_assert_eq!(error.error_type(), "PanicError");
                prop_assert_eq!(
                    error.message(),
                    "activity `sig` panicked while encoding its result: Serialize panicked"
                );
            }
        }
    }

    /// Clipping a message never splits a character and says how much it cut.
    #[test]
    fn clipping_keeps_characters_whole(text in any::<String>(), max in 0usize..64) {
        let clipped = clip(text.clone(), max);
        if text.len() <= max {
            prop_assert_eq!(clipped, text);
        } else {
            let (kept, rest) = clipped.rsplit_once('…').unwrap();
            prop_assert!(kept.len() <= max && text.starts_with(kept));
            prop_assert_eq!(rest.to_owned(), format!(" ({} more bytes)", text.len() - kept.len()));
        }
    }
}
