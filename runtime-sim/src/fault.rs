//! Faults the simulator injects on a schedule.

use palisade_core::NodeId;
use std::time::Duration;

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The node stops; its volatile state is lost. Messages to it are dropped.
    Crash(NodeId),
    /// A crashed node starts again from the state it last persisted.
    Restart(NodeId),
}

/// A fault at a true time since the start of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// When it happens.
    pub at: Duration,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    /// `node` crashes at `at`.
    pub fn crash(node: NodeId, at: Duration) -> Self {
        Fault {
            at,
            kind: FaultKind::Crash(node),
        }
    }

    /// `node` restarts from its persisted state at `at`.
    pub fn restart(node: NodeId, at: Duration) -> Self {
        Fault {
            at,
            kind: FaultKind::Restart(node),
        }
    }
}
