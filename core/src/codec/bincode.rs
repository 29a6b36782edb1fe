//! [`Bincode`]: bincode 2 with fixed-width little-endian integers.

use super::{Codec, CodecError, MAX_DECODE_BYTES};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
    const NAME: &'static str = "bincode-2-fixint";

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

    fn decode<T: Serialize + DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        let (value, used) = bincode::serde::decode_from_slice(bytes, config())
            .map_err(|e| CodecError::Decode(e.to_string()))?;
        if used != bytes.len() {
            return Err(CodecError::TrailingBytes { used, trailing: bytes.len() - used });
        }
        // Fixed-width integers leave one encoding per integer, but a map's entries can still
        // come out of order or repeated (or a default entry a type drops): re-encode.
        super::ensure_canonical(self, &value, bytes)?;
        Ok(value)
    }
}
