//! Checking inbound frames: the signature (shareable with the blocking pool), then the
//! cluster, recipient, freshness and payload (on the node's thread, which owns the replay
//! window).

use super::Inbound;
use crate::frame::{Auth, Frame, FrameError, FrameHeader, Payload};
use bytes::Bytes;
use ed25519_dalek::VerifyingKey;
use palisade_core::NodeId;
use palisade_core::codec::{Bincode, Codec};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

/// The signature check, shareable with the blocking pool.
#[derive(Clone, Debug)]
pub struct Verifier {
    /// Signed or not.
    pub auth: Auth,
    /// The peers' public keys: the only senders accepted.
    pub keys: Arc<BTreeMap<NodeId, VerifyingKey>>,
}

impl Verifier {
    /// Checks one frame's sender and signature; returns its header and the frame (whose
    /// payload is `frame[HEADER_LEN..len - SIGNATURE_LEN]`).
    pub fn verify(&self, frame: Bytes) -> Result<(FrameHeader, Bytes), FrameError> {
        let header = Frame::open_as(self.auth, &frame, &self.keys)?.header;
        Ok((header, frame))
    }
}

/// What a reader checks every frame against, and the replay window it keeps per sender.
/// Readers of one node share it (they run on the node's arbiter thread).
#[derive(Clone, Debug)]
pub struct Acceptance {
    /// Our cluster id.
    pub cluster: u64,
    /// Our node id.
    pub me: NodeId,
    /// The signature check.
    pub verifier: Verifier,
    /// Per sender: the last accepted (epoch, seq).
    pub seen: Rc<RefCell<BTreeMap<NodeId, (u64, u64)>>>,
}

impl Acceptance {
    /// Accepts frames for `me` in `cluster` signed by one of `keys`.
    pub fn new(cluster: u64, me: NodeId, keys: BTreeMap<NodeId, VerifyingKey>) -> Self {
        Self::with_auth(cluster, me, keys, Auth::Signed)
    }

    /// [`Acceptance::new`] under `auth`.
    pub fn with_auth(cluster: u64, me: NodeId, keys: BTreeMap<NodeId, VerifyingKey>, auth: Auth) -> Self {
        Acceptance { cluster, me, verifier: Verifier { auth, keys: Arc::new(keys) }, seen: Rc::default() }
    }

    /// Authenticates one frame (signature first), checks cluster, recipient and freshness,
    /// then decodes its message.
    pub fn accept<M: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
    ) -> Result<Inbound<Payload<M>>, FrameError> {
        let opened = Frame::open_as(self.verifier.auth, bytes, &self.verifier.keys)?;
        self.admit(&opened.header, opened.payload)
    }

    /// The checks after the signature: cluster, recipient, freshness, then the payload's
    /// decoding. Records the frame in the replay window only if all pass.
    pub fn admit<M: serde::de::DeserializeOwned>(
        &self,
        h: &FrameHeader,
        payload: &[u8],
    ) -> Result<Inbound<Payload<M>>, FrameError> {
        if h.cluster != self.cluster {
            return Err(FrameError::WrongCluster { got: h.cluster, want: self.cluster });
        }
        if h.to != self.me {
            return Err(FrameError::WrongRecipient { to: h.to, me: self.me });
        }
        let mut seen = self.seen.borrow_mut();
        if let Some(&(last_epoch, last_seq)) = seen.get(&h.from) {
            let fresh = h.epoch > last_epoch || (h.epoch == last_epoch && h.seq > last_seq);
            if !fresh {
                return Err(FrameError::Replay {
                    from: h.from,
                    epoch: h.epoch,
                    seq: h.seq,
                    last_epoch,
                    last_seq,
                });
            }
        }
        let msg = Bincode.decode(payload)?;
        seen.insert(h.from, (h.epoch, h.seq));
        Ok(Inbound { from: h.from, msg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::quorum::test_key;

    fn acceptance() -> Acceptance {
        let keys =
            [1u32, 3].into_iter().map(|n| (NodeId(n), test_key(7, NodeId(n)).verifying_key())).collect();
        Acceptance::new(7, NodeId(2), keys)
    }

    fn frame(cluster: u64, from: u32, to: u32, epoch: u64, seq: u64) -> Vec<u8> {
        let header = FrameHeader { cluster, from: NodeId(from), to: NodeId(to), epoch, seq };
        Frame::seal(&header, &Payload::Message(5u64), &test_key(7, NodeId(from))).unwrap()
    }

    #[test]
    fn valid_frame_is_accepted_with_its_sender() {
        let inbound = acceptance().accept::<u64>(&frame(7, 1, 2, 1, 0)).unwrap();
        assert_eq!((inbound.from, inbound.msg), (NodeId(1), Payload::Message(5)));
    }

    #[test]
    fn frames_for_other_clusters_recipients_or_from_strangers_are_rejected() {
        let a = acceptance();
        assert_eq!(
            a.accept::<u64>(&frame(8, 1, 2, 1, 0)).unwrap_err(),
            FrameError::WrongCluster { got: 8, want: 7 }
        );
        assert_eq!(
            a.accept::<u64>(&frame(7, 1, 3, 1, 0)).unwrap_err(),
            FrameError::WrongRecipient { to: NodeId(3), me: NodeId(2) }
        );
        assert_eq!(a.accept::<u64>(&frame(7, 9, 2, 1, 0)).unwrap_err(), FrameError::UnknownSender(NodeId(9)));
        // A payload of the wrong type for this protocol: rejected, not a panic.
        assert!(matches!(a.accept::<(u64, u64)>(&frame(7, 1, 2, 1, 0)), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn replays_and_old_epochs_are_rejected_and_a_new_epoch_starts_over() {
        let a = acceptance();
        a.accept::<u64>(&frame(7, 1, 2, 5, 0)).unwrap();
        a.accept::<u64>(&frame(7, 1, 2, 5, 1)).unwrap();
        assert!(
            matches!(a.accept::<u64>(&frame(7, 1, 2, 5, 1)), Err(FrameError::Replay { .. })),
            "same seq again"
        );
        assert!(
            matches!(a.accept::<u64>(&frame(7, 1, 2, 5, 0)), Err(FrameError::Replay { .. })),
            "older seq"
        );
        assert!(
            matches!(a.accept::<u64>(&frame(7, 1, 2, 4, 9)), Err(FrameError::Replay { .. })),
            "older epoch"
        );
        a.accept::<u64>(&frame(7, 1, 2, 6, 0)).expect("a restarted sender's new epoch");
        // Another sender has its own window.
        a.accept::<u64>(&frame(7, 3, 2, 1, 0)).unwrap();
    }
}
