//! Byzantine-quorum voting (DDIA 8.4, "Byzantine faults").
//!
//! * [`QuorumSystem`]: majority, dissemination and masking quorums, validated against their
//!   bounds (Malkhi and Reiter).
//! * [`Vote`], [`Signer`] and [`Keyring`]: ed25519 votes over canonical, domain-separated
//!   bytes (ideal signatures in simulation, [`VoteKeys::Ideal`]).
//! * [`VoteCollector`]: each voter counted once, forgeries ignored, [`EquivocationEvidence`]
//!   kept, [`QuorumCertificate`]s anyone can check.
//! * [`bracha`]: reliable broadcast with an equivocating sender.

pub mod bracha;
mod collector;
pub mod register;
mod system;
mod vote;

pub use collector::{
    Added, CertificateError, EquivocationEvidence, EvidenceError, QuorumCertificate, Rejection, VoteCollector,
};
pub use system::{QuorumError, QuorumKind, QuorumSystem};
pub use vote::{
    Keyring, MAX_VOTE_VALUE, Signer, VOTE_DOMAIN, Vote, VoteError, VoteKeys, test_key, test_keyring,
};

#[cfg(test)]
mod tests;
