//! What every fuzz target checks, so the targets are one line each.

use palisade_core::codec::{Bincode, Codec};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decoding arbitrary bytes as `M` never panics (nor allocates what a length claims: the
/// codec's limit refuses it), and anything that decodes re-encodes to exactly the same
/// bytes: there is one encoding per message, and no trailing byte is ignored.
pub fn decode_roundtrip<M: Serialize + DeserializeOwned>(data: &[u8]) {
    if let Ok(msg) = Bincode.decode::<M>(data) {
        let again = Bincode.encode(&msg).expect("a decoded message encodes");
        assert_eq!(again, data, "a message must have exactly one encoding");
    }
}
