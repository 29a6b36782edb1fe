//! Replaying recorded heartbeat arrivals through a detector: what it would have decided.
//!
//! Operators use this (through `palisade detector replay` and `tune`) to choose detector
//! parameters from real logs instead of guesses.

use super::Detector;
use crate::time::Instant;
use serde::Serialize;
use std::time::Duration;

/// A change in the detector's verdict.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// When it happened.
    pub at: Instant,
    /// True: began suspecting; false: trusts again.
    pub suspect: bool,
}

/// What a replay produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Replay {
    /// Verdict changes, in time order.
    pub transitions: Vec<Transition>,
    /// The suspicion level at each requested sample time.
    pub levels: Vec<(Instant, f64)>,
    /// For each heartbeat, how long the detector would have waited before suspecting had it
    /// been the last one: the detection delay for a crash right after it.
    pub silence_allowed: Vec<Duration>,
}

/// Replays `arrivals` (sorted) through a detector built from `config`, monitoring from the
/// first arrival until `end`. With `sample_every`, also records the suspicion level at
/// that period from the first arrival.
pub fn replay<D: Detector>(
    config: &D::Config,
    arrivals: &[Instant],
    end: Instant,
    sample_every: Option<Duration>,
) -> Replay {
    let mut out = Replay::default();
    let Some(&first) = arrivals.first() else { return out };
    let mut d = D::new(config, first);
    let mut next_sample = sample_every.map(|_| first);
    let mut sample_until = |d: &D, until: Instant, out: &mut Replay| {
        if let (Some(every), Some(t)) = (sample_every, next_sample.as_mut()) {
            while *t < until && *t <= end {
                out.levels.push((*t, d.level(*t)));
                *t += every.max(Duration::from_nanos(1));
            }
        }
    };
    out.silence_allowed.push(d.suspect_at() - first);
    for &a in &arrivals[1..] {
        sample_until(&d, a, &mut out);
        let s = d.suspect_at();
        if a >= s {
            out.transitions.push(Transition { at: s, suspect: true });
            out.transitions.push(Transition { at: a, suspect: false });
        }
        d.heartbeat(a);
        out.silence_allowed.push(d.suspect_at() - a);
    }
    sample_until(&d, end.saturating_add(Duration::from_nanos(1)), &mut out);
    if d.suspect_at() <= end {
        out.transitions.push(Transition { at: d.suspect_at(), suspect: true });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{FixedTimeout, FixedTimeoutConfig, PhiAccrual, PhiConfig};

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn a_gap_longer_than_the_timeout_is_a_suspicion_and_a_trust() {
        let cfg = FixedTimeoutConfig { timeout: Duration::from_millis(1500) };
        let arrivals = [at(0), at(1000), at(2000), at(5000), at(6000)];
        let r = replay::<FixedTimeout>(&cfg, &arrivals, at(10_000), Some(Duration::from_millis(500)));
        assert_eq!(
            r.transitions,
            vec![
                Transition { at: at(3500), suspect: true },
                Transition { at: at(5000), suspect: false },
                Transition { at: at(7500), suspect: true },
            ]
        );
        assert_eq!(r.levels.len(), 21);
        assert_eq!(r.levels[3], (at(1500), 0.5 / 1.5));
        assert_eq!(r.silence_allowed, vec![Duration::from_millis(1500); 5]);
    }

    #[test]
    fn phi_replay_matches_the_live_detector() {
        let cfg = PhiConfig { acceptable_heartbeat_pause: Duration::ZERO, ..PhiConfig::default() };
        let arrivals: Vec<Instant> = (0..100).map(|i| at(i * 1000 + (i * 37) % 90)).collect();
        let r = replay::<PhiAccrual>(&cfg, &arrivals, *arrivals.last().unwrap(), None);
        assert!(r.transitions.is_empty(), "steady heartbeats raise no suspicion");
        let mut live = PhiAccrual::new(&cfg, arrivals[0]);
        for &a in &arrivals[1..] {
            live.heartbeat(a);
        }
        assert_eq!(*r.silence_allowed.last().unwrap(), live.suspect_at() - *arrivals.last().unwrap());
    }
}
