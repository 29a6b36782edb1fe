//! Lifeguard's dynamic suspicion timeout (Dadgar et al., arXiv 1707.00788; hashicorp/memberlist
//! `suspicion.go`): a suspicion starts long and shrinks, logarithmically, with each
//! independent confirmation from another member.

use crate::node::NodeId;
use crate::time::Instant;
use std::collections::BTreeSet;
use std::time::Duration;

/// The bounds of the suspicion timeout for a cluster of `n` members:
/// `min = mult · max(1, log10(max(1, n))) · probe_interval`, `max = max_mult · min`.
pub fn suspicion_bounds(
    n: usize,
    mult: u32,
    max_mult: u32,
    probe_interval: Duration,
) -> (Duration, Duration) {
    let scale = (n.max(1) as f64).log10().max(1.0);
    let min = probe_interval.mul_f64(f64::from(mult) * scale);
    (min, min * max_mult)
}

/// Confirmations needed to bring the timeout down to its minimum: `mult - 2`, or 0 when the
/// cluster has too few other members to confirm (`n - 2 < k`).
pub fn confirmations_needed(n: usize, mult: u32) -> u32 {
    let k = mult.saturating_sub(2);
    if (n as u64).saturating_sub(2) < u64::from(k) { 0 } else { k }
}

/// The timeout after `c` confirmations of `k` expected:
/// `max(min, max - (max - min) · ln(c + 1) / ln(k + 1))`, or `min` when `k` is 0.
pub fn suspicion_timeout(min: Duration, max: Duration, k: u32, c: u32) -> Duration {
    if k == 0 {
        return min;
    }
    let frac = f64::from(c + 1).ln() / f64::from(k + 1).ln();
    let t = max.as_secs_f64() - (max.as_secs_f64() - min.as_secs_f64()) * frac;
    Duration::from_secs_f64(t.max(min.as_secs_f64()))
}

/// One member's suspicion: when it started, who accused it, and who confirmed.
#[derive(Clone, Debug, Hash)]
pub struct Suspicion {
    start: Instant,
    from: NodeId,
    min: Duration,
    max: Duration,
    k: u32,
    confirmations: BTreeSet<NodeId>,
}

/// Confirmations remembered per suspicion: enough to reach the minimum timeout.
pub const MAX_CONFIRMATIONS: usize = 64;

impl Suspicion {
    /// A suspicion raised by `from` at `start`, with the given bounds and expected confirmations.
    pub fn new(start: Instant, from: NodeId, min: Duration, max: Duration, k: u32) -> Self {
        Suspicion { start, from, min, max, k, confirmations: BTreeSet::new() }
    }

    /// Records an independent confirmation; true if it was new (and the deadline moved).
    pub fn confirm(&mut self, from: NodeId) -> bool {
        if from == self.from || self.confirmations.len() >= MAX_CONFIRMATIONS.min(self.k as usize) {
            return false;
        }
        self.confirmations.insert(from)
    }

    /// Independent confirmations so far.
    pub fn confirmations(&self) -> u32 {
        self.confirmations.len() as u32
    }

    /// When the suspected member is declared dead unless it refutes.
    pub fn deadline(&self) -> Instant {
        self.start + suspicion_timeout(self.min, self.max, self.k, self.confirmations())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifeguard_reference_vector() {
        // Lifeguard (arXiv 1707.00788) with memberlist's LAN defaults: n = 100, probe
        // interval 1 s, mults 4 and 6: min 8 s, max 48 s, k 2;
        // 48 s, 22.762 s and 8 s after 0, 1 and 2 confirmations.
        let (min, max) = suspicion_bounds(100, 4, 6, Duration::from_secs(1));
        assert_eq!((min, max), (Duration::from_secs(8), Duration::from_secs(48)));
        let k = confirmations_needed(100, 4);
        assert_eq!(k, 2);
        let t: Vec<f64> = (0..3).map(|c| suspicion_timeout(min, max, k, c).as_secs_f64()).collect();
        assert!(
            (t[0] - 48.0).abs() < 1e-9 && (t[1] - 22.762).abs() < 1e-3 && (t[2] - 8.0).abs() < 1e-9,
            "{t:?}"
        );
    }

    #[test]
    fn small_clusters_use_the_minimum() {
        assert_eq!(confirmations_needed(3, 4), 0);
        let (min, max) = suspicion_bounds(3, 4, 6, Duration::from_secs(1));
        assert_eq!(min, Duration::from_secs(4), "log10 scale floors at 1");
        assert_eq!(suspicion_timeout(min, max, 0, 0), min);
    }

    #[test]
    fn confirmations_shorten_the_deadline_once_each_and_never_from_the_accuser() {
        let (min, max) = suspicion_bounds(100, 4, 6, Duration::from_secs(1));
        let mut s = Suspicion::new(Instant::ZERO, NodeId(1), min, max, 2);
        assert_eq!(s.deadline(), Instant::ZERO + max);
        assert!(!s.confirm(NodeId(1)));
        assert!(s.confirm(NodeId(2)));
        assert!(!s.confirm(NodeId(2)));
        assert!(s.confirm(NodeId(3)));
        assert!(!s.confirm(NodeId(4)), "k reached");
        assert_eq!(s.deadline(), Instant::ZERO + min);
    }
}
