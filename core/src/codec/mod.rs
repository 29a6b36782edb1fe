//! Wire encoding behind a trait, so the format can be swapped without touching protocols.
//!
//! Two formats ship, each behind a cargo feature, and `DefaultCodec` is the one place that
//! chooses between them: every message the simulator hashes or mutates, every frame the actix
//! transport sends and every state a node persists uses it.
//!
//! * `Bincode` (feature `bincode`, on by default): bincode 2 with fixed-width little-endian
//!   integers. bincode is the format palisade started with; RUSTSEC-2025-0141 marks it
//!   unmaintained (its 3.0.0 release is an empty tombstone), so the requirement is `^2.0.1`
//!   and a maintained alternative is one feature away.
//! * `Postcard` (feature `postcard`): postcard 1, whose wire format is specified and
//!   stable (<https://postcard.jamesmunns.com/wire-format>): varint integers, so messages
//!   are smaller. To use it everywhere, turn off default features and turn on `postcard`;
//!   when both features are on, bincode is the default.
//!
//! Both decode with a [`MAX_DECODE_BYTES`] limit (a hostile length prefix cannot make the
//! decoder allocate what it claims), refuse trailing bytes, and accept only the canonical
//! encoding of a value: decoding then encoding gives back exactly the bytes that came in,
//! which the fuzz targets check for both.

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "bincode")]
mod bincode;
#[cfg(feature = "postcard")]
mod postcard;

#[cfg(feature = "bincode")]
pub use self::bincode::Bincode;
#[cfg(feature = "postcard")]
pub use self::postcard::Postcard;

/// The codec the simulator and the actix runtime use: `Bincode` when the `bincode`
/// feature is on (the default), else `Postcard`.
#[cfg(feature = "bincode")]
pub type DefaultCodec = Bincode;
/// The codec the simulator and the actix runtime use: `Bincode` when the `bincode`
/// feature is on (the default), else `Postcard`.
#[cfg(all(feature = "postcard", not(feature = "bincode")))]
pub type DefaultCodec = Postcard;

/// The [`DefaultCodec`] as a value, for call sites: `DEFAULT_CODEC.encode(&msg)`.
#[cfg(feature = "bincode")]
pub const DEFAULT_CODEC: DefaultCodec = Bincode;
/// The [`DefaultCodec`] as a value, for call sites: `DEFAULT_CODEC.encode(&msg)`.
#[cfg(all(feature = "postcard", not(feature = "bincode")))]
pub const DEFAULT_CODEC: DefaultCodec = Postcard;

/// Refuses `bytes` unless they are exactly `codec`'s encoding of `value` (what they decoded
/// to): one encoding per value, so a signature or a hash over bytes means one thing.
#[cfg(any(feature = "bincode", feature = "postcard"))]
fn ensure_canonical<C: Codec, T: Serialize>(codec: &C, value: &T, bytes: &[u8]) -> Result<(), CodecError> {
    let mut canonical = true;
    let mut at = 0;
    codec.encode_streaming(value, |chunk| {
        canonical &= bytes.get(at..at + chunk.len()) == Some(chunk);
        at += chunk.len();
    })?;
    if canonical && at == bytes.len() {
        Ok(())
    } else {
        Err(CodecError::Decode("not the canonical encoding of the value it holds".into()))
    }
}

/// Largest value a codec here will decode: 64 KiB. Protocol messages are small; anything
/// bigger is a bug or an attack.
pub const MAX_DECODE_BYTES: usize = 64 * 1024;

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The value could not be encoded (or would exceed the byte limit).
    Encode(String),
    /// The bytes are not a valid encoding (truncated, corrupt, or over the byte limit).
    Decode(String),
    /// The bytes held a valid value followed by junk.
    TrailingBytes {
        /// Bytes the value used.
        used: usize,
        /// Bytes left over.
        trailing: usize,
    },
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Encode(why) => write!(f, "encode failed: {why}"),
            CodecError::Decode(why) => write!(f, "decode failed: {why}"),
            CodecError::TrailingBytes { used, trailing } => {
                write!(f, "{trailing} trailing bytes after a {used}-byte value")
            }
        }
    }
}

impl std::error::Error for CodecError {}

/// A serialization format for values crossing the network or going to disk.
pub trait Codec {
    /// The format's name and version, e.g. `bincode-2-fixint`: the actix transport binds it
    /// into every handshake, so nodes built with different codecs refuse each other at the
    /// handshake instead of failing on every frame.
    const NAME: &'static str;

    /// Appends the encoding of `value` to `out`.
    fn encode_into<T: Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Encodes `value` as a stream of byte slices handed to `sink`, without buffering (for
    /// hashing or checksumming an encoding). The concatenated slices equal [`Codec::encode`].
    fn encode_streaming<T: Serialize + ?Sized, F: FnMut(&[u8])>(
        &self,
        value: &T,
        sink: F,
    ) -> Result<(), CodecError>;

    /// Decodes one value that must occupy all of `bytes` and be encoded canonically: its
    /// encoding is exactly `bytes` (hence `Serialize`, which a codec may use to check).
    fn decode<T: Serialize + DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError>;

    /// The encoding of `value` in a new buffer.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        self.encode_into(value, &mut out)?;
        Ok(out)
    }
}

#[cfg(all(test, any(feature = "bincode", feature = "postcard")))]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        id: u32,
        items: Vec<u64>,
        name: String,
        flag: Option<bool>,
    }

    fn sample() -> Sample {
        Sample { id: 300, items: vec![2, 1 << 40, u64::MAX], name: "ünïcode".into(), flag: Some(true) }
    }

    /// What every codec must do, checked for each one compiled in.
    fn contract<C: Codec>(codec: C) {
        let v = sample();
        let bytes = codec.encode(&v).unwrap();
        assert_eq!(codec.decode::<Sample>(&bytes).unwrap(), v, "round trip");

        let mut streamed = Vec::new();
        codec.encode_streaming(&v, |b| streamed.extend_from_slice(b)).unwrap();
        assert_eq!(streamed, bytes, "streaming encoding equals buffered encoding");

        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            codec.decode::<Sample>(&longer),
            Err(CodecError::TrailingBytes { used: bytes.len(), trailing: 1 })
        );

        for cut in 0..bytes.len() {
            assert!(codec.decode::<Sample>(&bytes[..cut]).is_err(), "cut at {cut}");
        }

        // Every single-byte change either fails to decode or decodes to a value whose
        // encoding is the changed bytes: one encoding per value.
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut changed = bytes.clone();
                changed[i] ^= flip;
                if let Ok(other) = codec.decode::<Sample>(&changed) {
                    assert_eq!(codec.encode(&other).unwrap(), changed, "byte {i} ^ {flip:#x}");
                }
            }
        }

        // A map is encoded as a sequence of its entries (in both formats), so a sequence of
        // pairs out of key order is a second encoding of a sorted map: refused.
        type Map = std::collections::BTreeMap<u8, u8>;
        let in_order = codec.encode(&vec![(1u8, 1u8), (5, 3)]).unwrap();
        assert_eq!(codec.decode::<Map>(&in_order).unwrap(), Map::from([(1, 1), (5, 3)]));
        let out_of_order = codec.encode(&vec![(5u8, 3u8), (1, 1)]).unwrap();
        assert!(matches!(codec.decode::<Map>(&out_of_order), Err(CodecError::Decode(_))));
        let repeated = codec.encode(&vec![(1u8, 1u8), (1, 2)]).unwrap();
        assert!(matches!(codec.decode::<Map>(&repeated), Err(CodecError::Decode(_))));

        let too_big = vec![0u8; MAX_DECODE_BYTES + 1];
        assert!(codec.decode::<Vec<u8>>(&too_big).is_err(), "over the limit");
    }

    #[test]
    fn the_default_codec_is_bincode_unless_only_postcard_is_on() {
        let one = DEFAULT_CODEC.encode(&1u32).unwrap();
        if cfg!(feature = "bincode") {
            assert_eq!(one, [1, 0, 0, 0]);
        } else {
            assert_eq!(one, [1]);
        }
    }

    #[cfg(feature = "bincode")]
    #[test]
    fn bincode_keeps_the_contract() {
        contract(Bincode);
    }

    #[cfg(feature = "bincode")]
    #[test]
    fn bincode_uses_fixed_width_integers() {
        #[derive(Serialize)]
        struct Small {
            id: u32,
            items: Vec<u64>,
        }
        let bytes = Bincode.encode(&Small { id: 1, items: vec![2, 3] }).unwrap();
        // 4 (u32) + 8 (length) + 2 * 8 (u64s): fixed-width, not varint.
        assert_eq!(bytes.len(), 4 + 8 + 16);
    }

    #[cfg(feature = "bincode")]
    #[test]
    fn bincode_refuses_a_hostile_length_without_allocating_it() {
        // A Vec<u64> claiming 2^40 elements in a 22-byte frame: an unlimited decoder would
        // try to reserve terabytes and abort the process.
        let mut bytes = 1u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        bytes.extend_from_slice(&[0u8; 10]);
        assert!(matches!(Bincode.decode::<(u32, Vec<u64>)>(&bytes), Err(CodecError::Decode(_))));
    }

    #[cfg(feature = "postcard")]
    #[test]
    fn postcard_keeps_the_contract() {
        contract(Postcard);
    }

    #[cfg(feature = "postcard")]
    #[test]
    fn postcard_refuses_an_over_long_varint() {
        assert_eq!(Postcard.encode(&1u32).unwrap(), [0x01]);
        // postcard alone decodes 0x81 0x00 as 1 too; a second encoding must not pass.
        assert!(::postcard::from_bytes::<u32>(&[0x81, 0x00]).is_ok_and(|v| v == 1));
        assert!(matches!(Postcard.decode::<u32>(&[0x81, 0x00]), Err(CodecError::Decode(_))));
    }

    #[cfg(feature = "postcard")]
    #[test]
    fn postcard_refuses_a_hostile_length_without_allocating_it() {
        // A Vec<u64> claiming 2^40 elements in 16 bytes: the length is only a hint when the
        // bytes cannot hold it, so decoding fails at the end of the input.
        let mut bytes = vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        bytes.extend_from_slice(&[0u8; 10]);
        assert!(matches!(Postcard.decode::<Vec<u64>>(&bytes), Err(CodecError::Decode(_))));
    }
}
