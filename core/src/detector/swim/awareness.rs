//! Lifeguard's local health multiplier: a member that keeps missing acks and nacks, or has
//! to refute suspicions of itself, is probably the slow one, so it stretches its own probe
//! interval and timeouts instead of accusing others.

use std::time::Duration;

/// The local health score `s ∈ [0, max - 1]`; timeouts scale by `s + 1`.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Awareness {
    score: u32,
    max: u32,
}

impl Awareness {
    /// A healthy member with multiplier bound `max` (memberlist's AwarenessMaxMultiplier, 8).
    pub fn new(max: u32) -> Self {
        Awareness { score: 0, max: max.max(1) }
    }

    /// Adds `delta` (negative: healthier), clamped to `[0, max - 1]`.
    pub fn apply(&mut self, delta: i64) {
        let s = (i64::from(self.score) + delta).clamp(0, i64::from(self.max - 1));
        self.score = s as u32;
    }

    /// The current score.
    pub fn score(&self) -> u32 {
        self.score
    }

    /// `d` scaled by `score + 1`.
    pub fn scale(&self, d: Duration) -> Duration {
        d * (self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_clamped_and_scales_timeouts() {
        let mut a = Awareness::new(8);
        a.apply(-1);
        assert_eq!(a.score(), 0);
        a.apply(3);
        assert_eq!(a.scale(Duration::from_millis(500)), Duration::from_secs(2));
        a.apply(100);
        assert_eq!(a.score(), 7);
        a.apply(-2);
        assert_eq!(a.score(), 5);
    }
}
