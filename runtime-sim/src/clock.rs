//! Per-node clocks derived from true time.
//!
//! Each node reads its own monotonic clock (a random origin per incarnation, so a protocol
//! that compares instants across nodes or restarts breaks visibly, and a rate off by a drift
//! in ppm) and its own wall clock (true wall time plus an offset).

use palisade_core::{Instant, Now, WallTime};

/// True wall time at the start of every simulation: 2026-01-01T00:00:00Z.
pub const EPOCH_UNIX_NANOS: i64 = 1_767_225_600 * 1_000_000_000;

/// One node's clocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeClock {
    /// Monotonic reading at true time zero of this incarnation's origin, in ns.
    pub mono_origin: u64,
    /// Rate error in parts per million: +100 runs 100 µs fast per second.
    pub drift_ppm: i64,
    /// Wall clock offset from true wall time, in ns.
    pub wall_offset_ns: i64,
}

impl NodeClock {
    /// A clock with the given monotonic origin and no drift or offset.
    pub fn new(mono_origin: u64) -> Self {
        NodeClock {
            mono_origin,
            drift_ppm: 0,
            wall_offset_ns: 0,
        }
    }

    fn local_elapsed(&self, true_ns: u64) -> u64 {
        let scaled = i128::from(true_ns) * (1_000_000 + i128::from(self.drift_ppm)) / 1_000_000;
        u64::try_from(scaled.max(0)).unwrap_or(u64::MAX)
    }

    /// What the node reads at true time `true_ns` (ns since the start of the run).
    pub fn read(&self, true_ns: u64) -> Now {
        let mono =
            Instant::from_nanos(self.mono_origin.saturating_add(self.local_elapsed(true_ns)));
        let wall_true = EPOCH_UNIX_NANOS.saturating_add(i64::try_from(true_ns).unwrap_or(i64::MAX));
        Now::new(
            mono,
            WallTime::from_unix_nanos(wall_true).offset_by_nanos(self.wall_offset_ns),
        )
    }

    /// The earliest true time (ns) at which this node's monotonic clock reads at least
    /// `deadline`. Never earlier than `true_now`.
    pub fn true_time_of(&self, deadline: Instant, true_now: u64) -> u64 {
        let local = deadline.as_nanos().saturating_sub(self.mono_origin);
        let rate = 1_000_000 + i128::from(self.drift_ppm);
        if rate <= 0 {
            return u64::MAX;
        }
        // Smallest t with floor(t * rate / 1e6) >= local: t = ceil(local * 1e6 / rate).
        let t = (i128::from(local) * 1_000_000 + rate - 1) / rate;
        let t = u64::try_from(t).unwrap_or(u64::MAX);
        debug_assert!(
            t == u64::MAX
                || self.read(t).mono >= deadline
                || deadline.as_nanos() < self.mono_origin
        );
        t.max(true_now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifting_clock_reaches_deadline_at_adjusted_true_time() {
        let c = NodeClock {
            mono_origin: 1_000,
            drift_ppm: 100,
            wall_offset_ns: 0,
        };
        // 10 s on a clock running 100 ppm fast takes 10 s / 1.0001 of true time.
        let deadline = Instant::from_nanos(1_000 + 10_000_000_000);
        let t = c.true_time_of(deadline, 0);
        assert_eq!(t, 9_999_000_100);
        assert!(c.read(t).mono >= deadline);
        assert!(c.read(t - 1).mono < deadline);
    }

    #[test]
    fn past_deadline_fires_now() {
        let c = NodeClock::new(5_000);
        assert_eq!(c.true_time_of(Instant::from_nanos(10), 777), 777);
    }

    #[test]
    fn wall_clock_carries_its_offset() {
        let c = NodeClock {
            mono_origin: 0,
            drift_ppm: 0,
            wall_offset_ns: -3,
        };
        assert_eq!(c.read(10).wall.as_unix_nanos(), EPOCH_UNIX_NANOS + 7);
    }
}
