//! A run driven step by step by a script instead of the network's random draws: how an
//! explorer counterexample is replayed in the timed simulator
//! ([`crate::explore::replay_in_simulator`]).
//!
//! Messages are held when they are sent, not given a fate: a script step delivers, drops
//! or duplicates one, fires a node's timer, crashes or restarts a node, or hands it a
//! client command, each at the true time the script gives. Everything else is the
//! simulator's own code: the same handlers, trace, checkers and clocks as a random run.

use super::{Payload, Pending, Simulation, Wire};
use crate::clock::NodeClock;
use crate::fault::FaultKind;
use crate::trace::{DropReason, TraceKind};
use palisade_core::codec::{Codec, DEFAULT_CODEC};
use palisade_core::{NodeId, Protocol, RequestId, Violation};
use std::collections::VecDeque;

/// A node's protocol seed and monotonic clock origin in an incarnation (node index from 0,
/// incarnation from 1): the script's, so the replayed nodes draw and read what the
/// explorer's did.
pub(crate) type Identity = Box<dyn Fn(usize, u64) -> (u64, u64)>;

/// What a scripted run keeps: the messages sent and not yet delivered or dropped.
pub(crate) struct Script<M> {
    held: Vec<Held<M>>,
    /// The true time each message will be delivered or dropped at, in the order they are
    /// sent (for the trace's arrows); `end_ns` for those the script never delivers.
    deliver_at: VecDeque<u64>,
    end_ns: u64,
    identity: Identity,
}

/// A message sent and held for the script, with the encoding that identifies it.
struct Held<M> {
    from: NodeId,
    to: NodeId,
    bytes: Vec<u8>,
    wire: Wire<M>,
}

/// One step of a script. Messages are named by sender, receiver and encoding; of several
/// identical ones, the oldest is taken.
pub(crate) enum ScriptStep<C> {
    Deliver { from: NodeId, to: NodeId, bytes: Vec<u8> },
    Drop { from: NodeId, to: NodeId, bytes: Vec<u8> },
    Duplicate { from: NodeId, to: NodeId, bytes: Vec<u8> },
    Timer(NodeId),
    Crash(NodeId),
    Restart(NodeId),
    Command { node: NodeId, req: RequestId, cmd: C },
}

impl<P: Protocol> Simulation<P> {
    /// A simulation that a script drives: `drifts` in ppm per node, each node's seed and
    /// clock origin from `identity`, and `deliver_at` the delivery time of each message in
    /// the order they will be sent (see [`Script`]).
    pub(crate) fn scripted(
        config: super::SimConfig,
        protocol_config: P::Config,
        identity: Identity,
        deliver_at: Vec<u64>,
        end_ns: u64,
    ) -> Self {
        let mut sim = Simulation::new(config, protocol_config);
        for (i, clock) in sim.world.clocks.iter_mut().enumerate() {
            let ppm = clock.drift_ppm();
            *clock = NodeClock::new(identity(i, 1).1);
            clock.set_drift(0, ppm);
        }
        sim.script =
            Some(Box::new(Script { held: Vec::new(), deliver_at: deliver_at.into(), end_ns, identity }));
        sim
    }

    /// Node `i`'s protocol seed and clock origin in `incarnation` (from 1), if a script
    /// sets them.
    pub(super) fn scripted_identity(&self, i: usize, incarnation: u64) -> Option<(u64, u64)> {
        self.script.as_ref().map(|s| (s.identity)(i, incarnation))
    }

    /// Holds a message for the script instead of drawing its fate.
    pub(super) fn hold(&mut self, from: NodeId, to: NodeId, wire: Wire<P::Message>) {
        let bytes = match &wire.payload {
            Payload::Msg(m) => DEFAULT_CODEC.encode(m).unwrap_or_default(),
            Payload::Bytes(b) => b.0.to_vec(),
        };
        let Some(deliver_ns) = self.script.as_mut().map(|s| s.next_arrival()) else { return };
        self.record_wire(TraceKind::Send { from, to, deliver_ns }, &wire);
        if let Some(script) = self.script.as_mut() {
            script.held.push(Held { from, to, bytes, wire });
        }
    }

    /// Forgets what crashed `node` had sent itself: it was in its memory, not on the wire.
    pub(super) fn forget_held_self_messages(&mut self, node: NodeId) {
        if let Some(script) = self.script.as_mut() {
            script.held.retain(|h| !(h.from == node && h.to == node));
        }
    }

    /// Starts the nodes and runs the checkers on the initial state.
    pub(crate) fn script_start(&mut self) -> Option<Violation> {
        self.start();
        self.check_all()
    }

    /// Takes one step at true time `at_ns`, then runs the checkers. `Err` when the step
    /// cannot be taken here (no such message held, no timer due at `at_ns`, time going
    /// back): the simulator and the script's author disagree.
    pub(crate) fn script_step(
        &mut self,
        at_ns: u64,
        step: ScriptStep<P::Command>,
    ) -> Result<Option<Violation>, String> {
        if at_ns < self.world.now_ns {
            return Err(format!("a step at {at_ns} ns, before the simulator's {} ns", self.world.now_ns));
        }
        let before = self.world.now_ns;
        self.world.now_ns = at_ns;
        let item = match step {
            ScriptStep::Deliver { from, to, bytes } => {
                let wire = self.take_held(from, to, &bytes)?;
                Pending::Deliver { from, to, wire }
            }
            ScriptStep::Drop { from, to, bytes } => {
                let wire = self.take_held(from, to, &bytes)?;
                self.drop_wire(from, to, DropReason::Loss, &wire);
                return Ok(self.check_all());
            }
            ScriptStep::Duplicate { from, to, bytes } => {
                let script = self.script.as_mut().ok_or("not a scripted simulation")?;
                let wire = script.held[script.position(from, to, &bytes)?].wire.duplicate();
                let deliver_ns = script.next_arrival();
                self.record_wire(TraceKind::Duplicate { from, to, deliver_ns }, &wire);
                if let Some(script) = self.script.as_mut() {
                    script.held.push(Held { from, to, bytes, wire });
                }
                return Ok(self.check_all());
            }
            ScriptStep::Timer(node) => {
                let i = self.index(node)?;
                let deadline = self.runtime[i].armed.ok_or_else(|| format!("{node} has no timer armed"))?;
                let due = self.world.clocks[i].true_time_of(deadline, before);
                if due != at_ns {
                    return Err(format!("{node}'s timer is due at {due} ns, not at {at_ns} ns"));
                }
                Pending::Timer { node, generation: self.runtime[i].generation }
            }
            ScriptStep::Crash(node) => {
                self.index(node)?;
                self.inject(FaultKind::Crash(node));
                self.forget_held_self_messages(node);
                return Ok(self.check_all());
            }
            ScriptStep::Restart(node) => {
                self.index(node)?;
                self.inject(FaultKind::Restart(node));
                return Ok(self.check_all());
            }
            ScriptStep::Command { node, req, cmd } => {
                self.index(node)?;
                Pending::Command { node, req, cmd: Box::new(cmd) }
            }
        };
        match self.handle(item) {
            Err(v) => Ok(Some(v)),
            Ok(()) => Ok(self.check_all()),
        }
    }

    /// The messages held: sender, receiver and encoding, sorted.
    pub(crate) fn script_held(&self) -> Vec<(NodeId, NodeId, Vec<u8>)> {
        let mut all: Vec<_> =
            self.script.iter().flat_map(|s| s.held.iter().map(|h| (h.from, h.to, h.bytes.clone()))).collect();
        all.sort();
        all
    }

    /// Ends a scripted run: the report carries `found`, the first violation the steps met;
    /// else the first of the simulator's end-of-run checkers to fail on the world as the
    /// script left it.
    pub(crate) fn script_end(&mut self, found: Option<Violation>) -> super::RunReport {
        if let Some(v) = found {
            return self.stop_with(v);
        }
        let at_end = self.checkers.iter_mut().find_map(|c| c.at_end(&self.world).err());
        match at_end {
            Some(v) => self.stop_with_cause(v, Some("end of run")),
            None => self.finish_report(),
        }
    }

    fn index(&self, node: NodeId) -> Result<usize, String> {
        Self::idx(node).filter(|&i| i < self.world.nodes.len()).ok_or_else(|| format!("no node {node}"))
    }

    fn take_held(&mut self, from: NodeId, to: NodeId, bytes: &[u8]) -> Result<Wire<P::Message>, String> {
        let script = self.script.as_mut().ok_or("not a scripted simulation")?;
        let k = script.position(from, to, bytes)?;
        Ok(script.held.remove(k).wire)
    }
}

impl<M> Script<M> {
    /// Where the oldest held message from `from` to `to` with this encoding is.
    fn position(&self, from: NodeId, to: NodeId, bytes: &[u8]) -> Result<usize, String> {
        self.held
            .iter()
            .position(|h| h.from == from && h.to == to && h.bytes == bytes)
            .ok_or_else(|| format!("no message from {from} to {to} with that encoding is held"))
    }

    /// When the next message sent (or copied) arrives, by the script.
    fn next_arrival(&mut self) -> u64 {
        self.deliver_at.pop_front().unwrap_or(self.end_ns)
    }
}
