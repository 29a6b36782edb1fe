//! The `lww` scenarios: a replicated register whose writers read before they write, under
//! clock skew and jumps, with three ways to order writes (DDIA figure 8-3).
//!
//! Each node is a replica and a client: every few hundred milliseconds it reads its local
//! replica and writes a new value derived from what it read (so the new write is causally
//! after the writes it read), applies it, and sends it to the other replicas. A replica that
//! keeps one write and throws another away says so; the checker flags the case where the
//! discarded write is causally *later* than the one kept: a silently lost update.

use super::{Outcome, RunSpec, Scenario};
use palisade_core::clock::{Hlc, HlcTimestamp, MvRegister, VersionVector};
use palisade_core::protocol::{Init, Outbox, OutputFor, Protocol};
use palisade_core::{Instant, NodeId, Now, Rng, Violation};
use palisade_sim::{Fault, Latency, LinkConfig, Network, SimConfig, Simulation, World};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How writes are ordered.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ordering {
    /// Last write wins by wall-clock timestamp (node id breaks ties).
    WallClock,
    /// Last write wins by hybrid logical clock.
    Hlc,
    /// Version vectors: concurrent writes are kept as siblings.
    VersionVectors,
}

/// A write's identity: who wrote it, and its sequence number there.
pub type WriteId = (NodeId, u64);

/// How a write is stamped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stamp {
    /// A wall-clock reading (ns) and the writer.
    Wall(i64, NodeId),
    /// An HLC timestamp and the writer.
    Hlc(HlcTimestamp, NodeId),
    /// A version vector.
    Vv(VersionVector),
}

/// A replicated write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// Its identity.
    pub id: WriteId,
    /// Its stamp.
    pub stamp: Stamp,
}

/// What replicas report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RegisterEvent {
    /// This node wrote `id` after reading `read`.
    Wrote {
        /// The new write.
        id: WriteId,
        /// The writes it read (its causal predecessors).
        read: Vec<WriteId>,
    },
    /// This replica kept `kept` and discarded `dropped`.
    Discarded {
        /// What it kept.
        kept: Vec<WriteId>,
        /// What it threw away.
        dropped: WriteId,
    },
    /// A remote HLC timestamp too far ahead was refused.
    Refused {
        /// The write refused.
        dropped: WriteId,
    },
}

/// Configuration.
#[derive(Clone, Debug)]
pub struct RegisterConfig {
    /// How writes are ordered.
    pub ordering: Ordering,
    /// Mean time between a node's writes.
    pub write_every: Duration,
    /// HLC maximum offset.
    pub max_offset: Duration,
    /// Writes per node; then it only replicates, so replicas can converge.
    pub max_writes: u64,
    /// Anti-entropy: every replica re-sends what it holds this often, so writes lost to
    /// the network or to a crashed replica still reach everyone.
    pub sync_every: Duration,
}

/// What a replica persists before it acts on a write: its HLC's high-water mark (so a
/// restarted replica never stamps below what it issued or saw), its write sequence (so write
/// ids stay unique), and the values it holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RegisterDurable {
    /// The HLC's last timestamp.
    pub hlc: HlcTimestamp,
    /// The last write sequence number used.
    pub seq: u64,
    /// The LWW winner.
    pub current: Option<Write>,
    /// The version-vector siblings.
    pub mv: Option<MvRegister<WriteId>>,
}

/// The lww scenarios' system model: partially synchronous, replicas that crash and recover
/// with what they persisted, any network misbehaviour (anti-entropy re-sends), clocks that
/// drift by up to 200 ppm and are stepped by up to 2 s at a time, but a correct clock stays
/// within 900 ms of true time, so two correct clocks are within the HLC's 2 s maximum offset
/// (with margin for drift between steps).
pub const MODEL: palisade_core::SystemModel = palisade_core::SystemModel {
    timing: palisade_core::model::Timing::PartiallySynchronous,
    nodes: palisade_core::model::NodeFaults::CrashRecovery,
    clocks: palisade_core::model::ClockModel {
        max_drift_ppm: 200,
        max_wall_step: Some(Duration::from_secs(2)),
        max_offset: Some(Duration::from_millis(900)),
    },
    network: palisade_core::model::NetworkModel::UNRELIABLE,
    max_down: None,
};

/// One replica-and-client.
pub struct Register {
    id: NodeId,
    peers: Vec<NodeId>,
    config: RegisterConfig,
    rng: Rng,
    hlc: Hlc,
    seq: u64,
    /// LWW state: the winning write.
    current: Option<Write>,
    /// Version-vector state.
    mv: MvRegister<WriteId>,
    next: Instant,
    next_sync: Instant,
    outbox: Outbox<Write, RegisterEvent, RegisterDurable>,
}

fn lww_key(s: &Stamp) -> (i128, u32, NodeId) {
    match *s {
        Stamp::Wall(t, n) => (i128::from(t), 0, n),
        Stamp::Hlc(h, n) => (i128::from(h.l), h.c, n),
        Stamp::Vv(_) => (0, 0, NodeId(0)),
    }
}

impl Register {
    /// The values this replica holds now.
    pub fn values(&self) -> Vec<WriteId> {
        match self.config.ordering {
            Ordering::VersionVectors => {
                let mut v = self.mv.read().0;
                v.sort();
                v
            }
            _ => self.current.iter().map(|w| w.id).collect(),
        }
    }

    fn durable(&self) -> RegisterDurable {
        RegisterDurable {
            hlc: self.hlc.last(),
            seq: self.seq,
            current: self.current.clone(),
            mv: (self.config.ordering == Ordering::VersionVectors).then(|| self.mv.clone()),
        }
    }

    /// Applies `w`; true when the replica's state changed (so it must persist).
    fn apply(&mut self, w: Write, now: Now) -> bool {
        match (&w.stamp, self.config.ordering) {
            (Stamp::Vv(v), Ordering::VersionVectors) => {
                let before = self.mv.clone();
                self.mv.merge_version(v.clone(), w.id);
                let held = self.mv.read().0;
                if !held.contains(&w.id) && !before.read().0.contains(&w.id) {
                    // Known already (a re-sent sibling this replica superseded) is not news.
                    let superseded = before.siblings().iter().any(|(bv, _)| bv.dominates(v));
                    if !superseded || held != before.read().0 {
                        self.outbox.event(RegisterEvent::Discarded { kept: before.read().0, dropped: w.id });
                    }
                }
                self.mv != before
            }
            (Stamp::Hlc(h, _), Ordering::Hlc) => {
                if self.current.as_ref().is_some_and(|c| c.id == w.id) {
                    return false; // a re-sent copy of what this replica holds
                }
                let before = self.hlc.last();
                if self.hlc.receive(*h, now.wall).is_err() {
                    self.outbox.event(RegisterEvent::Refused { dropped: w.id });
                    return false;
                }
                self.lww(w) || self.hlc.last() != before
            }
            _ => self.lww(w),
        }
    }

    fn lww(&mut self, w: Write) -> bool {
        match &self.current {
            Some(cur) if cur.id == w.id => false,
            Some(cur) if lww_key(&cur.stamp) >= lww_key(&w.stamp) => {
                self.outbox.event(RegisterEvent::Discarded { kept: vec![cur.id], dropped: w.id });
                false
            }
            _ => {
                self.current = Some(w);
                true
            }
        }
    }

    /// Anti-entropy: what this replica holds, to every peer.
    fn resend(&mut self) {
        let held: Vec<Write> = match self.config.ordering {
            Ordering::VersionVectors => self
                .mv
                .siblings()
                .iter()
                .map(|(v, id)| Write { id: *id, stamp: Stamp::Vv(v.clone()) })
                .collect(),
            _ => self.current.iter().cloned().collect(),
        };
        for w in held {
            for &p in &self.peers {
                self.outbox.send(p, w.clone());
            }
        }
    }

    fn write(&mut self, now: Now) {
        self.seq += 1;
        // The sequence number is durable before the write is visible, so a restart never
        // reuses a write id.
        self.outbox.persist(self.durable());
        let id = (self.id, self.seq);
        let (read, stamp) = match self.config.ordering {
            Ordering::WallClock => (self.values(), Stamp::Wall(now.wall.as_unix_nanos(), self.id)),
            Ordering::Hlc => (self.values(), Stamp::Hlc(self.hlc.now(now.wall), self.id)),
            Ordering::VersionVectors => {
                let (values, ctx) = self.mv.read();
                let mut next = self.mv.clone();
                let version = next.write(self.id, &ctx, id);
                (values, Stamp::Vv(version))
            }
        };
        self.outbox.event(RegisterEvent::Wrote { id, read });
        let w = Write { id, stamp };
        self.apply(w.clone(), now);
        // Durable before it leaves the node: a replica never forgets a write it replicated.
        self.outbox.persist(self.durable());
        for &p in &self.peers {
            self.outbox.send(p, w.clone());
        }
    }
}

impl Protocol for Register {
    type Message = Write;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = RegisterEvent;
    type Config = RegisterConfig;
    type Durable = RegisterDurable;

    fn new(init: Init<Self>) -> Self {
        let mut rng = Rng::from_seed(init.seed);
        let first = rng.duration_between(Duration::ZERO, init.config.write_every * 2);
        let d = init.restored.clone().unwrap_or_default();
        Register {
            id: init.id,
            peers: init.peers().collect(),
            hlc: Hlc::restore(init.config.max_offset, d.hlc),
            next_sync: init.now.mono + init.config.sync_every,
            config: init.config,
            rng,
            seq: d.seq,
            current: d.current,
            mv: d.mv.unwrap_or_default(),
            next: init.now.mono + first,
            outbox: Outbox::new(),
        }
    }

    fn handle_message(&mut self, now: Now, _from: NodeId, w: Write) {
        if self.apply(w, now) {
            self.outbox.persist(self.durable());
        }
    }

    fn handle_command(&mut self, _now: Now, _req: palisade_core::RequestId, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        if now.mono >= self.next && self.seq < self.config.max_writes {
            self.write(now);
            let gap = self.rng.duration_between(self.config.write_every / 2, self.config.write_every * 3 / 2);
            self.next = now.mono + gap;
        }
        if now.mono >= self.next_sync {
            self.resend();
            self.next_sync = now.mono + self.config.sync_every;
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let write = (self.seq < self.config.max_writes).then_some(self.next);
        Some(write.map_or(self.next_sync, |w| w.min(self.next_sync)))
    }
}

/// Replicas.
pub const NODES: u32 = 3;

/// The run: 3 replicas, 5-50 ms links (no loss: every write reaches every replica), clocks
/// offset by up to ±200 ms, drifting up to ±200 ppm, with one ±300 ms step per node; 150
/// writes per node every ~300 ms (about 45 s), then quiet. Checkers: no replica discards a write
/// causally later than one it keeps; at the end all replicas hold the same values.
/// Causally later writes silently discarded in `history`: (replica, kept, dropped).
pub fn lost_writes(
    history: &[palisade_core::Observation<RegisterEvent>],
) -> Vec<(NodeId, Vec<WriteId>, WriteId)> {
    let mut causality = Causality::default();
    history.iter().filter_map(|o| causality.observe(o)).collect()
}

/// Causal history of writes, built one event at a time (the checker runs after every
/// event, so it must not re-derive the history each time).
#[derive(Default)]
struct Causality {
    ancestors: BTreeMap<WriteId, BTreeSet<WriteId>>,
}

impl Causality {
    /// Records `o`; returns the lost write it reveals, if any.
    fn observe(
        &mut self,
        o: &palisade_core::Observation<RegisterEvent>,
    ) -> Option<(NodeId, Vec<WriteId>, WriteId)> {
        match &o.event {
            RegisterEvent::Wrote { id, read } => {
                let mut a = BTreeSet::new();
                for r in read {
                    a.insert(*r);
                    if let Some(more) = self.ancestors.get(r) {
                        a.extend(more.iter().copied());
                    }
                }
                self.ancestors.insert(*id, a);
                None
            }
            RegisterEvent::Discarded { kept, dropped } => self
                .ancestors
                .get(dropped)
                .is_some_and(|a| kept.iter().any(|k| a.contains(k)))
                .then(|| (o.node, kept.clone(), *dropped)),
            RegisterEvent::Refused { .. } => None,
        }
    }
}

/// The run without its checkers (to count every lost write, not just the first).
pub fn unchecked_simulation(seed: u64, ordering: Ordering) -> Simulation<Register> {
    build(seed, ordering)
}

/// How long after writes stop and GST the replicas must agree.
const CONVERGE_WITHIN: Duration = Duration::from_secs(5);

/// When the run went quiet: the last write or GST, whichever is later.
fn quiet_since(w: &World<Register>) -> Duration {
    let last_write = w
        .history()
        .iter()
        .rev()
        .find(|o| matches!(o.event, RegisterEvent::Wrote { .. }))
        .map_or(Duration::ZERO, |o| o.at);
    last_write.max(w.gst())
}

/// The run with its checkers: no causally later write lost; replicas converge.
pub fn simulation(seed: u64, ordering: Ordering) -> Simulation<Register> {
    let mut sim = build(seed, ordering);
    let mut seen = 0;
    let mut causality = Causality::default();
    sim.add_checker(move |w: &World<Register>| {
        for o in &w.history()[seen..] {
            if let Some((node, kept, dropped)) = causality.observe(o) {
                return Err(Violation::new(
                    "lww::no_causally_later_write_lost",
                    format!("{node} kept {kept:?} and silently discarded {dropped:?}, which was written after reading it"),
                ));
            }
        }
        seen = w.history().len();
        Ok(())
    });
    // Convergence is a liveness property: once writes stop and the faults are over, anti-
    // entropy (every second) brings every replica to the same values within a few rounds.
    let settle = CONVERGE_WITHIN;
    sim.add_checker(palisade_sim::AtEnd(move |w: &World<Register>| {
        let quiet = quiet_since(w);
        if w.now() < quiet + settle {
            return Ok(()); // too soon to judge
        }
        let states: BTreeSet<Vec<WriteId>> = w.running().map(|(_, r)| r.values()).collect();
        if states.len() > 1 {
            return Err(Violation::new(
                "lww::replicas_converge",
                format!("replicas disagree at the end, {settle:?} after writes stopped and GST ({quiet:?}): {states:?}"),
            ));
        }
        Ok(())
    }));
    sim
}

fn build(seed: u64, ordering: Ordering) -> Simulation<Register> {
    let mut sc = SimConfig::new(seed, NODES);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(5),
        Duration::from_millis(50),
    )));
    let mut rng = Rng::from_seed(seed ^ 0x6c77_7721);
    sc.drift_ppm = (0..NODES).map(|_| rng.range(0, 401) as i64 - 200).collect();
    // 150 writes at ~300 ms: about 45 s of writing, then quiet.
    let config = RegisterConfig {
        ordering,
        write_every: Duration::from_millis(300),
        max_offset: Duration::from_secs(2),
        max_writes: 150,
        sync_every: Duration::from_secs(1),
    };
    let mut sim = Simulation::new(sc, config);
    for n in 1..=NODES {
        let off = rng.range(0, 400_000_001) as i64 - 200_000_000;
        sim.schedule(Fault::wall_step(NodeId(n), Duration::ZERO, off));
        let at = rng.duration_between(Duration::from_secs(5), Duration::from_secs(50));
        let step = rng.range(0, 600_000_001) as i64 - 300_000_000;
        sim.schedule(Fault::wall_step(NodeId(n), at, step));
    }
    sim
}

fn run(ordering: Ordering, mut spec: RunSpec) -> Outcome {
    let mut sim = simulation(spec.seed, ordering);
    let schedule = spec.prepare(&mut sim, &(1..=NODES).map(NodeId).collect::<Vec<_>>());
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    // Count every lost write over the whole run. The checked run covers it unless a
    // violation stopped it early; only then run again without the checker.
    let full = report.violation.is_some().then(|| {
        let mut full = unchecked_simulation(spec.seed, ordering);
        full.run_for(spec.duration);
        full
    });
    let w = full.as_ref().unwrap_or(&sim).world();
    let writes = w.history().iter().filter(|o| matches!(o.event, RegisterEvent::Wrote { .. })).count();
    let discarded = w.history().iter().filter(|o| matches!(o.event, RegisterEvent::Discarded { .. })).count();
    let lost = lost_writes(w.history()).len();
    let siblings = w.running().map(|(_, r)| r.values().len()).max().unwrap_or(0);
    // Whether convergence was judged: only 5 s after writes stopped and GST (the run is
    // 90 s and the nemesis ends at 60 s, so a crashed replica's late writes still leave time).
    let judged = sim.world().now() >= quiet_since(sim.world()) + CONVERGE_WITHIN;
    let story = vec![format!(
        "ordering by {ordering:?}: {writes} writes, {discarded} discarded by some replica, {lost} of them causally \
         later than the write kept (silently lost); largest final sibling set {siblings}; convergence {}",
        if judged { "checked" } else { "not judged (writes or faults ended less than 5 s before the end)" }
    )];
    Outcome { report, story, schedule }
}

/// The `lww` scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "lww",
            about: "wall-clock last-write-wins under clock skew and jumps: replicas silently discard writes that \
                    were made after reading the write they keep (DDIA figure 8-3); the checker must find them",
            default_duration: Duration::from_secs(90),
            default_nemesis: None,
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: MODEL,
            run: |spec| run(Ordering::WallClock, spec),
        },
        Scenario {
            name: "lww-hlc",
            about: "the same with hybrid logical clocks: no causally later write is ever lost",
            default_duration: Duration::from_secs(90),
            default_nemesis: None,
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: MODEL,
            run: |spec| run(Ordering::Hlc, spec),
        },
        Scenario {
            name: "lww-vv",
            about: "the same with version vectors: no write is lost; concurrent writes are kept as siblings",
            default_duration: Duration::from_secs(90),
            default_nemesis: None,
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: MODEL,
            run: |spec| run(Ordering::VersionVectors, spec),
        },
    ]
}
