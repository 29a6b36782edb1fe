//! The `bft-register` scenarios: Byzantine quorum registers, within and beyond the bound.

use super::{Outcome, RunSpec, Scenario};
use palisade_core::quorum::register::{
    Register, RegisterCommand, RegisterConfig, RegisterEvent, RegisterMsg, Stored, Ts,
};
use palisade_core::quorum::{QuorumKind, QuorumSystem, VoteKeys};
use palisade_core::{NodeId, Rng, Violation};
use palisade_sim::byzantine::{Action, Adversary, AdversaryCtx};
use palisade_sim::{EveryOperationWithin, Latency, LinkConfig, Network, SimConfig, Simulation, World};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The value lying servers report.
pub const FORGED: &[u8] = b"forged by a Byzantine server";

/// A lying server: acknowledges stores it drops, and answers reads with a fabricated value
/// at a huge timestamp (signed with garbage, which a dissemination reader rejects).
pub struct Liar;

impl Adversary<Register> for Liar {
    fn name(&self) -> &'static str {
        "liar"
    }
    fn on_send(
        &mut self,
        _: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: RegisterMsg,
        out: &mut Vec<Action<RegisterMsg>>,
    ) {
        let msg = match msg {
            RegisterMsg::ReadReply { op, .. } => RegisterMsg::ReadReply {
                op,
                stored: Some(Stored {
                    value: FORGED.to_vec(),
                    ts: Ts { counter: 1_000_000, writer: NodeId(6) },
                    signature: vec![7; 64],
                }),
            },
            other => other,
        };
        out.push(Action::Send { to, msg, delay: Duration::ZERO });
    }
}

/// Servers 1..=n (the first `byzantine` lie), then three clients (even ids write, odd read)
/// running the [`workload`] for `duration`.
pub fn simulation(
    seed: u64,
    system: QuorumSystem,
    byzantine: u32,
    duration: Duration,
) -> Simulation<Register> {
    simulation_with_coverage(seed, system, byzantine, false, duration).0
}

/// [`simulation`] with the lying servers replaced by [`palisade_sim::fuzz::Fuzz`]
/// adversaries, which speak the protocol with generated messages.
pub fn fuzz_simulation(
    seed: u64,
    system: QuorumSystem,
    byzantine: u32,
    duration: Duration,
) -> Simulation<Register> {
    simulation_with_coverage(seed, system, byzantine, true, duration).0
}

/// Clients after the `servers`.
pub const CLIENTS: u32 = 3;

/// The clients' operations, as their application would ask: each client asks about every
/// 200 ms (100-300 ms apart, so clients drift apart instead of starting together), until
/// `duration`. Even ids write `"n6 #1"`, `"n6 #2"`, ..., odd ids read. A request made
/// while the client's last operation is still in progress is refused (`Busy`).
pub fn workload(seed: u64, servers: u32, duration: Duration) -> Vec<(NodeId, Duration, RegisterCommand)> {
    let mut rng = Rng::from_seed(seed ^ 0x7265_6769_7374);
    let ms = Duration::from_millis;
    let mut out = Vec::new();
    for client in (servers + 1..=servers + CLIENTS).map(NodeId) {
        let mut at = rng.duration_between(ms(100), ms(300));
        let mut writes = 0;
        while at < duration {
            let cmd = if client.0 % 2 == 0 {
                writes += 1;
                RegisterCommand::Write { value: format!("{client} #{writes}").into_bytes() }
            } else {
                RegisterCommand::Read
            };
            out.push((client, at, cmd));
            at += rng.duration_between(ms(100), ms(300));
        }
    }
    out
}

/// How many completed reads the stale-read check judged, and how many there were: a
/// masking register's reads that a write overlaps are exempt, and a run where most are
/// exempt checks little.
#[derive(Clone, Debug, Default)]
pub struct ReadCoverage {
    /// Reads that completed.
    pub reads: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Of those, reads held to the last completed write.
    pub checked: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ReadCoverage {
    /// (checked, reads) so far.
    pub fn get(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.checked.load(Relaxed), self.reads.load(Relaxed))
    }
}

/// [`simulation`] (or with `fuzz`, [`fuzz_simulation`]) and a handle on its read coverage.
pub fn simulation_with_coverage(
    seed: u64,
    system: QuorumSystem,
    byzantine: u32,
    fuzz: bool,
    duration: Duration,
) -> (Simulation<Register>, ReadCoverage) {
    simulation_with_keys(seed, system, byzantine, fuzz, duration, super::vote_keys(seed, KEYS))
}

/// [`simulation_with_coverage`] signing with `keys` instead of the seed's choice
/// ([`super::vote_keys`]).
pub fn simulation_with_keys(
    seed: u64,
    system: QuorumSystem,
    byzantine: u32,
    fuzz: bool,
    duration: Duration,
    keys: VoteKeys,
) -> (Simulation<Register>, ReadCoverage) {
    let coverage = ReadCoverage::default();
    let sim = simulation_with(seed, system, byzantine, duration, coverage.clone(), keys, |sim, b| {
        if fuzz {
            sim.make_byzantine(b, palisade_sim::fuzz::Fuzz::new());
        } else {
            sim.make_byzantine(b, Liar);
        }
    });
    (sim, coverage)
}

/// Servers 1..=n and three clients running the [`workload`] for `duration`, no checkers
/// and no adversaries.
pub fn bare_simulation(seed: u64, system: QuorumSystem, duration: Duration) -> Simulation<Register> {
    bare_simulation_with_keys(seed, system, duration, super::vote_keys(seed, KEYS))
}

fn bare_simulation_with_keys(
    seed: u64,
    system: QuorumSystem,
    duration: Duration,
    keys: VoteKeys,
) -> Simulation<Register> {
    let n = system.n() as u32;
    let mut sc = SimConfig::new(seed, n + CLIENTS);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(30),
    )));
    let mut sim = Simulation::new(sc, RegisterConfig::new(system, keys));
    for (node, at, cmd) in workload(seed, n, duration) {
        sim.command_at(node, at, cmd);
    }
    sim
}

/// The cluster seed of the scenarios' keys.
const KEYS: u64 = 0x7265_6769;

fn simulation_with(
    seed: u64,
    system: QuorumSystem,
    byzantine: u32,
    duration: Duration,
    coverage: ReadCoverage,
    keys: VoteKeys,
    mut adversary: impl FnMut(&mut Simulation<Register>, NodeId),
) -> Simulation<Register> {
    let (kind, f) = (system.kind(), system.f());
    let mut sim = bare_simulation_with_keys(seed, system, duration, keys);
    for b in 1..=byzantine {
        adversary(&mut sim, NodeId(b));
    }
    // Safety: a read never returns a value nobody wrote, and returns the last write completed
    // before it began or a newer one (⊥ only if there was none). With a masking system the
    // second half is promised only for reads no write overlaps: under concurrency the
    // correct servers in a read quorum may split between timestamps so that no pair has
    // f + 1 vouchers (Malkhi and Reiter's safe semantics). Signed (dissemination) reads are
    // held to it always.
    let masking = kind == QuorumKind::Masking;
    let mut seen = 0;
    // Every value a client began to write (from its `WriteStarted` event), and the
    // timestamp each completed write got: reads are checked against these, never against
    // what a value looks like.
    let mut started: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut written: BTreeMap<Vec<u8>, Ts> = BTreeMap::new();
    // Completed writes as (began, ended), and when each value's write began and ended.
    let mut completed: Vec<(std::time::Duration, std::time::Duration, Ts)> = Vec::new();
    let mut span_of: BTreeMap<Vec<u8>, (std::time::Duration, Option<std::time::Duration>)> = BTreeMap::new();
    let mut read_started: BTreeMap<NodeId, std::time::Duration> = BTreeMap::new();
    // Per writer: when its current write began, and when its writes began and ended.
    let mut writing: BTreeMap<NodeId, std::time::Duration> = BTreeMap::new();
    let mut spans: Vec<(std::time::Duration, std::time::Duration)> = Vec::new();
    sim.add_checker(move |w: &World<Register>| {
        for o in &w.history()[seen..] {
            match &o.event {
                RegisterEvent::WriteStarted { value } => {
                    writing.insert(o.node, o.at);
                    started.insert(value.clone());
                    span_of.insert(value.clone(), (o.at, None));
                }
                RegisterEvent::WriteDone { value, ts } => {
                    written.insert(value.clone(), *ts);
                    if let Some(start) = writing.remove(&o.node) {
                        spans.push((start, o.at));
                        completed.push((start, o.at, *ts));
                    }
                    if let Some(span) = span_of.get_mut(value) {
                        span.1 = Some(o.at);
                    }
                }
                RegisterEvent::ReadStarted => {
                    read_started.insert(o.node, o.at);
                }
                RegisterEvent::ReadDone { value, ts } => {
                    let start = read_started.get(&o.node).copied().unwrap_or_default();
                    let overlapped = masking
                        && (writing.values().any(|&ws| ws < o.at)
                            || spans.iter().any(|&(ws, we)| ws < o.at && we > start));
                    // The latest start of a write that completed before this read began:
                    // a value whose write ended before that is stale, whatever timestamps
                    // the writes got (real-time order, so a write that lost its timestamp
                    // to an overflow is still caught).
                    // Also the highest timestamp such a write got: the write order the
                    // register promises (multi-writer regular semantics).
                    let (mut last, mut last_ts) = (None, None);
                    if !overlapped {
                        for &(began, _, ts) in completed.iter().filter(|(_, end, _)| *end < start) {
                            last = last.max(Some(began));
                            last_ts = last_ts.max(Some(ts));
                        }
                    }
                    coverage.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if !overlapped {
                        coverage.checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    match (value, ts) {
                        (Some(v), Some(t)) => {
                            // A value some client began to write, with the timestamp its
                            // writer gave it (if that write has completed; one in progress
                            // is concurrent with the read and may be returned).
                            let genuine = started.contains(v) && written.get(v).is_none_or(|wt| wt == t);
                            if !genuine {
                                return Err(Violation::new(
                                    "register::never_a_value_nobody_wrote",
                                    format!(
                                        "{} read {:?} at {t:?}, which no client wrote with that timestamp",
                                        o.node,
                                        String::from_utf8_lossy(v)
                                    ),
                                ));
                            }
                            // Judge staleness by when the value's own write ended, not by
                            // the timestamp the read reported.
                            let ended = span_of.get(v).and_then(|&(_, end)| end);
                            let own = written.get(v).copied().unwrap_or(*t);
                            if last_ts.is_some_and(|l| own < l) {
                                return Err(Violation::new(
                                    "register::no_stale_read",
                                    format!(
                                        "{} read {:?} (written at {own:?}), older than {last_ts:?} completed before the \
                                         read began",
                                        o.node,
                                        String::from_utf8_lossy(v)
                                    ),
                                ));
                            }
                            if let (Some(ended), Some(l)) = (ended, last)
                                && ended < l
                            {
                                return Err(Violation::new(
                                    "register::no_stale_read",
                                    format!(
                                        "{} read {:?}, whose write ended at {ended:?}, although a write that began \
                                         later, at {l:?}, completed before the read began",
                                        o.node,
                                        String::from_utf8_lossy(v)
                                    ),
                                ));
                            }
                        }
                        (Some(_), None) | (None, Some(_)) => {
                            return Err(Violation::new(
                                "register::never_a_value_nobody_wrote",
                                format!("{} read a value without a timestamp, or a timestamp without a value", o.node),
                            ));
                        }
                        _ if last.is_some() => {
                            return Err(Violation::new(
                                "register::no_stale_read",
                                format!("{} read nothing although {last:?} had completed", o.node),
                            ));
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        seen = w.history().len();
        Ok(())
    });
    if byzantine as usize <= f {
        // Re-armed per operation: every read and write in progress at GST or started after
        // it completes within the bound (a crashed client's operation is abandoned).
        sim.add_checker(EveryOperationWithin::new(
            "register::progress_after_gst",
            Duration::from_secs(10),
            |e: &RegisterEvent| matches!(e, RegisterEvent::ReadStarted | RegisterEvent::WriteStarted { .. }),
            |e: &RegisterEvent| matches!(e, RegisterEvent::ReadDone { .. } | RegisterEvent::WriteDone { .. }),
        ));
    }
    sim
}

fn system(kind: QuorumKind, n: usize, f: usize) -> QuorumSystem {
    QuorumSystem::new(kind, n, f).expect("valid configuration")
}

fn run(system: QuorumSystem, byzantine: u32, mut spec: RunSpec) -> Outcome {
    let (kind, n, f, q) = (system.kind(), system.n() as u32, system.f(), system.quorum());
    let (mut sim, coverage) = simulation_with_coverage(spec.seed, system, byzantine, false, spec.duration);
    let targets: Vec<NodeId> = (byzantine + 1..=n + CLIENTS).map(NodeId).collect();
    let schedule = spec.prepare(&mut sim, &targets);
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let h = sim.world().history();
    let writes = h.iter().filter(|o| matches!(o.event, RegisterEvent::WriteDone { .. })).count();
    let reads = h.iter().filter(|o| matches!(o.event, RegisterEvent::ReadDone { .. })).count();
    let (checked, _) = coverage.get();
    let story = vec![format!(
        "{kind:?} n = {n}, f = {f}, quorum {q}, lying servers {byzantine}: {writes} writes and {reads} reads completed, \
         {checked} reads held to the last completed write (the others overlapped a write)"
    )];
    Outcome { report, story, schedule }
}

/// The register scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let nemesis = Some("pause=6,partition=4,loss=4");
    vec![
        Scenario {
            name: "register",
            about: "crash-fault quorum register (ABD), 5 servers, majority quorums of 3, under pauses, \
                    partitions and loss: every read sees the last completed write or a newer one",
            default_duration: Duration::from_secs(60),
            default_nemesis: nemesis,
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::quorum::register::model(0),
            run: |spec| run(system(QuorumKind::Majority, 5, 2), 0, spec),
        },
        Scenario {
            name: "register-small-quorums",
            about: "the same with quorums of 2 of 5, which need not intersect: a read can miss a completed \
                    write and return an older value",
            default_duration: Duration::from_secs(60),
            default_nemesis: nemesis,
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::quorum::register::model(0),
            run: |spec| run(system(QuorumKind::Majority, 5, 2).undersized(2), 0, spec),
        },
        Scenario {
            name: "register-liar",
            about: "the crash-fault register (majority quorums, unsigned values) with one lying server: \
                    readers trust the highest timestamp and take its forged value",
            default_duration: Duration::from_secs(30),
            default_nemesis: None,
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::quorum::register::model(1),
            run: |spec| run(system(QuorumKind::Majority, 5, 2), 1, spec),
        },
        Scenario {
            name: "bft-register",
            about: "Byzantine quorum register, masking n = 5 f = 1 (unsigned values, f + 1 must vouch), one lying \
                    server, under the nemesis: reads return a written, current value",
            default_duration: Duration::from_secs(60),
            default_nemesis: nemesis,
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::quorum::register::model(1),
            run: |spec| run(system(QuorumKind::Masking, 5, 1), 1, spec),
        },
        Scenario {
            name: "bft-register-signed",
            about: "the same over a dissemination system, n = 4 f = 1, values signed by their writer",
            default_duration: Duration::from_secs(60),
            default_nemesis: nemesis,
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::quorum::register::model(1),
            run: |spec| run(system(QuorumKind::Dissemination, 4, 1), 1, spec),
        },
        Scenario {
            name: "bft-register-beyond",
            about: "masking n = 5 configured for f = 1 with 2 colluding liars: they vouch for a forged value and \
                    readers accept it; the checker must see it",
            default_duration: Duration::from_secs(30),
            default_nemesis: None,
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::quorum::register::model(1),
            run: |spec| run(system(QuorumKind::Masking, 5, 1), 2, spec),
        },
    ]
}
