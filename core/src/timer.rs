//! A timer table: many named deadlines, one earliest deadline.
//!
//! A protocol keeps one [`Timers`] keyed by its own timer names (an enum, often carrying a
//! peer id), reports [`Timers::next_deadline`] from `poll_timeout`, and on a timeout pops
//! every expired name with [`Timers::pop_expired`]. Setting a name again replaces its
//! deadline, so a re-armed timer never fires twice.

use crate::time::Instant;
use std::collections::{BTreeMap, BTreeSet};

/// A set of named deadlines ordered by time, then by name (so expiry order is deterministic).
#[derive(Clone, Debug, Hash)]
pub struct Timers<K: Ord + Copy> {
    by_name: BTreeMap<K, Instant>,
    by_time: BTreeSet<(Instant, K)>,
}

impl<K: Ord + Copy> Default for Timers<K> {
    fn default() -> Self {
        Timers { by_name: BTreeMap::new(), by_time: BTreeSet::new() }
    }
}

/// Renames the nodes the timer names carry (a `Check(NodeId)`, say); deadlines stay.
impl<K: Ord + Copy + crate::rename::Rename> crate::rename::Rename for Timers<K> {
    fn rename(&mut self, map: &crate::rename::Renaming) {
        let armed = std::mem::take(&mut self.by_name);
        self.by_time.clear();
        for (mut name, at) in armed {
            name.rename(map);
            self.set(name, at);
        }
    }
}

impl<K: Ord + Copy> Timers<K> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms `name` to expire at `at`, replacing any deadline it had.
    pub fn set(&mut self, name: K, at: Instant) {
        if let Some(old) = self.by_name.insert(name, at) {
            self.by_time.remove(&(old, name));
        }
        self.by_time.insert((at, name));
    }

    /// Disarms `name`; returns the deadline it had.
    pub fn cancel(&mut self, name: K) -> Option<Instant> {
        let old = self.by_name.remove(&name)?;
        self.by_time.remove(&(old, name));
        Some(old)
    }

    /// The deadline of `name`, if armed.
    pub fn get(&self, name: K) -> Option<Instant> {
        self.by_name.get(&name).copied()
    }

    /// True when `name` is armed.
    pub fn is_armed(&self, name: K) -> bool {
        self.by_name.contains_key(&name)
    }

    /// The earliest deadline of all armed timers: what `poll_timeout` should return.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_time.first().map(|&(at, _)| at)
    }

    /// Disarms and returns the earliest timer that has expired at `now` (deadline ≤ `now`).
    /// Call in a loop until `None` to handle every expired timer in deadline order.
    pub fn pop_expired(&mut self, now: Instant) -> Option<K> {
        let &(at, name) = self.by_time.first()?;
        if at > now {
            return None;
        }
        self.by_time.pop_first();
        self.by_name.remove(&name);
        Some(name)
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: u64) -> Instant {
        Instant::from_nanos(ns)
    }

    #[test]
    fn earliest_deadline_wins_and_rearming_replaces() {
        let mut timers = Timers::new();
        timers.set('a', t(30));
        timers.set('b', t(10));
        assert_eq!(timers.next_deadline(), Some(t(10)));
        timers.set('b', t(40));
        assert_eq!(timers.next_deadline(), Some(t(30)));
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.cancel('a'), Some(t(30)));
        assert_eq!(timers.next_deadline(), Some(t(40)));
        assert_eq!(timers.cancel('a'), None);
    }

    #[test]
    fn pop_expired_yields_due_timers_in_order_and_only_once() {
        let mut timers = Timers::new();
        timers.set(3, t(5));
        timers.set(1, t(5));
        timers.set(2, t(2));
        timers.set(4, t(9));
        let mut fired = Vec::new();
        while let Some(k) = timers.pop_expired(t(5)) {
            fired.push(k);
        }
        assert_eq!(fired, vec![2, 1, 3]);
        assert_eq!(timers.pop_expired(t(5)), None);
        assert_eq!(timers.next_deadline(), Some(t(9)));
        assert!(timers.is_armed(4) && !timers.is_armed(1));
    }
}
