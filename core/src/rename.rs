//! Renaming nodes inside protocol values, for the explorer's symmetry reduction.
//!
//! When a scenario declares some nodes interchangeable (two clients that run the same code
//! with the same workload, say), a state and the state with those nodes' names swapped
//! behave alike, and the explorer need visit only one of them. To tell that two states are
//! such twins it rewrites one under a [`Renaming`], so every protocol value that names a
//! node (its own id, a holder, a set of replies keyed by sender) must say how it is
//! rewritten: that is [`Rename`]. Values that name no node implement it as nothing.
//!
//! A forgotten field makes the explorer merge states that differ, which can hide a
//! violation. The explorer samples the declaration as it searches (a renamed state must be
//! judged alike and step to the renamed successors), and `palisade_sim::explore::check_symmetry`
//! checks every state of a model; run it on a small model whenever a `Rename` impl or a
//! declaration changes.

use crate::node::NodeId;
use crate::protocol::{Outbox, Output};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// New names for some nodes; nodes it does not mention keep theirs. Prints as the nodes it
/// moves: `{n3→n4, n4→n3}`. The explorer's
/// representatives are permutations of the interchangeable nodes. Its sort keys (for classes
/// of more than `EXACT_UP_TO` nodes) are not: they send every member but one to the same
/// placeholder, `NodeId(u32::MAX)`, so a `Rename` impl must not use a new name as an index
/// (a map keyed by node then keeps one entry per name, which is what a key wants).
#[derive(Clone, PartialEq, Eq)]
pub struct Renaming {
    /// `(old, new)`, sorted by the old name, each old name once.
    to: Vec<(NodeId, NodeId)>,
}

impl std::fmt::Debug for Renaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let moved: Vec<String> =
            self.to.iter().filter(|(old, new)| old != new).map(|(old, new)| format!("{old}→{new}")).collect();
        write!(f, "{{{}}}", moved.join(", "))
    }
}

/// A renaming that gives one node two new names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwoNewNames(pub NodeId);

impl std::fmt::Display for TwoNewNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a renaming gives {} two new names", self.0)
    }
}

impl std::error::Error for TwoNewNames {}

impl Renaming {
    /// The renaming that sends each `(old, new)` pair's `old` to `new` and every other node
    /// to itself.
    pub fn new(pairs: impl IntoIterator<Item = (NodeId, NodeId)>) -> Result<Self, TwoNewNames> {
        let mut to: Vec<(NodeId, NodeId)> = pairs.into_iter().collect();
        to.sort_unstable();
        if let Some(w) = to.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(TwoNewNames(w[0].0));
        }
        Ok(Renaming { to })
    }

    /// The new name of `id`.
    pub fn apply(&self, id: NodeId) -> NodeId {
        match self.to.binary_search_by_key(&id, |&(old, _)| old) {
            Ok(k) => self.to[k].1,
            Err(_) => id,
        }
    }

    /// True when no node changes its name.
    pub fn is_identity(&self) -> bool {
        self.to.iter().all(|(old, new)| old == new)
    }
}

/// A value that can name nodes, rewritten under a [`Renaming`].
///
/// Implement it by renaming every field that holds a [`NodeId`] (directly or in a
/// collection), and as nothing for a value that names no node. Sets and maps keyed by node
/// are rebuilt, so their order follows the new names; a list whose order the protocol
/// keeps sorted by id must be sorted again.
pub trait Rename {
    /// Rewrites every node this value names.
    fn rename(&mut self, map: &Renaming);
}

impl Rename for NodeId {
    fn rename(&mut self, map: &Renaming) {
        *self = map.apply(*self);
    }
}

/// Implements [`Rename`] as nothing for types that name no node:
/// `palisade_core::names_no_node!(MyMsg, MyEvent);`. A type that holds a `NodeId`, or
/// may later, wants a hand-written impl that destructures it.
#[macro_export]
macro_rules! names_no_node {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::rename::Rename for $t {
            fn rename(&mut self, _: &$crate::rename::Renaming) {}
        })*
    };
}

names_no_node!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    String,
    std::time::Duration,
    crate::time::Instant,
    crate::time::WallTime,
    crate::protocol::RequestId,
    crate::protocol::NoReply,
    crate::rng::Rng,
    crate::fencing::FencingToken,
);

impl<T: Rename> Rename for Option<T> {
    fn rename(&mut self, map: &Renaming) {
        if let Some(v) = self {
            v.rename(map);
        }
    }
}

impl<T: Rename> Rename for Box<T> {
    fn rename(&mut self, map: &Renaming) {
        (**self).rename(map);
    }
}

impl<T: Rename> Rename for Vec<T> {
    fn rename(&mut self, map: &Renaming) {
        self.iter_mut().for_each(|v| v.rename(map));
    }
}

impl<T: Rename> Rename for VecDeque<T> {
    fn rename(&mut self, map: &Renaming) {
        self.iter_mut().for_each(|v| v.rename(map));
    }
}

impl<T: Rename + Clone> Rename for Arc<[T]> {
    fn rename(&mut self, map: &Renaming) {
        let mut items = self.to_vec();
        items.rename(map);
        *self = items.into();
    }
}

impl<T: Rename + Ord> Rename for BTreeSet<T> {
    fn rename(&mut self, map: &Renaming) {
        *self = std::mem::take(self)
            .into_iter()
            .map(|mut v| {
                v.rename(map);
                v
            })
            .collect();
    }
}

impl<K: Rename + Ord, V: Rename> Rename for BTreeMap<K, V> {
    fn rename(&mut self, map: &Renaming) {
        *self = std::mem::take(self)
            .into_iter()
            .map(|(mut k, mut v)| {
                k.rename(map);
                v.rename(map);
                (k, v)
            })
            .collect();
    }
}

impl<A: Rename, B: Rename> Rename for (A, B) {
    fn rename(&mut self, map: &Renaming) {
        self.0.rename(map);
        self.1.rename(map);
    }
}

impl<A: Rename, B: Rename, C: Rename> Rename for (A, B, C) {
    fn rename(&mut self, map: &Renaming) {
        self.0.rename(map);
        self.1.rename(map);
        self.2.rename(map);
    }
}

impl<M: Rename, E: Rename, D: Rename, R: Rename> Rename for Output<M, E, D, R> {
    fn rename(&mut self, map: &Renaming) {
        match self {
            Output::Send { to, msg } => {
                to.rename(map);
                msg.rename(map);
            }
            Output::Event(e) => e.rename(map),
            Output::Reply { reply, .. } => reply.rename(map),
            Output::Persist(d) => d.rename(map),
        }
    }
}

impl<M: Rename, E: Rename, D: Rename, R: Rename> Rename for Outbox<M, E, D, R> {
    fn rename(&mut self, map: &Renaming) {
        self.iter_mut().for_each(|o| o.rename(map));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap(a: u32, b: u32) -> Renaming {
        Renaming::new([(NodeId(a), NodeId(b)), (NodeId(b), NodeId(a))]).unwrap()
    }

    #[test]
    fn a_renaming_names_each_node_once() {
        assert_eq!(
            Renaming::new([(NodeId(3), NodeId(4)), (NodeId(3), NodeId(5))]),
            Err(TwoNewNames(NodeId(3)))
        );
        let merge = Renaming::new([(NodeId(3), NodeId(9)), (NodeId(4), NodeId(9))]).unwrap();
        let mut by_node: BTreeMap<NodeId, u8> = [(NodeId(3), 1), (NodeId(4), 2)].into();
        by_node.rename(&merge);
        assert_eq!(by_node.len(), 1, "two nodes sent to one name keep one entry");
        let cycle =
            Renaming::new([(NodeId(1), NodeId(2)), (NodeId(2), NodeId(3)), (NodeId(3), NodeId(1))]).unwrap();
        assert_eq!([1, 2, 3, 9].map(|i| cycle.apply(NodeId(i)).0), [2, 3, 1, 9]);
        assert!(!cycle.is_identity());
        assert!(Renaming::new([(NodeId(2), NodeId(2))]).unwrap().is_identity());
        assert_eq!(format!("{cycle:?}"), "{n1→n2, n2→n3, n3→n1}");
    }

    #[test]
    fn collections_are_rewritten_and_sets_reordered() {
        let map = swap(3, 4);
        let mut set: BTreeSet<NodeId> = [NodeId(1), NodeId(3)].into();
        set.rename(&map);
        assert_eq!(set, [NodeId(1), NodeId(4)].into());
        let mut by_node: BTreeMap<NodeId, (NodeId, u64)> =
            [(NodeId(3), (NodeId(4), 7)), (NodeId(4), (NodeId(3), 8))].into();
        by_node.rename(&map);
        assert_eq!(by_node, [(NodeId(4), (NodeId(3), 7)), (NodeId(3), (NodeId(4), 8))].into());
        let mut list: Arc<[NodeId]> = vec![NodeId(3), NodeId(5)].into();
        list.rename(&map);
        assert_eq!(&*list, &[NodeId(4), NodeId(5)]);
        let mut timers: crate::Timers<(u8, NodeId)> = crate::Timers::new();
        timers.set((1, NodeId(3)), crate::Instant::from_nanos(5));
        timers.set((1, NodeId(4)), crate::Instant::from_nanos(9));
        timers.rename(&map);
        assert_eq!(timers.get((1, NodeId(4))), Some(crate::Instant::from_nanos(5)));
        assert_eq!(timers.get((1, NodeId(3))), Some(crate::Instant::from_nanos(9)));
        let mut nested = Some(Box::new(vec![NodeId(4)]));
        nested.rename(&map);
        assert_eq!(nested, Some(Box::new(vec![NodeId(3)])));
    }
}
