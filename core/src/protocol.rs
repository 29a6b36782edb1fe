//! The protocol contract: one trait, implemented once per protocol, driven identically by the
//! simulator and by the actix runtime.
//!
//! A [`Protocol`] is a deterministic state machine. It never reads a clock, sleeps, does IO
//! or draws randomness except from its seed. A runtime drives it with exactly three inputs,
//! each carrying the node's current time as a [`Now`]:
//!
//! * [`Protocol::handle_message`]: a message from a peer. `from` is the sender as the
//!   transport authenticated it, never an id read from the payload.
//! * [`Protocol::handle_command`]: a request from the local application, with the
//!   [`RequestId`] the runtime gave it. The protocol answers it (at once or after some
//!   rounds of messages) with at most one [`Output::Reply`] carrying that id.
//! * [`Protocol::handle_timeout`]: the deadline from [`Protocol::poll_timeout`] has passed.
//!   A timeout may arrive late (the process was paused) or spuriously; both must be harmless.
//!
//! After every input (and after construction) the runtime drains [`Protocol::poll_output`]
//! until it returns `None`, acting on each [`Output`] in order:
//!
//! * [`Output::Send`]: deliver a message to a peer, maybe; networks lose, delay, duplicate
//!   and reorder. A message to the node itself never crosses the network: both runtimes
//!   hand it back after the current input's outputs, unlost and undoubled, unless the node
//!   crashes first.
//! * [`Output::Event`]: tell the local application something (a suspicion, a grant, a
//!   rejected command, a misbehaving peer).
//! * [`Output::Reply`]: answer the local application's request; it reaches only the caller
//!   (`NodeHandle::call` on actix; [`crate::Observation`]s of replies in the simulator).
//! * [`Output::Persist`]: a durability barrier. The runtime makes the state durable before
//!   it acts on any later output, so "persist, then send the acknowledgement" is safe across
//!   crashes. After a crash the node is rebuilt from the last persisted state.
//!
//! Then the runtime asks [`Protocol::poll_timeout`] for the earliest deadline and arranges
//! a timeout at or after it. [`step`] and [`drain`] do the feeding and draining so that both
//! runtimes (and tests) share one implementation of these rules.
//!
//! # Example
//!
//! A protocol that answers every `Ping` with a `Pong` and reports each `Pong` it receives.
//!
//! ```
//! use palisade_core::protocol::{step, Init, Input, NoReply, Outbox, Output, Protocol, RequestId};
//! use palisade_core::{Instant, NodeId, Now, WallTime};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! enum Msg { Ping, Pong }
//!
//! struct PingPong { peers: Vec<NodeId>, next_ping: Instant, outbox: Outbox<Msg, NodeId, ()> }
//!
//! impl Protocol for PingPong {
//!     type Message = Msg;
//!     type Command = std::convert::Infallible;
//!     type Reply = NoReply;
//!     type Event = NodeId; // "this peer answered"
//!     type Config = ();
//!     type Durable = ();
//!
//!     fn new(init: Init<Self>) -> Self {
//!         let peers = init.members.into_iter().filter(|&m| m != init.id).collect();
//!         PingPong { peers, next_ping: init.now.mono, outbox: Outbox::new() }
//!     }
//!     fn handle_message(&mut self, _now: Now, from: NodeId, msg: Msg) {
//!         match msg {
//!             Msg::Ping => self.outbox.send(from, Msg::Pong),
//!             Msg::Pong => self.outbox.event(from),
//!         }
//!     }
//!     fn handle_command(&mut self, _now: Now, _req: RequestId, cmd: Self::Command) {
//!         match cmd {}
//!     }
//!     fn handle_timeout(&mut self, now: Now) {
//!         if now.mono < self.next_ping {
//!             return; // early or spurious: harmless
//!         }
//!         for &p in &self.peers {
//!             self.outbox.send(p, Msg::Ping);
//!         }
//!         self.next_ping = now.mono + Duration::from_secs(1);
//!     }
//!     fn poll_output(&mut self) -> Option<Output<Msg, NodeId, ()>> {
//!         self.outbox.pop()
//!     }
//!     fn poll_timeout(&self) -> Option<Instant> {
//!         Some(self.next_ping)
//!     }
//! }
//!
//! let now = Now::new(Instant::ZERO, WallTime::UNIX_EPOCH);
//! let (a, b) = (NodeId(1), NodeId(2));
//! let mut node = PingPong::new(Init::fresh(a, vec![a, b], (), 7, now));
//! let mut sent = Vec::new();
//! step(&mut node, now, Input::Timeout, |out| sent.push(out));
//! assert!(matches!(sent.as_slice(), [Output::Send { to, msg: Msg::Ping }] if *to == b));
//! assert_eq!(node.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(1)));
//! ```

use crate::node::NodeId;
use crate::time::{Instant, Now};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};

/// A protocol: a deterministic, sans-IO state machine driven by a runtime.
///
/// See the [module documentation](self) for the rules every runtime follows and every
/// implementation may rely on.
pub trait Protocol: Sized + 'static {
    /// A message between nodes. It crosses the network, so it must serialize, and it may
    /// arrive corrupted, forged, late, twice, or not at all.
    type Message: Clone + Debug + Serialize + DeserializeOwned + Send + 'static;
    /// A request from the local application (use [`std::convert::Infallible`] for none).
    type Command: Debug + Send + 'static;
    /// The answer to one command (use [`NoReply`] when commands get none).
    type Reply: Clone + Debug + Serialize + Send + 'static;
    /// A notification for the local application and for checkers.
    type Event: Clone + Debug + Serialize + Send + 'static;
    /// Static configuration, the same on every restart.
    type Config: Clone + Debug + Send + 'static;
    /// The state that survives a crash. It must not contain an [`Instant`]: monotonic
    /// readings mean nothing after a restart.
    type Durable: Clone + Debug + Serialize + DeserializeOwned + Send + 'static;

    /// Builds the node, either fresh or from the state it last persisted.
    fn new(init: Init<Self>) -> Self;

    /// Handles a message that the transport received from `from`.
    fn handle_message(&mut self, now: Now, from: NodeId, msg: Self::Message);

    /// Handles a command from the local application. `req` is unique per node incarnation;
    /// the answer, if any, is an [`Output::Reply`] with it, now or later.
    fn handle_command(&mut self, now: Now, req: RequestId, cmd: Self::Command);

    /// Handles the passing of the deadline last returned by [`Protocol::poll_timeout`].
    /// The call may be late or spurious.
    fn handle_timeout(&mut self, now: Now);

    /// The next output, or `None` when there is none left.
    fn poll_output(&mut self) -> Option<OutputFor<Self>>;

    /// The earliest instant at which the node wants a timeout, or `None` for none.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Whether `event` marks a change an operator wants logged at INFO (a suspicion, an
    /// election, a deposal, a fencing refusal) rather than routine work logged at DEBUG
    /// (each accepted write, each completed operation). Either way the event is published
    /// and counted. By default every event is notable.
    fn is_notable(event: &Self::Event) -> bool {
        let _ = event;
        true
    }

    /// Numbers an operator watches, such as whether this node holds a lease or leads and
    /// how long its lease has left at `now`, pushed onto `out`. The runtime reads them after
    /// every step and exports them as gauges; one reported before and missing now reads 0.
    /// By default there are none.
    fn gauges(&self, now: Now, out: &mut Vec<Gauge>) {
        let _ = (now, out);
    }
}

/// A number an operator watches (a Prometheus gauge), from [`Protocol::gauges`].
#[derive(Clone, Debug, PartialEq)]
pub struct Gauge {
    /// The metric's name, e.g. `palisade_lock_held`.
    pub name: &'static str,
    /// One label and its value, e.g. `("name", "orders")`, if any.
    pub label: Option<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

impl Gauge {
    /// `name` = `value`, unlabelled.
    pub fn new(name: &'static str, value: f64) -> Self {
        Gauge { name, label: None, value }
    }

    /// `name{key="value"}` = `v`.
    pub fn labelled(name: &'static str, key: &'static str, value: &str, v: f64) -> Self {
        Gauge { name, label: Some((key, value.to_string())), value: v }
    }

    /// A lease as two gauges pushed onto `out`, both with `label`: `held` (1 while the
    /// lease ends after `now`, else 0) and `seconds` (how long it has left, else 0).
    pub fn lease(
        out: &mut Vec<Gauge>,
        [held, seconds]: [&'static str; 2],
        label: Option<(&'static str, &str)>,
        ends: Option<Instant>,
        now: Instant,
    ) {
        let left = ends.filter(|&until| now < until).map_or(0.0, |until| (until - now).as_secs_f64());
        let label = label.map(|(k, v)| (k, v.to_string()));
        out.push(Gauge { name: held, label: label.clone(), value: if left > 0.0 { 1.0 } else { 0.0 } });
        out.push(Gauge { name: seconds, label, value: left });
    }
}

/// Everything a protocol is built from.
#[derive(Clone, Debug)]
pub struct Init<P: Protocol> {
    /// This node's id.
    pub id: NodeId,
    /// Every node in the cluster, including this one, sorted and without duplicates.
    pub members: Vec<NodeId>,
    /// The protocol's configuration.
    pub config: P::Config,
    /// The state last persisted before a crash, or `None` on first start.
    pub restored: Option<P::Durable>,
    /// The seed for every random choice the node makes (see [`crate::Rng`]). Every
    /// incarnation gets a seed of its own in both runtimes: a restarted node does not
    /// repeat the random choices (nonces, ids it draws, backoffs) of the one that crashed.
    /// (The runtime's [`RequestId`]s are unique per incarnation only.)
    pub seed: u64,
    /// The node's clocks at construction.
    pub now: Now,
}

impl<P: Protocol> Init<P> {
    /// A first start (nothing restored); `members` is sorted and deduplicated.
    pub fn fresh(id: NodeId, members: Vec<NodeId>, config: P::Config, seed: u64, now: Now) -> Self {
        Self::restart(id, members, config, None, seed, now)
    }

    /// A start from `restored` durable state (or a first start if `None`).
    pub fn restart(
        id: NodeId,
        mut members: Vec<NodeId>,
        config: P::Config,
        restored: Option<P::Durable>,
        seed: u64,
        now: Now,
    ) -> Self {
        members.sort_unstable();
        members.dedup();
        Init { id, members, config, restored, seed, now }
    }

    /// Every member except this node.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.members.iter().copied().filter(move |&m| m != self.id)
    }
}

/// Names one command given to one node, so that its reply finds the caller. The runtime
/// chooses it; a protocol only copies it into its [`Output::Reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// The reply type of a protocol whose commands get no reply (it has no values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NoReply {}

/// One output of a protocol, for the runtime to act on in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Output<M, E, D, R = NoReply> {
    /// Send `msg` to `to`.
    Send {
        /// The recipient.
        to: NodeId,
        /// The message.
        msg: M,
    },
    /// Tell the local application (and checkers) something.
    Event(E),
    /// Answer the command `req`: only its caller hears it. At most one per request; a
    /// runtime ignores a reply nobody waits for.
    Reply {
        /// The command answered.
        req: RequestId,
        /// The answer.
        reply: R,
    },
    /// Make this state durable before acting on any later output.
    Persist(D),
}

/// The output type of protocol `P`.
pub type OutputFor<P> = Output<
    <P as Protocol>::Message,
    <P as Protocol>::Event,
    <P as Protocol>::Durable,
    <P as Protocol>::Reply,
>;

/// One input to a protocol.
#[derive(Clone, Debug)]
pub enum Input<P: Protocol> {
    /// A message the transport received from an authenticated sender.
    Message {
        /// The authenticated sender.
        from: NodeId,
        /// The message.
        msg: P::Message,
    },
    /// A command from the local application.
    Command {
        /// The runtime's name for it, to reply to.
        req: RequestId,
        /// The command.
        cmd: P::Command,
    },
    /// The deadline from `poll_timeout` has passed (or a spurious wake-up).
    Timeout,
}

/// Feeds one input to `protocol` and drains every output into `sink`, in order.
/// Returns the number of outputs drained. Both runtimes drive protocols through this.
// Inlined, as is `drain`: the simulator calls it for most events (0.97x its time an event).
#[inline]
pub fn step<P: Protocol>(
    protocol: &mut P,
    now: Now,
    input: Input<P>,
    sink: impl FnMut(OutputFor<P>),
) -> usize {
    match input {
        Input::Message { from, msg } => protocol.handle_message(now, from, msg),
        Input::Command { req, cmd } => protocol.handle_command(now, req, cmd),
        Input::Timeout => protocol.handle_timeout(now),
    }
    drain(protocol, sink)
}

/// Drains every pending output of `protocol` into `sink`, in order; returns how many.
/// Runtimes call this after construction too.
#[inline]
pub fn drain<P: Protocol>(protocol: &mut P, mut sink: impl FnMut(OutputFor<P>)) -> usize {
    let mut n = 0;
    while let Some(out) = protocol.poll_output() {
        sink(out);
        n += 1;
    }
    n
}

/// The largest number of outputs one input may queue before the outbox calls it a bug.
/// Generous: a broadcast to a thousand members plus events fits many times over.
pub const OUTBOX_SANITY_BOUND: usize = 1 << 20;

/// A FIFO of pending outputs: the usual way to implement [`Protocol::poll_output`].
///
/// An output queued while the outbox is empty waits inline, beside the protocol's other
/// fields; only a second one waiting goes to the heap buffer. Most inputs queue one output
/// (an acknowledgement, a reply), and in a simulation of a thousand nodes, whose states do
/// not fit in cache, that is one cache miss a message fewer.
#[derive(Clone)]
pub struct Outbox<M, E, D, R = NoReply> {
    /// The oldest pending output, if it was queued while the outbox was empty: always
    /// older than everything in `rest`.
    first: Option<Output<M, E, D, R>>,
    rest: VecDeque<Output<M, E, D, R>>,
}

impl<M, E, D, R> Outbox<M, E, D, R> {
    /// The outputs waiting, oldest first, for [`crate::rename`].
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Output<M, E, D, R>> {
        self.first.iter_mut().chain(self.rest.iter_mut())
    }

    /// The outputs waiting, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Output<M, E, D, R>> {
        self.first.iter().chain(self.rest.iter())
    }
}

impl<M, E, D, R> Default for Outbox<M, E, D, R> {
    fn default() -> Self {
        Outbox { first: None, rest: VecDeque::new() }
    }
}

/// As a `VecDeque` of the outputs hashes (their count, then each in order), whichever of
/// them waits inline: equal outboxes hash equal.
impl<M: Hash, E: Hash, D: Hash, R: Hash> Hash for Outbox<M, E, D, R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        self.iter().for_each(|o| o.hash(state));
    }
}

impl<M: Debug, E: Debug, D: Debug, R: Debug> Debug for Outbox<M, E, D, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("queue", &self.iter().collect::<Vec<_>>()).finish()
    }
}

impl<M, E, D, R> Outbox<M, E, D, R> {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues any output.
    #[inline]
    pub fn push(&mut self, out: Output<M, E, D, R>) {
        debug_assert!(
            self.len() < OUTBOX_SANITY_BOUND,
            "outbox holds {} outputs: is the runtime draining it?",
            self.len()
        );
        if self.is_empty() {
            self.first = Some(out);
        } else {
            self.rest.push_back(out);
        }
    }

    /// Queues a message to `to`.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.push(Output::Send { to, msg });
    }

    /// Queues an event.
    pub fn event(&mut self, event: E) {
        self.push(Output::Event(event));
    }

    /// Queues the answer to command `req`.
    pub fn reply(&mut self, req: RequestId, reply: R) {
        self.push(Output::Reply { req, reply });
    }

    /// Queues a durability barrier for `state`.
    pub fn persist(&mut self, state: D) {
        self.push(Output::Persist(state));
    }

    /// Takes the oldest pending output.
    #[inline]
    pub fn pop(&mut self) -> Option<Output<M, E, D, R>> {
        self.first.take().or_else(|| self.rest.pop_front())
    }

    /// Number of pending outputs.
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestOutbox = Outbox<u64, (), ()>;

    /// Random pushes and pops, against a `VecDeque`: the same outputs in the same order,
    /// the same length throughout.
    #[test]
    fn the_outbox_is_first_in_first_out_whichever_output_waits_inline() {
        let mut rng = crate::Rng::from_seed(7);
        for _ in 0..200 {
            let (mut outbox, mut model) = (TestOutbox::new(), VecDeque::new());
            let mut next = 0u64;
            for _ in 0..64 {
                if rng.below(3) == 0 {
                    assert_eq!(outbox.pop(), model.pop_front());
                } else {
                    outbox.send(NodeId(1), next);
                    model.push_back(Output::Send { to: NodeId(1), msg: next });
                    next += 1;
                }
                assert_eq!(outbox.len(), model.len());
                assert_eq!(outbox.is_empty(), model.is_empty());
                assert!(outbox.iter().eq(model.iter()));
            }
            while let Some(o) = model.pop_front() {
                assert_eq!(outbox.pop(), Some(o));
            }
            assert_eq!(outbox.pop(), None);
        }
    }

    /// Two outboxes holding the same outputs hash alike, one with its oldest inline and one
    /// with it in the buffer, and as a `VecDeque` of them does.
    #[test]
    fn equal_outboxes_hash_equal_however_their_outputs_are_stored() {
        use std::hash::{BuildHasher, RandomState};
        let hasher = RandomState::new();
        let (mut inline, mut buffered) = (TestOutbox::new(), TestOutbox::new());
        inline.send(NodeId(2), 5);
        inline.send(NodeId(3), 6);
        buffered.send(NodeId(9), 4);
        buffered.send(NodeId(2), 5);
        buffered.send(NodeId(3), 6);
        buffered.pop();
        let model: VecDeque<Output<u64, (), ()>> =
            [Output::Send { to: NodeId(2), msg: 5 }, Output::Send { to: NodeId(3), msg: 6 }].into();
        assert_eq!(hasher.hash_one(&inline), hasher.hash_one(&buffered));
        assert_eq!(hasher.hash_one(&inline), hasher.hash_one(&model));
        buffered.send(NodeId(4), 7);
        assert_ne!(hasher.hash_one(&inline), hasher.hash_one(&buffered));
        assert_eq!(format!("{inline:?}"), format!("Outbox {{ queue: {model:?} }}"));
    }

    #[test]
    fn a_lease_gauge_reads_held_and_time_left_then_zero_once_it_ends() {
        let at = |ms: u64| Instant::from_nanos(ms * 1_000_000);
        let names = ["held", "seconds"];
        let mut out = Vec::new();
        Gauge::lease(&mut out, names, Some(("name", "a")), Some(at(1_500)), at(1_000));
        Gauge::lease(&mut out, names, None, Some(at(1_500)), at(1_500));
        Gauge::lease(&mut out, names, None, None, at(0));
        let values: Vec<(f64, bool)> = out.iter().map(|g| (g.value, g.label.is_some())).collect();
        assert_eq!(
            values,
            vec![(1.0, true), (0.5, true), (0.0, false), (0.0, false), (0.0, false), (0.0, false)]
        );
    }
}
