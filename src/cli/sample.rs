//! `palisade sim NAME --scheduler pct|random`: one random path per seed through an
//! explorable scenario's model, for state spaces too big to exhaust.
//!
//! Exit status 0 when no seed broke a checker, 1 when some did, 2 for bad arguments, 3 when
//! a counterexample cannot be written or does not replay in the timed simulator.

use super::exit::usage_error;
use super::sim::{SchedulerArg, SimArgs};
use palisade_sim::explore::Scheduler;
use std::process::ExitCode;
use std::time::Instant;

/// PCT's bug depth when `--depth` is not given.
pub const DEFAULT_DEPTH: u32 = 3;

/// Runs the sampled schedulers.
pub fn run(args: &SimArgs, catalogue: &super::sim::Catalogue) -> ExitCode {
    let scenario = args.scenario.as_deref().unwrap_or_default();
    let Some(sc) = catalogue.models.iter().find(|e| e.name == scenario) else {
        let known: Vec<&str> = catalogue.models.iter().map(|e| e.name).collect();
        return usage_error(format!(
            "--scheduler {} walks an explorable scenario's untimed model, and `{scenario}` has none (explorable: {})",
            name(args.scheduler),
            known.join(", ")
        ));
    };
    let timed_only = [
        (args.nemesis.is_some(), "--nemesis"),
        (args.outside_model.is_some(), "--outside-model"),
        (args.duration.is_some(), "--duration"),
        (args.history.is_some(), "--history"),
        (args.swarm, "--swarm"),
        (args.model, "--model"),
    ];
    if let Some((_, flag)) = timed_only.iter().find(|(set, _)| *set) {
        return usage_error(format!(
            "{flag} belongs to the timed simulator; --scheduler {} walks an untimed model",
            name(args.scheduler)
        ));
    }
    if (args.trace.is_some() || args.html.is_some()) && args.seeds > 1 {
        return usage_error("--trace and --html record one run: use them with a single seed");
    }
    let scheduler = match (args.scheduler, args.depth) {
        (SchedulerArg::Pct, depth) => Scheduler::Pct { depth: depth.unwrap_or(DEFAULT_DEPTH) },
        (_, Some(_)) => return usage_error("--depth is PCT's bug depth: use it with --scheduler pct"),
        _ => Scheduler::Random,
    };
    if args.shard.is_some() {
        return usage_error("--shard spreads timed sweeps (which `sim merge` joins), not --scheduler paths");
    }
    let seeds = match super::sim::seeds_of(args) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let started = Instant::now();
    let walks = (sc.sample)(scheduler, &seeds);
    let wall = started.elapsed();
    let failing: Vec<(u64, &palisade_sim::explore::Walk)> =
        seeds.iter().copied().zip(&walks).filter(|(_, w)| w.counterexample.is_some()).collect();
    let steps: usize = walks.iter().map(|w| w.steps).sum();
    let unfinished = walks.iter().filter(|w| !w.finished && w.counterexample.is_none()).count();
    if failing.is_empty() && (args.trace.is_some() || args.html.is_some()) {
        errln!("palisade: no violation on this path: --trace and --html write counterexamples only");
    }
    // The first counterexample is written where asked and replayed in the timed simulator;
    // what goes wrong with either is reported after the paths' results, with status 3.
    let mut failures: Vec<String> = Vec::new();
    let first = failing.first().and_then(|(seed, w)| Some((seed, w.counterexample.as_ref()?)));
    let replayed = first.map(|(seed, cex)| {
        let title = format!("palisade sim {} --scheduler {} --seed {seed}", sc.name, name(args.scheduler));
        let files = [&args.trace, &args.html, &None];
        super::explore::finish_counterexample(
            sc.replay_of_sample(),
            cex,
            (&title, *seed),
            files,
            &mut failures,
        )
    });
    let depth = match scheduler {
        Scheduler::Pct { depth } => Some(depth),
        Scheduler::Random => None,
    };
    if args.json {
        let out = serde_json::json!({
            "scenario": sc.name,
            "scheduler": name(args.scheduler),
            "depth": depth,
            "seeds": seeds.len(),
            "violating_seeds": failing.len(),
            "steps": steps,
            "unfinished": unfinished,
            "wall_ns": wall.as_nanos() as u64,
            "first_replayed_in_simulator": replayed.as_ref().zip(first).map(|(r, (_, c))| super::explore::replay_json(r, c.path.len())),
            "error": (!failures.is_empty()).then(|| failures.join("; ")),
            "violations": failing.iter().map(|(seed, w)| {
                let c = w.counterexample.as_ref().expect("failing walks have one");
                serde_json::json!({"seed": seed, "checker": c.violation.checker, "message": c.violation.message, "steps": c.steps.len().saturating_sub(1)})
            }).collect::<Vec<_>>(),
        });
        outln!("{out}");
    } else {
        for (seed, w) in &failing {
            let c = w.counterexample.as_ref().expect("failing walks have one");
            outln!(
                "VIOLATION seed {seed} after {} steps: {}: {}",
                c.steps.len().saturating_sub(1),
                c.violation.checker,
                c.violation.message
            );
        }
        if let Some((seed, w)) = failing.first() {
            let c = w.counterexample.as_ref().expect("failing walks have one");
            outln!("the first, seed {seed}:");
            for s in &c.steps {
                outln!("  {s}");
            }
            if let Some(Ok(r)) = &replayed {
                for line in super::explore::describe_replay(r, c.path.len()) {
                    outln!("{line}");
                }
            }
            let depth = depth.map(|d| format!(" --depth {d}")).unwrap_or_default();
            outln!(
                "replay it (add --html FILE for its diagram): {} {} --scheduler {}{depth} --seed {seed}",
                catalogue.command,
                sc.name,
                name(args.scheduler)
            );
        }
        let how = match depth {
            Some(d) => format!("pct, depth {d}"),
            None => "random".to_string(),
        };
        outln!(
            "{}: {} seed(s) ({how}), {} violating, {} steps in {:.3} s{}",
            sc.name,
            seeds.len(),
            failing.len(),
            steps,
            wall.as_secs_f64(),
            if unfinished > 0 {
                format!("; {unfinished} path(s) cut at the step bound")
            } else {
                String::new()
            }
        );
    }
    if !failures.is_empty() {
        return super::exit::runtime_error(failures.join("; "));
    }
    if failing.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(super::exit::FAILED) }
}

fn name(s: SchedulerArg) -> &'static str {
    match s {
        SchedulerArg::Timed => "timed",
        SchedulerArg::Random => "random",
        SchedulerArg::Pct => "pct",
    }
}
