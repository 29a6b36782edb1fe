//! Time as a protocol sees it: a node-local monotonic [`Instant`], a [`WallTime`] that may
//! jump, and a [`WallInterval`] for readings that carry their uncertainty.
//!
//! Durations are [`std::time::Duration`]. Neither type here can be read from a real clock:
//! runtimes construct them and pass them in through [`Now`] on every call.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A reading of one node's monotonic clock, in nanoseconds since an arbitrary node-local origin.
///
/// Instants from different nodes, or from one node before and after a restart, are not
/// comparable: never send one over the network and never persist one. Use them only for
/// durations and deadlines on the node that read them.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the node's monotonic clock.
    pub const ZERO: Instant = Instant(0);
    /// The largest representable instant (about 584 years after the origin).
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let d = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(d).map(Instant)
    }

    /// `self + d`, clamped at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant::MAX)
    }

    /// `self - d`, clamped at [`Instant::ZERO`].
    pub fn saturating_sub(self, d: Duration) -> Instant {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_sub(d))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating: a deadline too far away to represent is "never".
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating: an `earlier` that is in fact later gives zero.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

/// A reading of one node's wall clock: signed nanoseconds since the Unix epoch.
///
/// Wall clocks drift, step backwards and forwards (NTP), and disagree between nodes.
/// Use them only where a protocol deals with cross-node timestamps, and then with their
/// uncertainty ([`WallInterval`]); never to measure a duration.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct WallTime(i64);

impl WallTime {
    /// The Unix epoch.
    pub const UNIX_EPOCH: WallTime = WallTime(0);

    /// A wall time `nanos` nanoseconds after (or, if negative, before) the Unix epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        WallTime(nanos)
    }

    /// Signed nanoseconds since the Unix epoch.
    pub const fn as_unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds since the Unix epoch (rounded towards negative infinity).
    pub const fn as_unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// `self` moved by a signed number of nanoseconds, saturating.
    pub const fn offset_by_nanos(self, delta: i64) -> WallTime {
        WallTime(self.0.saturating_add(delta))
    }

    /// Signed nanoseconds from `other` to `self` (positive when `self` is later), saturating.
    pub const fn nanos_since(self, other: WallTime) -> i64 {
        self.0.saturating_sub(other.0)
    }
}

impl fmt::Debug for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        write!(f, "WallTime({secs}.{nanos:09}s)")
    }
}

/// A wall-clock reading with its uncertainty: the true time lies in `[earliest, latest]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WallInterval {
    /// The true time is no earlier than this.
    pub earliest: WallTime,
    /// The true time is no later than this.
    pub latest: WallTime,
}

impl WallInterval {
    /// The interval `[earliest, latest]`, or `None` if `earliest > latest`.
    pub fn new(earliest: WallTime, latest: WallTime) -> Option<Self> {
        (earliest <= latest).then_some(WallInterval { earliest, latest })
    }

    /// A reading `at` with symmetric uncertainty `± error`.
    pub fn around(at: WallTime, error: Duration) -> Self {
        let e = i64::try_from(error.as_nanos()).unwrap_or(i64::MAX);
        WallInterval { earliest: at.offset_by_nanos(-e), latest: at.offset_by_nanos(e) }
    }

    /// Width of the interval (twice the error bound for a symmetric reading).
    pub fn width(&self) -> Duration {
        Duration::from_nanos(self.latest.nanos_since(self.earliest).unsigned_abs())
    }

    /// True when `t` is definitely in the past: `t < earliest`.
    pub fn definitely_after(&self, t: WallTime) -> bool {
        t < self.earliest
    }

    /// True when `t` is definitely in the future: `t > latest`.
    pub fn definitely_before(&self, t: WallTime) -> bool {
        t > self.latest
    }
}

/// Time as passed to a protocol on every call: the node's monotonic and wall clock readings.
///
/// Use `mono` for every duration and deadline, `wall` only for timestamps that cross nodes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Now {
    /// The node's monotonic clock: never goes backwards, may drift.
    pub mono: Instant,
    /// The node's wall clock: may drift, step, and disagree with other nodes.
    pub wall: WallTime,
}

impl Now {
    /// A reading with the given monotonic and wall times.
    pub const fn new(mono: Instant, wall: WallTime) -> Self {
        Now { mono, wall }
    }
}

/// Serde for a [`Duration`] as a whole number of milliseconds, for configuration files
/// (`term_ms = 10000`); use as `#[serde(with = "palisade_core::time::millis")]`.
/// Deserializing accepts any `u64`; serializing rounds down to the millisecond.
pub mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes `d` as its milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates_instead_of_wrapping() {
        let t = Instant::from_nanos(5);
        assert_eq!(t - Instant::from_nanos(9), Duration::ZERO);
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(t.saturating_sub(Duration::from_secs(1)), Instant::ZERO);
        assert_eq!(Instant::from_nanos(1_500) - Instant::from_nanos(500), Duration::from_nanos(1_000));
    }

    #[test]
    fn wall_interval_orders_only_outside_uncertainty() {
        let at = WallTime::from_unix_nanos(1_000_000_000);
        let iv = WallInterval::around(at, Duration::from_millis(5));
        assert_eq!(iv.width(), Duration::from_millis(10));
        assert!(!iv.definitely_after(at));
        assert!(!iv.definitely_before(at));
        assert!(iv.definitely_after(at.offset_by_nanos(-6_000_000)));
        assert!(iv.definitely_before(at.offset_by_nanos(6_000_000)));
        assert!(WallInterval::new(at, at.offset_by_nanos(-1)).is_none());
    }

    #[test]
    fn wall_time_before_epoch_formats_and_rounds_down() {
        let t = WallTime::from_unix_nanos(-1);
        assert_eq!(t.as_unix_millis(), -1);
        assert_eq!(format!("{t:?}"), "WallTime(-1.999999999s)");
    }
}
