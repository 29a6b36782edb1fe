//! Is it the scheduler or the workload? The timed simulator on the ABD register without its
//! write-back, under the scenario's default nemesis, with two workloads over the same seeds:
//! the scenario's own (three clients mixing reads and writes, a command every 50-250 ms,
//! for a simulated minute) and the shape of the sampled model that `--scheduler pct` walks
//! (n1 only writes, n2 and n3 only read, each offering a command every 2 ms, which a busy
//! node refuses, so each issues its next operation about as soon as its last returns).
//!
//! `cargo run --release --example abd_workloads [SEEDS]` (default 2000). Prints, per
//! workload, the seeds whose history is not linearizable, the operations completed and the
//! wall time; compare with `bench/schedulers.sh`, which runs the sampled model.

use palisade::scenarios::RunSpec;
use palisade::scenarios::abd::{self, NODES};
use palisade_core::NodeId;
use palisade_core::abd::{AbdEvent, Command};
use std::time::{Duration, Instant};

/// The sampled model's shape in true time: n1 writes, n2 and n3 read, a command every
/// `every` per node from 100 ms until `duration`.
fn roles(duration: Duration, every: Duration) -> Vec<(NodeId, Duration, Command)> {
    let mut out = Vec::new();
    let mut at = Duration::from_millis(100);
    let mut k = 0u64;
    while at < duration {
        k += 1;
        out.push((NodeId(1), at, Command::Write { value: 1_000_000_000 + k }));
        out.push((NodeId(2), at, Command::Read));
        out.push((NodeId(3), at, Command::Read));
        at += every;
    }
    out
}

/// Runs `seeds` with `commands(seed)` for `duration` under the scenario's default nemesis;
/// returns the violating seeds, operations completed and wall time.
fn sweep(
    seeds: &[u64],
    duration: Duration,
    commands: impl Fn(u64) -> Vec<(NodeId, Duration, Command)>,
) -> (usize, u64, Duration) {
    let scenario =
        abd::scenarios().into_iter().find(|s| s.name == "abd-no-write-back").expect("the scenario");
    let nodes: Vec<NodeId> = (1..=NODES).map(NodeId).collect();
    let started = Instant::now();
    let (mut violating, mut completed) = (0, 0u64);
    for &seed in seeds {
        let mut sim = abd::simulation_of(seed, false, commands(seed));
        let mut spec = RunSpec::new(seed, duration).nemesis(scenario.default_nemesis_config(duration));
        spec.prepare(&mut sim, &nodes);
        let report = sim.run_for(duration);
        violating += usize::from(report.violation.is_some());
        completed +=
            sim.world().history().iter().filter(|o| matches!(o.event, AbdEvent::Returned { .. })).count()
                as u64;
    }
    (violating, completed, started.elapsed())
}

fn main() {
    let n: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 2000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("abd_workloads: SEEDS must be a positive integer");
            std::process::exit(2);
        }
    };
    let seeds: Vec<u64> = (1..=n).collect();
    let minute = Duration::from_secs(60);
    let roles_for =
        |duration: Duration| sweep(&seeds, duration, move |_| roles(duration, Duration::from_millis(2)));
    let rows = [
        ("the scenario's workload, 60 s", sweep(&seeds, minute, |seed| abd::workload(seed, minute))),
        ("n1 writes, n2 and n3 read, 0.5 s", roles_for(Duration::from_millis(500))),
        ("n1 writes, n2 and n3 read, 1 s", roles_for(Duration::from_secs(1))),
        ("n1 writes, n2 and n3 read, 5 s", roles_for(Duration::from_secs(5))),
    ];
    println!(
        "{:<34} {:>6} {:>10} {:>16} {:>8}",
        "timed simulator, default nemesis", "seeds", "violating", "ops per seed", "wall_s"
    );
    for (label, (violating, completed, wall)) in rows {
        println!(
            "{label:<34} {n:>6} {violating:>10} {:>16.0} {:>8.1}",
            completed as f64 / n as f64,
            wall.as_secs_f64()
        );
    }
}
