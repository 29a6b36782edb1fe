//! The `commit-wait` scenarios: transactions stamped by interval clocks (Spanner's
//! TrueTime), with and without commit wait, checked for external consistency.

use super::{Outcome, RunSpec, Scenario};
use palisade_core::clock::{IntervalClock, IntervalConfig};
use palisade_core::protocol::{Init, Outbox, OutputFor, Protocol};
use palisade_core::{Instant, NodeId, Now, Rng, Violation, WallTime};
use palisade_sim::{Fault, SimConfig, Simulation, World};
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

/// Configuration.
#[derive(Clone, Debug)]
pub struct TxnConfig {
    /// Wait out the uncertainty before acknowledging.
    pub commit_wait: bool,
    /// The interval clock's parameters.
    pub clock: IntervalConfig,
    /// Mean time between a node's transactions.
    pub every: Duration,
}

/// A node that runs one transaction at a time.
pub struct Txns {
    config: TxnConfig,
    clock: IntervalClock,
    rng: Rng,
    seq: u64,
    /// The transaction waiting out its commit: id, timestamp, when to look again.
    waiting: Option<(u64, WallTime, Instant)>,
    next: Instant,
    outbox: Outbox<(), TxnEvent, ()>,
}

impl Protocol for Txns {
    type Message = ();
    type Command = std::convert::Infallible;
    type Event = TxnEvent;
    type Config = TxnConfig;
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let mut clock = IntervalClock::new(init.config.clock.clone());
        // Synchronised at start: the scenario keeps initial offsets within the sync error.
        clock.sync(init.now, init.now.wall, init.config.clock.sync_error);
        let mut rng = Rng::from_seed(init.seed);
        let next = init.now.mono + rng.duration_between(Duration::ZERO, init.config.every);
        Txns { config: init.config, clock, rng, seq: 0, waiting: None, next, outbox: Outbox::new() }
    }

    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}

    fn handle_command(&mut self, _now: Now, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
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
            self.seq += 1;
            let id = self.seq;
            self.outbox.event(TxnEvent::Started { id });
            let wait = self.clock.commit_wait(now);
            if self.config.commit_wait {
                self.waiting = Some((id, wait.timestamp, wait.until));
            } else {
                self.outbox.event(TxnEvent::Committed { id, ts: wait.timestamp });
            }
            let gap = self.rng.duration_between(self.config.every / 2, self.config.every * 3 / 2);
            self.next = now.mono + gap;
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.waiting.map_or(self.next, |(_, _, until)| until))
    }
}

/// Nodes.
pub const NODES: u32 = 3;

/// Three nodes whose clocks start within ±4 ms of true time and drift within ±200 ppm; the
/// interval clock assumes 5 ms at sync and 200 ppm, so its intervals always contain true
/// time. Checker (external consistency): if T1 committed before T2 started in true time,
/// T1's timestamp is smaller.
pub fn simulation(seed: u64, commit_wait: bool) -> Simulation<Txns> {
    let mut sc = SimConfig::new(seed, NODES);
    let mut rng = Rng::from_seed(seed ^ 0x7477_6169);
    sc.drift_ppm = (0..NODES).map(|_| rng.range(0, 401) as i64 - 200).collect();
    let clock = IntervalConfig {
        sync_error: Duration::from_millis(5),
        max_drift_ppm: 200,
        ..IntervalConfig::default()
    };
    let config = TxnConfig { commit_wait, clock, every: Duration::from_millis(50) };
    let mut sim = Simulation::new(sc, config);
    for n in 1..=NODES {
        let off = rng.range(0, 8_000_001) as i64 - 4_000_000;
        sim.schedule(Fault::wall_step(NodeId(n), Duration::ZERO, off));
    }
    // Highest timestamp committed so far (in true time order), and per running transaction
    // the bound it must beat: the highest committed before it started.
    let mut highest: Option<(WallTime, NodeId, u64)> = None;
    let mut must_beat: BTreeMap<(NodeId, u64), (WallTime, NodeId, u64)> = BTreeMap::new();
    let mut seen = 0;
    sim.add_checker(move |w: &World<Txns>| {
        for o in &w.history()[seen..] {
            match o.event {
                TxnEvent::Started { id } => {
                    if let Some(h) = highest {
                        must_beat.insert((o.node, id), h);
                    }
                }
                TxnEvent::Committed { id, ts } => {
                    if let Some((bound, by, their)) = must_beat.remove(&(o.node, id)) {
                        if ts <= bound {
                            return Err(Violation::new(
                                "txn::external_consistency",
                                format!(
                                    "{}'s txn {id} got {ts:?}, not after {by}'s txn {their} at {bound:?}, which committed before it started",
                                    o.node
                                ),
                            ));
                        }
                    }
                    if highest.is_none_or(|(h, _, _)| ts > h) {
                        highest = Some((ts, o.node, id));
                    }
                }
            }
        }
        seen = w.history().len();
        Ok(())
    });
    sim
}

fn run(commit_wait: bool, mut spec: RunSpec) -> Outcome {
    let mut sim = simulation(spec.seed, commit_wait);
    let schedule = spec.prepare(&mut sim, &(1..=NODES).map(NodeId).collect::<Vec<_>>());
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
            hazard: false,
            run: |spec| run(true, spec),
        },
        Scenario {
            name: "commit-wait-off",
            about: "the same without commit wait: a transaction that starts after another committed can get a \
                    smaller timestamp; the checker must find it",
            default_duration: Duration::from_secs(60),
            default_nemesis: None,
            hazard: true,
            run: |spec| run(false, spec),
        },
    ]
}
