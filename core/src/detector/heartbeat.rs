//! The heartbeat protocol: every node sends a heartbeat to every other member each interval
//! and runs one [`Detector`] per peer.
//!
//! Model: crash-stop nodes; a network that may lose, delay, duplicate and reorder messages;
//! the timing model is the chosen detector's.
//! Guarantees: a peer is reported [`HeartbeatEvent::Suspect`] exactly when its detector's
//! deadline passes without a heartbeat, and [`HeartbeatEvent::Trust`] again on the next
//! heartbeat; events for one peer alternate, starting with a suspicion. Completeness and
//! accuracy are the detector's.
//! Checkers: [`super::completeness`], [`super::never_suspects_live`].

use super::Detector;
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol};
use crate::time::{Instant, Now};
use crate::timer::Timers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;
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
pub struct HeartbeatConfig<D: Detector> {
    /// Time between heartbeats to each peer. Default 1 s (Akka's heartbeat-interval).
    pub interval: Duration,
    /// The detector's parameters, shared by every monitored peer.
    pub detector: D::Config,
    /// Cassandra's observer-pause guard; `None` (the default, as in Akka) turns it off.
    pub pause_guard: Option<PauseGuard>,
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
    /// The same configuration with the observer-pause guard at Cassandra's defaults.
    pub fn with_pause_guard(self) -> Self {
        HeartbeatConfig { pause_guard: Some(PauseGuard::default()), ..self }
    }
}

/// The observer-pause guard (Cassandra's `FailureDetector`): when this node's own timer
/// fires far later than it asked (the process was paused: GC, VM suspension), every
/// silence it measures is its own fault, so it suspects no one for a grace period and lets
/// the heartbeats that queued up during the pause arrive first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseGuard {
    /// A timer this late means the node was paused. Cassandra: 5 s.
    pub threshold: Duration,
    /// How long to accuse no one afterwards. Cassandra: 5 s.
    pub grace: Duration,
}

impl Default for PauseGuard {
    fn default() -> Self {
        PauseGuard { threshold: Duration::from_secs(5), grace: Duration::from_secs(5) }
    }
}

/// The heartbeat message. The sequence number is informative only (for traces).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatMsg {
    /// How many heartbeats the sender had sent to all peers before this round.
    pub seq: u64,
}

/// What the heartbeat protocol tells the application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
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
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Send,
    Check(NodeId),
}

#[derive(Clone, Debug)]
struct Peer<D> {
    detector: D,
    suspected: bool,
}

/// Heartbeat failure detection with a pluggable [`Detector`] per peer.
#[derive(Debug)]
pub struct Heartbeat<D: Detector> {
    id: NodeId,
    interval: Duration,
    seq: u64,
    peers: BTreeMap<NodeId, Peer<D>>,
    timers: Timers<Timer>,
    outbox: Outbox<HeartbeatMsg, HeartbeatEvent, ()>,
    rejected: u64,
    pause_guard: Option<PauseGuard>,
    /// No suspicions before this instant (set by the pause guard).
    quiet_until: Instant,
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

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
}

impl<D: Detector> Protocol for Heartbeat<D> {
    type Message = HeartbeatMsg;
    type Command = Infallible;
    type Event = HeartbeatEvent;
    type Config = HeartbeatConfig<D>;
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let now = init.now.mono;
        let mut timers = Timers::new();
        timers.set(Timer::Send, now);
        let mut peers = BTreeMap::new();
        for p in init.peers() {
            let detector = D::new(&init.config.detector, now);
            timers.set(Timer::Check(p), detector.suspect_at());
            peers.insert(p, Peer { detector, suspected: false });
        }
        Heartbeat {
            id: init.id,
            interval: init.config.interval,
            seq: 0,
            peers,
            timers,
            outbox: Outbox::new(),
            rejected: 0,
            pause_guard: init.config.pause_guard.clone(),
            quiet_until: now,
        }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, _msg: HeartbeatMsg) {
        let Some(peer) = self.peers.get_mut(&from) else {
            self.rejected += 1;
            tracing::debug!(node = %self.id, %from, "heartbeat from a non-member dropped");
            return;
        };
        peer.detector.heartbeat(now.mono);
        if peer.suspected {
            peer.suspected = false;
            self.outbox.event(HeartbeatEvent::Trust { peer: from });
        }
        self.timers.set(Timer::Check(from), peer.detector.suspect_at());
    }

    fn handle_command(&mut self, _now: Now, cmd: Infallible) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        if let (Some(guard), Some(due)) = (&self.pause_guard, self.timers.next_deadline()) {
            let late = now.mono - due;
            if late > guard.threshold {
                self.quiet_until = now.mono + guard.grace;
                self.outbox.event(HeartbeatEvent::ObserverPaused { late_ms: late.as_millis() as u64 });
                tracing::info!(node = %self.id, ?late, "own timer fired late: holding suspicions back");
            }
        }
        while let Some(timer) = self.timers.pop_expired(now.mono) {
            match timer {
                Timer::Send => {
                    for &p in self.peers.keys() {
                        self.outbox.send(p, HeartbeatMsg { seq: self.seq });
                    }
                    self.seq += 1;
                    self.timers.set(Timer::Send, now.mono + self.interval);
                }
                Timer::Check(p) => {
                    let Some(peer) = self.peers.get_mut(&p) else {
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
        Hb::new(Init::fresh(NodeId(1), vec![NodeId(1), NodeId(2), NodeId(3)], cfg, 0, at(0)))
    }

    fn run(n: &mut Hb, now: Now, input: Input<Hb>) -> Vec<OutputFor<Hb>> {
        let mut out = Vec::new();
        step(n, now, input, |o| out.push(o));
        out
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
                run(&mut n, at(t), Input::Message { from: NodeId(2), msg: HeartbeatMsg { seq: 0 } });
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
        let out = run(&mut n, at(420), Input::Message { from: NodeId(3), msg: HeartbeatMsg { seq: 9 } });
        assert_eq!(out, vec![Output::Event(HeartbeatEvent::Trust { peer: NodeId(3) })]);
        assert!(n.suspected().is_empty());
    }

    #[test]
    fn pause_guard_holds_suspicions_until_the_backlog_is_read() {
        let cfg = HeartbeatConfig {
            interval: Duration::from_millis(100),
            detector: FixedTimeoutConfig { timeout: Duration::from_millis(350) },
            pause_guard: Some(PauseGuard {
                threshold: Duration::from_secs(1),
                grace: Duration::from_millis(500),
            }),
        };
        let mut n = Hb::new(Init::fresh(NodeId(1), vec![NodeId(1), NodeId(2)], cfg, 0, at(0)));
        run(&mut n, at(0), Input::Timeout);
        run(&mut n, at(50), Input::Message { from: NodeId(2), msg: HeartbeatMsg { seq: 0 } });
        // Paused from 50 ms to 3 s: the send timer due at 100 ms fires 2.9 s late.
        let out = run(&mut n, at(3_000), Input::Timeout);
        assert!(out.contains(&Output::Event(HeartbeatEvent::ObserverPaused { late_ms: 2_900 })), "{out:?}");
        assert!(!n.suspects(NodeId(2)), "no accusation straight after a pause");
        // The queued heartbeat arrives: still trusted, never suspected.
        run(&mut n, at(3_001), Input::Message { from: NodeId(2), msg: HeartbeatMsg { seq: 5 } });
        assert!(!n.suspects(NodeId(2)));
        // A peer that really is silent is still suspected once the grace period is over.
        let out = run(&mut n, at(3_500), Input::Timeout);
        assert!(out.contains(&Output::Event(HeartbeatEvent::Suspect { peer: NodeId(2) })), "{out:?}");
    }

    #[test]
    fn heartbeat_from_non_member_is_counted_and_ignored() {
        let mut n = node();
        let out = run(&mut n, at(1), Input::Message { from: NodeId(99), msg: HeartbeatMsg { seq: 0 } });
        assert!(out.is_empty());
        assert_eq!(n.rejected(), 1);
    }
}
