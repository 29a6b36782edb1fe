//! [`Postcard`]: postcard 1, a maintained format with a specified wire format.

use super::{Codec, CodecError, MAX_DECODE_BYTES};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// postcard 1 (varint integers, <https://postcard.jamesmunns.com/wire-format>) with a
/// [`MAX_DECODE_BYTES`] limit and canonical decoding.
///
/// postcard itself accepts an over-long varint (`0x81 0x00` for 1), so two byte strings
/// could carry one message; [`Postcard::decode`] encodes what it decoded again and refuses
/// the input unless the two are equal (which also refuses a map whose keys are out of
/// order or repeated). A sequence's length cannot make it allocate more
/// than the input holds: postcard drops the length as a size hint when fewer bytes remain.
#[derive(Copy, Clone, Debug, Default)]
pub struct Postcard;

fn encode_error(e: ::postcard::Error) -> CodecError {
    CodecError::Encode(e.to_string())
}

impl Codec for Postcard {
    const NAME: &'static str = "postcard-1";

    fn encode_into<T: Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.encode_streaming(value, |bytes| out.extend_from_slice(bytes))
    }

    fn encode_streaming<T: Serialize + ?Sized, F: FnMut(&[u8])>(
        &self,
        value: &T,
        sink: F,
    ) -> Result<(), CodecError> {
        struct Sink<F>(F);
        impl<F: FnMut(&[u8])> ::postcard::ser_flavors::Flavor for Sink<F> {
            type Output = ();
            fn try_push(&mut self, byte: u8) -> ::postcard::Result<()> {
                (self.0)(&[byte]);
                Ok(())
            }
            fn try_extend(&mut self, bytes: &[u8]) -> ::postcard::Result<()> {
                (self.0)(bytes);
                Ok(())
            }
            fn finalize(self) -> ::postcard::Result<()> {
                Ok(())
            }
        }
        ::postcard::serialize_with_flavor(value, Sink(sink)).map_err(encode_error)
    }

    fn decode<T: Serialize + DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        if bytes.len() > MAX_DECODE_BYTES {
            return Err(CodecError::Decode(format!(
                "{} bytes is over the {MAX_DECODE_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let (value, rest) =
            ::postcard::take_from_bytes::<T>(bytes).map_err(|e| CodecError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            let used = bytes.len() - rest.len();
            return Err(CodecError::TrailingBytes { used, trailing: rest.len() });
        }
        super::ensure_canonical(self, &value, bytes)?;
        Ok(value)
    }
}
