//! Named simulation scenarios: a protocol, a network, a fault schedule and the checkers
//! that must hold. `palisade sim NAME` runs one; the tour and the tests use the same ones.

pub mod detector;

use palisade_sim::RunReport;
use std::io::Write;
use std::time::Duration;

/// One run of a scenario.
pub struct Outcome {
    /// The simulator's report (violation included, if any).
    pub report: RunReport,
    /// Human-readable lines describing what happened (for the terminal).
    pub story: Vec<String>,
}

/// A named, runnable scenario.
pub struct Scenario {
    /// The name given on the command line.
    pub name: &'static str,
    /// One line on what it shows.
    pub about: &'static str,
    /// Simulated time a run covers unless told otherwise.
    pub default_duration: Duration,
    /// Runs one seed for `duration`, exporting the trace to `trace` if given.
    pub run: fn(seed: u64, duration: Duration, trace: Option<Box<dyn Write>>) -> Outcome,
}

/// Every scenario, in the order the CLI lists them.
pub fn all() -> Vec<Scenario> {
    detector::scenarios()
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}
