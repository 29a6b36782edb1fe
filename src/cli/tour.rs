//! `palisade tour`: every hazard scenario, with its story, a sweep of seeds, and a closing
//! table of what held and what broke.

use super::sweep::sweep;
use palisade::scenarios::{self, RunSpec};
use std::process::ExitCode;

/// Runs the tour over `seeds` seeds per scenario.
pub fn run(seeds: u64) -> ExitCode {
    let mut failed = false;
    let mut rows = Vec::new();
    println!("palisade hazard tour (simulated; every run is replayable by its seed)\n");
    for sc in scenarios::all() {
        println!("== {}: {}", sc.name, sc.about);
        let nemesis = sc.default_nemesis.and_then(|l| scenarios::nemesis_for(l, sc.default_duration).ok());
        let first = (sc.run)(RunSpec { nemesis: nemesis.clone(), ..RunSpec::new(1, sc.default_duration) });
        for line in first.story.iter().take(12) {
            println!("   {line}");
        }
        if first.story.len() > 12 {
            println!(
                "   ... ({} more lines: cargo run --release -- sim {} --seed 1)",
                first.story.len() - 12,
                sc.name
            );
        }
        let all: Vec<u64> = (1..=seeds).collect();
        let result = sweep(&sc, &all, sc.default_duration, nemesis.as_ref());
        let bad: Vec<_> = result.outcomes.iter().filter_map(|(_, o)| o.report.violation.clone()).collect();
        let replay = bad.first().map(|v| format!("cargo run --release -- sim {} --seed {}", sc.name, v.seed));
        if sc.hazard {
            println!(
                "   hazard shown in {} of {seeds} seeds (violations expected: no defence here)",
                bad.len()
            );
            if let Some(v) = bad.first() {
                println!("   e.g. seed {}: {}: {}", v.seed, v.checker, v.message);
            }
        } else {
            println!("   seeds 1..={seeds}: {} violation(s)", bad.len());
            for v in &bad {
                println!("   seed {}: {}: {}", v.seed, v.checker, v.message);
            }
            failed |= !bad.is_empty();
        }
        if let Some(r) = &replay {
            println!("   replay: {r}");
        }
        rows.push((sc.name, sc.hazard, bad.len(), replay));
        println!();
    }
    println!("| scenario | what it shows | seeds | violating seeds | replay the first |");
    println!("|---|---|---|---|---|");
    for (name, hazard, bad, replay) in rows {
        let shows = if hazard { "hazard (no defence)" } else { "defence holds" };
        println!("| {name} | {shows} | {seeds} | {bad} | {} |", replay.unwrap_or_else(|| "-".into()));
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
