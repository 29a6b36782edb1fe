//! Clock readings as intervals (Spanner's TrueTime): the true time lies in
//! `[earliest, latest]`, and commit wait turns that uncertainty into external consistency.
//!
//! Model: a synchronisation source (a time master, Marzullo over several) gives an estimate
//! of true time with an error bound; between synchronisations only the monotonic clock is
//! used, whose rate errs by at most ρ. The node's own wall clock is never read after the
//! first synchronisation, so steps of it (NTP, an operator, a VM migration) cannot move the
//! interval away from true time.
//! Guarantees: true time lies in [`IntervalClock::now`] whenever the source's error bound
//! and ρ hold; a commit acknowledged after [`IntervalClock::commit_done`] has a timestamp
//! below the `earliest` of any reading taken after the acknowledgement, on any node.
//! Checkers: the `commit-wait` scenario's `txn::external_consistency`.

use crate::time::{Instant, Now, WallInterval, WallTime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Parameters of an [`IntervalClock`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IntervalConfig {
    /// Uncertainty right after a synchronisation (TrueTime: about 1 ms).
    pub sync_error: Duration,
    /// Bound on the oscillator's rate error, ppm: uncertainty grows by this much per
    /// second since the last synchronisation (TrueTime assumes 200 ppm).
    pub max_drift_ppm: u32,
    /// Uncertainty before any synchronisation.
    pub unsynced_error: Duration,
}

impl IntervalConfig {
    crate::__config_setters! {
        sync_error: Duration,
        max_drift_ppm: u32,
        unsynced_error: Duration,
    }
}

impl Default for IntervalConfig {
    fn default() -> Self {
        IntervalConfig {
            sync_error: Duration::from_millis(1),
            max_drift_ppm: 200,
            unsynced_error: Duration::from_millis(500),
        }
    }
}

/// A clock that knows how wrong it may be.
#[derive(Clone, Debug)]
pub struct IntervalClock {
    config: IntervalConfig,
    /// The last synchronisation: the monotonic instant, the true-time estimate then, and
    /// its error. Readings are that estimate plus monotonic time since (TrueTime's
    /// construction), never the wall clock, so a wall-clock step cannot move them.
    synced: Option<(Instant, WallTime, Duration)>,
}

/// The outcome of starting a commit: the timestamp to commit at, and when to look again.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CommitWait {
    /// The commit timestamp: at least `now().latest` when chosen.
    pub timestamp: WallTime,
    /// The earliest local instant at which `now().earliest` can exceed the timestamp; a
    /// protocol returns it from `poll_timeout` and calls [`IntervalClock::commit_done`].
    pub until: Instant,
}

impl IntervalClock {
    /// An unsynchronised clock.
    pub fn new(config: IntervalConfig) -> Self {
        IntervalClock { config, synced: None }
    }

    /// Records a synchronisation at `now`: the true wall time at `now.mono` was
    /// `true_estimate` (e.g. a time master's reading plus half the round trip, or the middle
    /// of a Marzullo interval) within `error`. A synchronisation whose bound is wider than
    /// what the clock already knows is ignored: it would only lose precision.
    pub fn sync(&mut self, now: Now, true_estimate: WallTime, error: Duration) {
        let error = error.max(self.config.sync_error);
        if self.synced.is_some() && error >= self.error(now.mono) {
            return;
        }
        self.synced = Some((now.mono, true_estimate, error));
    }

    /// True once the clock has synchronised: before that its readings are only as good as
    /// the node's own wall clock.
    pub fn is_synced(&self) -> bool {
        self.synced.is_some()
    }

    /// The current error bound.
    pub fn error(&self, mono: Instant) -> Duration {
        match self.synced {
            None => self.config.unsynced_error,
            Some((at, _, e)) => {
                let since = mono.saturating_duration_since(at);
                e + since.mul_f64(f64::from(self.config.max_drift_ppm) / 1e6)
            }
        }
    }

    /// `[earliest, latest]` for the reading `now`: the last estimate plus monotonic time
    /// since it (before any synchronisation, the wall clock ± the unsynchronised error).
    pub fn now(&self, now: Now) -> WallInterval {
        let centre = match self.synced {
            None => now.wall,
            Some((at, estimate, _)) => {
                let since = now.mono.saturating_duration_since(at);
                estimate.offset_by_nanos(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
            }
        };
        WallInterval::around(centre, self.error(now.mono))
    }

    /// True when `t` has definitely passed: `t < earliest`.
    pub fn after(&self, now: Now, t: WallTime) -> bool {
        self.now(now).definitely_after(t)
    }

    /// True when `t` has definitely not arrived: `t > latest`.
    pub fn before(&self, now: Now, t: WallTime) -> bool {
        self.now(now).definitely_before(t)
    }

    /// Starts a commit: pick `s = latest` and the instant to check whether `earliest > s`.
    /// The wait is about twice the error: the interval must slide past its own width.
    pub fn commit_wait(&self, now: Now) -> CommitWait {
        let iv = self.now(now);
        let width = iv.width();
        // `earliest` advances at least (1 - ρ) per local ns even as the error grows.
        let rho = f64::from(self.config.max_drift_ppm) / 1e6;
        let wait = width.mul_f64(1.0 / (1.0 - 2.0 * rho).max(0.5)) + Duration::from_nanos(1);
        CommitWait { timestamp: iv.latest, until: now.mono + wait }
    }

    /// True once the commit at `timestamp` may be acknowledged: `earliest > timestamp`.
    pub fn commit_done(&self, now: Now, timestamp: WallTime) -> bool {
        self.after(now, timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(mono_ms: u64, wall_ms: i64) -> Now {
        Now::new(Instant::from_nanos(mono_ms * 1_000_000), WallTime::from_unix_nanos(wall_ms * 1_000_000))
    }

    #[test]
    fn error_grows_with_time_since_sync() {
        let mut c = IntervalClock::new(IntervalConfig::default());
        assert_eq!(c.now(now(0, 1_000)).width(), Duration::from_secs(1), "unsynced: ±500 ms");
        c.sync(now(0, 1_000), WallTime::from_unix_nanos(1_005_000_000), Duration::from_millis(1));
        let iv = c.now(now(0, 1_000));
        assert_eq!(iv.earliest, WallTime::from_unix_nanos(1_004_000_000), "corrected by +5 ms, ±1 ms");
        // 30 s later at 200 ppm: ±(1 + 6) ms, TrueTime's sawtooth.
        assert_eq!(c.error(Instant::from_nanos(30_000_000_000)), Duration::from_millis(7));
    }

    #[test]
    fn a_wall_clock_step_does_not_move_the_interval() {
        let mut c = IntervalClock::new(IntervalConfig::default());
        c.sync(now(0, 1_000), WallTime::from_unix_nanos(1_000_000_000), Duration::from_millis(1));
        // 10 s later true time is 11 s (± drift); the wall clock was stepped back 993 ms.
        let stepped = now(10_000, 11_000 - 993);
        let iv = c.now(stepped);
        let truth = WallTime::from_unix_nanos(11_000_000_000);
        assert!(!iv.definitely_after(truth) && !iv.definitely_before(truth), "{iv:?} must contain {truth:?}");
        // A commit started now still waits out the real uncertainty, not the step.
        let w = c.commit_wait(stepped);
        assert!(w.timestamp >= truth);
    }

    #[test]
    fn a_coarser_sync_does_not_replace_a_finer_one() {
        let mut c = IntervalClock::new(IntervalConfig::default());
        c.sync(now(0, 0), WallTime::from_unix_nanos(0), Duration::from_millis(2));
        c.sync(now(1, 0), WallTime::from_unix_nanos(900_000_000), Duration::from_millis(50));
        assert_eq!(c.now(now(1, 0)).earliest, WallTime::from_unix_nanos(-1_000_200), "kept the 2 ms sync");
    }

    #[test]
    fn commit_wait_outlasts_the_uncertainty() {
        let mut c = IntervalClock::new(IntervalConfig::default());
        c.sync(now(0, 0), WallTime::from_unix_nanos(0), Duration::from_millis(4));
        let start = now(10, 10);
        let w = c.commit_wait(start);
        assert!(!c.commit_done(start, w.timestamp));
        // About 2ε later the earliest possible true time has passed the timestamp.
        let waited = w.until - start.mono;
        assert!(waited >= Duration::from_millis(8) && waited < Duration::from_millis(9), "{waited:?}");
        let later = w.until.as_nanos() as i64 - start.mono.as_nanos() as i64;
        let at = Now::new(w.until, start.wall.offset_by_nanos(later));
        assert!(c.commit_done(at, w.timestamp));
    }
}
