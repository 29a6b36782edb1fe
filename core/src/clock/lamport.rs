//! Lamport clocks (Lamport, CACM 1978): a counter that orders events consistently with
//! causality; ties broken by node id.

use crate::node::NodeId;
use serde::{Deserialize, Serialize};

/// A Lamport timestamp: counter first, node id to break ties, so timestamps are totally
/// ordered and unique per node.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LamportTimestamp {
    /// The counter.
    pub time: u64,
    /// The node that took it.
    pub node: NodeId,
}

/// One node's Lamport clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LamportClock {
    node: NodeId,
    time: u64,
}

impl LamportClock {
    /// A clock at zero.
    pub fn new(node: NodeId) -> Self {
        LamportClock { node, time: 0 }
    }

    /// A local event or a send: increment, then stamp.
    pub fn tick(&mut self) -> LamportTimestamp {
        self.time = self.time.saturating_add(1);
        LamportTimestamp { time: self.time, node: self.node }
    }

    /// A receive of a message stamped `remote`: `max(local, remote) + 1`.
    pub fn receive(&mut self, remote: LamportTimestamp) -> LamportTimestamp {
        self.time = self.time.max(remote.time).saturating_add(1);
        LamportTimestamp { time: self.time, node: self.node }
    }

    /// The current counter.
    pub fn time(&self) -> u64 {
        self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_jumps_past_the_sender_and_ties_break_by_node() {
        let (mut a, mut b) = (LamportClock::new(NodeId(1)), LamportClock::new(NodeId(2)));
        a.tick();
        a.tick();
        let sent = a.tick();
        assert_eq!(sent.time, 3);
        let got = b.receive(sent);
        assert_eq!(got.time, 4);
        assert!(sent < got, "the receive is ordered after the send");
        let (x, y) =
            (LamportTimestamp { time: 5, node: NodeId(1) }, LamportTimestamp { time: 5, node: NodeId(2) });
        assert!(x < y);
    }
}
