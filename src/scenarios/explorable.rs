//! Scenarios small enough to explore exhaustively (`palisade explore NAME`).

use palisade_core::Protocol;
use palisade_sim::explore::{Options, Path, Progress, Report, Scheduler, Setup, SimReplay, Walk};
use std::hash::Hash;

/// Explores a scenario's model within the options, reporting progress.
pub type Explore = fn(&Options, &mut dyn FnMut(&Progress)) -> Report;

/// Takes one random path through a scenario's model per seed.
pub type Sample = fn(Scheduler, &[u64]) -> Vec<Walk>;

/// Replays a path through a scenario's model in the timed simulator, with the simulator
/// scenario's own checkers.
pub type Replay = fn(&Path) -> Result<SimReplay, String>;

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
    /// Replays a counterexample in the timed simulator.
    pub replay: Replay,
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
    let mut all = super::abd::explorable();
    all.extend(lease());
    all
}

/// Explores a lock-service model within `options`.
fn explore_lease(
    true_ppm: u32,
    configured_ppm: u32,
    options: &Options,
    progress: &mut dyn FnMut(&Progress),
) -> Report {
    palisade_sim::explore::explore(&super::lease::explorer_setup(true_ppm, configured_ppm), options, progress)
}

/// Replays a path through a lock-service model in the timed simulator, with the lease
/// scenarios' safety checkers (one holder, tokens and grants in order, and the storage's
/// fencing rule when the model fences).
fn replay_lease(true_ppm: u32, configured_ppm: u32, path: &Path) -> Result<SimReplay, String> {
    let setup = super::lease::explorer_setup(true_ppm, configured_ppm);
    let (term, fenced) = (setup.config.term, setup.config.hazards.is_none());
    palisade_sim::explore::replay_in_simulator(&setup, path, |sim| {
        super::lease::add_checkers(sim, term, fenced, false);
    })
}

/// The lock service's explorable models: clocks that drift 30% either way, and holders that
/// budget for 1% (`drift-violation`) or for 30% (`drift-bounded`).
fn lease() -> Vec<Explorable> {
    vec![
        Explorable {
            name: "drift-violation",
            about: "grantor, storage and two clients whose clocks run 30% fast or slow while the holders \
                    budget for 1%: a slow holder still trusts a lease the grantor has given away",
            hazard: true,
            run: |o, p| explore_lease(300_000, 10_000, o, p),
            sample: |sc, seeds| sample(&super::lease::explorer_setup(300_000, 10_000), sc, seeds),
            replay: |path| replay_lease(300_000, 10_000, path),
        },
        Explorable {
            name: "drift-bounded",
            about: "the same clocks, and holders that budget for 30%: one holder at a time in every order \
                    of timers the rates admit",
            hazard: false,
            run: |o, p| explore_lease(300_000, 300_000, o, p),
            sample: |sc, seeds| sample(&super::lease::explorer_setup(300_000, 300_000), sc, seeds),
            replay: |path| replay_lease(300_000, 300_000, path),
        },
    ]
}

/// The explorable scenario called `name`.
pub fn find(name: &str) -> Option<Explorable> {
    all().into_iter().find(|e| e.name == name)
}
