//! Signed votes over canonical bytes, and the keyring that checks them.
//!
//! A vote signs `domain tag ‖ instance ‖ round ‖ voter ‖ value` with the voter's ed25519 key
//! and is checked with `verify_strict` (no malleable or small-order keys). The transport
//! authenticates who *sent* a vote; the signature proves who *cast* it, to anyone, which is
//! what makes forwarded certificates and equivocation evidence checkable by third parties.

use crate::node::NodeId;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
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
    /// ed25519 over [`Vote::signed_bytes`].
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
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VoteError {
    /// The voter is not a member.
    #[error("vote from non-member {0}")]
    UnknownVoter(NodeId),
    /// The signature does not verify (forged, or a flipped bit).
    #[error("bad signature on a vote from {0}")]
    BadSignature(NodeId),
    /// The value is larger than [`MAX_VOTE_VALUE`].
    #[error("vote value of {0} bytes is too large")]
    TooLarge(usize),
}

/// Every member's public key.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<NodeId, VerifyingKey>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `node`'s key.
    pub fn insert(&mut self, node: NodeId, key: VerifyingKey) {
        self.keys.insert(node, key);
    }

    /// The members.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.keys.keys().copied()
    }

    /// True when `node` is a member.
    pub fn contains(&self, node: NodeId) -> bool {
        self.keys.contains_key(&node)
    }

    /// Checks a vote's signature with `verify_strict`.
    pub fn verify(&self, vote: &Vote) -> Result<(), VoteError> {
        self.verify_in(VOTE_DOMAIN, vote)
    }

    /// [`Keyring::verify`] for a signature made under `domain` with [`Vote::sign_in`].
    pub fn verify_in(&self, domain: &[u8], vote: &Vote) -> Result<(), VoteError> {
        if vote.value.len() > MAX_VOTE_VALUE {
            return Err(VoteError::TooLarge(vote.value.len()));
        }
        let key = self.keys.get(&vote.voter).ok_or(VoteError::UnknownVoter(vote.voter))?;
        let sig: [u8; 64] =
            vote.signature.as_slice().try_into().map_err(|_| VoteError::BadSignature(vote.voter))?;
        let bytes = Vote::signed_bytes_in(domain, vote.instance, vote.round, vote.voter, &vote.value);
        key.verify_strict(&bytes, &Signature::from_bytes(&sig))
            .map_err(|_| VoteError::BadSignature(vote.voter))
    }
}

/// The keys a protocol signs and checks with.
#[derive(Clone, Debug)]
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
}

impl VoteKeys {
    /// The members' public keys.
    pub fn keyring(&self, members: impl IntoIterator<Item = NodeId>) -> Keyring {
        match self {
            VoteKeys::Real { keyring, .. } => keyring.clone(),
            VoteKeys::Test(seed) => test_keyring(*seed, members),
        }
    }

    /// `node`'s signing key (with real keys, this node's own whatever `node` is).
    pub fn signing_key(&self, node: NodeId) -> SigningKey {
        match self {
            VoteKeys::Real { key, .. } => (**key).clone(),
            VoteKeys::Test(seed) => test_key(*seed, node),
        }
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
}
