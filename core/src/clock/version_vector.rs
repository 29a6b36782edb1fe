//! Version vectors and a multi-value register: detect concurrent writes instead of letting
//! one silently win (DDIA 5.4, "Detecting concurrent writes").

use crate::node::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How two version vectors relate.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Causality {
    /// Every entry ≤ and one <: the first happened before the second.
    Before,
    /// The reverse.
    After,
    /// Identical.
    Equal,
    /// Neither dominates: concurrent.
    Concurrent,
}

/// A version vector: per node, how many of its writes this version has seen. Zero entries
/// are never stored (a vector read from the network has them removed), so `{n1: 0}` and
/// `{}` are the same vector and compare, hash and serialize the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "BTreeMap<NodeId, u64>")]
pub struct VersionVector(BTreeMap<NodeId, u64>);

impl From<BTreeMap<NodeId, u64>> for VersionVector {
    fn from(mut entries: BTreeMap<NodeId, u64>) -> Self {
        entries.retain(|_, c| *c > 0);
        VersionVector(entries)
    }
}

impl VersionVector {
    /// The empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry for `node` (0 if absent).
    pub fn get(&self, node: NodeId) -> u64 {
        self.0.get(&node).copied().unwrap_or(0)
    }

    /// Counts one more write by `node`.
    pub fn increment(&mut self, node: NodeId) {
        let c = self.0.entry(node).or_insert(0);
        *c = c.saturating_add(1);
    }

    /// The pointwise maximum of `self` and `other`.
    pub fn merge(&mut self, other: &VersionVector) {
        for (&n, &c) in other.0.iter().filter(|(_, c)| **c > 0) {
            let e = self.0.entry(n).or_insert(0);
            *e = (*e).max(c);
        }
    }

    /// How `self` relates to `other`, in one pass over both sorted maps.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let (mut less, mut greater) = (false, false);
        let mut a = self.0.iter().peekable();
        let mut b = other.0.iter().peekable();
        loop {
            let (x, y) = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(&(na, &ca)), Some(&(nb, &cb))) if na == nb => {
                    a.next();
                    b.next();
                    (ca, cb)
                }
                (Some(&(na, &ca)), Some(&(nb, _))) if na < nb => {
                    a.next();
                    (ca, 0)
                }
                (Some(_), Some(&(_, &cb))) => {
                    b.next();
                    (0, cb)
                }
                (Some(&(_, &ca)), None) => {
                    a.next();
                    (ca, 0)
                }
                (None, Some(&(_, &cb))) => {
                    b.next();
                    (0, cb)
                }
            };
            less |= x < y;
            greater |= x > y;
            if less && greater {
                return Causality::Concurrent;
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// True when `self` has seen everything `other` has.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        matches!(self.compare(other), Causality::After | Causality::Equal)
    }
}

/// A register that keeps every concurrent write as a sibling (Dynamo, Riak).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MvRegister<T> {
    siblings: Vec<(VersionVector, T)>,
}

impl<T> Default for MvRegister<T> {
    fn default() -> Self {
        MvRegister { siblings: Vec::new() }
    }
}

impl<T: Clone> MvRegister<T> {
    /// An empty register.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current values and the context (merged version) to write back with.
    pub fn read(&self) -> (Vec<T>, VersionVector) {
        let mut ctx = VersionVector::new();
        for (v, _) in &self.siblings {
            ctx.merge(v);
        }
        (self.siblings.iter().map(|(_, x)| x.clone()).collect(), ctx)
    }

    /// A write by `node` that had read `context`: it supersedes what the context covers and
    /// stays beside anything concurrent. Returns the new version.
    pub fn write(&mut self, node: NodeId, context: &VersionVector, value: T) -> VersionVector {
        let mut version = context.clone();
        version.increment(node);
        // The new version must also beat this node's own earlier writes it had not read.
        for (v, _) in &self.siblings {
            version.0.insert(node, version.get(node).max(v.get(node) + 1));
        }
        self.merge_version(version.clone(), value);
        version
    }

    /// Merges a replicated `(version, value)`: dropped if some sibling dominates it;
    /// otherwise it replaces the siblings it dominates.
    pub fn merge_version(&mut self, version: VersionVector, value: T) {
        if self.siblings.iter().any(|(v, _)| v.dominates(&version)) {
            return;
        }
        self.siblings.retain(|(v, _)| !version.dominates(v));
        self.siblings.push((version, value));
    }

    /// The siblings with their versions.
    pub fn siblings(&self) -> &[(VersionVector, T)] {
        &self.siblings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vv(entries: &[(u32, u64)]) -> VersionVector {
        VersionVector(entries.iter().map(|&(n, c)| (NodeId(n), c)).collect())
    }

    #[test]
    fn a_zero_entry_is_no_entry() {
        let mut with_zero = BTreeMap::new();
        with_zero.insert(NodeId(1), 0);
        let decoded = VersionVector::from(with_zero.clone());
        assert_eq!(decoded, VersionVector::new(), "{{n1: 0}} is {{}}");
        assert_eq!(decoded.compare(&VersionVector::new()), Causality::Equal);
        let mut merged = VersionVector::new();
        merged.merge(&VersionVector(with_zero));
        assert_eq!(merged, VersionVector::new(), "merging a zero entry adds nothing");
    }

    #[test]
    fn compare_table() {
        // (a, b, a compared to b)
        let table = [
            (vv(&[]), vv(&[]), Causality::Equal),
            (vv(&[(1, 1)]), vv(&[(1, 1)]), Causality::Equal),
            (vv(&[(1, 1)]), vv(&[(1, 2)]), Causality::Before),
            (vv(&[(1, 2)]), vv(&[(1, 1)]), Causality::After),
            (vv(&[(1, 1)]), vv(&[(2, 1)]), Causality::Concurrent),
            (vv(&[(1, 1), (2, 1)]), vv(&[(1, 1)]), Causality::After),
            (vv(&[(1, 2), (2, 1)]), vv(&[(1, 1), (2, 2)]), Causality::Concurrent),
            (vv(&[(1, 0)]), vv(&[]), Causality::Equal),
            (vv(&[(3, 1)]), vv(&[(1, 1), (3, 1)]), Causality::Before),
        ];
        for (a, b, want) in table {
            assert_eq!(a.compare(&b), want, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn merge_is_pointwise_max() {
        let mut a = vv(&[(1, 3), (2, 1)]);
        a.merge(&vv(&[(2, 4), (3, 1)]));
        assert_eq!(a, vv(&[(1, 3), (2, 4), (3, 1)]));
    }

    #[test]
    fn concurrent_writes_are_kept_as_siblings_and_a_later_write_resolves_them() {
        let mut r = MvRegister::new();
        let (_, empty) = r.read();
        r.write(NodeId(1), &empty, "x=1");
        r.write(NodeId(2), &empty, "x=2"); // did not see x=1: concurrent
        let (values, ctx) = r.read();
        assert_eq!(values.len(), 2);
        r.write(NodeId(1), &ctx, "x=3"); // saw both: supersedes both
        assert_eq!(r.read().0, vec!["x=3"]);
    }

    #[test]
    fn a_stale_replica_update_does_not_resurrect_an_old_value() {
        let mut r = MvRegister::new();
        let v1 = r.write(NodeId(1), &VersionVector::new(), 1);
        r.write(NodeId(1), &v1, 2);
        r.merge_version(v1, 1);
        assert_eq!(r.read().0, vec![2]);
    }
}
