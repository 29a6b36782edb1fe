//! A lease (lock) service with fencing tokens, in the style of Chubby and etcd: one grantor,
//! clients that acquire, renew and release a lease, and a storage node that fences writes.
//!
//! **This is DDIA's example (figures 8-4 and 8-5), told whole:** the grantor is a single
//! point of failure, and the storage is one of the service's nodes. The application drives
//! each client with [`LeaseCommand`]s: acquire, view, write under the token (after a
//! processing time, DDIA example 8-1), release. An application wants [`crate::lock`]
//! instead: named locks granted by a majority (`palisade_actix::lock::NamedLock` on actix),
//! with [`crate::fencing::FencedResource`] at its own resource.
//!
//! Model: partially synchronous network (loss, delay, partitions); crash-recovery grantor
//! and storage with stable storage; clients that may pause (GC) or crash at any moment;
//! clocks whose *rate* errs by at most ρ (`max_drift_ppm`); no synchronised clocks needed
//! (Gray and Cheriton, SOSP 1989).
//! Guarantees: (safety) at any true time at most one client believes it holds the lease,
//! provided drift stays within ρ; tokens strictly increase across grantor restarts; the
//! storage never accepts a write with a token below one it accepted, whatever the timing,
//! so a paused holder's late write is rejected even when drift exceeds ρ, nor one under its
//! current token that is not numbered above the last it accepted, so a replayed or
//! duplicated write never rolls the value back (see [`writes`] for the numbering);
//! (liveness) after GST, while some client's application asks for the lease and to write,
//! some client acquires it and writes within a bounded time.
//! Checkers: [`checks::single_holder`], [`crate::fencing::checks`].
//!
//! The drift rule: the holder starts its timer *before* sending its request and considers
//! the lease over after `L·(1-ρ)/(1+ρ)` minus clock granularity of its own clock; the
//! grantor waits the full `L` on its own clock after granting, and one full `L` after a
//! restart before granting anything. The holder enters jeopardy when its lease lapses
//! unrenewed, keeps trying to renew for a grace period, then gives the lease up.

/// The system model the lease service assumes, for a drift bound of `max_drift_ppm`:
/// partially synchronous, crash-recovery with stable storage, any network misbehaviour,
/// monotonic clocks whose rates err by at most ρ (wall clocks are never read).
pub const fn model(max_drift_ppm: u32) -> crate::model::SystemModel {
    use crate::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
    SystemModel {
        timing: Timing::PartiallySynchronous,
        nodes: NodeFaults::CrashRecovery,
        clocks: ClockModel::monotonic(max_drift_ppm),
        network: NetworkModel::UNRELIABLE,
        max_down: None,
    }
}

pub mod checks;
pub mod election;
mod grantor;
mod holder;
mod rename;
pub mod writes;

pub use grantor::Grantor;
pub use holder::{Holder, HolderPhase};

use crate::fencing::{Fenced, FencedResource, FencingToken};
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol};
use crate::time::{Instant, Now};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Parameters of the lock service. Defaults: a 10 s lease (Chubby uses 12 s), renewal at a
/// third of the term (etcd's keep-alive), ρ = 200 ppm, 1 ms clock granularity.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// The grantor (lock server).
    pub grantor: NodeId,
    /// The fenced storage node.
    pub resource: NodeId,
    /// Lease term L, on the grantor's clock.
    pub term: Duration,
    /// Bound ρ on any clock's rate error, in parts per million.
    pub max_drift_ppm: u32,
    /// Clock granularity, subtracted from the holder's lease.
    pub granularity: Duration,
    /// Renew this long after the request that (re)started the lease: L / 3.
    pub renew_after: Duration,
    /// After the lease lapses unrenewed, keep trying to renew this long (Chubby: 45 s).
    pub jeopardy_grace: Duration,
    /// Resend an unanswered request after this long.
    pub request_timeout: Duration,
    /// Defences switched off to show a hazard: storage that does not check tokens, an
    /// election quorum below a majority ([`crate::hazard`]; never read from a file).
    #[serde(skip)]
    pub hazards: crate::hazard::Hazards,
}

impl LeaseConfig {
    crate::__config_setters! {
        grantor: NodeId,
        resource: NodeId,
        term: Duration,
        max_drift_ppm: u32,
        granularity: Duration,
        renew_after: Duration,
        jeopardy_grace: Duration,
        request_timeout: Duration,
        hazards: crate::hazard::Hazards,
    }
}

impl Default for LeaseConfig {
    fn default() -> Self {
        let term = Duration::from_secs(10);
        LeaseConfig {
            grantor: NodeId(1),
            resource: NodeId(2),
            term,
            max_drift_ppm: 200,
            granularity: Duration::from_millis(1),
            renew_after: term / 3,
            jeopardy_grace: Duration::from_secs(45),
            request_timeout: Duration::from_secs(1),
            hazards: crate::hazard::Hazards::NONE,
        }
    }
}

impl LeaseConfig {
    /// How long a holder trusts a lease on its own clock: `L·(1-ρ)/(1+ρ) - granularity`.
    pub fn holder_lease(&self) -> Duration {
        holder_lease(self.term, self.max_drift_ppm, self.granularity)
    }
}

/// The drift-safe lease rule: a grantor (or every acceptor of a majority) keeps a promise
/// for `term` on its clock from when the request reached it; a holder that started its own
/// clock before asking may trust the grant for `term·(1-ρ)/(1+ρ)` of its clock, less the
/// clock's `granularity`, whatever the two clocks' rates within ρ (`max_drift_ppm`).
pub fn holder_lease(term: Duration, max_drift_ppm: u32, granularity: Duration) -> Duration {
    let rho = f64::from(max_drift_ppm) / 1e6;
    term.mul_f64((1.0 - rho) / (1.0 + rho)).saturating_sub(granularity)
}

/// Lock-service messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaseMsg {
    /// Client → grantor: may I have the lease?
    Acquire {
        /// Request id, echoed.
        req: u64,
    },
    /// Grantor → client: yes, with this token, for `term` of the grantor's clock.
    Granted {
        /// The request answered.
        req: u64,
        /// The fencing token.
        token: FencingToken,
    },
    /// Grantor → client: someone else holds it (or the grantor is recovering).
    Busy {
        /// The request answered.
        req: u64,
    },
    /// Client → grantor: extend my lease.
    Renew {
        /// Request id, echoed.
        req: u64,
        /// The lease's token.
        token: FencingToken,
    },
    /// Grantor → client: extended from when the grantor received the renewal.
    Renewed {
        /// The request answered.
        req: u64,
        /// The lease's token.
        token: FencingToken,
    },
    /// Client → grantor: I am done.
    Release {
        /// The lease's token.
        token: FencingToken,
    },
    /// Client → storage: write `value` under `token`, the client's write number `seq`
    /// under that token (from 1).
    Write {
        /// The writer's token.
        token: FencingToken,
        /// The write's number under `token`.
        seq: u64,
        /// The value.
        value: u64,
    },
    /// Storage → client: written.
    WriteAck {
        /// The writer's token.
        token: FencingToken,
        /// The write's number.
        seq: u64,
    },
    /// Storage → client: refused, a newer token has written or this write is not newer
    /// than one accepted under the same token.
    WriteRejected {
        /// The writer's token.
        token: FencingToken,
        /// The write's number.
        seq: u64,
        /// Why.
        why: Fenced,
    },
}

/// What the application asks of a lock-service client (the grantor and the storage answer
/// [`LeaseReply::NotAClient`] to all of them).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum LeaseCommand {
    /// Want the lease: ask the grantor until it grants, then hold and renew it until
    /// [`LeaseCommand::Release`]. A restarted client wants nothing until asked again.
    Acquire,
    /// Give the lease up (telling the grantor) and stop asking for it; a grant already on
    /// its way is handed straight back. Writes already decided under the lease still leave
    /// at their time (DDIA example 8-1: the check is behind them), and fencing judges them.
    Release,
    /// The lease view: is it held now, under which token, until when on this clock?
    View,
    /// If the lease is held now, write `value` to the storage under its token, `after` from
    /// now: the application's work between checking its lease and its write leaving (DDIA
    /// example 8-1). The write is not checked again, so if the lease ends meanwhile (a GC
    /// pause) only the storage's fencing stops it.
    Write {
        /// The value.
        value: u64,
        /// The processing time before the write leaves (zero: at once).
        after: Duration,
    },
}

/// The answer to a [`LeaseCommand`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseReply {
    /// [`LeaseCommand::View`] or [`LeaseCommand::Acquire`]: held under `token` until
    /// `until` on this client's clock.
    Holding {
        /// The fencing token.
        token: FencingToken,
        /// When this client stops trusting the lease, as of the latest renewal.
        until: Instant,
    },
    /// [`LeaseCommand::Acquire`]: asking, or in jeopardy and trying to renew (the
    /// [`LeaseEvent::Acquired`] event says when it holds the lease).
    Asking,
    /// [`LeaseCommand::Release`]: given up.
    Released {
        /// The token given up.
        token: FencingToken,
    },
    /// [`LeaseCommand::View`], [`LeaseCommand::Release`] or [`LeaseCommand::Write`]: no
    /// lease is held now.
    NotHolding,
    /// [`LeaseCommand::Write`]: the write is numbered `seq` under `token` and leaves at its
    /// time (the storage node's [`LeaseEvent::Accepted`] or [`LeaseEvent::Rejected`] tells
    /// what became of it; the client does not report the storage's answer).
    Writing {
        /// The lease's token.
        token: FencingToken,
        /// The write's number under `token`.
        seq: u64,
    },
    /// [`LeaseCommand::Write`]: refused, too many delayed writes are waiting
    /// ([`writes::MAX_PENDING_WRITES`]).
    Busy,
    /// The grantor and the storage take no commands.
    NotAClient,
}

/// Lock-service events.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LeaseEvent {
    /// The grantor granted `token` to `holder`.
    Granted {
        /// The client.
        holder: NodeId,
        /// Its token.
        token: FencingToken,
    },
    /// This client now holds the lease: granted, or renewed again out of jeopardy.
    Acquired {
        /// Its token.
        token: FencingToken,
    },
    /// This client's lease lapsed unrenewed: it stops acting and keeps trying to renew.
    Jeopardy {
        /// Its token.
        token: FencingToken,
    },
    /// This client gave the lease up after the jeopardy grace period.
    Expired {
        /// Its token.
        token: FencingToken,
    },
    /// This client released the lease.
    Released {
        /// Its token.
        token: FencingToken,
    },
    /// The storage accepted a write.
    Accepted {
        /// The writer.
        from: NodeId,
        /// Its token.
        token: FencingToken,
        /// The write's number under `token`.
        seq: u64,
        /// The value written.
        value: u64,
    },
    /// The storage refused a stale, replayed or overtaken write.
    Rejected {
        /// The writer.
        from: NodeId,
        /// Its token.
        token: FencingToken,
        /// The write's number under `token`.
        seq: u64,
        /// Why.
        why: Fenced,
    },
}

/// What survives a crash: the grantor's highest issued token, the storage's newest
/// accepted write (token and seq) and value.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseDurable {
    /// Grantor: the highest token ever issued.
    pub issued: FencingToken,
    /// Storage: the highest token accepted.
    pub accepted: FencingToken,
    /// Storage: the highest write number accepted under `accepted`.
    pub accepted_seq: u64,
    /// Storage: the last value written.
    pub value: u64,
}

/// A node's role, fixed by the configuration.
#[derive(Debug, Clone, Hash)]
pub enum Role {
    /// The lock server.
    Grantor(Grantor),
    /// The fenced storage.
    Resource(FencedResource),
    /// A client (boxed: its state is the largest).
    Holder(Box<Holder>),
}

/// One node of DDIA's single-grantor lock service: grantor, storage or client, by its id.
/// The grantor is a single point of failure, by design of the example: an application
/// wants [`crate::lock::Locks`], named locks granted by a majority.
#[derive(Debug, Clone, Hash)]
pub struct SingleGrantorLockService {
    id: NodeId,
    config: LeaseConfig,
    role: Role,
    durable: LeaseDurable,
    outbox: Outbox<LeaseMsg, LeaseEvent, LeaseDurable, LeaseReply>,
}

impl SingleGrantorLockService {
    /// This node's role and state.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// True when this node, a client, ignores `reply` (an answer to one of its requests) for
    /// the rest of its incarnation; false for any other node or message. Request ids start
    /// again after a restart, so this is not "forever" where clients may restart.
    pub fn ignores_reply(&self, reply: &LeaseMsg) -> bool {
        match &self.role {
            Role::Holder(h) => h.ignores_reply(reply),
            _ => false,
        }
    }

    /// The token this node believes is its valid lease at its local time `now`, if any.
    pub fn holds(&self, now: Instant) -> Option<FencingToken> {
        match &self.role {
            Role::Holder(h) => h.holds(now),
            _ => None,
        }
    }

    /// The lease this client holds and the local time it stops trusting it, whatever the
    /// time now; `None` for the grantor, the storage, or a client without a lease.
    pub fn lease(&self) -> Option<(FencingToken, Instant)> {
        match &self.role {
            Role::Holder(h) => h.lease(),
            _ => None,
        }
    }

    fn persist(&mut self) {
        self.outbox.persist(self.durable.clone());
    }
}

impl Protocol for SingleGrantorLockService {
    type Message = LeaseMsg;
    type Command = LeaseCommand;
    type Reply = LeaseReply;
    type Event = LeaseEvent;
    type Config = LeaseConfig;
    type Durable = LeaseDurable;

    fn new(init: Init<Self>) -> Self {
        let durable = init.restored.clone().unwrap_or_default();
        let config = init.config.clone();
        let now = init.now.mono;
        let role = if init.id == config.grantor {
            Role::Grantor(Grantor::restore(durable.issued, now, init.restored.is_some(), &config))
        } else if init.id == config.resource {
            Role::Resource(FencedResource::restore(durable.accepted, durable.accepted_seq))
        } else {
            Role::Holder(Box::new(Holder::new(init.id, now, init.seed)))
        };
        SingleGrantorLockService { id: init.id, config, role, durable, outbox: Outbox::new() }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: LeaseMsg) {
        let now = now.mono;
        match &mut self.role {
            Role::Grantor(g) => {
                let reply = g.handle(now, from, msg, &self.config);
                if let Some(issued) = reply.persist {
                    // The barrier: the token is durable before anyone can hold it.
                    self.durable.issued = issued;
                    self.persist();
                }
                for e in reply.events {
                    self.outbox.event(e);
                }
                if let Some(m) = reply.msg {
                    self.outbox.send(from, m);
                }
            }
            Role::Resource(r) => {
                let LeaseMsg::Write { token, seq, value } = msg else {
                    crate::log::debug!(node = %self.id, %from, "storage ignores a non-write message");
                    return;
                };
                // The resource tracks the newest write either way; unfenced, it refuses nothing.
                let verdict = r.admit(token, seq);
                match if self.config.hazards.fencing() { verdict } else { Ok(()) } {
                    Ok(()) => {
                        self.durable.accepted = r.highest();
                        self.durable.accepted_seq = r.highest_seq();
                        self.durable.value = value;
                        self.persist();
                        self.outbox.event(LeaseEvent::Accepted { from, token, seq, value });
                        self.outbox.send(from, LeaseMsg::WriteAck { token, seq });
                    }
                    Err(why) => {
                        crate::log::info!(node = %self.id, %from, %why, "write fenced off");
                        self.outbox.event(LeaseEvent::Rejected { from, token, seq, why });
                        self.outbox.send(from, LeaseMsg::WriteRejected { token, seq, why });
                    }
                }
            }
            Role::Holder(h) => h.handle(now, from, msg, &self.config, &mut self.outbox),
        }
    }

    fn handle_command(&mut self, now: Now, req: crate::protocol::RequestId, cmd: LeaseCommand) {
        let reply = match &mut self.role {
            Role::Holder(h) => h.command(now.mono, cmd, &self.config, &mut self.outbox),
            _ => LeaseReply::NotAClient,
        };
        self.outbox.reply(req, reply);
    }

    fn handle_timeout(&mut self, now: Now) {
        if let Role::Holder(h) = &mut self.role {
            h.tick(now.mono, &self.config, &mut self.outbox);
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.role {
            Role::Holder(h) => h.next_deadline(),
            _ => None,
        }
    }

    /// Grants (renewals included) and accepted writes are routine.
    fn is_notable(event: &LeaseEvent) -> bool {
        !matches!(event, LeaseEvent::Granted { .. } | LeaseEvent::Accepted { .. })
    }

    /// A client's `palisade_lease_held` (1 while its lease is valid) and
    /// `palisade_lease_seconds` (how long it has left on this clock).
    fn gauges(&self, now: Now, out: &mut Vec<crate::Gauge>) {
        if let Role::Holder(h) = &self.role {
            let ends = h.lease().map(|(_, until)| until);
            crate::Gauge::lease(out, ["palisade_lease_held", "palisade_lease_seconds"], None, ends, now.mono);
        }
    }
}

#[cfg(test)]
mod tests;
