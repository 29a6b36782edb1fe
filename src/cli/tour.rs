//! `palisade tour`: every hazard of DDIA chapter 8, run in the simulator without its
//! defence and with it, over many seeds, ending in one table.

use super::sweep::sweep;
use crate::scenarios::hazards::HAZARDS;
use crate::scenarios::{self, Outcome, Scenario};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// Set when a diagram could not be written: the tour then ends with status 3.
static DIAGRAM_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Story lines printed per scenario.
const STORY_LINES: usize = 4;

/// What one side of a row found.
#[derive(Serialize)]
struct Side {
    #[serde(rename = "scenario")]
    name: &'static str,
    /// Seeds that failed the row's checker.
    violating: Vec<u64>,
    /// Seeds that failed some other checker, with its name: a bug in the scenario.
    other: Vec<(u64, &'static str)>,
}

/// One row of the table, for `--json`.
#[derive(Serialize)]
struct Row<'a> {
    hazard: &'a str,
    defence: &'a str,
    checker: &'a str,
    seeds: u64,
    without: &'a Side,
    with: &'a Side,
    /// The hazard broke the checker without the defence.
    reproduced: bool,
    /// Nothing failed with the defence.
    prevented: bool,
    /// A command that replays a failing seed, if any failed.
    replay: Option<String>,
}

/// The whole tour, for `--json`.
#[derive(Serialize)]
struct Tour<'a> {
    ok: bool,
    seeds: u64,
    wall_s: f64,
    rows: Vec<Row<'a>>,
}

/// Runs the tour over `seeds` seeds per scenario; with `html`, also writes a space-time
/// diagram of one interesting seed of every scenario into that directory; with `json`,
/// prints one JSON object at the end instead of the stories and the table.
pub fn run(seeds: u64, html: Option<&Path>, json: bool) -> ExitCode {
    if let Some(dir) = html
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return super::exit::runtime_error(format!("cannot create {}: {e}", dir.display()));
    }
    let started = std::time::Instant::now();
    let say = |line: std::fmt::Arguments<'_>| {
        if !json {
            outln!("{line}");
        }
    };
    say(format_args!("palisade hazard tour: DDIA chapter 8 in the simulator, {seeds} seeds per scenario\n"));
    let mut rows = Vec::new();
    let mut ok = true;
    for (i, h) in HAZARDS.iter().enumerate() {
        say(format_args!("{}. {} -- defence: {}", i + 1, h.hazard, h.defence));
        let (Some(without), Some(with)) = (scenarios::find(h.without), scenarios::find(h.with)) else {
            return super::exit::runtime_error("the hazard table names a scenario that does not exist");
        };
        let bad = run_side(&without, seeds, "without", h.checker, html, &say);
        let good = run_side(&with, seeds, "with", h.checker, html, &say);
        let reproduced = !bad.violating.is_empty();
        let prevented = good.violating.is_empty() && good.other.is_empty();
        if !reproduced {
            say(format_args!("   !! the hazard did not break {} in {seeds} seeds: raise --seeds", h.checker));
        }
        if !good.violating.is_empty() {
            say(format_args!("   !! the defence failed {}: this is a bug", h.checker));
        }
        for (side, label) in [(&bad, "without"), (&good, "with")] {
            if let Some((seed, checker)) = side.other.first() {
                say(format_args!(
                    "   !! {label}: {} seed(s) failed {checker} (first: seed {seed}), not the row's {}: a bug in the scenario",
                    side.other.len(),
                    h.checker
                ));
            }
        }
        ok &= reproduced && prevented && bad.other.is_empty();
        say(format_args!(""));
        rows.push((h, bad, good));
    }
    let replay = |bad: &Side, good: &Side| {
        let hint = |s: &Side| {
            s.violating
                .first()
                .map(|seed| format!("{} sim {} --seed {seed}", super::exit::invocation(), s.name))
        };
        hint(good).or_else(|| hint(bad))
    };
    if json {
        let tour = Tour {
            ok,
            seeds,
            wall_s: started.elapsed().as_secs_f64(),
            rows: rows
                .iter()
                .map(|(h, bad, good)| Row {
                    hazard: h.hazard,
                    defence: h.defence,
                    checker: h.checker,
                    seeds,
                    without: bad,
                    with: good,
                    reproduced: !bad.violating.is_empty(),
                    prevented: good.violating.is_empty() && good.other.is_empty(),
                    replay: replay(bad, good),
                })
                .collect(),
        };
        outln!("{}", serde_json::to_string(&tour).unwrap_or_default());
        return status(ok);
    }
    outln!(
        "| # | hazard | defence | checker | seeds | violations without | violations with | replay a failing seed |"
    );
    outln!("|---|---|---|---|---|---|---|---|");
    for (i, (h, bad, good)) in rows.iter().enumerate() {
        let replay = replay(bad, good).unwrap_or_else(|| "-".into());
        outln!(
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
    outln!(
        "\n{} in {:.1} s. Add --html FILE to a replay command for its space-time diagram.",
        if ok { "every hazard reproduced without its defence and prevented with it" } else { "TOUR FAILED" },
        started.elapsed().as_secs_f64()
    );
    status(ok)
}

/// 1 if a row did not hold, else 3 if a diagram could not be written, else 0.
fn status(ok: bool) -> ExitCode {
    if !ok {
        ExitCode::from(super::exit::FAILED)
    } else if DIAGRAM_FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        super::exit::runtime_error("some diagrams could not be written (see above)")
    } else {
        ExitCode::SUCCESS
    }
}

fn run_side(
    sc: &Scenario,
    seeds: u64,
    label: &str,
    checker: &str,
    html: Option<&Path>,
    say: &dyn Fn(std::fmt::Arguments<'_>),
) -> Side {
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
    say(format_args!("   {label:<7} {:<24} {} of {seeds} seeds violate {checker}", sc.name, violating.len()));
    for line in outcome.story.iter().take(STORY_LINES) {
        say(format_args!("           seed {seed}: {line}"));
    }
    if let Some(v) = &outcome.report.violation {
        say(format_args!("           seed {seed}: VIOLATION {}: {}", v.checker, v.message));
    }
    if let Some(dir) = html {
        write_diagram(sc, *seed, dir, say);
    }
    Side { name: sc.name, violating, other }
}

fn write_diagram(sc: &Scenario, seed: u64, dir: &Path, say: &dyn Fn(std::fmt::Arguments<'_>)) {
    let path = dir.join(format!("{}-seed{seed}.html", sc.name));
    match super::sim::diagram(sc, seed, sc.default_duration, sc.default_nemesis_config(sc.default_duration)) {
        Ok(html) => match std::fs::write(&path, html) {
            Ok(()) => say(format_args!("           diagram: {}", path.display())),
            Err(e) => {
                DIAGRAM_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
                errln!("palisade: cannot write {}: {e}", path.display())
            }
        },
        Err(e) => {
            DIAGRAM_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
            errln!("palisade: cannot draw {}: {e}", sc.name)
        }
    }
}
