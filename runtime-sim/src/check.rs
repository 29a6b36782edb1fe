//! Checkers that run after every simulated event, and the view of the world they get.

use palisade_core::{NodeId, Observation, Protocol, Replied, Violation};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// What a checker can see: every node's state, every event emitted so far, and the faults.
/// It clones when the protocol does; a clone shares nothing with the original.
pub struct World<P: Protocol> {
    pub(crate) now_ns: u64,
    /// Shared between the explorer's states until one of them changes it (copy on write):
    /// a step changes one node, so a successor copies one node's state, not every node's.
    pub(crate) nodes: Vec<Option<Rc<P>>>,
    /// Shared the same way.
    pub(crate) durable: Vec<Option<Rc<P::Durable>>>,
    pub(crate) history: Vec<Observation<P::Event>>,
    pub(crate) replies: Vec<Observation<Replied<P::Reply>>>,
    pub(crate) crashes: BTreeMap<NodeId, Duration>,
    pub(crate) gst_ns: u64,
    pub(crate) restarts: Vec<(NodeId, Duration)>,
    pub(crate) clocks: Vec<crate::clock::NodeClock>,
    pub(crate) byzantine: std::collections::BTreeSet<NodeId>,
}

impl<P: Protocol> World<P> {
    /// True time since the start of the run.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now_ns)
    }

    /// The ids of every node, running or not. Node ids are `1..=n`.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (1..=self.nodes.len() as u32).map(NodeId)
    }

    /// The state of `node` if it is running.
    pub fn node(&self, node: NodeId) -> Option<&P> {
        self.nodes.get((node.0 as usize).wrapping_sub(1))?.as_deref()
    }

    /// Every running node with its state.
    pub fn running(&self) -> impl Iterator<Item = (NodeId, &P)> + '_ {
        self.ids().zip(self.nodes.iter()).filter_map(|(id, n)| n.as_deref().map(|p| (id, p)))
    }

    /// The state `node` last persisted.
    pub fn durable(&self, node: NodeId) -> Option<&P::Durable> {
        self.durable.get((node.0 as usize).wrapping_sub(1))?.as_deref()
    }

    /// Every event emitted so far, stamped with true time.
    pub fn history(&self) -> &[Observation<P::Event>] {
        &self.history
    }

    /// Every reply to a command so far, stamped with true time.
    pub fn replies(&self) -> &[Observation<Replied<P::Reply>>] {
        &self.replies
    }

    /// What `node`'s clocks read now (whether or not it is running).
    pub fn clock(&self, node: NodeId) -> Option<palisade_core::Now> {
        let c = self.clocks.get((node.0 as usize).wrapping_sub(1))?;
        Some(c.read(self.now_ns))
    }

    /// Every restart so far: which node, and when.
    pub fn restarts(&self) -> &[(NodeId, Duration)] {
        &self.restarts
    }

    /// Nodes replaced by adversaries: checkers judge only the others.
    pub fn byzantine(&self) -> &std::collections::BTreeSet<NodeId> {
        &self.byzantine
    }

    /// True when `node` is honest (not replaced by an adversary).
    pub fn is_honest(&self, node: NodeId) -> bool {
        !self.byzantine.contains(&node)
    }

    /// Global stabilisation time: when the last scheduled fault ends. Liveness properties
    /// are checked as "within D after GST".
    pub fn gst(&self) -> Duration {
        Duration::from_nanos(self.gst_ns)
    }

    /// The time of each node's most recent crash that has not been followed by a restart.
    pub fn crashes(&self) -> &BTreeMap<NodeId, Duration> {
        &self.crashes
    }

    /// A copy that shares every node's state and durable state with `self` until one of
    /// them changes it (the explorer's states; they copy a node on write).
    pub(crate) fn share(&self) -> Self {
        World {
            now_ns: self.now_ns,
            nodes: self.nodes.clone(),
            durable: self.durable.clone(),
            history: self.history.clone(),
            replies: self.replies.clone(),
            crashes: self.crashes.clone(),
            gst_ns: self.gst_ns,
            restarts: self.restarts.clone(),
            clocks: self.clocks.clone(),
            byzantine: self.byzantine.clone(),
        }
    }

    /// Node `i`'s state to change, if it is running, in a world whose nodes are never
    /// shared: the simulator's (only the explorer's states share nodes, and it copies them
    /// on write instead; [`Clone`] copies every node).
    pub(crate) fn unshared_node_mut(&mut self, i: usize) -> Option<&mut P> {
        let node = self.nodes.get_mut(i)?.as_mut()?;
        Some(Rc::get_mut(node).expect("the simulator's world never shares a node's state"))
    }
}

impl<P: Protocol + Clone> Clone for World<P> {
    /// A deep copy, so a checker or a test may keep one while the simulation goes on.
    fn clone(&self) -> Self {
        let mut copy = self.share();
        for node in copy.nodes.iter_mut().flatten() {
            *node = Rc::new(P::clone(node));
        }
        for durable in copy.durable.iter_mut().flatten() {
            *durable = Rc::new(P::Durable::clone(durable));
        }
        copy
    }
}

/// A property checked during and at the end of a run.
pub trait Checker<P: Protocol> {
    /// Called after every event. Return the first violation found.
    fn after_event(&mut self, world: &World<P>) -> Result<(), Violation>;

    /// Called once when the run ends without a violation (for "eventually" properties).
    fn at_end(&mut self, world: &World<P>) -> Result<(), Violation> {
        let _ = world;
        Ok(())
    }
}

/// Any closure over the world is a checker that runs after every event.
impl<P: Protocol, F: FnMut(&World<P>) -> Result<(), Violation>> Checker<P> for F {
    fn after_event(&mut self, world: &World<P>) -> Result<(), Violation> {
        self(world)
    }
}

/// A checker that runs only at the end of the run.
pub struct AtEnd<F>(pub F);

impl<P: Protocol, F: FnMut(&World<P>) -> Result<(), Violation>> Checker<P> for AtEnd<F> {
    fn after_event(&mut self, _world: &World<P>) -> Result<(), Violation> {
        Ok(())
    }

    fn at_end(&mut self, world: &World<P>) -> Result<(), Violation> {
        (self.0)(world)
    }
}

/// A checker applied to each new history entry exactly once, after the event that made it.
pub struct EachEvent<F> {
    seen: usize,
    check: F,
}

impl<F> EachEvent<F> {
    /// Wraps a check of one observation (with the crash table at that moment).
    pub fn new(check: F) -> Self {
        EachEvent { seen: 0, check }
    }
}

impl<P, F> Checker<P> for EachEvent<F>
where
    P: Protocol,
    F: FnMut(&Observation<P::Event>, &BTreeMap<NodeId, Duration>) -> Result<(), Violation>,
{
    fn after_event(&mut self, world: &World<P>) -> Result<(), Violation> {
        while let Some(obs) = world.history.get(self.seen) {
            self.seen += 1;
            (self.check)(obs, &world.crashes)?;
        }
        Ok(())
    }
}

/// A liveness property checked as partial synchrony allows: `holds` must become true
/// within `within` after GST (the end of the last scheduled fault). The run fails at the
/// first event past the deadline if it never held after GST, or at the end of a run that
/// reached the deadline without it holding.
pub struct WithinAfterGst<F> {
    name: &'static str,
    within: Duration,
    holds: F,
    satisfied: bool,
}

impl<F> WithinAfterGst<F> {
    /// A liveness checker named `name` for the property `holds`.
    pub fn new(name: &'static str, within: Duration, holds: F) -> Self {
        WithinAfterGst { name, within, holds, satisfied: false }
    }

    fn verdict<P: Protocol>(&self, world: &World<P>) -> Result<(), Violation>
    where
        F: FnMut(&World<P>) -> bool,
    {
        let deadline = world.gst() + self.within;
        if !self.satisfied && world.now() > deadline {
            return Err(Violation::new(
                self.name,
                format!("did not hold within {:?} after GST at {:?}", self.within, world.gst()),
            ));
        }
        Ok(())
    }
}

impl<P: Protocol, F: FnMut(&World<P>) -> bool> Checker<P> for WithinAfterGst<F> {
    fn after_event(&mut self, world: &World<P>) -> Result<(), Violation> {
        if !self.satisfied && world.now() >= world.gst() && (self.holds)(world) {
            self.satisfied = true;
        }
        self.verdict(world)
    }

    fn at_end(&mut self, world: &World<P>) -> Result<(), Violation> {
        if !self.satisfied && world.now() >= world.gst() && (self.holds)(world) {
            self.satisfied = true;
        }
        self.verdict(world)
    }
}

/// Liveness per operation under partial synchrony: every operation in progress at GST or
/// started after it completes within `within` of `max(start, GST)`. Operations are told
/// apart by node (one outstanding per node, as a client issues them): `starts` and
/// `completes` classify a node's events. An operation whose node crashes is abandoned (its
/// outcome is unknown, Jepsen's `info`), not late. Checked after every event and at the end.
pub struct EveryOperationWithin<S, C> {
    name: &'static str,
    within: Duration,
    starts: S,
    completes: C,
    pending: BTreeMap<NodeId, Duration>,
    seen: usize,
}

impl<S, C> EveryOperationWithin<S, C> {
    /// A liveness checker named `name`: each operation, from the event `starts` accepts to
    /// the one `completes` accepts on the same node, takes at most `within` after GST.
    pub fn new(name: &'static str, within: Duration, starts: S, completes: C) -> Self {
        EveryOperationWithin { name, within, starts, completes, pending: BTreeMap::new(), seen: 0 }
    }

    fn verdict<P: Protocol>(&mut self, world: &World<P>) -> Result<(), Violation>
    where
        S: FnMut(&P::Event) -> bool,
        C: FnMut(&P::Event) -> bool,
    {
        let gst = world.gst();
        while let Some(o) = world.history.get(self.seen) {
            self.seen += 1;
            if (self.completes)(&o.event) {
                if let Some(started) = self.pending.remove(&o.node)
                    && o.at > started.max(gst) + self.within
                {
                    return Err(Violation::new(
                        self.name,
                        format!(
                            "{}'s operation started at {started:?} took until {:?}, more than {:?} after max(start, GST at {gst:?})",
                            o.node, o.at, self.within
                        ),
                    ));
                }
            } else if (self.starts)(&o.event) {
                self.pending.insert(o.node, o.at);
            }
        }
        // Abandon what a crash interrupted.
        let restarted_after = |n: NodeId, t: Duration| world.restarts.iter().any(|&(m, at)| m == n && at > t);
        self.pending.retain(|&n, &mut t| !world.crashes.contains_key(&n) && !restarted_after(n, t));
        let now = world.now();
        for (&node, &started) in &self.pending {
            let deadline = started.max(gst) + self.within;
            if now > deadline {
                return Err(Violation::new(
                    self.name,
                    format!(
                        "{node}'s operation started at {started:?} had not completed {:?} after max(start, GST at {gst:?})",
                        self.within
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl<P, S, C> Checker<P> for EveryOperationWithin<S, C>
where
    P: Protocol,
    S: FnMut(&P::Event) -> bool,
    C: FnMut(&P::Event) -> bool,
{
    fn after_event(&mut self, world: &World<P>) -> Result<(), Violation> {
        self.verdict(world)
    }

    fn at_end(&mut self, world: &World<P>) -> Result<(), Violation> {
        self.verdict(world)
    }
}

/// Progress that never stalls after GST: an event `is_progress` accepts happens within
/// `within` of GST, and after that never more than `within` apart, for as long as the run
/// lasts. Re-armed after every progress event, unlike [`WithinAfterGst`], which is satisfied
/// once.
pub struct ProgressAfterGst<F> {
    name: &'static str,
    within: Duration,
    is_progress: F,
    last: Option<Duration>,
    seen: usize,
}

impl<F> ProgressAfterGst<F> {
    /// A liveness checker named `name` for the events `is_progress` accepts.
    pub fn new(name: &'static str, within: Duration, is_progress: F) -> Self {
        ProgressAfterGst { name, within, is_progress, last: None, seen: 0 }
    }

    fn verdict<P: Protocol>(&mut self, world: &World<P>) -> Result<(), Violation>
    where
        F: FnMut(&Observation<P::Event>) -> bool,
    {
        let gst = world.gst();
        while let Some(o) = world.history.get(self.seen) {
            self.seen += 1;
            if o.at >= gst && (self.is_progress)(o) {
                if let Some(last) = self.last.filter(|&l| o.at > l + self.within) {
                    return Err(Violation::new(
                        self.name,
                        format!(
                            "no progress from {last:?} to {:?}, more than {:?}, after GST at {gst:?}",
                            o.at, self.within
                        ),
                    ));
                }
                self.last = Some(o.at);
            }
        }
        let since = self.last.unwrap_or(gst).max(gst);
        if world.now() > since + self.within {
            return Err(Violation::new(
                self.name,
                format!("no progress for {:?} since {since:?} (GST at {gst:?})", self.within),
            ));
        }
        Ok(())
    }
}

impl<P: Protocol, F: FnMut(&Observation<P::Event>) -> bool> Checker<P> for ProgressAfterGst<F> {
    fn after_event(&mut self, world: &World<P>) -> Result<(), Violation> {
        self.verdict(world)
    }

    fn at_end(&mut self, world: &World<P>) -> Result<(), Violation> {
        self.verdict(world)
    }
}
