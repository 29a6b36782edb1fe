//! Byzantine-quorum voting (DDIA 8.4, "Byzantine faults").
//!
//! * [`QuorumSystem`]: majority, dissemination and masking quorums, validated against their
//!   bounds (Malkhi and Reiter).
//! * [`Ts`]: write timestamps, for the ABD register and the Byzantine one.
//!
//! With the `signatures` feature (on by default):
//!
//! * `Vote`, `Signer` and `Keyring`: ed25519 votes over canonical, domain-separated
//!   bytes (ideal signatures in simulation, `VoteKeys::Ideal`).
//! * `VoteCollector`: each voter counted once, forgeries ignored, `EquivocationEvidence`
//!   kept, `QuorumCertificate`s anyone can check.
//! * `bracha`: reliable broadcast with an equivocating sender.

#[cfg(feature = "signatures")]
pub mod bracha;
#[cfg(feature = "signatures")]
mod collector;
#[cfg(feature = "signatures")]
pub mod register;
mod system;
mod timestamp;
#[cfg(feature = "signatures")]
mod vote;

#[cfg(feature = "signatures")]
pub use collector::{
    Added, CertificateError, EquivocationEvidence, EvidenceError, QuorumCertificate, Rejection, VoteCollector,
};
pub use system::{QuorumError, QuorumKind, QuorumSystem};
pub use timestamp::Ts;
#[cfg(feature = "signatures")]
pub use vote::{
    Keyring, MAX_VOTE_VALUE, Signer, VOTE_DOMAIN, Vote, VoteError, VoteKeys, test_key, test_keyring,
};

#[cfg(all(test, feature = "signatures"))]
mod tests;
