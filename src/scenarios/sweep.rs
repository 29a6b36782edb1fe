//! Many seeds of a scenario on every core, for tests and for the command line: a report a
//! `#[test]` can assert on, naming the command that replays each failing seed.

use super::{Outcome, RunSpec, Scenario};
use palisade_sim::{NemesisConfig, ViolationReport};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Seeds finished and seeds failing so far, for a progress display.
#[derive(Debug, Default)]
pub struct Counters {
    done: AtomicU64,
    failing: AtomicU64,
}

impl Counters {
    /// Seeds run so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Of those, seeds that broke a checker.
    pub fn failing(&self) -> u64 {
        self.failing.load(Ordering::Relaxed)
    }
}

/// Runs `seeds` of `scenario` for `duration` under `nemesis`, one worker per core, counting
/// into `counters`. Results come back in seed order, so a sweep is as deterministic as each
/// run.
pub fn run_seeds(
    scenario: &Scenario,
    seeds: &[u64],
    duration: Duration,
    nemesis: Option<&NemesisConfig>,
    counters: &Counters,
) -> Vec<(u64, Outcome)> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(seeds.len()).max(1);
    let next = AtomicU64::new(0);
    let results = Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&seed) = seeds.get(i) else { break };
                    let spec = RunSpec { nemesis: nemesis.cloned(), ..RunSpec::new(seed, duration) };
                    let outcome = (scenario.run)(spec);
                    if outcome.report.violation.is_some() {
                        counters.failing.fetch_add(1, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner()).push((seed, outcome));
                    counters.done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let mut outcomes = results.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|(seed, _)| *seed);
    outcomes
}

/// What [`Scenario::sweep`] found.
pub struct SweepReport {
    /// The scenario's name.
    pub scenario: &'static str,
    /// Every seed's outcome, in seed order.
    pub outcomes: Vec<(u64, Outcome)>,
    /// Each run's simulated time.
    pub duration: Duration,
}

impl SweepReport {
    /// The seeds that broke a checker, with what broke.
    pub fn failures(&self) -> impl Iterator<Item = (u64, &ViolationReport)> {
        self.outcomes.iter().filter_map(|(seed, o)| o.report.violation.as_ref().map(|v| (*seed, v)))
    }

    /// Nemesis episodes injected over the sweep: zero means no fault was tried.
    pub fn nemesis_episodes(&self) -> u64 {
        self.outcomes.iter().map(|(_, o)| o.applied_episodes().values().sum::<u64>()).sum()
    }

    /// How to run `seed` again: the command-line form (`NAME --seed N` for a binary built on
    /// `cli::sim::sim_main`, or `palisade sim NAME --seed N` for a built-in scenario) and
    /// the code form.
    pub fn replay(&self, seed: u64) -> String {
        format!(
            "`{name} --seed {seed}` on your `sim_main` binary (`palisade sim {name} --seed {seed}` for a built-in \
             scenario), or `(scenario.run)(RunSpec {{ nemesis, ..RunSpec::new({seed}, Duration::from_nanos({})) }})`",
            self.duration.as_nanos(),
            name = self.scenario
        )
    }

    /// Panics, naming every failing seed with its checker, message and replay command, if
    /// any seed broke a checker.
    #[track_caller]
    pub fn assert_holds(&self) {
        let failures: Vec<String> = self
            .failures()
            .map(|(seed, v)| {
                format!("seed {seed}: {}: {}\n  replay: {}", v.checker, v.message, self.replay(seed))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{}: {} of {} seeds failed:\n{}",
            self.scenario,
            failures.len(),
            self.outcomes.len(),
            failures.join("\n")
        );
    }

    /// Panics unless some seed broke `checker` and no seed broke another one: how a test
    /// pins a hazard demonstration to the property it demonstrates.
    #[track_caller]
    pub fn assert_breaks(&self, checker: &str) {
        let failures: Vec<(u64, &ViolationReport)> = self.failures().collect();
        assert!(
            !failures.is_empty(),
            "{}: no seed of {} broke {checker}",
            self.scenario,
            self.outcomes.len()
        );
        if let Some((seed, v)) = failures.iter().find(|(_, v)| v.checker != checker) {
            panic!(
                "{}: seed {seed} broke {} ({}), not {checker}\n  replay: {}",
                self.scenario,
                v.checker,
                v.message,
                self.replay(*seed)
            );
        }
    }
}

impl Scenario {
    /// Runs `seeds` under the scenario's default duration and nemesis on every core: the
    /// form for a `#[test]` (`scenario.sweep(1..=200).assert_holds()`).
    pub fn sweep(&self, seeds: impl IntoIterator<Item = u64>) -> SweepReport {
        let seeds: Vec<u64> = seeds.into_iter().collect();
        let duration = self.default_duration;
        let nemesis = self.default_nemesis_config(duration);
        let outcomes = run_seeds(self, &seeds, duration, nemesis.as_ref(), &Counters::default());
        SweepReport { scenario: self.name, outcomes, duration }
    }
}
