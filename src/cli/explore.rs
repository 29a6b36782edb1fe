//! `palisade explore NAME`: every interleaving of a small model up to a bound.
//!
//! Exit status 0 when no checker failed, 1 with a counterexample, 2 for bad arguments, 3
//! when the counterexample cannot be written or does not replay in the timed simulator.

use super::exit::usage_error;
use crate::scenarios::explorable;
use palisade_sim::ViolationReport;
use palisade_sim::explore::{Mode, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `palisade explore`.
#[derive(clap::Args, Debug)]
pub struct ExploreArgs {
    /// The scenario (an explorable one; `--list` lists them).
    #[arg(value_parser = super::names::explorable_scenario, required_unless_present = "list")]
    name: Option<String>,
    /// List every explorable scenario with its one-line description, and exit.
    #[arg(long, exclusive = true)]
    list: bool,
    /// Breadth-first: the shortest counterexample (the default, except for models too large
    /// for it, which `--list` marks).
    #[arg(long, conflicts_with = "dfs")]
    bfs: bool,
    /// Depth-first: less memory, longer counterexamples.
    #[arg(long)]
    dfs: bool,
    /// Steps from the initial state.
    #[arg(long, default_value_t = Options::default().max_depth)]
    max_depth: usize,
    /// Distinct states [default: 5000000, or less for a model too large to exhaust, which
    /// `--list` marks]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_states: Option<u64>,
    /// Keep the messages the model calls obsolete instead of forgetting them (more states;
    /// for comparisons, or to rule out a wrong `Setup::obsolete` hook).
    #[arg(long)]
    keep_obsolete: bool,
    /// Visit states that differ only by the names of nodes the model declares
    /// interchangeable, instead of one of each (more states; for comparisons).
    #[arg(long)]
    no_symmetry: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Write the counterexample as a space-time diagram here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the counterexample as JSON lines in the simulator's trace format here.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write the counterexample's replay in the timed simulator here, as JSON lines in true
    /// time (every counterexample is replayed there; this keeps its trace).
    #[arg(long, value_name = "FILE")]
    sim_trace: Option<PathBuf>,
}

/// Runs `palisade explore`.
pub fn run(args: ExploreArgs) -> ExitCode {
    if args.list {
        out!("{}", super::names::listing(explorable::all().iter().map(|e| (e.name, e.about))));
        return ExitCode::SUCCESS;
    }
    let name = args.name.as_deref().unwrap_or_default();
    let Some(sc) = explorable::find(name) else {
        return usage_error(format!("no explorable scenario `{name}`"));
    };
    let mode = if args.dfs || (sc.depth_first && !args.bfs) { Mode::Dfs } else { Mode::Bfs };
    let max_states = args.max_states.or(sc.max_states).unwrap_or(Options::default().max_states);
    let options = Options::default()
        .mode(mode)
        .max_depth(args.max_depth)
        .max_states(max_states)
        .forget_obsolete(!args.keep_obsolete)
        .symmetry(!args.no_symmetry);
    let started = Instant::now();
    let mut progress = |p: &palisade_sim::explore::Progress| {
        let secs = started.elapsed().as_secs_f64();
        errln!(
            "{}: {} states ({:.0}/s), depth {}, queue {}",
            sc.name,
            p.states,
            p.states as f64 / secs.max(1e-9),
            p.depth,
            p.queue
        );
    };
    let report = (sc.run)(&options, &mut progress);
    let wall = started.elapsed();
    let rate = report.states as f64 / wall.as_secs_f64().max(1e-9);
    if report.counterexample.is_none() && args.sim_trace.is_some() {
        errln!("palisade: no violation: --sim-trace writes a counterexample's replay only");
    }
    // The counterexample is written where asked and replayed in the timed simulator; what
    // goes wrong with either is reported after the explorer's own result, with status 3.
    let mut failures: Vec<String> = Vec::new();
    let replayed = report.counterexample.as_ref().map(|cex| {
        let title = format!("palisade explore {}", sc.name);
        finish_counterexample(
            sc.replay,
            cex,
            (&title, 0),
            [&args.trace, &args.html, &args.sim_trace],
            &mut failures,
        )
    });
    if args.json {
        let out = serde_json::json!({
            "scenario": sc.name,
            "mode": if mode == Mode::Dfs { "dfs" } else { "bfs" },
            "states": report.states,
            "generated": report.generated,
            "max_depth": report.max_depth,
            "complete": report.complete && report.counterexample.is_none(),
            "wall_ns": wall.as_nanos() as u64,
            "states_per_sec": rate,
            "symmetric": report.symmetric.iter().map(|n| n.0).collect::<Vec<_>>(),
            "violation": report.counterexample.as_ref().map(|c| serde_json::json!({
                "checker": c.violation.checker,
                "message": c.violation.message,
                "steps": c.steps.iter().map(|s| serde_json::json!({"at_ns": s.at.as_nanos() as u64, "what": s.what})).collect::<Vec<_>>(),
            })),
            "simulator": replayed.as_ref().zip(report.counterexample.as_ref()).map(|(r, c)| replay_json(r, c.path.len())),
            "error": (!failures.is_empty()).then(|| failures.join("; ")),
        });
        outln!("{out}");
    } else {
        outln!(
            "{}: {} states ({} generated) to depth {} in {:.3} s ({:.0} states/s); {}",
            sc.name,
            report.states,
            report.generated,
            report.max_depth,
            wall.as_secs_f64(),
            rate,
            if report.counterexample.is_some() {
                "stopped at the first violation".to_string()
            } else if report.complete {
                "exhausted".to_string()
            } else {
                format!("cut short at the depth bound ({}) or the state bound ({max_states})", args.max_depth)
            }
        );
        if !report.symmetric.is_empty() {
            let names: Vec<String> = report.symmetric.iter().map(ToString::to_string).collect();
            outln!(
                "states that differ only by the names of {} (interchangeable) counted once; --no-symmetry counts each",
                names.join(", ")
            );
        }
        match &report.counterexample {
            None => outln!("no violation"),
            Some(c) => {
                outln!("VIOLATION {}: {}", c.violation.checker, c.violation.message);
                outln!("counterexample, {} steps:", c.steps.len().saturating_sub(1));
                for s in &c.steps {
                    outln!("  {s}");
                }
                if let Some(Ok(r)) = &replayed {
                    for line in describe_replay(r, c.path.len()) {
                        outln!("{line}");
                    }
                    outln!("(--sim-trace FILE keeps the simulator's trace, in true time)");
                }
            }
        }
    }
    if !failures.is_empty() {
        return super::exit::runtime_error(failures.join("; "));
    }
    if report.counterexample.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// Writes a counterexample where asked (`files`: `--trace`, `--html`, `--sim-trace`;
/// `run` titles the diagram and names the seed) and replays it in the timed simulator with
/// the simulator scenario's checkers. Each file that cannot be written, and a replay that
/// fails, is added to `failures`. A replay fails when the simulator cannot take the path, or
/// takes it with neither its own checkers nor the model's properties failing: the explorer
/// and the simulator disagree, a bug in palisade.
pub(super) fn finish_counterexample(
    replay: crate::scenarios::explorable::Replay,
    cex: &palisade_sim::explore::Counterexample,
    (title, seed): (&str, u64),
    [trace, html, sim_trace]: [&Option<PathBuf>; 3],
    failures: &mut Vec<String>,
) -> Result<palisade_sim::explore::SimReplay, String> {
    if let Err(e) = write_counterexample(title, seed, cex, trace, html) {
        failures.push(e);
    }
    let replayed = replay(&cex.path)
        .map_err(|e| format!("the counterexample does not replay in the timed simulator: {e}"))
        .and_then(|r| match (&r.report.violation, &r.model) {
            (None, None) => Err(format!(
                "the counterexample replays in the timed simulator ({} steps) without a checker failing",
                r.steps
            )),
            _ => Ok(r),
        });
    match (&replayed, sim_trace) {
        (Err(e), _) => failures.push(e.clone()),
        (Ok(r), Some(path)) => {
            if let Err(e) = std::fs::write(path, &r.trace) {
                failures.push(format!("cannot write {}: {e}", path.display()));
            }
        }
        (Ok(_), None) => {}
    }
    replayed
}

/// What the timed simulator found replaying a counterexample of `path_len` steps: its own
/// checkers' verdict, and the model's properties judged on its states (as far as it went:
/// the replay stops where the simulator's checkers fail).
pub(super) fn describe_replay(r: &palisade_sim::explore::SimReplay, path_len: usize) -> Vec<String> {
    let own = match &r.report.violation {
        Some(v) => format!(
            "its checkers: {} fails at {:.3} s of true time{}: {}",
            v.checker,
            v.time_ns as f64 / 1e9,
            if v.cause == "end of run" { ", at the end of the run" } else { "" },
            v.message
        ),
        None => "its checkers: none fails".into(),
    };
    let model = match &r.model {
        Some((step, v)) => {
            format!("the model's {} fails on the simulator's states after step {step}", v.checker)
        }
        None if r.steps < path_len => {
            format!(
                "the model's properties hold on the simulator's states up to step {} of {path_len}, where it stopped",
                r.steps
            )
        }
        None => "the model's properties hold on the simulator's states".into(),
    };
    vec![format!("replayed in the timed simulator ({} events): {own}", r.report.events), format!("  {model}")]
}

/// The replay as `--json` reports it: the simulator's own verdict (`violation`, `null` if
/// none of its checkers failed), the model's on the simulator's states (`model`), the steps
/// replayed of the path's, or the `error` that stopped the replay.
pub(super) fn replay_json(
    r: &Result<palisade_sim::explore::SimReplay, String>,
    path_len: usize,
) -> serde_json::Value {
    let r = match r {
        Ok(r) => r,
        Err(e) => return serde_json::json!({ "error": e }),
    };
    serde_json::json!({
        "events": r.report.events,
        "steps": r.steps,
        "path_steps": path_len,
        "violation": r.report.violation.as_ref().map(|v| serde_json::json!({
            "checker": v.checker,
            "message": v.message,
            "time_ns": v.time_ns,
            "event": v.event,
            "cause": v.cause,
        })),
        "model": r.model.as_ref().map(|(step, v)| serde_json::json!({
            "checker": v.checker,
            "message": v.message,
            "step": step,
        })),
    })
}

/// Writes a counterexample as JSON lines (`trace`) and as a space-time diagram (`html`),
/// each where asked; `title` heads the diagram.
fn write_counterexample(
    title: &str,
    seed: u64,
    cex: &palisade_sim::explore::Counterexample,
    trace: &Option<PathBuf>,
    html: &Option<PathBuf>,
) -> Result<(), String> {
    if let Some(path) = trace {
        std::fs::write(path, &cex.trace).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = html {
        // The violation is at the path's last line: its index and time, for the ring.
        let last: serde_json::Value =
            cex.trace.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
        let field = |k: &str| last.get(k).and_then(serde_json::Value::as_u64);
        let violation = ViolationReport {
            seed,
            event: field("i").unwrap_or(cex.trace.lines().count().saturating_sub(1) as u64),
            time_ns: field("t_ns").unwrap_or(0),
            checker: cex.violation.checker,
            message: cex.violation.message.clone(),
            cause: String::new(),
        };
        let title = format!("{title}: {}", cex.violation.checker);
        let page = palisade_sim::diagram::render(&title, &cex.trace, Some(&violation), 0)
            .map_err(|e| format!("{e:?}"))?;
        std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
