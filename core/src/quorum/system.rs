//! Quorum systems as values (Malkhi and Reiter, Distributed Computing 1998): how many
//! servers a quorum needs so that any two quorums overlap in enough correct servers, and
//! one quorum is always available despite f faulty ones.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What the quorum system tolerates.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumKind {
    /// Crash faults: n ≥ 2f + 1, quorum ⌊n/2⌋ + 1.
    Majority,
    /// Byzantine faults, self-verifying (signed) data: n ≥ 3f + 1, quorum ⌈(n + f + 1)/2⌉.
    Dissemination,
    /// Byzantine faults, unsigned data: n ≥ 4f + 1, quorum ⌈(n + 2f + 1)/2⌉.
    Masking,
}

impl fmt::Display for QuorumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            QuorumKind::Majority => "majority",
            QuorumKind::Dissemination => "dissemination",
            QuorumKind::Masking => "masking",
        };
        f.write_str(s)
    }
}

/// An invalid quorum system.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuorumError {
    /// Too few servers for the faults to tolerate.
    TooFewNodes {
        /// Servers.
        n: usize,
        /// Faults tolerated.
        f: usize,
        /// The least n that works.
        need: usize,
        /// The kind.
        kind: QuorumKind,
    },
}

impl std::fmt::Display for QuorumError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuorumError::TooFewNodes { n, f: faults, need, kind } => {
                write!(f, "a {kind} quorum system tolerating f = {faults} needs n ≥ {need}, got n = {n}")
            }
        }
    }
}

impl std::error::Error for QuorumError {}

/// A validated quorum system. Deserializing one checks the same bound as
/// [`QuorumSystem::new`], and refuses a forced (undersized) quorum: a configuration file
/// can never describe quorums that miss each other.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "QuorumSystemFields")]
pub struct QuorumSystem {
    kind: QuorumKind,
    n: usize,
    f: usize,
    /// A quorum size forced by [`QuorumSystem::undersized`], below what the kind needs.
    #[serde(default)]
    forced: Option<usize>,
}

/// The fields of a [`QuorumSystem`] as they arrive, before validation.
#[derive(Deserialize)]
struct QuorumSystemFields {
    kind: QuorumKind,
    n: usize,
    f: usize,
    #[serde(default)]
    forced: Option<usize>,
}

impl TryFrom<QuorumSystemFields> for QuorumSystem {
    type Error = String;
    fn try_from(raw: QuorumSystemFields) -> Result<Self, String> {
        if let Some(q) = raw.forced {
            return Err(format!(
                "a forced quorum size ({q}) is for simulations only and cannot be configured"
            ));
        }
        QuorumSystem::new(raw.kind, raw.n, raw.f).map_err(|e| e.to_string())
    }
}

impl QuorumSystem {
    /// A quorum system of `kind` over `n` servers tolerating `f` faults, if the bound holds.
    pub fn new(kind: QuorumKind, n: usize, f: usize) -> Result<Self, QuorumError> {
        let need = match kind {
            QuorumKind::Majority => 2 * f + 1,
            QuorumKind::Dissemination => 3 * f + 1,
            QuorumKind::Masking => 4 * f + 1,
        };
        if n < need || n == 0 {
            return Err(QuorumError::TooFewNodes { n, f, need: need.max(1), kind });
        }
        Ok(QuorumSystem { kind, n, f, forced: None })
    }

    /// The same system with quorums of `quorum` servers, however small: two quorums may then
    /// miss each other. Only for showing what non-intersecting quorums break (the simulator's
    /// hazard scenarios); never for a deployment.
    #[cfg(any(test, feature = "hazard-switches"))]
    pub fn undersized(self, quorum: usize) -> Self {
        QuorumSystem { forced: Some(quorum.clamp(1, self.n)), ..self }
    }

    /// The kind.
    pub fn kind(&self) -> QuorumKind {
        self.kind
    }

    /// Servers.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Faults tolerated.
    pub fn f(&self) -> usize {
        self.f
    }

    /// Servers in a quorum.
    pub fn quorum(&self) -> usize {
        if let Some(q) = self.forced {
            return q;
        }
        match self.kind {
            QuorumKind::Majority => self.n / 2 + 1,
            QuorumKind::Dissemination => (self.n + self.f + 1).div_ceil(2),
            QuorumKind::Masking => (self.n + 2 * self.f + 1).div_ceil(2),
        }
    }

    /// The least overlap of any two quorums: `2q - n`.
    pub fn min_intersection(&self) -> usize {
        (2 * self.quorum()).saturating_sub(self.n)
    }

    /// The overlap the kind needs: 1 (majority), f + 1 (dissemination: one correct server
    /// in common), 2f + 1 (masking: correct servers outvote faulty ones in the overlap).
    pub fn required_intersection(&self) -> usize {
        match self.kind {
            QuorumKind::Majority => 1,
            QuorumKind::Dissemination => self.f + 1,
            QuorumKind::Masking => 2 * self.f + 1,
        }
    }

    /// True when `count` distinct servers form a quorum.
    pub fn is_quorum(&self, count: usize) -> bool {
        count >= self.quorum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializing_checks_the_bound_and_refuses_forced_quorums() {
        let bytes = |sys: &QuorumSystem| serde_json::to_vec(sys).expect("encodes");
        let decode = |b: &[u8]| serde_json::from_slice::<QuorumSystem>(b);
        let good = QuorumSystem::new(QuorumKind::Masking, 5, 1).unwrap();
        assert_eq!(decode(&bytes(&good)).unwrap(), good);
        // The same bytes with n = 4 (too few for masking f = 1) must not decode: before,
        // the derived Deserialize accepted them.
        let bad = QuorumSystem { n: 4, ..good };
        assert!(decode(&bytes(&bad)).is_err());
        assert!(decode(&bytes(&good.undersized(1))).is_err(), "forced quorums are never configured");
    }

    #[test]
    fn invalid_systems_name_the_bound() {
        let e = QuorumSystem::new(QuorumKind::Masking, 4, 1).unwrap_err();
        assert_eq!(e, QuorumError::TooFewNodes { n: 4, f: 1, need: 5, kind: QuorumKind::Masking });
        assert_eq!(e.to_string(), "a masking quorum system tolerating f = 1 needs n ≥ 5, got n = 4");
        assert!(QuorumSystem::new(QuorumKind::Dissemination, 3, 1).is_err());
        assert!(QuorumSystem::new(QuorumKind::Majority, 0, 0).is_err());
        assert_eq!(QuorumSystem::new(QuorumKind::Dissemination, 4, 1).unwrap().quorum(), 3);
        assert_eq!(QuorumSystem::new(QuorumKind::Masking, 5, 1).unwrap().quorum(), 4);
    }

    #[test]
    fn an_undersized_system_loses_intersection() {
        let q = QuorumSystem::new(QuorumKind::Majority, 5, 2).unwrap();
        assert_eq!(q.min_intersection(), 1);
        let small = q.undersized(2);
        assert_eq!(small.quorum(), 2);
        assert_eq!(small.min_intersection(), 0);
        assert!(small.min_intersection() < small.required_intersection());
        assert_eq!(q.undersized(0).quorum(), 1);
    }

    #[test]
    fn every_valid_small_system_has_intersection_and_availability() {
        for kind in [QuorumKind::Majority, QuorumKind::Dissemination, QuorumKind::Masking] {
            for n in 1..=40 {
                for f in 0..=n {
                    let Ok(q) = QuorumSystem::new(kind, n, f) else { continue };
                    assert!(
                        q.min_intersection() >= q.required_intersection(),
                        "{kind} n={n} f={f}: quorums of {} overlap in {}",
                        q.quorum(),
                        q.min_intersection()
                    );
                    assert!(n - f >= q.quorum(), "{kind} n={n} f={f}: no quorum avoids f faulty servers");
                }
            }
        }
    }

    #[test]
    fn one_server_fewer_breaks_intersection_or_availability() {
        // At the bound minus one, with quorums sized the same way, one property must fail:
        // that is why the bound is what it is.
        for kind in [QuorumKind::Dissemination, QuorumKind::Masking] {
            for f in 1usize..=5 {
                let n: usize = match kind {
                    QuorumKind::Dissemination => 3 * f,
                    _ => 4 * f,
                };
                let q = match kind {
                    QuorumKind::Dissemination => (n + f + 1).div_ceil(2),
                    _ => (n + 2 * f + 1).div_ceil(2),
                };
                let required = if kind == QuorumKind::Dissemination { f + 1 } else { 2 * f + 1 };
                let intersect = (2 * q).saturating_sub(n) >= required;
                let available = n - f >= q;
                assert!(!(intersect && available), "{kind} n={n} f={f} would work below the bound");
            }
        }
    }
}
