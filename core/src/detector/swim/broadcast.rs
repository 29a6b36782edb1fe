//! Piggybacked dissemination: membership updates ride on pings and acks, each sent a
//! bounded number of times (`retransmit_mult · ceil(log10(n + 1))`), least-sent first.
//! (Lifeguard's buddy system does not depend on this queue: every message to a suspect
//! carries a fresh suspect note, added by the sender.)

use super::Update;
use crate::node::NodeId;
use std::collections::BTreeMap;

/// Pending updates and how often each has been sent.
#[derive(Clone, Debug, Hash, Default)]
pub struct Broadcasts {
    /// At most one pending update per member: a newer one replaces it.
    queue: BTreeMap<NodeId, (Update, u32)>,
}

/// The number of times each update is sent for a cluster of `n`.
pub fn retransmit_limit(mult: u32, n: usize) -> u32 {
    let scale = ((n + 1) as f64).log10().ceil().max(1.0) as u32;
    mult * scale
}

impl Broadcasts {
    /// Queues `update`, replacing any pending update about the same member.
    pub fn push(&mut self, update: Update) {
        self.queue.insert(update.node, (update, 0));
    }

    /// Up to `max` updates to piggyback, least-sent first (ties by member id); each taken
    /// update counts one transmission and is dropped after `limit` of them.
    pub fn take(&mut self, max: usize, limit: u32) -> Vec<Update> {
        let mut order: Vec<(u32, NodeId)> = self.queue.iter().map(|(&n, &(_, sent))| (sent, n)).collect();
        order.sort();
        let mut out = Vec::new();
        for (_, node) in order.into_iter().take(max) {
            if let Some((update, sent)) = self.queue.get_mut(&node) {
                out.push(update.clone());
                *sent += 1;
                if *sent >= limit {
                    self.queue.remove(&node);
                }
            }
        }
        out
    }

    /// Pending updates.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::swim::MemberState;

    fn alive(n: u32, inc: u64) -> Update {
        Update { node: NodeId(n), incarnation: inc, state: MemberState::Alive }
    }

    #[test]
    fn least_sent_first_bounded_and_newest_wins() {
        let mut b = Broadcasts::default();
        b.push(alive(1, 0));
        b.push(alive(2, 0));
        b.push(alive(1, 5));
        assert_eq!(b.len(), 2);
        assert_eq!(b.take(1, 2), vec![alive(1, 5)]);
        assert_eq!(b.take(1, 2), vec![alive(2, 0)]);
        assert_eq!(b.take(5, 2).len(), 2);
        assert!(b.is_empty(), "each sent twice, then dropped");
        assert_eq!(retransmit_limit(4, 100), 12);
    }
}
