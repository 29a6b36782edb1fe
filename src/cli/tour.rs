//! `palisade tour`: every hazard of DDIA chapter 8, run in the simulator without its
//! defence and with it, over many seeds, ending in one table.

use super::sweep::sweep;
use palisade::scenarios::hazards::HAZARDS;
use palisade::scenarios::{self, Outcome, Scenario};
use std::path::Path;
use std::process::ExitCode;

/// Story lines printed per scenario.
const STORY_LINES: usize = 4;

/// What one side of a row found.
struct Side {
    name: &'static str,
    /// Seeds that failed the row's checker.
    violating: Vec<u64>,
    /// Seeds that failed some other checker, with its name: a bug in the scenario.
    other: Vec<(u64, &'static str)>,
}

/// Runs the tour over `seeds` seeds per scenario; with `html`, also writes a space-time
/// diagram of one interesting seed of every scenario into that directory.
pub fn run(seeds: u64, html: Option<&Path>) -> ExitCode {
    if let Some(dir) = html
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return crate::usage_error(format!("cannot create {}: {e}", dir.display()));
    }
    let started = std::time::Instant::now();
    println!("palisade hazard tour: DDIA chapter 8 in the simulator, {seeds} seeds per scenario\n");
    let mut rows = Vec::new();
    let mut ok = true;
    for (i, h) in HAZARDS.iter().enumerate() {
        println!("{}. {} -- defence: {}", i + 1, h.hazard, h.defence);
        let (Some(without), Some(with)) = (scenarios::find(h.without), scenarios::find(h.with)) else {
            eprintln!("error: the hazard table names a scenario that does not exist");
            return ExitCode::from(1);
        };
        let bad = run_side(&without, seeds, "without", h.checker, html);
        let good = run_side(&with, seeds, "with", h.checker, html);
        let reproduced = !bad.violating.is_empty();
        let prevented = good.violating.is_empty() && good.other.is_empty();
        if !reproduced {
            println!("   !! the hazard did not break {} in {seeds} seeds: raise --seeds", h.checker);
        }
        if !good.violating.is_empty() {
            println!("   !! the defence failed {}: this is a bug", h.checker);
        }
        for (side, label) in [(&bad, "without"), (&good, "with")] {
            if let Some((seed, checker)) = side.other.first() {
                println!(
                    "   !! {label}: {} seed(s) failed {checker} (first: seed {seed}), not the row's {}: a bug in the scenario",
                    side.other.len(),
                    h.checker
                );
            }
        }
        ok &= reproduced && prevented && bad.other.is_empty();
        println!();
        rows.push((h, bad, good));
    }
    println!(
        "| # | hazard | defence | checker | seeds | violations without | violations with | replay a failing seed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (h, bad, good)) in rows.iter().enumerate() {
        let replay = |s: &Side| {
            s.violating.first().map(|seed| format!("cargo run --release -- sim {} --seed {seed}", s.name))
        };
        let replay = replay(good).or_else(|| replay(bad)).unwrap_or_else(|| "-".into());
        println!(
            "| {} | {} | {} | `{}` | {seeds} | {} ({}) | {} ({}) | `{replay}` |",
            i + 1,
            h.hazard,
            h.defence,
            h.checker,
            bad.violating.len(),
            bad.name,
            good.violating.len(),
            good.name,
        );
    }
    println!(
        "\n{} in {:.1} s. Add --html FILE to a replay command for its space-time diagram.",
        if ok { "every hazard reproduced without its defence and prevented with it" } else { "TOUR FAILED" },
        started.elapsed().as_secs_f64()
    );
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn run_side(sc: &Scenario, seeds: u64, label: &str, checker: &str, html: Option<&Path>) -> Side {
    let nemesis = sc.default_nemesis_config(sc.default_duration);
    let all: Vec<u64> = (1..=seeds).collect();
    let result = sweep(sc, &all, sc.default_duration, nemesis.as_ref());
    let fired = |o: &Outcome| o.report.violation.as_ref().map(|v| v.checker);
    let violating: Vec<u64> =
        result.outcomes.iter().filter(|(_, o)| fired(o) == Some(checker)).map(|(s, _)| *s).collect();
    let other: Vec<(u64, &'static str)> = result
        .outcomes
        .iter()
        .filter_map(|(s, o)| fired(o).filter(|c| *c != checker).map(|c| (*s, c)))
        .collect();
    // The interesting seed: the first that failed, else seed 1.
    let (seed, outcome) =
        result.outcomes.iter().find(|(_, o)| o.report.violation.is_some()).unwrap_or(&result.outcomes[0]);
    println!("   {label:<7} {:<24} {} of {seeds} seeds violate {checker}", sc.name, violating.len());
    for line in outcome.story.iter().take(STORY_LINES) {
        println!("           seed {seed}: {line}");
    }
    if let Some(v) = &outcome.report.violation {
        println!("           seed {seed}: VIOLATION {}: {}", v.checker, v.message);
    }
    if let Some(dir) = html {
        write_diagram(sc, *seed, dir);
    }
    Side { name: sc.name, violating, other }
}

fn write_diagram(sc: &Scenario, seed: u64, dir: &Path) {
    let path = dir.join(format!("{}-seed{seed}.html", sc.name));
    match super::sim::diagram(sc, seed, sc.default_duration, sc.default_nemesis_config(sc.default_duration)) {
        Ok(html) => match std::fs::write(&path, html) {
            Ok(()) => println!("           diagram: {}", path.display()),
            Err(e) => eprintln!("cannot write {}: {e}", path.display()),
        },
        Err(e) => eprintln!("cannot draw {}: {e}", sc.name),
    }
}
