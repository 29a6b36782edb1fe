//! The fuzzing adversary against every protocol: `fuzz-*` scenarios put
//! [`palisade_sim::fuzz::Fuzz`] on Byzantine nodes, which speak the protocol with
//! generated messages (well-typed, boundary-biased, mostly honest messages with a few
//! fields changed), under the random nemesis.
//!
//! Byzantine-tolerant protocols (Bracha, both Byzantine registers) run with up to f
//! fuzzers and every safety and liveness checker of their defended scenario. Crash-tolerant
//! protocols promise nothing about safety against a lying node, so there one fuzzer is
//! outside the model and only robustness is checked: no node panics (the simulator reports
//! a handler panic as `sim::no_panic`), and the process heap does not grow without bound
//! (`fuzz::bounded_memory`, measured from the resident set on Linux).

use super::{Outcome, RunSpec, Scenario};
use palisade_core::quorum::{QuorumKind, QuorumSystem};
use palisade_core::{NodeId, Protocol, Violation};
use palisade_sim::fuzz::Fuzz;
use palisade_sim::{Latency, LinkConfig, Network, SimConfig, Simulation, World};
use std::time::Duration;

/// How far the resident set may grow during one run before it counts as unbounded.
pub const MEMORY_GROWTH_LIMIT: u64 = 512 << 20;
/// Simulated time per fuzzing run.
pub const DURATION: Duration = Duration::from_secs(60);
/// The checker the memory bound is reported under.
pub const BOUNDED_MEMORY: &str = "fuzz::bounded_memory";

/// This process's resident set in bytes, where the OS tells (Linux).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Fails the run if the resident set grows by more than [`MEMORY_GROWTH_LIMIT`] (checked
/// every 4096 events).
pub fn add_memory_check<P: Protocol>(sim: &mut Simulation<P>) {
    let baseline = resident_bytes();
    let mut calls = 0u64;
    sim.add_checker(move |_: &World<P>| {
        calls += 1;
        if !calls.is_multiple_of(4096) {
            return Ok(());
        }
        match (baseline, resident_bytes()) {
            (Some(base), Some(now)) if now > base + MEMORY_GROWTH_LIMIT => Err(Violation::new(
                BOUNDED_MEMORY,
                format!("the resident set grew by {} MiB during the run", (now - base) >> 20),
            )),
            _ => Ok(()),
        }
    });
}

fn finish<P: Protocol>(
    mut sim: Simulation<P>,
    mut spec: RunSpec,
    targets: &[NodeId],
    about: String,
) -> Outcome {
    add_memory_check(&mut sim);
    let schedule = spec.prepare(&mut sim, targets);
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let story = vec![
        about,
        format!(
            "Byzantine nodes put {} messages on the wire; {} delivered in all; memory {}",
            report.byzantine_sent,
            report.delivered,
            if resident_bytes().is_some() { "checked" } else { "not measured on this OS" }
        ),
    ];
    Outcome { report, story, schedule }
}

/// One fuzzer on a crash-tolerant protocol: node `1 + seed mod nodes`, so every role
/// meets it across seeds. Only robustness is checked.
fn robustness<P: Protocol>(nodes: u32, config: P::Config, spec: RunSpec) -> Outcome {
    robustness_driven(nodes, config, spec, |_: &mut Simulation<P>, _, _| {})
}

/// [`robustness`] with the application's commands scheduled by `drive` (given the seed and
/// the run's duration) on every node, the fuzzer included.
fn robustness_driven<P: Protocol>(
    nodes: u32,
    config: P::Config,
    spec: RunSpec,
    drive: fn(&mut Simulation<P>, u64, Duration),
) -> Outcome {
    let mut sc = SimConfig::new(spec.seed, nodes);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(20),
    )));
    let mut sim = Simulation::<P>::new(sc, config);
    drive(&mut sim, spec.seed, spec.duration);
    let fuzzer = NodeId(1 + (spec.seed % u64::from(nodes)) as u32);
    sim.make_byzantine(fuzzer, Fuzz::new());
    let targets: Vec<NodeId> = (1..=nodes).map(NodeId).filter(|&n| n != fuzzer).collect();
    let about =
        format!("{fuzzer} speaks the protocol with generated messages; checked: no panic, bounded memory");
    finish(sim, spec, &targets, about)
}

/// The ABD register on three nodes with the `abd` scenarios' workload of commands, one of
/// them (by seed) a fuzzer: robustness only, as for the other crash-tolerant protocols.
fn abd(spec: RunSpec) -> Outcome {
    use super::abd::{NODES, config, workload};
    let mut sc = SimConfig::new(spec.seed, NODES);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(10),
    )));
    let mut sim = Simulation::<palisade_core::abd::Abd>::new(sc, config(true));
    for (node, at, cmd) in workload(spec.seed, spec.duration) {
        sim.command_at(node, at, cmd);
    }
    let fuzzer = NodeId(1 + (spec.seed % u64::from(NODES)) as u32);
    sim.make_byzantine(fuzzer, Fuzz::new());
    let targets: Vec<NodeId> = (1..=NODES).map(NodeId).filter(|&n| n != fuzzer).collect();
    let about = format!(
        "ABD register, {fuzzer} speaks the protocol with generated messages while every node runs the workload; \
         checked: no panic, bounded memory"
    );
    finish(sim, spec, &targets, about)
}

fn bracha(n: u32, f: usize, spec: RunSpec) -> Outcome {
    let mut sim = super::bracha::fuzz_simulation(spec.seed, n, f);
    // State a peer can make a node hold: `max_broadcasts` instances per member at most.
    let most = n as usize * palisade_core::quorum::bracha::MAX_BROADCASTS as usize;
    sim.add_checker(move |w: &World<palisade_core::quorum::bracha::Bracha>| {
        for (id, b) in w.running() {
            if b.instance_count() > most {
                return Err(Violation::new(
                    "bracha::bounded_state",
                    format!("{id} holds {} instances, more than {most} for {n} members", b.instance_count()),
                ));
            }
        }
        Ok(())
    });
    let targets: Vec<NodeId> = (f as u32 + 1..=n).map(NodeId).collect();
    let about = format!(
        "Bracha n = {n}, f = {f}: nodes 1..={f} speak the protocol with generated messages; checked: agreement, \
         integrity, validity, delivery after GST, bounded instances per member, no panic, bounded memory"
    );
    finish(sim, spec, &targets, about)
}

fn register(kind: QuorumKind, n: usize, f: usize, spec: RunSpec) -> Outcome {
    let system = QuorumSystem::new(kind, n, f).expect("valid configuration");
    let sim = super::bft_register::fuzz_simulation(spec.seed, system, f as u32, spec.duration);
    let targets: Vec<NodeId> = (f as u32 + 1..=n as u32 + 3).map(NodeId).collect();
    let about = format!(
        "{kind:?} register n = {n}, f = {f}: servers 1..={f} speak the protocol with generated messages; checked: \
         never a value nobody wrote, no stale read, progress after GST, no panic, bounded memory"
    );
    finish(sim, spec, &targets, about)
}

/// The fuzzing scenarios.
pub fn scenarios() -> Vec<Scenario> {
    use palisade_core::detector::{self, Heartbeat, HeartbeatConfig, PhiAccrual, swim};
    let fuzz = |name, about, model, run: fn(RunSpec) -> Outcome| Scenario {
        name,
        about,
        default_duration: DURATION,
        default_nemesis: Some("all"),
        default_outside_model: None,
        hazard: false,
        records_history: false,
        model,
        run,
    };
    vec![
        fuzz(
            "fuzz-bracha",
            "Bracha n = 4, f = 1 against a fuzzing Byzantine node",
            palisade_core::quorum::bracha::model(1),
            |s| bracha(4, 1, s),
        ),
        fuzz(
            "fuzz-bracha-7",
            "Bracha n = 7, f = 2 against two fuzzing Byzantine nodes",
            palisade_core::quorum::bracha::model(2),
            |s| bracha(7, 2, s),
        ),
        fuzz(
            "fuzz-bft-register",
            "the masking register, n = 5, f = 1, against a fuzzing server",
            palisade_core::quorum::register::model(1),
            |s| register(QuorumKind::Masking, 5, 1, s),
        ),
        fuzz(
            "fuzz-bft-register-signed",
            "the signed (dissemination) register, n = 4, f = 1, against a fuzzing server",
            palisade_core::quorum::register::model(1),
            |s| register(QuorumKind::Dissemination, 4, 1, s),
        ),
        fuzz(
            "fuzz-register",
            "the crash-fault register (ABD), a fuzzing node outside its model: no panic, bounded memory",
            palisade_core::quorum::register::model(0),
            |spec| {
                // One node (by seed, server or client) fuzzes; the clients run their workload.
                let system = QuorumSystem::new(QuorumKind::Majority, 5, 2).expect("valid configuration");
                let nodes = 5 + super::bft_register::CLIENTS;
                let mut sim = super::bft_register::bare_simulation(spec.seed, system, spec.duration);
                let fuzzer = NodeId(1 + (spec.seed % u64::from(nodes)) as u32);
                sim.make_byzantine(fuzzer, Fuzz::new());
                let targets: Vec<NodeId> = (1..=nodes).map(NodeId).filter(|&n| n != fuzzer).collect();
                let about = format!(
                    "crash-fault register, 5 servers and 3 clients running their workload; {fuzzer} speaks the \
                     protocol with generated messages; checked: no panic, bounded memory"
                );
                finish(sim, spec, &targets, about)
            },
        ),
        fuzz(
            "fuzz-abd",
            "the ABD atomic register with its client workload, a fuzzing node outside its model: no panic, \
             bounded memory",
            palisade_core::abd::model(super::abd::NODES),
            abd,
        ),
        fuzz(
            "fuzz-heartbeat",
            "phi accrual heartbeats with the pause guard, a fuzzing node outside the model: no panic, bounded memory",
            detector::HEARTBEAT_MODEL,
            |s| robustness::<Heartbeat<PhiAccrual>>(4, HeartbeatConfig::default().with_pause_guard(), s),
        ),
        fuzz(
            "fuzz-swim",
            "SWIM with Lifeguard, a fuzzing member outside the model: no panic, bounded memory",
            swim::MODEL,
            |s| robustness::<swim::Swim>(8, swim::SwimConfig::default(), s),
        ),
        fuzz(
            "fuzz-lease",
            "the lock service (grantor, fenced storage, clients taking turns and writing), a fuzzing node \
             outside the model: no panic, bounded memory",
            palisade_core::lease::model(super::lease::RHO_PPM),
            |s| {
                robustness_driven::<palisade_core::lease::SingleGrantorLockService>(
                    5,
                    super::lease::config(true),
                    s,
                    super::lease::drive_clients,
                )
            },
        ),
        fuzz(
            "fuzz-election",
            "majority-lease leader election with leaders writing, a fuzzing node outside the model: no panic, \
             bounded memory",
            palisade_core::lease::model(super::lease::RHO_PPM),
            |s| {
                robustness_driven::<palisade_core::lease::election::Election>(
                    super::lease::leader::NODES,
                    super::lease::leader::election_config(true),
                    s,
                    super::lease::leader::drive,
                )
            },
        ),
        fuzz(
            "fuzz-skew",
            "the skew monitor, a fuzzing node outside the model: no panic, bounded memory",
            palisade_core::clock::skew_model(&palisade_core::clock::SkewConfig::default()),
            |s| {
                robustness::<palisade_core::clock::SkewMonitor>(
                    5,
                    palisade_core::clock::SkewConfig::default(),
                    s,
                )
            },
        ),
    ]
}
