//! Authenticated sessions between members: a Noise `XX` handshake (X25519, ChaCha20-Poly1305,
//! BLAKE2s, by the `snow` crate), then one AEAD per frame.
//!
//! Identity: each process generates a fresh X25519 static key when it starts and proves it
//! speaks for its node by signing that key with the node's ed25519 key (as libp2p's Noise
//! handshake does). The proof travels encrypted inside the handshake; the prologue binds the
//! cluster id and the responder's node id, and each proof names the cluster and its signer's
//! node id, so a session is between two named members of one cluster or it does not exist.
//!
//! ```text
//! dialer (lower id)                               listener (higher id)
//!   -> e
//!   <- e, ee, s, es    payload: listener's id + ed25519 signature over its static key
//!   -> s, se           payload: dialer's id + ed25519 signature over its static key
//!   <-> transport frames: ChaCha20-Poly1305, implicit nonces 0, 1, 2, ... per direction
//! ```
//!
//! What this gives, with no clock and no durable state: both sides contribute fresh
//! ephemeral keys, so bytes recorded from one session mean nothing in any other (a replayed
//! handshake dies at its third message, a replayed frame fails to decrypt); within a session
//! the nonce is the frame's position in the stream, so a replayed, dropped or reordered frame
//! fails authentication and ends the connection.

use bytes::Bytes;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use palisade_core::NodeId;
use snow::{HandshakeState, StatelessTransportState};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The Noise protocol name: pattern, DH, cipher, hash.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/// Largest Noise message, and so largest frame on the wire, in bytes.
pub const MAX_FRAME_LEN: usize = 65_535;
/// Bytes the AEAD adds to each frame.
pub const TAG_LEN: usize = 16;
/// Largest plaintext one frame carries.
pub const MAX_PLAINTEXT: usize = MAX_FRAME_LEN - TAG_LEN;
/// Domain separation for the prologue.
const PROLOGUE_DOMAIN: &[u8] = b"palisade/noise/v1";
/// Domain separation for the signature binding a static key to a node.
const PROOF_DOMAIN: &[u8] = b"palisade/noise-static/v1";
/// Bytes of an X25519 public key: the whole of a dialler's first message.
const DH_LEN: usize = 32;
/// Bytes of a proof: the signer's node id and its signature.
const PROOF_LEN: usize = 4 + 64;

/// Why a handshake failed. Every failure closes the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A Noise message did not verify or decrypt: another cluster, a stranger, a replay, or
    /// corruption.
    #[error("handshake message rejected: {0}")]
    Noise(#[from] snow::Error),
    /// The proof names a node that is not a member.
    #[error("handshake from unknown node {0}")]
    UnknownNode(NodeId),
    /// The proof names a member that should be dialled by us, not dial us.
    #[error("{0} dialled, but the lower id dials")]
    WrongDialer(NodeId),
    /// The dialled node answered as another node.
    #[error("dialled {want}, but {got} answered")]
    WrongPeer {
        /// Who was dialled.
        want: NodeId,
        /// Who the proof names.
        got: NodeId,
    },
    /// The signature over the static key does not verify with the member's ed25519 key.
    #[error("{0}'s proof of identity does not verify")]
    BadProof(NodeId),
    /// A handshake payload of the wrong size.
    #[error("malformed handshake payload of {0} bytes")]
    Malformed(usize),
    /// The connection closed or failed mid-handshake.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer did not finish the handshake in time.
    #[error("handshake not finished within the deadline")]
    Timeout,
}

/// This node's side of every handshake: its id, cluster, the static key of this process and
/// the signature that binds it to the node's ed25519 key.
pub struct Identity {
    cluster: u64,
    id: NodeId,
    static_private: Vec<u8>,
    proof: [u8; PROOF_LEN],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cluster", &self.cluster)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn params() -> snow::params::NoiseParams {
    NOISE_PARAMS.parse().expect("NOISE_PARAMS is a valid protocol name")
}

/// What both ends must agree on before a handshake can complete: the cluster, the node
/// being dialled, and the codec every frame will be in (a node built with the other codec
/// feature fails the handshake, counted, instead of every frame after it).
fn prologue(cluster: u64, responder: NodeId) -> Vec<u8> {
    use palisade_core::codec::{Codec, DefaultCodec};
    let codec = DefaultCodec::NAME.as_bytes();
    [PROLOGUE_DOMAIN, &cluster.to_le_bytes(), &responder.0.to_le_bytes(), &[codec.len() as u8], codec]
        .concat()
}

fn proof_message(cluster: u64, id: NodeId, static_public: &[u8]) -> Vec<u8> {
    [PROOF_DOMAIN, &cluster.to_le_bytes(), &id.0.to_le_bytes(), static_public].concat()
}

impl Identity {
    /// A fresh static key for this process, signed by `key` as node `id` of `cluster`.
    pub fn new(cluster: u64, id: NodeId, key: &SigningKey) -> Result<Self, snow::Error> {
        let pair = snow::Builder::new(params()).generate_keypair()?;
        let sig = key.sign(&proof_message(cluster, id, &pair.public));
        let mut proof = [0u8; PROOF_LEN];
        proof[..4].copy_from_slice(&id.0.to_le_bytes());
        proof[4..].copy_from_slice(&sig.to_bytes());
        Ok(Identity { cluster, id, static_private: pair.private, proof })
    }

    /// The node this identity speaks for.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The cluster it belongs to.
    pub fn cluster(&self) -> u64 {
        self.cluster
    }

    fn builder<'a>(&'a self, prologue: &'a [u8]) -> Result<snow::Builder<'a>, snow::Error> {
        snow::Builder::new(params()).local_private_key(&self.static_private)?.prologue(prologue)
    }

    /// Checks a peer's proof against the static key the handshake authenticated; returns the
    /// node it names.
    fn check_proof(
        &self,
        payload: &[u8],
        remote_static: Option<&[u8]>,
        keys: &BTreeMap<NodeId, VerifyingKey>,
    ) -> Result<NodeId, HandshakeError> {
        let proof: &[u8; PROOF_LEN] =
            payload.try_into().map_err(|_| HandshakeError::Malformed(payload.len()))?;
        let id = NodeId(u32::from_le_bytes([proof[0], proof[1], proof[2], proof[3]]));
        let key = keys.get(&id).ok_or(HandshakeError::UnknownNode(id))?;
        // XX always transmits the static key before the proof that covers it.
        let remote_static = remote_static.ok_or(HandshakeError::Malformed(0))?;
        let sig = Signature::from_slice(&proof[4..]).map_err(|_| HandshakeError::BadProof(id))?;
        key.verify_strict(&proof_message(self.cluster, id, remote_static), &sig)
            .map_err(|_| HandshakeError::BadProof(id))?;
        Ok(id)
    }
}

/// The dialling side of a handshake, between its messages.
pub struct Initiator {
    hs: HandshakeState,
    peer: NodeId,
}

impl Initiator {
    /// Starts a handshake with `peer`; returns the first message to send.
    pub fn start(me: &Identity, peer: NodeId) -> Result<(Initiator, Vec<u8>), HandshakeError> {
        let prologue = prologue(me.cluster, peer);
        let mut hs = me.builder(&prologue)?.build_initiator()?;
        let mut msg = vec![0u8; 64];
        let n = hs.write_message(&[], &mut msg)?;
        msg.truncate(n);
        Ok((Initiator { hs, peer }, msg))
    }

    /// Reads the responder's message, checks that it is `peer` (its key in `keys`); returns the
    /// final message to send and the session.
    pub fn finish(
        mut self,
        me: &Identity,
        msg2: &[u8],
        keys: &BTreeMap<NodeId, VerifyingKey>,
    ) -> Result<(Vec<u8>, Session), HandshakeError> {
        let mut payload = vec![0u8; msg2.len()];
        let n = self.hs.read_message(msg2, &mut payload)?;
        let got = me.check_proof(&payload[..n], self.hs.get_remote_static(), keys)?;
        if got != self.peer {
            return Err(HandshakeError::WrongPeer { want: self.peer, got });
        }
        let mut msg3 = vec![0u8; 256];
        let n = self.hs.write_message(&me.proof, &mut msg3)?;
        msg3.truncate(n);
        Ok((msg3, Session::new(self.peer, self.hs.into_stateless_transport_mode()?)))
    }
}

/// The listening side of a handshake, between its messages.
pub struct Responder {
    hs: HandshakeState,
}

impl Responder {
    /// Reads a dialler's first message (an ephemeral key and nothing else); returns the reply
    /// to send.
    pub fn start(me: &Identity, msg1: &[u8]) -> Result<(Responder, Vec<u8>), HandshakeError> {
        if msg1.len() != DH_LEN {
            return Err(HandshakeError::Malformed(msg1.len()));
        }
        let prologue = prologue(me.cluster, me.id);
        let mut hs = me.builder(&prologue)?.build_responder()?;
        let mut scratch = vec![0u8; msg1.len()];
        hs.read_message(msg1, &mut scratch)?;
        let mut msg2 = vec![0u8; 256];
        let n = hs.write_message(&me.proof, &mut msg2)?;
        msg2.truncate(n);
        Ok((Responder { hs }, msg2))
    }

    /// Reads the dialler's last message: it must prove to be a member with a lower id than
    /// ours (the lower id dials). Returns the session.
    pub fn finish(
        mut self,
        me: &Identity,
        msg3: &[u8],
        keys: &BTreeMap<NodeId, VerifyingKey>,
    ) -> Result<Session, HandshakeError> {
        let mut payload = vec![0u8; msg3.len()];
        let n = self.hs.read_message(msg3, &mut payload)?;
        let peer = me.check_proof(&payload[..n], self.hs.get_remote_static(), keys)?;
        if peer >= me.id {
            return Err(HandshakeError::WrongDialer(peer));
        }
        Ok(Session::new(peer, self.hs.into_stateless_transport_mode()?))
    }
}

/// Why a transport frame was refused. The connection ends with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame does not authenticate at its position in the stream: forged, corrupted,
    /// replayed, reordered or from another session.
    #[error("frame {nonce} does not authenticate")]
    Unauthentic {
        /// The frame's position in the stream.
        nonce: u64,
    },
    /// Too large to seal in one frame.
    #[error("plaintext of {0} bytes exceeds {MAX_PLAINTEXT}")]
    TooLarge(usize),
    /// The nonce space of this session is used up (after 2^64 - 1 frames): reconnect.
    #[error("session exhausted")]
    Exhausted,
}

/// An established session with one peer, before it is split into its two directions.
pub struct Session {
    peer: NodeId,
    state: Arc<StatelessTransportState>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl Session {
    fn new(peer: NodeId, state: StatelessTransportState) -> Self {
        Session { peer, state: Arc::new(state) }
    }

    /// The authenticated peer.
    pub fn peer(&self) -> NodeId {
        self.peer
    }

    /// The sending and receiving halves, each with its own nonce counter from 0.
    pub fn split(self) -> (Sealer, Opener) {
        (Sealer { state: self.state.clone(), nonce: 0 }, Opener { state: self.state, nonce: 0 })
    }
}

/// Seals outbound frames in order.
pub struct Sealer {
    state: Arc<StatelessTransportState>,
    nonce: u64,
}

impl Sealer {
    /// The next frame carrying `plaintext`.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Bytes, FrameError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(FrameError::TooLarge(plaintext.len()));
        }
        if self.nonce == u64::MAX {
            return Err(FrameError::Exhausted);
        }
        let mut out = vec![0u8; plaintext.len() + TAG_LEN];
        let n = self
            .state
            .write_message(self.nonce, plaintext, &mut out)
            .map_err(|_| FrameError::TooLarge(plaintext.len()))?;
        out.truncate(n);
        self.nonce += 1;
        Ok(Bytes::from(out))
    }
}

/// Opens inbound frames in order.
pub struct Opener {
    state: Arc<StatelessTransportState>,
    nonce: u64,
}

impl Opener {
    /// The plaintext of the next frame, if it authenticates at this position.
    pub fn open(&mut self, frame: &[u8]) -> Result<Vec<u8>, FrameError> {
        if self.nonce == u64::MAX {
            return Err(FrameError::Exhausted);
        }
        let mut out = vec![0u8; frame.len()];
        let n = self
            .state
            .read_message(self.nonce, frame, &mut out)
            .map_err(|_| FrameError::Unauthentic { nonce: self.nonce })?;
        out.truncate(n);
        self.nonce += 1;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::quorum::test_key;

    fn keys(cluster: u64) -> BTreeMap<NodeId, VerifyingKey> {
        (1..=3).map(|n| (NodeId(n), test_key(cluster, NodeId(n)).verifying_key())).collect()
    }

    fn identity(cluster: u64, id: u32) -> Identity {
        Identity::new(cluster, NodeId(id), &test_key(cluster, NodeId(id))).unwrap()
    }

    /// Runs a whole handshake in memory: `dialer` dials `listener` expecting `expect`.
    fn handshake(
        dialer: &Identity,
        listener: &Identity,
        expect: NodeId,
    ) -> Result<(Session, Session), HandshakeError> {
        let (i, m1) = Initiator::start(dialer, expect)?;
        let (r, m2) = Responder::start(listener, &m1)?;
        let (m3, dialer_side) = i.finish(dialer, &m2, &keys(dialer.cluster))?;
        let listener_side = r.finish(listener, &m3, &keys(listener.cluster))?;
        Ok((dialer_side, listener_side))
    }

    #[test]
    fn members_agree_on_a_session_and_frames_round_trip_in_order() {
        let (a, b) = handshake(&identity(7, 1), &identity(7, 2), NodeId(2)).unwrap();
        assert_eq!((a.peer(), b.peer()), (NodeId(2), NodeId(1)));
        let ((mut a_out, mut a_in), (mut b_out, mut b_in)) = (a.split(), b.split());
        for i in 0..3u8 {
            let f = a_out.seal(&[i; 10]).unwrap();
            assert_eq!(f.len(), 10 + TAG_LEN);
            assert_eq!(b_in.open(&f).unwrap(), vec![i; 10]);
        }
        let f = b_out.seal(b"reply").unwrap();
        assert_eq!(a_in.open(&f).unwrap(), b"reply");
    }

    #[test]
    fn replayed_reordered_and_altered_frames_fail() {
        let (a, b) = handshake(&identity(7, 1), &identity(7, 2), NodeId(2)).unwrap();
        let ((mut out, _), (_, mut inn)) = (a.split(), b.split());
        let f0 = out.seal(b"zero").unwrap();
        let f1 = out.seal(b"one").unwrap();
        let f2 = out.seal(b"two").unwrap();
        assert_eq!(inn.open(&f1), Err(FrameError::Unauthentic { nonce: 0 }), "reordered");
        inn.open(&f0).unwrap();
        assert_eq!(inn.open(&f0), Err(FrameError::Unauthentic { nonce: 1 }), "replayed");
        let mut bad = f1.to_vec();
        bad[0] ^= 1;
        assert!(inn.open(&bad).is_err(), "altered");
        inn.open(&f1).unwrap();
        assert!(inn.open(&f2[..f2.len() - 1]).is_err(), "truncated");
    }

    #[test]
    fn a_recorded_session_means_nothing_in_a_new_one() {
        let (dialer, listener) = (identity(7, 1), identity(7, 2));
        // Record a whole session: the dialer's three messages... (two: m1 and m3) and a frame.
        let (i, m1) = Initiator::start(&dialer, NodeId(2)).unwrap();
        let (r, m2) = Responder::start(&listener, &m1).unwrap();
        let (m3, s) = i.finish(&dialer, &m2, &keys(7)).unwrap();
        r.finish(&listener, &m3, &keys(7)).unwrap();
        let frame = s.split().0.seal(b"Write(token 4, old value)").unwrap();
        // Replayed to the same listener (or after it restarted, with a new static key): the
        // first message is accepted (it is only an ephemeral key), the third is not.
        for target in [&listener, &identity(7, 2)] {
            let (r, _) = Responder::start(target, &m1).unwrap();
            assert!(matches!(r.finish(target, &m3, &keys(7)), Err(HandshakeError::Noise(_))));
        }
        // And a frame from the recording does not open in any new session.
        let (_, b) = handshake(&identity(7, 1), &listener, NodeId(2)).unwrap();
        assert!(b.split().1.open(&frame).is_err());
    }

    #[test]
    fn strangers_impostors_other_clusters_and_wrong_dialers_are_refused() {
        // Node 9 is not a member.
        let stranger = identity(7, 9);
        assert!(matches!(
            handshake(&stranger, &identity(7, 2), NodeId(2)),
            Err(HandshakeError::UnknownNode(NodeId(9)))
        ));
        // Node 3's key claiming to be node 1.
        let impostor = Identity::new(7, NodeId(1), &test_key(7, NodeId(3))).unwrap();
        assert!(matches!(
            handshake(&impostor, &identity(7, 2), NodeId(2)),
            Err(HandshakeError::BadProof(NodeId(1)))
        ));
        // Another cluster: the prologues differ, so the second message does not decrypt.
        assert!(matches!(
            handshake(&identity(8, 1), &identity(7, 2), NodeId(2)),
            Err(HandshakeError::Noise(_))
        ));
        // Dialling node 2 at an address where node 3 listens.
        assert!(matches!(
            handshake(&identity(7, 1), &identity(7, 3), NodeId(2)),
            Err(HandshakeError::Noise(_))
        ));
        // The higher id dialling the lower one.
        assert!(matches!(
            handshake(&identity(7, 3), &identity(7, 2), NodeId(2)),
            Err(HandshakeError::WrongDialer(NodeId(3)))
        ));
    }

    #[test]
    fn garbage_first_messages_are_errors_not_panics() {
        let me = identity(7, 2);
        for len in [0usize, 1, 31, 32, 33, 200, MAX_FRAME_LEN] {
            let _ = Responder::start(&me, &vec![0xAB; len]);
        }
        let (r, _) = Responder::start(&me, &[7u8; 32]).unwrap();
        assert!(r.finish(&me, &[1u8; 500], &keys(7)).is_err());
        let mut o = handshake(&identity(7, 1), &me, NodeId(2)).unwrap().1.split().1;
        for len in [0usize, 1, 15, 16, 17, 1000] {
            assert!(o.open(&vec![0u8; len]).is_err());
        }
    }
}
