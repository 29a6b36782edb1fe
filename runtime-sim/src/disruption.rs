//! Which nodes and links a fault schedule disturbed, and when: what a checker needs to tell
//! a justified reaction to a fault (a detector suspecting a node it could not hear) from a
//! mistake (suspecting a node nothing was wrong with).

use crate::fault::{Fault, FaultKind};
use palisade_core::NodeId;
use std::collections::BTreeSet;
use std::time::Duration;

/// What one disruption affected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Affected {
    /// A node was crashed, restarting, or paused.
    Node(NodeId),
    /// These directed links `(from, to)` were cut.
    Links(BTreeSet<(NodeId, NodeId)>),
    /// Every link was degraded (a loss burst, a latency spike).
    Network,
}

/// One disruption: what, and the true-time window `[from, until)` it lasted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disruption {
    /// What it affected.
    pub affected: Affected,
    /// When it started.
    pub from: Duration,
    /// When it ended (`Duration::MAX` for a crash with no restart).
    pub until: Duration,
}

/// The disruptions of a schedule, for asking whether a reaction at some moment had a cause.
#[derive(Clone, Debug, Default)]
pub struct Disruptions(Vec<Disruption>);

impl Disruptions {
    /// The disruptions in `faults` (any order). Wall-clock steps and drift changes disturb
    /// no message or process and are left out.
    pub fn of(faults: &[Fault]) -> Self {
        let mut faults: Vec<&Fault> = faults.iter().collect();
        faults.sort_by_key(|f| f.at);
        let mut out = Vec::new();
        let mut open_net: Option<(Affected, Duration)> = None;
        let mut down: Vec<(NodeId, Duration)> = Vec::new();
        let close_node = |down: &mut Vec<(NodeId, Duration)>, n: NodeId| {
            down.iter().position(|&(m, _)| m == n).map(|i| down.remove(i).1)
        };
        for f in faults {
            match &f.kind {
                FaultKind::Crash(n) => down.push((*n, f.at)),
                // A torn write crashes the node only if it persists before the restart, and
                // then the crash is visible to checkers like any other; unfired, it excuses
                // nothing.
                FaultKind::TornWrite(_) => {}
                FaultKind::Restart(n) => {
                    if let Some(from) = close_node(&mut down, *n) {
                        out.push(Disruption { affected: Affected::Node(*n), from, until: f.at });
                    }
                }
                FaultKind::Pause { node, duration } => out.push(Disruption {
                    affected: Affected::Node(*node),
                    from: f.at,
                    until: f.at + *duration,
                }),
                FaultKind::Partition(p) => {
                    if let Some((a, from)) = open_net.take() {
                        out.push(Disruption { affected: a, from, until: f.at });
                    }
                    open_net = Some((Affected::Links(p.cut.clone()), f.at));
                }
                FaultKind::Degrade(_) => {
                    if let Some((a, from)) = open_net.take() {
                        out.push(Disruption { affected: a, from, until: f.at });
                    }
                    open_net = Some((Affected::Network, f.at));
                }
                FaultKind::Heal | FaultKind::RestoreLinks => {
                    if let Some((a, from)) = open_net.take() {
                        out.push(Disruption { affected: a, from, until: f.at });
                    }
                }
                // Duplicated messages cut nobody off: they excuse nothing.
                FaultKind::Duplicate { .. } | FaultKind::StopDuplicating => {}
                FaultKind::WallStep { .. } | FaultKind::WallStepWithin { .. } | FaultKind::Drift { .. } => {}
            }
        }
        if let Some((a, from)) = open_net {
            out.push(Disruption { affected: a, from, until: Duration::MAX });
        }
        for (n, from) in down {
            out.push(Disruption { affected: Affected::Node(n), from, until: Duration::MAX });
        }
        Disruptions(out)
    }

    /// Every disruption.
    pub fn all(&self) -> &[Disruption] {
        &self.0
    }

    /// When `node` last could learn from its peers, as of `at`: `None` while something that
    /// touches it is under way, otherwise the end of the last such disruption (zero if none).
    /// Every node's crashes and pauses count (a quorum of peers must answer), so does
    /// network-wide loss, but only the partitions that cut one of `node`'s own links. A
    /// liveness bound "within D of the condition arising" under partial synchrony counts
    /// from here.
    pub fn calm_since_for(&self, node: NodeId, at: Duration) -> Option<Duration> {
        let mut since = Duration::ZERO;
        let touches = |d: &Disruption| match &d.affected {
            Affected::Node(_) => true,
            Affected::Links(cut) => cut.iter().any(|&(a, b)| a == node || b == node),
            Affected::Network => true,
        };
        for d in self.0.iter().filter(|d| d.from <= at && touches(d)) {
            if d.until > at {
                return None;
            }
            since = since.max(d.until);
        }
        Some(since)
    }

    /// When `node` last could hear from at least `need` of `peers`, as of `at`: `None`
    /// while it cannot (it is down or paused itself, the whole network is degraded, or too
    /// many peers are down, paused or cut off from it in either direction), otherwise the
    /// start of the current stretch in which it could (zero if always). Finer than
    /// [`Self::calm_since_for`] for protocols that need only a quorum of peers: one other
    /// node's pause does not stop a node that still hears a majority.
    pub fn quorum_calm_since(
        &self,
        node: NodeId,
        peers: &[NodeId],
        need: usize,
        at: Duration,
    ) -> Option<Duration> {
        let hears_quorum = |t: Duration| {
            let mut unreachable = BTreeSet::new();
            for d in self.0.iter().filter(|d| d.from <= t && t < d.until) {
                match &d.affected {
                    Affected::Node(x) if *x == node => return false,
                    Affected::Node(x) => {
                        unreachable.insert(*x);
                    }
                    Affected::Network => return false,
                    Affected::Links(cut) => {
                        for &(a, b) in cut {
                            if a == node {
                                unreachable.insert(b);
                            } else if b == node {
                                unreachable.insert(a);
                            }
                        }
                    }
                }
            }
            peers.iter().filter(|p| !unreachable.contains(p)).count() >= need
        };
        if !hears_quorum(at) {
            return None;
        }
        let mut edges: Vec<Duration> = self
            .0
            .iter()
            .flat_map(|d| [d.from, d.until])
            .filter(|&t| t > Duration::ZERO && t <= at)
            .collect();
        edges.sort_unstable();
        edges.dedup();
        // The condition only changes at an edge: the stretch began at the last edge just
        // before which it did not hold.
        Some(
            edges.into_iter().rev().find(|&t| !hears_quorum(t - Duration::from_nanos(1))).unwrap_or_default(),
        )
    }

    /// True when something disturbed what `observer` hears from `target` (either node, the
    /// link `target -> observer`, or the whole network) at some time in `[at - settle, at]`:
    /// a suspicion of `target` by `observer` at `at` then has a cause. `observer_counts`
    /// says whether a disruption of the observer itself (its own pause or restart) counts.
    pub fn explains(
        &self,
        observer: NodeId,
        target: NodeId,
        at: Duration,
        settle: Duration,
        observer_counts: bool,
    ) -> bool {
        let since = at.saturating_sub(settle);
        self.0.iter().filter(|d| d.from <= at && d.until >= since).any(|d| match &d.affected {
            Affected::Node(n) => *n == target || (observer_counts && *n == observer),
            Affected::Links(cut) => cut.contains(&(target, observer)),
            Affected::Network => true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Partition;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn quorum_calm_needs_only_enough_peers() {
        let n: Vec<NodeId> = (1..=5).map(NodeId).collect();
        let peers: Vec<NodeId> = n[1..].to_vec();
        let faults = vec![
            // One peer paused: n1 still hears 3 of 4.
            Fault::pause(n[1], s(10), s(5)),
            // Two peers down at once: n1 hears 2 of 4, below a majority of 3.
            Fault::crash(n[2], s(20)),
            Fault::crash(n[3], s(21)),
            Fault::restart(n[2], s(24)),
            Fault::restart(n[3], s(26)),
            // n1 itself paused.
            Fault::pause(n[0], s(40), s(2)),
        ];
        let d = Disruptions::of(&faults);
        assert_eq!(d.quorum_calm_since(n[0], &peers, 3, s(12)), Some(Duration::ZERO));
        assert_eq!(d.calm_since_for(n[0], s(12)), None, "the coarse rule counts any node's pause");
        assert_eq!(d.quorum_calm_since(n[0], &peers, 3, s(22)), None);
        assert_eq!(d.quorum_calm_since(n[0], &peers, 3, s(25)), Some(s(24)));
        assert_eq!(d.quorum_calm_since(n[0], &peers, 3, s(41)), None);
        assert_eq!(d.quorum_calm_since(n[0], &peers, 3, s(50)), Some(s(42)));
    }

    #[test]
    fn explains_only_what_touched_the_pair_within_the_settling_time() {
        let (a, b, c) = (NodeId(1), NodeId(2), NodeId(3));
        let faults = vec![
            Fault::pause(b, s(10), s(2)),
            Fault::partition(Partition::one_way(c, a), s(20)),
            Fault::heal(s(25)),
            Fault::crash(c, s(40)),
            Fault::restart(c, s(45)),
        ];
        let d = Disruptions::of(&faults);
        assert!(d.explains(a, b, s(13), s(5), false), "b was paused until 12 s");
        assert!(!d.explains(a, b, s(18), s(5), false), "too long after the pause");
        assert!(!d.explains(b, c, s(22), s(1), false), "c -> a was cut, not c -> b");
        assert!(d.explains(a, c, s(22), s(1), false));
        assert!(d.explains(b, c, s(44), s(1), false), "c was down");
        assert!(!d.explains(b, c, s(11), s(1), false), "the observer's own pause does not count");
        assert!(d.explains(b, a, s(11), s(1), true), "b's own pause counts when asked to");
        assert!(d.explains(c, a, s(43), s(1), true), "counted when asked to");
    }

    #[test]
    fn calm_since_is_the_end_of_the_last_disruption() {
        let d = Disruptions::of(&[Fault::pause(NodeId(1), s(10), s(2)), Fault::crash(NodeId(2), s(30))]);
        let n3 = NodeId(3);
        assert_eq!(d.calm_since_for(n3, s(5)), Some(Duration::ZERO));
        assert_eq!(d.calm_since_for(n3, s(11)), None);
        assert_eq!(d.calm_since_for(n3, s(20)), Some(s(12)));
        assert_eq!(d.calm_since_for(n3, s(40)), None, "a crash with no restart never ends");
    }

    #[test]
    fn calm_for_a_node_ignores_partitions_of_other_links() {
        let d = Disruptions::of(&[
            Fault::pause(NodeId(1), s(10), s(2)),
            Fault::partition(Partition::one_way(NodeId(3), NodeId(2)), s(20)),
            Fault::heal(s(25)),
        ]);
        assert_eq!(d.calm_since_for(NodeId(2), s(11)), None, "a paused peer cannot answer");
        assert_eq!(d.calm_since_for(NodeId(2), s(22)), None, "n3 -> n2 is cut");
        assert_eq!(d.calm_since_for(NodeId(1), s(22)), Some(s(12)), "a cut between others is not n1's");
        assert_eq!(d.calm_since_for(NodeId(2), s(30)), Some(s(25)));
    }

    #[test]
    fn duplicated_messages_excuse_nothing() {
        let d = Disruptions::of(&Fault::duplicate(0.5, s(10), s(5)));
        assert!(d.all().is_empty());
        assert_eq!(d.calm_since_for(NodeId(1), s(12)), Some(Duration::ZERO));
        assert!(!d.explains(NodeId(1), NodeId(2), s(12), s(1), false));
    }

    #[test]
    fn an_unhealed_crash_lasts_forever() {
        let d = Disruptions::of(&[Fault::crash(NodeId(2), s(5))]);
        assert!(d.explains(NodeId(1), NodeId(2), s(500), s(1), false));
    }
}
