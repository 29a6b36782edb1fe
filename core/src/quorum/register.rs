//! A Byzantine quorum register (Malkhi and Reiter, Distributed Computing 1998).
//!
//! Model: asynchronous network with eventual delivery (requests are re-sent); n servers of
//! which at most f are Byzantine; clients are correct; writers choose timestamps unique to
//! themselves (counter, writer id).
//! Guarantees (safety, for a single writer at a time per timestamp): a read returns the
//! value of the last write completed before it started or of a concurrent one, never a
//! value nobody wrote. With a *masking* system (n ≥ 4f + 1, unsigned values) a reader
//! accepts a ⟨value, timestamp⟩ only if at least f + 1 servers vouch for it; with a
//! *dissemination* system (n ≥ 3f + 1) values are signed by their writer and a reader
//! accepts the highest validly signed one. Over a *majority* system (n ≥ 2f + 1) it is the
//! crash-fault ABD register: every server is trusted and the highest timestamp wins, so a
//! single lying server defeats it (the `register-liar` scenario shows it). Liveness: operations complete once a quorum of
//! correct servers answers.
//! Checkers: the `bft-register` scenario's.
//!
//! Clients are driven by the application: [`RegisterCommand::Write`] and
//! [`RegisterCommand::Read`], one operation at a time per client, each answered with a
//! [`RegisterReply`] when a quorum has answered (never, if the client crashes first).

use super::system::{QuorumKind, QuorumSystem};
use super::vote::{Keyring, Signer, Vote, VoteKeys};
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol, RequestId};
use crate::time::{Instant, Now};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The system model the register assumes with `f` Byzantine servers (0 for the crash-fault
/// register over a majority system): safe when asynchronous, live after GST (partially
/// synchronous), any network misbehaviour (requests are
/// re-sent), servers that crash and recover with stable storage.
pub const fn model(f: u32) -> crate::model::SystemModel {
    use crate::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
    SystemModel {
        timing: Timing::PartiallySynchronous,
        nodes: if f == 0 { NodeFaults::CrashRecovery } else { NodeFaults::Byzantine { f, recovery: true } },
        clocks: ClockModel::monotonic(200),
        network: NetworkModel::UNRELIABLE,
        max_down: None,
    }
}

pub use super::timestamp::Ts;

/// A stored value with its timestamp and, for dissemination systems, the writer's signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stored {
    /// The value.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// Its timestamp.
    pub ts: Ts,
    /// The writer's signature over (value, ts) (empty for masking systems).
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// Register messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterMsg {
    /// Client → server: your timestamp?
    TsQuery {
        /// Operation id.
        op: u64,
    },
    /// Server → client.
    TsReply {
        /// Operation id.
        op: u64,
        /// The server's timestamp.
        ts: Ts,
    },
    /// Client → server: store this.
    Store {
        /// Operation id.
        op: u64,
        /// What to store.
        stored: Stored,
    },
    /// Server → client: stored.
    StoreAck {
        /// Operation id.
        op: u64,
    },
    /// Client → server: what do you have?
    Read {
        /// Operation id.
        op: u64,
    },
    /// Server → client.
    ReadReply {
        /// Operation id.
        op: u64,
        /// The server's value, if any.
        stored: Option<Stored>,
    },
}

/// Register events (at clients).
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegisterEvent {
    /// A write of `value` began.
    WriteStarted {
        /// The value.
        value: Vec<u8>,
    },
    /// The write completed at timestamp `ts`.
    WriteDone {
        /// The value.
        value: Vec<u8>,
        /// Its timestamp.
        ts: Ts,
    },
    /// A read began.
    ReadStarted,
    /// The read completed: a value and its timestamp, or ⊥.
    ReadDone {
        /// The value read, if any.
        value: Option<Vec<u8>>,
        /// Its timestamp.
        ts: Option<Ts>,
    },
}

/// A stored value whose signature was checked: timestamp, value, signature.
type Checked = (Ts, Vec<u8>, Vec<u8>);

/// The domain tag of a register value's signature: distinct from votes' and Bracha's, so a
/// signature made for one protocol can never be passed off as another's.
pub const REGISTER_DOMAIN: &[u8] = b"palisade/register-value/v1";

/// Signature checks (valid or not) remembered per node before the cache starts over.
pub const VERIFIED_CACHE: usize = 1024;

/// Configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RegisterConfig {
    /// The servers' quorum system: majority (crash faults), masking or dissemination.
    pub system: QuorumSystem,
    /// Servers are nodes 1..=n; higher ids are clients.
    pub servers: u32,
    /// The writers' signing keys (used by a dissemination system only).
    pub keys: VoteKeys,
    /// Unanswered requests are re-sent this often.
    pub resend_every: Duration,
}

impl RegisterConfig {
    crate::__config_setters! {
        system: QuorumSystem,
        servers: u32,
        keys: VoteKeys,
        resend_every: Duration,
    }
}

impl RegisterConfig {
    /// Servers 1..=`system.n()`, signing with `keys`, re-sending every 300 ms.
    pub fn new(system: QuorumSystem, keys: VoteKeys) -> Self {
        let servers = u32::try_from(system.n()).unwrap_or(u32::MAX);
        RegisterConfig { system, servers, keys, resend_every: Duration::from_millis(300) }
    }
}

/// What an application asks a register client to do.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterCommand {
    /// Write `value` (at most [`MAX_VALUE`] bytes).
    Write {
        /// The value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// Read the register.
    Read,
}

/// The answer to a [`RegisterCommand`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterReply {
    /// The write completed at this timestamp.
    Written {
        /// Its timestamp.
        ts: Ts,
    },
    /// The read completed: the value and its timestamp, or nothing ever written.
    Read {
        /// The value read, if any.
        value: Option<Vec<u8>>,
        /// Its timestamp.
        ts: Option<Ts>,
    },
    /// Refused: this client has an operation in progress.
    Busy,
    /// Refused: this node is a server, not a client.
    NotAClient,
    /// Refused: the value is longer than [`MAX_VALUE`].
    TooLarge,
}

/// The longest value a client writes: values are signed as votes, whose values are bounded.
pub const MAX_VALUE: usize = super::MAX_VOTE_VALUE;

#[derive(Clone, Debug, Hash)]
enum Phase {
    Idle,
    QueryTs { req: RequestId, op: u64, value: Vec<u8>, replies: BTreeMap<NodeId, Ts> },
    Store { req: RequestId, op: u64, stored: Stored, acks: BTreeSet<NodeId> },
    Read { req: RequestId, op: u64, replies: BTreeMap<NodeId, Option<Stored>> },
}

/// What a register node persists. A server: the value it stores, durable before it
/// acknowledges a store (otherwise a restart could forget a completed write). A client: its
/// operation counter, durable before a new operation's first message, so a reply to an
/// operation from before a crash can never be taken for one after it.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDurable {
    /// The server's stored value.
    pub stored: Option<Stored>,
    /// The client's last operation number.
    pub next_op: u64,
    /// The counter of the last timestamp this client wrote under, durable before the
    /// store goes out: after a restart its next write goes above it even if no server of
    /// the next quorum holds it (else two values could share one timestamp).
    #[serde(default)]
    pub last_counter: u64,
}

/// A register node: a server (ids 1..=servers) or a client.
#[derive(Clone)]
pub struct Register {
    id: NodeId,
    config: RegisterConfig,
    keyring: Keyring,
    /// What this node signs with, derived from the configuration once.
    signer: Signer,
    /// Server state.
    stored: Option<Stored>,
    /// Signatures already checked, so a value re-read many times is verified once.
    verified: BTreeMap<Checked, bool>,
    /// Client state.
    phase: Phase,
    next_op: u64,
    last_counter: u64,
    next_resend: Instant,
    outbox: Outbox<RegisterMsg, RegisterEvent, RegisterDurable, RegisterReply>,
}

/// The state, for the explorer's fingerprints: the configuration, the keyring and the
/// signer are left out, being the same in every state of one model.
impl std::hash::Hash for Register {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Register {
            id,
            config: _,
            keyring: _,
            signer: _,
            stored,
            verified,
            phase,
            next_op,
            last_counter,
            next_resend,
            outbox,
        } = self;
        (id, stored, verified, phase, next_op, last_counter, next_resend, outbox).hash(h);
    }
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Register").field("id", &self.id).finish()
    }
}

impl Register {
    fn is_server(&self) -> bool {
        self.id.0 <= self.config.servers
    }

    fn servers(&self) -> impl Iterator<Item = NodeId> + '_ {
        (1..=self.config.servers).map(NodeId)
    }

    fn signed(&self) -> bool {
        self.config.system.kind() == QuorumKind::Dissemination
    }

    /// A stored value's signature is valid (dissemination) or not needed (masking).
    fn authentic(&mut self, s: &Stored) -> bool {
        if !self.signed() {
            return true;
        }
        // No copy of, nor cache entry for, a value too long to be signed: a peer's 64 KiB
        // values would otherwise fill the cache with 64 MiB.
        if s.value.len() > MAX_VALUE || s.signature.len() != 64 {
            return false;
        }
        let key = (s.ts, s.value.clone(), s.signature.clone());
        if let Some(&ok) = self.verified.get(&key) {
            return ok;
        }
        let vote = Vote {
            instance: s.ts.counter,
            round: u64::from(s.ts.writer.0),
            voter: s.ts.writer,
            value: s.value.clone(),
            signature: s.signature.clone(),
        };
        let ok = self.keyring.verify_in(REGISTER_DOMAIN, &vote).is_ok();
        // Failures are remembered too: a peer resending a forged value costs a lookup, not
        // another signature check.
        if self.verified.len() >= VERIFIED_CACHE {
            self.verified.clear();
        }
        self.verified.insert(key, ok);
        ok
    }

    fn sign(&self, value: Vec<u8>, ts: Ts) -> Stored {
        let signature = if self.signed() {
            let (counter, writer) = (ts.counter, u64::from(ts.writer.0));
            Vote::sign_as_in(REGISTER_DOMAIN, &self.signer, counter, writer, self.id, value.clone()).signature
        } else {
            Vec::new()
        };
        Stored { value, ts, signature }
    }

    fn request(&mut self) {
        let (msg, answered): (RegisterMsg, BTreeSet<NodeId>) = match &self.phase {
            Phase::Idle => return,
            // With signed values the writer asks for the stored values themselves, so every
            // timestamp it builds on carries its writer's signature.
            Phase::QueryTs { op, replies, .. } if self.signed() => {
                (RegisterMsg::Read { op: *op }, replies.keys().copied().collect())
            }
            Phase::QueryTs { op, replies, .. } => {
                (RegisterMsg::TsQuery { op: *op }, replies.keys().copied().collect())
            }
            Phase::Store { op, stored, acks, .. } => {
                (RegisterMsg::Store { op: *op, stored: stored.clone() }, acks.clone())
            }
            Phase::Read { op, replies, .. } => {
                (RegisterMsg::Read { op: *op }, replies.keys().copied().collect())
            }
        };
        let targets: Vec<NodeId> = self.servers().filter(|s| !answered.contains(s)).collect();
        for s in targets {
            self.outbox.send(s, msg.clone());
        }
    }

    fn durable(&self) -> RegisterDurable {
        RegisterDurable {
            stored: self.stored.clone(),
            next_op: self.next_op,
            last_counter: self.last_counter,
        }
    }

    /// Starts the application's operation `cmd`, or says why not.
    fn start_op(&mut self, now: Instant, req: RequestId, cmd: RegisterCommand) -> Result<(), RegisterReply> {
        if self.is_server() {
            return Err(RegisterReply::NotAClient);
        }
        if !matches!(self.phase, Phase::Idle) {
            return Err(RegisterReply::Busy);
        }
        if matches!(&cmd, RegisterCommand::Write { value } if value.len() > MAX_VALUE) {
            return Err(RegisterReply::TooLarge);
        }
        self.next_op = self.next_op.saturating_add(1);
        let op = self.next_op;
        // Durable before the first message: a reply to an older operation never counts.
        self.outbox.persist(self.durable());
        match cmd {
            RegisterCommand::Write { value } => {
                self.outbox.event(RegisterEvent::WriteStarted { value: value.clone() });
                self.phase = Phase::QueryTs { req, op, value, replies: BTreeMap::new() };
            }
            RegisterCommand::Read => {
                self.outbox.event(RegisterEvent::ReadStarted);
                self.phase = Phase::Read { req, op, replies: BTreeMap::new() };
            }
        }
        self.next_resend = now + self.config.resend_every;
        self.request();
        Ok(())
    }

    /// Masking read rule: among pairs vouched for by ≥ f + 1 servers, the highest
    /// timestamp; dissemination: the highest validly signed pair; majority (crash faults
    /// only): the highest pair any server reports.
    fn choose(&mut self, replies: &BTreeMap<NodeId, Option<Stored>>) -> Option<Stored> {
        let f = self.config.system.f();
        let mut vouched: BTreeMap<(Ts, Vec<u8>), (usize, Stored)> = BTreeMap::new();
        for s in replies.values().flatten() {
            if !self.authentic(s) {
                continue;
            }
            let e = vouched.entry((s.ts, s.value.clone())).or_insert((0, s.clone()));
            e.0 += 1;
        }
        // Signed values prove themselves; with crash-fault (majority) quorums every server
        // is trusted, so the newest reply wins; masking needs f + 1 vouchers.
        let need = if self.config.system.kind() == QuorumKind::Masking { f + 1 } else { 1 };
        vouched.into_iter().rev().find(|(_, (count, _))| *count >= need).map(|(_, (_, s))| s)
    }

    /// A reply to the timestamp query of a write.
    fn on_ts_reply(&mut self, from: NodeId, msg: RegisterMsg) {
        let Phase::QueryTs { req, op, .. } = &self.phase else { return };
        let (req, op) = (*req, *op);
        let ts = match msg {
            RegisterMsg::TsReply { op: o, ts } if o == op && !self.signed() => ts,
            // A signed value's timestamp counts only if its signature holds; a forged one
            // counts as nothing stored.
            RegisterMsg::ReadReply { op: o, stored } if o == op && self.signed() => match stored {
                Some(s) if self.authentic(&s) => s.ts,
                _ => Ts::default(),
            },
            _ => return, // another operation's reply, or not the kind this writer asked for
        };
        let (quorum, f) = (self.config.system.quorum(), self.config.system.f());
        let masking = self.config.system.kind() == QuorumKind::Masking;
        let Phase::QueryTs { value, replies, .. } = &mut self.phase else { return };
        replies.insert(from, ts);
        if replies.len() < quorum {
            return;
        }
        // A timestamp above the last completed write's, unique to this writer. Masking: the
        // (f+1)-th highest reply, so f liars cannot push it up (at u64::MAX it would wrap);
        // at least f + 1 correct servers of the reply quorum hold the last completed write,
        // so it is not below that write. Signed: the highest authentic one. Crash faults:
        // the highest.
        let mut counters: Vec<u64> = replies.values().map(|t| t.counter).collect();
        counters.sort_unstable_by(|a, b| b.cmp(a));
        let base = counters.get(if masking { f } else { 0 }).copied().unwrap_or(0);
        let ts = Ts { counter: base.max(self.last_counter).saturating_add(1), writer: self.id };
        let value = std::mem::take(value);
        let stored = self.sign(value, ts);
        self.phase = Phase::Store { req, op, stored, acks: BTreeSet::new() };
        // Durable before the store goes out: this timestamp is never used again.
        self.last_counter = ts.counter;
        self.outbox.persist(self.durable());
        self.request();
    }

    fn on_reply(&mut self, from: NodeId, msg: RegisterMsg) {
        if matches!(self.phase, Phase::QueryTs { .. }) {
            self.on_ts_reply(from, msg);
            return;
        }
        let quorum = self.config.system.quorum();
        match (&mut self.phase, msg) {
            (Phase::Store { req, op, stored, acks }, RegisterMsg::StoreAck { op: o }) if *op == o => {
                acks.insert(from);
                if acks.len() >= quorum {
                    let (req, value, ts) = (*req, stored.value.clone(), stored.ts);
                    self.phase = Phase::Idle;
                    self.outbox.event(RegisterEvent::WriteDone { value, ts });
                    self.outbox.reply(req, RegisterReply::Written { ts });
                }
            }
            (Phase::Read { req, op, replies }, RegisterMsg::ReadReply { op: o, stored }) if *op == o => {
                replies.insert(from, stored);
                if replies.len() >= quorum {
                    let req = *req;
                    let replies = std::mem::take(replies);
                    let chosen = self.choose(&replies);
                    self.phase = Phase::Idle;
                    let (value, ts) = (chosen.as_ref().map(|s| s.value.clone()), chosen.map(|s| s.ts));
                    self.outbox.event(RegisterEvent::ReadDone { value: value.clone(), ts });
                    self.outbox.reply(req, RegisterReply::Read { value, ts });
                }
            }
            _ => {}
        }
    }
}

impl Protocol for Register {
    type Message = RegisterMsg;
    type Command = RegisterCommand;
    type Reply = RegisterReply;
    type Event = RegisterEvent;
    type Config = RegisterConfig;
    type Durable = RegisterDurable;

    fn new(init: Init<Self>) -> Self {
        let keyring = init.config.keys.keyring(init.members.iter().copied());
        let signer = init.config.keys.signer(init.id);
        let now = init.now.mono;
        let restored = init.restored.clone().unwrap_or_default();
        Register {
            id: init.id,
            keyring,
            signer,
            stored: restored.stored,
            verified: Default::default(),
            phase: Phase::Idle,
            next_op: restored.next_op,
            last_counter: restored.last_counter,
            next_resend: now + init.config.resend_every,
            config: init.config,
            outbox: Outbox::new(),
        }
    }

    fn handle_message(&mut self, _now: Now, from: NodeId, msg: RegisterMsg) {
        if self.is_server() {
            if from.0 <= self.config.servers {
                return; // servers only answer clients
            }
            let reply = match msg {
                RegisterMsg::TsQuery { op } => {
                    RegisterMsg::TsReply { op, ts: self.stored.as_ref().map(|s| s.ts).unwrap_or_default() }
                }
                RegisterMsg::Store { op, stored } => {
                    // Keep the highest timestamp; a dissemination server keeps only authentic values.
                    if self.authentic(&stored) && self.stored.as_ref().is_none_or(|s| stored.ts > s.ts) {
                        self.stored = Some(stored);
                        // Durable before the acknowledgement leaves.
                        self.outbox.persist(self.durable());
                    }
                    RegisterMsg::StoreAck { op }
                }
                RegisterMsg::Read { op } => RegisterMsg::ReadReply { op, stored: self.stored.clone() },
                _ => return,
            };
            self.outbox.send(from, reply);
        } else if from.0 <= self.config.servers {
            self.on_reply(from, msg);
        }
    }

    fn handle_command(&mut self, now: Now, req: RequestId, cmd: RegisterCommand) {
        if let Err(refused) = self.start_op(now.mono, req, cmd) {
            self.outbox.reply(req, refused);
        }
    }

    fn handle_timeout(&mut self, now: Now) {
        if !self.is_server() && !matches!(self.phase, Phase::Idle) && now.mono >= self.next_resend {
            self.request();
            self.next_resend = now.mono + self.config.resend_every;
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_server() && !matches!(self.phase, Phase::Idle)).then_some(self.next_resend)
    }

    /// Every event is one step of a client operation: routine.
    fn is_notable(_: &RegisterEvent) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Input, Output, step};
    use crate::time::{Instant, Now, WallTime};

    /// A masking system of 5 servers (f = 1) and writer n6; drives one write to its store
    /// phase with the given timestamp replies and returns the timestamp it chose.
    fn chosen_ts(kind: QuorumKind, n: usize, replies: &[(u32, u64)]) -> Ts {
        let system = QuorumSystem::new(kind, n, 1).expect("valid");
        let writer = NodeId(n as u32 + 1);
        let config = RegisterConfig {
            resend_every: Duration::from_secs(60),
            ..RegisterConfig::new(system, VoteKeys::Test(1))
        };
        let members: Vec<NodeId> = (1..=writer.0).map(NodeId).collect();
        let at = |ms: u64| Now::new(Instant::from_nanos(ms * 1_000_000), WallTime::UNIX_EPOCH);
        let mut node = Register::new(Init::fresh(writer, members, config, 7, at(0)));
        store_ts(&mut node, at(10), "v", replies, &mut None)
    }

    /// Asks `node` to write `value` and answers its timestamp query with `replies`
    /// (server, counter); returns the timestamp its store carries. The last state it
    /// persisted goes to `durable`.
    fn store_ts(
        node: &mut Register,
        now: Now,
        value: &str,
        replies: &[(u32, u64)],
        durable: &mut Option<RegisterDurable>,
    ) -> Ts {
        let mut out = Vec::new();
        let cmd = RegisterCommand::Write { value: value.as_bytes().to_vec() };
        step(node, now, Input::Command { req: RequestId(1), cmd }, |o| out.push(o));
        let op = out
            .iter()
            .find_map(|o| match o {
                Output::Send { msg: RegisterMsg::TsQuery { op }, .. } => Some(*op),
                _ => None,
            })
            .expect("a timestamp query");
        let mut store = None;
        for &(server, counter) in replies {
            let msg = RegisterMsg::TsReply { op, ts: Ts { counter, writer: NodeId(99) } };
            step(node, now, Input::Message { from: NodeId(server), msg }, |o| match o {
                Output::Send { msg: RegisterMsg::Store { stored, .. }, .. } => store = Some(stored.ts),
                Output::Persist(d) => *durable = Some(d),
                _ => {}
            });
        }
        store.expect("the write reached its store phase")
    }

    /// Servers 1..=3 (majority quorums) and client 4: the configuration, the members, and
    /// time zero.
    fn three_servers_one_client() -> (RegisterConfig, Vec<NodeId>, Now) {
        let system = QuorumSystem::new(QuorumKind::Majority, 3, 1).expect("valid");
        let config = RegisterConfig::new(system, VoteKeys::Test(3));
        (config, (1..=4).map(NodeId).collect(), Now::new(Instant::ZERO, WallTime::UNIX_EPOCH))
    }

    /// Servers 1..=3 (majority) and client 4, as nodes stepped by hand: every message is
    /// delivered at once. Returns the replies to `cmds`, issued one after another.
    fn run_commands(cmds: Vec<RegisterCommand>) -> Vec<RegisterReply> {
        let (config, members, now) = three_servers_one_client();
        let mut nodes: Vec<Register> = members
            .iter()
            .map(|&id| Register::new(Init::fresh(id, members.clone(), config.clone(), 1, now)))
            .collect();
        let mut replies = Vec::new();
        for (i, cmd) in cmds.into_iter().enumerate() {
            let mut queue = Vec::new();
            step(&mut nodes[3], now, Input::Command { req: RequestId(i as u64), cmd }, |o| {
                queue.push((NodeId(4), o))
            });
            while let Some((from, out)) = queue.pop() {
                match out {
                    Output::Send { to, msg } => {
                        let node = &mut nodes[to.0 as usize - 1];
                        step(node, now, Input::Message { from, msg }, |o| queue.push((to, o)));
                    }
                    Output::Reply { req, reply } => {
                        assert_eq!(req, RequestId(i as u64));
                        replies.push(reply);
                    }
                    _ => {}
                }
            }
        }
        replies
    }

    #[test]
    fn a_client_writes_and_reads_what_the_application_asks() {
        let v = |s: &str| s.as_bytes().to_vec();
        let replies = run_commands(vec![
            RegisterCommand::Read,
            RegisterCommand::Write { value: v("one") },
            RegisterCommand::Write { value: v("two") },
            RegisterCommand::Read,
            RegisterCommand::Write { value: vec![0; MAX_VALUE + 1] },
        ]);
        let ts = |counter| Ts { counter, writer: NodeId(4) };
        assert_eq!(
            replies,
            vec![
                RegisterReply::Read { value: None, ts: None },
                RegisterReply::Written { ts: ts(1) },
                RegisterReply::Written { ts: ts(2) },
                RegisterReply::Read { value: Some(v("two")), ts: Some(ts(2)) },
                RegisterReply::TooLarge,
            ]
        );
    }

    #[test]
    fn a_busy_client_and_a_server_refuse_commands() {
        let (config, members, now) = three_servers_one_client();
        let replies = |id: u32, cmds: usize| {
            let mut node = Register::new(Init::fresh(NodeId(id), members.clone(), config.clone(), 1, now));
            let mut out = Vec::new();
            for i in 0..cmds {
                let cmd = Input::Command { req: RequestId(i as u64), cmd: RegisterCommand::Read };
                step(&mut node, now, cmd, |o| {
                    if let Output::Reply { reply, .. } = o {
                        out.push(reply);
                    }
                });
            }
            out
        };
        assert_eq!(replies(4, 2), vec![RegisterReply::Busy], "the first read is in flight");
        assert_eq!(replies(1, 1), vec![RegisterReply::NotAClient]);
    }

    #[test]
    fn a_restarted_writer_never_reuses_a_timestamp() {
        // Found by review: the writer stores at counter 6 on one server, crashes, restarts,
        // and its next timestamp query reaches a quorum without that server (all at 5).
        // Before, it chose 6 again, and two values shared one timestamp.
        let (config, members, now) = three_servers_one_client();
        let write = |node: &mut Register, value: &str, durable: &mut Option<RegisterDurable>| {
            store_ts(node, now, value, &[(2, 5), (3, 5)], durable).counter
        };
        let mut durable = None;
        let mut client = Register::new(Init::fresh(NodeId(4), members.clone(), config.clone(), 1, now));
        assert_eq!(write(&mut client, "v1", &mut durable), 6);
        let mut client = Register::new(Init::restart(NodeId(4), members, config, durable.clone(), 2, now));
        assert_eq!(write(&mut client, "v2", &mut durable), 7, "above the timestamp it used before the crash");
    }

    #[test]
    fn a_lying_server_cannot_wrap_a_writers_timestamp() {
        // Masking, n = 5, f = 1: quorum 4. Three correct servers hold counter 7; the liar
        // answers u64::MAX. Before: max + 1 wrapped to 0 in release (a panic in debug), and
        // the servers kept the older value.
        let ts = chosen_ts(QuorumKind::Masking, 5, &[(1, u64::MAX), (2, 7), (3, 7), (4, 7)]);
        assert_eq!(ts.counter, 8, "the liar's reply is discarded, the write goes above 7");
        // A liar answering low cannot pull it below the last completed write either.
        let ts = chosen_ts(QuorumKind::Masking, 5, &[(1, 0), (2, 7), (3, 7), (4, 7)]);
        assert_eq!(ts.counter, 8);
    }

    #[test]
    fn a_vote_signature_does_not_verify_as_a_register_value_or_back() {
        use crate::quorum::{test_key, test_keyring};
        let ring = test_keyring(1, [NodeId(6)]);
        let key = test_key(1, NodeId(6));
        let vote = Vote::sign(&key, 8, 6, NodeId(6), b"v".to_vec());
        assert!(ring.verify(&vote).is_ok());
        assert!(ring.verify_in(REGISTER_DOMAIN, &vote).is_err(), "before: one domain tag for both");
        let value = Vote::sign_in(REGISTER_DOMAIN, &key, 8, 6, NodeId(6), b"v".to_vec());
        assert!(ring.verify_in(REGISTER_DOMAIN, &value).is_ok());
        assert!(ring.verify(&value).is_err());
    }

    #[test]
    fn a_crash_fault_writer_goes_above_the_highest_reply_without_overflow() {
        let ts = chosen_ts(QuorumKind::Majority, 3, &[(1, 3), (2, u64::MAX)]);
        assert_eq!(ts.counter, u64::MAX, "saturates rather than wrapping to 0");
    }
}
