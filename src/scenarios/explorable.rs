//! Scenarios small enough to explore exhaustively (`palisade explore NAME`).

use palisade_core::Protocol;
use palisade_sim::explore::{Options, Progress, Report, Scheduler, Setup, Walk};
use std::hash::Hash;

/// Explores a scenario's model within the options, reporting progress.
pub type Explore = fn(&Options, &mut dyn FnMut(&Progress)) -> Report;

/// Takes one random path through a scenario's model per seed.
pub type Sample = fn(Scheduler, &[u64]) -> Vec<Walk>;

/// The longest random path: far beyond any model here, a guard against one that never ends.
pub const MAX_WALK_STEPS: usize = 100_000;

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
    /// Samples random paths through it (`palisade sim NAME --scheduler pct|random`).
    pub sample: Sample,
}

/// One path per seed through `setup` under `scheduler`; PCT's path-length estimate `k` is
/// the length of one uniformly random path, measured once for all seeds.
pub fn sample<P>(setup: &Setup<P>, scheduler: Scheduler, seeds: &[u64]) -> Vec<Walk>
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let k = palisade_sim::explore::estimate_length(setup, MAX_WALK_STEPS);
    seeds.iter().map(|&seed| palisade_sim::explore::walk(setup, scheduler, seed, k, MAX_WALK_STEPS)).collect()
}

/// Every explorable scenario.
pub fn all() -> Vec<Explorable> {
    super::abd::explorable()
}

/// The explorable scenario called `name`.
pub fn find(name: &str) -> Option<Explorable> {
    all().into_iter().find(|e| e.name == name)
}
