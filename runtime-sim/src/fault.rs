//! Faults the simulator injects on a schedule.

use crate::net::{LinkConfig, Partition};
use palisade_core::NodeId;
use std::time::Duration;

/// One fault.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The node stops; its volatile state is lost. Messages to it are dropped.
    Crash(NodeId),
    /// The node crashes in the middle of its next persist: that state never becomes
    /// durable, and outputs after it are never acted on (a torn write).
    TornWrite(NodeId),
    /// A crashed node starts again from the state it last persisted, with a new monotonic
    /// clock origin.
    Restart(NodeId),
    /// The node stops running for a while (a GC pause, a VM suspension): it handles nothing,
    /// messages wait in its inbox and its timers fire late. On resume it sees its clocks jump,
    /// its due timers fire first, then its inbox drains in arrival order.
    Pause {
        /// The paused node.
        node: NodeId,
        /// How long, in true time.
        duration: Duration,
    },
    /// Cuts the links of this partition (replacing any partition in force). Messages already
    /// in flight on a cut link are dropped when they arrive.
    Partition(Partition),
    /// Heals every partition.
    Heal,
    /// Every link behaves like this from now on (a loss burst, a latency spike, congestion),
    /// overriding per-link settings until [`FaultKind::RestoreLinks`].
    Degrade(LinkConfig),
    /// Links behave as configured at the start of the run again.
    RestoreLinks,
    /// From now on every link also delivers a second copy of a share `rate` of its messages,
    /// each copy after its own delay (so copies also arrive out of order), on top of whatever
    /// else the link does, until [`FaultKind::StopDuplicating`].
    Duplicate {
        /// Share of messages delivered twice, in `(0, 1]`.
        rate: f64,
    },
    /// Links duplicate only as configured again.
    StopDuplicating,
    /// Steps the node's wall clock (an NTP step); the monotonic clock is untouched.
    WallStep {
        /// The node.
        node: NodeId,
        /// Signed step in ns; negative moves the wall clock backwards.
        by_ns: i64,
    },
    /// Steps the node's wall clock by `by_ns`, but never to further than `bound_ns` from true
    /// time (and never further than it already was): a step a system model with a bound on
    /// clock offsets admits.
    WallStepWithin {
        /// The node.
        node: NodeId,
        /// Signed step in ns, before the bound is applied.
        by_ns: i64,
        /// The largest offset from true time the step may leave, in ns.
        bound_ns: u64,
    },
    /// Sets the drift of the node's monotonic clock from now on.
    Drift {
        /// The node.
        node: NodeId,
        /// Parts per million; positive runs fast.
        ppm: i64,
    },
}

/// A fault at a true time since the start of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// When it happens.
    pub at: Duration,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    /// `node` crashes at `at`.
    pub fn crash(node: NodeId, at: Duration) -> Self {
        Fault { at, kind: FaultKind::Crash(node) }
    }

    /// `node` restarts from its persisted state at `at`.
    pub fn restart(node: NodeId, at: Duration) -> Self {
        Fault { at, kind: FaultKind::Restart(node) }
    }

    /// `node` pauses at `at` for `duration`.
    pub fn pause(node: NodeId, at: Duration, duration: Duration) -> Self {
        Fault { at, kind: FaultKind::Pause { node, duration } }
    }

    /// `partition` starts at `at`.
    pub fn partition(partition: Partition, at: Duration) -> Self {
        Fault { at, kind: FaultKind::Partition(partition) }
    }

    /// Every partition heals at `at`.
    pub fn heal(at: Duration) -> Self {
        Fault { at, kind: FaultKind::Heal }
    }

    /// Every link behaves like `link` from `at` for `duration`, then as configured again.
    pub fn degrade(link: LinkConfig, at: Duration, duration: Duration) -> [Fault; 2] {
        [
            Fault { at, kind: FaultKind::Degrade(link) },
            Fault { at: at + duration, kind: FaultKind::RestoreLinks },
        ]
    }

    /// Every link duplicates a share `rate` of messages from `at` for `duration`.
    pub fn duplicate(rate: f64, at: Duration, duration: Duration) -> [Fault; 2] {
        [
            Fault { at, kind: FaultKind::Duplicate { rate } },
            Fault { at: at + duration, kind: FaultKind::StopDuplicating },
        ]
    }

    /// `node`'s wall clock steps by `by_ns` at `at`.
    pub fn wall_step(node: NodeId, at: Duration, by_ns: i64) -> Self {
        Fault { at, kind: FaultKind::WallStep { node, by_ns } }
    }

    /// `node`'s wall clock steps by `by_ns` at `at`, kept within `bound` of true time.
    pub fn wall_step_within(node: NodeId, at: Duration, by_ns: i64, bound: Duration) -> Self {
        let bound_ns = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Fault { at, kind: FaultKind::WallStepWithin { node, by_ns, bound_ns } }
    }

    /// `node`'s monotonic clock drifts by `ppm` from `at` on.
    pub fn drift(node: NodeId, at: Duration, ppm: i64) -> Self {
        Fault { at, kind: FaultKind::Drift { node, ppm } }
    }

    /// A strobing wall clock: from `at`, for `duration`, the wall clock of `node` jumps
    /// forwards and backwards by `amplitude` every `period`, ending where it started.
    pub fn strobe(
        node: NodeId,
        at: Duration,
        duration: Duration,
        amplitude: Duration,
        period: Duration,
    ) -> Vec<Fault> {
        let amp = i64::try_from(amplitude.as_nanos()).unwrap_or(i64::MAX);
        let period = period.max(Duration::from_micros(1));
        let mut faults = Vec::new();
        let mut t = at;
        let mut up = true;
        while t < at + duration {
            faults.push(Fault::wall_step(node, t, if up { amp } else { -amp }));
            up = !up;
            t += period;
        }
        if !up {
            faults.push(Fault::wall_step(node, at + duration, -amp));
        }
        faults
    }

    /// The true time at which this fault stops being active.
    pub fn ends_at(&self) -> Duration {
        match self.kind {
            FaultKind::Pause { duration, .. } => self.at + duration,
            _ => self.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strobe_alternates_and_ends_where_it_started() {
        let s = Duration::from_secs;
        let faults = Fault::strobe(NodeId(1), s(10), s(5), Duration::from_millis(300), s(1));
        let steps: Vec<i64> = faults
            .iter()
            .map(|f| match f.kind {
                FaultKind::WallStep { by_ns, .. } => by_ns,
                _ => panic!("only wall steps"),
            })
            .collect();
        assert_eq!(steps.iter().sum::<i64>(), 0);
        assert!(steps.windows(2).all(|w| w[0] == -w[1]));
        assert_eq!(faults.last().unwrap().at, s(15));
    }
}
