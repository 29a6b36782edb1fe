//! `palisade tour`: every hazard scenario, with its story and a sweep of seeds.

use super::sweep::sweep;
use palisade::scenarios::{self, RunSpec};
use std::process::ExitCode;

/// Runs the tour over `seeds` seeds per scenario.
pub fn run(seeds: u64) -> ExitCode {
    let mut failed = false;
    println!("palisade hazard tour (simulated; every run is replayable by its seed)\n");
    for sc in scenarios::all() {
        println!("== {}: {}", sc.name, sc.about);
        let nemesis = sc.default_nemesis.and_then(|l| scenarios::nemesis_for(l, sc.default_duration).ok());
        let first = (sc.run)(RunSpec { nemesis: nemesis.clone(), ..RunSpec::new(1, sc.default_duration) });
        for line in &first.story {
            println!("   {line}");
        }
        let all: Vec<u64> = (1..=seeds).collect();
        let result = sweep(&sc, &all, sc.default_duration, nemesis.as_ref());
        let bad: Vec<_> = result.outcomes.iter().filter_map(|(_, o)| o.report.violation.clone()).collect();
        if sc.hazard {
            println!(
                "   hazard shown in {} of {seeds} seeds (violations expected: no defence here)",
                bad.len()
            );
            if let Some(v) = bad.first() {
                println!("   e.g. seed {}: {}: {}", v.seed, v.checker, v.message);
                println!("   replay: cargo run --release -- sim {} --seed {}", sc.name, v.seed);
            }
        } else {
            println!("   seeds 1..={seeds}: {} violation(s)", bad.len());
            for v in &bad {
                println!("   seed {}: {}: {}", v.seed, v.checker, v.message);
                println!("   replay: cargo run --release -- sim {} --seed {}", sc.name, v.seed);
            }
            failed |= !bad.is_empty();
        }
        println!();
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
