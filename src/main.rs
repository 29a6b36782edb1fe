//! The `palisade` command line.

use clap::{Parser, Subcommand};
use palisade::scenarios::{self, Scenario};
use palisade_sim::ViolationReport;
use serde::Serialize;
use std::process::ExitCode;
use std::time::Duration;

/// palisade: break distributed protocols in a deterministic simulator, then run them for real.
#[derive(Parser, Debug)]
#[command(name = "palisade", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run every hazard scenario in the simulator and print what happened.
    Tour {
        /// Seeds per scenario.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
    },
    /// Run one scenario in the simulator.
    Sim {
        /// Scenario name (an unknown name lists the known ones).
        scenario: String,
        /// First (or only) seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of consecutive seeds to run, starting at --seed.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
        /// Simulated time per run, e.g. 60s, 500ms, 2m (default: the scenario's own).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Write the full event trace as JSON lines to this file (single seed only).
        #[arg(long)]
        trace: Option<std::path::PathBuf>,
    },
}

/// Parses `1.5s`, `500ms`, `2m`, `100us`, `10ns`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration like 60s or 500ms"))?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("`{s}` needs a unit: ns, us, ms, s, m or h")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("`{s}` is out of range"))
}

fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("palisade: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            return usage_error(first.trim_start_matches("error: "));
        }
    };
    match cli.command {
        Cmd::Tour { seeds } => tour(seeds),
        Cmd::Sim { scenario, seed, seeds, duration, json, trace } => {
            let Some(sc) = scenarios::find(&scenario) else {
                let known: Vec<_> = scenarios::all().iter().map(|s| s.name).collect();
                return usage_error(format!("unknown scenario `{scenario}`; known: {}", known.join(", ")));
            };
            if trace.is_some() && seeds > 1 {
                return usage_error("--trace records one run: use it with a single seed");
            }
            let trace_sink: Option<Box<dyn std::io::Write>> = match &trace {
                None => None,
                Some(path) => match std::fs::File::create(path) {
                    Ok(f) => Some(Box::new(std::io::BufWriter::new(f))),
                    Err(e) => {
                        return usage_error(format!("cannot write trace to {}: {e}", path.display()));
                    }
                },
            };
            sim(&sc, seed, seeds, duration.unwrap_or(sc.default_duration), json, trace_sink)
        }
    }
}

#[derive(Serialize)]
struct SimSummary<'a> {
    scenario: &'a str,
    seeds: Vec<u64>,
    violations: Vec<ViolationReport>,
    events: u64,
    simulated_ns: u64,
    wall_ns: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_hash: Option<String>,
}

fn sim(
    sc: &Scenario,
    first: u64,
    count: u64,
    duration: Duration,
    json: bool,
    mut trace: Option<Box<dyn std::io::Write>>,
) -> ExitCode {
    let started = std::time::Instant::now();
    let seeds: Vec<u64> = (first..first.saturating_add(count)).collect();
    let mut violations = Vec::new();
    let (mut events, mut simulated_ns, mut last_hash) = (0, 0, 0);
    for &seed in &seeds {
        let outcome = (sc.run)(seed, duration, trace.take());
        events += outcome.report.events;
        simulated_ns += outcome.report.simulated_ns;
        last_hash = outcome.report.trace_hash;
        if !json && seeds.len() == 1 {
            for line in &outcome.story {
                println!("{line}");
            }
        }
        if let Some(v) = outcome.report.violation {
            violations.push(v);
        }
    }
    let wall_ns = started.elapsed().as_nanos() as u64;
    if json {
        let summary = SimSummary {
            scenario: sc.name,
            trace_hash: (seeds.len() == 1).then(|| format!("{last_hash:016x}")),
            seeds,
            violations: violations.clone(),
            events,
            simulated_ns,
            wall_ns,
        };
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        for v in &violations {
            println!(
                "VIOLATION seed {} event {} at {:.3}s: {}: {}",
                v.seed,
                v.event,
                v.time_ns as f64 / 1e9,
                v.checker,
                v.message
            );
            println!("  replay: cargo run --release -- sim {} --seed {}", sc.name, v.seed);
        }
        println!(
            "{}: {} seed(s), {} violation(s), {} events, {:.1}s simulated in {:.3}s{}",
            sc.name,
            seeds.len(),
            violations.len(),
            events,
            simulated_ns as f64 / 1e9,
            wall_ns as f64 / 1e9,
            if seeds.len() == 1 { format!(", trace hash {last_hash:016x}") } else { String::new() }
        );
    }
    if violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn tour(seeds: u64) -> ExitCode {
    let mut failed = false;
    println!("palisade hazard tour (simulated; every run is replayable by its seed)\n");
    for sc in scenarios::all() {
        println!("== {}: {}", sc.name, sc.about);
        let first = (sc.run)(1, sc.default_duration, None);
        for line in &first.story {
            println!("   {line}");
        }
        let mut bad = Vec::new();
        for seed in 1..=seeds {
            if let Some(v) = (sc.run)(seed, sc.default_duration, None).report.violation {
                bad.push(v);
            }
        }
        println!("   seeds 1..={seeds}: {} violation(s)", bad.len());
        for v in &bad {
            println!("   seed {}: {}: {}", v.seed, v.checker, v.message);
            println!("   replay: cargo run --release -- sim {} --seed {}", sc.name, v.seed);
        }
        failed |= !bad.is_empty();
        println!();
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
