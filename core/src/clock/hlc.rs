//! Hybrid logical clocks (Kulkarni, Demirbas et al., OPODIS 2014): timestamps close to
//! physical time that still respect causality, so ordering by them never loses a causally
//! later write the way wall-clock last-write-wins does.

use crate::time::WallTime;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An HLC timestamp, ordered lexicographically by `(l, c)`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HlcTimestamp {
    /// The largest physical time (ns since the Unix epoch) the clock has heard of.
    pub l: i64,
    /// Events since `l` last changed.
    pub c: u32,
}

/// A remote timestamp too far ahead of our physical clock: rejected, not absorbed
/// (absorbing it would drag this clock, and everyone it talks to, into the future).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TooFarAhead {
    /// The remote `l`.
    pub remote_l: i64,
    /// How far ahead of local physical time it was.
    pub ahead: Duration,
    /// The configured maximum offset.
    pub max_offset: Duration,
}

impl std::fmt::Display for TooFarAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let TooFarAhead { remote_l, ahead, max_offset } = self;
        write!(
            f,
            "remote timestamp {remote_l} ns is {ahead:?} ahead of local physical time, more than the {max_offset:?} allowed"
        )
    }
}

impl std::error::Error for TooFarAhead {}

/// One node's hybrid logical clock.
#[derive(Clone, Debug)]
pub struct Hlc {
    last: HlcTimestamp,
    max_offset: Duration,
}

impl Hlc {
    /// A clock that rejects remote timestamps more than `max_offset` ahead (CockroachDB:
    /// 500 ms).
    pub fn new(max_offset: Duration) -> Self {
        Hlc { last: HlcTimestamp::default(), max_offset }
    }

    /// A clock resuming after a restart from `last`, the high-water mark it persisted
    /// (issued or absorbed) before the crash: it never issues a timestamp at or below it,
    /// whatever the physical clock reads now. Without this, a restarted node whose wall
    /// clock is behind the timestamps it already issued would stamp a causally later event
    /// below an earlier one.
    pub fn restore(max_offset: Duration, last: HlcTimestamp) -> Self {
        Hlc { last, max_offset }
    }

    /// The last timestamp issued or absorbed.
    pub fn last(&self) -> HlcTimestamp {
        self.last
    }

    fn advance(&mut self, l: i64, c: u64) -> HlcTimestamp {
        // The counter is bounded in theory; if it ever overflows, move l on by a nanosecond,
        // which keeps the clock monotonic.
        self.last = match u32::try_from(c) {
            Ok(c) => HlcTimestamp { l, c },
            Err(_) => HlcTimestamp { l: l.saturating_add(1), c: 0 },
        };
        self.last
    }

    /// A local event or a send at physical time `pt`:
    /// `l' = l; l = max(l', pt); c = (l == l') ? c + 1 : 0`.
    pub fn now(&mut self, pt: WallTime) -> HlcTimestamp {
        let old = self.last;
        let l = old.l.max(pt.as_unix_nanos());
        let c = if l == old.l { u64::from(old.c) + 1 } else { 0 };
        self.advance(l, c)
    }

    /// A receive of `m` at physical time `pt`:
    /// `l = max(l', l_m, pt)`; `c` from whichever of them `l` came from.
    pub fn receive(&mut self, m: HlcTimestamp, pt: WallTime) -> Result<HlcTimestamp, TooFarAhead> {
        let pt = pt.as_unix_nanos();
        let ahead = m.l.saturating_sub(pt);
        let max = i64::try_from(self.max_offset.as_nanos()).unwrap_or(i64::MAX);
        if ahead > max {
            return Err(TooFarAhead {
                remote_l: m.l,
                ahead: Duration::from_nanos(ahead as u64),
                max_offset: self.max_offset,
            });
        }
        let old = self.last;
        let l = old.l.max(m.l).max(pt);
        let c = if l == old.l && l == m.l {
            u64::from(old.c.max(m.c)) + 1
        } else if l == old.l {
            u64::from(old.c) + 1
        } else if l == m.l {
            u64::from(m.c) + 1
        } else {
            0
        };
        Ok(self.advance(l, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pt(ns: i64) -> WallTime {
        WallTime::from_unix_nanos(ns)
    }

    #[test]
    fn a_restored_clock_never_issues_below_its_high_water_mark() {
        let mut before = Hlc::new(Duration::from_millis(500));
        let issued = before.now(pt(5_000));
        // After the restart the wall clock reads far less (it was stepped back).
        let mut fresh = Hlc::new(Duration::from_millis(500));
        assert!(fresh.now(pt(1_000)) < issued, "a fresh clock forgets: the hazard");
        let mut restored = Hlc::restore(Duration::from_millis(500), before.last());
        assert!(restored.now(pt(1_000)) > issued);
    }

    #[test]
    fn send_and_receive_rules() {
        let mut a = Hlc::new(Duration::from_millis(500));
        assert_eq!(a.now(pt(10)), HlcTimestamp { l: 10, c: 0 });
        // The physical clock did not move (or went back): the counter does.
        assert_eq!(a.now(pt(10)), HlcTimestamp { l: 10, c: 1 });
        assert_eq!(a.now(pt(5)), HlcTimestamp { l: 10, c: 2 });
        // A message from the (bounded) future: l follows it, c = c_m + 1.
        assert_eq!(a.receive(HlcTimestamp { l: 20, c: 7 }, pt(12)).unwrap(), HlcTimestamp { l: 20, c: 8 });
        // Equal l on both sides: max(c, c_m) + 1.
        assert_eq!(a.receive(HlcTimestamp { l: 20, c: 3 }, pt(15)).unwrap(), HlcTimestamp { l: 20, c: 9 });
        // Physical time overtakes everything: c resets.
        assert_eq!(a.receive(HlcTimestamp { l: 20, c: 3 }, pt(30)).unwrap(), HlcTimestamp { l: 30, c: 0 });
    }

    #[test]
    fn a_remote_time_beyond_the_max_offset_is_rejected_not_absorbed() {
        let mut a = Hlc::new(Duration::from_millis(500));
        a.now(pt(1_000_000_000));
        let err = a.receive(HlcTimestamp { l: 2_000_000_000, c: 0 }, pt(1_000_000_000)).unwrap_err();
        assert_eq!(err.ahead, Duration::from_secs(1));
        assert_eq!(a.last(), HlcTimestamp { l: 1_000_000_000, c: 0 }, "unchanged");
    }

    proptest! {
        /// Under any sequence of local events and receives whose remote clocks are within ε
        /// of ours, the clock never goes backwards, l ≥ pt, and l - pt ≤ ε.
        #[test]
        fn never_backwards_and_within_epsilon(
            steps in proptest::collection::vec((any::<bool>(), 0i64..1_000_000, -500_000i64..=500_000, 0u32..5), 1..200)
        ) {
            let eps = 500_000i64; // 0.5 ms
            let mut clock = Hlc::new(Duration::from_nanos(eps as u64));
            let mut physical = 1_000_000_000i64;
            let mut prev = HlcTimestamp::default();
            for (is_receive, advance, remote_skew, c) in steps {
                physical += advance;
                let ts = if is_receive {
                    // A remote clock within ε of ours stamped the message a little earlier.
                    let remote = HlcTimestamp { l: physical + remote_skew, c };
                    clock.receive(remote, pt(physical)).unwrap()
                } else {
                    clock.now(pt(physical))
                };
                prop_assert!(ts > prev, "{ts:?} after {prev:?}");
                prop_assert!(ts.l >= physical);
                prop_assert!(ts.l - physical <= eps, "l - pt = {}", ts.l - physical);
                prev = ts;
            }
        }
    }
}
