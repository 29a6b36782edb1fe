//! The ABD atomic register, multi-writer (Attiya, Bar-Noy and Dolev, JACM 1995; the
//! multi-writer variant of Lynch and Shvartsman, FTCS 1997).
//!
//! Every node is a replica that stores one `(timestamp, value)` pair, and may also
//! coordinate operations for its local application. Timestamps are `(counter, writer)`
//! pairs ordered lexicographically ([`Ts`]), so no two writers ever choose the same one.
//!
//! * **Write** `v`: phase 1 asks a majority for their timestamps and picks
//!   `(max.counter + 1, own id)`; phase 2 stores `(ts, v)` at a majority; then it returns.
//! * **Read**: phase 1 asks a majority for their pairs and picks the one with the highest
//!   timestamp; phase 2 writes that pair back to a majority (so no later read can return
//!   anything older); then it returns the value.
//!
//! Each phase is re-sent on a timer to the replicas that have not answered, until a
//! majority has. Every phase has its own [`PhaseId`], carried by its requests and their
//! replies: a reply to another phase (late, duplicated, from before a restart) is ignored.
//! Phase ids are `(epoch, seq)` where the epoch is persisted and raised at every start, so a
//! restarted node never reuses one.
//!
//! A node coordinates one operation at a time; a command that arrives while one is in
//! flight is refused with [`AbdEvent::Rejected`] and never invoked. A coordinator that
//! restarts forgets the operation it had in flight: its outcome is unknown, and a history
//! records it so (an invocation with no return).
//!
//! System model ([`model`]): asynchronous for safety, partially synchronous for liveness;
//! crash-recovery nodes with stable storage (a replica persists its pair before it
//! acknowledges a store, and the epoch before it sends anything); a minority of the nodes
//! down at once for operations to complete; a network that loses, duplicates, delays and
//! reorders messages and partitions; no Byzantine nodes, clocks unused.
//! Safety: the history of [`AbdEvent::Invoked`] and [`AbdEvent::Returned`] events is
//! linearizable for a read/write register ([`checks::linearizable`]).
//! Liveness: after GST, with a majority up and connected, every operation completes.
//!
//! A read without write-back (`Hazards::no_write_back`) is the textbook bug: a read that skips its
//! second phase can return a value that a later read does not see (a new/old inversion),
//! so the register is regular but not atomic. The `abd-no-write-back` scenario shows it.

pub mod checks;
#[cfg(test)]
mod tests;

use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol, RequestId};
use crate::time::{Instant, Now};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub use crate::quorum::Ts;
pub use checks::linearizable;

/// The system model of an ABD register over `n` nodes: safe when asynchronous, live after
/// GST (partially synchronous); crash-recovery with stable storage, at most a minority
/// (`(n - 1) / 2`) down at once; any network misbehaviour; clocks unused.
pub const fn model(n: u32) -> crate::model::SystemModel {
    use crate::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
    SystemModel {
        timing: Timing::PartiallySynchronous,
        nodes: NodeFaults::CrashRecovery,
        clocks: ClockModel::monotonic(200),
        network: NetworkModel::UNRELIABLE,
        max_down: Some(n.saturating_sub(1) / 2),
    }
}

/// Configuration.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
#[non_exhaustive]
pub struct AbdConfig {
    /// A phase is re-sent to the replicas that have not answered this often.
    pub retry: Duration,
    /// Defences switched off ([`crate::hazard`]): with `Hazards::no_write_back` (feature
    /// `hazard-switches`) a read returns the highest
    /// pair of its first phase without writing it back to a majority, the textbook bug that
    /// breaks atomicity (a read can see a write in progress that a later read does not).
    pub hazards: crate::hazard::Hazards,
}

impl AbdConfig {
    crate::__config_setters! {
        retry: Duration,
        hazards: crate::hazard::Hazards,
    }
}

impl Default for AbdConfig {
    /// Re-send every 100 ms; reads write back.
    fn default() -> Self {
        AbdConfig { retry: Duration::from_millis(100), hazards: crate::hazard::Hazards::NONE }
    }
}

/// Identifies one phase of one operation: the coordinator's epoch (raised and persisted at
/// every start) and a sequence number within it, so an id is never reused, even after a
/// restart.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PhaseId {
    /// The coordinator's epoch.
    pub epoch: u64,
    /// The phase within the epoch.
    pub seq: u64,
}

/// Messages between coordinators and replicas.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbdMsg {
    /// Coordinator → replica: what pair do you store?
    Query {
        /// The phase asking.
        phase: PhaseId,
    },
    /// Replica → coordinator: the pair it stores.
    QueryReply {
        /// The phase answered.
        phase: PhaseId,
        /// Its timestamp.
        ts: Ts,
        /// Its value (`None`: never written).
        value: Option<u64>,
    },
    /// Coordinator → replica: store this pair if it is newer than yours.
    Store {
        /// The phase asking.
        phase: PhaseId,
        /// The timestamp.
        ts: Ts,
        /// The value.
        value: Option<u64>,
    },
    /// Replica → coordinator: the pair (or a newer one) is durable here.
    StoreAck {
        /// The phase answered.
        phase: PhaseId,
    },
}

/// What an operation does.
#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A read.
    Read,
    /// A write.
    Write,
}

/// Requests from the local application. Each is answered with an [`AbdReply`]; its
/// events carry the runtime's request id as `req`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Read the register.
    Read,
    /// Write `value`.
    Write {
        /// The value to write.
        value: u64,
    },
}

/// The answer to a [`Command`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbdReply {
    /// The operation took effect: the value read (`None`: never written) or written.
    Done(Option<u64>),
    /// The operation definitely did not take effect (see [`AbdEvent::Failed`]).
    Failed,
    /// The operation was refused before it began.
    Rejected(Rejection),
}

/// Why a command was refused without being invoked.
#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Another operation of this node is in flight.
    Busy,
    /// This node has used every phase id it may (an epoch or sequence counter at its
    /// maximum); it can still serve as a replica.
    Exhausted,
}

/// What a node tells its application. `Invoked`, `Returned` and `Failed` are the history
/// the linearizability checker reads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AbdEvent {
    /// The command was taken: the operation is invoked.
    Invoked {
        /// The application's request id.
        req: u64,
        /// Read or write.
        op: OpKind,
        /// The value a write writes (`None` for a read).
        value: Option<u64>,
    },
    /// The operation completed.
    Returned {
        /// The application's request id.
        req: u64,
        /// Read or write.
        op: OpKind,
        /// The value read (`None`: never written) or written.
        value: Option<u64>,
    },
    /// The operation definitely did not take effect: a write whose timestamp counter would
    /// overflow (a replica reported `u64::MAX`), refused before it stored anything.
    Failed {
        /// The application's request id.
        req: u64,
        /// Read or write.
        op: OpKind,
        /// The value the write would have written.
        value: Option<u64>,
    },
    /// The command was refused and never invoked.
    Rejected {
        /// The application's request id.
        req: u64,
        /// Why.
        reason: Rejection,
    },
}

/// What a node persists: its replica's pair, durable before it acknowledges a store, and
/// its coordinator epoch, durable (raised) at every start before it sends anything.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbdDurable {
    /// The stored timestamp.
    pub ts: Ts,
    /// The stored value (`None`: never written).
    pub value: Option<u64>,
    /// The coordinator epoch of the current incarnation.
    pub epoch: u64,
}

#[derive(Clone, Debug, Hash)]
enum Stage {
    Query { replies: BTreeMap<NodeId, (Ts, Option<u64>)> },
    Store { ts: Ts, value: Option<u64>, acks: BTreeSet<NodeId> },
}

#[derive(Clone, Debug, Hash)]
struct InFlight {
    req: u64,
    op: OpKind,
    /// A write's argument.
    arg: Option<u64>,
    phase: PhaseId,
    stage: Stage,
    resend_at: Instant,
}

/// An ABD node: a replica, and a coordinator of its application's operations.
#[derive(Clone, Debug, Hash)]
pub struct Abd {
    id: NodeId,
    /// Shared: it never changes, and explored states copy nodes by the million.
    members: std::sync::Arc<[NodeId]>,
    config: AbdConfig,
    durable: AbdDurable,
    /// False when the epoch could not be raised (it was at `u64::MAX`): no phase ids left.
    can_coordinate: bool,
    next_seq: u64,
    op: Option<InFlight>,
    outbox: Outbox<AbdMsg, AbdEvent, AbdDurable, AbdReply>,
}

impl Abd {
    /// The replica's stored pair.
    pub fn stored(&self) -> (Ts, Option<u64>) {
        (self.durable.ts, self.durable.value)
    }

    /// This incarnation's epoch.
    pub fn epoch(&self) -> u64 {
        self.durable.epoch
    }

    /// The request id of the operation in flight, if any.
    pub fn in_flight(&self) -> Option<u64> {
        self.op.as_ref().map(|o| o.req)
    }

    /// True when this node ignores `reply` now and in every later state: a reply to a phase
    /// it is not running (phase ids are never reused, not even across restarts, and a
    /// phase's stage never goes back). A reply to the running phase is never ignored, even
    /// from a replica that answered already: a duplicate may carry a newer pair.
    pub fn ignores_reply(&self, reply: &AbdMsg) -> bool {
        let Some(op) = &self.op else { return true };
        match (&op.stage, reply) {
            (Stage::Query { .. }, AbdMsg::QueryReply { phase, .. }) => *phase != op.phase,
            (Stage::Store { .. }, AbdMsg::StoreAck { phase }) => *phase != op.phase,
            _ => true,
        }
    }

    fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }

    fn next_phase(&mut self) -> Option<PhaseId> {
        if !self.can_coordinate {
            return None;
        }
        self.next_seq = self.next_seq.checked_add(1)?;
        Some(PhaseId { epoch: self.durable.epoch, seq: self.next_seq })
    }

    /// The replica's answer to a request (`None` for a reply, which replicas ignore).
    fn serve(&mut self, msg: &AbdMsg) -> Option<AbdMsg> {
        match *msg {
            AbdMsg::Query { phase } => {
                Some(AbdMsg::QueryReply { phase, ts: self.durable.ts, value: self.durable.value })
            }
            AbdMsg::Store { phase, ts, value } => {
                if ts > self.durable.ts {
                    self.durable.ts = ts;
                    self.durable.value = value;
                    // Durable before the acknowledgement leaves (a barrier).
                    self.outbox.persist(self.durable.clone());
                }
                Some(AbdMsg::StoreAck { phase })
            }
            AbdMsg::QueryReply { .. } | AbdMsg::StoreAck { .. } => None,
        }
    }

    /// Sends the current phase's request to every member that has not answered it; this
    /// node's own replica answers at once.
    fn send_phase(&mut self) {
        let Some(op) = &self.op else { return };
        let (msg, answered): (AbdMsg, Vec<NodeId>) = match &op.stage {
            Stage::Query { replies } => {
                (AbdMsg::Query { phase: op.phase }, replies.keys().copied().collect())
            }
            Stage::Store { ts, value, acks } => {
                (AbdMsg::Store { phase: op.phase, ts: *ts, value: *value }, acks.iter().copied().collect())
            }
        };
        let targets: Vec<NodeId> = self.members.iter().copied().filter(|m| !answered.contains(m)).collect();
        let mut local = false;
        for to in targets {
            if to == self.id {
                local = true;
            } else {
                self.outbox.send(to, msg.clone());
            }
        }
        if local && let Some(reply) = self.serve(&msg) {
            self.on_reply(self.id, reply);
        }
    }

    /// Ends the operation in flight with its outcome: an event, and the caller's reply.
    fn finish(&mut self, event: AbdEvent, reply: AbdReply) {
        if let Some(op) = self.op.take() {
            self.outbox.event(event);
            self.outbox.reply(RequestId(op.req), reply);
        }
    }

    /// Moves the operation in flight to its store phase with `(ts, value)`.
    fn store(&mut self, ts: Ts, value: Option<u64>) {
        let Some(phase) = self.next_phase() else {
            // No phase id left: the operation cannot go on. Its outcome stays unknown to
            // the history (a read's or write's effect may already be partial), as if the
            // coordinator had crashed.
            self.op = None;
            return;
        };
        if let Some(op) = &mut self.op {
            op.phase = phase;
            op.stage = Stage::Store { ts, value, acks: BTreeSet::new() };
        }
        self.send_phase();
    }

    fn on_reply(&mut self, from: NodeId, msg: AbdMsg) {
        let majority = self.majority();
        let Some(op) = &mut self.op else { return };
        match (&mut op.stage, msg) {
            (Stage::Query { replies }, AbdMsg::QueryReply { phase, ts, value }) if phase == op.phase => {
                replies.insert(from, (ts, value));
                if replies.len() < majority {
                    return;
                }
                let Some(&(max_ts, max_value)) = replies.values().max_by_key(|(ts, _)| *ts) else { return };
                let (req, kind, arg) = (op.req, op.op, op.arg);
                match kind {
                    OpKind::Write => match max_ts.counter.checked_add(1) {
                        Some(counter) => self.store(Ts { counter, writer: self.id }, arg),
                        None => self.finish(AbdEvent::Failed { req, op: kind, value: arg }, AbdReply::Failed),
                    },
                    OpKind::Read if self.config.hazards.write_back() => self.store(max_ts, max_value),
                    OpKind::Read => self.finish(
                        AbdEvent::Returned { req, op: kind, value: max_value },
                        AbdReply::Done(max_value),
                    ),
                }
            }
            (Stage::Store { value, acks, .. }, AbdMsg::StoreAck { phase }) if phase == op.phase => {
                acks.insert(from);
                if acks.len() >= majority {
                    let (event, reply) = (
                        AbdEvent::Returned { req: op.req, op: op.op, value: *value },
                        AbdReply::Done(*value),
                    );
                    self.finish(event, reply);
                }
            }
            _ => {} // another phase's reply, late or duplicated: ignored
        }
    }
}

impl Protocol for Abd {
    type Message = AbdMsg;
    type Command = Command;
    type Reply = AbdReply;
    type Event = AbdEvent;
    type Config = AbdConfig;
    type Durable = AbdDurable;

    fn new(init: Init<Self>) -> Self {
        let restored = init.restored.unwrap_or_default();
        let epoch = restored.epoch.checked_add(1);
        let durable = AbdDurable { epoch: epoch.unwrap_or(u64::MAX), ..restored };
        let mut outbox = Outbox::new();
        // The new epoch is durable before this incarnation sends anything.
        outbox.persist(durable.clone());
        Abd {
            id: init.id,
            members: init.members.into(),
            config: init.config,
            durable,
            can_coordinate: epoch.is_some(),
            next_seq: 0,
            op: None,
            outbox,
        }
    }

    fn handle_message(&mut self, _now: Now, from: NodeId, msg: AbdMsg) {
        if !self.members.contains(&from) {
            return; // not a member: nothing it says counts
        }
        match msg {
            AbdMsg::Query { .. } | AbdMsg::Store { .. } => {
                if let Some(reply) = self.serve(&msg) {
                    self.outbox.send(from, reply);
                }
            }
            AbdMsg::QueryReply { .. } | AbdMsg::StoreAck { .. } => self.on_reply(from, msg),
        }
    }

    fn handle_command(&mut self, now: Now, req: RequestId, cmd: Command) {
        let req = req.0;
        let (op, arg) = match cmd {
            Command::Read => (OpKind::Read, None),
            Command::Write { value } => (OpKind::Write, Some(value)),
        };
        if self.op.is_some() {
            self.outbox.event(AbdEvent::Rejected { req, reason: Rejection::Busy });
            self.outbox.reply(RequestId(req), AbdReply::Rejected(Rejection::Busy));
            return;
        }
        let Some(phase) = self.next_phase() else {
            self.outbox.event(AbdEvent::Rejected { req, reason: Rejection::Exhausted });
            self.outbox.reply(RequestId(req), AbdReply::Rejected(Rejection::Exhausted));
            return;
        };
        self.outbox.event(AbdEvent::Invoked { req, op, value: arg });
        let resend_at = now.mono + self.config.retry;
        self.op = Some(InFlight {
            req,
            op,
            arg,
            phase,
            stage: Stage::Query { replies: BTreeMap::new() },
            resend_at,
        });
        self.send_phase();
    }

    fn handle_timeout(&mut self, now: Now) {
        let Some(op) = &mut self.op else { return };
        if now.mono < op.resend_at {
            return; // early or spurious
        }
        op.resend_at = now.mono + self.config.retry;
        self.send_phase();
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.op.as_ref().map(|o| o.resend_at)
    }

    /// Operations starting and ending are routine; a refused one is not.
    fn is_notable(event: &AbdEvent) -> bool {
        matches!(event, AbdEvent::Rejected { .. } | AbdEvent::Failed { .. })
    }
}

/// True when delivering `msg` from `sender` to `receiver`, now or at any later time, can
/// change nothing: a reply its coordinator ignores for good, a query whose answer it would
/// ignore, or a store the replica already holds (or holds newer) whose acknowledgement it
/// would ignore. The explorer forgets such messages (`Setup::obsolete`); the pair a replica
/// stores only grows, which makes the last case permanent.
pub fn obsolete(sender: &Abd, receiver: &Abd, msg: &AbdMsg) -> bool {
    match *msg {
        AbdMsg::QueryReply { .. } | AbdMsg::StoreAck { .. } => receiver.ignores_reply(msg),
        AbdMsg::Query { phase } => {
            sender.ignores_reply(&AbdMsg::QueryReply { phase, ts: Ts::default(), value: None })
        }
        AbdMsg::Store { phase, ts, .. } => {
            ts <= receiver.durable.ts && sender.ignores_reply(&AbdMsg::StoreAck { phase })
        }
    }
}
