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
    /// Samples random paths through it, or through a larger model of the same protocol
    /// (`palisade sim NAME --scheduler pct|random`).
    pub sample: Sample,
    /// Replays a counterexample of `run` in the timed simulator.
    pub replay: Replay,
    /// Replays a counterexample of `sample` in the timed simulator, when paths are sampled
    /// from a larger model than the one explored (`None`: `replay` does).
    pub replay_sampled: Option<Replay>,
    /// Searched depth-first unless `--bfs` is given: breadth-first would not fit in memory.
    pub depth_first: bool,
    /// The state bound unless `--max-states` is given, for a model too large to exhaust:
    /// cut where the search takes well under a minute (`None`: [`Options`]' default).
    pub max_states: Option<u64>,
}

impl Explorable {
    /// Replays a counterexample of `sample` in the timed simulator.
    pub fn replay_of_sample(&self) -> Replay {
        self.replay_sampled.unwrap_or(self.replay)
    }
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
    all.push(bracha());
    all
}

/// Bracha broadcast, n = 4 (tolerating f = 1), every node correct: n1 broadcasts one
/// value, and its INITIALs and every node's ECHOs, READYs and delivery notices (some 60
/// messages) arrive in any order, none lost. No timer fires within the horizon (re-sends
/// are for lost messages), so the clocks' rates cannot matter and run exact: with rates at
/// both ends of the drift bound every state would recur under each of 16 assignments.
/// Validity in every state, every node delivered at the end of every path. Far too many
/// interleavings to exhaust without partial-order reduction: searched depth-first (every
/// path runs to its end, where totality is judged) and cut at a million states. Its
/// counterexamples replay with no simulator checkers of their own (the timed `bracha`
/// scenario's are for a Byzantine sender); the model's properties are judged on the
/// simulator's states.
fn bracha() -> Explorable {
    fn setup() -> Setup<palisade_core::quorum::bracha::Bracha> {
        let mut s = super::bracha::explorer_setup(std::time::Duration::from_millis(100), 0);
        s.model.clocks.max_drift_ppm = 0;
        s
    }
    Explorable {
        name: "bracha-correct",
        about: "Bracha broadcast, n = 4, f = 1, every node correct, n1 broadcasts one value: checks that \
                no order of some 60 messages breaks validity or leaves a node undelivered, depth-first \
                and cut at a million states (too many orders to exhaust: evidence, not proof)",
        hazard: false,
        run: |o, p| palisade_sim::explore::explore(&setup(), o, p),
        sample: |sc, seeds| sample(&setup(), sc, seeds),
        replay: |path| palisade_sim::explore::replay_in_simulator(&setup(), path, |_| {}),
        replay_sampled: None,
        depth_first: true,
        max_states: Some(1_000_000),
    }
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
            replay_sampled: None,
            depth_first: false,
            max_states: None,
        },
        Explorable {
            name: "drift-bounded",
            about: "the same clocks, and holders that budget for 30%: one holder at a time in every order \
                    of timers the rates admit",
            hazard: false,
            run: |o, p| explore_lease(300_000, 300_000, o, p),
            sample: |sc, seeds| sample(&super::lease::explorer_setup(300_000, 300_000), sc, seeds),
            replay: |path| replay_lease(300_000, 300_000, path),
            replay_sampled: None,
            depth_first: false,
            max_states: None,
        },
    ]
}

/// The explorable scenario called `name`.
pub fn find(name: &str) -> Option<Explorable> {
    all().into_iter().find(|e| e.name == name)
}
