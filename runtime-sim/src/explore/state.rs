//! One state of the explorer, the choices it offers, and applying one.

use super::Setup;
use super::symmetry::Symmetry;
use crate::check::World;
use crate::clock::NodeClock;
use palisade_core::codec::{Codec, DEFAULT_CODEC};
use palisade_core::protocol::{Init, Output};
use palisade_core::{NodeId, Observation, Protocol, Renaming, Replied, RequestId, Violation};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::time::Duration;

/// Every node's monotonic clock reads this at true time zero (and a restarted node's
/// clock starts again from `incarnation` times this), so instants of different
/// incarnations never compare as if they were one clock.
const MONO_ORIGIN_NS: u64 = 1_000_000_000_000;

/// A message in flight, with its encoding (what identifies it in a fingerprint).
#[derive(Clone)]
struct Flight<M> {
    from: NodeId,
    to: NodeId,
    bytes: Vec<u8>,
    msg: M,
    /// True time it was sent (part of the state only under [`super::Bounds::max_delay`]).
    sent_ns: u64,
    /// Fingerprint of sender, receiver and encoding, computed once when it is sent.
    fp: u128,
    /// The same under each of the symmetry's renamings ([`Symmetry::every_renaming`]).
    renamed_fps: Vec<u128>,
}

/// A choice at a state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    Deliver(usize),
    Drop(usize),
    Duplicate(usize),
    Timer(NodeId),
    Crash(NodeId),
    Restart(NodeId),
    Command(NodeId),
}

/// One step of a path, as a counterexample shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// True time of the step.
    pub at: Duration,
    /// What happened, in words.
    pub what: String,
}

/// One link of a path: the initial clock rates, then each choice made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StepChoice {
    Start(Vec<i64>),
    Made(Choice),
}

impl Step {
    /// The first step of every path: the clock rates the explorer chose.
    fn start(drifts: &[i64]) -> Self {
        let rates: Vec<String> =
            drifts.iter().enumerate().map(|(i, d)| format!("n{} {d:+} ppm", i + 1)).collect();
        Step { at: Duration::ZERO, what: format!("start; clocks: {}", rates.join(", ")) }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>9.3}s  {}", self.at.as_secs_f64(), self.what)
    }
}

/// A state: the world checkers see, plus what the explorer needs to go on.
pub(crate) struct XState<P: Protocol> {
    pub(crate) world: World<P>,
    /// Shared, not copied, between a state and its successors: a message never changes in
    /// flight.
    flight: Vec<Rc<Flight<P::Message>>>,
    issued: Vec<usize>,
    incarnations: Vec<u32>,
    crashes_left: u32,
    drops_left: u32,
    dups_left: u32,
    /// Messages' send times matter (delays are bounded): they are part of the state.
    timed_flight: bool,
    /// Each node's fingerprint ([`Self::node_fingerprint`]), kept current by every step so a
    /// state's fingerprint rehashes only what changed.
    node_fps: Vec<u128>,
    /// Each node's durable state's fingerprint ([`durable_fp`]), computed when it persists.
    durable_fps: Vec<Option<u128>>,
    /// Each history event's and reply's fingerprint, in the order they were emitted,
    /// computed once when it is.
    event_fps: Vec<u128>,
    /// Whether `event_fps[k]` is a reply's (else an event's).
    is_reply: Vec<bool>,
    /// `node_fps` and `event_fps` under each of the symmetry's renamings, kept current the
    /// same way, so a representative costs no renamed copy: `renamed_node_fps[k][i]` is
    /// node `i`'s state renamed (it belongs in the slot the renaming gives `i`).
    renamed_node_fps: Vec<Vec<u128>>,
    renamed_event_fps: Vec<Vec<u128>>,
    /// Whether those are kept (a search that reduces by the symmetry); paths and replays
    /// fingerprint nothing.
    tracks_renamings: bool,
    /// Whether messages `Setup::obsolete` names are forgotten ([`super::Options::forget_obsolete`]).
    forgets_obsolete: bool,
}

impl<P: Protocol + Clone> Clone for XState<P> {
    fn clone(&self) -> Self {
        XState {
            world: self.world.share(),
            flight: self.flight.clone(),
            issued: self.issued.clone(),
            incarnations: self.incarnations.clone(),
            crashes_left: self.crashes_left,
            drops_left: self.drops_left,
            dups_left: self.dups_left,
            timed_flight: self.timed_flight,
            node_fps: self.node_fps.clone(),
            durable_fps: self.durable_fps.clone(),
            event_fps: self.event_fps.clone(),
            is_reply: self.is_reply.clone(),
            renamed_node_fps: self.renamed_node_fps.clone(),
            renamed_event_fps: self.renamed_event_fps.clone(),
            tracks_renamings: self.tracks_renamings,
            forgets_obsolete: self.forgets_obsolete,
        }
    }
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    DEFAULT_CODEC.encode(value).unwrap_or_default()
}

/// A 128-bit fingerprint: two lanes, each absorbing the input 8 bytes at a time with
/// wyhash's multiply-fold (the 128-bit product of the lane and the word, high half xored
/// into low), under different constants, then a MurmurHash3 finaliser. Not cryptographic;
/// two distinct states share a fingerprint (and one is wrongly skipped) with probability
/// about n² / 2^129 for n states if the mixing were as good as a random function; it is
/// not quite (a lane absorbing a word equal to itself is zeroed), so read that as a floor.
/// stateright uses 64 bits.
struct Fp {
    a: u64,
    b: u64,
    len: u64,
}

const FP_A: u64 = 0xa076_1d64_78bd_642f;
const FP_B: u64 = 0xe703_7ed1_a0b4_28db;

fn fold(x: u64, k: u64) -> u64 {
    let r = u128::from(x) * u128::from(k);
    (r as u64) ^ ((r >> 64) as u64)
}

fn finalise(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Fp {
    fn new() -> Self {
        Fp { a: 0x8ebc_6af0_9c88_c6e3, b: 0x5899_65cc_7537_4cc3, len: 0 }
    }

    fn finish(&self) -> u128 {
        let a = finalise(fold(self.a ^ self.len, FP_B));
        let b = finalise(fold(self.b ^ self.len.rotate_left(32), FP_A));
        (u128::from(a) << 64) | u128::from(b)
    }
}

impl Hasher for Fp {
    fn write(&mut self, bytes: &[u8]) {
        // The length first, in a word of its own: byte strings of different lengths never
        // absorb the same words (a string's hash is its bytes and a 0xff, unprefixed).
        self.write_u64(bytes.len() as u64 ^ 0x6279_7465_735f_6c65);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, w: u64) {
        self.a = fold(self.a ^ w, FP_A);
        self.b = fold(self.b ^ w.rotate_left(29), FP_B);
        self.len = self.len.wrapping_add(1);
    }

    fn write_u8(&mut self, w: u8) {
        self.write_u64(u64::from(w) | 1 << 62);
    }

    fn write_u32(&mut self, w: u32) {
        self.write_u64(u64::from(w) | 1 << 61);
    }

    fn write_usize(&mut self, w: usize) {
        self.write_u64(w as u64);
    }

    fn finish(&self) -> u64 {
        (Fp::finish(self) >> 64) as u64
    }
}

/// Where trace lines go while a path is replayed; `None` while exploring, so the hot path
/// neither serialises messages nor describes steps.
pub(crate) type Tracer<'a> = Option<&'a mut dyn FnMut(Traced)>;

fn emit(trace: &mut Tracer<'_>, line: impl FnOnce() -> Traced) {
    if let Some(sink) = trace {
        sink(line());
    }
}

/// What a trace line needs to say; see [`replay`].
pub(crate) enum Traced {
    Send { from: NodeId, to: NodeId, msg: serde_json::Value },
    Deliver { from: NodeId, to: NodeId, msg: serde_json::Value },
    Drop { from: NodeId, to: NodeId, msg: serde_json::Value },
    Event { node: NodeId, event: serde_json::Value },
    Timeout { node: NodeId },
    Persist { node: NodeId },
    Crash { node: NodeId },
    Restart { node: NodeId },
    Command { node: NodeId, req: u64 },
    Reply { node: NodeId, req: u64, reply: serde_json::Value },
}

impl<P: Protocol + Clone + Hash> XState<P> {
    /// The initial states: one per assignment of clock rates at the ends of the drift bound.
    /// `reduce`: the search merges states by [`Setup::symmetry`], so each state keeps its
    /// renamed fingerprints; `forget`: messages [`Setup::obsolete`] names are forgotten.
    pub(crate) fn initial(setup: &Setup<P>, reduce: bool, forget: bool) -> Vec<(Self, Vec<i64>)> {
        let rho = i64::from(setup.model.clocks.max_drift_ppm);
        let n = setup.nodes as usize;
        let rates: Vec<i64> = if rho == 0 { vec![0] } else { vec![-rho, rho] };
        let mut assignments: Vec<Vec<i64>> = vec![Vec::new()];
        for _ in 0..n {
            assignments = assignments
                .into_iter()
                .flat_map(|a| {
                    rates.iter().map(move |&r| {
                        let mut b = a.clone();
                        b.push(r);
                        b
                    })
                })
                .collect();
        }
        assignments
            .into_iter()
            .map(|drifts| (Self::start(setup, &drifts, reduce, forget, &mut None), drifts))
            .collect()
    }

    /// The initial state with these clock rates, tracing what the nodes send as they boot.
    pub(crate) fn start(
        setup: &Setup<P>,
        drifts: &[i64],
        reduce: bool,
        forget: bool,
        trace: &mut Tracer<'_>,
    ) -> Self {
        let n = setup.nodes as usize;
        let members: Vec<NodeId> = (1..=setup.nodes).map(NodeId).collect();
        let clocks: Vec<NodeClock> = drifts
            .iter()
            .map(|&ppm| {
                let mut c = NodeClock::new(mono_origin(0));
                c.set_drift(0, ppm);
                c
            })
            .collect();
        let mut s = XState {
            world: World {
                now_ns: 0,
                nodes: (0..n).map(|_| None).collect(),
                durable: vec![None; n],
                history: Vec::new(),
                replies: Vec::new(),
                crashes: BTreeMap::new(),
                gst_ns: 0,
                restarts: Vec::new(),
                clocks,
                byzantine: Default::default(),
            },
            flight: Vec::new(),
            issued: vec![0; n],
            incarnations: vec![0; n],
            crashes_left: setup.bounds.crashes,
            drops_left: if setup.model.network.loss { setup.bounds.drops } else { 0 },
            dups_left: if setup.model.network.duplication { setup.bounds.duplicates } else { 0 },
            timed_flight: setup.bounds.max_delay.is_some(),
            node_fps: vec![0; n],
            durable_fps: vec![None; n],
            event_fps: Vec::new(),
            is_reply: Vec::new(),
            renamed_node_fps: Vec::new(),
            renamed_event_fps: Vec::new(),
            tracks_renamings: reduce && setup.symmetry.is_some(),
            forgets_obsolete: forget,
        };
        let renamings = s.tracked(setup).map_or(0, |sym| sym.every_renaming().len());
        s.renamed_node_fps = vec![vec![0; n]; renamings];
        s.renamed_event_fps = vec![Vec::new(); renamings];
        for &id in &members {
            s.boot(setup, id, None, trace);
        }
        for i in 0..n {
            s.refresh_node_fp(setup, i);
        }
        s.forget_obsolete(setup);
        s
    }

    fn boot(&mut self, setup: &Setup<P>, id: NodeId, restored: Option<P::Durable>, trace: &mut Tracer<'_>) {
        let i = id.0 as usize - 1;
        let members: Vec<NodeId> = (1..=setup.nodes).map(NodeId).collect();
        let seed = node_seed(setup, id, self.incarnations[i]);
        let now = self.world.clocks[i].read(self.world.now_ns);
        let node = P::new(Init::restart(id, members, setup.config.clone(), restored, seed, now));
        self.world.nodes[i] = Some(Rc::new(node));
        self.drain(setup, id, trace);
    }

    /// Applies a node's outputs: sends join the messages in flight, events the history,
    /// persists the durable state.
    fn drain(&mut self, setup: &Setup<P>, id: NodeId, trace: &mut Tracer<'_>) {
        let i = id.0 as usize - 1;
        let now = self.world.now_ns;
        while let Some(out) = self.world.nodes[i].as_mut().map(Rc::make_mut).and_then(Protocol::poll_output) {
            match out {
                Output::Send { to, msg } => {
                    let bytes = encode(&msg);
                    emit(trace, || Traced::Send { from: id, to, msg: json(&msg) });
                    let fp = fingerprint_of(&(id, to, &bytes));
                    let renamed_fps =
                        self.tracked(setup).map_or(Vec::new(), |sym| renamed_message_fps(sym, id, to, &msg));
                    let f = Rc::new(Flight { from: id, to, bytes, msg, sent_ns: now, fp, renamed_fps });
                    let at =
                        self.flight.partition_point(|x| (x.to, x.from, &x.bytes) <= (f.to, f.from, &f.bytes));
                    self.flight.insert(at, f);
                }
                Output::Event(event) => {
                    emit(trace, || Traced::Event {
                        node: id,
                        event: serde_json::to_value(&event).unwrap_or_default(),
                    });
                    let at = Duration::from_nanos(now);
                    self.event_fps.push(event_fp(at, id, &event));
                    self.is_reply.push(false);
                    if let Some(sym) = self.tracked(setup) {
                        for (map, fps) in sym.every_renaming().iter().zip(&mut self.renamed_event_fps) {
                            fps.push(renamed_event_fp(sym, map, at, id, &event));
                        }
                    }
                    self.world.history.push(Observation { at, node: id, event });
                }
                Output::Reply { req, reply } => {
                    emit(trace, || Traced::Reply {
                        node: id,
                        req: req.0,
                        reply: serde_json::to_value(&reply).unwrap_or_default(),
                    });
                    let at = Duration::from_nanos(now);
                    self.event_fps.push(reply_fp(at, id, req, &reply));
                    self.is_reply.push(true);
                    if let Some(sym) = self.tracked(setup) {
                        for (map, fps) in sym.every_renaming().iter().zip(&mut self.renamed_event_fps) {
                            fps.push(renamed_reply_fp(sym, map, at, id, req, &reply));
                        }
                    }
                    self.world.replies.push(Observation { at, node: id, event: Replied { req, reply } });
                }
                Output::Persist(d) => {
                    emit(trace, || Traced::Persist { node: id });
                    self.durable_fps[i] = Some(durable_fp(&d));
                    self.world.durable[i] = Some(Rc::new(d));
                }
            }
        }
    }

    /// When each running node's timer fires, in true time.
    fn timers(&self) -> Vec<(u64, NodeId)> {
        let mut due = Vec::new();
        for (i, node) in self.world.nodes.iter().enumerate() {
            if let Some(deadline) = node.as_deref().and_then(Protocol::poll_timeout) {
                due.push((
                    self.world.clocks[i].true_time_of(deadline, self.world.now_ns),
                    NodeId(i as u32 + 1),
                ));
            }
        }
        due
    }

    fn up(&self, id: NodeId) -> bool {
        self.world.nodes[id.0 as usize - 1].is_some()
    }

    /// Every choice at this state.
    pub(crate) fn choices(&self, setup: &Setup<P>) -> Vec<Choice> {
        let mut out = Vec::new();
        for (k, f) in self.flight.iter().enumerate() {
            // Identical messages are one choice.
            if k > 0
                && (self.flight[k - 1].to, self.flight[k - 1].from, &self.flight[k - 1].bytes)
                    == (f.to, f.from, &f.bytes)
            {
                continue;
            }
            out.push(Choice::Deliver(k));
            // A message to self never crosses the network (as in both runtimes): it is not
            // lost or duplicated, only reordered with the rest.
            let local = f.from == f.to;
            if self.drops_left > 0 && !local {
                out.push(Choice::Drop(k));
            }
            if self.dups_left > 0 && !local {
                out.push(Choice::Duplicate(k));
            }
        }
        let horizon = setup.bounds.horizon.as_nanos() as u64;
        let timers = self.timers();
        let oldest = self.flight.iter().map(|f| f.sent_ns).min();
        let overdue = |t: u64| match (setup.bounds.max_delay, oldest) {
            (Some(d), Some(sent)) => t > sent.saturating_add(d.as_nanos() as u64),
            _ => false,
        };
        if let Some(&(first, _)) = timers.iter().filter(|(t, _)| *t <= horizon).min()
            && !overdue(first)
        {
            for &(t, id) in &timers {
                if t == first {
                    out.push(Choice::Timer(id));
                }
            }
        }
        let down = self.world.nodes.iter().filter(|n| n.is_none()).count();
        for id in (1..=setup.nodes).map(NodeId) {
            if self.up(id) {
                if self.crashes_left > 0
                    && setup.model.admits_crashes()
                    && setup.model.max_down.is_none_or(|m| down < m as usize)
                {
                    out.push(Choice::Crash(id));
                }
                let i = id.0 as usize - 1;
                let gap = super::COMMAND_GAP.as_nanos() as u64;
                if !overdue(self.world.now_ns + gap)
                    && (setup.workload)(id, self.issued[i], &self.world.history).is_some()
                {
                    out.push(Choice::Command(id));
                }
            } else if setup.model.admits_restarts() {
                out.push(Choice::Restart(id));
            }
        }
        out
    }

    /// Takes `choice`.
    pub(crate) fn apply(&mut self, setup: &Setup<P>, choice: &Choice) {
        self.apply_traced(setup, choice, &mut None);
    }

    /// Takes `choice`, emitting trace lines and returning the step as a counterexample
    /// shows it (its description is empty unless `trace` is set).
    pub(crate) fn apply_traced(&mut self, setup: &Setup<P>, choice: &Choice, trace: &mut Tracer<'_>) -> Step {
        // Steps are described only for a counterexample being replayed.
        let describing = trace.is_some();
        let mut what = String::new();
        // The one node a step can change.
        let touched = match *choice {
            Choice::Deliver(k) => Some(self.flight[k].to),
            Choice::Drop(_) | Choice::Duplicate(_) => None,
            Choice::Timer(id) | Choice::Crash(id) | Choice::Restart(id) | Choice::Command(id) => Some(id),
        };
        match *choice {
            Choice::Deliver(k) => {
                let f = self.flight.remove(k);
                if describing {
                    what = format!("{} -> {}: deliver {:?}", f.from, f.to, f.msg);
                }
                let i = f.to.0 as usize - 1;
                if let Some(node) = self.world.nodes[i].as_mut().map(Rc::make_mut) {
                    emit(trace, || Traced::Deliver { from: f.from, to: f.to, msg: json(&f.msg) });
                    let now = self.world.clocks[i].read(self.world.now_ns);
                    node.handle_message(now, f.from, f.msg.clone());
                    self.drain(setup, f.to, trace);
                } else {
                    emit(trace, || Traced::Drop { from: f.from, to: f.to, msg: json(&f.msg) });
                    if describing {
                        what.push_str(" (recipient down: lost)");
                    }
                }
            }
            Choice::Drop(k) => {
                let f = self.flight.remove(k);
                self.drops_left -= 1;
                emit(trace, || Traced::Drop { from: f.from, to: f.to, msg: json(&f.msg) });
                if describing {
                    what = format!("{} -> {}: the network loses {:?}", f.from, f.to, f.msg);
                }
            }
            Choice::Duplicate(k) => {
                let f = self.flight[k].clone();
                self.dups_left -= 1;
                if describing {
                    what = format!("{} -> {}: the network duplicates {:?}", f.from, f.to, f.msg);
                }
                emit(trace, || Traced::Send { from: f.from, to: f.to, msg: json(&f.msg) });
                self.flight.insert(k, f);
            }
            Choice::Timer(id) => {
                let i = id.0 as usize - 1;
                let due =
                    self.timers().into_iter().find(|&(_, n)| n == id).map_or(self.world.now_ns, |(t, _)| t);
                self.world.now_ns = self.world.now_ns.max(due);
                let now = self.world.clocks[i].read(self.world.now_ns);
                what =
                    format!("{id}: timer fires (its clock reads {:.3}s)", now.mono.as_nanos() as f64 / 1e9);
                emit(trace, || Traced::Timeout { node: id });
                if let Some(node) = self.world.nodes[i].as_mut().map(Rc::make_mut) {
                    node.handle_timeout(now);
                }
                self.drain(setup, id, trace);
            }
            Choice::Crash(id) => {
                let i = id.0 as usize - 1;
                self.world.nodes[i] = None;
                // What it sent itself was in its memory, not on the wire.
                self.flight.retain(|f| !(f.from == id && f.to == id));
                self.crashes_left -= 1;
                self.world.crashes.insert(id, Duration::from_nanos(self.world.now_ns));
                emit(trace, || Traced::Crash { node: id });
                if describing {
                    what = format!("{id}: crashes");
                }
            }
            Choice::Restart(id) => {
                let i = id.0 as usize - 1;
                self.incarnations[i] += 1;
                let origin = mono_origin(self.incarnations[i]);
                self.world.clocks[i].reboot(self.world.now_ns, origin);
                self.world.crashes.remove(&id);
                self.world.restarts.push((id, Duration::from_nanos(self.world.now_ns)));
                emit(trace, || Traced::Restart { node: id });
                if describing {
                    what = format!("{id}: restarts from its durable state");
                }
                let restored = self.world.durable[i].as_deref().cloned();
                self.boot(setup, id, restored, trace);
            }
            Choice::Command(id) => {
                let i = id.0 as usize - 1;
                // A client operation begins strictly after everything before it, so the
                // history orders it after every operation that has returned: the strictest
                // real-time order, which breaks whatever a looser one would.
                self.world.now_ns += super::COMMAND_GAP.as_nanos() as u64;
                if let Some(cmd) = (setup.workload)(id, self.issued[i], &self.world.history) {
                    if describing {
                        what = format!("{id}: the application asks {cmd:?}");
                    }
                    self.issued[i] += 1;
                    let req = RequestId(self.issued[i] as u64);
                    emit(trace, || Traced::Command { node: id, req: req.0 });
                    let now = self.world.clocks[i].read(self.world.now_ns);
                    if let Some(node) = self.world.nodes[i].as_mut().map(Rc::make_mut) {
                        node.handle_command(now, req, cmd);
                    }
                    self.drain(setup, id, trace);
                }
            }
        }
        if let Some(id) = touched {
            self.refresh_node_fp(setup, id.0 as usize - 1);
        }
        self.forget_obsolete(setup);
        Step { at: Duration::from_nanos(self.world.now_ns), what }
    }

    /// Forgets the messages in flight that `setup.obsolete` says can never matter, after
    /// checking what can be checked: delivering one now changes nothing at its receiver and
    /// sends only obsolete messages.
    fn forget_obsolete(&mut self, setup: &Setup<P>) {
        let Some(obsolete) = setup.obsolete.as_ref().filter(|_| self.forgets_obsolete) else { return };
        let mut k = 0;
        while k < self.flight.len() {
            let f = &self.flight[k];
            let up = self.up(f.from) && self.up(f.to);
            if up && obsolete(&self.world, f.from, f.to, &f.msg) {
                self.verify_obsolete(obsolete, k);
                self.flight.remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// Panics when delivering message `k` now would change its receiver or emit anything
    /// but messages the hook calls obsolete too.
    fn verify_obsolete(&self, obsolete: &super::Obsolete<P>, k: usize) {
        let f = &self.flight[k];
        let i = f.to.0 as usize - 1;
        let Some(node) = self.world.nodes[i].as_deref() else { return };
        let before = fingerprint_of(node);
        let mut probe = node.clone();
        let now = self.world.clocks[i].read(self.world.now_ns);
        probe.handle_message(now, f.from, f.msg.clone());
        let mut sends = Vec::new();
        while let Some(out) = probe.poll_output() {
            match out {
                Output::Send { to, msg } => sends.push((to, msg)),
                Output::Event(_) | Output::Reply { .. } | Output::Persist(_) => {
                    panic!(
                        "Setup::obsolete called {:?} from {} to {} obsolete, but delivering it emits an event, a reply or persists",
                        f.msg, f.from, f.to
                    )
                }
            }
        }
        assert!(
            fingerprint_of(&probe) == before,
            "Setup::obsolete called {:?} from {} to {} obsolete, but delivering it changes {}",
            f.msg,
            f.from,
            f.to,
            f.to
        );
        for (to, msg) in sends {
            assert!(
                obsolete(&self.world, f.to, to, &msg),
                "Setup::obsolete called {:?} from {} to {} obsolete, but delivering it sends {msg:?} to {to}, which is not",
                f.msg,
                f.from,
                f.to
            );
        }
    }

    /// What a choice acts on, for a scheduler that ranks choices ([`super::schedule`]): a
    /// message (by sender, receiver and encoding, so a message keeps its identity while other
    /// messages come and go), or a node's timer, command, crash or restart.
    pub(crate) fn actor(&self, choice: &Choice) -> u128 {
        let mut h = Fp::new();
        match *choice {
            Choice::Deliver(k) | Choice::Drop(k) | Choice::Duplicate(k) => {
                let f = &self.flight[k];
                let kind: u8 = match choice {
                    Choice::Deliver(_) => 0,
                    Choice::Drop(_) => 1,
                    _ => 2,
                };
                (kind, f.from, f.to, &f.bytes).hash(&mut h);
            }
            Choice::Timer(id) => (3u8, id).hash(&mut h),
            Choice::Crash(id) => (4u8, id).hash(&mut h),
            Choice::Restart(id) => (5u8, id).hash(&mut h),
            Choice::Command(id) => (6u8, id).hash(&mut h),
        }
        h.finish()
    }

    /// The sender, receiver and encoding of the message `choice` acts on, if it acts on one.
    pub(crate) fn message(&self, choice: &Choice) -> Option<(NodeId, NodeId, &[u8])> {
        match *choice {
            Choice::Deliver(k) | Choice::Drop(k) | Choice::Duplicate(k) => {
                let f = &self.flight[k];
                Some((f.from, f.to, &f.bytes))
            }
            _ => None,
        }
    }

    /// The messages in flight: sender, receiver and encoding, sorted.
    pub(crate) fn in_flight(&self) -> Vec<(NodeId, NodeId, Vec<u8>)> {
        let mut all: Vec<_> = self.flight.iter().map(|f| (f.from, f.to, f.bytes.clone())).collect();
        all.sort();
        all
    }

    /// Runs `checks` on this state.
    pub(crate) fn check(&self, checks: &[super::Invariant<P>]) -> Result<(), Violation> {
        checks.iter().try_for_each(|c| c(&self.world))
    }

    /// How many events and replies the history holds: it only ever grows.
    pub(crate) fn observations(&self) -> usize {
        self.world.history.len() + self.world.replies.len()
    }

    /// Runs `setup`'s safety properties on this state: [`super::Setup::invariants`] always,
    /// [`super::Setup::history_invariants`] only if the history holds more than `parent`
    /// observations (`None`: always), since a step that adds none cannot change their verdict
    /// from the parent's, which passed.
    pub(crate) fn check_safety(&self, setup: &Setup<P>, parent: Option<usize>) -> Result<(), Violation> {
        self.check(&setup.invariants)?;
        match parent {
            Some(before) if self.observations() <= before => Ok(()),
            _ => self.check(&setup.history_invariants),
        }
    }

    /// The state's fingerprint: 128 bits over everything that can influence what happens
    /// next or what a checker sees.
    pub(crate) fn fingerprint(&self) -> u128 {
        self.digest(self.node_fps.iter().copied(), |f| f.fp, &self.event_fps)
    }

    /// The fingerprint of this state renamed under the symmetry's renaming `k`
    /// ([`Symmetry::every_renaming`]), from the parts kept for it: the fingerprint
    /// [`Self::renamed`] would give, without the copy.
    fn renamed_fingerprint(&self, sym: &Symmetry<P>, k: usize) -> u128 {
        let fps = &self.renamed_node_fps[k];
        let nodes = (0..fps.len()).map(|j| fps[sym.source(k, NodeId(j as u32 + 1)).0 as usize - 1]);
        self.digest(nodes, |f| f.renamed_fps[k], &self.renamed_event_fps[k])
    }

    /// The fingerprint of a state with these node fingerprints (in slot order), message
    /// fingerprints and event fingerprints, and this state's time and fault budget. The
    /// messages in flight are a multiset: their fingerprints are summed, so their order
    /// (by sender, receiver and encoding, which a renaming changes) does not enter.
    fn digest(
        &self,
        nodes: impl ExactSizeIterator<Item = u128>,
        message: impl Fn(&Flight<P::Message>) -> u128,
        events: &[u128],
    ) -> u128 {
        let mut h = Fp::new();
        self.world.now_ns.hash(&mut h);
        nodes.len().hash(&mut h);
        nodes.for_each(|fp| fp.hash(&mut h));
        let mut flight = 0u128;
        for f in &self.flight {
            let fp = message(f);
            flight =
                flight.wrapping_add(if self.timed_flight { fingerprint_of(&(fp, f.sent_ns)) } else { fp });
        }
        (self.flight.len(), flight).hash(&mut h);
        events.hash(&mut h);
        (self.crashes_left, self.drops_left, self.dups_left).hash(&mut h);
        h.finish()
    }

    /// Node `i`'s protocol state and durable state renamed under `map`.
    fn renamed_node(&self, sym: &Symmetry<P>, i: usize, map: &Renaming) -> (Option<P>, Option<P::Durable>) {
        let node = self.world.nodes[i].as_deref().cloned().map(|mut p| {
            (sym.node)(&mut p, map);
            p
        });
        let durable = self.world.durable[i].as_deref().cloned().map(|mut d| {
            (sym.durable)(&mut d, map);
            d
        });
        (node, durable)
    }

    /// Node `i`'s fingerprint with its states renamed under `map`.
    fn renamed_node_fp(&self, sym: &Symmetry<P>, i: usize, map: &Renaming) -> u128 {
        let (node, durable) = self.renamed_node(sym, i, map);
        node_fp(
            node.as_ref(),
            durable.as_ref().map(durable_fp),
            &self.world.clocks[i],
            self.issued[i],
            self.incarnations[i],
        )
    }

    /// The symmetry whose renamed fingerprints this state keeps, if any.
    fn tracked<'a>(&self, setup: &'a Setup<P>) -> Option<&'a Symmetry<P>> {
        setup.symmetry.as_ref().filter(|_| self.tracks_renamings)
    }

    /// Recomputes node `i`'s fingerprint, and its renamed ones, after it changed.
    fn refresh_node_fp(&mut self, setup: &Setup<P>, i: usize) {
        self.node_fps[i] = self.node_fingerprint(i);
        let Some(sym) = self.tracked(setup) else { return };
        for (k, map) in sym.every_renaming().iter().enumerate() {
            self.renamed_node_fps[k][i] = self.renamed_node_fp(sym, i, map);
        }
    }

    fn node_fingerprint(&self, i: usize) -> u128 {
        node_fp(
            self.world.nodes[i].as_deref(),
            self.durable_fps[i],
            &self.world.clocks[i],
            self.issued[i],
            self.incarnations[i],
        )
    }

    /// The fingerprint of this state's representative under `sym`, with the renaming that
    /// takes the state there (`None` when the state is its own representative);
    /// [`super::symmetry`] says how it is chosen.
    pub(crate) fn representative(&self, setup: &Setup<P>, sym: &Symmetry<P>) -> (u128, Option<Renaming>) {
        if !sym.every_renaming().is_empty() {
            let mut best = (self.fingerprint(), None);
            for (k, map) in sym.every_renaming().iter().enumerate() {
                let fp = self.renamed_fingerprint(sym, k);
                if fp < best.0 {
                    best = (fp, Some(map));
                }
            }
            return (best.0, best.1.cloned());
        }
        match self.sorting_renaming(sym) {
            None => (self.fingerprint(), None),
            Some(map) => (self.renamed(setup, sym, &map).fingerprint(), Some(map)),
        }
    }

    /// The renaming that sorts `sym`'s nodes by their name-blind keys, unless it is the
    /// identity.
    fn sorting_renaming(&self, sym: &Symmetry<P>) -> Option<Renaming> {
        let mut keyed: Vec<(u128, NodeId)> =
            sym.nodes().iter().map(|&id| (self.sort_key(sym, id), id)).collect();
        keyed.sort_unstable();
        let order: Vec<NodeId> = keyed.into_iter().map(|(_, id)| id).collect();
        let map = sym.sorting(&order);
        (!map.is_identity()).then_some(map)
    }

    /// A class member's state, fingerprinted under a renaming that does not tell the
    /// members apart.
    fn sort_key(&self, sym: &Symmetry<P>, id: NodeId) -> u128 {
        let i = id.0 as usize - 1;
        let map = sym.key_renaming(id);
        self.renamed_node_fp(sym, i, &map)
    }

    /// This state with every node renamed under `map` (a permutation): each node's state
    /// moves to its new name's slot, and every message, event and reply names nodes anew.
    pub(crate) fn renamed(&self, setup: &Setup<P>, sym: &Symmetry<P>, map: &Renaming) -> Self {
        let n = self.world.nodes.len();
        let slot = |i: usize| map.apply(NodeId(i as u32 + 1)).0 as usize - 1;
        let mut out = self.clone();
        for i in 0..n {
            let j = slot(i);
            let (node, durable) = self.renamed_node(sym, i, map);
            out.durable_fps[j] = durable.as_ref().map(durable_fp);
            (out.world.nodes[j], out.world.durable[j]) = (node.map(Rc::new), durable.map(Rc::new));
            out.world.clocks[j] = self.world.clocks[i].clone();
            out.issued[j] = self.issued[i];
            out.incarnations[j] = self.incarnations[i];
        }
        for o in &mut out.world.history {
            o.node = map.apply(o.node);
            (sym.event)(&mut o.event, map);
        }
        for o in &mut out.world.replies {
            o.node = map.apply(o.node);
            (sym.reply)(&mut o.event.reply, map);
        }
        out.world.crashes = self.world.crashes.iter().map(|(&id, &at)| (map.apply(id), at)).collect();
        out.world.restarts = self.world.restarts.iter().map(|&(id, at)| (map.apply(id), at)).collect();
        out.world.byzantine = self.world.byzantine.iter().map(|&id| map.apply(id)).collect();
        let (mut events, mut replies) = (out.world.history.iter(), out.world.replies.iter());
        // The renamed state's fingerprints, plain and under each renaming it keeps.
        for (k, &reply) in self.is_reply.iter().enumerate() {
            let renamed = out.renamed_event_fps.iter_mut().zip(sym.every_renaming());
            if reply {
                let r = replies.next().expect("one reply per reply fingerprint");
                out.event_fps[k] = reply_fp(r.at, r.node, r.event.req, &r.event.reply);
                for (fps, m) in renamed {
                    fps[k] = renamed_reply_fp(sym, m, r.at, r.node, r.event.req, &r.event.reply);
                }
            } else {
                let e = events.next().expect("one event per event fingerprint");
                out.event_fps[k] = event_fp(e.at, e.node, &e.event);
                for (fps, m) in renamed {
                    fps[k] = renamed_event_fp(sym, m, e.at, e.node, &e.event);
                }
            }
        }
        out.flight = self
            .flight
            .iter()
            .map(|f| {
                let (from, to) = (map.apply(f.from), map.apply(f.to));
                let mut msg = f.msg.clone();
                (sym.message)(&mut msg, map);
                let bytes = encode(&msg);
                let fp = fingerprint_of(&(from, to, &bytes));
                let renamed_fps = renamed_message_fps(sym, from, to, &msg);
                Rc::new(Flight { from, to, bytes, msg, sent_ns: f.sent_ns, fp, renamed_fps })
            })
            .collect();
        out.flight.sort_by(|x, y| (x.to, x.from, &x.bytes).cmp(&(y.to, y.from, &y.bytes)));
        for i in 0..n {
            out.refresh_node_fp(setup, i);
        }
        out
    }
}

/// The protocol seed of node `id` in its `incarnation` (from 0): shared by a symmetry
/// class, else one per node and incarnation.
pub(crate) fn node_seed<P: Protocol>(setup: &Setup<P>, id: NodeId, incarnation: u32) -> u64 {
    setup
        .symmetry
        .as_ref()
        .and_then(|sym| sym.seed(id, incarnation))
        .unwrap_or(u64::from(id.0) << 32 | u64::from(incarnation))
}

/// A node's monotonic clock origin in its `incarnation` (from 0).
pub(crate) fn mono_origin(incarnation: u32) -> u64 {
    MONO_ORIGIN_NS * (u64::from(incarnation) + 1)
}

/// A durable state's fingerprint: of its encoding, as a restart decodes it.
pub(crate) fn durable_fp<D: Serialize>(durable: &D) -> u128 {
    fingerprint_of(&encode(durable))
}

/// One node's fingerprint: its protocol state, durable state, clock, commands issued and
/// incarnation.
fn node_fp<P: Protocol + Hash>(
    node: Option<&P>,
    durable: Option<u128>,
    clock: &NodeClock,
    issued: usize,
    incarnation: u32,
) -> u128 {
    let mut h = Fp::new();
    node.hash(&mut h);
    durable.hash(&mut h);
    clock.hash(&mut h);
    (issued, incarnation).hash(&mut h);
    h.finish()
}

/// A message's fingerprint under each of `sym`'s renamings.
fn renamed_message_fps<P: Protocol>(
    sym: &Symmetry<P>,
    from: NodeId,
    to: NodeId,
    msg: &P::Message,
) -> Vec<u128> {
    sym.every_renaming()
        .iter()
        .map(|map| {
            let mut m = msg.clone();
            (sym.message)(&mut m, map);
            fingerprint_of(&(map.apply(from), map.apply(to), encode(&m)))
        })
        .collect()
}

/// An event's fingerprint once `map` renamed it and the node that emitted it.
fn renamed_event_fp<P: Protocol>(
    sym: &Symmetry<P>,
    map: &Renaming,
    at: Duration,
    node: NodeId,
    event: &P::Event,
) -> u128 {
    let mut e = event.clone();
    (sym.event)(&mut e, map);
    event_fp(at, map.apply(node), &e)
}

/// A reply's fingerprint once `map` renamed it and the node that gave it.
fn renamed_reply_fp<P: Protocol>(
    sym: &Symmetry<P>,
    map: &Renaming,
    at: Duration,
    node: NodeId,
    req: RequestId,
    reply: &P::Reply,
) -> u128 {
    let mut r = reply.clone();
    (sym.reply)(&mut r, map);
    reply_fp(at, map.apply(node), req, &r)
}

/// An event's fingerprint.
fn event_fp<E: Serialize>(at: Duration, node: NodeId, event: &E) -> u128 {
    fingerprint_of(&(at, node, encode(event)))
}

/// A reply's fingerprint, tagged apart from events': a reply and an event never share one.
fn reply_fp<R: Serialize>(at: Duration, node: NodeId, req: RequestId, reply: &R) -> u128 {
    fingerprint_of(&(1u8, at, node, req, encode(reply)))
}

/// Replays a path (its initial clocks, then its choices), describing each step and writing
/// the path as JSON lines in the simulator's trace format. Time in the trace is the step number (1 ms each), so
/// the diagram spreads out steps that happen at one true time; each event's true time is
/// in the step list.
pub(crate) fn replay<P: Protocol + Clone + Hash>(
    setup: &Setup<P>,
    path: &super::Path,
) -> (Vec<Step>, String) {
    let Some(StepChoice::Start(drifts)) = path.choices.first() else { return (Vec::new(), String::new()) };
    let mut steps = vec![Step::start(drifts)];
    let mut lines: Vec<serde_json::Value> = Vec::new();
    for (n, d) in drifts.iter().enumerate() {
        lines.push(serde_json::json!({"kind": "clock", "t_ns": 0, "node": n + 1, "ppm": d, "offset_ns": 0}));
    }
    // Sends wait for the step that delivers or drops them to learn their arrival time.
    let mut pending: BTreeMap<(u32, u32, String), Vec<usize>> = BTreeMap::new();
    let mut out: Vec<Traced> = Vec::new();
    let mut state =
        XState::start(setup, drifts, false, path.forget_obsolete, &mut Some(&mut |t| out.push(t)));
    let mut boot = std::mem::take(&mut out);
    for (k, choice) in path.choices.iter().enumerate() {
        let t = (k as u64) * 1_000_000;
        if let StepChoice::Made(choice) = choice {
            steps.push(state.apply_traced(setup, choice, &mut Some(&mut |t| out.push(t))));
        }
        for ev in boot.drain(..).chain(out.drain(..)) {
            let line = match ev {
                Traced::Send { from, to, msg } => {
                    pending.entry((from.0, to.0, msg.to_string())).or_default().push(lines.len());
                    serde_json::json!({"kind": "send", "t_ns": t, "from": from.0, "to": to.0, "deliver_ns": u64::MAX, "msg": msg})
                }
                Traced::Deliver { from, to, ref msg } | Traced::Drop { from, to, ref msg } => {
                    let dropped = matches!(ev, Traced::Drop { .. });
                    let key = (from.0, to.0, msg.to_string());
                    if let Some(idx) =
                        pending.get_mut(&key).and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
                    {
                        lines[idx]["deliver_ns"] = t.into();
                    }
                    if dropped {
                        serde_json::json!({"kind": "drop", "t_ns": t, "from": from.0, "to": to.0, "reason": "loss"})
                    } else {
                        serde_json::json!({"kind": "deliver", "t_ns": t, "from": from.0, "to": to.0})
                    }
                }
                Traced::Event { node, event } => {
                    serde_json::json!({"kind": "event", "t_ns": t, "node": node.0, "event": event})
                }
                Traced::Timeout { node } => {
                    serde_json::json!({"kind": "timeout", "t_ns": t, "node": node.0, "mono_ns": 0})
                }
                Traced::Persist { node } => serde_json::json!({"kind": "persist", "t_ns": t, "node": node.0}),
                Traced::Crash { node } => serde_json::json!({"kind": "crash", "t_ns": t, "node": node.0}),
                Traced::Restart { node } => serde_json::json!({"kind": "restart", "t_ns": t, "node": node.0}),
                Traced::Command { node, req } => {
                    serde_json::json!({"kind": "command", "t_ns": t, "node": node.0, "req": req})
                }
                Traced::Reply { node, req, reply } => {
                    serde_json::json!({"kind": "reply", "t_ns": t, "node": node.0, "req": req, "event": reply})
                }
            };
            lines.push(line);
        }
    }
    // Messages never delivered end with the path.
    let end = (steps.len() as u64) * 1_000_000;
    let mut text = String::new();
    for (i, mut line) in lines.into_iter().enumerate() {
        if line["deliver_ns"] == u64::MAX {
            line["deliver_ns"] = end.into();
        }
        line["i"] = i.into();
        text.push_str(&line.to_string());
        text.push('\n');
    }
    (steps, text)
}

/// A protocol value's 128-bit fingerprint.
pub(crate) fn fingerprint_of<T: Hash>(value: &T) -> u128 {
    let mut h = Fp::new();
    value.hash(&mut h);
    h.finish()
}
