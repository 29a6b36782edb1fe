//! Wire encoding behind a trait, so the format can be swapped without touching protocols.
//!
//! [`Bincode`] is bincode 2 (pinned `=2.0.1`; the crate is unmaintained and its 3.0.0 release
//! is an empty tombstone) with fixed-width little-endian integers, a hard byte limit on
//! decoding so a hostile length prefix cannot make the decoder allocate what it claims, and
//! a check that the whole input was consumed.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The value could not be encoded (or would exceed the byte limit).
    #[error("encode failed: {0}")]
    Encode(String),
    /// The bytes are not a valid encoding (truncated, corrupt, or over the byte limit).
    #[error("decode failed: {0}")]
    Decode(String),
    /// The bytes held a valid value followed by junk.
    #[error("{trailing} trailing bytes after a {used}-byte value")]
    TrailingBytes {
        /// Bytes the value used.
        used: usize,
        /// Bytes left over.
        trailing: usize,
    },
}

/// A serialization format for values crossing the network or going to disk.
pub trait Codec {
    /// Appends the encoding of `value` to `out`.
    fn encode_into<T: Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Encodes `value` as a stream of byte slices handed to `sink`, without buffering (for
    /// hashing or checksumming an encoding). The concatenated slices equal [`Codec::encode`].
    fn encode_streaming<T: Serialize + ?Sized, F: FnMut(&[u8])>(
        &self,
        value: &T,
        sink: F,
    ) -> Result<(), CodecError>;

    /// Decodes one value that must occupy all of `bytes`.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError>;

    /// The encoding of `value` in a new buffer.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        self.encode_into(value, &mut out)?;
        Ok(out)
    }
}

/// Largest value [`Bincode`] will decode: 64 KiB. Protocol messages are small; anything
/// bigger is a bug or an attack.
pub const MAX_DECODE_BYTES: usize = 64 * 1024;

/// bincode 2 with fixed-width integers and a [`MAX_DECODE_BYTES`] limit.
#[derive(Copy, Clone, Debug, Default)]
pub struct Bincode;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_DECODE_BYTES>()
}

impl Codec for Bincode {
    fn encode_into<T: Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        bincode::serde::encode_into_std_write(value, out, config())
            .map(|_| ())
            .map_err(|e| CodecError::Encode(e.to_string()))
    }

    fn encode_streaming<T: Serialize + ?Sized, F: FnMut(&[u8])>(
        &self,
        value: &T,
        sink: F,
    ) -> Result<(), CodecError> {
        struct Sink<F>(F);
        impl<F: FnMut(&[u8])> bincode::enc::write::Writer for Sink<F> {
            fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
                (self.0)(bytes);
                Ok(())
            }
        }
        bincode::serde::encode_into_writer(value, Sink(sink), config())
            .map_err(|e| CodecError::Encode(e.to_string()))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        let (value, used) = bincode::serde::decode_from_slice(bytes, config())
            .map_err(|e| CodecError::Decode(e.to_string()))?;
        if used != bytes.len() {
            return Err(CodecError::TrailingBytes { used, trailing: bytes.len() - used });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        id: u32,
        items: Vec<u64>,
    }

    #[test]
    fn round_trips_and_uses_fixed_width_integers() {
        let v = Sample { id: 1, items: vec![2, 3] };
        let bytes = Bincode.encode(&v).unwrap();
        // 4 (u32) + 8 (length) + 2 * 8 (u64s): fixed-width, not varint.
        assert_eq!(bytes.len(), 4 + 8 + 16);
        assert_eq!(Bincode.decode::<Sample>(&bytes).unwrap(), v);
    }

    #[test]
    fn streaming_encoding_equals_buffered_encoding() {
        let v = Sample { id: 3, items: vec![9, 8, 7] };
        let mut streamed = Vec::new();
        Bincode.encode_streaming(&v, |b| streamed.extend_from_slice(b)).unwrap();
        assert_eq!(streamed, Bincode.encode(&v).unwrap());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = Bincode.encode(&7u32).unwrap();
        bytes.push(0);
        assert_eq!(Bincode.decode::<u32>(&bytes), Err(CodecError::TrailingBytes { used: 4, trailing: 1 }));
    }

    #[test]
    fn hostile_length_prefix_is_rejected_without_allocating_it() {
        // A Vec<u64> claiming 2^40 elements in a 22-byte frame: an unlimited decoder would
        // try to reserve terabytes and abort the process.
        let mut bytes = 1u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        bytes.extend_from_slice(&[0u8; 10]);
        assert!(matches!(Bincode.decode::<Sample>(&bytes), Err(CodecError::Decode(_))));
    }

    #[test]
    fn truncated_input_is_rejected() {
        let bytes = Bincode.encode(&Sample { id: 9, items: vec![1, 2, 3] }).unwrap();
        for cut in 0..bytes.len() {
            assert!(Bincode.decode::<Sample>(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
