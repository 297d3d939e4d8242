//! Which payload codec a type gets, chosen at compile time by autoref specialisation.
//!
//! The code `#[activity]` generates calls a method on `&&&Probe<T>`. Method lookup tries
//! the receiver as written first, then one reference less at a time, and takes the first
//! impl whose bounds hold, so the levels are, best first:
//!
//! 1. `&&&Probe<T>` ([`DecodeViaPlain`], [`EncodeViaPlain`]): `Vec<u8>` as `binary/plain`,
//!    and the primitives prost-reflect also treats as wrapper messages (`String`, `i64`,
//!    `bool`, `()`...) as serde JSON, as every SDK writes them;
//! 2. `&&Probe<T>` ([`DecodeViaProto`], [`EncodeViaProto`]): protobuf messages, only
//!    with the `protobuf` feature (the traits exist without it, with no impl, so
//!    generated code is the same either way);
//! 3. `&Probe<T>` ([`DecodeViaSerde`], [`EncodeViaSerde`]): every serde type.
//!
//! ```text
//! use ::legwork::__private::{DecodeViaPlain as _, DecodeViaProto as _, DecodeViaSerde as _};
//! (&&&Probe::<T>::new()).decoder()
//! ```
//!
//! The same probe says which serde bound the macro asserts (`serde_bound`): the type
//! itself, or `()` for a protobuf message, which needs none. The assertion keeps the
//! "`T: Deserialize` is not satisfied" error on the user's type.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{decode_bytes, decode_json, encode_bytes, encode_json, Decoder, Encoder};

/// Selects a codec for `T` at compile time; see the module docs.
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    /// The probe for `T`; zero-sized, it only carries the type.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

// A zero-sized marker: copying it lets a by-value fallback trait be reached through
// the references of the call shape.
impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Probe<T> {}

/// Level 1: types with a fixed codec, ahead of the protobuf level.
pub trait DecodeViaPlain<T> {
    /// The function that reads a `T` from a payload.
    fn decoder(self) -> Decoder<T>;
}
/// Level 1: types with a fixed codec, ahead of the protobuf level.
pub trait EncodeViaPlain<T> {
    /// The function that writes a `T` as a payload.
    fn encoder(self) -> Encoder<T>;
}

impl DecodeViaPlain<Vec<u8>> for &&&Probe<Vec<u8>> {
    fn decoder(self) -> Decoder<Vec<u8>> {
        decode_bytes
    }
}
impl EncodeViaPlain<Vec<u8>> for &&&Probe<Vec<u8>> {
    fn encoder(self) -> Encoder<Vec<u8>> {
        encode_bytes
    }
}

/// The types prost-reflect implements `ReflectMessage` for (as the `google.protobuf`
/// wrapper messages) that are plain JSON values in every SDK: a `String` argument stays
/// `json/plain` with or without the `protobuf` feature.
macro_rules! plain_json {
    ($($ty:ty),*) => {$(
        impl DecodeViaPlain<$ty> for &&&Probe<$ty> {
            fn decoder(self) -> Decoder<$ty> {
                decode_json::<$ty>
            }
        }
        impl EncodeViaPlain<$ty> for &&&Probe<$ty> {
            fn encoder(self) -> Encoder<$ty> {
                encode_json::<$ty>
            }
        }
    )*};
}
plain_json!((), bool, f32, f64, i32, i64, u32, u64, String);

/// Level 2: protobuf messages (feature `protobuf`).
pub trait DecodeViaProto<T> {
    /// The function that reads a `T` from a payload.
    fn decoder(self) -> Decoder<T>;
}
/// Level 2: protobuf messages (feature `protobuf`).
pub trait EncodeViaProto<T> {
    /// The function that writes a `T` as a payload.
    fn encoder(self) -> Encoder<T>;
}
/// Level 2: a protobuf message needs no serde bound; `()` stands in for it.
pub trait ProtoSerdeBound {
    /// `()`: the type needs no serde bound.
    fn serde_bound(self) -> PhantomData<()>;
}

#[cfg(feature = "protobuf")]
mod proto_impls {
    use super::*;
    use crate::payload::protobuf::{decode, encode};
    use prost_reflect::ReflectMessage;

    impl<T: ReflectMessage + Default> DecodeViaProto<T> for &&Probe<T> {
        fn decoder(self) -> Decoder<T> {
            decode::<T>
        }
    }
    impl<T: ReflectMessage + Default> EncodeViaProto<T> for &&Probe<T> {
        fn encoder(self) -> Encoder<T> {
            encode::<T>
        }
    }
    impl<T: ReflectMessage + Default> ProtoSerdeBound for &&Probe<T> {
        fn serde_bound(self) -> PhantomData<()> {
            PhantomData
        }
    }
}

/// Level 3: serde.
pub trait DecodeViaSerde<T> {
    /// The function that reads a `T` from a payload.
    fn decoder(self) -> Decoder<T>;
}
impl<T: DeserializeOwned> DecodeViaSerde<T> for &Probe<T> {
    fn decoder(self) -> Decoder<T> {
        decode_json::<T>
    }
}

/// Level 3: serde.
pub trait EncodeViaSerde<T> {
    /// The function that writes a `T` as a payload.
    fn encoder(self) -> Encoder<T>;
}
impl<T: Serialize> EncodeViaSerde<T> for &Probe<T> {
    fn encoder(self) -> Encoder<T> {
        encode_json::<T>
    }
}

/// Level 3: every other type is asserted to be serde, so a type that is neither gets
/// serde's own "not satisfied" error. No bound here: the assertion reports it.
pub trait SerdeBound<T> {
    /// `T`: the macro asserts the serde bound on the type itself.
    fn serde_bound(self) -> PhantomData<T>;
}
impl<T> SerdeBound<T> for &Probe<T> {
    fn serde_bound(self) -> PhantomData<T> {
        PhantomData
    }
}

#[cfg(test)]
mod tests {
    // The references are what select the codec, as in the generated code.
    #![allow(clippy::needless_borrow)]

    use super::*;
    use crate::payload::{encoding_of, BINARY_NULL, BINARY_PLAIN, JSON_PLAIN};

    macro_rules! encoding_for {
        ($ty:ty, $value:expr) => {{
            // The generated code's imports: only the level that applies is used.
            #[allow(unused_imports)]
            use super::{EncodeViaPlain as _, EncodeViaProto as _, EncodeViaSerde as _};
            let payload = (&&&Probe::<$ty>::new()).encoder()($value).unwrap();
            encoding_of(&payload).to_owned()
        }};
    }

    #[test]
    fn primitives_and_bytes_stay_plain_ahead_of_the_protobuf_level() {
        assert_eq!(encoding_for!(Vec<u8>, vec![1]), BINARY_PLAIN);
        assert_eq!(encoding_for!(String, "a".to_owned()), JSON_PLAIN);
        assert_eq!(encoding_for!(i64, 1), JSON_PLAIN);
        assert_eq!(encoding_for!(u64, 1), JSON_PLAIN);
        assert_eq!(encoding_for!(bool, true), JSON_PLAIN);
        assert_eq!(encoding_for!(f64, 0.5), JSON_PLAIN);
        assert_eq!(encoding_for!((), ()), BINARY_NULL);
        assert_eq!(encoding_for!(Vec<u16>, vec![1]), JSON_PLAIN);
        assert_eq!(encoding_for!(Option<String>, None), BINARY_NULL);
    }

    #[cfg(feature = "protobuf")]
    #[test]
    fn messages_take_the_protobuf_level() {
        use prost_reflect::prost_types::Duration;
        let duration = Duration {
            seconds: 3,
            nanos: 0,
        };
        // `json/protobuf` unless a test of the write encoding has it set just now.
        assert!(encoding_for!(Duration, duration).ends_with("/protobuf"));

        #[allow(unused_imports)]
        use super::{ProtoSerdeBound as _, SerdeBound as _};
        let _: PhantomData<()> = (&&&Probe::<Duration>::new()).serde_bound();
        let _: PhantomData<Vec<u16>> = (&&&Probe::<Vec<u16>>::new()).serde_bound();
    }
}
