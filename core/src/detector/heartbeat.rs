//! The heartbeat protocol: every node sends a heartbeat to every other member each interval
//! and runs one [`Detector`] per peer.
//!
//! Model: crash-stop or crash-recovery nodes (a restarted node is a new incarnation; its
//! boot counter is the only durable state); a network that may lose, delay, duplicate and
//! reorder messages; the timing model is the chosen detector's.
//! Guarantees: a peer is reported [`HeartbeatEvent::Suspect`] exactly when its detector's
//! deadline passes without a fresh heartbeat, and [`HeartbeatEvent::Trust`] again on the
//! next one; events for one peer alternate, starting with a suspicion. Only fresh heartbeats
//! reach the detector: one per sender round, never a duplicate or a late copy of an older
//! round (see [`HeartbeatMsg`]), so a network that duplicates or reorders does not teach it
//! near-zero inter-arrival times. Completeness and accuracy are the detector's.
//! Checkers: [`super::completeness`], [`super::never_suspects_live`].

use super::Detector;
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol};
use crate::time::{Instant, Now};
use crate::timer::Timers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The system model heartbeat detection assumes: partially synchronous (delays and pauses
/// are unbounded before GST), nodes that crash and may restart, any network misbehaviour,
/// monotonic clocks only.
pub const HEARTBEAT_MODEL: crate::model::SystemModel = crate::model::SystemModel {
    timing: crate::model::Timing::PartiallySynchronous,
    nodes: crate::model::NodeFaults::CrashRecovery,
    clocks: crate::model::ClockModel::monotonic(1_000),
    network: crate::model::NetworkModel::UNRELIABLE,
    max_down: None,
};

/// Parameters of [`Heartbeat`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HeartbeatConfig<D: Detector> {
    /// Time between heartbeats to each peer. Default 1 s (Akka's heartbeat-interval).
    pub interval: Duration,
    /// The detector's parameters, shared by every monitored peer.
    pub detector: D::Config,
    /// The observer-pause guard; `None` (the default, as in Akka) turns it off.
    pub pause_guard: Option<PauseGuard>,
}

impl<D: Detector> HeartbeatConfig<D> {
    crate::__config_setters! {
        interval: Duration,
        detector: D::Config,
        pause_guard: Option<PauseGuard>,
    }
}

impl<D: Detector> Default for HeartbeatConfig<D> {
    fn default() -> Self {
        HeartbeatConfig {
            interval: Duration::from_secs(1),
            detector: D::Config::default(),
            pause_guard: None,
        }
    }
}

impl<D: Detector> HeartbeatConfig<D> {
    /// The same configuration with the observer-pause guard at its defaults.
    pub fn with_pause_guard(self) -> Self {
        HeartbeatConfig { pause_guard: Some(PauseGuard::default()), ..self }
    }
}

/// The observer-pause guard: when this node's own timer fires far later than it asked (the
/// process was paused: GC, VM suspension), the silences it measures are its own fault, so it
/// suspects no one for a grace period and lets the heartbeats that queued up during the
/// pause arrive first. Whenever a timer fires more than `margin` late, heartbeats arriving
/// within the grace period restart each detector's silence without teaching it their
/// intervals ([`Detector::heartbeat_unsampled`]): one spans the pause, and the backlog read
/// at once would count as near-zero intervals.
///
/// The idea is Cassandra's (`FailureDetector`), which calls a timer 5 s late a pause. A
/// fixed lateness is not enough: phi at Akka's defaults suspects after about 4.5 s of
/// silence, so shorter pauses still caused false suspicions. Here the threshold follows the
/// detector ([`Heartbeat::pause_threshold`]): from S, the shortest silence after which any
/// currently trusted peer's detector suspects it (its current statistics: for phi the
/// learnt window, bootstrapped at first; for a fixed timeout the timeout), a pause P makes
/// a live peer look silent for up to P + one interval (its last heartbeat may have come an
/// interval before the pause), and the timer that reveals the pause may have been due up to
/// an interval after it began (the send timer fires every interval), so it fires at least
/// P − interval late. Any pause that can cause a suspicion is therefore at least
/// S − 2·interval − `margin` late, and that lateness is the threshold; it is never below
/// `margin`, so ordinary timer slack is not a pause. A pause longer than the margin after
/// which some trusted peer's deadline has already passed also holds suspicions back: the
/// silence may have begun before the pause (a lost heartbeat), but the pause stretched it.
/// A crashed peer's detection is then late by at most the grace period.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PauseGuard {
    /// Slack for heartbeat jitter and timer delay: subtracted from the derived threshold,
    /// and its floor. Default 500 ms.
    pub margin: Duration,
    /// How long to accuse no one after a pause. Default 5 s (Cassandra's).
    pub grace: Duration,
}

impl PauseGuard {
    crate::__config_setters! {
        margin: Duration,
        grace: Duration,
    }
}

impl Default for PauseGuard {
    fn default() -> Self {
        PauseGuard { margin: Duration::from_millis(500), grace: Duration::from_secs(5) }
    }
}

/// The heartbeat message.
///
/// A receiver counts a heartbeat as an arrival only if it is fresh: from a later incarnation
/// of its sender than any heard before, or from the same incarnation with a higher `seq`.
/// Duplicates and late copies of older rounds are dropped (see [`Heartbeat::stale`]).
///
/// The incarnation is a boot counter: [`Heartbeat`] persists it ([`HeartbeatDurable`]) and
/// bumps it on every restart, before its first heartbeat, so a restarted sender, which counts
/// `seq` from 0 again, is heard at once, and late heartbeats of its previous life are not.
/// It is persisted rather than drawn from the node's seed because a runtime may restart a
/// node with the same seed (the CLI derives it from the node id). A node whose stable
/// storage is wiped starts again from incarnation 0 and is ignored by peers that heard a
/// later one until they restart: wiping a node's state is outside the model.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatMsg {
    /// The sender's boot counter: 0 on first start, one more on each restart.
    pub incarnation: u64,
    /// How many heartbeats the sender had sent to all peers in this incarnation before this
    /// round.
    pub seq: u64,
}

/// What [`Heartbeat`] persists: its incarnation, so the next one is told apart.
#[derive(Copy, Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatDurable {
    /// The incarnation that persisted this (0 on first start).
    pub incarnation: u64,
}

/// What the heartbeat protocol tells the application.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeartbeatEvent {
    /// The detector now suspects `peer`.
    Suspect {
        /// The suspected peer.
        peer: NodeId,
    },
    /// A suspected `peer` was heard from again.
    Trust {
        /// The peer trusted again.
        peer: NodeId,
    },
    /// The pause guard found this node itself was paused and holds suspicions back.
    ObserverPaused {
        /// How late the node's own timer fired, in ms.
        late_ms: u64,
    },
    /// The application stopped watching `peer` ([`HeartbeatCommand::Unwatch`]): it is
    /// neither suspected nor trusted from now on.
    Unwatched {
        /// The peer.
        peer: NodeId,
    },
}

/// What the application asks of a heartbeat node.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum HeartbeatCommand {
    /// Judge `peer` again, from now, with a fresh detector (as at start). Replied to with
    /// [`HeartbeatReply::Watching`].
    Watch {
        /// The peer.
        peer: NodeId,
    },
    /// Stop judging `peer`: no more suspicions of it, and a suspicion it is under ends
    /// ([`HeartbeatEvent::Unwatched`]). This node still sends it heartbeats. Replied to with
    /// [`HeartbeatReply::Unwatched`].
    Unwatch {
        /// The peer.
        peer: NodeId,
    },
    /// Every peer: watched or not, suspected or not. Replied to with
    /// [`HeartbeatReply::Status`].
    Status,
}

/// The answer to a [`HeartbeatCommand`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatReply {
    /// The peer is watched.
    Watching,
    /// The peer is not watched.
    Unwatched,
    /// The node is not one of this node's peers.
    NotAPeer,
    /// Every peer, in id order.
    Status(Vec<PeerStatus>),
}

/// One peer, as [`HeartbeatCommand::Status`] reports it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    /// The peer.
    pub peer: NodeId,
    /// Whether this node judges it.
    pub watched: bool,
    /// Whether this node suspects it now.
    pub suspected: bool,
}

#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Send,
    Check(NodeId),
}

#[derive(Clone, Debug, Hash)]
struct Peer<D> {
    detector: D,
    /// Judged at all (the application may stop watching a peer).
    watched: bool,
    suspected: bool,
    /// The freshest heartbeat counted: (incarnation, seq).
    freshest: Option<(u64, u64)>,
    /// When it arrived (construction, before any).
    heard: Instant,
}

/// Heartbeat failure detection with a pluggable [`Detector`] per peer.
#[derive(Clone, Debug)]
pub struct Heartbeat<D: Detector> {
    id: NodeId,
    interval: Duration,
    incarnation: u64,
    seq: u64,
    peers: BTreeMap<NodeId, Peer<D>>,
    timers: Timers<Timer>,
    outbox: Outbox<HeartbeatMsg, HeartbeatEvent, HeartbeatDurable, HeartbeatReply>,
    /// The detectors' parameters, for a peer watched again.
    detector_config: D::Config,
    rejected: u64,
    stale: u64,
    pause_guard: Option<PauseGuard>,
    /// No suspicions before this instant (set by the pause guard).
    quiet_until: Instant,
    /// The overdue deadline of the last pause noticed, so one pause is reported once.
    paused_past: Option<Instant>,
    /// Arrivals before this instant are not sampled (set by the pause guard).
    learn_from: Instant,
}

/// The state, for the explorer's fingerprints (where the detector's state hashes): the
/// detector's configuration is left out, being the same in every state of one model.
impl<D: Detector + std::hash::Hash> std::hash::Hash for Heartbeat<D> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Heartbeat {
            id,
            interval,
            incarnation,
            seq,
            peers,
            timers,
            outbox,
            detector_config: _,
            rejected,
            stale,
            pause_guard,
            quiet_until,
            paused_past,
            learn_from,
        } = self;
        (id, interval, incarnation, seq, peers, timers, outbox, rejected, stale, pause_guard).hash(h);
        (quiet_until, paused_past, learn_from).hash(h);
    }
}

impl<D: Detector> Heartbeat<D> {
    /// True when this node currently suspects `peer`.
    pub fn suspects(&self, peer: NodeId) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.suspected)
    }

    /// The peers this node currently suspects, in id order.
    pub fn suspected(&self) -> Vec<NodeId> {
        self.peers.iter().filter(|(_, p)| p.suspected).map(|(&id, _)| id).collect()
    }

    /// The detector watching `peer`.
    pub fn detector(&self, peer: NodeId) -> Option<&D> {
        self.peers.get(&peer).map(|p| &p.detector)
    }

    /// Heartbeats dropped because they came from a node outside the membership.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Heartbeats dropped as duplicates or late copies of older rounds (not fresh, see
    /// [`HeartbeatMsg`]).
    pub fn stale(&self) -> u64 {
        self.stale
    }

    /// This node's incarnation: 0 on first start, one more on each restart.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// How late a timer must fire for the pause guard to call it a pause, given the
    /// detectors' current state (see [`PauseGuard`]); `None` when the guard is off or no
    /// peer is trusted (no suspicion to hold back).
    pub fn pause_threshold(&self) -> Option<Duration> {
        let guard = self.pause_guard.as_ref()?;
        let shortest = self
            .peers
            .values()
            .filter(|p| p.watched && !p.suspected)
            .map(|p| p.detector.suspect_at() - p.heard)
            .min()?;
        let derived = shortest.saturating_sub(self.interval.saturating_mul(2)).saturating_sub(guard.margin);
        Some(derived.max(guard.margin))
    }

    /// The pause guard: if the earliest timer is overdue by more than the margin, this node
    /// was paused: learn nothing from arrivals for the grace period; if by more than the
    /// threshold, hold suspicions back for it too. Runs before every input is handled, so a
    /// runtime that hands over queued messages before the late timer is covered too.
    fn notice_pause(&mut self, now: Instant) {
        let (Some(guard), Some(due)) = (&self.pause_guard, self.timers.next_deadline()) else {
            return;
        };
        let late = now - due;
        if late <= guard.margin || self.paused_past == Some(due) {
            return;
        }
        self.paused_past = Some(due);
        let until = now.saturating_add(guard.grace);
        self.learn_from = self.learn_from.max(until);
        // Hold suspicions if the pause is long enough to cause one on its own, or if some
        // trusted peer's deadline has passed while this node was paused: a silence that
        // began before the pause (a lost heartbeat, a loss burst) and that the pause
        // stretched past the deadline is not the peer's to answer for either.
        let overdue =
            self.peers.values().any(|p| p.watched && !p.suspected && p.detector.suspect_at() <= now);
        if overdue || self.pause_threshold().is_some_and(|threshold| late > threshold) {
            self.quiet_until = self.quiet_until.max(until);
            self.outbox.event(HeartbeatEvent::ObserverPaused { late_ms: late.as_millis() as u64 });
            crate::log::info!(node = %self.id, ?late, "own timer fired late: holding suspicions back");
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
}

impl<D: Detector> Protocol for Heartbeat<D> {
    type Message = HeartbeatMsg;
    type Command = HeartbeatCommand;
    type Reply = HeartbeatReply;
    type Event = HeartbeatEvent;
    type Config = HeartbeatConfig<D>;
    type Durable = HeartbeatDurable;

    fn new(init: Init<Self>) -> Self {
        let now = init.now.mono;
        // Saturating: a node restarted 2^64 times shares its last incarnation.
        let incarnation = init.restored.map_or(0, |d| d.incarnation.saturating_add(1));
        let mut timers = Timers::new();
        timers.set(Timer::Send, now);
        let mut peers = BTreeMap::new();
        for p in init.peers() {
            let detector = D::new(&init.config.detector, now);
            timers.set(Timer::Check(p), detector.suspect_at());
            peers.insert(p, Peer { detector, watched: true, suspected: false, freshest: None, heard: now });
        }
        let mut outbox = Outbox::new();
        // Before the first heartbeat of this incarnation goes out.
        outbox.persist(HeartbeatDurable { incarnation });
        Heartbeat {
            id: init.id,
            interval: init.config.interval,
            incarnation,
            seq: 0,
            peers,
            timers,
            outbox,
            detector_config: init.config.detector.clone(),
            rejected: 0,
            stale: 0,
            pause_guard: init.config.pause_guard.clone(),
            quiet_until: now,
            paused_past: None,
            learn_from: now,
        }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: HeartbeatMsg) {
        self.notice_pause(now.mono);
        let Some(peer) = self.peers.get_mut(&from) else {
            self.rejected += 1;
            crate::log::debug!(node = %self.id, %from, "heartbeat from a non-member dropped");
            return;
        };
        let heard = (msg.incarnation, msg.seq);
        if peer.freshest.is_some_and(|freshest| heard <= freshest) {
            // A duplicate or a late copy of an older round: not an arrival.
            self.stale += 1;
            return;
        }
        peer.freshest = Some(heard);
        if !peer.watched {
            return;
        }
        peer.heard = now.mono;
        if now.mono < self.learn_from {
            peer.detector.heartbeat_unsampled(now.mono);
        } else {
            peer.detector.heartbeat(now.mono);
        }
        if peer.suspected {
            peer.suspected = false;
            self.outbox.event(HeartbeatEvent::Trust { peer: from });
        }
        self.timers.set(Timer::Check(from), peer.detector.suspect_at());
    }

    fn handle_command(&mut self, now: Now, req: crate::protocol::RequestId, cmd: HeartbeatCommand) {
        let now = now.mono;
        let reply = match cmd {
            HeartbeatCommand::Status => HeartbeatReply::Status(
                self.peers
                    .iter()
                    .map(|(&peer, p)| PeerStatus { peer, watched: p.watched, suspected: p.suspected })
                    .collect(),
            ),
            HeartbeatCommand::Watch { peer } => match self.peers.get_mut(&peer) {
                None => HeartbeatReply::NotAPeer,
                Some(p) => {
                    if !p.watched {
                        // As at start: a peer never heard from again is suspected in time.
                        *p = Peer {
                            detector: D::new(&self.detector_config, now),
                            watched: true,
                            suspected: false,
                            freshest: p.freshest,
                            heard: now,
                        };
                        self.timers.set(Timer::Check(peer), p.detector.suspect_at());
                    }
                    HeartbeatReply::Watching
                }
            },
            HeartbeatCommand::Unwatch { peer } => match self.peers.get_mut(&peer) {
                None => HeartbeatReply::NotAPeer,
                Some(p) => {
                    if p.watched {
                        p.watched = false;
                        p.suspected = false;
                        self.timers.cancel(Timer::Check(peer));
                        self.outbox.event(HeartbeatEvent::Unwatched { peer });
                    }
                    HeartbeatReply::Unwatched
                }
            },
        };
        self.outbox.reply(req, reply);
    }

    fn handle_timeout(&mut self, now: Now) {
        self.notice_pause(now.mono);
        while let Some(timer) = self.timers.pop_expired(now.mono) {
            match timer {
                Timer::Send => {
                    for &p in self.peers.keys() {
                        self.outbox.send(p, HeartbeatMsg { incarnation: self.incarnation, seq: self.seq });
                    }
                    self.seq += 1;
                    self.timers.set(Timer::Send, now.mono + self.interval);
                }
                Timer::Check(p) => {
                    let Some(peer) = self.peers.get_mut(&p).filter(|peer| peer.watched) else {
                        continue;
                    };
                    debug_assert!(!peer.detector.is_available(now.mono));
                    if now.mono < self.quiet_until {
                        // Paused observer: look again once the backlog has had its chance.
                        self.timers.set(Timer::Check(p), self.quiet_until);
                        continue;
                    }
                    if !peer.suspected {
                        peer.suspected = true;
                        self.outbox.event(HeartbeatEvent::Suspect { peer: p });
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{FixedTimeout, FixedTimeoutConfig};
    use crate::protocol::{Input, Output, step};
    use crate::time::WallTime;

    type Hb = Heartbeat<FixedTimeout>;

    fn at(ms: u64) -> Now {
        Now::new(Instant::ZERO + Duration::from_millis(ms), WallTime::UNIX_EPOCH)
    }

    fn node() -> Hb {
        let cfg = HeartbeatConfig {
            interval: Duration::from_millis(100),
            detector: FixedTimeoutConfig { timeout: Duration::from_millis(350) },
            pause_guard: None,
        };
        let mut n = Hb::new(Init::fresh(NodeId(1), vec![NodeId(1), NodeId(2), NodeId(3)], cfg, 0, at(0)));
        let mut out = Vec::new();
        crate::protocol::drain(&mut n, |o| out.push(o));
        assert_eq!(out, vec![Output::Persist(HeartbeatDurable { incarnation: 0 })]);
        n
    }

    /// Heartbeat round `seq` of a peer's first incarnation.
    fn hb(seq: u64) -> HeartbeatMsg {
        HeartbeatMsg { incarnation: 0, seq }
    }

    fn run<D: Detector>(
        n: &mut Heartbeat<D>,
        now: Now,
        input: Input<Heartbeat<D>>,
    ) -> Vec<OutputFor<Heartbeat<D>>> {
        let mut out = Vec::new();
        step(n, now, input, |o| out.push(o));
        out
    }

    /// Runs `n`'s timers up to `ms`; the events they emit.
    fn events_until(n: &mut Hb, ms: u64) -> Vec<HeartbeatEvent> {
        let mut events = Vec::new();
        while let Some(t) = n.poll_timeout().filter(|&t| t <= at(ms).mono) {
            for o in run(n, Now::new(t, WallTime::UNIX_EPOCH), Input::Timeout) {
                if let Output::Event(e) = o {
                    events.push(e);
                }
            }
        }
        events
    }

    #[test]
    fn an_unwatched_peer_is_never_suspected_until_watched_again() {
        let mut n = node();
        let cmd =
            |n: &mut Hb, ms, req, cmd| run(n, at(ms), Input::Command { req: crate::RequestId(req), cmd });
        let out = cmd(&mut n, 0, 1, HeartbeatCommand::Unwatch { peer: NodeId(2) });
        assert!(out.contains(&Output::Event(HeartbeatEvent::Unwatched { peer: NodeId(2) })), "{out:?}");
        assert!(out.contains(&Output::Reply { req: crate::RequestId(1), reply: HeartbeatReply::Unwatched }));
        // Both silent for a second: only the watched one is suspected.
        assert_eq!(events_until(&mut n, 1_000), vec![HeartbeatEvent::Suspect { peer: NodeId(3) }]);
        let out = cmd(&mut n, 1_000, 2, HeartbeatCommand::Status);
        let status = |peer, watched, suspected| PeerStatus { peer: NodeId(peer), watched, suspected };
        let want = HeartbeatReply::Status(vec![status(2, false, false), status(3, true, true)]);
        assert_eq!(out, vec![Output::Reply { req: crate::RequestId(2), reply: want }]);
        // Watched again from 1 s: a fresh detector, so suspected only after its timeout.
        let out = cmd(&mut n, 1_000, 3, HeartbeatCommand::Watch { peer: NodeId(2) });
        assert_eq!(out, vec![Output::Reply { req: crate::RequestId(3), reply: HeartbeatReply::Watching }]);
        assert_eq!(events_until(&mut n, 1_300), vec![]);
        assert_eq!(events_until(&mut n, 1_400), vec![HeartbeatEvent::Suspect { peer: NodeId(2) }]);
        let out = cmd(&mut n, 1_400, 4, HeartbeatCommand::Watch { peer: NodeId(9) });
        assert_eq!(out, vec![Output::Reply { req: crate::RequestId(4), reply: HeartbeatReply::NotAPeer }]);
    }

    #[test]
    fn sends_to_every_peer_each_interval() {
        let mut n = node();
        assert_eq!(n.poll_timeout(), Some(at(0).mono));
        let out = run(&mut n, at(0), Input::Timeout);
        let to: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Output::Send { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(to, vec![NodeId(2), NodeId(3)]);
        assert_eq!(n.poll_timeout(), Some(at(100).mono));
        // A spurious early timeout sends nothing.
        assert!(run(&mut n, at(50), Input::Timeout).is_empty());
    }

    #[test]
    fn silent_peer_is_suspected_at_deadline_and_trusted_on_heartbeat() {
        let mut n = node();
        let mut t = 0;
        let mut events = Vec::new();
        while t <= 400 {
            if t % 100 == 0 {
                run(&mut n, at(t), Input::Message { from: NodeId(2), msg: hb(t / 100) });
            }
            for o in run(&mut n, at(t), Input::Timeout) {
                if let Output::Event(e) = o {
                    events.push((t, e));
                }
            }
            t += 50;
        }
        assert_eq!(events, vec![(350, HeartbeatEvent::Suspect { peer: NodeId(3) })]);
        assert!(n.suspects(NodeId(3)) && !n.suspects(NodeId(2)));
        let out = run(&mut n, at(420), Input::Message { from: NodeId(3), msg: hb(9) });
        assert_eq!(out, vec![Output::Event(HeartbeatEvent::Trust { peer: NodeId(3) })]);
        assert!(n.suspected().is_empty());
    }

    #[test]
    fn pause_guard_holds_suspicions_until_the_backlog_is_read() {
        let cfg = HeartbeatConfig {
            interval: Duration::from_millis(100),
            detector: FixedTimeoutConfig { timeout: Duration::from_millis(350) },
            pause_guard: Some(PauseGuard {
                margin: Duration::from_millis(50),
                grace: Duration::from_millis(500),
            }),
        };
        let mut n = Hb::new(Init::fresh(NodeId(1), vec![NodeId(1), NodeId(2)], cfg, 0, at(0)));
        run(&mut n, at(0), Input::Timeout);
        run(&mut n, at(50), Input::Message { from: NodeId(2), msg: hb(0) });
        // Paused from 50 ms to 3 s: the send timer due at 100 ms fires 2.9 s late.
        let out = run(&mut n, at(3_000), Input::Timeout);
        assert!(out.contains(&Output::Event(HeartbeatEvent::ObserverPaused { late_ms: 2_900 })), "{out:?}");
        assert!(!n.suspects(NodeId(2)), "no accusation straight after a pause");
        // The queued heartbeat arrives: still trusted, never suspected.
        run(&mut n, at(3_001), Input::Message { from: NodeId(2), msg: hb(5) });
        assert!(!n.suspects(NodeId(2)));
        // A peer that really is silent is still suspected once the grace period is over.
        let mut out = Vec::new();
        for t in (3_050..=3_500).step_by(50) {
            out.extend(run(&mut n, at(t), Input::Timeout).into_iter().map(|o| (t, o)));
        }
        let events: Vec<_> = out.into_iter().filter(|(_, o)| matches!(o, Output::Event(_))).collect();
        assert_eq!(events, vec![(3_500, Output::Event(HeartbeatEvent::Suspect { peer: NodeId(2) }))]);
    }

    type PhiHb = Heartbeat<crate::detector::PhiAccrual>;

    /// A two-node phi cluster member (`id` watches the other of nodes 1 and 2), always with
    /// the same seed, started from `durable` and leaving what it persists there.
    fn phi_node(id: u32, durable: &mut Option<<PhiHb as Protocol>::Durable>) -> PhiHb {
        let cfg = HeartbeatConfig::default();
        let init = Init::restart(NodeId(id), vec![NodeId(1), NodeId(2)], cfg, *durable, 7, at(0));
        let mut n = PhiHb::new(init);
        crate::protocol::drain(&mut n, |o| {
            if let Output::Persist(d) = o {
                *durable = Some(d);
            }
        });
        n
    }

    /// Fires `sender`'s send timer at `now` and returns its heartbeat to node 1, remembering
    /// the state it persisted (if any) in `durable`.
    fn beat(
        sender: &mut PhiHb,
        now: Now,
        durable: &mut Option<<PhiHb as Protocol>::Durable>,
    ) -> Option<HeartbeatMsg> {
        let mut msg = None;
        step(sender, now, Input::Timeout, |o| match o {
            Output::Send { to: NodeId(1), msg: m } => msg = Some(m),
            Output::Persist(d) => *durable = Some(d),
            _ => {}
        });
        msg
    }

    fn window(n: &PhiHb) -> (usize, f64, f64, Instant) {
        let d = n.detector(NodeId(2)).expect("node 2 is watched");
        (d.sample_count(), d.mean_ns(), d.std_dev_ns(), d.suspect_at())
    }

    #[test]
    fn duplicated_and_reordered_heartbeats_leave_the_phi_window_as_the_clean_stream_does() {
        let mut durable = None;
        let mut sender = phi_node(2, &mut durable);
        let (mut clean, mut dirty) = (phi_node(1, &mut None), phi_node(1, &mut None));
        let mut sent: Vec<HeartbeatMsg> = Vec::new();
        for k in 0..40u64 {
            let t = k * 1_000;
            sent.extend(beat(&mut sender, at(t), &mut durable));
            let msg = sent.last().expect("one heartbeat per round").clone();
            let arrive = t + 5 + (k * 37) % 90; // 5-95 ms of jitter
            run(&mut clean, at(arrive), Input::Message { from: NodeId(2), msg: msg.clone() });
            run(&mut dirty, at(arrive), Input::Message { from: NodeId(2), msg: msg.clone() });
            // The network duplicates it, and redelivers older heartbeats late and out of order.
            run(&mut dirty, at(arrive + 3), Input::Message { from: NodeId(2), msg });
            if k >= 2 {
                let stale = sent[(k - 2) as usize].clone();
                run(&mut dirty, at(arrive + 4), Input::Message { from: NodeId(2), msg: stale });
            }
        }
        assert_eq!(window(&dirty), window(&clean), "(samples, mean ns, std dev ns, suspect at)");
    }

    #[test]
    fn restarted_sender_counting_from_seq_zero_is_trusted_again() {
        let mut durable = None;
        let mut sender = phi_node(2, &mut durable);
        let mut watcher = phi_node(1, &mut None);
        let mut t = 0;
        let mut last_of_first_life = None;
        for _ in 0..20 {
            let msg = beat(&mut sender, at(t), &mut durable).expect("a heartbeat");
            run(&mut watcher, at(t + 10), Input::Message { from: NodeId(2), msg: msg.clone() });
            last_of_first_life = Some(msg);
            t += 1_000;
        }
        // The sender crashes; the watcher suspects it once its deadline passes.
        let out = run(&mut watcher, at(t + 30_000), Input::Timeout);
        assert!(out.contains(&Output::Event(HeartbeatEvent::Suspect { peer: NodeId(2) })), "{out:?}");
        // It comes back with the same seed (as a node started from the same config file does)
        // and whatever it persisted, counting its heartbeats from zero again.
        let t = t + 60_000;
        let mut sender = phi_node(2, &mut durable);
        let msg = beat(&mut sender, at(t), &mut durable).expect("a heartbeat");
        let out = run(&mut watcher, at(t + 10), Input::Message { from: NodeId(2), msg });
        assert_eq!(out, vec![Output::Event(HeartbeatEvent::Trust { peer: NodeId(2) })]);
        assert_eq!(sender.incarnation(), 1);
        // A late heartbeat of its first life is not an arrival.
        let before = window(&watcher);
        let old = last_of_first_life.expect("sent");
        run(&mut watcher, at(t + 20), Input::Message { from: NodeId(2), msg: old });
        assert_eq!((window(&watcher), watcher.stale()), (before, 1));
        // Its later heartbeats count as arrivals too: the deadline moves with them.
        for k in 1..5 {
            let msg = beat(&mut sender, at(t + k * 1_000), &mut durable).expect("a heartbeat");
            run(&mut watcher, at(t + k * 1_000 + 10), Input::Message { from: NodeId(2), msg });
            let silence_allowed =
                watcher.detector(NodeId(2)).expect("watched").suspect_at() - at(t + k * 1_000 + 10).mono;
            assert!(silence_allowed > Duration::from_secs(4), "{silence_allowed:?} after heartbeat {k}");
        }
        assert!(!watcher.suspects(NodeId(2)));
    }

    /// Runs observer node 1 (phi at Akka's defaults, the pause guard on) watching node 2,
    /// whose heartbeats leave every second and arrive 3-13 ms later, until `end_ms`. Node 1 is
    /// paused over `pause_ms` (from, to): it handles nothing then; on waking it handles its
    /// due timers first, then the heartbeats that queued up. Returns its events with their
    /// times in ms, and the node.
    fn observe_with_pause(pause_ms: (u64, u64), end_ms: u64) -> (Vec<(u64, HeartbeatEvent)>, PhiHb) {
        observe_with_loss_and_pause((0, 0), pause_ms, end_ms)
    }

    /// Like [`observe_with_pause`], with the peer's heartbeats sent in `lost_ms` lost.
    fn observe_with_loss_and_pause(
        lost_ms: (u64, u64),
        pause_ms: (u64, u64),
        end_ms: u64,
    ) -> (Vec<(u64, HeartbeatEvent)>, PhiHb) {
        let cfg = HeartbeatConfig::<crate::detector::PhiAccrual>::default().with_pause_guard();
        let init = Init::fresh(NodeId(1), vec![NodeId(1), NodeId(2)], cfg, 3, at(0));
        let mut n = PhiHb::new(init);
        crate::protocol::drain(&mut n, |_| {});
        let (mut events, mut queued) = (Vec::new(), Vec::new());
        let mut record = |t: u64, out: Vec<OutputFor<PhiHb>>| {
            events.extend(out.into_iter().filter_map(|o| match o {
                Output::Event(e) => Some((t, e)),
                _ => None,
            }));
        };
        for t in 0..=end_ms {
            let paused = (pause_ms.0..pause_ms.1).contains(&t);
            let arrives = t % 1_000 == 3 + (t / 1_000 * 7) % 11;
            if arrives && !(lost_ms.0..lost_ms.1).contains(&t) {
                queued.push(HeartbeatMsg { incarnation: 0, seq: t / 1_000 });
            }
            if paused {
                continue;
            }
            if n.poll_timeout().is_some_and(|d| d <= at(t).mono) {
                record(t, run(&mut n, at(t), Input::Timeout));
            }
            for msg in queued.drain(..) {
                record(t, run(&mut n, at(t), Input::Message { from: NodeId(2), msg }));
            }
        }
        (events, n)
    }

    #[test]
    fn pause_guard_notices_an_observer_pause_long_enough_for_phi_to_suspect() {
        // Phi at Akka's defaults suspects after about 4.5 s of silence once it has learnt
        // 1 s heartbeats. Paused for 4.8 s from just after the heartbeat of 100.010 s, the
        // observer wakes past that peer's deadline, with its send timer (due at 101 s) 3.8 s
        // late: under Cassandra's 5 s threshold.
        let (events, n) = observe_with_pause((100_015, 104_815), 115_000);
        assert!(
            !events.iter().any(|(_, e)| matches!(e, HeartbeatEvent::Suspect { .. })),
            "a live peer suspected after a 4.8 s observer pause: {events:?}"
        );
        assert!(
            events.iter().any(|(_, e)| matches!(e, HeartbeatEvent::ObserverPaused { .. })),
            "the pause went unnoticed: {events:?}"
        );
        // Neither the interval spanning the pause nor the backlog read at once taught the
        // detector anything: it learnt only the intervals after the grace period.
        let (_, calm) = observe_with_pause((0, 0), 115_000);
        let (samples, calm_samples) = (window(&n).0, window(&calm).0);
        assert!(samples < calm_samples && samples + 12 > calm_samples, "{samples} vs {calm_samples}");
        let mean_ms = n.detector(NodeId(2)).expect("watched").mean_ns() / 1e6;
        assert!((mean_ms - 1_000.0).abs() < 30.0, "mean interval {mean_ms} ms");
        // A pause too short to matter goes unremarked.
        assert_eq!(observe_with_pause((100_015, 101_515), 115_000).0, vec![]);
    }

    #[test]
    fn pause_guard_holds_a_suspicion_that_a_short_pause_stretched_past_the_deadline() {
        // Heartbeats from 97 s to 99 s are lost (a loss burst): silence since ~96 s, phi's
        // deadline about 4.5 s later. The observer then pauses 1.7 s from 99.9 s: too short
        // to cause a suspicion on its own (under the ~2 s threshold), but it wakes past the
        // deadline. Before: it suspected its live peer at once; the silence it measured was
        // partly its own.
        let (events, _) = observe_with_loss_and_pause((96_500, 99_500), (99_900, 101_600), 115_000);
        assert!(
            !events.iter().any(|(_, e)| matches!(e, HeartbeatEvent::Suspect { .. })),
            "suspected a live peer after a loss and a short pause: {events:?}"
        );
        // The loss alone, long enough, is a justified suspicion (nothing is held back).
        let (events, _) = observe_with_loss_and_pause((96_500, 103_500), (0, 0), 115_000);
        assert!(events.iter().any(|(_, e)| matches!(e, HeartbeatEvent::Suspect { .. })), "{events:?}");
    }

    #[test]
    fn pause_threshold_follows_the_detector_and_interval() {
        let cfg = HeartbeatConfig::<FixedTimeout>::default().with_pause_guard();
        let mut n = Hb::new(Init::fresh(NodeId(1), vec![NodeId(1), NodeId(2)], cfg, 0, at(0)));
        // 5 s timeout, 1 s heartbeats, 500 ms margin.
        assert_eq!(n.pause_threshold(), Some(Duration::from_millis(2_500)));
        // No trusted peer: nothing to hold back.
        for t in (0..=5_000).step_by(1_000) {
            run(&mut n, at(t), Input::Timeout);
        }
        assert!(n.suspects(NodeId(2)));
        assert_eq!(n.pause_threshold(), None);
        // Off unless configured.
        assert_eq!(node().pause_threshold(), None);
    }

    #[test]
    fn heartbeat_from_non_member_is_counted_and_ignored() {
        let mut n = node();
        let out = run(&mut n, at(1), Input::Message { from: NodeId(99), msg: hb(0) });
        assert!(out.is_empty());
        assert_eq!(n.rejected(), 1);
    }
}
