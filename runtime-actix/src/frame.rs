//! The wire frame, authenticated: a fixed header naming cluster, sender, recipient, session
//! epoch and sequence number, the encoded message, and the sender's ed25519 signature over
//! a domain tag and both.
//!
//! ```text
//! | cluster u64 | from u32 | to u32 | epoch u64 | seq u64 | payload ... | signature 64 |
//! ```
//!
//! Opening a frame reads the 32-byte header (fixed width: nothing a peer claims is
//! allocated), looks up the sender's key, and checks the signature with `verify_strict`
//! before a single byte of the payload is decoded. Frames travel length-delimited, at most
//! [`MAX_FRAME_LEN`] bytes; a larger length prefix is refused before any buffer is reserved.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use palisade_core::NodeId;
use palisade_core::codec::{Bincode, Codec, CodecError};
use serde::Serialize;
use std::collections::BTreeMap;
use tokio_util::codec::LengthDelimitedCodec;

/// Largest frame accepted or sent, in bytes: 64 KiB.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Domain separation: a frame signature is never valid as anything else.
pub const FRAME_DOMAIN: &[u8] = b"palisade/frame/v1";

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 32;
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;

/// Who a frame is from and for, and where it sits in the sender's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The cluster the sender belongs to; frames for another cluster are rejected.
    pub cluster: u64,
    /// The sending node.
    pub from: NodeId,
    /// The intended recipient.
    pub to: NodeId,
    /// The sender's session epoch: larger every time the sender process starts.
    pub epoch: u64,
    /// Per-recipient sequence number within the epoch, from 0.
    pub seq: u64,
}

impl FrameHeader {
    /// Appends the header's 32 little-endian bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cluster.to_le_bytes());
        out.extend_from_slice(&self.from.0.to_le_bytes());
        out.extend_from_slice(&self.to.0.to_le_bytes());
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
    }

    /// Reads a header from its 32 bytes (any bytes read as some header; the signature is
    /// what makes it trustworthy).
    pub fn read(b: &[u8; HEADER_LEN]) -> FrameHeader {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
        FrameHeader {
            cluster: u64_at(0),
            from: NodeId(u32_at(8)),
            to: NodeId(u32_at(12)),
            epoch: u64_at(16),
            seq: u64_at(24),
        }
    }
}

/// Why an inbound frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than a header and a signature.
    #[error("truncated frame of {0} bytes")]
    Truncated(usize),
    /// The sender is not a member.
    #[error("frame from unknown node {0}")]
    UnknownSender(NodeId),
    /// The signature does not verify: forged, corrupted, or signed by another key.
    #[error("bad signature on a frame claiming to be from {0}")]
    BadSignature(NodeId),
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
    /// An old epoch, or a sequence number not above the last accepted: a replay.
    #[error(
        "replayed frame from {from}: epoch {epoch} seq {seq}, last accepted epoch {last_epoch} seq {last_seq}"
    )]
    Replay {
        /// Sender.
        from: NodeId,
        /// The frame's epoch.
        epoch: u64,
        /// The frame's sequence number.
        seq: u64,
        /// The last accepted epoch.
        last_epoch: u64,
        /// The last accepted sequence number in it.
        last_seq: u64,
    },
    /// The payload is not a valid message (after the signature checked out: a buggy or
    /// malicious peer).
    #[error("malformed payload: {0}")]
    Malformed(#[from] CodecError),
}

/// How frames are authenticated.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// Every frame carries the sender's ed25519 signature, checked with `verify_strict`.
    #[default]
    Signed,
    /// The signature field is zeros and is not checked: any process that can reach a node
    /// can speak for any member. Only for measuring the transport without signatures (the
    /// transport benchmark) or a network nothing else can reach. A `Signed` node refuses
    /// these frames and an `Unsigned` one refuses signed frames, so the two never mix.
    Unsigned,
}

/// What a frame carries: a protocol message, or the hello with which a dialling node
/// opens a connection (so the accepting node learns, authenticated, who is on the other
/// end, and can send over the same connection).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Payload<M> {
    /// The first frame on a connection, from the node that dialled.
    Hello,
    /// A protocol message.
    Message(M),
}

/// A frame whose signature checked out; the payload is still undecoded.
#[derive(Debug)]
pub struct Opened<'a> {
    /// The authenticated header.
    pub header: FrameHeader,
    /// The encoded message.
    pub payload: &'a [u8],
}

/// Building and opening frames.
pub struct Frame;

impl Frame {
    /// Encodes `msg` under `header` and signs the result with `key`.
    pub fn seal<M: Serialize>(
        header: &FrameHeader,
        msg: &M,
        key: &SigningKey,
    ) -> Result<Vec<u8>, CodecError> {
        Ok(Self::sign(Auth::Signed, Self::body(header, msg)?, key))
    }

    /// The unsigned part of a frame: header and encoded message, with room for the
    /// signature. Refuses a frame that would exceed [`MAX_FRAME_LEN`].
    pub fn body<M: Serialize>(header: &FrameHeader, msg: &M) -> Result<Vec<u8>, CodecError> {
        Self::body_encoded(header, &Bincode.encode(msg)?)
    }

    /// [`Frame::body`] for a payload already encoded.
    pub fn body_encoded(header: &FrameHeader, payload: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + SIGNATURE_LEN);
        header.write(&mut out);
        out.extend_from_slice(payload);
        if out.len() + SIGNATURE_LEN > MAX_FRAME_LEN {
            return Err(CodecError::Encode(format!(
                "frame of {} bytes exceeds {MAX_FRAME_LEN}",
                out.len() + SIGNATURE_LEN
            )));
        }
        Ok(out)
    }

    /// Completes a [`Frame::body`] with its signature (zeros when `auth` is unsigned).
    pub fn sign(auth: Auth, mut body: Vec<u8>, key: &SigningKey) -> Vec<u8> {
        match auth {
            Auth::Signed => {
                let sig = key.sign(&signed_bytes(&body));
                body.extend_from_slice(&sig.to_bytes());
            }
            Auth::Unsigned => body.extend_from_slice(&[0; SIGNATURE_LEN]),
        }
        body
    }

    /// Checks a frame's length, sender and signature; decodes nothing of the payload.
    pub fn open<'a>(
        bytes: &'a [u8],
        keys: &BTreeMap<NodeId, VerifyingKey>,
    ) -> Result<Opened<'a>, FrameError> {
        Self::open_as(Auth::Signed, bytes, keys)
    }

    /// [`Frame::open`] under `auth`: unsigned frames must carry a zero signature field.
    pub fn open_as<'a>(
        auth: Auth,
        bytes: &'a [u8],
        keys: &BTreeMap<NodeId, VerifyingKey>,
    ) -> Result<Opened<'a>, FrameError> {
        if bytes.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err(FrameError::Truncated(bytes.len()));
        }
        let (body, sig) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let head: &[u8; HEADER_LEN] =
            body[..HEADER_LEN].try_into().map_err(|_| FrameError::Truncated(bytes.len()))?;
        let header = FrameHeader::read(head);
        let key = keys.get(&header.from).ok_or(FrameError::UnknownSender(header.from))?;
        let sig: &[u8; SIGNATURE_LEN] = sig.try_into().map_err(|_| FrameError::Truncated(bytes.len()))?;
        let authentic = match auth {
            Auth::Signed => key.verify_strict(&signed_bytes(body), &Signature::from_bytes(sig)).is_ok(),
            Auth::Unsigned => sig.iter().all(|&b| b == 0),
        };
        if !authentic {
            return Err(FrameError::BadSignature(header.from));
        }
        Ok(Opened { header, payload: &body[HEADER_LEN..] })
    }
}

fn signed_bytes(body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(FRAME_DOMAIN.len() + body.len());
    b.extend_from_slice(FRAME_DOMAIN);
    b.extend_from_slice(body);
    b
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
    use palisade_core::quorum::test_key;
    use tokio_util::codec::Decoder;

    fn header() -> FrameHeader {
        FrameHeader { cluster: 7, from: NodeId(1), to: NodeId(2), epoch: 3, seq: 4 }
    }

    fn keys() -> BTreeMap<NodeId, VerifyingKey> {
        (1..=3).map(|n| (NodeId(n), test_key(7, NodeId(n)).verifying_key())).collect()
    }

    #[test]
    fn sealed_frame_opens_to_the_same_header_and_message() {
        let bytes = Frame::seal(&header(), &(42u64, "x".to_string()), &test_key(7, NodeId(1))).unwrap();
        let opened = Frame::open(&bytes, &keys()).unwrap();
        assert_eq!(opened.header, header());
        assert_eq!(Bincode.decode::<(u64, String)>(opened.payload).unwrap(), (42, "x".to_string()));
    }

    #[test]
    fn truncation_unknown_senders_and_wrong_keys_are_refused() {
        let bytes = Frame::seal(&header(), &1u32, &test_key(7, NodeId(1))).unwrap();
        for cut in 0..bytes.len() {
            assert!(Frame::open(&bytes[..cut], &keys()).is_err(), "cut at {cut}");
        }
        let stranger = FrameHeader { from: NodeId(9), ..header() };
        let b = Frame::seal(&stranger, &1u32, &test_key(7, NodeId(9))).unwrap();
        assert_eq!(Frame::open(&b, &keys()).unwrap_err(), FrameError::UnknownSender(NodeId(9)));
        // Node 3 signs a frame claiming to be node 1.
        let b = Frame::seal(&header(), &1u32, &test_key(7, NodeId(3))).unwrap();
        assert_eq!(Frame::open(&b, &keys()).unwrap_err(), FrameError::BadSignature(NodeId(1)));
        // Trailing bytes shift the signature: refused too.
        let mut b = bytes.clone();
        b.push(0);
        assert!(Frame::open(&b, &keys()).is_err());
    }

    #[test]
    fn signed_and_unsigned_frames_never_mix() {
        let key = test_key(7, NodeId(1));
        let unsigned = Frame::sign(Auth::Unsigned, Frame::body(&header(), &1u32).unwrap(), &key);
        let signed = Frame::seal(&header(), &1u32, &key).unwrap();
        assert!(Frame::open_as(Auth::Unsigned, &unsigned, &keys()).is_ok());
        assert_eq!(Frame::open(&unsigned, &keys()).unwrap_err(), FrameError::BadSignature(NodeId(1)));
        assert_eq!(
            Frame::open_as(Auth::Unsigned, &signed, &keys()).unwrap_err(),
            FrameError::BadSignature(NodeId(1))
        );
        // Unsigned still means known senders only.
        let stranger = Frame::sign(
            Auth::Unsigned,
            Frame::body(&FrameHeader { from: NodeId(9), ..header() }, &1u32).unwrap(),
            &key,
        );
        assert_eq!(
            Frame::open_as(Auth::Unsigned, &stranger, &keys()).unwrap_err(),
            FrameError::UnknownSender(NodeId(9))
        );
    }

    #[test]
    fn oversized_length_prefix_is_refused_before_buffering() {
        let mut codec = length_codec();
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).is_err());
        assert!(buf.capacity() < 1024, "no buffer of the claimed size was reserved");
    }

    mod mutations {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]
            /// 10,000 random mutations of a valid signed frame: flips, truncations,
            /// extensions, splices. None is accepted.
            #[test]
            fn no_mutation_of_a_signed_frame_is_accepted(
                flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..4),
                cut in proptest::option::of(any::<usize>()),
                extra in proptest::collection::vec(any::<u8>(), 0..3),
            ) {
                let good = Frame::seal(&header(), &(5u64, vec![1u8, 2, 3]), &test_key(7, NodeId(1))).unwrap();
                let mut b = good.clone();
                for &(i, x) in &flips {
                    let i = i % b.len();
                    b[i] ^= x;
                }
                if let Some(c) = cut {
                    b.truncate(c % (b.len() + 1));
                }
                b.extend_from_slice(&extra);
                prop_assume!(b != good);
                prop_assert!(Frame::open(&b, &keys()).is_err());
            }
        }
    }
}
