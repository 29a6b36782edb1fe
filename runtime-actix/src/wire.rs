//! What travels on a connection once its session is established: length-delimited frames
//! (4-byte big-endian length, at most [`MAX_FRAME_LEN`] bytes, refused before any buffer is
//! reserved when larger), each one AEAD-sealed [`Payload`] (see [`crate::transport::noise`]).

pub use crate::transport::noise::{MAX_FRAME_LEN, MAX_PLAINTEXT};
use tokio_util::codec::LengthDelimitedCodec;

/// What a frame carries.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Payload<M> {
    /// A protocol message.
    Message(M),
    /// Nothing: sent when a link has been quiet for a while, so the peer can tell a quiet
    /// link from a dead one.
    Keepalive,
}

/// The length-delimited framing used on every connection: 4-byte big-endian length, at most
/// [`MAX_FRAME_LEN`].
pub fn length_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().length_field_length(4).max_frame_length(MAX_FRAME_LEN).new_codec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    #[test]
    fn oversized_length_prefix_is_refused_before_buffering() {
        let mut codec = length_codec();
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).is_err());
        assert!(buf.capacity() < 1024, "no buffer of the claimed size was reserved");
        let mut buf = BytesMut::from(&((MAX_FRAME_LEN + 1) as u32).to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).is_err(), "one byte over the Noise limit");
    }
}
