//! Scenarios small enough to explore exhaustively (`palisade explore NAME`).

use palisade_sim::explore::{Options, Progress, Report};

/// Explores a scenario's model within the options, reporting progress.
pub type Explore = fn(&Options, &mut dyn FnMut(&Progress)) -> Report;

/// A model for the explorer: a protocol, its nodes, workload and properties.
pub struct Explorable {
    /// The name given on the command line.
    pub name: &'static str,
    /// One line on what it shows.
    pub about: &'static str,
    /// True when the model holds a known bug: a counterexample is what it demonstrates.
    pub hazard: bool,
    /// Explores it.
    pub run: Explore,
}

/// Every explorable scenario.
pub fn all() -> Vec<Explorable> {
    super::abd::explorable()
}

/// The explorable scenario called `name`.
pub fn find(name: &str) -> Option<Explorable> {
    all().into_iter().find(|e| e.name == name)
}
