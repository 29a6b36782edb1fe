//! The `locks` scenario: named locks granted by a majority of five nodes
//! ([`palisade_core::lock`]), driven from outside as an application would, under every
//! fault the model admits (crash-restart of any node included).
//!
//! The workload: each node, from a time drawn from the seed, acquires one of two names
//! (trying for 1-2 s), releases it 0.3-1.5 s later, waits 0.1-0.8 s, and starts again. Clocks
//! drift within ρ = 1%. Checked after every event: no two nodes hold one name at any true
//! time (each judged on its own clock), and every grant of a name carries a greater token
//! than every earlier grant of it; after GST, grants keep happening.

use super::{Outcome, RunSpec, Scenario};
use palisade_core::lock::{self, LockCommand, LockConfig, LockEvent, Locks, checks};
use palisade_core::{NodeId, Observation, Rng};
use palisade_sim::{Latency, LinkConfig, Network, ProgressAfterGst, SimConfig, Simulation, World};
use std::time::Duration;

/// Nodes 1..=5, every one an acceptor and a client.
pub const NODES: u32 = 5;
/// The clocks' drift bound, and what the locks budget for.
pub const RHO_PPM: u32 = 10_000;
/// The names the workload contends for.
pub const NAMES: [&str; 2] = ["orders", "billing"];

/// The locks' configuration here: 2 s promises renewed every 600 ms, retries within 200 ms.
pub fn config() -> LockConfig {
    LockConfig::default()
        .term(Duration::from_secs(2))
        .max_drift_ppm(RHO_PPM)
        .renew_after(Duration::from_millis(600))
        .retry(Duration::from_millis(200))
}

/// The workload's commands, per node: acquire, release, pause, again, until `duration`.
pub fn workload(seed: u64, duration: Duration) -> Vec<(NodeId, Duration, LockCommand)> {
    let mut rng = Rng::from_seed(seed ^ 0x6c6f_636b);
    let ms = Duration::from_millis;
    let mut out = Vec::new();
    for n in 1..=NODES {
        let mut at = rng.duration_between(ms(100), ms(1000));
        while at < duration {
            let name = NAMES[rng.below(NAMES.len() as u64) as usize].to_string();
            let within = rng.duration_between(ms(1000), ms(2000));
            out.push((NodeId(n), at, LockCommand::Acquire { name: name.clone(), within }));
            at += within.min(rng.duration_between(ms(300), ms(1500)));
            out.push((NodeId(n), at, LockCommand::Release { name }));
            at += rng.duration_between(ms(100), ms(800));
        }
    }
    out
}

/// Five nodes on a LAN, drifting clocks (node 5's at `slow_n5_ppm` when given, else within
/// ρ), the workload and the checkers.
pub fn simulation(seed: u64, duration: Duration, slow_n5_ppm: Option<i64>) -> Simulation<Locks> {
    let mut sc = SimConfig::new(seed, NODES);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(20),
    )));
    let mut rng = Rng::from_seed(seed ^ 0x6472_6966);
    sc.drift_ppm =
        (0..NODES).map(|_| rng.range(0, 2 * u64::from(RHO_PPM) + 1) as i64 - i64::from(RHO_PPM)).collect();
    if let Some(ppm) = slow_n5_ppm {
        sc.drift_ppm[NODES as usize - 1] = ppm;
    }
    let cfg = config();
    let bound = cfg.term * 4 + Duration::from_secs(3);
    let mut sim = Simulation::new(sc, cfg);
    for (node, at, cmd) in workload(seed, duration) {
        sim.command_at(node, at, cmd);
    }
    sim.add_checker(|w: &World<Locks>| {
        let held = w.running().flat_map(|(n, p)| {
            let now = w.clock(n).map(|c| c.mono);
            now.into_iter().flat_map(move |now| p.held(now).map(move |(name, token)| (n, name, token)))
        });
        checks::single_holder(held)
    });
    // Tokens, judged incrementally: each new grant against the last grant of its name.
    let (mut seen, mut order) = (0, checks::TokenOrder::default());
    sim.add_checker(move |w: &World<Locks>| {
        let new = &w.history()[seen..];
        seen = w.history().len();
        new.iter().try_for_each(|o| order.observe(o))
    });
    sim.add_checker(ProgressAfterGst::new(
        "lock::progress_after_gst",
        bound,
        |o: &Observation<LockEvent>| matches!(o.event, LockEvent::Acquired { .. }),
    ));
    sim
}

/// Runs one seed (with node 5's clock at `slow_n5_ppm`, outside the model, when given).
pub fn run(slow_n5_ppm: Option<i64>, mut spec: RunSpec) -> Outcome {
    let mut sim = simulation(spec.seed, spec.duration, slow_n5_ppm);
    let schedule = spec.prepare(&mut sim, &(1..=NODES).map(NodeId).collect::<Vec<_>>());
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let w = sim.world();
    let count = |f: fn(&LockEvent) -> bool| w.history().iter().filter(|o| f(&o.event)).count();
    let replies = |f: fn(&lock::LockReply) -> bool| w.replies().iter().filter(|o| f(&o.event.reply)).count();
    let clocks = match slow_n5_ppm {
        None => "drift within ρ = 1%".to_string(),
        Some(ppm) => format!("n5's clock drifts {ppm} ppm, the locks budget for ρ = 1%"),
    };
    let story = vec![
        format!("named locks on {NODES} nodes (every one an acceptor and a client), {clocks}"),
        format!(
            "grants {}, releases {}, leases lost unrenewed {}; acquires that timed out {}",
            count(|e| matches!(e, LockEvent::Acquired { .. })),
            count(|e| matches!(e, LockEvent::Released { .. })),
            count(|e| matches!(e, LockEvent::Lost { .. })),
            replies(|r| matches!(r, lock::LockReply::NotAcquired)),
        ),
        format!("nemesis episodes: {}", schedule.len()),
    ];
    Outcome { report, story, schedule }
}

/// The lock scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "locks",
            about: "named locks granted by a majority of 5 nodes, acquired and released by the application, \
                under every fault the model admits: never two holders of a name, tokens per name always \
                increase, grants go on after GST",
            default_duration: Duration::from_secs(60),
            default_nemesis: Some("all"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: lock::model(NODES, RHO_PPM),
            run: |spec| run(None, spec),
        },
        Scenario {
            name: "locks-drift-violation",
            about: "the same locks, with n5's clock running 30% slow while they budget for 1%: cut off, n5 \
                still trusts a lease its acceptors have let go, and another node is granted the name",
            default_duration: Duration::from_secs(60),
            default_nemesis: Some("all"),
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: lock::model(NODES, RHO_PPM),
            run: |spec| run(Some(-300_000), spec),
        },
    ]
}
