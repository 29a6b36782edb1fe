//! The `palisade` command line.

mod cli;

use clap::{Parser, Subcommand};
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
    /// Run every hazard in the simulator without its defence and with it; print a table.
    Tour {
        /// Seeds per scenario.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
        /// Also write a space-time diagram of one interesting seed per scenario here.
        #[arg(long, value_name = "DIR")]
        html: Option<std::path::PathBuf>,
    },
    /// Run one scenario in the simulator.
    Sim(cli::sim::SimArgs),
    /// Run one node of a cluster on actix, from a TOML configuration.
    Node(cli::node::NodeArgs),
    /// A local cluster of node processes on loopback, and real faults against it.
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCmd),
    /// Write a node's ed25519 key pair (node.key, node.pub) into a directory.
    Keygen(cli::keygen::KeygenArgs),
    /// Explore every interleaving of a small model, up to a bound.
    Explore(cli::explore::ExploreArgs),
    /// Check a recorded history of client operations for linearizability.
    CheckHistory(cli::check_history::CheckHistoryArgs),
    /// Failure-detector tools for operators: replay recorded heartbeats, tune thresholds.
    #[command(subcommand)]
    Detector(cli::detector::DetectorCmd),
}

/// Parses `1.5s`, `500ms`, `2m`, `100us`, `10ns`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
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

/// Prints a one-line usage error and returns exit status 2.
pub fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
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
        Cmd::Tour { seeds, html } => cli::tour::run(seeds, html.as_deref()),
        Cmd::Sim(args) => cli::sim::run(args),
        Cmd::Detector(cmd) => cli::detector::run(cmd),
        Cmd::Keygen(args) => cli::keygen::run(args),
        Cmd::Node(args) => cli::node::run(args),
        Cmd::Cluster(cmd) => cli::cluster::run(cmd),
        Cmd::CheckHistory(args) => cli::check_history::run(args),
        Cmd::Explore(args) => cli::explore::run(args),
    }
}
