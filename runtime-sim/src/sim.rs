//! The deterministic discrete-event loop.

use crate::byzantine::{Action, Adversary, AdversaryCtx};
use crate::check::{Checker, World};
use crate::clock::NodeClock;
use crate::fault::{Fault, FaultKind};
use crate::net::{Fate, Network, nanos};
use crate::queue::EventQueue;
use crate::trace::{DropReason, STAGE_BYTES, Trace, TraceKind};
use palisade_core::codec::{Codec, DEFAULT_CODEC};
use palisade_core::protocol::{Init, Input, Output, OutputFor, drain, step};
use palisade_core::{Draws, NodeId, Now, Observation, Protocol, Replied, RequestId, Rng, Violation};
use serde::Serialize;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// How a simulation is set up.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SimConfig {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Number of nodes; their ids are `1..=nodes`.
    pub nodes: u32,
    /// The network.
    pub network: Network,
    /// Per-node clock drift in ppm, indexed by node id - 1; missing entries mean 0.
    pub drift_ppm: Vec<i64>,
}

impl SimConfig {
    palisade_core::__config_setters! {
        seed: u64,
        nodes: u32,
        network: Network,
        drift_ppm: Vec<i64>,
    }
}

impl SimConfig {
    /// `nodes` nodes on a default LAN-like network with perfect clocks.
    pub fn new(seed: u64, nodes: u32) -> Self {
        SimConfig { seed, nodes, network: Network::default(), drift_ppm: Vec::new() }
    }
}

/// The first violation of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViolationReport {
    /// The run's seed.
    pub seed: u64,
    /// Index of the event after which the checker failed.
    pub event: u64,
    /// True time of that event.
    pub time_ns: u64,
    /// Which checker failed.
    pub checker: &'static str,
    /// What it saw.
    pub message: String,
    /// The kind of the last protocol event observed when the checker failed (the variant
    /// name of its `Debug` form, e.g. `WriteAccepted`), `end of run` for a property judged
    /// at the end, or `start` before any event: what the shrinker keeps fixed, so a smaller
    /// schedule cannot pass off a different failure as this one.
    pub cause: String,
}

impl ViolationReport {
    /// Whether `other` is this failure again, no later: the same checker, the same kind of
    /// event, at or before this one's time. A shrinker accepts only such candidates.
    pub fn reproduced_by(&self, other: &ViolationReport) -> bool {
        other.checker == self.checker && other.cause == self.cause && other.time_ns <= self.time_ns
    }
}

/// The variant name at the start of a `Debug` form: `WriteAccepted` of
/// `WriteAccepted { token: 3 }`, `Some` of `Some(1)`, the whole of `Heal`.
pub fn variant_name(debug: &str) -> &str {
    let end = debug.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(debug.len());
    &debug[..end]
}

/// The checker name a handler panic is reported under.
pub const NO_PANIC: &str = "sim::no_panic";

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The run's seed.
    pub seed: u64,
    /// Events processed (sends, deliveries, drops, timeouts, outputs, faults).
    pub events: u64,
    /// Simulated time covered.
    pub simulated_ns: u64,
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages delivered to a protocol.
    pub delivered: u64,
    /// Messages dropped (lost, partitioned, congested, or the recipient was down).
    pub dropped: u64,
    /// Frames a recipient's transport rejected because they did not decode (garbage).
    pub rejected: u64,
    /// Messages and frames Byzantine nodes' adversaries put on the wire, honest ones they
    /// passed through unchanged included.
    pub byzantine_sent: u64,
    /// Of those, the ones that differ from what the node's honest core sent (by encoding),
    /// and raw frames: the hostile traffic the run really injected.
    pub byzantine_altered: u64,
    /// Hash of the full event trace: equal seeds give equal hashes.
    pub trace_hash: u64,
    /// Global stabilisation time: when the last scheduled fault ended (0 without faults).
    pub gst_ns: u64,
    /// Torn writes that happened: a scheduled torn write fires only if its node persists
    /// before the restart that ends the episode.
    pub torn_writes: u64,
    /// The first violation, if a checker failed.
    pub violation: Option<ViolationReport>,
}

/// What travels on a simulated link: a message, or raw bytes from an adversary that the
/// recipient's transport must decode (and may reject).
enum Payload<M> {
    Msg(M),
    /// Behind a thin pointer: raw frames are rare, and a small pending event is fast.
    Bytes(Box<RawFrame>),
}

/// An adversary's raw frame.
struct RawFrame(Box<[u8]>);

/// A payload with its digest, taken once when it is sent: every event that carries it
/// (send, duplicate, drop, hold, delivery) mixes the digest into the trace hash instead of
/// encoding the payload again. (Its encoded length, which only a bandwidth-limited link
/// needs, is not kept: a pending event is copied as the queue moves it, and smaller is
/// faster.)
struct Wire<M> {
    payload: Payload<M>,
    digest: u64,
}

impl<M: Clone + Serialize> Wire<M> {
    /// `payload` on the wire.
    fn new(payload: Payload<M>) -> Wire<M> {
        let digest = match &payload {
            Payload::Msg(m) => crate::trace::digest(m),
            Payload::Bytes(b) => crate::trace::digest_bytes(&b.0),
        };
        Wire { payload, digest }
    }

    /// The bytes the payload takes on a real link: its encoding by the build's codec (a
    /// message that does not encode counts what was written before the failure).
    fn encoded_len(&self) -> usize {
        match &self.payload {
            Payload::Msg(m) => {
                let mut len = 0;
                let _ = DEFAULT_CODEC.encode_streaming(m, |b| len += b.len());
                len
            }
            Payload::Bytes(b) => b.0.len(),
        }
    }

    fn duplicate(&self) -> Wire<M> {
        let payload = match &self.payload {
            Payload::Msg(m) => Payload::Msg(m.clone()),
            Payload::Bytes(b) => Payload::Bytes(Box::new(RawFrame(b.0.clone()))),
        };
        Wire { payload, digest: self.digest }
    }
}

/// An event waiting in the queue.
///
/// A pending delivery is the queue's commonest item, and the slab that holds items is what
/// outgrows the cache at 1000 nodes, so only it carries a wire inline: a message to self
/// boxes its own (an allocation each; some protocols send a fifth of their messages to
/// themselves, and a lock-service sweep took 3-5% more CPU). With one variant holding the
/// payload, the compiler keeps the tag in the payload's spare tag values, and a delivery
/// of a 16-byte message takes 32 bytes instead of 40 (an 8-byte tag and a second inline
/// wire). In the ping-pong bench an event took 0.96x the time at 1000 nodes and 0.97x at
/// 10 (21 alternating runs of each, medians; the layouts tried before are in the README).
enum Pending<M, C> {
    Deliver {
        wire: Wire<M>,
        from: NodeId,
        to: NodeId,
    },
    Timer {
        node: NodeId,
        generation: u64,
    },
    /// Hand the oldest held message of a resumed node to its protocol.
    Release {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
    /// Boxed: faults are rare, and a small queue entry keeps the slab small.
    Fault(Box<FaultKind>),
    /// A command from the node's local application.
    Command {
        node: NodeId,
        req: RequestId,
        cmd: Box<C>,
    },
    /// A message a node sent itself, for the incarnation that sent it. Boxed: see above.
    ToSelf {
        wire: Box<Wire<M>>,
        node: NodeId,
        incarnation: u32,
    },
}

// A delivery of a message like the ping-pong bench's (an enum of `u64`s, 16 bytes) takes
// 32 bytes in the queue's slab, `Option` included. A copy of the bench's message type: the
// event type is private to this crate, so a change to the bench's goes unchecked here.
const _: () = {
    #[allow(dead_code)]
    enum Msg {
        Ping(u64),
        Pong(u64),
    }
    assert!(std::mem::size_of::<Option<Pending<Msg, ()>>>() == 32);
};

/// The input a node was handling, named in the report if its handler panics.
enum Handling {
    Message(NodeId),
    Command(RequestId),
    Timeout,
}

/// A node's bookkeeping in the simulator. The fields a message touches come first, in one
/// 64-byte cache line (`repr(C)` keeps the order, the alignment the line); a timer also
/// counts its spins on the next. At 1000 nodes the runtimes outgrow the cache, and one line
/// a message instead of two made an event 0.95x as costly in runs of 3 simulated seconds
/// (median of 15 alternating runs; not seen in 60-second runs, which are noisier).
#[repr(C, align(64))]
struct NodeRuntime<M> {
    /// Paused until this true time (ns), if paused.
    paused_until: Option<u64>,
    armed: Option<palisade_core::Instant>,
    generation: u64,
    /// The true time of this node's last send and how many sends it made then: a message
    /// is keyed by (link, send time, index among its sender's sends at that time).
    sends_at: (u64, u64),
    spin_at: u64,
    /// Timeouts delivered at the current true time without time moving on.
    spins: u32,
    /// Starts so far: a message to self is for the incarnation that sent it only. (32 bits:
    /// far more restarts than any run makes.)
    incarnation: u32,
    /// Messages to self sent at the current true time without time moving on.
    self_sends: u32,
    /// The next persist is torn: lost, and the node crashes during it.
    torn_next_persist: bool,
    self_at: u64,
    /// Messages that arrived while paused, in arrival order, with their digests.
    inbox: VecDeque<(NodeId, M, u64)>,
}

// The hot fields fill the first line exactly.
const _: () = assert!(std::mem::offset_of!(NodeRuntime<()>, spins) == 64);

/// The keys of the simulator's random draws: each purpose has its own, so a fault added or
/// removed in one place leaves the draws of every other as they were.
mod stream {
    /// A message's fate: keyed by (link, send time, index among the sender's sends at
    /// that time). Not by a sequence number: a message more or fewer earlier (a fault
    /// removed) would shift every later one.
    pub const NETWORK: u64 = 1;
    /// A node incarnation's protocol seed: keyed by (node, incarnation).
    pub const NODE_SEED: u64 = 2;
    /// A node's monotonic clock origin at boot: keyed by (node, incarnation), the first
    /// incarnation being 1.
    pub const CLOCK_ORIGIN: u64 = 3;
    /// A Byzantine node's adversary: keyed by node.
    pub const ADVERSARY: u64 = 4;

    /// Node `i`'s monotonic clock origin in its `incarnation` (the first is 1), as after a
    /// real boot: anywhere in the first 2^50 ns.
    pub fn clock_origin(draw_seed: u64, i: usize, incarnation: u64) -> u64 {
        super::Draws::keyed(draw_seed, &[CLOCK_ORIGIN, i as u64, incarnation]).below(1 << 50)
    }
}

/// The word that keys a link's draws: its sender's id above its recipient's.
fn link_key(from: NodeId, to: NodeId) -> u64 {
    (u64::from(from.0) << 32) | u64::from(to.0)
}

/// Node `i`'s id (ids count from 1). A cluster has at most `u32::MAX` nodes, so the sum
/// never wraps; it is written so because release builds keep overflow checks, and an id
/// is made several times an event.
#[inline(always)]
fn id_of(i: usize) -> NodeId {
    NodeId((i as u32).wrapping_add(1))
}

/// Adds one to a count: a `u64` of events, sends or generations, which cannot wrap (one a
/// nanosecond would take 584 years), added without the overflow check that release builds
/// keep elsewhere: counts are bumped several times an event.
#[inline(always)]
fn bump(count: &mut u64) {
    *count = count.wrapping_add(1);
}

/// Clusters up to this size keep every link's draw prefix in a table (8 KiB).
const LINK_TABLE_MAX_NODES: usize = 32;

/// A protocol that keeps asking for a timeout that is already due is stuck in a loop; after
/// this many timeouts at one instant the simulator reports it instead of hanging.
pub const MAX_TIMEOUTS_AT_ONE_INSTANT: u32 = 10_000;

/// A protocol that keeps sending itself messages without time moving on is stuck in a
/// loop; after this many at one instant the simulator reports it instead of hanging.
pub const MAX_SELF_MESSAGES_AT_ONE_INSTANT: u32 = 100_000;

/// A Byzantine node's adversary and the generator it draws from, boxed: once any node is
/// Byzantine every send and delivery looks its node's entry up, and an entry of one pointer
/// keeps a thousand nodes' entries in 125 cache lines instead of a thousand.
type ByzantineNode<P> = Box<(Box<dyn Adversary<P>>, Rng)>;

/// A deterministic simulation of `P` on `n` nodes.
pub struct Simulation<P: Protocol> {
    config: SimConfig,
    protocol_config: P::Config,
    world: World<P>,
    runtime: Vec<NodeRuntime<P::Message>>,
    queue: EventQueue<Pending<P::Message, P::Command>>,
    /// The seed of every keyed draw (see `stream`).
    draw_seed: u64,
    /// The key prefix of every message's draws.
    network_draws: Draws,
    /// `network_draws.then(link)` for every link of a small cluster, row by sender: a
    /// message's draws then start from a load instead of a hash round. Empty above
    /// [`LINK_TABLE_MAX_NODES`] nodes.
    link_draws: Vec<Draws>,
    checkers: Vec<Box<dyn Checker<P>>>,
    /// Each Byzantine node's adversary and its own generator (keyed by node, see `stream`);
    /// empty while no node is Byzantine, so that honest clusters' sends and deliveries,
    /// which ask for their node's adversary, find none without reading an entry (at 1000
    /// nodes the entries are out of the L1 cache).
    adversaries: Vec<Option<ByzantineNode<P>>>,
    members: Vec<NodeId>,
    trace: Trace,
    report: RunReport,
    /// The outputs of the step being handled, kept between steps for its allocation.
    scratch: Vec<OutputFor<P>>,
    started: bool,
    /// The last request id given to a command.
    next_request: u64,
    /// A node's handler panicked: reported as a violation after the current event.
    panicked: Option<Violation>,
    /// Set when a script drives the run instead of random draws ([`script`]).
    script: Option<Box<script::Script<P::Message>>>,
}

impl<P: Protocol> Simulation<P> {
    /// A simulation of `P` with the same `protocol_config` on every node.
    pub fn new(config: SimConfig, protocol_config: P::Config) -> Self {
        let draw_seed = Rng::from_seed(config.seed).next_u64();
        let network_draws = Draws::keyed(draw_seed, &[stream::NETWORK]);
        let n = config.nodes as usize;
        let clocks = (0..n)
            .map(|i| {
                let mut clock = NodeClock::new(stream::clock_origin(draw_seed, i, 1));
                clock.set_drift(0, config.drift_ppm.get(i).copied().unwrap_or(0));
                clock
            })
            .collect();
        let runtime = (0..n)
            .map(|_| NodeRuntime {
                paused_until: None,
                inbox: VecDeque::new(),
                torn_next_persist: false,
                armed: None,
                generation: 0,
                spins: 0,
                spin_at: 0,
                self_sends: 0,
                self_at: 0,
                incarnation: 0,
                sends_at: (u64::MAX, 0),
            })
            .collect();
        let report = RunReport {
            seed: config.seed,
            events: 0,
            simulated_ns: 0,
            sent: 0,
            delivered: 0,
            dropped: 0,
            rejected: 0,
            byzantine_sent: 0,
            byzantine_altered: 0,
            trace_hash: 0,
            gst_ns: 0,
            torn_writes: 0,
            violation: None,
        };
        Simulation {
            world: World {
                now_ns: 0,
                nodes: (0..n).map(|_| None).collect(),
                durable: vec![None; n],
                history: Vec::new(),
                replies: Vec::new(),
                crashes: Default::default(),
                gst_ns: 0,
                restarts: Vec::new(),
                clocks,
                byzantine: Default::default(),
            },
            config,
            protocol_config,
            runtime,
            queue: EventQueue::new(),
            draw_seed,
            link_draws: if n <= LINK_TABLE_MAX_NODES {
                let ids = || (1..=n as u32).map(NodeId);
                let network = &network_draws;
                ids().flat_map(|f| ids().map(move |t| network.then(link_key(f, t)))).collect()
            } else {
                Vec::new()
            },
            network_draws,
            checkers: Vec::new(),
            adversaries: Vec::new(),
            members: (1..=n as u32).map(NodeId).collect(),
            trace: Trace::new(),
            report,
            scratch: Vec::new(),
            started: false,
            next_request: 0,
            panicked: None,
            script: None,
        }
    }

    /// Adds a checker; it runs after every event.
    pub fn add_checker(&mut self, checker: impl Checker<P> + 'static) -> &mut Self {
        self.checkers.push(Box::new(checker));
        self
    }

    /// Replaces `node`'s behaviour with `adversary` for the whole run. Its honest protocol
    /// still runs inside; the adversary decides what leaves the node.
    pub fn make_byzantine(&mut self, node: NodeId, adversary: impl Adversary<P> + 'static) -> &mut Self {
        if let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) {
            if self.adversaries.is_empty() {
                self.adversaries.resize_with(self.world.nodes.len(), || None);
            }
            let seed = Draws::keyed(self.draw_seed, &[stream::ADVERSARY, i as u64]).next_u64();
            self.adversaries[i] = Some(Box::new((Box::new(adversary), Rng::from_seed(seed))));
            self.world.byzantine.insert(node);
        }
        self
    }

    /// Delivers `cmd` to `node`'s protocol at `at`, as its local application would (dropped
    /// if the node is down or paused then). A time already passed (between two runs) means
    /// now: simulated time never goes backwards.
    pub fn command_at(&mut self, node: NodeId, at: Duration, cmd: P::Command) -> &mut Self {
        self.call_at(node, at, cmd);
        self
    }

    /// [`Simulation::command_at`], returning the request id its reply (in
    /// [`World::replies`]) will carry. Ids count up from 1 in the order commands are
    /// scheduled.
    pub fn call_at(&mut self, node: NodeId, at: Duration, cmd: P::Command) -> RequestId {
        let at = nanos(at).max(self.world.now_ns);
        self.next_request += 1;
        let req = RequestId(self.next_request);
        self.queue.push(at, Pending::Command { node, req, cmd: Box::new(cmd) });
        req
    }

    /// Schedules a fault. A time already passed (between two runs) means now: simulated
    /// time never goes backwards. A pause moved so keeps its whole length (and GST moves
    /// with its end); a window made of two faults (a partition and its heal, a burst of
    /// loss and its end) whose start has passed is cut short instead, as its end is a
    /// fault of its own.
    pub fn schedule(&mut self, fault: Fault) -> &mut Self {
        let asked = nanos(fault.at);
        let at = asked.max(self.world.now_ns);
        let lasts = nanos(fault.ends_at() - fault.at);
        self.world.gst_ns = self.world.gst_ns.max(at.saturating_add(lasts));
        self.queue.push(at, Pending::Fault(Box::new(fault.kind)));
        self
    }

    /// Schedules several faults.
    pub fn schedule_all(&mut self, faults: impl IntoIterator<Item = Fault>) -> &mut Self {
        for f in faults {
            self.schedule(f);
        }
        self
    }

    /// Draws a random fault schedule for every node from `nemesis` (from the run's seed, on
    /// the stream [`crate::NEMESIS_STREAM`], so adding it changes nothing else, and a seed
    /// gives the same schedule here as under `palisade sim`) and schedules it. Returns the
    /// schedule, to print or to shrink with [`crate::shrink`].
    pub fn add_nemesis(&mut self, nemesis: &crate::NemesisConfig) -> crate::Schedule {
        let mut rng = Rng::from_seed(self.config.seed ^ crate::NEMESIS_STREAM);
        let schedule = nemesis.generate(&self.members, &mut rng);
        self.schedule_all(crate::nemesis::faults(&schedule));
        schedule
    }

    /// Exports the trace as JSON lines to `sink`, which the simulation owns from now on:
    /// any writer (a `Vec<u8>`, a `File`, a boxed one; lines are written 64 KiB at a time,
    /// so it needs no `BufWriter`). [`Self::take_trace_export`] hands it back after the
    /// run. To lend a writer you keep instead, run with [`Self::run_for_exporting`].
    pub fn export_trace(&mut self, sink: impl std::io::Write + 'static) -> &mut Self {
        self.trace.export_to(sink);
        self
    }

    /// Flushes the trace export and hands its writer back, if it is a `W`: after
    /// `sim.export_trace(Vec::new())` and a run, `sim.take_trace_export::<Vec<u8>>()` is the
    /// trace as JSON lines (for `palisade_sim::diagram::render`, say).
    pub fn take_trace_export<W: std::io::Write + 'static>(&mut self) -> Option<W> {
        self.trace.take_export()
    }

    /// The world as checkers see it.
    pub fn world(&self) -> &World<P> {
        &self.world
    }

    /// Finishes the trace export; returns the first write error if there was one.
    pub fn finish_trace(&mut self) -> std::io::Result<()> {
        self.trace.finish()
    }

    fn idx(node: NodeId) -> Option<usize> {
        (node.0 as usize).checked_sub(1)
    }

    /// Node `i`'s adversary and generator, if it is Byzantine. (Where they are acted on, the
    /// field is borrowed directly, beside the others the context needs.)
    #[inline(always)]
    fn adversary(&self, i: usize) -> Option<&(Box<dyn Adversary<P>>, Rng)> {
        self.adversaries.get(i)?.as_deref()
    }

    fn ids(&self) -> Vec<NodeId> {
        self.members.clone()
    }

    fn record(&mut self, kind: TraceKind, msg: Option<&P::Message>, event: Option<&P::Event>) {
        let index = self.report.events;
        self.trace.record(index, self.world.now_ns, &kind, msg, event);
        bump(&mut self.report.events);
    }

    fn start_node(&mut self, i: usize, restored: Option<P::Durable>) {
        let id = id_of(i);
        self.runtime[i].incarnation += 1;
        let now = self.world.clocks[i].read(self.world.now_ns);
        let incarnation = u64::from(self.runtime[i].incarnation);
        let seed = match self.scripted_identity(i, incarnation) {
            Some((seed, _)) => seed,
            None => Draws::keyed(self.draw_seed, &[stream::NODE_SEED, i as u64, incarnation]).next_u64(),
        };
        let init = Init::restart(id, self.ids(), self.protocol_config.clone(), restored, seed, now);
        let mut out = std::mem::take(&mut self.scratch);
        let started = catch_unwind(AssertUnwindSafe(|| {
            let mut p = P::new(init);
            drain(&mut p, |o| out.push(o));
            p
        }));
        let p = match started {
            Ok(p) => p,
            Err(payload) => {
                self.note_panic(id, "starting", &*payload);
                out.clear();
                self.scratch = out;
                return;
            }
        };
        self.world.nodes[i] = Some(std::rc::Rc::new(p));
        self.process_outputs(i, &mut out);
        self.scratch = out;
        self.rearm(i);
    }

    /// Inlined, as are `deliver`, `process_outputs`, `send`, `message_draws` and `rearm`: a
    /// message's path from its arrival to its replies' sends then makes few calls, each of
    /// which saved and restored registers (0.96x an event's time for the first four, 0.98x
    /// for `rearm`).
    #[inline(always)]
    fn feed(&mut self, i: usize, input: Input<P>) {
        let now = self.world.clocks[i].read(self.world.now_ns);
        self.feed_at(i, now, input);
    }

    /// [`Self::feed`] with the node's reading of its clocks already taken.
    fn feed_at(&mut self, i: usize, now: Now, input: Input<P>) {
        let Some(p) = self.world.unshared_node_mut(i) else {
            return;
        };
        let mut out = std::mem::take(&mut self.scratch);
        // What the input was, for a panic report: kept unformatted, as formatting it on
        // every step would cost more than many steps do.
        let what = match &input {
            Input::Message { from, .. } => Handling::Message(*from),
            Input::Command { req, .. } => Handling::Command(*req),
            Input::Timeout => Handling::Timeout,
        };
        // The whole step, handler and drain, runs before any output is acted on, as in the
        // actix runtime: a step that panics anywhere has none of its outputs acted on, and
        // only the protocol's own code is inside the catch.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| step(p, now, input, |o| out.push(o)))) {
            // The node's state is whatever the panic left: take it down and stop the run.
            self.world.nodes[i] = None;
            let what = match what {
                Handling::Message(from) => format!("a message from {from}"),
                Handling::Command(req) => format!("command {req}"),
                Handling::Timeout => "a timeout".to_string(),
            };
            self.note_panic(id_of(i), &what, &*payload);
            out.clear();
            self.scratch = out;
            return;
        }
        self.process_outputs(i, &mut out);
        self.scratch = out;
        self.rearm(i);
    }

    #[inline(always)]
    fn process_outputs(&mut self, i: usize, out: &mut Vec<OutputFor<P>>) {
        let from = id_of(i);
        for o in out.drain(..) {
            match o {
                Output::Send { to, msg } if self.adversary(i).is_none() => {
                    self.send(from, to, Payload::Msg(msg), 0)
                }
                other => {
                    if !self.act_on_other(i, other) {
                        return;
                    }
                }
            }
        }
    }

    /// Node `i`'s adversary turns one of its honest core's messages into what it sends.
    fn send_byzantine(&mut self, i: usize, to: NodeId, msg: P::Message) {
        let from = id_of(i);
        let Some((adversary, rng)) = self.adversaries.get_mut(i).and_then(|a| a.as_deref_mut()) else {
            return self.send(from, to, Payload::Msg(msg), 0);
        };
        let mut actions = Vec::new();
        let mut ctx = AdversaryCtx {
            me: from,
            members: &self.members,
            rng,
            now: Duration::from_nanos(self.world.now_ns),
        };
        let honest = DEFAULT_CODEC.encode(&msg).ok();
        adversary.on_send(&mut ctx, to, msg, &mut actions);
        self.report.byzantine_sent += actions.len() as u64;
        self.report.byzantine_altered += actions
            .iter()
            .filter(|a| match a {
                Action::Send { msg, .. } => DEFAULT_CODEC.encode(msg).ok() != honest,
                Action::SendBytes { .. } => true,
            })
            .count() as u64;
        for action in actions {
            match action {
                Action::Send { to, msg, delay } => self.send(from, to, Payload::Msg(msg), nanos(delay)),
                Action::SendBytes { to, bytes, delay } => {
                    self.send(from, to, Payload::Bytes(Box::new(RawFrame(bytes.into()))), nanos(delay))
                }
            }
        }
    }

    /// Acts on an output of node `i` other than an honest node's send (a Byzantine node's
    /// send, an event, a reply, a write to stable storage); false when the node crashed
    /// doing so, and nothing after it in the step may be acted on. Out of line, so the
    /// loop over a step's outputs stays small.
    #[inline(never)]
    fn act_on_other(&mut self, i: usize, output: OutputFor<P>) -> bool {
        let from = id_of(i);
        match output {
            Output::Send { to, msg } => self.send_byzantine(i, to, msg),
            Output::Event(e) => {
                self.record(TraceKind::Event { node: from }, None, Some(&e));
                self.world.history.push(Observation { at: self.world.now(), node: from, event: e });
            }
            Output::Reply { req, reply } => {
                let index = self.report.events;
                let kind = TraceKind::Reply { node: from, req: req.0 };
                self.trace.record(index, self.world.now_ns, &kind, None::<&P::Message>, Some(&reply));
                bump(&mut self.report.events);
                let at = self.world.now();
                self.world.replies.push(Observation { at, node: from, event: Replied { req, reply } });
            }
            Output::Persist(state) => {
                if self.runtime[i].torn_next_persist {
                    // The write is torn: it never becomes durable, the node dies mid-write,
                    // and nothing it queued after the barrier is acted on.
                    self.record(TraceKind::TornWrite { node: from }, None, None);
                    self.report.torn_writes += 1;
                    self.crash(i);
                    return false;
                }
                self.record(TraceKind::Persist { node: from }, None, None);
                self.world.durable[i] = Some(std::rc::Rc::new(state));
            }
        }
        true
    }

    #[inline(always)]
    fn record_wire(&mut self, kind: TraceKind, wire: &Wire<P::Message>) {
        let index = self.report.events;
        match &wire.payload {
            Payload::Msg(m) => self.trace.record_digested(index, self.world.now_ns, &kind, wire.digest, m),
            Payload::Bytes(b) => self.trace.record_bytes(index, self.world.now_ns, &kind, wire.digest, &b.0),
        }
        bump(&mut self.report.events);
    }

    /// Records an event carrying message `msg` whose digest is `digest`.
    #[inline(always)]
    fn record_msg(&mut self, kind: TraceKind, msg: &P::Message, digest: u64) {
        let index = self.report.events;
        self.trace.record_digested(index, self.world.now_ns, &kind, digest, msg);
        bump(&mut self.report.events);
    }

    /// Sends `payload` from `from` to `to`, `extra` ns later than the link's own delay.
    #[inline(always)]
    fn send(&mut self, from: NodeId, to: NodeId, payload: Payload<P::Message>, extra: u64) {
        let wire = Wire::new(payload);
        bump(&mut self.report.sent);
        if Self::idx(to).is_none_or(|t| t >= self.world.nodes.len()) {
            return self.drop_wire(from, to, DropReason::UnknownRecipient, &wire);
        }
        if self.script.is_some() {
            return self.hold(from, to, wire);
        }
        let now = self.world.now_ns;
        let at = |d: u64| now.saturating_add(d.saturating_add(extra));
        let size = || wire.encoded_len();
        if from == to {
            return self.send_to_self(from, wire, at(0));
        }
        let draws = self.message_draws(from, to);
        match self.config.network.fate(from, to, now, size, &draws) {
            Fate::Lost => self.drop_wire(from, to, DropReason::Loss, &wire),
            Fate::Congested => self.drop_wire(from, to, DropReason::Congestion, &wire),
            Fate::Partitioned => self.drop_wire(from, to, DropReason::Partition, &wire),
            Fate::Deliver(delay) => {
                self.record_wire(TraceKind::Send { from, to, deliver_ns: at(delay) }, &wire);
                self.queue.push(at(delay), Pending::Deliver { from, to, wire });
            }
            Fate::Duplicate(first, second) => self.send_twice(from, to, wire, at(first), at(second)),
        }
    }

    /// Sends `wire` and a copy of it, due at `first` and `second`. Out of line: few
    /// messages are duplicated.
    #[inline(never)]
    fn send_twice(&mut self, from: NodeId, to: NodeId, wire: Wire<P::Message>, first: u64, second: u64) {
        self.record_wire(TraceKind::Send { from, to, deliver_ns: first }, &wire);
        self.record_wire(TraceKind::Duplicate { from, to, deliver_ns: second }, &wire);
        self.queue.push(first, Pending::Deliver { from, to, wire: wire.duplicate() });
        self.queue.push(second, Pending::Deliver { from, to, wire });
    }

    /// A message to self: it never leaves the process, as in the actix runtime (no loss,
    /// delay, duplication or partition), but it is still handled after the step that sent
    /// it, and a crash before then loses it. Out of line: most sends go to other nodes.
    #[inline(never)]
    fn send_to_self(&mut self, from: NodeId, wire: Wire<P::Message>, at: u64) {
        let now = self.world.now_ns;
        let i = Self::idx(from).unwrap_or_default();
        let rt = &mut self.runtime[i];
        if rt.self_at == now {
            rt.self_sends += 1;
        } else {
            (rt.self_at, rt.self_sends) = (now, 1);
        }
        if rt.self_sends > MAX_SELF_MESSAGES_AT_ONE_INSTANT {
            if self.panicked.is_none() {
                self.panicked = Some(Violation::new(
                    "sim::self_message_livelock",
                    format!("{from} sent itself {MAX_SELF_MESSAGES_AT_ONE_INSTANT} messages at one instant"),
                ));
            }
            return self.drop_wire(from, from, DropReason::RecipientDown, &wire);
        }
        let incarnation = rt.incarnation;
        self.record_wire(TraceKind::Send { from, to: from, deliver_ns: at }, &wire);
        self.queue.push(at, Pending::ToSelf { node: from, incarnation, wire: Box::new(wire) });
    }

    /// The draws for a message `from → to` sent now: keyed by its link, the true time and
    /// its index among the sender's sends at this time, so a message lost, delayed or never
    /// sent elsewhere (a fault removed by the shrinker, say) does not change this one's fate.
    #[inline(always)]
    fn message_draws(&mut self, from: NodeId, to: NodeId) -> Draws {
        let now = self.world.now_ns;
        let index = match Self::idx(from).and_then(|i| self.runtime.get_mut(i)) {
            Some(rt) => {
                if rt.sends_at.0 == now {
                    bump(&mut rt.sends_at.1);
                } else {
                    rt.sends_at = (now, 0);
                }
                rt.sends_at.1
            }
            None => 0,
        };
        let n = self.world.nodes.len();
        let (f, t) = (from.0 as usize, to.0 as usize);
        let listed = (1..=n).contains(&f) && (1..=n).contains(&t);
        let link = match listed.then(|| self.link_draws.get((f - 1) * n + (t - 1))).flatten() {
            Some(prefix) => prefix.clone(),
            None => self.network_draws.then(link_key(from, to)),
        };
        link.then(now).then(index)
    }

    /// Drops `wire` for `reason`. Out of line: most messages arrive.
    #[inline(never)]
    fn drop_wire(&mut self, from: NodeId, to: NodeId, reason: DropReason, wire: &Wire<P::Message>) {
        bump(&mut self.report.dropped);
        self.record_wire(TraceKind::Drop { from, to, reason }, wire);
    }

    #[inline(always)]
    fn rearm(&mut self, i: usize) {
        let next = self.world.nodes[i].as_ref().and_then(|p| p.poll_timeout());
        let rt = &mut self.runtime[i];
        if next == rt.armed {
            return;
        }
        rt.armed = next;
        bump(&mut rt.generation);
        if let Some(deadline) = next {
            let at = self.world.clocks[i].true_time_of(deadline, self.world.now_ns);
            let node = id_of(i);
            self.queue.push(at, Pending::Timer { node, generation: rt.generation });
        }
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        for i in 0..self.world.nodes.len() {
            let c = &self.world.clocks[i];
            let (ppm, offset_ns) = (c.drift_ppm(), c.wall_error_ns(self.world.now_ns));
            self.record(TraceKind::Clock { node: id_of(i), ppm, offset_ns }, None, None);
        }
        for i in 0..self.world.nodes.len() {
            if let Some(adversary) = self.adversary(i).map(|(a, _)| a.name()) {
                self.record(TraceKind::Byzantine { node: id_of(i), adversary }, None, None);
            }
        }
        for i in 0..self.world.nodes.len() {
            self.start_node(i, None);
        }
    }

    /// Runs until `duration` of simulated time has passed or a checker fails.
    pub fn run_for(&mut self, duration: Duration) -> RunReport {
        self.run(duration, None)
    }

    /// Runs like [`Self::run_for`] and writes this run's trace as JSON lines to `out`, a
    /// writer you lend and keep (a file, a locked stdout, a `Vec<u8>`), a chunk at a time
    /// as the run goes. Fails, before running, if a writer is already attached by
    /// [`Self::export_trace`]; otherwise returns the first write error once the run is
    /// over (the run itself completes: [`Self::world`] shows how it ended).
    pub fn run_for_exporting(
        &mut self,
        duration: Duration,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<RunReport> {
        if self.trace.is_exporting() {
            return Err(std::io::Error::other("a trace export is already attached (export_trace)"));
        }
        self.trace.export_staged();
        let report = self.run(duration, Some(&mut *out));
        self.trace.end_staged_export(out)?;
        Ok(report)
    }

    fn run(&mut self, duration: Duration, mut out: Option<&mut dyn std::io::Write>) -> RunReport {
        let end = nanos(duration);
        self.start();
        if let Some(v) = self.check_all() {
            return self.stop_with(v);
        }
        while let Some((at, item)) = self.queue.pop_due(end) {
            self.world.now_ns = at;
            let before = self.report.events;
            if let Err(v) = self.handle(item) {
                return self.stop_with(v);
            }
            if self.report.events != before
                && let Some(v) = self.check_all()
            {
                return self.stop_with(v);
            }
            if let Some(out) = out.as_deref_mut()
                && self.trace.staged_len() >= STAGE_BYTES
            {
                self.trace.drain_to(out);
            }
        }
        self.world.now_ns = self.world.now_ns.max(end);
        let at_end = self.checkers.iter_mut().find_map(|c| c.at_end(&self.world).err());
        if let Some(v) = at_end {
            return self.stop_with_cause(v, Some("end of run"));
        }
        self.finish_report()
    }

    fn handle(&mut self, item: Pending<P::Message, P::Command>) -> Result<(), Violation> {
        match item {
            Pending::Deliver { from, to, wire } => self.arrive(from, to, wire),
            Pending::Timer { node, generation } => return self.fire(node, generation),
            rare => return self.handle_rare(rare),
        }
        Ok(())
    }

    /// A message reaches its recipient: dropped if the node is down or cut off from the
    /// sender, held if it is paused, handed to its protocol otherwise.
    fn arrive(&mut self, from: NodeId, to: NodeId, wire: Wire<P::Message>) {
        let Some(i) = Self::idx(to) else { return };
        let refused = if self.world.nodes[i].is_none() {
            Some(DropReason::RecipientDown)
        } else if from != to && self.config.network.partition.blocks(from, to) {
            Some(DropReason::Partition)
        } else {
            None
        };
        if let Some(reason) = refused {
            self.drop_wire(from, to, reason, &wire);
            return;
        }
        let digest = wire.digest;
        let msg = match wire.payload {
            Payload::Msg(m) => m,
            Payload::Bytes(ref frame) => match DEFAULT_CODEC.decode::<P::Message>(&frame.0) {
                Ok(m) => m,
                Err(_) => return self.reject_frame(from, to, &wire),
            },
        };
        if self.runtime[i].paused_until.is_some() {
            self.record_msg(TraceKind::Hold { from, to }, &msg, digest);
            self.runtime[i].inbox.push_back((from, msg, digest));
        } else {
            self.deliver(i, from, msg, digest);
        }
    }

    /// As the real transport does: an undecodable frame never reaches the protocol; it is
    /// counted and traced as a drop. Out of line: only adversaries send raw frames.
    #[cold]
    fn reject_frame(&mut self, from: NodeId, to: NodeId, wire: &Wire<P::Message>) {
        self.report.rejected += 1;
        self.drop_wire(from, to, DropReason::Undecodable, wire);
    }

    /// Node `node`'s timer set in `generation` goes off, unless it was set again since, or
    /// the node is down or paused.
    fn fire(&mut self, node: NodeId, generation: u64) -> Result<(), Violation> {
        let Some(i) = Self::idx(node) else {
            return Ok(());
        };
        let rt = &mut self.runtime[i];
        if generation != rt.generation || self.world.nodes[i].is_none() || rt.paused_until.is_some() {
            return Ok(()); // superseded, down, or paused (re-armed on resume)
        }
        rt.armed = None;
        if rt.spin_at == self.world.now_ns {
            rt.spins += 1;
            if rt.spins > MAX_TIMEOUTS_AT_ONE_INSTANT {
                return Err(Violation::new(
                    "sim::timer_livelock",
                    format!("{node} asked for {} timeouts at one instant without time moving on", rt.spins),
                ));
            }
        } else {
            rt.spin_at = self.world.now_ns;
            rt.spins = 1;
        }
        let now = self.world.clocks[i].read(self.world.now_ns);
        self.record(TraceKind::Timeout { node, mono_ns: now.mono.as_nanos() }, None, None);
        self.feed_at(i, now, Input::Timeout);
        Ok(())
    }

    /// Every other event: a command, a fault, a message to self, a paused node's backlog
    /// and its resumption. Out of line, so the loop's common events stay small.
    #[inline(never)]
    fn handle_rare(&mut self, item: Pending<P::Message, P::Command>) -> Result<(), Violation> {
        match item {
            Pending::Command { node, req, cmd } => {
                let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) else { return Ok(()) };
                if self.world.nodes[i].is_some() && self.runtime[i].paused_until.is_none() {
                    self.record(TraceKind::Command { node, req: req.0 }, None, None);
                    self.feed(i, Input::Command { req, cmd: *cmd });
                }
            }
            Pending::Fault(fault) => self.inject(*fault),
            Pending::ToSelf { node, incarnation, wire } => {
                let Some(i) = Self::idx(node) else { return Ok(()) };
                if self.runtime[i].incarnation != incarnation {
                    // Sent by an incarnation that has crashed since: it died with it.
                    self.drop_wire(node, node, DropReason::RecipientDown, &wire);
                    return Ok(());
                }
                self.arrive(node, node, *wire);
            }
            Pending::Release { node } => {
                let Some(i) = Self::idx(node) else { return Ok(()) };
                if self.world.nodes[i].is_none() || self.runtime[i].paused_until.is_some() {
                    return Ok(()); // crashed (inbox gone) or paused again (released on resume)
                }
                if let Some((from, msg, digest)) = self.runtime[i].inbox.pop_front() {
                    self.deliver(i, from, msg, digest);
                }
            }
            Pending::Resume { node } => {
                let Some(i) = Self::idx(node) else { return Ok(()) };
                if self.runtime[i].paused_until != Some(self.world.now_ns) || self.world.nodes[i].is_none() {
                    return Ok(()); // superseded by a longer pause, or crashed meanwhile
                }
                self.runtime[i].paused_until = None;
                self.record(TraceKind::Resume { node }, None, None);
                // Due timers first (the observer sees the silence before the backlog), then
                // the inbox in arrival order.
                self.runtime[i].armed = None;
                bump(&mut self.runtime[i].generation);
                self.rearm(i);
                for _ in 0..self.runtime[i].inbox.len() {
                    self.queue.push(self.world.now_ns, Pending::Release { node });
                }
            }
            Pending::Deliver { from, to, wire } => self.arrive(from, to, wire),
            Pending::Timer { node, generation } => return self.fire(node, generation),
        }
        Ok(())
    }

    fn inject(&mut self, fault: FaultKind) {
        match fault {
            FaultKind::Crash(node) => {
                if let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) {
                    self.crash(i);
                }
            }
            FaultKind::TornWrite(node) => {
                if let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) {
                    self.runtime[i].torn_next_persist = self.world.nodes[i].is_some();
                }
            }
            FaultKind::Restart(node) => {
                let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) else {
                    return;
                };
                // A torn write that never came to pass expires with its episode.
                self.runtime[i].torn_next_persist = false;
                if self.world.nodes[i].is_none() {
                    // A new incarnation: a fresh monotonic origin, as after a real reboot.
                    let incarnation = u64::from(self.runtime[i].incarnation) + 1;
                    let origin = match self.scripted_identity(i, incarnation) {
                        Some((_, origin)) => origin,
                        None => stream::clock_origin(self.draw_seed, i, incarnation),
                    };
                    self.world.clocks[i].reboot(self.world.now_ns, origin);
                    self.world.crashes.remove(&node);
                    self.world.restarts.push((node, self.world.now()));
                    self.record(TraceKind::Restart { node }, None, None);
                    let restored = self.world.durable[i].as_deref().cloned();
                    self.start_node(i, restored);
                }
            }
            FaultKind::Pause { node, duration } => {
                let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) else { return };
                if self.world.nodes[i].is_some() {
                    let until = self.world.now_ns.saturating_add(nanos(duration));
                    let until = until.max(self.runtime[i].paused_until.unwrap_or(0));
                    self.runtime[i].paused_until = Some(until);
                    self.record(TraceKind::Pause { node, until_ns: until }, None, None);
                    self.queue.push(until, Pending::Resume { node });
                }
            }
            FaultKind::Partition(p) => {
                self.record(TraceKind::Partition { cut: p.cut.len() as u64 }, None, None);
                self.config.network.partition = p;
            }
            FaultKind::Degrade(link) => {
                self.record(TraceKind::Degrade, None, None);
                self.config.network.degraded = Some(link);
            }
            FaultKind::RestoreLinks => {
                self.record(TraceKind::RestoreLinks, None, None);
                self.config.network.degraded = None;
            }
            FaultKind::Duplicate { rate } => {
                let percent = (rate * 100.0).round() as u64;
                self.record(TraceKind::DuplicateBurst { percent }, None, None);
                self.config.network.duplicating = Some(rate);
            }
            FaultKind::StopDuplicating => {
                self.record(TraceKind::DuplicateBurstEnd, None, None);
                self.config.network.duplicating = None;
            }
            FaultKind::Heal => {
                self.record(TraceKind::Heal, None, None);
                self.config.network.partition = Default::default();
            }
            FaultKind::WallStep { node, by_ns } => {
                let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) else { return };
                self.world.clocks[i].step_wall(by_ns);
                let offset_ns = self.world.clocks[i].wall_error_ns(self.world.now_ns);
                self.record(TraceKind::WallStep { node, offset_ns }, None, None);
            }
            FaultKind::WallStepWithin { node, by_ns, bound_ns } => {
                let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) else { return };
                let now = self.world.now_ns;
                let error = self.world.clocks[i].wall_error_ns(now);
                let bound = i64::try_from(bound_ns).unwrap_or(i64::MAX);
                let target = error.saturating_add(by_ns).clamp(error.min(-bound), error.max(bound));
                self.world.clocks[i].step_wall(target - error);
                let offset_ns = self.world.clocks[i].wall_error_ns(now);
                self.record(TraceKind::WallStep { node, offset_ns }, None, None);
            }
            FaultKind::Drift { node, ppm } => {
                let Some(i) = Self::idx(node).filter(|&i| i < self.world.nodes.len()) else { return };
                self.world.clocks[i].set_drift(self.world.now_ns, ppm);
                self.record(TraceKind::Drift { node, ppm: self.world.clocks[i].drift_ppm() }, None, None);
                // The node's pending deadline now falls at a different true time.
                self.runtime[i].armed = None;
                bump(&mut self.runtime[i].generation);
                self.rearm(i);
            }
        }
    }

    fn crash(&mut self, i: usize) {
        if self.world.nodes[i].take().is_none() {
            return;
        }
        let node = id_of(i);
        let rt = &mut self.runtime[i];
        rt.paused_until = None;
        rt.inbox.clear();
        rt.armed = None;
        bump(&mut rt.generation);
        rt.torn_next_persist = false;
        self.world.crashes.insert(node, self.world.now());
        self.record(TraceKind::Crash { node }, None, None);
    }

    #[inline(always)]
    fn deliver(&mut self, i: usize, from: NodeId, msg: P::Message, digest: u64) {
        let to = id_of(i);
        bump(&mut self.report.delivered);
        self.record_msg(TraceKind::Deliver { from, to }, &msg, digest);
        if let Some((adversary, rng)) = self.adversaries.get_mut(i).and_then(|a| a.as_deref_mut()) {
            let mut ctx = AdversaryCtx {
                me: to,
                members: &self.members,
                rng,
                now: Duration::from_nanos(self.world.now_ns),
            };
            adversary.on_receive(&mut ctx, from, &msg);
        }
        self.feed(i, Input::Message { from, msg });
    }

    fn check_all(&mut self) -> Option<Violation> {
        if let Some(v) = self.panicked.take() {
            return Some(v);
        }
        self.checkers.iter_mut().find_map(|c| c.after_event(&self.world).err())
    }

    /// Records that `node` panicked while handling `what`: the run stops with a violation of
    /// [`NO_PANIC`] after the current event. A panic is never an acceptable answer to
    /// input, however hostile.
    fn note_panic(&mut self, node: NodeId, what: &str, payload: &(dyn std::any::Any + Send)) {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a non-string panic payload)".into());
        if self.panicked.is_none() {
            self.panicked =
                Some(Violation::new(NO_PANIC, format!("{node} panicked handling {what}: {text}")));
        }
    }

    fn stop_with(&mut self, v: Violation) -> RunReport {
        self.stop_with_cause(v, None)
    }

    /// [`Self::stop_with`], naming the cause (`None`: the last protocol event observed).
    fn stop_with_cause(&mut self, v: Violation, cause: Option<&str>) -> RunReport {
        let mut report = self.finish_report();
        let cause = match (cause, self.world.history().last()) {
            (Some(c), _) => c.to_owned(),
            (None, Some(o)) => variant_name(&format!("{:?}", o.event)).to_owned(),
            (None, None) => "start".to_owned(),
        };
        let violation = ViolationReport {
            seed: self.config.seed,
            event: self.report.events.saturating_sub(1),
            time_ns: self.world.now_ns,
            checker: v.checker,
            message: v.message,
            cause,
        };
        // A saved trace says how its run ended, so `palisade diagram` can ring the violation.
        if self.trace.is_exporting() {
            self.trace.annotate(&serde_json::json!({
                "i": violation.event,
                "t_ns": violation.time_ns,
                "kind": "violation",
                "seed": violation.seed,
                "checker": violation.checker,
                "message": violation.message,
                "cause": violation.cause,
            }));
        }
        report.violation = Some(violation);
        report
    }

    fn finish_report(&mut self) -> RunReport {
        let mut r = self.report.clone();
        r.simulated_ns = self.world.now_ns;
        r.gst_ns = self.world.gst_ns;
        r.trace_hash = self.trace.hash();
        r
    }
}

mod script;
#[cfg(test)]
mod tests;

pub(crate) use script::{Identity, ScriptStep};
