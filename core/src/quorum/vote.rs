//! Signed votes over canonical bytes, and the keyring that checks them.
//!
//! A vote signs `domain tag ‖ instance ‖ round ‖ voter ‖ value` with the voter's ed25519 key
//! and is checked with `verify_strict` (no malleable or small-order keys). The transport
//! authenticates who *sent* a vote; the signature proves who *cast* it, to anyone, which is
//! what makes forwarded certificates and equivocation evidence checkable by third parties.
//! In simulation the signature may instead be an ideal one ([`VoteKeys::Ideal`]).

use crate::node::NodeId;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Domain separation: a vote signature can never be replayed as another kind of message.
pub const VOTE_DOMAIN: &[u8] = b"palisade/vote/v1";

/// The largest value a vote may carry, in bytes (values are usually digests).
pub const MAX_VOTE_VALUE: usize = 256;

/// A signed vote.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Vote {
    /// The protocol instance (e.g. a broadcast or register id).
    pub instance: u64,
    /// The round (view, ballot) within it.
    pub round: u64,
    /// The voter.
    pub voter: NodeId,
    /// What it votes for.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// ed25519 over [`Vote::signed_bytes`] (or, in simulation, an ideal signature's tag).
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl Vote {
    /// The canonical bytes a vote signs.
    pub fn signed_bytes(instance: u64, round: u64, voter: NodeId, value: &[u8]) -> Vec<u8> {
        Self::signed_bytes_in(VOTE_DOMAIN, instance, round, voter, value)
    }

    /// [`Vote::signed_bytes`] under another protocol's domain tag, so that a signature made
    /// for one protocol never verifies as another's.
    pub fn signed_bytes_in(domain: &[u8], instance: u64, round: u64, voter: NodeId, value: &[u8]) -> Vec<u8> {
        let mut b = Vec::with_capacity(domain.len() + 28 + value.len());
        b.extend_from_slice(domain);
        b.extend_from_slice(&instance.to_le_bytes());
        b.extend_from_slice(&round.to_le_bytes());
        b.extend_from_slice(&voter.0.to_le_bytes());
        b.extend_from_slice(&(value.len() as u32).to_le_bytes());
        b.extend_from_slice(value);
        b
    }

    /// Casts a vote with `key`.
    pub fn sign(key: &SigningKey, instance: u64, round: u64, voter: NodeId, value: Vec<u8>) -> Vote {
        Self::sign_in(VOTE_DOMAIN, key, instance, round, voter, value)
    }

    /// Casts a vote with `signer` (an ed25519 key, or in simulation an ideal signer).
    pub fn sign_as(signer: &Signer, instance: u64, round: u64, voter: NodeId, value: Vec<u8>) -> Vote {
        Self::sign_as_in(VOTE_DOMAIN, signer, instance, round, voter, value)
    }

    /// [`Vote::sign_as`] under `domain`.
    pub fn sign_as_in(
        domain: &[u8],
        signer: &Signer,
        instance: u64,
        round: u64,
        voter: NodeId,
        value: Vec<u8>,
    ) -> Vote {
        let signature = signer.sign(&Self::signed_bytes_in(domain, instance, round, voter, &value)).to_vec();
        Vote { instance, round, voter, value, signature }
    }

    /// [`Vote::sign`] under `domain` (verify with [`Keyring::verify_in`] and the same tag).
    pub fn sign_in(
        domain: &[u8],
        key: &SigningKey,
        instance: u64,
        round: u64,
        voter: NodeId,
        value: Vec<u8>,
    ) -> Vote {
        let sig = key.sign(&Self::signed_bytes_in(domain, instance, round, voter, &value));
        Vote { instance, round, voter, value, signature: sig.to_bytes().to_vec() }
    }
}

/// Why a vote was not counted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VoteError {
    /// The voter is not a member.
    UnknownVoter(NodeId),
    /// The signature does not verify (forged, or a flipped bit).
    BadSignature(NodeId),
    /// The value is larger than [`MAX_VOTE_VALUE`].
    TooLarge(usize),
}

impl std::fmt::Display for VoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VoteError::UnknownVoter(n) => write!(f, "vote from non-member {n}"),
            VoteError::BadSignature(n) => write!(f, "bad signature on a vote from {n}"),
            VoteError::TooLarge(len) => write!(f, "vote value of {len} bytes is too large"),
        }
    }
}

impl std::error::Error for VoteError {}

/// Every member's public key.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<NodeId, Verifier>,
}

/// How one member's signatures are checked.
#[derive(Clone, Debug)]
enum Verifier {
    Ed25519(VerifyingKey),
    /// [`VoteKeys::Ideal`]: the member's key, derived once from the cluster seed.
    Ideal(u64),
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `node`'s key.
    pub fn insert(&mut self, node: NodeId, key: VerifyingKey) {
        self.keys.insert(node, Verifier::Ed25519(key));
    }

    /// The members.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.keys.keys().copied()
    }

    /// True when `node` is a member.
    pub fn contains(&self, node: NodeId) -> bool {
        self.keys.contains_key(&node)
    }

    /// Checks a vote's signature: ed25519's `verify_strict`, or an ideal signature's tag.
    pub fn verify(&self, vote: &Vote) -> Result<(), VoteError> {
        self.verify_in(VOTE_DOMAIN, vote)
    }

    /// [`Keyring::verify`] for a signature made under `domain` with [`Vote::sign_in`] or
    /// [`Vote::sign_as_in`].
    pub fn verify_in(&self, domain: &[u8], vote: &Vote) -> Result<(), VoteError> {
        if vote.value.len() > MAX_VOTE_VALUE {
            return Err(VoteError::TooLarge(vote.value.len()));
        }
        let key = self.keys.get(&vote.voter).ok_or(VoteError::UnknownVoter(vote.voter))?;
        let sig: [u8; 64] =
            vote.signature.as_slice().try_into().map_err(|_| VoteError::BadSignature(vote.voter))?;
        let bytes = Vote::signed_bytes_in(domain, vote.instance, vote.round, vote.voter, &vote.value);
        let valid = match key {
            Verifier::Ed25519(key) => key.verify_strict(&bytes, &Signature::from_bytes(&sig)).is_ok(),
            Verifier::Ideal(key) => sig == ideal::tag(*key, &bytes),
        };
        if valid { Ok(()) } else { Err(VoteError::BadSignature(vote.voter)) }
    }
}

/// The keys a protocol signs and checks with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VoteKeys {
    /// Every member's public key, and this node's signing key: what a deployment uses
    /// (`palisade keygen` writes them; `palisade_actix::keys` loads them).
    Real {
        /// Every member's public key.
        keyring: Keyring,
        /// This node's key.
        key: Box<SigningKey>,
    },
    /// Every node's [`test_key`] from this cluster seed. Anyone who knows the seed can sign
    /// as any node: for simulations and tests only.
    Test(u64),
    /// Simulation only: ideal signatures from this cluster seed, the stand-in for
    /// signatures that proofs of Byzantine protocols assume (the ideal signature
    /// functionality of the cryptography literature). A signature is a 64-byte tag keyed by
    /// the signer's key (derived from the seed and its id), checked by recomputing it: a few
    /// multiplications instead of an elliptic-curve operation. It is unforgeable *within a
    /// simulation*, where an adversary signs only through the [`Signer`] of a node it
    /// controls and a guessed tag verifies with probability 2^-128; anyone who knows the seed
    /// can sign as anyone, so it has no place outside one. Messages keep their sizes, and a
    /// signature is accepted or refused where an ed25519 one would be. One difference: an
    /// ideal signer makes one signature per message, where an ed25519 key holder could make
    /// many, so an adversary that re-signs one vote to get past caches keyed by signature
    /// bytes cannot be expressed with it (none of the built-in adversaries does).
    Ideal(u64),
}

impl VoteKeys {
    /// The members' public keys.
    pub fn keyring(&self, members: impl IntoIterator<Item = NodeId>) -> Keyring {
        match self {
            VoteKeys::Real { keyring, .. } => keyring.clone(),
            VoteKeys::Test(seed) => test_keyring(*seed, members),
            VoteKeys::Ideal(seed) => Keyring {
                keys: members.into_iter().map(|n| (n, Verifier::Ideal(ideal::key(*seed, n)))).collect(),
            },
        }
    }

    /// What `node` signs with (with real keys, this node's own key whatever `node` is).
    /// Deriving a key costs about as much as a signature: a protocol keeps its signer.
    pub fn signer(&self, node: NodeId) -> Signer {
        match self {
            VoteKeys::Real { key, .. } => Signer(Scheme::Ed25519(key.clone())),
            VoteKeys::Test(seed) => Signer(Scheme::Ed25519(Box::new(test_key(*seed, node)))),
            VoteKeys::Ideal(seed) => Signer(Scheme::Ideal(ideal::key(*seed, node))),
        }
    }
}

/// What one node signs with: an ed25519 key, or in simulation an ideal signer. Made by
/// [`VoteKeys::signer`], so code that holds one node's signer cannot make another's.
#[derive(Clone, Debug)]
pub struct Signer(Scheme);

#[derive(Clone, Debug)]
enum Scheme {
    Ed25519(Box<SigningKey>),
    /// [`VoteKeys::Ideal`]: the signer's key, derived from the cluster seed and its id.
    Ideal(u64),
}

impl Signer {
    /// A signature over `bytes`: 64 bytes either way, so messages keep their sizes.
    pub fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        match &self.0 {
            Scheme::Ed25519(key) => key.sign(bytes).to_bytes(),
            Scheme::Ideal(key) => ideal::tag(*key, bytes),
        }
    }
}

/// The tags of [`VoteKeys::Ideal`].
mod ideal {
    use crate::node::NodeId;

    /// What the last 48 bytes of every ideal signature say, so a trace shows what it is.
    const MARK: &[u8; 48] = b"palisade ideal signature: simulation only, v1...";

    /// Odd constants with high and low bits set (wyhash's), so no realistic word cancels one.
    const K: [u64; 4] =
        [0xa076_1d64_78bd_642f, 0xe703_7ed1_a0b4_28db, 0x8ebc_6af0_9c88_c6e3, 0x5899_65cc_7537_4cc3];

    /// The 128-bit product with its halves xored: one multiply mixes two words.
    fn fold(a: u64, b: u64) -> u64 {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    }

    /// SplitMix64's finaliser: a bijection on 64-bit words that spreads every input bit.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `node`'s key under `cluster_seed`. Two bijections around an xor of the node id, so
    /// no two members of one cluster ever share a key, whatever the seed.
    pub(super) fn key(cluster_seed: u64, node: NodeId) -> u64 {
        mix(mix(cluster_seed) ^ u64::from(node.0))
    }

    /// The tag of the signer whose key is `key` on `bytes`: two 64-bit lanes started from the
    /// key, each folding in every 8 bytes and the length, then [`MARK`].
    pub(super) fn tag(key: u64, bytes: &[u8]) -> [u8; 64] {
        let (mut a, mut b) = (key ^ K[2], key.rotate_left(32) ^ K[3]);
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            let w = u64::from_le_bytes(w);
            a = fold(a ^ w, K[1]);
            b = fold(b ^ w.rotate_left(29), K[2]);
        }
        let len = bytes.len() as u64;
        a = fold(a ^ len, K[3]);
        b = fold(b ^ len, K[0]);
        let mut out = [0u8; 64];
        out[..8].copy_from_slice(&a.to_le_bytes());
        out[8..16].copy_from_slice(&b.to_le_bytes());
        out[16..].copy_from_slice(MARK);
        out
    }
}

/// A deterministic key for `node` from a cluster seed: for simulations and tests only.
/// Real deployments load keys generated by `palisade keygen`.
pub fn test_key(cluster_seed: u64, node: NodeId) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&cluster_seed.to_le_bytes());
    bytes[8..12].copy_from_slice(&node.0.to_le_bytes());
    bytes[12..].copy_from_slice(b"palisade-test-key-v1");
    SigningKey::from_bytes(&bytes)
}

/// The keyring of nodes `members` with [`test_key`]s.
pub fn test_keyring(cluster_seed: u64, members: impl IntoIterator<Item = NodeId>) -> Keyring {
    let mut k = Keyring::new();
    for n in members {
        k.insert(n, test_key(cluster_seed, n).verifying_key());
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vote_verifies_and_every_flipped_bit_breaks_it() {
        let ring = test_keyring(1, (1..=4).map(NodeId));
        let v = Vote::sign(&test_key(1, NodeId(2)), 7, 3, NodeId(2), b"value".to_vec());
        assert_eq!(ring.verify(&v), Ok(()));
        for i in 0..v.signature.len() * 8 {
            let mut bad = v.clone();
            bad.signature[i / 8] ^= 1 << (i % 8);
            assert!(ring.verify(&bad).is_err(), "bit {i} of the signature");
        }
        for i in 0..v.value.len() * 8 {
            let mut bad = v.clone();
            bad.value[i / 8] ^= 1 << (i % 8);
            assert_eq!(ring.verify(&bad), Err(VoteError::BadSignature(NodeId(2))));
        }
        let mut other_round = v.clone();
        other_round.round = 2;
        assert!(ring.verify(&other_round).is_err(), "a vote from one round is not one from another");
    }

    #[test]
    fn non_members_and_impostors_are_refused() {
        let ring = test_keyring(1, (1..=4).map(NodeId));
        let stranger = Vote::sign(&test_key(1, NodeId(9)), 1, 1, NodeId(9), vec![1]);
        assert_eq!(ring.verify(&stranger), Err(VoteError::UnknownVoter(NodeId(9))));
        // Node 3 signs a vote claiming to be node 2.
        let forged = Vote::sign(&test_key(1, NodeId(3)), 1, 1, NodeId(2), vec![1]);
        assert_eq!(ring.verify(&forged), Err(VoteError::BadSignature(NodeId(2))));
        let short = Vote { signature: vec![0; 10], ..forged };
        assert!(ring.verify(&short).is_err());
    }

    #[test]
    fn ideal_signatures_verify_like_real_ones_and_refuse_what_real_ones_refuse() {
        for keys in [VoteKeys::Test(1), VoteKeys::Ideal(1)] {
            let ring = keys.keyring((1..=4).map(NodeId));
            let v = Vote::sign_as(&keys.signer(NodeId(2)), 7, 3, NodeId(2), b"value".to_vec());
            assert_eq!(v.signature.len(), 64, "{keys:?}: the same size on the wire");
            assert_eq!(ring.verify(&v), Ok(()), "{keys:?}");
            for i in 0..v.signature.len() * 8 {
                let mut bad = v.clone();
                bad.signature[i / 8] ^= 1 << (i % 8);
                assert!(ring.verify(&bad).is_err(), "{keys:?}: bit {i} of the signature");
            }
            for i in 0..v.value.len() * 8 {
                let mut bad = v.clone();
                bad.value[i / 8] ^= 1 << (i % 8);
                assert!(ring.verify(&bad).is_err(), "{keys:?}: bit {i} of the value");
            }
            for other in [Vote { round: 4, ..v.clone() }, Vote { instance: 8, ..v.clone() }] {
                assert!(ring.verify(&other).is_err(), "{keys:?}: moved to another round or instance");
            }
            assert!(ring.verify_in(b"another/domain", &v).is_err(), "{keys:?}: another domain");
            // Node 3 signs a vote claiming to be node 2; a stranger is not a member.
            let forged = Vote::sign_as(&keys.signer(NodeId(3)), 7, 3, NodeId(2), b"value".to_vec());
            assert_eq!(ring.verify(&forged), Err(VoteError::BadSignature(NodeId(2))), "{keys:?}");
            let stranger = Vote::sign_as(&keys.signer(NodeId(9)), 7, 3, NodeId(9), b"value".to_vec());
            assert_eq!(ring.verify(&stranger), Err(VoteError::UnknownVoter(NodeId(9))), "{keys:?}");
        }
        // Whatever the cluster seed (0 and the hash's own constants included), one member's
        // ideal signer never signs for another.
        for seed in [0, 1, u64::MAX, 0xa076_1d64_78bd_642f, 0xe703_7ed1_a0b4_28db] {
            let keys = VoteKeys::Ideal(seed);
            let ring = keys.keyring((1..=4).map(NodeId));
            let forged = Vote::sign_as(&keys.signer(NodeId(3)), 7, 3, NodeId(2), b"value".to_vec());
            assert_eq!(ring.verify(&forged), Err(VoteError::BadSignature(NodeId(2))), "seed {seed:#x}");
            let own = Vote::sign_as(&keys.signer(NodeId(2)), 7, 3, NodeId(2), b"value".to_vec());
            assert_eq!(ring.verify(&own), Ok(()), "seed {seed:#x}");
        }
        // Another cluster's ideal signer is not this cluster's.
        let v = Vote::sign_as(&VoteKeys::Ideal(2).signer(NodeId(2)), 7, 3, NodeId(2), b"v".to_vec());
        assert!(VoteKeys::Ideal(1).keyring((1..=4).map(NodeId)).verify(&v).is_err());
        // An ideal signature never passes as an ed25519 one, nor the other way round.
        let real = VoteKeys::Test(1);
        let ideal = Vote::sign_as(&VoteKeys::Ideal(1).signer(NodeId(2)), 7, 3, NodeId(2), b"v".to_vec());
        assert!(real.keyring((1..=4).map(NodeId)).verify(&ideal).is_err());
    }

    #[test]
    fn ideal_tags_are_pinned() {
        // A change here changes every simulated Byzantine run's messages: deliberate only.
        let tag = ideal::tag(ideal::key(7, NodeId(3)), b"palisade");
        assert_eq!(u64::from_le_bytes(tag[..8].try_into().unwrap()), 0xa551_5e6c_8d40_480b);
        assert_eq!(&tag[16..], b"palisade ideal signature: simulation only, v1...");
    }
}
