//! What every fuzz target checks, so the targets are a few lines each: decoding, and then
//! every protocol handler driven with what decoded.

use palisade_core::codec::{Bincode, Codec, Postcard};
use palisade_core::protocol::{Init, Input, Protocol, drain, step};
use palisade_core::{Instant, NodeId, Now, WallTime};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Decoding arbitrary bytes as `M` with each codec never panics (nor allocates what a
/// length claims: the codecs' limits refuse it), and anything that decodes re-encodes to
/// exactly the same bytes: there is one encoding per message, and no trailing byte is
/// ignored. Returns what decoded, once per codec that accepted the bytes, for the target
/// to drive the protocol with.
pub fn decoded<M: Serialize + DeserializeOwned>(data: &[u8]) -> Vec<M> {
    let mut out = Vec::new();
    if let Ok(msg) = Bincode.decode::<M>(data) {
        assert_eq!(Bincode.encode(&msg).expect("a decoded message encodes"), data, "bincode: one encoding");
        out.push(msg);
    }
    if let Ok(msg) = Postcard.decode::<M>(data) {
        assert_eq!(Postcard.encode(&msg).expect("a decoded message encodes"), data, "postcard: one encoding");
        out.push(msg);
    }
    out
}

/// Most outputs one input may produce before it counts as unbounded work for a peer.
pub const MAX_OUTPUTS_PER_INPUT: usize = 10_000;

/// Drives `P`'s handlers with `msg` (decoded from fuzzer bytes): for every member as the
/// receiving node (so every role is reached), a fresh node gets the message from every
/// other member and from a non-member, then a timeout, then the message again (a
/// duplicate), at advancing times. Nothing may panic, and no single input may make the node
/// emit more than [`MAX_OUTPUTS_PER_INPUT`] outputs.
pub fn drive<P: Protocol>(config: &P::Config, members: u32, msg: &P::Message) {
    drive_with::<P>(config, members, msg, |_| None);
}

/// [`drive`], each node first handed `command(node)` when there is one (so a client is
/// mid-operation when the message arrives).
pub fn drive_with<P: Protocol>(
    config: &P::Config,
    members: u32,
    msg: &P::Message,
    command: impl Fn(NodeId) -> Option<P::Command>,
) {
    let ids: Vec<NodeId> = (1..=members).map(NodeId).collect();
    for &me in &ids {
        let mut now = Now::new(Instant::ZERO, WallTime::UNIX_EPOCH);
        let mut node = P::new(Init::fresh(me, ids.clone(), config.clone(), 7, now));
        drain(&mut node, |_| {});
        if let Some(cmd) = command(me) {
            let req = palisade_core::protocol::RequestId(1);
            step(&mut node, now, Input::Command { req, cmd }, |_| {});
        }
        let senders = ids.iter().copied().chain([NodeId(members + 1), NodeId(u32::MAX)]);
        for from in senders.clone().chain(senders) {
            let outputs = step(&mut node, now, Input::Message { from, msg: msg.clone() }, |_| {});
            assert!(outputs <= MAX_OUTPUTS_PER_INPUT, "{outputs} outputs for one message");
            now = Now::new(
                now.mono + Duration::from_millis(700),
                WallTime::from_unix_nanos(now.wall.as_unix_nanos() + 700_000_000),
            );
            let outputs = step(&mut node, now, Input::Timeout, |_| {});
            assert!(outputs <= MAX_OUTPUTS_PER_INPUT, "{outputs} outputs for one timeout");
        }
    }
}
