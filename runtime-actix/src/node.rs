//! [`NodeActor`]: runs any [`Protocol`] on real clocks, real TCP and a real disk.

use crate::clock::RealClock;
use crate::storage::FileStore;
use crate::transport::{
    FD_RESERVE, Identity, Inbound, Limits, Net, PeerLink, Role, TransportStats, dials, listen,
    open_file_limit,
};
use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, SpawnHandle,
    WrapFuture,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use palisade_core::codec::{Codec, DEFAULT_CODEC};
use palisade_core::protocol::{Init, Input, Output, OutputFor, drain, step};
use palisade_core::{Instant, NodeId, Protocol, RequestId, WallTime};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The exit status of a process whose node could not persist its state (EX_IOERR).
pub const PERSIST_FAILED_EXIT: i32 = 74;

/// Events buffered per subscriber; a subscriber that falls further behind loses the oldest
/// and is told how many it missed (`broadcast::error::RecvError::Lagged`).
pub const EVENT_BUFFER: usize = 4096;

/// Everything a node needs to start.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NodeConfig<P: Protocol> {
    /// The cluster id; frames from other clusters are rejected.
    pub cluster: u64,
    /// This node's id.
    pub id: NodeId,
    /// Every other member: where it listens and its public key.
    pub peers: BTreeMap<NodeId, Peer>,
    /// This node's signing key.
    pub key: SigningKey,
    /// The protocol's configuration.
    pub protocol: P::Config,
    /// Where durable state lives.
    pub data_dir: PathBuf,
    /// Seed for the protocol's random choices. Each start mixes it with randomness from the
    /// operating system, so an incarnation never repeats the choices of the one before it
    /// (the simulator, too, gives every incarnation a seed of its own).
    pub seed: u64,
    /// What the network may hold of this node: admission control and deadlines.
    pub limits: Limits,
}

impl<P: Protocol> NodeConfig<P> {
    /// A configuration with no peers yet, seed 0 and the default [`Limits`]; add the rest
    /// with the setters below.
    pub fn new(
        cluster: u64,
        id: NodeId,
        key: SigningKey,
        protocol: P::Config,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        NodeConfig {
            cluster,
            id,
            peers: BTreeMap::new(),
            key,
            protocol,
            data_dir: data_dir.into(),
            seed: 0,
            limits: Limits::default(),
        }
    }

    palisade_core::__config_setters! {
        cluster: u64,
        id: NodeId,
        peers: BTreeMap<NodeId, Peer>,
        key: SigningKey,
        protocol: P::Config,
        data_dir: PathBuf,
        seed: u64,
        limits: Limits,
    }
}

/// A peer: its address and the ed25519 key it proves its identity with.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its ed25519 public key.
    pub key: VerifyingKey,
}

/// An event stamped with the node and its clocks when it was emitted.
#[derive(Clone, Debug, Serialize)]
pub struct NodeEvent<E> {
    /// The emitting node.
    pub node: NodeId,
    /// Its wall clock at emission.
    pub wall: WallTime,
    /// Its monotonic clock at emission.
    pub mono: Instant,
    /// The event.
    pub event: E,
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data directory cannot be created or written.
    #[error("data_dir {} is not a writable directory: {source}", dir.display())]
    NotWritable {
        /// The data directory.
        dir: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The state file could not be read.
    #[error("storage in {dir}: {source}")]
    Storage {
        /// The data directory.
        dir: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The persisted state does not decode as this protocol's durable state.
    #[error("persisted state in {dir} is unreadable: {reason}")]
    CorruptState {
        /// The data directory.
        dir: PathBuf,
        /// The decode error.
        reason: String,
    },
    /// The listener could not be handed to the runtime.
    #[error("listener: {0}")]
    Listener(std::io::Error),
    /// The process may open too few files for the transport's limits and its storage.
    #[error(
        "open-file limit {limit} is below the {needed} this node needs ({peers} peers, {pending} pending handshakes, {FD_RESERVE} reserved); raise `ulimit -n` or lower the limits"
    )]
    FileLimit {
        /// The process's soft limit.
        limit: u64,
        /// What the node needs.
        needed: u64,
        /// Its peers.
        peers: usize,
        /// Its pending-handshake cap.
        pending: usize,
    },
    /// No static key could be generated for the Noise handshakes.
    #[error("noise identity: {0}")]
    Identity(String),
}

/// A command from the application to the node, and where its reply goes.
pub struct Command<P: Protocol> {
    /// The command.
    pub cmd: P::Command,
    reply: Option<tokio::sync::oneshot::Sender<Result<P::Reply, CallError>>>,
}

/// Messages a node hands itself in a row before it lets the runtime run something else.
const SELF_MESSAGES_BEFORE_YIELD: u32 = 64;

/// Calls a node holds open at once; a call beyond this fails with
/// [`CallError::Overloaded`] instead of growing the node's memory.
pub const MAX_CALLS_WAITING: usize = 65_536;

/// Why [`NodeHandle::command`] or [`NodeHandle::try_command`] could not hand a command to
/// the node (the command was not delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The node has stopped.
    #[error("the node stopped")]
    Stopped,
    /// The node's mailbox is full ([`NodeHandle::try_command`] only: wait, or use
    /// [`NodeHandle::command`]).
    #[error("the node's mailbox is full")]
    Full,
}

/// Why [`NodeHandle::call`] got no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No reply within the caller's timeout. The command may still take effect.
    #[error("no reply within {0:?}")]
    Timeout(std::time::Duration),
    /// The node stopped before it replied (or before it took the command).
    #[error("the node stopped")]
    Stopped,
    /// [`MAX_CALLS_WAITING`] calls were already waiting for their replies.
    #[error("{0} calls already waiting for a reply")]
    Overloaded(usize),
}

impl<P: Protocol> Message for Command<P> {
    type Result = ();
}

/// Asks the node to stop, as if its process had been killed (nothing more is sent).
#[derive(Debug)]
pub struct Stop;

impl Message for Stop {
    type Result = ();
}

/// The actor that drives one protocol instance.
pub struct NodeActor<P: Protocol> {
    id: NodeId,
    protocol: Box<P>,
    clock: RealClock,
    store: Arc<FileStore>,
    links: BTreeMap<NodeId, PeerLink>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    listener: Option<(tokio::net::TcpListener, Rc<Net>, crate::transport::Attach)>,
    events: broadcast::Sender<NodeEvent<P::Event>>,
    stats: Arc<TransportStats>,
    armed: Option<Instant>,
    timer: Option<SpawnHandle>,
    span: tracing::Span,
    observe: Option<Box<Observer<P>>>,
    /// True while a `Persist` is being made durable: inputs wait in `backlog`.
    persisting: bool,
    /// Messages delivered together, handled one at a time, never past a pending `Persist`.
    /// Boxed: an actor must be `Unpin`, whatever the protocol's message type is.
    #[allow(clippy::box_collection)]
    backlog: Box<std::collections::VecDeque<(NodeId, P::Message)>>,
    /// Messages the node sent itself, in the order sent: one [`ToSelf`] notification each
    /// hands over the oldest (actix runs notifications in no guaranteed order).
    #[allow(clippy::box_collection)]
    to_self: Box<std::collections::VecDeque<P::Message>>,
    /// Messages to self handed back without yielding to the runtime since it last did.
    self_streak: u32,
    /// The last request id given to a command.
    last_request: u64,
    /// The event kinds labelled so far (at most [`MAX_EVENT_KINDS`]).
    event_kinds: std::collections::BTreeSet<String>,
    /// Callers waiting for the reply to each request.
    waiting: std::collections::HashMap<RequestId, tokio::sync::oneshot::Sender<Result<P::Reply, CallError>>>,
    /// The protocol's gauges, refilled after every step.
    gauges: Vec<palisade_core::Gauge>,
    /// Gauges the protocol reported at the last step (at most [`MAX_GAUGES`]): one it stops
    /// reporting is set to 0.
    shown: std::collections::BTreeSet<GaugeKey>,
}

/// A gauge's name and label.
type GaugeKey = (&'static str, Option<(&'static str, String)>);

/// Distinct gauges (name and label) a node exports after one step; more are not exported.
pub const MAX_GAUGES: usize = 256;

/// Called with the protocol and the time after every input: how state is published to
/// application threads (see [`crate::lease::start_lock_client`]).
pub type Observer<P> = dyn FnMut(&P, palisade_core::Now);

/// The application's handle on a running node: commands in, events out, counters.
/// Cloneable and usable from any thread.
pub struct NodeHandle<P: Protocol> {
    /// The node's id.
    pub id: NodeId,
    /// Where the node listens.
    pub addr: SocketAddr,
    /// The durable state it restarted from, if it found one.
    pub restored: Option<P::Durable>,
    clock: RealClock,
    actor: Addr<NodeActor<P>>,
    events: broadcast::Sender<NodeEvent<P::Event>>,
    stats: Arc<TransportStats>,
}

impl<P: Protocol> Clone for NodeHandle<P> {
    fn clone(&self) -> Self {
        NodeHandle {
            id: self.id,
            addr: self.addr,
            restored: self.restored.clone(),
            clock: self.clock.clone(),
            actor: self.actor.clone(),
            events: self.events.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<P: Protocol> NodeHandle<P> {
    /// Receives every event the node emits from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent<P::Event>> {
        self.events.subscribe()
    }

    /// Sends a command and waits for the protocol's [`Output::Reply`] to it, at most
    /// `timeout` (which includes waiting for the mailbox). A protocol answers each command
    /// at most once; one whose `Reply` is `NoReply` never does, so calling it times out.
    pub async fn call(&self, cmd: P::Command, timeout: std::time::Duration) -> Result<P::Reply, CallError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let exchange = async {
            self.actor.send(Command::<P> { cmd, reply: Some(tx) }).await.map_err(|_| CallError::Stopped)?;
            rx.await.unwrap_or(Err(CallError::Stopped))
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(CallError::Timeout(timeout)))
    }

    /// Sends a command without waiting for a reply (any reply is dropped); waits for the
    /// mailbox (never unbounded). Fails only if the node has stopped.
    pub async fn command(&self, cmd: P::Command) -> Result<(), CommandError> {
        self.actor.send(Command::<P> { cmd, reply: None }).await.map_err(|_| CommandError::Stopped)
    }

    /// Sends a command from any thread without waiting; fails if the node's mailbox is
    /// full or the node has stopped (the command is then not delivered). Any reply is
    /// dropped.
    pub fn try_command(&self, cmd: P::Command) -> Result<(), CommandError> {
        self.actor.try_send(Command::<P> { cmd, reply: None }).map_err(|e| match e {
            actix::dev::SendError::Full(_) => CommandError::Full,
            actix::dev::SendError::Closed(_) => CommandError::Stopped,
        })
    }

    /// The node's clock: `clock().now().mono` is on the same timeline as the protocol's
    /// instants, so application threads can compare against deadlines it publishes.
    pub fn clock(&self) -> &RealClock {
        &self.clock
    }

    /// Stops the node: its timers, listener, connections and link tasks end.
    pub async fn stop(&self) {
        let _ = self.actor.send(Stop).await;
    }

    /// True while the actor runs.
    pub fn is_running(&self) -> bool {
        self.actor.connected()
    }

    /// Transport counters.
    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }
}

/// Starts a node on `listener` inside the current actix system, restoring its durable
/// state from `config.data_dir` if there is any (which must be writable).
///
/// A node that cannot make a `Persist` durable ends the process with status
/// [`PERSIST_FAILED_EXIT`] and one line on stderr: it can neither act on what follows the
/// barrier nor pretend to be up.
pub fn start<P: Protocol>(
    config: NodeConfig<P>,
    listener: std::net::TcpListener,
) -> Result<NodeHandle<P>, StartError> {
    start_observed(config, listener, None)
}

/// [`start`], calling `observe` with the protocol and the time after construction and after
/// every input (on the node's thread: keep it short and non-blocking).
pub fn start_observed<P: Protocol>(
    config: NodeConfig<P>,
    listener: std::net::TcpListener,
    observe: Option<Box<Observer<P>>>,
) -> Result<NodeHandle<P>, StartError> {
    let dir = config.data_dir.clone();
    let not_writable = |source| StartError::NotWritable { dir: dir.clone(), source };
    let store = FileStore::open(&dir).map_err(not_writable)?;
    store.check_writable().map_err(not_writable)?;
    let restored = match store.load().map_err(|source| StartError::Storage { dir: dir.clone(), source })? {
        None => None,
        Some(bytes) => Some(
            DEFAULT_CODEC
                .decode::<P::Durable>(&bytes)
                .map_err(|e| StartError::CorruptState { dir: dir.clone(), reason: e.to_string() })?,
        ),
    };
    let needed = config.limits.fd_budget(config.peers.len()) + FD_RESERVE;
    if let Some(limit) = open_file_limit().filter(|&l| l < needed) {
        return Err(StartError::FileLimit {
            limit,
            needed,
            peers: config.peers.len(),
            pending: config.limits.max_pending,
        });
    }
    listener.set_nonblocking(true).map_err(StartError::Listener)?;
    let addr = listener.local_addr().map_err(StartError::Listener)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(StartError::Listener)?;

    let clock = RealClock::new();
    let handle_clock = clock.clone();
    let mut members: Vec<NodeId> = config.peers.keys().copied().collect();
    members.push(config.id);
    let init = Init::restart(
        config.id,
        members,
        config.protocol.clone(),
        restored.clone(),
        incarnation_seed(config.seed),
        clock.now(),
    );
    let stats = Arc::new(TransportStats::default());
    let identity = Identity::new(config.cluster, config.id, &config.key)
        .map_err(|e| StartError::Identity(e.to_string()))?;
    let keys = config.peers.iter().map(|(&n, p)| (n, p.key)).collect();
    let net = Net::new(identity, keys, config.limits.clone(), stats.clone());
    // The actor's address exists before the actor runs, so links can deliver to it.
    let ctx: Context<NodeActor<P>> = Context::new();
    let inbox = ctx.address().recipient::<Inbound<P::Message>>();
    let mut links = BTreeMap::new();
    let mut tasks = Vec::new();
    let mut handovers = BTreeMap::new();
    for (&peer, p) in &config.peers {
        let role = if dials(config.id, peer) {
            Role::Dial { addr: p.addr, local: Some(addr.ip()) }
        } else {
            let handover = Rc::new(crate::transport::Handover::default());
            handovers.insert(peer, handover.clone());
            Role::Accept(handover)
        };
        let (link, task) = PeerLink::spawn(peer, role, net.clone(), inbox.clone());
        links.insert(peer, link);
        tasks.push(task);
    }
    let (events, _) = broadcast::channel(EVENT_BUFFER);
    let span = tracing::info_span!("node", cluster = config.cluster, node = %config.id);
    let actor = NodeActor {
        id: config.id,
        protocol: Box::new(P::new(init)),
        clock,
        store: Arc::new(store),
        links,
        tasks,
        listener: Some((listener, net, Rc::new(handovers))),
        events: events.clone(),
        stats: stats.clone(),
        armed: None,
        timer: None,
        span,
        observe,
        persisting: false,
        backlog: Default::default(),
        to_self: Default::default(),
        last_request: 0,
        self_streak: 0,
        event_kinds: Default::default(),
        waiting: Default::default(),
        gauges: Vec::new(),
        shown: Default::default(),
    };
    let actor = ctx.run(actor);
    Ok(NodeHandle { id: config.id, addr, restored, clock: handle_clock, actor, events, stats })
}

impl<P: Protocol> NodeActor<P> {
    /// Acts on `outputs` in order. A `Persist` is written and fsynced on tokio's blocking
    /// pool while the actor waits (`Context::wait`: no message, timer or command is handled
    /// meanwhile), and the outputs after it are acted on only once the state is durable.
    fn act(&mut self, outputs: Vec<OutputFor<P>>, ctx: &mut Context<Self>) {
        let mut outputs = outputs.into_iter();
        while let Some(out) = outputs.next() {
            match out {
                Output::Send { to, msg } if to == self.id => {
                    self.to_self.push_back(msg);
                    // actix runs notifications without yielding: every so many in a row, the
                    // next waits for the runtime's turn, so a protocol that keeps messaging
                    // itself cannot starve timers, peers, stop or signals.
                    self.self_streak += 1;
                    if self.self_streak < SELF_MESSAGES_BEFORE_YIELD {
                        ctx.notify(ToSelf);
                    } else {
                        self.self_streak = 0;
                        ctx.run_later(std::time::Duration::ZERO, |_, ctx| ctx.notify(ToSelf));
                    }
                }
                Output::Send { to, msg } => match self.links.get_mut(&to) {
                    Some(link) => link.send(&msg, &self.stats),
                    None => {
                        TransportStats::bump(&self.stats.dropped_unknown_peer);
                        tracing::warn!(%to, "send to a node that is not a peer dropped");
                    }
                },
                Output::Reply { req, reply } => match self.waiting.remove(&req) {
                    Some(caller) => {
                        let _ = caller.send(Ok(reply));
                    }
                    None => tracing::debug!(%req, ?reply, "reply nobody waits for"),
                },
                Output::Event(event) => {
                    let now = self.clock.now();
                    let mut kind = event_kind(&event);
                    if !self.event_kinds.contains(&kind) {
                        if self.event_kinds.len() < MAX_EVENT_KINDS {
                            self.event_kinds.insert(kind.clone());
                        } else {
                            kind = "other".to_string();
                        }
                    }
                    if P::is_notable(&event) {
                        tracing::info!(event = %kind, detail = ?event, "event");
                    } else {
                        tracing::debug!(event = %kind, detail = ?event, "event");
                    }
                    metrics::counter!("palisade_events_total", "event" => kind).increment(1);
                    // No subscribers is fine: events are also logged and counted.
                    let _ =
                        self.events.send(NodeEvent { node: self.id, wall: now.wall, mono: now.mono, event });
                }
                Output::Persist(state) => {
                    let store = self.store.clone();
                    let began = std::time::Instant::now();
                    let save = async move {
                        let bytes = DEFAULT_CODEC.encode(&state).map_err(std::io::Error::other)?;
                        tokio::task::spawn_blocking(move || store.save(&bytes))
                            .await
                            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
                    };
                    let rest: Vec<_> = outputs.collect();
                    self.persisting = true;
                    ctx.wait(save.into_actor(self).map(move |saved, act, ctx| match saved {
                        Ok(()) => {
                            metrics::histogram!("palisade_persist_seconds")
                                .record(began.elapsed().as_secs_f64());
                            act.persisting = false;
                            act.act(rest, ctx);
                            // The rest of a batch later, as a message of its own: timers and
                            // commands get their turn between one persist and the next.
                            if !act.persisting && !act.backlog.is_empty() {
                                ctx.notify(Drain);
                            }
                        }
                        Err(e) => act.fatal(&e),
                    }));
                    return;
                }
            }
        }
    }

    /// The persist barrier cannot be honoured: acting on anything after it could break the
    /// protocol's crash-recovery guarantees, and a node that stays up without acting is
    /// half-alive. One line, then the process exits, as a crash would end it.
    fn fatal(&self, e: &std::io::Error) -> ! {
        // Straight to stderr, not through a log writer that may not flush before the exit.
        eprintln!(
            "palisade: node {}: persisting state in {} failed: {e}; exiting",
            self.id,
            self.store.dir().display()
        );
        std::process::exit(PERSIST_FAILED_EXIT);
    }

    /// Handles queued messages in order until one leaves a `Persist` pending.
    fn drain_backlog(&mut self, ctx: &mut Context<Self>) {
        while !self.persisting {
            let Some((from, msg)) = self.backlog.pop_front() else { return };
            self.input(Input::Message { from, msg }, ctx);
        }
    }

    fn input(&mut self, input: Input<P>, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _enter = span.enter();
        let now = self.clock.now();
        let mut outputs = Vec::new();
        step(&mut *self.protocol, now, input, |o| outputs.push(o));
        self.act(outputs, ctx);
        self.publish(now);
        self.rearm(ctx);
    }

    fn publish(&mut self, now: palisade_core::Now) {
        if let Some(observe) = self.observe.as_mut() {
            observe(&self.protocol, now);
        }
        self.export_gauges(now);
    }

    /// Sets the protocol's gauges in the metrics recorder, and 0 for any it stopped reporting.
    fn export_gauges(&mut self, now: palisade_core::Now) {
        self.gauges.clear();
        self.protocol.gauges(now, &mut self.gauges);
        if self.gauges.is_empty() && self.shown.is_empty() {
            return;
        }
        let set = |key: &GaugeKey, value: f64| match &key.1 {
            Some((k, v)) => metrics::gauge!(key.0, *k => v.clone()).set(value),
            None => metrics::gauge!(key.0).set(value),
        };
        let mut now_shown = std::collections::BTreeSet::new();
        for g in self.gauges.drain(..) {
            let key = (g.name, g.label);
            // The cap counts distinct gauges live now (found by review: counting the live
            // ones twice, or the zeroed ones forever, stopped new gauges early).
            if now_shown.len() < MAX_GAUGES {
                set(&key, g.value);
                now_shown.insert(key);
            }
        }
        // Gone since the last step: set to 0 once, then no longer tracked.
        for gone in self.shown.difference(&now_shown) {
            set(gone, 0.0);
        }
        self.shown = now_shown;
    }

    /// Keeps exactly one timer, re-armed only when the protocol's deadline changes.
    fn rearm(&mut self, ctx: &mut Context<Self>) {
        let next = self.protocol.poll_timeout();
        if next == self.armed {
            return;
        }
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        self.armed = next;
        if let Some(deadline) = next {
            let delay = self.clock.until(deadline);
            self.timer = Some(ctx.run_later(delay, |act, ctx| {
                act.timer = None;
                act.armed = None;
                act.input(Input::Timeout, ctx);
            }));
        }
    }
}

impl<P: Protocol> Actor for NodeActor<P> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _enter = span.enter();
        tracing::info!("node started");
        if let Some((listener, net, attach)) = self.listener.take() {
            let span = self.span.clone();
            let task = actix::spawn(tracing::Instrument::instrument(listen(listener, net, attach), span));
            self.tasks.push(task);
        }
        let mut outputs = Vec::new();
        drain(&mut *self.protocol, |o| outputs.push(o));
        self.act(outputs, ctx);
        let now = self.clock.now();
        self.publish(now);
        self.rearm(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.links.clear();
        let _enter = self.span.enter();
        tracing::info!("node stopped");
    }
}

impl<P: Protocol> Handler<Inbound<P::Message>> for NodeActor<P> {
    type Result = ();

    fn handle(&mut self, m: Inbound<P::Message>, ctx: &mut Context<Self>) {
        self.backlog.extend(m.msgs.into_iter().map(|msg| (m.from, msg)));
        self.drain_backlog(ctx);
    }
}

/// Hands the oldest message the node sent itself to its protocol, after what it was doing:
/// never lost, never doubled, in the order sent, as in the simulator.
struct ToSelf;

impl Message for ToSelf {
    type Result = ();
}

impl<P: Protocol> Handler<ToSelf> for NodeActor<P> {
    type Result = ();

    fn handle(&mut self, _: ToSelf, ctx: &mut Context<Self>) {
        if let Some(msg) = self.to_self.pop_front() {
            self.backlog.push_back((self.id, msg));
            self.drain_backlog(ctx);
        }
    }
}

/// Handles the messages a batch left behind a `Persist`.
struct Drain;

impl Message for Drain {
    type Result = ();
}

impl<P: Protocol> Handler<Drain> for NodeActor<P> {
    type Result = ();

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) {
        self.drain_backlog(ctx);
    }
}

impl<P: Protocol> Handler<Command<P>> for NodeActor<P> {
    type Result = ();

    fn handle(&mut self, m: Command<P>, ctx: &mut Context<Self>) {
        self.last_request += 1;
        let req = RequestId(self.last_request);
        if let Some(caller) = m.reply {
            if self.waiting.len() >= MAX_CALLS_WAITING {
                // Callers that gave up (timed out, dropped) leave their slots here.
                self.waiting.retain(|_, c| !c.is_closed());
            }
            if self.waiting.len() >= MAX_CALLS_WAITING {
                let _ = caller.send(Err(CallError::Overloaded(self.waiting.len())));
                return;
            }
            self.waiting.insert(req, caller);
        }
        self.input(Input::Command { req, cmd: m.cmd }, ctx);
    }
}

impl<P: Protocol> Handler<Stop> for NodeActor<P> {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// `Init.seed` for one start: `base` mixed with randomness the standard library draws from
/// the operating system, so two starts (a crash and a restart) never share a seed.
fn incarnation_seed(base: u64) -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(base)
}

/// Distinct event kinds a node labels its event counter with; the rest count as `other`
/// (a label per value would let a peer grow the metrics without bound).
pub const MAX_EVENT_KINDS: usize = 64;

/// An event's kind for logs and metric labels: the enum variant or struct name its `Debug`
/// form starts with, in snake case (`Suspect { peer: n3 }` is `suspect`); `other` when that
/// form does not start with such a name (a number, say).
fn event_kind<E: std::fmt::Debug>(event: &E) -> String {
    /// Keeps the leading name of a `Debug` form and stops the formatting after it, so an
    /// event's fields are never formatted just to be thrown away.
    struct Name(String);
    impl std::fmt::Write for Name {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = s.find(|c: char| !c.is_alphanumeric() && c != '_');
            self.0.push_str(&s[..end.unwrap_or(s.len())]);
            if end.is_some() { Err(std::fmt::Error) } else { Ok(()) }
        }
    }
    let mut name = Name(String::new());
    let _ = std::fmt::Write::write_fmt(&mut name, format_args!("{event:?}"));
    let name = name.0;
    if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return "other".to_string();
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    #[allow(dead_code)]
    enum Sample {
        Suspect { peer: u32 },
        ObserverPaused(u64),
        Fenced,
    }

    #[test]
    fn an_events_kind_is_its_variant_in_snake_case() {
        assert_eq!(super::event_kind(&Sample::Suspect { peer: 3 }), "suspect");
        assert_eq!(super::event_kind(&Sample::ObserverPaused(1)), "observer_paused");
        assert_eq!(super::event_kind(&Sample::Fenced), "fenced");
        assert_eq!(super::event_kind(&7u8), "other", "values never become labels");
        assert_eq!(super::event_kind(&"Text"), "other");
    }
}
