//! Collecting signed votes: each voter counted once, forgeries ignored, equivocation kept as
//! evidence, and a quorum of matching votes packaged as a certificate anyone can check.

use super::system::QuorumSystem;
use super::vote::{Keyring, Vote, VoteError};
use crate::node::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Two validly signed votes by one voter for the same instance and round with different
/// values: proof, checkable by anyone with the keyring, that the voter lied.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquivocationEvidence {
    /// One vote.
    pub first: Vote,
    /// The conflicting vote.
    pub second: Vote,
}

impl EquivocationEvidence {
    /// The voter proven to have equivocated.
    pub fn culprit(&self) -> NodeId {
        self.first.voter
    }

    /// Checks the evidence independently of whoever presents it.
    pub fn verify(&self, keyring: &Keyring) -> Result<(), EvidenceError> {
        let (a, b) = (&self.first, &self.second);
        if a.voter != b.voter || a.instance != b.instance || a.round != b.round {
            return Err(EvidenceError::NotComparable);
        }
        if a.value == b.value {
            return Err(EvidenceError::SameValue);
        }
        keyring.verify(a).map_err(EvidenceError::Invalid)?;
        keyring.verify(b).map_err(EvidenceError::Invalid)
    }
}

/// Why evidence does not prove equivocation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvidenceError {
    /// Different voters, instances or rounds.
    NotComparable,
    /// The votes agree.
    SameValue,
    /// A vote does not verify.
    Invalid(VoteError),
}

impl std::fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvidenceError::NotComparable => {
                f.write_str("the votes are not by one voter for one instance and round")
            }
            EvidenceError::SameValue => f.write_str("the votes agree"),
            EvidenceError::Invalid(e) => write!(f, "a vote does not verify: {e}"),
        }
    }
}

impl std::error::Error for EvidenceError {}

/// A quorum of signed votes for one value: forwardable, checkable by anyone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumCertificate {
    /// The instance.
    pub instance: u64,
    /// The round.
    pub round: u64,
    /// The value.
    pub value: Vec<u8>,
    /// The votes, one per voter.
    pub votes: Vec<Vote>,
}

/// Why a certificate does not hold.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// Fewer distinct valid voters than a quorum.
    TooFew {
        /// Distinct valid voters.
        got: usize,
        /// The quorum size.
        need: usize,
    },
    /// A vote is for another instance, round or value.
    Mismatch,
    /// A vote does not verify.
    Invalid(VoteError),
}

impl std::fmt::Display for CertificateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateError::TooFew { got, need } => write!(f, "{got} distinct voters, a quorum is {need}"),
            CertificateError::Mismatch => f.write_str("a vote is for another instance, round or value"),
            CertificateError::Invalid(e) => write!(f, "a vote does not verify: {e}"),
        }
    }
}

impl std::error::Error for CertificateError {}

impl QuorumCertificate {
    /// Checks every signature, that voters are distinct, and that they form a quorum.
    pub fn verify(&self, keyring: &Keyring, system: &QuorumSystem) -> Result<(), CertificateError> {
        let mut voters = BTreeSet::new();
        for v in &self.votes {
            if v.instance != self.instance || v.round != self.round || v.value != self.value {
                return Err(CertificateError::Mismatch);
            }
            keyring.verify(v).map_err(CertificateError::Invalid)?;
            voters.insert(v.voter);
        }
        if !system.is_quorum(voters.len()) {
            return Err(CertificateError::TooFew { got: voters.len(), need: system.quorum() });
        }
        Ok(())
    }
}

/// What adding a vote did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    /// Counted: `count` distinct voters now back `value`.
    Counted {
        /// How many back this value.
        count: usize,
    },
    /// The same vote again (by the same voter, for the same value): not counted twice, and
    /// not verified again.
    Duplicate,
    /// A conflicting vote from a voter already counted: evidence kept, not counted.
    Equivocation(Box<EquivocationEvidence>),
    /// Not counted.
    Rejected(Rejection),
}

/// Why a vote was not counted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// For another instance or round (e.g. replayed from an old round).
    WrongRound,
    /// It failed verification.
    Invalid(VoteError),
}

/// The votes of one instance and round.
#[derive(Clone, Debug)]
pub struct VoteCollector {
    instance: u64,
    round: u64,
    system: QuorumSystem,
    first: BTreeMap<NodeId, Vote>,
    tallies: BTreeMap<Vec<u8>, BTreeSet<NodeId>>,
    evidence: BTreeMap<NodeId, EquivocationEvidence>,
    verifications: u64,
}

impl VoteCollector {
    /// A collector for `instance`, `round` under `system`.
    pub fn new(instance: u64, round: u64, system: QuorumSystem) -> Self {
        VoteCollector {
            instance,
            round,
            system,
            first: BTreeMap::new(),
            tallies: BTreeMap::new(),
            evidence: BTreeMap::new(),
            verifications: 0,
        }
    }

    /// Adds one vote received from the network.
    pub fn add(&mut self, keyring: &Keyring, vote: Vote) -> Added {
        if vote.instance != self.instance || vote.round != self.round {
            return Added::Rejected(Rejection::WrongRound);
        }
        if let Some(known) = self.first.get(&vote.voter) {
            // Identical to what we counted: no second verification, no second count.
            if known.value == vote.value && known.signature == vote.signature {
                return Added::Duplicate;
            }
        }
        self.verifications += 1;
        if let Err(e) = keyring.verify(&vote) {
            return Added::Rejected(Rejection::Invalid(e));
        }
        if let Some(known) = self.first.get(&vote.voter) {
            if known.value == vote.value {
                return Added::Duplicate; // a second valid signature on the same vote
            }
            let ev = EquivocationEvidence { first: known.clone(), second: vote };
            self.evidence.entry(ev.culprit()).or_insert_with(|| ev.clone());
            return Added::Equivocation(Box::new(ev));
        }
        let voters = self.tallies.entry(vote.value.clone()).or_default();
        voters.insert(vote.voter);
        let count = voters.len();
        self.first.insert(vote.voter, vote);
        Added::Counted { count }
    }

    /// A certificate for a value backed by a quorum, if there is one.
    pub fn certificate(&self) -> Option<QuorumCertificate> {
        let (value, voters) = self.tallies.iter().find(|(_, v)| self.system.is_quorum(v.len()))?;
        let votes = voters.iter().filter_map(|n| self.first.get(n).cloned()).collect();
        Some(QuorumCertificate { instance: self.instance, round: self.round, value: value.clone(), votes })
    }

    /// Evidence gathered, per culprit.
    pub fn evidence(&self) -> impl Iterator<Item = &EquivocationEvidence> {
        self.evidence.values()
    }

    /// Distinct voters backing `value`.
    pub fn count(&self, value: &[u8]) -> usize {
        self.tallies.get(value).map_or(0, BTreeSet::len)
    }

    /// Signature verifications performed (each distinct vote at most once).
    pub fn verifications(&self) -> u64 {
        self.verifications
    }
}
