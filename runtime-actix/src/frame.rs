//! The wire frame: a header naming cluster, sender, recipient, session epoch and sequence,
//! then the encoded protocol message.
//!
//! Frames travel length-delimited ([`MAX_FRAME_LEN`] at most) and are decoded with the
//! byte-limited codec, which also rejects trailing bytes. The header carries everything an
//! authenticator needs to sign over (the signature itself is added by the authentication
//! layer); until then the sender id in the header is trusted as the transport's word.

use palisade_core::NodeId;
use palisade_core::codec::{Bincode, Codec, CodecError};
use serde::{Deserialize, Serialize};
use tokio_util::codec::LengthDelimitedCodec;

/// Largest frame accepted or sent, in bytes: 64 KiB. A length prefix above this is rejected
/// before any buffer is reserved for it.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Who a frame is from and for, and where it sits in the sender's stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameHeader {
    /// The cluster the sender belongs to; frames for another cluster are rejected.
    pub cluster: u64,
    /// The sending node.
    pub from: NodeId,
    /// The intended recipient.
    pub to: NodeId,
    /// The sender's session epoch: changes every time the sender process starts.
    pub epoch: u64,
    /// Per-recipient sequence number within the epoch, from 0.
    pub seq: u64,
}

/// One frame on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// The header.
    pub header: FrameHeader,
    /// The protocol message, encoded with [`Bincode`].
    pub payload: Vec<u8>,
}

/// Why an inbound frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame or its payload did not decode.
    #[error("malformed frame: {0}")]
    Malformed(#[from] CodecError),
    /// The frame names another cluster.
    #[error("frame for cluster {got}, this is cluster {want}")]
    WrongCluster {
        /// Cluster in the frame.
        got: u64,
        /// Our cluster.
        want: u64,
    },
    /// The frame is addressed to another node.
    #[error("frame for {to}, this is {me}")]
    WrongRecipient {
        /// Recipient in the frame.
        to: NodeId,
        /// This node.
        me: NodeId,
    },
    /// The sender is not a member.
    #[error("frame from unknown node {0}")]
    UnknownSender(NodeId),
}

impl Frame {
    /// Encodes a message into a frame.
    pub fn seal<M: Serialize>(header: FrameHeader, msg: &M) -> Result<Vec<u8>, CodecError> {
        let payload = Bincode.encode(msg)?;
        let bytes = Bincode.encode(&Frame { header, payload })?;
        if bytes.len() > MAX_FRAME_LEN {
            return Err(CodecError::Encode(format!(
                "frame of {} bytes exceeds {MAX_FRAME_LEN}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Decodes a frame's envelope (not yet its payload).
    pub fn open(bytes: &[u8]) -> Result<Frame, FrameError> {
        Ok(Bincode.decode(bytes)?)
    }

    /// Decodes the payload as a protocol message.
    pub fn message<M: serde::de::DeserializeOwned>(&self) -> Result<M, FrameError> {
        Ok(Bincode.decode(&self.payload)?)
    }
}

/// The length-delimited framing used on every connection: 4-byte big-endian length,
/// at most [`MAX_FRAME_LEN`].
pub fn length_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().length_field_length(4).max_frame_length(MAX_FRAME_LEN).new_codec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    fn header() -> FrameHeader {
        FrameHeader { cluster: 7, from: NodeId(1), to: NodeId(2), epoch: 3, seq: 4 }
    }

    #[test]
    fn sealed_frame_opens_to_the_same_header_and_message() {
        let bytes = Frame::seal(header(), &(42u64, "x".to_string())).unwrap();
        let frame = Frame::open(&bytes).unwrap();
        assert_eq!(frame.header, header());
        assert_eq!(frame.message::<(u64, String)>().unwrap(), (42, "x".to_string()));
    }

    #[test]
    fn trailing_bytes_and_truncation_are_rejected() {
        let mut bytes = Frame::seal(header(), &1u32).unwrap();
        for cut in 0..bytes.len() {
            assert!(Frame::open(&bytes[..cut]).is_err());
        }
        bytes.push(0);
        assert!(matches!(Frame::open(&bytes), Err(FrameError::Malformed(CodecError::TrailingBytes { .. }))));
    }

    #[test]
    fn oversized_length_prefix_is_refused_before_buffering() {
        let mut codec = length_codec();
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).is_err());
        assert!(buf.capacity() < 1024, "no buffer of the claimed size was reserved");
    }
}
