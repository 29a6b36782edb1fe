//! The whole unauthenticated inbound path of a connection: arbitrary bytes cut into frames
//! by the length-delimited codec, the first read as a dialler's first handshake message and
//! the next as its last. Nothing panics, no frame longer than the limit is buffered, and no
//! input completes a handshake: without a member's private keys and the node's fresh
//! ephemeral key, nobody can produce a third message that authenticates.
#![no_main]

use bytes::BytesMut;
use palisade_actix::transport::Keys;
use palisade_actix::transport::noise::{Identity, Responder};
use palisade_actix::wire::{MAX_FRAME_LEN, length_codec};
use palisade_core::NodeId;
use palisade_core::quorum::test_key;
use std::sync::OnceLock;
use tokio_util::codec::Decoder;

/// Node 2 of cluster 7, and its peers' keys, made once (a new identity per input would
/// dominate the run).
fn node() -> &'static (Identity, Keys) {
    static NODE: OnceLock<(Identity, Keys)> = OnceLock::new();
    NODE.get_or_init(|| {
        let me = Identity::new(7, NodeId(2), &test_key(7, NodeId(2))).expect("identity");
        let keys = (1..=3).map(|n| (NodeId(n), test_key(7, NodeId(n)).verifying_key())).collect();
        (me, keys)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (me, keys) = node();
    let mut codec = length_codec();
    let mut buf = BytesMut::from(data);
    let mut next = || match codec.decode(&mut buf) {
        Ok(Some(f)) => {
            assert!(f.len() <= MAX_FRAME_LEN);
            Some(f)
        }
        Ok(None) | Err(_) => None, // incomplete, or an oversized length: the connection closes
    };
    let Some(msg1) = next() else { return };
    let Ok((responder, _msg2)) = Responder::start(me, &msg1) else { return };
    let Some(msg3) = next() else { return };
    assert!(responder.finish(me, &msg3, keys).is_err(), "a fuzzed handshake authenticated");
});
