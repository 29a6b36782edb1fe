//! The whole inbound path of a connection: arbitrary bytes cut into frames by the
//! length-delimited codec, each frame authenticated and decoded as a protocol message.
//! Nothing panics, no frame longer than the limit is buffered, and a frame that is accepted
//! re-seals to exactly the bytes that arrived.
#![no_main]

use bytes::BytesMut;
use ed25519_dalek::VerifyingKey;
use palisade_actix::frame::{FrameHeader, MAX_FRAME_LEN, length_codec};
use palisade_actix::transport::Acceptance;
use palisade_core::NodeId;
use palisade_core::detector::HeartbeatMsg;
use palisade_core::quorum::test_key;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use tokio_util::codec::Decoder;

/// The peers' public keys, derived once (deriving them per input would dominate the run).
fn keys() -> &'static BTreeMap<NodeId, VerifyingKey> {
    static KEYS: OnceLock<BTreeMap<NodeId, VerifyingKey>> = OnceLock::new();
    KEYS.get_or_init(|| (1..=3).map(|n| (NodeId(n), test_key(7, NodeId(n)).verifying_key())).collect())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // A fresh replay window per input, so every input is judged on its own.
    let accept = Acceptance::new(7, NodeId(2), keys().clone());
    let mut codec = length_codec();
    let mut buf = BytesMut::from(data);
    loop {
        let frame = match codec.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) => break, // incomplete, or an oversized length: the connection closes
        };
        assert!(frame.len() <= MAX_FRAME_LEN);
        if let Ok(inbound) = accept.accept::<HeartbeatMsg>(&frame) {
            // Only a frame signed by a known key gets here (the seeds carry some).
            let head: [u8; 32] = frame[..32].try_into().expect("accepted frames have a header");
            let header = FrameHeader::read(&head);
            assert_eq!(header.from, inbound.from);
            let again = palisade_actix::frame::Frame::seal(&header, &inbound.msg, &test_key(7, inbound.from))
                .expect("an accepted message seals");
            assert_eq!(&again[..], &frame[..], "an accepted frame must re-seal to the same bytes");
        }
    }
});
