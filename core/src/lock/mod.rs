//! Named locks granted by a majority, with no single point of failure (DDIA 8.4: the truth
//! is defined by the majority).
//!
//! Model: partially synchronous network (loss, delay, duplication, reordering, partitions);
//! crash-recovery nodes with stable storage; nodes may pause; clock rates within ρ of true
//! time. Every member is an acceptor, and any member may ask for any lock on behalf of its
//! application.
//! Guarantees: (safety) at any true time at most one node holds a given name with a valid
//! lease, if drift stays within ρ; each grant of a name carries a fencing token greater than
//! every earlier grant of that name, across any node's restart, so a fenced resource
//! refuses a deposed holder's late writes; (liveness) after GST an `Acquire` of a name
//! nobody holds succeeds within a few rounds.
//! Checkers: [`checks::single_holder`] over [`Locks::holds`], [`checks::tokens_increase`].
//!
//! This is the election's mechanism ([`crate::lease::election`]) once per name. A node asks
//! every acceptor to promise it the name for a term. An acceptor promises if the term is
//! above the highest it has seen for that name and no other node's promise for it is still
//! running on its clock (the full `L`), persisting the promise before it replies; after a
//! restart it promises nothing for one `L`. The asker starts its clock before asking and
//! holds for `L·(1-ρ)/(1+ρ)` from then once a majority has promised; the term is the
//! fencing token. It renews the same way (same term) until its application releases.
//!
//! A peer chooses the names it asks about, so an acceptor keeps state for at most
//! [`LockConfig::max_names`] names of at most [`LockConfig::max_name_len`] bytes; asks
//! beyond that are refused and counted, never stored.

pub mod checks;
#[cfg(test)]
mod tests;

/// The system model the locks assume over `n` nodes with drift bound `max_drift_ppm`:
/// partially synchronous (safe whatever the timing, if clock rates stay within ρ; live after
/// GST), crash-recovery with stable storage, at most a minority (`(n - 1) / 2`) down at once
/// for liveness, any network misbehaviour, monotonic clocks (wall clocks are never read).
pub const fn model(n: u32, max_drift_ppm: u32) -> crate::model::SystemModel {
    use crate::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
    SystemModel {
        timing: Timing::PartiallySynchronous,
        nodes: NodeFaults::CrashRecovery,
        clocks: ClockModel::monotonic(max_drift_ppm),
        network: NetworkModel::UNRELIABLE,
        max_down: Some(n.saturating_sub(1) / 2),
    }
}

use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol, RequestId};
use crate::rng::Rng;
use crate::time::{Instant, Now};
use crate::timer::Timers;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How the locks behave. In a configuration file every field is optional (defaults below)
/// and durations are whole milliseconds: `term_ms`, `renew_after_ms`, `retry_ms`,
/// `granularity_ms`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LockFile")]
#[non_exhaustive]
pub struct LockConfig {
    /// `L`: how long an acceptor's promise runs on its own clock (`term_ms` in files).
    #[serde(rename = "term_ms", with = "crate::time::millis")]
    pub term: Duration,
    /// ρ: the largest clock rate error assumed, in parts per million.
    pub max_drift_ppm: u32,
    /// A holder renews this long after its previous round began (`renew_after_ms`).
    #[serde(rename = "renew_after_ms", with = "crate::time::millis")]
    pub renew_after: Duration,
    /// A failed round is retried after a random wait up to this long (`retry_ms`).
    #[serde(rename = "retry_ms", with = "crate::time::millis")]
    pub retry: Duration,
    /// Clock granularity, subtracted from the holder's lease (`granularity_ms`).
    #[serde(rename = "granularity_ms", with = "crate::time::millis")]
    pub granularity: Duration,
    /// Names an acceptor keeps state for; asks for more are refused.
    pub max_names: usize,
    /// The longest name, in bytes.
    pub max_name_len: usize,
}

impl LockConfig {
    crate::__config_setters! {
        term: Duration,
        max_drift_ppm: u32,
        renew_after: Duration,
        retry: Duration,
        granularity: Duration,
        max_names: usize,
        max_name_len: usize,
    }
}

impl Default for LockConfig {
    /// `L` = 10 s renewed every third of it, ρ = 200 ppm, retries within 500 ms, 1 ms
    /// granularity, 10,000 names of up to 128 bytes.
    fn default() -> Self {
        LockConfig {
            term: Duration::from_secs(10),
            max_drift_ppm: 200,
            renew_after: Duration::from_secs(10) / 3,
            retry: Duration::from_millis(500),
            granularity: Duration::from_millis(1),
            max_names: 10_000,
            max_name_len: 128,
        }
    }
}

/// [`LockConfig`] as a file gives it: every field optional, `renew_after_ms` a third of
/// `term_ms` unless given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    term_ms: Option<u64>,
    max_drift_ppm: Option<u32>,
    renew_after_ms: Option<u64>,
    retry_ms: Option<u64>,
    granularity_ms: Option<u64>,
    max_names: Option<usize>,
    max_name_len: Option<usize>,
}

impl TryFrom<LockFile> for LockConfig {
    type Error = String;

    fn try_from(f: LockFile) -> Result<Self, String> {
        let d = LockConfig::default();
        let ms = Duration::from_millis;
        let term = f.term_ms.map_or(d.term, ms);
        let c = LockConfig {
            term,
            max_drift_ppm: f.max_drift_ppm.unwrap_or(d.max_drift_ppm),
            renew_after: f.renew_after_ms.map_or(term / 3, ms),
            retry: f.retry_ms.map_or(d.retry, ms),
            granularity: f.granularity_ms.map_or(d.granularity, ms),
            max_names: f.max_names.unwrap_or(d.max_names),
            max_name_len: f.max_name_len.unwrap_or(d.max_name_len),
        };
        c.validate()?;
        Ok(c)
    }
}

impl LockConfig {
    /// Checks that a holder can hold at all: ρ below 100%; a renewal that begins by half
    /// the holder's lease (`L·(1-ρ)/(1+ρ)` less the granularity), so it has the other half
    /// to finish; a retry shorter than the term; room for at least one name.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_drift_ppm >= 1_000_000 {
            return Err(format!("max_drift_ppm {} must be below 1000000", self.max_drift_ppm));
        }
        let lease = self.holder_lease();
        if self.renew_after.is_zero() || self.renew_after > lease / 2 {
            return Err(format!(
                "renew_after_ms {} must be above 0 and at most half the holder's lease, {} ms for term_ms {}",
                self.renew_after.as_millis(),
                lease.as_millis(),
                self.term.as_millis()
            ));
        }
        if self.retry.is_zero() || self.retry >= self.term {
            return Err(format!("retry_ms {} must be above 0 and below term_ms", self.retry.as_millis()));
        }
        if self.max_names == 0 || self.max_name_len == 0 {
            return Err("max_names and max_name_len must be above 0".into());
        }
        Ok(())
    }

    /// How long a holder trusts a grant, on its own clock, from when it asked:
    /// `L·(1-ρ)/(1+ρ)` minus the clock granularity.
    pub fn holder_lease(&self) -> Duration {
        crate::lease::holder_lease(self.term, self.max_drift_ppm, self.granularity)
    }
}

/// Messages between nodes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMsg {
    /// Asker → acceptor: promise me `name` for `term`.
    Ask {
        /// The lock.
        name: String,
        /// The term.
        term: u64,
        /// The asker's round, echoed.
        round: u64,
    },
    /// Acceptor → asker: promised.
    Promised {
        /// The round answered.
        round: u64,
    },
    /// Acceptor → asker: refused; the highest term it has seen for the name.
    Refused {
        /// The round answered.
        round: u64,
        /// The acceptor's highest term for the name (0 when it keeps no state for it).
        highest: u64,
    },
    /// Asker → acceptor: I do not hold `name` under `term` (released, or my round failed);
    /// your promise is free.
    Release {
        /// The lock.
        name: String,
        /// The term.
        term: u64,
    },
}

/// What the application asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockCommand {
    /// Acquire `name`, trying for at most `within`. Replied to with
    /// [`LockReply::Acquired`] or [`LockReply::NotAcquired`].
    Acquire {
        /// The lock.
        name: String,
        /// How long to keep trying.
        within: Duration,
    },
    /// Release `name` if held. Replied to with [`LockReply::Released`] or
    /// [`LockReply::NotHeld`].
    Release {
        /// The lock.
        name: String,
    },
    /// The lease view: does this node hold `name` now, under which token, until when?
    /// Replied to with [`LockReply::Holds`] or [`LockReply::NotHeld`], judged on this
    /// node's clock when the command is handled (after a pause, the lease may have lapsed
    /// before the renewal timer has run: the answer is then `NotHeld`).
    View {
        /// The lock.
        name: String,
    },
}

/// The answer to a [`LockCommand`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockReply {
    /// This node holds the lock under `token` until `until` on its monotonic clock (it
    /// renews until released; [`LockEvent::Lost`] says when it could not).
    Acquired {
        /// The fencing token: greater than every earlier grant of this name.
        token: u64,
        /// The lease's end on this node's clock, as first granted.
        until: Instant,
    },
    /// The answer to [`LockCommand::View`]: this node holds the lock under `token` until
    /// `until` on its monotonic clock, as of the latest renewal.
    Holds {
        /// The fencing token.
        token: u64,
        /// The lease's end on this node's clock.
        until: Instant,
    },
    /// Not acquired within the time asked (someone else holds it, or no majority answered).
    NotAcquired,
    /// Released.
    Released,
    /// This node did not hold it.
    NotHeld,
    /// The name is longer than [`LockConfig::max_name_len`].
    BadName,
}

/// What the application and checkers are told.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LockEvent {
    /// This node now holds `name` under `token`.
    Acquired {
        /// The lock.
        name: String,
        /// Its fencing token.
        token: u64,
    },
    /// This node's lease on `name` lapsed unrenewed: it no longer holds it.
    Lost {
        /// The lock.
        name: String,
        /// The token it held.
        token: u64,
    },
    /// This node released `name`.
    Released {
        /// The lock.
        name: String,
        /// The token it held.
        token: u64,
    },
    /// An ask was refused because this acceptor already keeps state for
    /// [`LockConfig::max_names`] names, or the name was too long.
    Overloaded {
        /// The asker.
        from: NodeId,
    },
}

/// An acceptor's durable state for one name.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    /// The highest term seen for the name.
    pub highest_term: u64,
    /// Whom it promised in that term.
    pub promised_to: Option<NodeId>,
}

/// What a node persists: its promises, per name, and the highest term it has asked for.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockDurable {
    /// Per name.
    pub promises: BTreeMap<String, Promise>,
    /// The highest term this node has stood in, for any name. A node never stands in a term
    /// twice, even across a restart: a `Release` it sent for a round it abandoned must never
    /// free a promise made to a later round of its own.
    pub asked: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    /// Renew the claim's lease, or notice it lapsed.
    Renew(u64),
    /// Ask again after a failed round.
    Retry(u64),
    /// Give up on an acquire that has not succeeded.
    GiveUp(u64),
}

#[derive(Clone, Debug, Hash)]
struct Round {
    id: u64,
    term: u64,
    sent: Instant,
    promised: BTreeSet<NodeId>,
    refused: BTreeSet<NodeId>,
}

/// One name this node wants or holds.
#[derive(Clone, Debug, Hash)]
struct Claim {
    name: String,
    round: Option<Round>,
    /// The term held and the lease's end on this clock.
    held: Option<(u64, Instant)>,
    /// The highest term heard of in refusals for the name.
    seen_term: u64,
    /// Acquires waiting for the grant.
    waiting: Vec<RequestId>,
}

/// An acceptor's volatile view of one name: when its promise ends on its clock.
type Running = BTreeMap<String, Instant>;

/// One node: an acceptor for every name, and an asker for the names its application wants.
#[derive(Clone, Debug, Hash)]
pub struct Locks {
    id: NodeId,
    config: LockConfig,
    members: Vec<NodeId>,
    durable: LockDurable,
    /// Acceptor: when each current promise ends on this clock.
    running: Running,
    /// Acceptor: promise nothing before this (after a restart).
    quiet_until: Instant,
    /// Asker: claims by id, and the id of each name's claim.
    claims: BTreeMap<u64, Claim>,
    by_name: BTreeMap<String, u64>,
    next_claim: u64,
    next_round: u64,
    timers: Timers<Timer>,
    rng: Rng,
    outbox: Outbox<LockMsg, LockEvent, LockDurable, LockReply>,
}

impl Locks {
    /// The token under which this node holds `name` at its local time `now`, if its lease
    /// is valid then.
    pub fn holds(&self, name: &str, now: Instant) -> Option<u64> {
        self.lease_of(name, now).map(|(term, _)| term)
    }

    /// The term and lease end under which this node holds `name`, if valid at `now`.
    fn lease_of(&self, name: &str, now: Instant) -> Option<(u64, Instant)> {
        self.claims.get(self.by_name.get(name)?)?.held.filter(|&(_, until)| now < until)
    }

    /// Every name this node holds at `now`, with its token.
    pub fn held(&self, now: Instant) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.claims
            .values()
            .filter_map(move |c| c.held.filter(|&(_, until)| now < until).map(|(t, _)| (c.name.as_str(), t)))
    }

    fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }

    fn ask(&mut self, claim: u64, now: Instant, term: u64) {
        self.next_round += 1;
        let round = Round {
            id: self.next_round,
            term,
            sent: now,
            promised: BTreeSet::new(),
            refused: BTreeSet::new(),
        };
        let Some(c) = self.claims.get_mut(&claim) else { return };
        for &a in &self.members {
            self.outbox.send(a, LockMsg::Ask { name: c.name.clone(), term, round: round.id });
        }
        c.round = Some(round);
    }

    /// Starts a round for a name not held: one term above every term seen for it. A round
    /// that has not won by the retry timer is abandoned and another begins.
    fn stand(&mut self, claim: u64, now: Instant) {
        let Some(c) = self.claims.get(&claim) else { return };
        let known = self.durable.promises.get(&c.name).map_or(0, |p| p.highest_term);
        // Terms come from peers' messages: a peer that claimed u64::MAX leaves no term to
        // stand in. Give up on the acquire rather than wrap.
        match known.max(c.seen_term).max(self.durable.asked).checked_add(1) {
            Some(term) => {
                // Durable before any acceptor hears of it (the barrier orders the asks after).
                self.durable.asked = term;
                self.outbox.persist(self.durable.clone());
                self.ask(claim, now, term);
                let jitter = self.rng.duration_between(Duration::ZERO, self.config.retry);
                self.timers.set(Timer::Retry(claim), now + self.config.retry + jitter);
            }
            None => self.give_up(claim),
        }
    }

    /// Abandons the claim's round, if one is running (freeing the acceptors that promised,
    /// this node's own among them), and stands again after a random wait up to
    /// [`LockConfig::retry`]. The wait is what ends a duel: two askers that abandoned and
    /// stood again at once would each promise themselves first and refuse the other, round
    /// after round; with it, the first to stand again finds the other's acceptor free.
    fn retry(&mut self, claim: u64, now: Instant) {
        let Some(c) = self.claims.get_mut(&claim) else { return };
        if c.held.is_some() {
            return;
        }
        match c.round.take() {
            Some(r) => {
                for a in r.promised {
                    self.outbox.send(a, LockMsg::Release { name: c.name.clone(), term: r.term });
                }
                let wait = self.rng.duration_between(Duration::ZERO, self.config.retry);
                self.timers.set(Timer::Retry(claim), now + wait);
            }
            None => self.stand(claim, now),
        }
    }

    /// Ends a claim that is not held: its waiting acquires are told, its promises freed.
    fn give_up(&mut self, claim: u64) {
        let Some(c) = self.forget(claim) else { return };
        for req in c.waiting {
            self.outbox.reply(req, LockReply::NotAcquired);
        }
        if let Some(r) = c.round {
            for a in r.promised {
                self.outbox.send(a, LockMsg::Release { name: c.name.clone(), term: r.term });
            }
        }
    }

    fn accept_ask(&mut self, now: Instant, from: NodeId, name: String, term: u64, round: u64) {
        let known = self.durable.promises.contains_key(&name);
        if name.len() > self.config.max_name_len
            || (!known && self.durable.promises.len() >= self.config.max_names)
        {
            self.outbox.event(LockEvent::Overloaded { from });
            self.outbox.send(from, LockMsg::Refused { round, highest: 0 });
            return;
        }
        let p = self.durable.promises.get(&name).cloned().unwrap_or_default();
        let until = self.running.get(&name).copied().unwrap_or(now);
        let same = p.promised_to == Some(from) && term == p.highest_term;
        let other_running = p.promised_to.is_some_and(|q| q != from) && now < until;
        let allowed = now >= self.quiet_until && (same || (term > p.highest_term && !other_running));
        if !allowed {
            self.outbox.send(from, LockMsg::Refused { round, highest: p.highest_term });
            return;
        }
        self.durable.promises.insert(name.clone(), Promise { highest_term: term, promised_to: Some(from) });
        self.running.insert(name, now + self.config.term);
        // The barrier: the promise is durable before the asker can count on it.
        self.outbox.persist(self.durable.clone());
        self.outbox.send(from, LockMsg::Promised { round });
    }

    fn claim_of_round(&self, round: u64) -> Option<u64> {
        self.claims.iter().find(|(_, c)| c.round.as_ref().is_some_and(|r| r.id == round)).map(|(&k, _)| k)
    }

    fn on_promised(&mut self, from: NodeId, round: u64, now: Instant) {
        let majority = self.majority();
        let Some(k) = self.claim_of_round(round) else { return };
        let renew_after = self.config.renew_after;
        let lease = self.config.holder_lease();
        let Some(c) = self.claims.get_mut(&k) else { return };
        let Some(r) = c.round.as_mut() else { return };
        r.promised.insert(from);
        if r.promised.len() < majority {
            return;
        }
        let (term, sent) = (r.term, r.sent);
        let until = sent + lease;
        if now >= until {
            // The promises came too late: the lease they grant has already run out. Free
            // them and try again (a renewal's lease simply lapses at its Renew timer).
            let promised = std::mem::take(&mut r.promised);
            c.round = None;
            for a in promised {
                self.outbox.send(a, LockMsg::Release { name: c.name.clone(), term });
            }
            return;
        }
        c.round = None;
        let was = c.held.map(|(t, _)| t);
        c.held = Some((term, until));
        self.timers.set(Timer::Renew(k), sent + renew_after);
        if was != Some(term) {
            self.timers.cancel(Timer::Retry(k));
            self.timers.cancel(Timer::GiveUp(k));
            let name = c.name.clone();
            for req in std::mem::take(&mut c.waiting) {
                self.outbox.reply(req, LockReply::Acquired { token: term, until });
            }
            self.outbox.event(LockEvent::Acquired { name, token: term });
        }
    }

    fn on_refused(&mut self, from: NodeId, round: u64, highest: u64, now: Instant) {
        let (n, majority) = (self.members.len(), self.majority());
        let Some(k) = self.claim_of_round(round) else { return };
        let Some(c) = self.claims.get_mut(&k) else { return };
        c.seen_term = c.seen_term.max(highest);
        let Some(r) = c.round.as_mut() else { return };
        r.refused.insert(from);
        if r.refused.len() <= n - majority || c.held.is_some() {
            // Still winnable; or a renewal, which keeps its promises until its lease ends.
            return;
        }
        // This round cannot win: free the acceptors that promised now (a split vote must
        // not block everyone for a whole term), and try again soon, above the terms refused.
        self.retry(k, now);
    }

    fn on_renew(&mut self, k: u64, now: Instant) {
        let Some(c) = self.claims.get(&k) else { return };
        match c.held {
            Some((term, until)) if now < until => {
                self.ask(k, now, term);
                self.timers.set(Timer::Renew(k), now + self.config.renew_after);
            }
            Some((token, _)) => {
                // Lapsed unrenewed: it holds nothing now. An acquire that came in after the
                // lease ended and before this timer waited on the claim: it is answered, not
                // dropped (found by review).
                if let Some(c) = self.forget(k) {
                    self.outbox.event(LockEvent::Lost { name: c.name, token });
                    for req in c.waiting {
                        self.outbox.reply(req, LockReply::NotAcquired);
                    }
                }
            }
            None => {}
        }
    }

    fn acquire(&mut self, now: Instant, req: RequestId, name: String, within: Duration) {
        if name.len() > self.config.max_name_len {
            self.outbox.reply(req, LockReply::BadName);
            return;
        }
        if let Some(&k) = self.by_name.get(&name) {
            let Some(c) = self.claims.get_mut(&k) else { return };
            match c.held {
                Some((token, until)) if now < until => {
                    self.outbox.reply(req, LockReply::Acquired { token, until })
                }
                _ => {
                    c.waiting.push(req);
                    // Keep trying until the latest deadline of every acquire waiting.
                    if self.timers.get(Timer::GiveUp(k)).is_some_and(|t| t < now + within) {
                        self.timers.set(Timer::GiveUp(k), now + within);
                    }
                }
            }
            return;
        }
        self.next_claim += 1;
        let k = self.next_claim;
        let claim = Claim { name: name.clone(), round: None, held: None, seen_term: 0, waiting: vec![req] };
        self.claims.insert(k, claim);
        self.by_name.insert(name, k);
        self.timers.set(Timer::GiveUp(k), now + within);
        self.stand(k, now);
    }

    /// Drops claim `k`: its entry, its name's index and its timers.
    fn forget(&mut self, k: u64) -> Option<Claim> {
        let c = self.claims.remove(&k)?;
        self.by_name.remove(&c.name);
        for t in [Timer::Renew(k), Timer::Retry(k), Timer::GiveUp(k)] {
            self.timers.cancel(t);
        }
        Some(c)
    }

    fn release(&mut self, now: Instant, req: RequestId, name: &str) {
        let k = self.by_name.get(name).copied();
        match k.and_then(|k| self.claims.get(&k)).and_then(|c| c.held).zip(k) {
            Some(((token, until), k)) => {
                self.forget(k);
                for &a in &self.members {
                    self.outbox.send(a, LockMsg::Release { name: name.to_string(), term: token });
                }
                if now < until {
                    self.outbox.event(LockEvent::Released { name: name.to_string(), token });
                } else {
                    self.outbox.event(LockEvent::Lost { name: name.to_string(), token });
                }
                self.outbox.reply(req, LockReply::Released);
            }
            _ => self.outbox.reply(req, LockReply::NotHeld),
        }
    }
}

impl Protocol for Locks {
    type Message = LockMsg;
    type Command = LockCommand;
    type Reply = LockReply;
    type Event = LockEvent;
    type Config = LockConfig;
    type Durable = LockDurable;

    fn new(init: Init<Self>) -> Self {
        let now = init.now.mono;
        Locks {
            id: init.id,
            members: init.members.clone(),
            durable: init.restored.clone().unwrap_or_default(),
            running: Running::new(),
            // A restarted acceptor may have promised someone just before it crashed.
            quiet_until: if init.restored.is_some() { now + init.config.term } else { now },
            config: init.config,
            claims: BTreeMap::new(),
            by_name: BTreeMap::new(),
            next_claim: 0,
            next_round: 0,
            timers: Timers::new(),
            rng: Rng::from_seed(init.seed),
            outbox: Outbox::new(),
        }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: LockMsg) {
        let now = now.mono;
        match msg {
            LockMsg::Ask { name, term, round } => self.accept_ask(now, from, name, term, round),
            LockMsg::Release { name, term } => {
                let ours = self
                    .durable
                    .promises
                    .get(&name)
                    .is_some_and(|p| p.promised_to == Some(from) && p.highest_term == term);
                if ours {
                    self.running.insert(name, now);
                }
            }
            LockMsg::Promised { round } => self.on_promised(from, round, now),
            LockMsg::Refused { round, highest } => self.on_refused(from, round, highest, now),
        }
    }

    fn handle_command(&mut self, now: Now, req: RequestId, cmd: LockCommand) {
        match cmd {
            LockCommand::Acquire { name, within } => self.acquire(now.mono, req, name, within),
            LockCommand::Release { name } => self.release(now.mono, req, &name),
            LockCommand::View { name } => {
                let reply = match self.lease_of(&name, now.mono) {
                    Some((token, until)) => LockReply::Holds { token, until },
                    None => LockReply::NotHeld,
                };
                self.outbox.reply(req, reply);
            }
        }
    }

    fn handle_timeout(&mut self, now: Now) {
        let now = now.mono;
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Renew(k) => self.on_renew(k, now),
                Timer::Retry(k) => self.retry(k, now),
                Timer::GiveUp(k) => {
                    if self.claims.get(&k).is_some_and(|c| c.held.is_none()) {
                        self.give_up(k);
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

    /// Refusals for want of room are worth an operator's attention; so is everything else.
    fn is_notable(_: &LockEvent) -> bool {
        true
    }

    /// Per name this node is claiming: `palisade_lock_held` (1 while its lease is valid)
    /// and `palisade_lock_lease_seconds` (how long the lease has left on this clock).
    fn gauges(&self, now: Now, out: &mut Vec<crate::Gauge>) {
        for name in self.by_name.keys() {
            let ends = self.lease_of(name, now.mono).map(|(_, until)| until);
            let names = ["palisade_lock_held", "palisade_lock_lease_seconds"];
            crate::Gauge::lease(out, names, Some(("name", name)), ends, now.mono);
        }
    }
}
