//! The clock skew monitor, after CockroachDB's `clock_offset.go`.
//!
//! Model: partially synchronous network; honest peers; wall clocks that may step and drift.
//! Guarantees: a node whose offset to a majority of its peers definitely exceeds
//! `fence_fraction · max_offset` (the measured offset minus its error bound) fences itself
//! within a few probe intervals, emitting [`SkewEvent::Fenced`] and answering
//! [`SkewMonitor::is_fenced`] so other protocols on the node can stop; it un-fences once
//! fewer than a majority say so. A node within bounds is never fenced because of one bad
//! peer: that peer's offset is large to everyone, but it is one peer, not a majority.
//! Checkers: the `skew` scenario's.

use super::offset::{OffsetEstimate, ntp};
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol};
use crate::time::{Instant, Now};
use crate::timer::Timers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The system model the skew monitor assumes for `config`: partially synchronous, crash-
/// recovery, any network misbehaviour; wall clocks may step by up to `max_offset` at once,
/// and a node is correct while its wall clock is within `fence_fraction · max_offset / 2`
/// of true time less 10 ms (room for 100 ppm of drift over 100 s), so any two correct
/// clocks stay closer than the fencing threshold. A node further off is faulty; far enough
/// beyond, the monitor must fence it.
pub fn skew_model(config: &SkewConfig) -> crate::model::SystemModel {
    use crate::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
    SystemModel {
        timing: Timing::PartiallySynchronous,
        nodes: NodeFaults::CrashRecovery,
        clocks: ClockModel {
            max_drift_ppm: 200,
            max_wall_step: Some(config.max_offset),
            max_offset: Some(
                config
                    .max_offset
                    .mul_f64(config.fence_fraction.clamp(0.0, 1.0) / 2.0)
                    .saturating_sub(Duration::from_millis(10)),
            ),
        },
        network: NetworkModel::UNRELIABLE,
        max_down: None,
    }
}

/// Parameters of the [`SkewMonitor`]. Defaults: CockroachDB's maximum offset (500 ms) and
/// fence fraction (0.8), probing every second, estimates trusted for five seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SkewConfig {
    /// Probe each peer this often.
    pub interval: Duration,
    /// The maximum clock offset the cluster tolerates.
    pub max_offset: Duration,
    /// Fence when a majority of peers are definitely off by more than this fraction of
    /// `max_offset`.
    pub fence_fraction: f64,
    /// Forget an estimate older than this.
    pub stale_after: Duration,
}

impl SkewConfig {
    crate::__config_setters! {
        interval: Duration,
        max_offset: Duration,
        fence_fraction: f64,
        stale_after: Duration,
    }
}

impl Default for SkewConfig {
    fn default() -> Self {
        SkewConfig {
            interval: Duration::from_secs(1),
            max_offset: Duration::from_millis(500),
            fence_fraction: 0.8,
            stale_after: Duration::from_secs(5),
        }
    }
}

/// Skew monitor messages: NTP's four timestamps over a probe and its reply.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum SkewMsg {
    /// T1: the prober's wall clock at send.
    Probe {
        /// T1.
        t1: i64,
    },
    /// T2 and T3: the peer's wall clock at receive and send.
    Reply {
        /// T1, echoed.
        t1: i64,
        /// T2.
        t2: i64,
        /// T3.
        t3: i64,
    },
}

/// What the monitor tells the application.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkewEvent {
    /// This node's clock is too far off: stop anything that depends on it.
    Fenced {
        /// How many peers are definitely too far.
        peers_beyond: usize,
        /// Their median offset (remote minus local), ms.
        median_offset_ms: i64,
    },
    /// Back within bounds.
    Unfenced,
}

/// One node's skew monitor.
#[derive(Clone, Debug)]
pub struct SkewMonitor {
    id: NodeId,
    config: SkewConfig,
    peers: Vec<NodeId>,
    estimates: BTreeMap<NodeId, (OffsetEstimate, Instant)>,
    fenced: bool,
    timers: Timers<()>,
    outbox: Outbox<SkewMsg, SkewEvent, ()>,
}

/// The state, for the explorer's fingerprints: the configuration is left out, being the
/// same in every state of one model.
impl std::hash::Hash for SkewMonitor {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let SkewMonitor { id, config: _, peers, estimates, fenced, timers, outbox } = self;
        (id, peers, estimates, fenced, timers, outbox).hash(h);
    }
}

impl SkewMonitor {
    /// True while this node has fenced itself.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// The latest estimate of `peer`'s offset (its clock minus ours).
    pub fn offset_to(&self, peer: NodeId) -> Option<OffsetEstimate> {
        self.estimates.get(&peer).map(|&(e, _)| e)
    }

    fn threshold_ns(&self) -> i64 {
        (self.config.max_offset.as_nanos() as f64 * self.config.fence_fraction) as i64
    }

    fn evaluate(&mut self, now: Instant) {
        let stale = self.config.stale_after;
        self.estimates.retain(|_, &mut (_, at)| now - at <= stale);
        let threshold = self.threshold_ns();
        let mut beyond: Vec<i64> = self
            .estimates
            .values()
            .filter(|(e, _)| {
                let err = i64::try_from(e.error.as_nanos()).unwrap_or(i64::MAX);
                // Widened: a peer's reply can put the offset at i64::MIN, whose `abs`
                // overflows (found by the fuzzing adversary).
                i128::from(e.offset_ns).abs() - i128::from(err) > i128::from(threshold)
            })
            .map(|(e, _)| e.offset_ns)
            .collect();
        let majority = self.peers.len() / 2 + 1;
        let should = !self.peers.is_empty() && beyond.len() >= majority;
        if should && !self.fenced {
            beyond.sort_unstable();
            let median_offset_ms = beyond[beyond.len() / 2] / 1_000_000;
            self.fenced = true;
            crate::log::warning!(node = %self.id, peers_beyond = beyond.len(), median_offset_ms, "clock too far off: fencing this node");
            self.outbox.event(SkewEvent::Fenced { peers_beyond: beyond.len(), median_offset_ms });
        } else if !should && self.fenced {
            self.fenced = false;
            crate::log::info!(node = %self.id, "clock back within bounds: un-fencing");
            self.outbox.event(SkewEvent::Unfenced);
        }
    }
}

impl Protocol for SkewMonitor {
    type Message = SkewMsg;
    type Command = std::convert::Infallible;
    type Reply = crate::protocol::NoReply;
    type Event = SkewEvent;
    type Config = SkewConfig;
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let mut timers = Timers::new();
        timers.set((), init.now.mono);
        SkewMonitor {
            id: init.id,
            peers: init.peers().collect(),
            config: init.config,
            estimates: BTreeMap::new(),
            fenced: false,
            timers,
            outbox: Outbox::new(),
        }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: SkewMsg) {
        if !self.peers.contains(&from) {
            return;
        }
        match msg {
            SkewMsg::Probe { t1 } => {
                let t = now.wall.as_unix_nanos();
                self.outbox.send(from, SkewMsg::Reply { t1, t2: t, t3: t });
            }
            SkewMsg::Reply { t1, t2, t3 } => {
                let t4 = now.wall.as_unix_nanos();
                // A reply whose round trip runs backwards on our clock (a step in between)
                // measures nothing.
                if t4 < t1 {
                    return;
                }
                self.estimates.insert(from, (ntp(t1, t2, t3, t4), now.mono));
                self.evaluate(now.mono);
            }
        }
    }

    fn handle_command(&mut self, _now: Now, _req: crate::protocol::RequestId, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        if self.timers.pop_expired(now.mono).is_some() {
            let t1 = now.wall.as_unix_nanos();
            for &p in &self.peers {
                self.outbox.send(p, SkewMsg::Probe { t1 });
            }
            self.evaluate(now.mono);
            self.timers.set((), now.mono + self.config.interval);
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
    use crate::protocol::{Input, step};
    use crate::time::WallTime;

    #[test]
    fn a_reply_that_puts_the_offset_at_i64_min_is_measured_not_a_panic() {
        let members = vec![NodeId(1), NodeId(2), NodeId(3)];
        let now = Now::new(Instant::ZERO, WallTime::from_unix_nanos(1_800_000_000_000_000_000));
        let mut m = SkewMonitor::new(Init::fresh(NodeId(1), members, SkewConfig::default(), 1, now));
        for from in [NodeId(2), NodeId(3)] {
            let msg = SkewMsg::Reply { t1: 0, t2: i64::MIN, t3: i64::MIN };
            step(&mut m, now, Input::Message { from, msg }, |_| {});
        }
        assert_eq!(m.offset_to(NodeId(2)).map(|e| e.offset_ns), Some(i64::MIN));
        assert!(m.is_fenced(), "a majority of peers says this clock is absurdly off");
    }
}
