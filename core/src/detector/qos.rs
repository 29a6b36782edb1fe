//! Quality of service of failure detectors (Chen, Toueg and Aguilera, IEEE TC 2002),
//! computed from a log of trust/suspect transitions and known crash times.
//!
//! * detection time T_D: from a crash to the start of the suspicion that lasts;
//! * mistake: a suspicion of a node that had not crashed; its duration is T_M, the time
//!   between the starts of consecutive mistakes is the recurrence time T_MR;
//! * mistake rate λ_M: mistakes per second of failure-free observation (1 / E\[T_MR\]);
//! * query accuracy P_A: the fraction of failure-free time a live node was trusted
//!   (1 - E\[T_M\] / E\[T_MR\]).
//!
//! Figures are taken per (observer, monitored) pair after a warm-up and pooled.

use super::{DetectorHistory, HeartbeatEvent};
use crate::node::NodeId;
use serde::Serialize;
use std::time::Duration;

/// Mean and percentiles of a set of durations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Mean, in seconds.
    pub mean_s: f64,
    /// Median, in seconds.
    pub p50_s: f64,
    /// 99th percentile, in seconds.
    pub p99_s: f64,
}

impl Summary {
    /// Summarises `samples` (nearest-rank percentiles); all zero when empty.
    pub fn of(samples: &[Duration]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        let mut s: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        s.sort_by(f64::total_cmp);
        let rank = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
        Summary {
            n: s.len(),
            mean_s: s.iter().sum::<f64>() / s.len() as f64,
            p50_s: rank(0.50),
            p99_s: rank(0.99),
        }
    }
}

/// The QoS figures of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Qos {
    /// Detection times T_D, one per (live observer, crashed node) pair that detected.
    pub detection: Summary,
    /// Crashed nodes some live observer never permanently suspected.
    pub undetected: usize,
    /// Mistake durations T_M.
    pub mistake_duration: Summary,
    /// Mistake recurrence times T_MR (between consecutive mistakes of one pair).
    pub mistake_recurrence: Summary,
    /// Mistakes.
    pub mistakes: usize,
    /// λ_M: mistakes per second of failure-free pair-time.
    pub mistake_rate_per_s: f64,
    /// P_A: fraction of failure-free pair-time spent trusting.
    pub query_accuracy: f64,
    /// Failure-free observation, summed over pairs, in seconds.
    pub observed_s: f64,
}

/// Computes QoS over `history`, ignoring the first `warmup` of the run. Observers that
/// crash stop observing; suspicions of a node after it crashed are detections, not mistakes.
pub fn qos(history: &DetectorHistory, warmup: Duration) -> Qos {
    qos_pooled(std::slice::from_ref(history), warmup)
}

/// [`qos`] over several runs (seeds), pooling their samples and observation time.
pub fn qos_pooled(histories: &[DetectorHistory], warmup: Duration) -> Qos {
    let mut acc = Accumulator::default();
    for history in histories {
        for &observer in &history.members {
            for &target in &history.members {
                if observer == target {
                    continue;
                }
                let observer_end =
                    history.crashes.get(&observer).copied().unwrap_or(history.end).min(history.end);
                let pair = Pair { history, observer, target };
                let suspicions = pair.suspicions(observer_end);
                acc.pair(&suspicions, history.crashes.get(&target).copied(), observer_end, warmup);
            }
        }
    }
    acc.finish()
}

/// QoS of one monitored node from the detector's suspicion intervals `[start, end)` (an
/// open one ends at `end`), its crash time if it crashed, and the end of observation.
pub fn qos_of_intervals(
    suspicions: &[(Duration, Duration)],
    crash: Option<Duration>,
    end: Duration,
    warmup: Duration,
) -> Qos {
    let mut acc = Accumulator::default();
    acc.pair(suspicions, crash, end, warmup);
    acc.finish()
}

#[derive(Default)]
struct Accumulator {
    detections: Vec<Duration>,
    undetected: usize,
    durations: Vec<Duration>,
    recurrences: Vec<Duration>,
    observed: Duration,
    mistaken: Duration,
}

impl Accumulator {
    /// One (observer, target) pair: the observer watched until `observer_end`.
    fn pair(
        &mut self,
        suspicions: &[(Duration, Duration)],
        crash: Option<Duration>,
        observer_end: Duration,
        warmup: Duration,
    ) {
        let live_until = crash.unwrap_or(observer_end).min(observer_end);
        if live_until > warmup {
            self.observed += live_until - warmup;
        }
        // Mistakes: suspicion intervals that began while the target was alive (clipped).
        let mut last_start: Option<Duration> = None;
        for &(start, end) in suspicions {
            if start >= live_until || start < warmup {
                continue;
            }
            let end = end.min(live_until);
            self.durations.push(end - start);
            self.mistaken += end - start;
            if let Some(prev) = last_start {
                self.recurrences.push(start - prev);
            }
            last_start = Some(start);
        }
        // Detection: the suspicion in force at the end, begun after the crash (or covering it).
        if let Some(crash) = crash.filter(|&c| c < observer_end && c >= warmup) {
            match suspicions.last() {
                Some(&(start, end)) if end >= observer_end => {
                    self.detections.push(start.saturating_sub(crash))
                }
                _ => self.undetected += 1,
            }
        }
    }

    fn finish(self) -> Qos {
        let observed_s = self.observed.as_secs_f64();
        Qos {
            detection: Summary::of(&self.detections),
            undetected: self.undetected,
            mistakes: self.durations.len(),
            mistake_duration: Summary::of(&self.durations),
            mistake_recurrence: Summary::of(&self.recurrences),
            mistake_rate_per_s: if observed_s > 0.0 { self.durations.len() as f64 / observed_s } else { 0.0 },
            query_accuracy: if observed_s > 0.0 {
                1.0 - self.mistaken.as_secs_f64() / observed_s
            } else {
                1.0
            },
            observed_s,
        }
    }
}

struct Pair<'a> {
    history: &'a DetectorHistory,
    observer: NodeId,
    target: NodeId,
}

impl Pair<'_> {
    /// The observer's suspicion intervals of the target, `[start, end)`, an open one ending
    /// at `until`. A restart of the observer ends its suspicions (it starts trusting).
    fn suspicions(&self, until: Duration) -> Vec<(Duration, Duration)> {
        let mut out = Vec::new();
        let mut open: Option<Duration> = None;
        let restarts: Vec<Duration> =
            self.history.restarts.iter().filter(|(n, _)| *n == self.observer).map(|&(_, t)| t).collect();
        let mut r = restarts.iter().peekable();
        for o in self.history.events.iter().filter(|o| o.node == self.observer) {
            while let Some(&&t) = r.peek() {
                if t > o.at {
                    break;
                }
                if let Some(s) = open.take() {
                    out.push((s, t));
                }
                r.next();
            }
            match o.event {
                HeartbeatEvent::Suspect { peer } if peer == self.target && open.is_none() => {
                    open = Some(o.at)
                }
                HeartbeatEvent::Trust { peer } if peer == self.target => {
                    if let Some(s) = open.take() {
                        out.push((s, o.at));
                    }
                }
                _ => {}
            }
        }
        if let Some(s) = open {
            out.push((s, until.max(s)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Observation;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn ev(at: u64, node: u32, suspect: bool, peer: u32) -> Observation<HeartbeatEvent> {
        let peer = NodeId(peer);
        let event = if suspect { HeartbeatEvent::Suspect { peer } } else { HeartbeatEvent::Trust { peer } };
        Observation { at: s(at), node: NodeId(node), event }
    }

    #[test]
    fn textbook_run() {
        // Two nodes watched for 100 s. n1 wrongly suspects n2 twice (10-12 s and 50-54 s);
        // n2 crashes at 80 s and n1 suspects it at 83 s for good.
        let h = DetectorHistory {
            members: vec![NodeId(1), NodeId(2)],
            events: vec![
                ev(10, 1, true, 2),
                ev(12, 1, false, 2),
                ev(50, 1, true, 2),
                ev(54, 1, false, 2),
                ev(83, 1, true, 2),
            ],
            crashes: [(NodeId(2), s(80))].into(),
            restarts: vec![],
            end: s(100),
            gst: Duration::ZERO,
        };
        let q = qos(&h, Duration::ZERO);
        assert_eq!(q.detection, Summary { n: 1, mean_s: 3.0, p50_s: 3.0, p99_s: 3.0 });
        assert_eq!(q.undetected, 0);
        assert_eq!(q.mistakes, 2);
        assert_eq!(q.mistake_duration.mean_s, 3.0);
        assert_eq!(q.mistake_recurrence.mean_s, 40.0);
        // Failure-free pair-time: n1 watching n2 for 80 s; n2 watching n1 until n2 crashed: 80 s.
        assert_eq!(q.observed_s, 160.0);
        assert!((q.mistake_rate_per_s - 2.0 / 160.0).abs() < 1e-12);
        assert!((q.query_accuracy - (1.0 - 6.0 / 160.0)).abs() < 1e-12);
    }

    #[test]
    fn a_crash_never_permanently_suspected_is_undetected_and_warmup_is_ignored() {
        let h = DetectorHistory {
            members: vec![NodeId(1), NodeId(2)],
            events: vec![ev(1, 1, true, 2), ev(2, 1, false, 2), ev(60, 1, true, 2), ev(70, 1, false, 2)],
            crashes: [(NodeId(2), s(50))].into(),
            restarts: vec![],
            end: s(100),
            gst: Duration::ZERO,
        };
        let q = qos(&h, s(5));
        assert_eq!(q.undetected, 1);
        assert_eq!(q.mistakes, 0, "the suspicion at 1 s is in the warm-up");
    }

    #[test]
    fn summary_percentiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_secs).collect();
        let sm = Summary::of(&v);
        assert_eq!((sm.n, sm.p50_s, sm.p99_s, sm.mean_s), (100, 50.0, 99.0, 50.5));
    }
}
