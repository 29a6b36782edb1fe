//! Per-node clocks derived from true time.
//!
//! Each node reads its own monotonic clock, which never goes backwards but runs fast or slow
//! by a drift in ppm and starts at a random origin per incarnation (so a protocol that
//! compares instants across nodes or restarts breaks visibly), and its own wall clock: true
//! wall time plus an offset that NTP-like steps move forwards and backwards.

use palisade_core::{Instant, Now, WallTime};

/// True wall time at the start of every simulation: 2026-01-01T00:00:00Z.
pub const EPOCH_UNIX_NANOS: i64 = 1_767_225_600 * 1_000_000_000;

/// Drift is clamped to ±[`MAX_DRIFT_PPM`] so the clock always moves forwards.
pub const MAX_DRIFT_PPM: i64 = 500_000;

/// One node's clocks, both driven by the same (possibly drifting) oscillator:
/// `mono(t) = base_mono + (t - base_true)·(1 + drift)` and
/// `wall(t) = epoch + elapsed_local(t) + wall_offset`, where `elapsed_local` is the
/// oscillator's count since the start of the run. Steps move only the wall clock; a
/// restart resets only the monotonic origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeClock {
    base_true: u64,
    base_mono: u64,
    /// Oscillator count (ns) from the start of the run to `base_true`.
    local_at_base: i64,
    drift_ppm: i64,
    wall_offset_ns: i64,
}

impl NodeClock {
    /// A clock reading `mono_origin` at true time zero, with no drift or offset.
    pub fn new(mono_origin: u64) -> Self {
        NodeClock { base_true: 0, base_mono: mono_origin, local_at_base: 0, drift_ppm: 0, wall_offset_ns: 0 }
    }

    /// The current drift in ppm (+100 runs 100 µs fast per second).
    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }

    /// The wall clock's current offset from true wall time, in ns.
    pub fn wall_offset_ns(&self) -> i64 {
        self.wall_offset_ns
    }

    fn rate(&self) -> i128 {
        1_000_000 + i128::from(self.drift_ppm)
    }

    /// Oscillator ticks (ns) between `base_true` and `true_ns`.
    fn local_since_base(&self, true_ns: u64) -> u64 {
        let elapsed = true_ns.saturating_sub(self.base_true);
        if self.drift_ppm == 0 {
            elapsed
        } else {
            u64::try_from((i128::from(elapsed) * self.rate() / 1_000_000).max(0)).unwrap_or(u64::MAX)
        }
    }

    /// What the node reads at true time `true_ns` (ns since the start of the run).
    #[inline]
    pub fn read(&self, true_ns: u64) -> Now {
        let local = self.local_since_base(true_ns);
        let mono = self.base_mono.saturating_add(local);
        let local_total = self.local_at_base.saturating_add(i64::try_from(local).unwrap_or(i64::MAX));
        let wall = EPOCH_UNIX_NANOS.saturating_add(local_total).saturating_add(self.wall_offset_ns);
        Now::new(Instant::from_nanos(mono), WallTime::from_unix_nanos(wall))
    }

    /// The wall clock's error against true wall time at `true_ns`, in ns (positive: ahead).
    pub fn wall_error_ns(&self, true_ns: u64) -> i64 {
        let truth = EPOCH_UNIX_NANOS.saturating_add(i64::try_from(true_ns).unwrap_or(i64::MAX));
        self.read(true_ns).wall.nanos_since(WallTime::from_unix_nanos(truth))
    }

    fn rebase(&mut self, true_ns: u64) {
        let local = self.local_since_base(true_ns);
        self.base_mono = self.base_mono.saturating_add(local);
        self.local_at_base = self.local_at_base.saturating_add(i64::try_from(local).unwrap_or(i64::MAX));
        self.base_true = true_ns;
    }

    /// Changes the drift from true time `true_ns` on, keeping both clocks continuous.
    pub fn set_drift(&mut self, true_ns: u64, ppm: i64) {
        self.rebase(true_ns);
        self.drift_ppm = ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
    }

    /// Steps the wall clock by `delta_ns` (negative: backwards). The monotonic clock is
    /// untouched, as on a real machine.
    pub fn step_wall(&mut self, delta_ns: i64) {
        self.wall_offset_ns = self.wall_offset_ns.saturating_add(delta_ns);
    }

    /// Sets the wall clock's offset from true wall time.
    pub fn set_wall_offset(&mut self, offset_ns: i64) {
        self.wall_offset_ns = offset_ns;
    }

    /// A new incarnation after a restart: a fresh monotonic origin at true time `true_ns`
    /// (the wall clock keeps running).
    pub fn reboot(&mut self, true_ns: u64, mono_origin: u64) {
        self.rebase(true_ns);
        self.base_mono = mono_origin;
    }

    /// The earliest true time (ns) at which this node's monotonic clock reads at least
    /// `deadline`. Never earlier than `true_now`.
    pub fn true_time_of(&self, deadline: Instant, true_now: u64) -> u64 {
        let local = deadline.as_nanos().saturating_sub(self.base_mono);
        let e = if self.drift_ppm == 0 {
            local
        } else {
            // Smallest e with floor(e * rate / 1e6) >= local: e = ceil(local * 1e6 / rate).
            let rate = self.rate();
            u64::try_from((i128::from(local) * 1_000_000 + rate - 1) / rate).unwrap_or(u64::MAX)
        };
        let t = self.base_true.saturating_add(e);
        debug_assert!(t == u64::MAX || deadline.as_nanos() < self.base_mono || self.read(t).mono >= deadline);
        t.max(true_now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifting_clock_reaches_deadline_at_adjusted_true_time() {
        let mut c = NodeClock::new(1_000);
        c.set_drift(0, 100);
        // 10 s on a clock running 100 ppm fast takes 10 s / 1.0001 of true time.
        let deadline = Instant::from_nanos(1_000 + 10_000_000_000);
        let t = c.true_time_of(deadline, 0);
        assert_eq!(t, 9_999_000_100);
        assert!(c.read(t).mono >= deadline);
        assert!(c.read(t - 1).mono < deadline);
    }

    #[test]
    fn changing_drift_keeps_the_monotonic_clock_continuous() {
        let mut c = NodeClock::new(0);
        let before = c.read(5_000_000_000).mono;
        c.set_drift(5_000_000_000, -200_000);
        assert_eq!(c.read(5_000_000_000).mono, before);
        // 1 s later at 20% slow: 0.8 s more.
        assert_eq!(c.read(6_000_000_000).mono.as_nanos(), before.as_nanos() + 800_000_000);
    }

    #[test]
    fn wall_step_backwards_never_moves_the_monotonic_clock() {
        let mut c = NodeClock::new(42);
        let before = c.read(1_000);
        c.step_wall(-3_600_000_000_000);
        let after = c.read(1_000);
        assert_eq!(after.mono, before.mono);
        assert_eq!(after.wall.nanos_since(before.wall), -3_600_000_000_000);
        assert!(c.read(2_000).mono > after.mono);
    }

    #[test]
    fn past_deadline_fires_now() {
        let c = NodeClock::new(5_000);
        assert_eq!(c.true_time_of(Instant::from_nanos(10), 777), 777);
    }

    #[test]
    fn reboot_starts_a_new_origin() {
        let mut c = NodeClock::new(0);
        c.reboot(10, 99);
        assert_eq!(c.read(10).mono, Instant::from_nanos(99));
        assert_eq!(c.read(20).mono, Instant::from_nanos(109));
    }

    #[test]
    fn a_drifting_oscillator_moves_the_wall_clock_too() {
        let mut c = NodeClock::new(0);
        c.set_drift(0, 1_000); // 1000 ppm fast
        assert_eq!(c.wall_error_ns(1_000_000_000), 1_000_000, "1 ms ahead after 1 s");
        c.set_drift(1_000_000_000, 0);
        assert_eq!(c.wall_error_ns(5_000_000_000), 1_000_000, "the error stays once drift stops");
        c.reboot(6_000_000_000, 42);
        assert_eq!(c.wall_error_ns(6_000_000_000), 1_000_000, "a reboot does not reset the wall clock");
        c.step_wall(-2_000_000);
        assert_eq!(c.wall_error_ns(6_000_000_000), -1_000_000);
    }
}
