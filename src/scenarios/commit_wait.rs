//! The `commit-wait` scenarios: transactions stamped by interval clocks (Spanner's
//! TrueTime), with and without commit wait, checked for external consistency.

use super::{Outcome, RunSpec, Scenario};
use palisade_core::clock::{IntervalClock, IntervalConfig};
use palisade_core::protocol::{Init, Outbox, OutputFor, Protocol};
use palisade_core::{Instant, NodeId, Now, Rng, Violation, WallTime};
use palisade_sim::{EachEvent, Fault, FaultKind, Latency, LinkConfig, Network, SimConfig, Simulation};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a node reports about its transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TxnEvent {
    /// Transaction `id` started.
    Started {
        /// Its sequence number on this node.
        id: u64,
    },
    /// Transaction `id` committed (was acknowledged) with timestamp `ts`.
    Committed {
        /// Its sequence number.
        id: u64,
        /// Its commit timestamp.
        ts: WallTime,
    },
}

/// Time synchronisation messages: a transaction node asks the time master, which answers
/// with its wall clock (Cristian's method).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum TimeMsg {
    /// "What time is it?", numbered so a late answer to an old question is recognised.
    Request {
        /// The request number.
        id: u64,
    },
    /// The master's wall clock when it answered request `id`, ns since the Unix epoch.
    Reply {
        /// The request answered.
        id: u64,
        /// The master's reading.
        master_ns: i64,
    },
}

/// Configuration.
#[derive(Clone, Debug)]
pub struct TxnConfig {
    /// Wait out the uncertainty before acknowledging.
    pub commit_wait: bool,
    /// The interval clock's parameters.
    pub clock: IntervalConfig,
    /// Mean time between a node's transactions.
    pub every: Duration,
    /// The time master (a GPS or atomic reference): it only answers time requests.
    pub master: NodeId,
    /// How often a transaction node synchronises with the master.
    pub sync_every: Duration,
}

/// A transaction node that runs one transaction at a time, or the time master.
pub struct Txns {
    id: NodeId,
    config: TxnConfig,
    clock: IntervalClock,
    rng: Rng,
    seq: u64,
    /// The transaction waiting out its commit: id, timestamp, when to look again.
    waiting: Option<(u64, WallTime, Instant)>,
    next: Instant,
    /// The outstanding time request: its number and when it was sent.
    asked: Option<(u64, Instant)>,
    requests: u64,
    next_sync: Instant,
    outbox: Outbox<TimeMsg, TxnEvent, ()>,
}

impl Txns {
    fn is_master(&self) -> bool {
        self.id == self.config.master
    }
}

impl Protocol for Txns {
    type Message = TimeMsg;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = TxnEvent;
    type Config = TxnConfig;
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        // A (re)started node knows nothing about true time until the master answers: its
        // own wall clock may have been stepped anywhere.
        let clock = IntervalClock::new(init.config.clock.clone());
        let mut rng = Rng::from_seed(init.seed);
        let next = init.now.mono + rng.duration_between(Duration::ZERO, init.config.every);
        Txns {
            id: init.id,
            clock,
            rng,
            seq: 0,
            waiting: None,
            next,
            asked: None,
            requests: 0,
            next_sync: init.now.mono,
            config: init.config,
            outbox: Outbox::new(),
        }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: TimeMsg) {
        match msg {
            TimeMsg::Request { id } if self.is_master() => {
                self.outbox.send(from, TimeMsg::Reply { id, master_ns: now.wall.as_unix_nanos() });
            }
            TimeMsg::Reply { id, master_ns } if from == self.config.master => {
                let Some((asked, sent)) = self.asked else { return };
                if asked != id {
                    return; // an answer to an older question: its round trip is unknown
                }
                self.asked = None;
                // The master read its clock somewhere in the round trip: true time now is
                // in [master, master + rtt], with rtt measured by a clock that may run slow
                // by ρ. Centre and half-width:
                let rho = f64::from(self.config.clock.max_drift_ppm) / 1e6;
                let rtt = (now.mono - sent).mul_f64(1.0 / (1.0 - rho));
                let half = rtt / 2;
                let estimate = WallTime::from_unix_nanos(master_ns)
                    .offset_by_nanos(i64::try_from(half.as_nanos()).unwrap_or(i64::MAX));
                self.clock.sync(now, estimate, half + self.config.clock.sync_error);
            }
            _ => {} // a request to a non-master, or a reply from someone else: ignore
        }
    }

    fn handle_command(&mut self, _now: Now, _req: palisade_core::RequestId, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        if self.is_master() {
            return;
        }
        if now.mono >= self.next_sync {
            self.requests += 1;
            self.asked = Some((self.requests, now.mono));
            self.outbox.send(self.config.master, TimeMsg::Request { id: self.requests });
            self.next_sync = now.mono + self.config.sync_every;
        }
        if let Some((id, ts, until)) = self.waiting {
            if now.mono >= until && self.clock.commit_done(now, ts) {
                self.waiting = None;
                self.outbox.event(TxnEvent::Committed { id, ts });
            } else if now.mono >= until {
                // Not yet: look again shortly (the wait estimate was a little short).
                self.waiting = Some((id, ts, now.mono + Duration::from_micros(100)));
            }
            return;
        }
        if now.mono >= self.next {
            let gap = self.rng.duration_between(self.config.every / 2, self.config.every * 3 / 2);
            self.next = now.mono + gap;
            if !self.clock.is_synced() {
                return; // no timestamps before the first synchronisation
            }
            self.seq += 1;
            let id = self.seq;
            self.outbox.event(TxnEvent::Started { id });
            let wait = self.clock.commit_wait(now);
            if self.config.commit_wait {
                self.waiting = Some((id, wait.timestamp, wait.until));
            } else {
                self.outbox.event(TxnEvent::Committed { id, ts: wait.timestamp });
            }
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.is_master() {
            return None;
        }
        Some(self.waiting.map_or(self.next, |(_, _, until)| until).min(self.next_sync))
    }
}

/// Transaction nodes.
pub const NODES: u32 = 3;
/// The time master: node 4.
pub const MASTER: NodeId = NodeId(NODES + 1);

/// The commit-wait system model: partially synchronous, crash-recovery (a restarted node
/// synchronises again before stamping anything), any network misbehaviour, monotonic clocks
/// within 200 ppm, and wall clocks that may be stepped by any amount: nothing reads them but
/// the time master, whose clock is the reference (the nemesis never steps it).
pub const MODEL: palisade_core::SystemModel = palisade_core::SystemModel {
    timing: palisade_core::model::Timing::PartiallySynchronous,
    nodes: palisade_core::model::NodeFaults::CrashRecovery,
    clocks: palisade_core::model::ClockModel::monotonic(200),
    network: palisade_core::model::NetworkModel::UNRELIABLE,
    max_down: None,
};

/// Three transaction nodes and a time master on a 1-10 ms network. Transaction nodes'
/// wall clocks start up to ±2 s off and their monotonic clocks drift within ±200 ppm; they
/// synchronise with the master every 5 s, and their interval clocks assume 200 ppm.
/// Checker (external consistency): if T1 committed before T2 started in true time, T1's
/// timestamp is smaller.
pub fn simulation(seed: u64, commit_wait: bool) -> Simulation<Txns> {
    let mut sc = SimConfig::new(seed, NODES + 1);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(10),
    )));
    let mut rng = Rng::from_seed(seed ^ 0x7477_6169);
    sc.drift_ppm = (0..NODES).map(|_| rng.range(0, 401) as i64 - 200).chain([0]).collect();
    let clock = IntervalConfig::default().sync_error(Duration::from_micros(100)).max_drift_ppm(200);
    let config = TxnConfig {
        commit_wait,
        clock,
        every: Duration::from_millis(50),
        master: MASTER,
        sync_every: Duration::from_secs(5),
    };
    let mut sim = Simulation::new(sc, config);
    for n in 1..=NODES {
        let off = rng.range(0, 4_000_000_001) as i64 - 2_000_000_000;
        sim.schedule(Fault::wall_step(NodeId(n), Duration::ZERO, off));
    }
    // Highest timestamp committed so far (in true time order), and per running transaction
    // the bound it must beat: the highest committed before it started.
    let mut highest: Option<(WallTime, NodeId, u64)> = None;
    let mut must_beat: BTreeMap<(NodeId, u64), (WallTime, NodeId, u64)> = BTreeMap::new();
    sim.add_checker(EachEvent::new(move |o: &palisade_core::Observation<TxnEvent>, _: &_| {
        match o.event {
            TxnEvent::Started { id } => {
                // A restarted node numbers its transactions from 1 again: a new start
                // replaces the old bound.
                match highest {
                    Some(h) => must_beat.insert((o.node, id), h),
                    None => must_beat.remove(&(o.node, id)),
                };
            }
            TxnEvent::Committed { id, ts } => {
                if let Some((bound, by, their)) = must_beat.remove(&(o.node, id))
                    && ts <= bound
                {
                    return Err(Violation::new(
                        "txn::external_consistency",
                        format!(
                            "{}'s txn {id} got {ts:?}, not after {by}'s txn {their} at {bound:?}, which committed before it started",
                            o.node
                        ),
                    ));
                }
                if highest.is_none_or(|(h, _, _)| ts > h) {
                    highest = Some((ts, o.node, id));
                }
            }
        }
        Ok(())
    }));
    sim
}

fn run(commit_wait: bool, mut spec: RunSpec) -> Outcome {
    let mut sim = simulation(spec.seed, commit_wait);
    // The nemesis may crash, pause and cut off any node, master included, but steps only
    // the transaction nodes' wall clocks: the master's is the reference.
    // `--outside-model clock` is exactly a step of the reference clock: then keep them.
    let all: Vec<NodeId> = (1..=NODES + 1).map(NodeId).collect();
    let forced = spec.nemesis.as_ref().is_some_and(|n| n.outside.contains(&palisade_sim::NemesisKind::Clock));
    let mut schedule = spec.schedule_for(&all);
    schedule.retain(|e| {
        forced ||
        !e.faults.iter().any(|f| {
            matches!(f.kind, FaultKind::WallStep { node, .. } | FaultKind::WallStepWithin { node, .. } if node == MASTER)
        })
    });
    spec.schedule = Some(schedule);
    let schedule = spec.prepare(&mut sim, &all);
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let committed =
        sim.world().history().iter().filter(|o| matches!(o.event, TxnEvent::Committed { .. })).count();
    let story = vec![format!(
        "commit wait {}: {committed} transactions committed",
        if commit_wait { "on" } else { "off" }
    )];
    Outcome { report, story, schedule }
}

/// The commit-wait scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "commit-wait",
            about: "transactions stamped with interval-clock timestamps and commit wait, clocks drifting within \
                    the bound: externally consistent",
            default_duration: Duration::from_secs(60),
            default_nemesis: Some("pause=6"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: MODEL,
            run: |spec| run(true, spec),
        },
        Scenario {
            name: "commit-wait-off",
            about: "the same without commit wait: a transaction that starts after another committed can get a \
                    smaller timestamp; the checker must find it",
            default_duration: Duration::from_secs(60),
            default_nemesis: None,
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: MODEL,
            run: |spec| run(false, spec),
        },
    ]
}
