//! Symmetry reduction: nodes a scenario declares interchangeable.
//!
//! Two states that differ only by a permutation of interchangeable nodes (clients n3 and n4
//! swapped, with every message, event and reference to them swapped too) have the same
//! futures up to that permutation, so the explorer visits one of each such group. It
//! fingerprints a state as its *representative*. For up to [`EXACT_UP_TO`] interchangeable
//! nodes that is the renaming with the smallest fingerprint among all of them (at most 24):
//! exact, one state per group. For more, the nodes are sorted by a key that does not depend
//! on their names (each node's state with itself renamed to the class's first id and the
//! rest of the class to one placeholder) and the state rewritten under the permutation that
//! sorts them, as stateright does: one rename per state, and ties between nodes whose keys
//! are equal leave some twins apart. Either way the representative is a renaming of the
//! state, so no state is missed.
//!
//! The declaration is the scenario's claim, like [`super::Setup::obsolete`]: the nodes run
//! the same code with the same configuration and seeds, the workload and the checkers treat
//! them alike, and every protocol value renames every node it names ([`Rename`]). A wrong
//! claim merges states that differ and can hide a violation, so it is tested twice over. The
//! search samples it: the first 16 states it renames and then the 32nd, 64th, 128th and so
//! on ([`sampled`]) must be judged alike by every checker and step to exactly the renamed
//! successors, or it panics naming the nodes. A sample is not a proof: an asymmetry that
//! shows only in states it skips passes. [`super::check_symmetry`] checks every state of
//! a model, and is what a test of a declaration should run.
//!
//! Members of a class share one protocol seed (each incarnation its own), in the reduced
//! search and with the reduction off alike: the model is the same, only the search
//! differs. A protocol that breaks ties with random draws (randomised election timeouts)
//! then draws the same numbers on every member, which makes ties more likely than two
//! independently seeded nodes would; declare such nodes interchangeable only where that is
//! the case to explore.

use palisade_core::{NodeId, Protocol, Rename, Renaming};

/// Whether the search checks the declaration on the `n`th state it renames (from 1): the
/// first 16, then every power of two.
pub(super) fn sampled(n: u64) -> bool {
    n <= 16 || n.is_power_of_two()
}

/// Classes of up to this many nodes get exact representatives (every permutation tried).
pub const EXACT_UP_TO: usize = 4;

/// Nodes the scenario declares interchangeable, with the renaming of every protocol value.
pub struct Symmetry<P: Protocol> {
    nodes: Vec<NodeId>,
    pub(super) node: fn(&mut P, &Renaming),
    pub(super) message: fn(&mut P::Message, &Renaming),
    pub(super) event: fn(&mut P::Event, &Renaming),
    pub(super) reply: fn(&mut P::Reply, &Renaming),
    pub(super) durable: fn(&mut P::Durable, &Renaming),
    /// Every renaming of the class but the identity, for classes of up to [`EXACT_UP_TO`].
    exact: Vec<Renaming>,
    /// Their inverses: `inverse[k]` names the node whose state renaming `k` moves to a slot.
    inverse: Vec<Renaming>,
}

impl<P: Protocol> Symmetry<P> {
    /// Declares `nodes` interchangeable (at least two, distinct, sorted here). The explorer
    /// boots them with one protocol seed, so nothing but their names tells them apart.
    pub fn among(nodes: impl IntoIterator<Item = NodeId>) -> Self
    where
        P: Rename,
        P::Message: Rename,
        P::Event: Rename,
        P::Reply: Rename,
        P::Durable: Rename,
    {
        let mut nodes: Vec<NodeId> = nodes.into_iter().collect();
        nodes.sort_unstable();
        nodes.dedup();
        assert!(nodes.len() >= 2, "a symmetry needs at least two interchangeable nodes");
        let mut exact = Vec::new();
        if nodes.len() <= EXACT_UP_TO {
            for order in permutations(&nodes) {
                let map =
                    Renaming::new(order.into_iter().zip(nodes.iter().copied())).expect("each named once");
                if !map.is_identity() {
                    exact.push(map);
                }
            }
        }
        let inverse = exact
            .iter()
            .map(|map| {
                Renaming::new(nodes.iter().map(|&n| (map.apply(n), n)))
                    .expect("a permutation's inverse is one")
            })
            .collect();
        Symmetry {
            inverse,
            exact,
            nodes,
            node: P::rename,
            message: <P::Message as Rename>::rename,
            event: <P::Event as Rename>::rename,
            reply: <P::Reply as Rename>::rename,
            durable: <P::Durable as Rename>::rename,
        }
    }

    /// Panics unless every member is one of nodes `1..=nodes`.
    pub(super) fn check_members(&self, nodes: u32) {
        if let Some(bad) = self.nodes.iter().find(|n| n.0 == 0 || n.0 > nodes) {
            panic!("Setup::symmetry names {bad}, but the model's nodes are n1..=n{nodes}");
        }
    }

    /// The interchangeable nodes, ascending.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// The same class with sorted representatives whatever its size, to test that path.
    #[cfg(test)]
    pub(super) fn sorted_only(mut self) -> Self {
        self.exact.clear();
        self.inverse.clear();
        self
    }

    /// For renaming `k` of [`Self::every_renaming`], the node whose state it moves into
    /// node `slot`'s place.
    pub(super) fn source(&self, k: usize, slot: NodeId) -> NodeId {
        self.inverse[k].apply(slot)
    }

    /// Every renaming of the class but the identity, when the class is small enough for
    /// exact representatives; empty otherwise.
    pub(super) fn every_renaming(&self) -> &[Renaming] {
        &self.exact
    }

    /// The protocol seed of `id`'s incarnation `incarnation`: one per class member's
    /// incarnation, the same for every member.
    pub(super) fn seed(&self, id: NodeId, incarnation: u32) -> Option<u64> {
        self.nodes.contains(&id).then(|| u64::from(self.nodes[0].0) << 32 | u64::from(incarnation))
    }

    /// The renaming a member's sort key is computed under: `node` to the class's first id,
    /// every other member to one placeholder. It does not depend on which member is which,
    /// so twins get equal keys.
    pub(super) fn key_renaming(&self, node: NodeId) -> Renaming {
        let pairs = self.nodes.iter().map(|&m| (m, if m == node { self.nodes[0] } else { PLACEHOLDER }));
        Renaming::new(pairs).expect("each member named once")
    }

    /// The renaming that sends the members, in `order`, to the class's ids in ascending
    /// order: `order[k]` becomes `nodes[k]`.
    pub(super) fn sorting(&self, order: &[NodeId]) -> Renaming {
        Renaming::new(order.iter().copied().zip(self.nodes.iter().copied())).expect("each member named once")
    }
}

/// The name every other member of a class takes in a node's sort key.
const PLACEHOLDER: NodeId = NodeId(u32::MAX);

/// Every ordering of `items`.
fn permutations(items: &[NodeId]) -> Vec<Vec<NodeId>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for (k, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(k);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            out.push(tail);
        }
    }
    out
}
