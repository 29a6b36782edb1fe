//! Detector properties as checkers over a history of [`HeartbeatEvent`]s, shared by the
//! simulator, unit tests and live-cluster tests.

use super::HeartbeatEvent;
use crate::check::{Observation, Violation};
use crate::node::NodeId;
use std::collections::BTreeMap;
use std::time::Duration;

/// A run as the detector checkers see it.
#[derive(Clone, Debug, Default)]
pub struct DetectorHistory {
    /// Every member of the cluster.
    pub members: Vec<NodeId>,
    /// Detector events in the order they were observed.
    pub events: Vec<Observation<HeartbeatEvent>>,
    /// Nodes down at the end of the run, and when they went down for the last time.
    pub crashes: BTreeMap<NodeId, Duration>,
    /// Every restart (crash-recovery): a restarted observer starts over trusting everyone.
    pub restarts: Vec<(NodeId, Duration)>,
    /// How far the run was observed.
    pub end: Duration,
    /// When the last transient fault (partition, pause, loss burst) ended; zero if none.
    /// Bounds on detection are only promised from here on.
    pub gst: Duration,
}

impl DetectorHistory {
    /// Whether `observer` suspected `target` at time `t`, replaying its events in order
    /// from its last restart before `t`.
    pub fn suspected_at(&self, observer: NodeId, target: NodeId, t: Duration) -> bool {
        let incarnation =
            self.restarts.iter().filter(|&&(n, at)| n == observer && at <= t).map(|&(_, at)| at).max();
        let mut suspected = false;
        let current = |o: &&Observation<HeartbeatEvent>| incarnation.is_none_or(|r| o.at >= r);
        for obs in self.events.iter().filter(|o| o.node == observer && o.at <= t).filter(current) {
            match obs.event {
                HeartbeatEvent::Suspect { peer } if peer == target => suspected = true,
                HeartbeatEvent::Trust { peer } if peer == target => suspected = false,
                _ => {}
            }
        }
        suspected
    }

    /// When `observer` first suspected `target` at or after `from`, if it did.
    pub fn first_suspicion_after(
        &self,
        observer: NodeId,
        target: NodeId,
        from: Duration,
    ) -> Option<Duration> {
        self.events
            .iter()
            .filter(|o| o.node == observer && o.at >= from)
            .find(|o| o.event == HeartbeatEvent::Suspect { peer: target })
            .map(|o| o.at)
    }
}

/// Completeness within a bound: every node alive at `max(crash, GST) + bound` suspects each
/// crashed node by then and never trusts it again. Crashes too recent to judge are skipped.
pub fn completeness(history: &DetectorHistory, bound: Duration) -> Result<(), Violation> {
    for (&target, &crashed) in &history.crashes {
        let deadline = crashed.max(history.gst) + bound;
        if deadline > history.end {
            continue;
        }
        for &observer in &history.members {
            let observer_alive = history.crashes.get(&observer).is_none_or(|&c| c > deadline);
            if observer == target || !observer_alive {
                continue;
            }
            if !history.suspected_at(observer, target, deadline) {
                return Err(Violation::new(
                    "detector::completeness",
                    format!(
                        "{observer} does not suspect {target} at {deadline:?}, {bound:?} after it crashed at {crashed:?}"
                    ),
                ));
            }
            let retrusted = history.events.iter().find(|o| {
                o.node == observer && o.at > deadline && o.event == HeartbeatEvent::Trust { peer: target }
            });
            if let Some(o) = retrusted {
                return Err(Violation::new(
                    "detector::completeness",
                    format!(
                        "{observer} trusted {target} again at {:?} after it crashed at {crashed:?}",
                        o.at
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Eventual accuracy: from `GST + within` on, no live node (one not in the crash table)
/// is suspected by any other live node. Holds in partially synchronous runs once delays
/// settle within the detector's margins.
pub fn eventual_accuracy(history: &DetectorHistory, within: Duration) -> Result<(), Violation> {
    let from = history.gst + within;
    if from > history.end {
        return Ok(());
    }
    let live: Vec<NodeId> =
        history.members.iter().copied().filter(|m| !history.crashes.contains_key(m)).collect();
    for &observer in &live {
        for &target in &live {
            if observer == target {
                continue;
            }
            let late = history.events.iter().find(|o| {
                o.node == observer && o.at > from && o.event == HeartbeatEvent::Suspect { peer: target }
            });
            if history.suspected_at(observer, target, from) || late.is_some() {
                let at = late.map_or(from, |o| o.at);
                return Err(Violation::new(
                    "detector::eventual_accuracy",
                    format!(
                        "{observer} suspects live {target} at {at:?}, {within:?} after GST at {:?}",
                        history.gst
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Strong accuracy: no node is suspected before it crashes. Holds only in a synchronous
/// run whose delays stay within the detector's margins; the hazard tour breaks it on purpose.
pub fn never_suspects_live(history: &DetectorHistory) -> Result<(), Violation> {
    history.events.iter().try_for_each(|o| never_suspects_live_at(o, &history.crashes))
}

/// [`never_suspects_live`] for one observation, for checkers that run after every event.
pub fn never_suspects_live_at(
    obs: &Observation<HeartbeatEvent>,
    crashes: &BTreeMap<NodeId, Duration>,
) -> Result<(), Violation> {
    if let HeartbeatEvent::Suspect { peer } = obs.event {
        let crashed = crashes.get(&peer).is_some_and(|&c| c <= obs.at);
        if !crashed {
            return Err(Violation::new(
                "detector::never_suspects_live",
                format!("{} suspected live node {peer} at {:?}", obs.node, obs.at),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn obs(at: u64, node: u32, event: HeartbeatEvent) -> Observation<HeartbeatEvent> {
        Observation { at: s(at), node: NodeId(node), event }
    }

    fn suspect(p: u32) -> HeartbeatEvent {
        HeartbeatEvent::Suspect { peer: NodeId(p) }
    }

    fn trust(p: u32) -> HeartbeatEvent {
        HeartbeatEvent::Trust { peer: NodeId(p) }
    }

    fn history(events: Vec<Observation<HeartbeatEvent>>, crashes: &[(u32, u64)]) -> DetectorHistory {
        DetectorHistory {
            members: vec![NodeId(1), NodeId(2), NodeId(3)],
            events,
            crashes: crashes.iter().map(|&(n, t)| (NodeId(n), s(t))).collect(),
            end: s(100),
            gst: Duration::ZERO,
            restarts: Vec::new(),
        }
    }

    #[test]
    fn completeness_holds_when_every_live_node_suspects_in_time() {
        let h = history(vec![obs(12, 1, suspect(3)), obs(13, 2, suspect(3))], &[(3, 10)]);
        assert_eq!(completeness(&h, s(5)), Ok(()));
    }

    #[test]
    fn completeness_fails_on_a_late_suspicion() {
        let h = history(vec![obs(12, 1, suspect(3)), obs(16, 2, suspect(3))], &[(3, 10)]);
        let v = completeness(&h, s(5)).unwrap_err();
        assert!(v.message.contains("n2 does not suspect n3"), "{v}");
    }

    #[test]
    fn completeness_fails_when_a_crashed_node_is_trusted_again() {
        let h =
            history(vec![obs(12, 1, suspect(3)), obs(13, 2, suspect(3)), obs(40, 2, trust(3))], &[(3, 10)]);
        assert!(completeness(&h, s(5)).unwrap_err().message.contains("trusted n3 again"));
    }

    #[test]
    fn completeness_ignores_crashed_observers_and_too_recent_crashes() {
        // n2 crashed at 11 s, before it had to suspect n3; n1 suspects both in time.
        let h = history(vec![obs(12, 1, suspect(3)), obs(14, 1, suspect(2))], &[(3, 10), (2, 11)]);
        assert_eq!(completeness(&h, s(5)), Ok(()));
        let h = history(vec![], &[(3, 98)]);
        assert_eq!(completeness(&h, s(5)), Ok(()));
    }

    #[test]
    fn completeness_bound_counts_from_gst_when_faults_outlast_the_crash() {
        let mut h = history(vec![obs(33, 1, suspect(3)), obs(34, 2, suspect(3))], &[(3, 10)]);
        assert!(completeness(&h, s(5)).is_err(), "15 s after the crash nobody suspected");
        h.gst = s(30);
        assert_eq!(completeness(&h, s(5)), Ok(()));
    }

    #[test]
    fn eventual_accuracy_allows_suspicion_before_gst_only() {
        let mut h = history(vec![obs(5, 1, suspect(2)), obs(21, 1, trust(2))], &[]);
        h.gst = s(20);
        assert_eq!(eventual_accuracy(&h, s(2)), Ok(()));
        let v = eventual_accuracy(&h, s(0)).unwrap_err();
        assert_eq!(v.checker, "detector::eventual_accuracy");
        h.events.push(obs(40, 3, suspect(1)));
        assert!(eventual_accuracy(&h, s(2)).unwrap_err().message.contains("n3 suspects live n1"));
    }

    #[test]
    fn a_restarted_observer_starts_over_trusting_everyone() {
        let mut h = history(vec![obs(5, 1, suspect(2))], &[]);
        h.gst = s(20);
        assert!(eventual_accuracy(&h, s(2)).is_err());
        h.restarts.push((NodeId(1), s(10)));
        assert_eq!(eventual_accuracy(&h, s(2)), Ok(()));
        assert!(h.suspected_at(NodeId(1), NodeId(2), s(9)) && !h.suspected_at(NodeId(1), NodeId(2), s(10)));
    }

    #[test]
    fn accuracy_flags_suspicion_of_a_live_node_but_not_of_a_crashed_one() {
        let ok = history(vec![obs(12, 1, suspect(3))], &[(3, 10)]);
        assert_eq!(never_suspects_live(&ok), Ok(()));
        let bad = history(vec![obs(9, 1, suspect(3))], &[(3, 10)]);
        let v = never_suspects_live(&bad).unwrap_err();
        assert_eq!(v.checker, "detector::never_suspects_live");
    }
}
