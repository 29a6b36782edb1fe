//! The `palisade` command line, as a library: the binary's `main` is [`main`], and a
//! protocol author's own binary gets `palisade sim` for their scenarios from
//! [`sim::sim_main`]. Exit statuses: 0 done, 1 a checker failed, 2 bad arguments or
//! configuration, 3 a runtime failure ([`exit`]).

pub mod check_history;
pub mod cluster;
pub mod detector;
pub mod diagram;
pub mod exit;
pub mod explore;
pub mod keygen;
mod lease_app;
pub mod names;
pub mod node;
pub mod proxy;
pub mod sample;
pub mod shard;
pub mod sim;
pub mod sweep;
pub mod tour;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

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
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        seeds: u64,
        /// Also write a space-time diagram of one interesting seed per scenario here.
        #[arg(long, value_name = "DIR")]
        html: Option<std::path::PathBuf>,
        /// Print one JSON object (every row, with its seeds) instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Run one scenario in the simulator.
    Sim(self::sim::SimCmd),
    /// Run one node of a cluster on actix, from a TOML configuration.
    Node(self::node::NodeArgs),
    /// A local cluster of node processes on loopback, and real faults against it.
    #[command(subcommand)]
    Cluster(self::cluster::ClusterCmd),
    /// Write a node's ed25519 key pair (node.key, node.pub) into a directory.
    Keygen(self::keygen::KeygenArgs),
    /// Explore every interleaving of a small model, up to a bound.
    Explore(self::explore::ExploreArgs),
    /// Check a recorded history of client operations for linearizability.
    CheckHistory(self::check_history::CheckHistoryArgs),
    /// Failure-detector tools for operators: replay recorded heartbeats, tune thresholds.
    #[command(subcommand)]
    Detector(self::detector::DetectorCmd),
    /// Draw the space-time diagram of a saved trace (`sim --trace`) as an HTML page.
    Diagram(self::diagram::DiagramArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Runs the `palisade` command line on this process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's own rendering: the problem on the first line, then its suggestions
            // ("a similar subcommand exists"), the usage, colour on a terminal. --help and
            // --version print to stdout and exit 0; errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command {
        Cmd::Tour { seeds, html, json } => self::tour::run(seeds, html.as_deref(), json),
        Cmd::Sim(args) => self::sim::run(args),
        Cmd::Detector(cmd) => self::detector::run(cmd),
        Cmd::Keygen(args) => self::keygen::run(args),
        Cmd::Node(args) => self::node::run(args),
        Cmd::Cluster(cmd) => self::cluster::run(cmd),
        Cmd::CheckHistory(args) => self::check_history::run(args),
        Cmd::Explore(args) => self::explore::run(args),
        Cmd::Diagram(args) => self::diagram::run(args),
        Cmd::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "palisade", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            ExitCode::SUCCESS
        }
    }
}
