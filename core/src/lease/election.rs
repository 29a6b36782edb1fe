//! Leader election with majority leases: truth is defined by the majority (DDIA 8.4).
//!
//! Like [`super`], DDIA's story told whole: the fenced storage is one of its nodes. The
//! application drives it with [`ElectionCommand`]s: view the lease, resign, campaign, and
//! write to the storage under the term's token. An application with a resource of its own
//! takes the lock named `leader` of [`crate::lock`] instead, as `examples/fenced_web` does.
//!
//! Model: partially synchronous network; crash-recovery acceptors with stable storage;
//! candidates that may pause; clock rates within ρ. One node is fenced storage; every other
//! node is both an acceptor and a candidate.
//! Guarantees: (safety) at any true time at most one node believes it leads with a valid
//! lease, if drift stays within ρ; every write a leader makes carries its term's fencing
//! token (the term as the epoch, counter 0: what [`Election::leads`] reports) and its
//! number under that token (1, 2, 3, … per term, see [`super::writes`]), so the storage
//! rejects a deposed leader's late writes whatever the timing, and never lets a replayed,
//! duplicated or overtaken write under the current term roll its value back; (liveness)
//! after GST a leader is elected within a bounded time, and writes while its application
//! asks it to.
//! Checkers: [`super::checks::single_holder`] over [`Election::leads`],
//! [`crate::fencing::checks`].
//!
//! A candidate asks every acceptor to promise it the lease for a term. An acceptor promises
//! if the term is at least the highest it has seen and no other candidate's promise is still
//! running on its clock (the full `L`), persisting the promise before replying; after a
//! restart it promises nothing for one `L`. The candidate starts its clock before asking and
//! leads for `L·(1-ρ)/(1+ρ)` once a majority has promised; it renews the same way.

use super::LeaseConfig;
use super::writes::{Decision, DelayedWrites, Write};
use crate::fencing::{Fenced, FencedResource, FencingToken};
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol};
use crate::rng::Rng;
use crate::time::{Instant, Now};
use crate::timer::Timers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// Election messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionMsg {
    /// Candidate → acceptor: promise me the lease for `term`.
    Ask {
        /// The term.
        term: u64,
        /// The candidate's round, echoed.
        round: u64,
    },
    /// Acceptor → candidate: promised for `term`.
    Promised {
        /// The term.
        term: u64,
        /// The round answered.
        round: u64,
    },
    /// Acceptor → candidate: refused; the highest term it has seen.
    Refused {
        /// The round answered.
        round: u64,
        /// The acceptor's highest term.
        highest: u64,
    },
    /// Candidate → acceptor: my candidacy for `term` failed; your promise is free again.
    Release {
        /// The term.
        term: u64,
    },
    /// Leader → storage.
    Write {
        /// The term's token: epoch = term, counter 0.
        token: FencingToken,
        /// The write's number under `token` (from 1).
        seq: u64,
        /// The value.
        value: u64,
    },
}

/// What the application asks of an election node (the storage node answers
/// [`ElectionReply::NotACandidate`] to all of them).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ElectionCommand {
    /// The lease view: does this node lead now, under which token, until when (on its own
    /// clock, judged when the command is handled)?
    View,
    /// Stop leading at once, freeing the acceptors' promises so another candidate can win
    /// without waiting out the lease, and stop standing until [`ElectionCommand::Campaign`].
    /// A restarted node stands again. Writes already decided under the lease still leave at
    /// their time (DDIA example 8-1), and the storage's fencing judges them.
    Resign,
    /// Stand for election again after [`ElectionCommand::Resign`] (at once).
    Campaign,
    /// If this node leads now, write `value` to the storage under the term's token, `after`
    /// from now: the application's work between checking its lease and its write leaving
    /// (DDIA example 8-1). The write is not checked again, so if the lease ends meanwhile
    /// (a pause, a deposal) only the storage's fencing stops it.
    Write {
        /// The value.
        value: u64,
        /// The processing time before the write leaves (zero: at once).
        after: Duration,
    },
}

/// The answer to an [`ElectionCommand`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ElectionReply {
    /// [`ElectionCommand::View`]: this node leads under `token` until `until` on its clock.
    Leading {
        /// The term's fencing token.
        token: FencingToken,
        /// The lease's end on this node's monotonic clock, as of the latest renewal.
        until: Instant,
    },
    /// [`ElectionCommand::View`] or [`ElectionCommand::Write`]: this node does not lead now
    /// (nothing is written).
    NotLeading,
    /// [`ElectionCommand::Resign`]: done; `term` is the term it led, if it led.
    Resigned {
        /// The term given up.
        term: Option<u64>,
    },
    /// [`ElectionCommand::Campaign`]: standing.
    Campaigning,
    /// [`ElectionCommand::Write`]: the write is numbered `seq` under `token` and leaves at
    /// its time (the storage's [`ElectionEvent::Accepted`] or [`ElectionEvent::Rejected`]
    /// tells what became of it).
    Writing {
        /// The term's fencing token.
        token: FencingToken,
        /// The write's number under `token`.
        seq: u64,
    },
    /// [`ElectionCommand::Write`]: refused, too many delayed writes are waiting
    /// ([`super::writes::MAX_PENDING_WRITES`]).
    Busy,
    /// The storage node is not a candidate.
    NotACandidate,
}

/// Election events.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ElectionEvent {
    /// This node leads `term`.
    Elected {
        /// The term.
        term: u64,
    },
    /// This node's lease for `term` lapsed unrenewed.
    Deposed {
        /// The term.
        term: u64,
    },
    /// This node gave up leading `term` on [`ElectionCommand::Resign`].
    Resigned {
        /// The term.
        term: u64,
    },
    /// The storage accepted a write.
    Accepted {
        /// The leader that wrote.
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

/// What an election node persists.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionDurable {
    /// Acceptor: the highest term seen, and whom it promised in it.
    pub highest_term: u64,
    /// Acceptor: the candidate promised in `highest_term`.
    pub promised_to: Option<NodeId>,
    /// Storage: the highest token accepted.
    pub accepted: FencingToken,
    /// Storage: the highest write number accepted under `accepted`.
    pub accepted_seq: u64,
    /// Storage: the last value written.
    pub value: u64,
}

#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Stand for election, or renew.
    Campaign,
    /// Send a write decided earlier.
    Write(u64),
}

#[derive(Clone, Debug, Hash)]
struct Round {
    id: u64,
    term: u64,
    sent: Instant,
    promised: BTreeSet<NodeId>,
    refused: BTreeSet<NodeId>,
    /// A renewal of a lease this node holds (never released early).
    renewal: bool,
}

/// One node of the election: storage, or acceptor and candidate.
#[derive(Clone, Debug, Hash)]
pub struct Election {
    id: NodeId,
    config: LeaseConfig,
    acceptors: Vec<NodeId>,
    durable: ElectionDurable,
    /// Acceptor: the current promise's end on this clock.
    promise_until: Instant,
    /// Acceptor: promise nothing before this (after a restart).
    quiet_until: Instant,
    /// Candidate/leader.
    round: Option<Round>,
    next_round: u64,
    /// Candidate: the highest term heard of in refusals.
    seen_term: u64,
    leading: Option<(u64, Instant)>,
    /// Whether this node stands for election (until the application resigns).
    campaigning: bool,
    pending: DelayedWrites,
    storage: FencedResource,
    timers: Timers<Timer>,
    rng: Rng,
    outbox: Outbox<ElectionMsg, ElectionEvent, ElectionDurable, ElectionReply>,
}

impl Election {
    /// The term this node leads at its local time `now`, if its lease is valid then.
    pub fn leads(&self, now: Instant) -> Option<FencingToken> {
        self.lease_at(now).map(|(token, _)| token)
    }

    /// The term's token and the lease's end, if this node leads at `now`.
    fn lease_at(&self, now: Instant) -> Option<(FencingToken, Instant)> {
        let (term, until) = self.leading.filter(|&(_, until)| now < until)?;
        Some((FencingToken::new(term as u32, 0), until))
    }

    /// Promises needed to lead: a majority unless the configuration forces fewer.
    fn majority(&self) -> usize {
        let majority = self.acceptors.len() / 2 + 1;
        self.config.hazards.forced_quorum().map_or(majority, |q| q.clamp(1, majority))
    }

    /// A candidate that has not won waits a random one to two terms before standing again:
    /// by then the promises of a split round have run out, and the candidates are unlikely
    /// to collide again.
    fn campaign_delay(&mut self) -> Duration {
        self.rng.duration_between(self.config.term, self.config.term * 2)
    }

    fn ask(&mut self, now: Instant, term: u64) {
        self.next_round += 1;
        let renewal = self.leading.is_some_and(|(t, until)| t == term && now < until);
        let round = Round {
            id: self.next_round,
            term,
            sent: now,
            promised: BTreeSet::new(),
            refused: BTreeSet::new(),
            renewal,
        };
        for &a in &self.acceptors {
            self.outbox.send(a, ElectionMsg::Ask { term, round: round.id });
        }
        self.round = Some(round);
    }

    fn on_campaign(&mut self, now: Instant) {
        if !self.campaigning {
            return;
        }
        match self.leading {
            Some((term, until)) if now < until => {
                // Renew: ask again in the same term.
                self.ask(now, term);
                self.timers.set(Timer::Campaign, now + self.config.renew_after);
            }
            _ => {
                if let Some((term, _)) = self.leading.take() {
                    self.outbox.event(ElectionEvent::Deposed { term });
                }
                let d = self.campaign_delay();
                self.timers.set(Timer::Campaign, now + d);
                // Terms come from peers' messages: one that claimed u64::MAX leaves no
                // term to campaign in (found by the handler-driving fuzz target). Stay a
                // follower rather than wrap to a term every acceptor has passed.
                let Some(term) = self.durable.highest_term.max(self.seen_term).checked_add(1) else {
                    crate::log::warning!(node = %self.id, "no term left above u64::MAX: not campaigning");
                    return;
                };
                self.ask(now, term);
            }
        }
    }

    fn accept_ask(&mut self, now: Instant, from: NodeId, term: u64, round: u64) {
        let same = self.durable.promised_to == Some(from) && term == self.durable.highest_term;
        let other_running = self.durable.promised_to.is_some_and(|p| p != from) && now < self.promise_until;
        let allowed =
            now >= self.quiet_until && (same || (term > self.durable.highest_term && !other_running));
        if !allowed {
            self.outbox.send(from, ElectionMsg::Refused { round, highest: self.durable.highest_term });
            return;
        }
        self.durable.highest_term = term;
        self.durable.promised_to = Some(from);
        self.promise_until = now + self.config.term;
        // The barrier: the promise is durable before the candidate can count on it.
        self.outbox.persist(self.durable.clone());
        self.outbox.send(from, ElectionMsg::Promised { term, round });
    }

    fn on_reply(&mut self, from: NodeId, msg: ElectionMsg) {
        match msg {
            ElectionMsg::Promised { term, round } => {
                let majority = self.majority();
                let Some(r) = self.round.as_mut().filter(|r| r.id == round && r.term == term) else { return };
                r.promised.insert(from);
                if r.promised.len() >= majority {
                    let (term, sent) = (r.term, r.sent);
                    let until = sent + self.config.holder_lease();
                    let was = self.leading.map(|(t, _)| t);
                    self.leading = Some((term, until));
                    self.round = None;
                    if was != Some(term) {
                        self.outbox.event(ElectionEvent::Elected { term });
                        self.timers.set(Timer::Campaign, sent + self.config.renew_after);
                    }
                }
            }
            ElectionMsg::Refused { round, highest } => {
                // Remember the newer term so the next candidacy goes above it. This is the
                // candidate's knowledge only: the acceptor's own promise is untouched.
                self.seen_term = self.seen_term.max(highest);
                let (n, majority) = (self.acceptors.len(), self.majority());
                let Some(r) = self.round.as_mut().filter(|r| r.id == round) else { return };
                r.refused.insert(from);
                if r.refused.len() > n - majority && !r.renewal {
                    // This candidacy cannot win: free the acceptors that promised, so a
                    // split vote does not block everyone for a whole term. Safe: this node
                    // never led on these promises, and it ignores the round from now on.
                    let (term, promised) = (r.term, std::mem::take(&mut r.promised));
                    self.round = None;
                    for a in promised {
                        self.outbox.send(a, ElectionMsg::Release { term });
                    }
                }
            }
            _ => {}
        }
    }
}

impl Election {
    /// DDIA example 8-1: check the lease, then do the work; the write leaves `after` later
    /// without checking again.
    fn write(&mut self, now: Instant, value: u64, after: Duration) -> ElectionReply {
        let Some(token) = self.leads(now) else { return ElectionReply::NotLeading };
        // Numbered under the term's token: 1, 2, 3, … from each election won.
        match self.pending.decide(token, value, after) {
            Decision::Now(Write { token, seq, value }) => {
                self.outbox.send(self.config.resource, ElectionMsg::Write { token, seq, value });
                ElectionReply::Writing { token, seq }
            }
            Decision::Later(Write { token, seq, .. }, key) => {
                self.timers.set(Timer::Write(key), now + after);
                ElectionReply::Writing { token, seq }
            }
            Decision::Full => ElectionReply::Busy,
        }
    }

    /// Stops standing; gives up the lease it holds and the promises of any round in flight.
    fn resign(&mut self, now: Instant) -> ElectionReply {
        self.campaigning = false;
        self.timers.cancel(Timer::Campaign);
        let mut release = BTreeSet::new();
        if let Some(r) = self.round.take() {
            release.extend(r.promised.iter().map(|&a| (a, r.term)));
        }
        let led = match self.leading.take() {
            Some((term, until)) if now < until => {
                // Every acceptor may hold a promise for this term: free them all. This node
                // no longer believes it leads, so another may lead from now on.
                release.extend(self.acceptors.iter().map(|&a| (a, term)));
                self.outbox.event(ElectionEvent::Resigned { term });
                Some(term)
            }
            Some((term, _)) => {
                // Lapsed before the renewal timer noticed: say so, as that timer would have.
                self.outbox.event(ElectionEvent::Deposed { term });
                None
            }
            None => None,
        };
        for (a, term) in release {
            self.outbox.send(a, ElectionMsg::Release { term });
        }
        ElectionReply::Resigned { term: led }
    }
}

impl Protocol for Election {
    type Message = ElectionMsg;
    type Command = ElectionCommand;
    type Reply = ElectionReply;
    type Event = ElectionEvent;
    type Config = LeaseConfig;
    type Durable = ElectionDurable;

    fn new(init: Init<Self>) -> Self {
        let config = init.config.clone();
        let now = init.now.mono;
        let durable = init.restored.clone().unwrap_or_default();
        let acceptors = init.members.iter().copied().filter(|&m| m != config.resource).collect();
        let mut rng = Rng::from_seed(init.seed);
        let mut timers = Timers::new();
        if init.id != config.resource {
            timers.set(Timer::Campaign, now + rng.duration_between(Duration::ZERO, config.term));
        }
        Election {
            id: init.id,
            storage: FencedResource::restore(durable.accepted, durable.accepted_seq),
            // A restarted acceptor may have promised someone just before it crashed.
            quiet_until: if init.restored.is_some() { now + config.term } else { now },
            promise_until: now,
            config,
            acceptors,
            durable,
            round: None,
            next_round: 0,
            seen_term: 0,
            leading: None,
            campaigning: true,
            pending: DelayedWrites::default(),
            timers,
            rng,
            outbox: Outbox::new(),
        }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: ElectionMsg) {
        let now = now.mono;
        if self.id == self.config.resource {
            let ElectionMsg::Write { token, seq, value } = msg else { return };
            // The storage tracks the newest write either way; unfenced, it refuses nothing.
            let verdict = self.storage.admit(token, seq);
            match if self.config.hazards.fencing() { verdict } else { Ok(()) } {
                Ok(()) => {
                    self.durable.accepted = self.storage.highest();
                    self.durable.accepted_seq = self.storage.highest_seq();
                    self.durable.value = value;
                    self.outbox.persist(self.durable.clone());
                    self.outbox.event(ElectionEvent::Accepted { from, token, seq, value });
                }
                Err(why) => self.outbox.event(ElectionEvent::Rejected { from, token, seq, why }),
            }
            return;
        }
        match msg {
            ElectionMsg::Ask { term, round } => self.accept_ask(now, from, term, round),
            ElectionMsg::Release { term } => {
                if self.durable.promised_to == Some(from) && self.durable.highest_term == term {
                    self.promise_until = now;
                }
            }
            other => self.on_reply(from, other),
        }
    }

    fn handle_command(&mut self, now: Now, req: crate::protocol::RequestId, cmd: ElectionCommand) {
        let now = now.mono;
        if self.id == self.config.resource {
            self.outbox.reply(req, ElectionReply::NotACandidate);
            return;
        }
        let reply = match cmd {
            ElectionCommand::View => match self.lease_at(now) {
                Some((token, until)) => ElectionReply::Leading { token, until },
                None => ElectionReply::NotLeading,
            },
            ElectionCommand::Resign => self.resign(now),
            ElectionCommand::Campaign => {
                if !self.campaigning {
                    self.campaigning = true;
                    self.timers.set(Timer::Campaign, now);
                }
                ElectionReply::Campaigning
            }
            ElectionCommand::Write { value, after } => self.write(now, value, after),
        };
        self.outbox.reply(req, reply);
    }

    fn handle_timeout(&mut self, now: Now) {
        let now = now.mono;
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Campaign => self.on_campaign(now),
                Timer::Write(k) => {
                    if let Some(Write { token, seq, value }) = self.pending.take(k) {
                        self.outbox.send(self.config.resource, ElectionMsg::Write { token, seq, value });
                    }
                }
            }
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Accepted writes are routine; elections, deposals and refused writes are not.
    fn is_notable(event: &ElectionEvent) -> bool {
        !matches!(event, ElectionEvent::Accepted { .. })
    }

    /// `palisade_leader` (1 while this node's lease is valid) and
    /// `palisade_leader_lease_seconds` (how long it has left on this clock).
    fn gauges(&self, now: Now, out: &mut Vec<crate::Gauge>) {
        let ends = self.lease_at(now.mono).map(|(_, until)| until);
        crate::Gauge::lease(out, ["palisade_leader", "palisade_leader_lease_seconds"], None, ends, now.mono);
    }
}
