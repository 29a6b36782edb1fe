//! SWIM membership (Das, Gupta and Motivala, DSN 2002) with Lifeguard (Dadgar et al.,
//! arXiv 1707.00788), after hashicorp/memberlist.
//!
//! Model: partially synchronous network that may lose, delay and reorder messages;
//! members crash and may restart from their durable state ([`SwimDurable`]); members may be
//! slow or paused; the membership is fixed by configuration (members outside it are
//! ignored). No Byzantine members, but nothing a peer sends can panic a member or make it
//! allocate what the peer claims.
//! Guarantees: a crashed member is eventually declared dead by every live member
//! (completeness: probed round-robin, so within a bounded number of protocol periods plus
//! the suspicion timeout); a live member that is suspected or declared dead refutes by
//! raising its incarnation, and one that can reach any member will be believed alive again;
//! an asymmetric partition (A cannot reach B but C can) does not convict B, since indirect
//! probes through C succeed. A restarted member comes back at an incarnation strictly
//! higher than any it used before (it is persisted before anything carries it), and
//! periodic push-pull anti-entropy (memberlist's full state sync with one random live
//! member) tells it how others see it, so it is eventually alive in every live view again
//! even when every gossip about it has been forgotten. With Lifeguard, a member that misses
//! acks because it is itself slow stretches its own timeouts (local health), a lone
//! accuser's suspicion lasts longest (dynamic suspicion timeout), and every message to a
//! suspect tells it that it is suspected (buddy system).
//! Incarnations: merged by "higher incarnation wins; at equal incarnation Dead/Left >
//! Suspect > Alive". Incarnation arithmetic never overflows: an accusation at `u64::MAX`
//! cannot be outbid, so the accused member keeps its incarnation (it neither wraps to 0
//! nor jumps to `u64::MAX`) and reports [`SwimEvent::Unrefutable`]; honest members move up
//! by one per refutation or restart and never get there.
//! Checkers: [`checks::no_false_death`], and the detector checkers over [`SwimEvent`]s
//! mapped to suspicions.

/// The system model SWIM assumes: partially synchronous, members that crash and may restart
/// (keeping their incarnation), any network misbehaviour, monotonic clocks only.
pub const MODEL: crate::model::SystemModel = crate::model::SystemModel {
    timing: crate::model::Timing::PartiallySynchronous,
    nodes: crate::model::NodeFaults::CrashRecovery,
    clocks: crate::model::ClockModel::monotonic(1_000),
    network: crate::model::NetworkModel::UNRELIABLE,
    max_down: None,
};

mod awareness;
mod broadcast;
pub mod checks;
mod suspicion;

pub use awareness::Awareness;
pub use broadcast::{Broadcasts, retransmit_limit};
pub use suspicion::{Suspicion, confirmations_needed, suspicion_bounds, suspicion_timeout};

use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol};
use crate::rng::Rng;
use crate::time::{Instant, Now};
use crate::timer::Timers;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Parameters of [`Swim`]. Defaults are memberlist's LAN configuration with Lifeguard on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SwimConfig {
    /// Protocol period: one probe per interval. 1 s.
    pub probe_interval: Duration,
    /// Wait for a direct ack before asking others to probe. 500 ms.
    pub probe_timeout: Duration,
    /// Members asked to probe indirectly. 3.
    pub indirect_checks: usize,
    /// Suspicion timeout multiplier. 4.
    pub suspicion_mult: u32,
    /// Maximum suspicion timeout as a multiple of the minimum (Lifeguard). 6.
    pub suspicion_max_timeout_mult: u32,
    /// Updates are piggybacked `retransmit_mult · ceil(log10(n + 1))` times. 4.
    pub retransmit_mult: u32,
    /// Bound on the local health multiplier (Lifeguard). 8.
    pub awareness_max_multiplier: u32,
    /// Updates piggybacked per message, at most.
    pub max_piggyback: usize,
    /// Lifeguard on (local health, nacks, dynamic suspicion, buddy system) or plain SWIM
    /// with a fixed suspicion timeout of `suspicion_mult · log10(n) · probe_interval`.
    pub lifeguard: bool,
    /// Members to join through. Empty: start knowing the whole configured membership.
    pub seeds: Vec<NodeId>,
    /// Push-pull anti-entropy period: every interval (scaled up for clusters above 32
    /// members, see [`push_pull_interval`]) a member exchanges its whole membership table
    /// with one random live member. 30 s (memberlist's LAN `PushPullInterval`); zero turns
    /// push-pull off.
    #[serde(default = "default_push_pull_interval")]
    pub push_pull_interval: Duration,
}

impl SwimConfig {
    crate::__config_setters! {
        probe_interval: Duration,
        probe_timeout: Duration,
        indirect_checks: usize,
        suspicion_mult: u32,
        suspicion_max_timeout_mult: u32,
        retransmit_mult: u32,
        awareness_max_multiplier: u32,
        max_piggyback: usize,
        lifeguard: bool,
        seeds: Vec<NodeId>,
        push_pull_interval: Duration,
    }
}

fn default_push_pull_interval() -> Duration {
    Duration::from_secs(30)
}

/// Members above which memberlist scales the push-pull interval.
pub const PUSH_PULL_SCALE_THRESHOLD: usize = 32;

/// The push-pull period for a cluster of `n` live members (memberlist's `pushPullScale`):
/// `base` up to [`PUSH_PULL_SCALE_THRESHOLD`] members, then
/// `base · (ceil(log2(n) - log2(32)) + 1)`, so that full syncs stay rare in large clusters.
pub fn push_pull_interval(base: Duration, n: usize) -> Duration {
    if n <= PUSH_PULL_SCALE_THRESHOLD {
        return base;
    }
    let mult = ((n as f64).log2() - (PUSH_PULL_SCALE_THRESHOLD as f64).log2()).ceil() + 1.0;
    base.saturating_mul(mult as u32)
}

impl Default for SwimConfig {
    fn default() -> Self {
        SwimConfig {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_checks: 3,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            retransmit_mult: 4,
            awareness_max_multiplier: 8,
            max_piggyback: 16,
            lifeguard: true,
            seeds: Vec::new(),
            push_pull_interval: default_push_pull_interval(),
        }
    }
}

impl SwimConfig {
    /// Plain SWIM: the same parameters with Lifeguard off.
    pub fn plain() -> Self {
        SwimConfig { lifeguard: false, ..SwimConfig::default() }
    }
}

/// What a member is believed to be.
#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberState {
    /// Alive at this incarnation.
    Alive,
    /// Suspected by `from`.
    Suspect {
        /// The accuser.
        from: NodeId,
    },
    /// Declared dead by `from`.
    Dead {
        /// The member that declared it.
        from: NodeId,
    },
    /// Left gracefully.
    Left,
}

/// A membership update, as disseminated.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The member it is about.
    pub node: NodeId,
    /// That member's incarnation the update refers to.
    pub incarnation: u64,
    /// Its state.
    pub state: MemberState,
}

/// Updates handled per message, at most; the rest are dropped (a hostile message cannot make
/// a member do unbounded work).
pub const MAX_UPDATES_PER_MESSAGE: usize = 64;

/// Entries in a full membership table ([`SwimMsg::PushPull`], [`SwimMsg::JoinAck`]), at
/// most: 2048 encode to about 41 KB, under the codec's 64 KiB limit. A larger membership is
/// sent as a window of this many entries starting at a random member, so every member is
/// covered over successive syncs. A received table is read up to this many entries, and
/// never beyond the size of the configured membership.
pub const MAX_TABLE_ENTRIES: usize = 2048;

/// What a member keeps across crashes: the highest incarnation it has used. It restarts one
/// above it, so its `Alive` beats any suspicion or death others hold from before the crash.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwimDurable {
    /// The highest incarnation this member has announced (or is about to).
    pub incarnation: u64,
}

/// SWIM messages. Every one piggybacks membership updates.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum SwimMsg {
    /// Are you alive? Answer with `Ack { seq }`.
    Ping {
        /// Sequence number to echo.
        seq: u64,
        /// Piggybacked updates.
        updates: Vec<Update>,
    },
    /// Reply to a ping (directly, or relayed by an intermediary).
    Ack {
        /// The ping's sequence number.
        seq: u64,
        /// Piggybacked updates.
        updates: Vec<Update>,
    },
    /// Please ping `target` for me and relay its ack as `Ack { seq }`.
    PingReq {
        /// The requester's sequence number.
        seq: u64,
        /// Whom to ping.
        target: NodeId,
        /// Piggybacked updates.
        updates: Vec<Update>,
    },
    /// The intermediary got no ack from the target in time (Lifeguard).
    Nack {
        /// The requester's sequence number.
        seq: u64,
        /// Piggybacked updates.
        updates: Vec<Update>,
    },
    /// A new member asks a seed to let it in.
    Join,
    /// The seed's view of the membership.
    JoinAck {
        /// Every member the seed knows (at most [`MAX_TABLE_ENTRIES`]).
        members: Vec<Update>,
    },
    /// Anti-entropy: the sender's whole membership table; answer with
    /// [`SwimMsg::PushPullReply`] and merge.
    PushPull {
        /// The sender's table (at most [`MAX_TABLE_ENTRIES`]).
        members: Vec<Update>,
    },
    /// The answer to a [`SwimMsg::PushPull`]: the responder's table, after merging.
    PushPullReply {
        /// The responder's table (at most [`MAX_TABLE_ENTRIES`]).
        members: Vec<Update>,
    },
}

/// Commands to a [`Swim`] member.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum SwimCommand {
    /// Leave gracefully: tell the others, then stop probing. Replied to with
    /// [`SwimReply::Left`]. A leave lasts until [`SwimCommand::Join`] or a restart.
    Leave,
    /// Join again after leaving: announce a new incarnation, alive, and probe again.
    /// Replied to with [`SwimReply::Joined`] (also when this member had not left).
    Join,
    /// The member list as this member sees it now: every configured member it has heard of,
    /// with its incarnation and state. Replied to with [`SwimReply::Members`].
    Members,
}

/// The answer to a [`SwimCommand`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwimReply {
    /// This member has left (or had already).
    Left,
    /// This member is in the group again (or had never left).
    Joined,
    /// The member list, in id order (this member included).
    Members(Vec<Update>),
}

/// What SWIM tells the application.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SwimEvent {
    /// `peer` is suspected, first accused by `by`.
    Suspect {
        /// The member.
        peer: NodeId,
        /// Its accuser.
        by: NodeId,
    },
    /// `peer` is believed alive again (it refuted, or rejoined).
    Alive {
        /// The member.
        peer: NodeId,
    },
    /// `peer` is declared dead.
    Dead {
        /// The member.
        peer: NodeId,
    },
    /// `peer` joined.
    Joined {
        /// The member.
        peer: NodeId,
    },
    /// `peer` left gracefully.
    Left {
        /// The member.
        peer: NodeId,
    },
    /// This member refuted a suspicion of itself by moving to `incarnation`.
    Refuted {
        /// Its new incarnation.
        incarnation: u64,
    },
    /// A peer claims this member is suspect, dead or gone (or alive at a later incarnation)
    /// at incarnation `u64::MAX`, which cannot be outbid: the claim is not refuted and the
    /// member keeps its incarnation. No honest member gets there, so this reports a faulty
    /// peer.
    Unrefutable {
        /// The claimed incarnation.
        incarnation: u64,
    },
}

fn is_live(state: MemberState) -> bool {
    matches!(state, MemberState::Alive | MemberState::Suspect { .. })
}

#[derive(Clone, Debug, Hash)]
struct Member {
    incarnation: u64,
    state: MemberState,
}

#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Start the next probe.
    Probe,
    /// The direct ack is late: ask others.
    ProbeTimeout,
    /// The protocol period is over.
    ProbeEnd,
    /// A suspicion's deadline.
    Suspicion(NodeId),
    /// An indirect probe's nack deadline.
    RelayNack(u64),
    /// Forget an indirect probe.
    RelayEnd(u64),
    /// Start the next push-pull exchange.
    PushPull,
}

#[derive(Clone, Debug, Hash)]
struct Probe {
    target: NodeId,
    seq: u64,
    acked: bool,
    expected_nacks: i64,
    nacks: i64,
}

/// A SWIM member.
#[derive(Clone, Debug)]
pub struct Swim {
    id: NodeId,
    config: SwimConfig,
    incarnation: u64,
    /// The configured membership: updates about anyone else are ignored.
    membership: BTreeSet<NodeId>,
    members: BTreeMap<NodeId, Member>,
    /// Members alive or suspected.
    live: usize,
    suspicions: BTreeMap<NodeId, Suspicion>,
    probe_order: Vec<NodeId>,
    probe_index: usize,
    probe: Option<Probe>,
    relays: BTreeMap<u64, (NodeId, u64)>,
    next_seq: u64,
    awareness: Awareness,
    broadcasts: Broadcasts,
    timers: Timers<Timer>,
    rng: Rng,
    /// A separate stream for push-pull choices, so they leave the probe order unchanged.
    sync_rng: Rng,
    left: bool,
    outbox: Outbox<SwimMsg, SwimEvent, SwimDurable, SwimReply>,
}

/// The state, for the explorer's fingerprints: the configuration is left out, being the
/// same in every state of one model.
impl std::hash::Hash for Swim {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Swim {
            id,
            config: _,
            incarnation,
            membership,
            members,
            live,
            suspicions,
            probe_order,
            probe_index,
            probe,
            relays,
            next_seq,
            awareness,
            broadcasts,
            timers,
            rng,
            sync_rng,
            left,
            outbox,
        } = self;
        (id, incarnation, membership, members, live, suspicions, probe_order, probe_index, probe).hash(h);
        (relays, next_seq, awareness, broadcasts, timers, rng, sync_rng, left, outbox).hash(h);
    }
}

impl Swim {
    /// This member's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Its incarnation number.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The local health score (0 when healthy).
    pub fn health(&self) -> u32 {
        self.awareness.score()
    }

    /// What this member believes of `peer`.
    pub fn state_of(&self, peer: NodeId) -> Option<MemberState> {
        self.members.get(&peer).map(|m| m.state)
    }

    /// Members this member currently believes alive (itself included).
    pub fn alive(&self) -> Vec<NodeId> {
        self.members.iter().filter(|(_, m)| m.state == MemberState::Alive).map(|(&n, _)| n).collect()
    }

    /// Members currently suspected or declared dead.
    pub fn suspected(&self) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|(_, m)| matches!(m.state, MemberState::Suspect { .. } | MemberState::Dead { .. }))
            .map(|(&n, _)| n)
            .collect()
    }

    /// Members not dead or gone, kept up to date by [`Swim::set_member`] so that sizing
    /// timeouts and retransmissions is O(1).
    fn n(&self) -> usize {
        debug_assert_eq!(
            self.live,
            self.members.values().filter(|m| is_live(m.state)).count(),
            "live count out of step with the member table"
        );
        self.live
    }

    /// The only way the member table changes.
    fn set_member(&mut self, node: NodeId, member: Member) {
        let now_live = is_live(member.state);
        match self.members.insert(node, member) {
            Some(old) if is_live(old.state) && !now_live => self.live -= 1,
            Some(old) if !is_live(old.state) && now_live => self.live += 1,
            None if now_live => self.live += 1,
            _ => {}
        }
    }

    /// Sends `make(updates)` to `to`, piggybacking queued updates. Lifeguard's buddy system
    /// (memberlist's compound ping + suspect): if this member suspects `to`, a fresh suspect
    /// message about `to` rides first on every message to it, whether or not the suspicion
    /// is still queued for gossip, so the suspect learns of it and refutes.
    fn send(&mut self, to: NodeId, make: impl FnOnce(Vec<Update>) -> SwimMsg) {
        let note = self
            .members
            .get(&to)
            .filter(|m| self.config.lifeguard && matches!(m.state, MemberState::Suspect { .. }))
            .map(|m| Update {
                node: to,
                incarnation: m.incarnation,
                state: MemberState::Suspect { from: self.id },
            });
        let limit = retransmit_limit(self.config.retransmit_mult, self.n());
        let max = self.config.max_piggyback.saturating_sub(usize::from(note.is_some()));
        let mut updates = self.broadcasts.take(max, limit);
        if let Some(note) = note {
            // The note is this member's current view of `to`: it supersedes any queued update
            // about `to` for this recipient.
            updates.retain(|u| u.node != to);
            updates.insert(0, note);
        }
        self.outbox.send(to, make(updates));
    }

    fn persist(&mut self) {
        self.outbox.persist(SwimDurable { incarnation: self.incarnation });
    }

    /// This member's table for a full sync: every known member (itself as it announces
    /// itself), at most [`MAX_TABLE_ENTRIES`] of them, starting at a random member if there
    /// are more.
    fn table(&mut self) -> Vec<Update> {
        let n = self.members.len();
        let skip = if n > MAX_TABLE_ENTRIES { self.sync_rng.below(n as u64) as usize } else { 0 };
        let me = self.self_update();
        self.members
            .iter()
            .cycle()
            .skip(skip)
            .take(n.min(MAX_TABLE_ENTRIES))
            .map(|(&node, m)| {
                if node == self.id {
                    me.clone()
                } else {
                    Update { node, incarnation: m.incarnation, state: m.state }
                }
            })
            .collect()
    }

    /// Merges a peer's full table with the usual precedence rules (see [`Swim::apply`]),
    /// reading at most as many entries as there are members.
    fn merge(&mut self, now: Instant, table: Vec<Update>) {
        let bound = self.membership.len().min(MAX_TABLE_ENTRIES);
        for u in table.into_iter().take(bound) {
            self.apply(now, u);
        }
    }

    /// Sends this member's table to one random live member (memberlist's `pushPull`).
    fn push_pull(&mut self, now: Instant) {
        let interval = push_pull_interval(self.config.push_pull_interval, self.n());
        if interval.is_zero() {
            return;
        }
        self.timers.set(Timer::PushPull, now + interval);
        if self.left {
            return;
        }
        let peers: Vec<NodeId> = self
            .members
            .iter()
            .filter(|&(&n, m)| n != self.id && m.state == MemberState::Alive)
            .map(|(&n, _)| n)
            .collect();
        let Some(&peer) = self.sync_rng.pick(&peers) else { return };
        let members = self.table();
        self.outbox.send(peer, SwimMsg::PushPull { members });
    }

    fn self_update(&self) -> Update {
        let state = if self.left { MemberState::Left } else { MemberState::Alive };
        Update { node: self.id, incarnation: self.incarnation, state }
    }

    fn next_target(&mut self) -> Option<NodeId> {
        for _ in 0..2 {
            while self.probe_index < self.probe_order.len() {
                let n = self.probe_order[self.probe_index];
                self.probe_index += 1;
                let live = self
                    .members
                    .get(&n)
                    .is_some_and(|m| matches!(m.state, MemberState::Alive | MemberState::Suspect { .. }));
                if n != self.id && live {
                    return Some(n);
                }
            }
            // Round-robin over a fresh shuffle: every member is probed once per round.
            self.probe_order = self.members.keys().copied().filter(|&n| n != self.id).collect();
            self.rng.shuffle(&mut self.probe_order);
            self.probe_index = 0;
        }
        None
    }

    fn start_probe(&mut self, now: Instant) {
        let interval = self.scaled(self.config.probe_interval);
        self.timers.set(Timer::Probe, now + interval);
        if self.left {
            return;
        }
        let Some(target) = self.next_target() else { return };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.probe = Some(Probe { target, seq, acked: false, expected_nacks: 0, nacks: 0 });
        self.send(target, |updates| SwimMsg::Ping { seq, updates });
        self.timers.set(Timer::ProbeTimeout, now + self.scaled(self.config.probe_timeout));
        self.timers.set(Timer::ProbeEnd, now + interval);
    }

    fn scaled(&self, d: Duration) -> Duration {
        if self.config.lifeguard { self.awareness.scale(d) } else { d }
    }

    fn probe_timeout(&mut self) {
        let Some(p) = self.probe.clone().filter(|p| !p.acked) else { return };
        let mut helpers: Vec<NodeId> = self
            .members
            .iter()
            .filter(|&(&n, m)| n != self.id && n != p.target && m.state == MemberState::Alive)
            .map(|(&n, _)| n)
            .collect();
        self.rng.shuffle(&mut helpers);
        helpers.truncate(self.config.indirect_checks);
        for &h in &helpers {
            self.send(h, |updates| SwimMsg::PingReq { seq: p.seq, target: p.target, updates });
        }
        if let Some(probe) = self.probe.as_mut() {
            probe.expected_nacks = if self.config.lifeguard { helpers.len() as i64 } else { 0 };
        }
    }

    fn probe_end(&mut self, now: Instant, late: Duration) {
        // Lifeguard extension (palisade): a period that ends more than a tenth of the probe
        // timeout later than scheduled means this member was itself paused or starved, and the
        // ack may be sitting unread in its inbox. Do not convict on its own silence: count it
        // against local health, and give the backlog one more probe timeout.
        if self.config.lifeguard
            && late > self.config.probe_timeout / 10
            && let Some(target) = self.probe.as_ref().filter(|p| !p.acked).map(|p| p.target)
        {
            crate::log::debug!(node = %self.id, %target, ?late, "probe period ended late: deferring verdict");
            let _ = target; // read only by the diagnostic, which the `tracing` feature may remove
            self.awareness.apply(1);
            self.timers.set(Timer::ProbeEnd, now + self.scaled(self.config.probe_timeout));
            return;
        }
        if let Some(p) = self.probe.take()
            && !p.acked
        {
            // Lifeguard: missing nacks mean we, not the target, may be the slow one.
            let delta = if p.expected_nacks > 0 { (p.expected_nacks - p.nacks).max(0) } else { 1 };
            self.awareness.apply(delta);
            let inc = self.members.get(&p.target).map_or(0, |m| m.incarnation);
            let update =
                Update { node: p.target, incarnation: inc, state: MemberState::Suspect { from: self.id } };
            self.apply(now, update);
        }
        self.timers.cancel(Timer::ProbeTimeout);
        self.start_probe(now);
    }

    fn ack(&mut self, seq: u64) {
        if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq && !p.acked) {
            p.acked = true;
            self.awareness.apply(-1);
            self.timers.cancel(Timer::ProbeTimeout);
        }
    }

    /// Applies one update, heard from a peer or decided locally. Precedence: a higher
    /// incarnation wins; at equal incarnation Dead/Left > Suspect > Alive. Updates about
    /// members outside the configured membership are ignored.
    fn apply(&mut self, now: Instant, u: Update) {
        if !self.membership.contains(&u.node) {
            return;
        }
        if u.node == self.id {
            return self.about_me(u);
        }
        let Some(m) = self.members.get(&u.node).cloned() else {
            // Not known yet (joining through seeds): only news of it being alive introduces it.
            if u.state == MemberState::Alive {
                self.set_member(u.node, Member { incarnation: u.incarnation, state: MemberState::Alive });
                self.outbox.event(SwimEvent::Joined { peer: u.node });
                self.broadcasts.push(u);
            }
            return;
        };
        if u.incarnation < m.incarnation {
            return;
        }
        let newer = u.incarnation > m.incarnation;
        match u.state {
            MemberState::Alive => {
                if !newer {
                    return;
                }
                self.set_member(u.node, Member { incarnation: u.incarnation, state: MemberState::Alive });
                self.suspicions.remove(&u.node);
                self.timers.cancel(Timer::Suspicion(u.node));
                if m.state == MemberState::Left {
                    self.outbox.event(SwimEvent::Joined { peer: u.node });
                } else if m.state != MemberState::Alive {
                    self.outbox.event(SwimEvent::Alive { peer: u.node });
                }
                self.broadcasts.push(u);
            }
            MemberState::Suspect { from: accuser } => match m.state {
                MemberState::Alive => self.suspect(now, u, accuser),
                MemberState::Suspect { from: first } => {
                    if newer {
                        // It refuted (we missed it) and is suspected again: keep the running
                        // suspicion, at the new incarnation.
                        let member = Member {
                            incarnation: u.incarnation,
                            state: MemberState::Suspect { from: first },
                        };
                        self.set_member(u.node, member);
                    }
                    // An independent confirmation shortens the timeout (Lifeguard).
                    let mut confirmed = false;
                    if let Some(s) = self.suspicions.get_mut(&u.node)
                        && s.confirm(accuser)
                    {
                        confirmed = true;
                        let deadline = s.deadline();
                        self.timers.set(Timer::Suspicion(u.node), deadline);
                    }
                    if confirmed || newer {
                        self.broadcasts.push(u);
                    }
                }
                // Seen alive at a later incarnation than the one it died at, and suspected
                // since: suspect it afresh.
                MemberState::Dead { .. } | MemberState::Left if newer => self.suspect(now, u, accuser),
                MemberState::Dead { .. } | MemberState::Left => {}
            },
            MemberState::Dead { .. } | MemberState::Left => {
                let was_live = is_live(m.state);
                if !newer && !was_live {
                    return;
                }
                self.set_member(u.node, Member { incarnation: u.incarnation, state: u.state });
                self.suspicions.remove(&u.node);
                self.timers.cancel(Timer::Suspicion(u.node));
                if was_live {
                    let event = if u.state == MemberState::Left {
                        SwimEvent::Left { peer: u.node }
                    } else {
                        SwimEvent::Dead { peer: u.node }
                    };
                    self.outbox.event(event);
                }
                self.broadcasts.push(u);
            }
        }
    }

    /// Starts suspecting `u.node` (at `u.incarnation`), accused by `accuser`.
    fn suspect(&mut self, now: Instant, u: Update, accuser: NodeId) {
        self.set_member(u.node, Member { incarnation: u.incarnation, state: u.state });
        let n = self.n();
        let (min, max) = suspicion_bounds(
            n,
            self.config.suspicion_mult,
            self.config.suspicion_max_timeout_mult,
            self.config.probe_interval,
        );
        let (max, k) = if self.config.lifeguard {
            (max, confirmations_needed(n, self.config.suspicion_mult))
        } else {
            (min, 0)
        };
        let s = Suspicion::new(now, accuser, min, max, k);
        self.timers.set(Timer::Suspicion(u.node), s.deadline());
        self.suspicions.insert(u.node, s);
        self.outbox.event(SwimEvent::Suspect { peer: u.node, by: accuser });
        self.broadcasts.push(u);
    }

    /// Someone says something about us. A suspicion, death or leave at our incarnation or
    /// later (or an `Alive` at a later one, as after a restart that lost its durable state)
    /// is refuted by moving above it: persisted first, then gossiped. An older one is
    /// answered by re-announcing our current incarnation, so that the reply to an accuser
    /// who missed the refutation carries it. An accusation at `u64::MAX` cannot be outbid:
    /// we keep our incarnation and report [`SwimEvent::Unrefutable`].
    fn about_me(&mut self, u: Update) {
        if self.left {
            return;
        }
        let accusation = u.state != MemberState::Alive;
        if !accusation && u.incarnation <= self.incarnation {
            return;
        }
        if u.incarnation < self.incarnation {
            // A stale accusation: the accuser missed our refutation.
            self.broadcasts.push(self.self_update());
            return;
        }
        let Some(next) = u.incarnation.checked_add(1) else {
            self.outbox.event(SwimEvent::Unrefutable { incarnation: u.incarnation });
            return;
        };
        self.incarnation = next;
        if self.config.lifeguard {
            self.awareness.apply(1);
        }
        if let Some(me) = self.members.get_mut(&self.id) {
            me.incarnation = self.incarnation;
        }
        self.persist();
        self.broadcasts.push(self.self_update());
        self.outbox.event(SwimEvent::Refuted { incarnation: self.incarnation });
    }

    fn apply_all(&mut self, now: Instant, updates: Vec<Update>) {
        for u in updates.into_iter().take(MAX_UPDATES_PER_MESSAGE) {
            self.apply(now, u);
        }
    }
}

impl Protocol for Swim {
    type Message = SwimMsg;
    type Command = SwimCommand;
    type Reply = SwimReply;
    type Event = SwimEvent;
    type Config = SwimConfig;
    type Durable = SwimDurable;

    /// A fresh member starts at incarnation 0; a restarted one one above the incarnation it
    /// persisted (saturating at `u64::MAX`), and announces it. Either way the incarnation is
    /// persisted before anything is sent.
    fn new(init: Init<Self>) -> Self {
        let config = init.config.clone();
        let incarnation = init.restored.as_ref().map_or(0, |d| d.incarnation.saturating_add(1));
        let mut members = BTreeMap::new();
        let known: Vec<NodeId> = if config.seeds.is_empty() { init.members.clone() } else { vec![init.id] };
        for n in known {
            members.insert(n, Member { incarnation: 0, state: MemberState::Alive });
        }
        members.insert(init.id, Member { incarnation, state: MemberState::Alive });
        let mut membership: BTreeSet<NodeId> = init.members.iter().copied().collect();
        membership.insert(init.id);
        let live = members.len();
        let mut swim = Swim {
            id: init.id,
            incarnation,
            membership,
            members,
            live,
            suspicions: BTreeMap::new(),
            probe_order: Vec::new(),
            probe_index: 0,
            probe: None,
            relays: BTreeMap::new(),
            next_seq: 0,
            awareness: Awareness::new(config.awareness_max_multiplier),
            broadcasts: Broadcasts::default(),
            timers: Timers::new(),
            rng: Rng::from_seed(init.seed),
            sync_rng: Rng::from_seed(init.seed ^ 0x7075_7368_2d70_756c),
            left: false,
            outbox: Outbox::new(),
            config,
        };
        swim.persist();
        if init.restored.is_some() {
            // Back from a crash: tell everyone, outbidding any suspicion or death from before.
            swim.broadcasts.push(swim.self_update());
        }
        // Stagger the first probe over one interval so members do not probe in lockstep.
        let offset = swim.rng.duration_between(Duration::ZERO, swim.config.probe_interval);
        swim.timers.set(Timer::Probe, init.now.mono + offset);
        // And the first push-pull over one push-pull period.
        let sync = push_pull_interval(swim.config.push_pull_interval, swim.live);
        if !sync.is_zero() {
            let offset = swim.sync_rng.duration_between(Duration::ZERO, sync);
            swim.timers.set(Timer::PushPull, init.now.mono + offset);
        }
        for seed in swim.config.seeds.clone() {
            if seed != swim.id {
                swim.outbox.send(seed, SwimMsg::Join);
            }
        }
        swim
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: SwimMsg) {
        let now = now.mono;
        match msg {
            SwimMsg::Ping { seq, updates } => {
                self.apply_all(now, updates);
                self.send(from, |updates| SwimMsg::Ack { seq, updates });
            }
            SwimMsg::Ack { seq, updates } => {
                self.apply_all(now, updates);
                if let Some((origin, origin_seq)) = self.relays.remove(&seq) {
                    self.timers.cancel(Timer::RelayNack(seq));
                    self.timers.cancel(Timer::RelayEnd(seq));
                    self.send(origin, |updates| SwimMsg::Ack { seq: origin_seq, updates });
                } else {
                    self.ack(seq);
                }
            }
            SwimMsg::PingReq { seq, target, updates } => {
                self.apply_all(now, updates);
                if target == self.id || !self.members.contains_key(&target) {
                    return;
                }
                let relay = self.next_seq;
                self.next_seq += 1;
                self.relays.insert(relay, (from, seq));
                self.send(target, |updates| SwimMsg::Ping { seq: relay, updates });
                if self.config.lifeguard {
                    self.timers.set(Timer::RelayNack(relay), now + self.config.probe_timeout.mul_f64(0.8));
                }
                self.timers.set(Timer::RelayEnd(relay), now + self.config.probe_interval);
            }
            SwimMsg::Nack { seq, updates } => {
                self.apply_all(now, updates);
                if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq) {
                    p.nacks += 1;
                }
            }
            SwimMsg::Join => {
                if !self.members.contains_key(&from) {
                    let u = Update { node: from, incarnation: 0, state: MemberState::Alive };
                    self.apply(now, u);
                }
                let members = self.table();
                self.outbox.send(from, SwimMsg::JoinAck { members });
            }
            SwimMsg::JoinAck { members } => {
                self.merge(now, members);
                self.broadcasts.push(self.self_update());
            }
            SwimMsg::PushPull { members } => {
                if !self.membership.contains(&from) {
                    return;
                }
                // Merge first, so that a refutation of what the peer believes of us is in
                // the reply (and persisted before it).
                self.merge(now, members);
                let members = self.table();
                self.outbox.send(from, SwimMsg::PushPullReply { members });
            }
            SwimMsg::PushPullReply { members } => self.merge(now, members),
        }
    }

    fn handle_command(&mut self, _now: Now, req: crate::protocol::RequestId, cmd: SwimCommand) {
        match cmd {
            SwimCommand::Members => {
                let list = self
                    .members
                    .iter()
                    .map(|(&node, m)| {
                        let state = if node == self.id && self.left { MemberState::Left } else { m.state };
                        Update { node, incarnation: m.incarnation, state }
                    })
                    .collect();
                self.outbox.reply(req, SwimReply::Members(list));
            }
            SwimCommand::Leave | SwimCommand::Join => {
                let leave = matches!(cmd, SwimCommand::Leave);
                self.outbox.reply(req, if leave { SwimReply::Left } else { SwimReply::Joined });
                if self.left == leave {
                    return;
                }
                self.left = leave;
                // A new incarnation, so the news overrides what the others hold of us.
                self.incarnation = self.incarnation.saturating_add(1);
                if let Some(me) = self.members.get_mut(&self.id) {
                    me.incarnation = self.incarnation;
                }
                self.persist();
                self.broadcasts.push(self.self_update());
                // Tell a few members straight away; piggybacking spreads it further.
                let others: Vec<NodeId> =
                    self.members.keys().copied().filter(|&n| n != self.id).take(4).collect();
                for n in others {
                    self.send(n, |updates| SwimMsg::Ping { seq: u64::MAX, updates });
                }
            }
        }
    }

    fn handle_timeout(&mut self, now: Now) {
        let now = now.mono;
        while let Some((timer, due)) =
            self.timers.next_deadline().and_then(|due| self.timers.pop_expired(now).map(|t| (t, due)))
        {
            match timer {
                Timer::Probe => {
                    if self.probe.is_none() {
                        self.start_probe(now);
                    }
                }
                Timer::ProbeTimeout => self.probe_timeout(),
                Timer::ProbeEnd => self.probe_end(now, now - due),
                Timer::Suspicion(node) => {
                    if self.suspicions.remove(&node).is_some() {
                        let inc = self.members.get(&node).map_or(0, |m| m.incarnation);
                        let u = Update { node, incarnation: inc, state: MemberState::Dead { from: self.id } };
                        self.apply(now, u);
                    }
                }
                Timer::RelayNack(relay) => {
                    if let Some(&(origin, seq)) = self.relays.get(&relay) {
                        self.send(origin, |updates| SwimMsg::Nack { seq, updates });
                    }
                }
                Timer::RelayEnd(relay) => {
                    self.relays.remove(&relay);
                }
                Timer::PushPull => self.push_pull(now),
            }
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }
}

#[cfg(test)]
mod tests;
