//! Named simulation scenarios: a protocol, a network, a fault schedule and the checkers
//! that must hold. `palisade sim NAME` runs one; the tour and the tests use the same ones.

// The built-in scenarios are public so that the binary, the tests and the examples reach
// them, and hidden from the documentation: they are the tour's demonstrations, changed
// whenever the tour is, not an API to build on. What is documented here (`Scenario`,
// `RunSpec`, `Outcome`, the sweep) is how to write and run scenarios of your own.
#[doc(hidden)]
pub mod abd;
#[doc(hidden)]
pub mod bft_register;
#[doc(hidden)]
pub mod bracha;
#[doc(hidden)]
pub mod clock;
#[doc(hidden)]
pub mod commit_wait;
#[doc(hidden)]
pub mod detector;
#[doc(hidden)]
pub mod explorable;
#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod hazards;
#[doc(hidden)]
pub mod lease;
#[doc(hidden)]
pub mod locks;
#[doc(hidden)]
pub mod lww;
pub mod sweep;

pub use sweep::{Counters, SweepReport};

use palisade_core::quorum::VoteKeys;
use palisade_core::{NodeId, Rng, SystemModel};
use palisade_sim::nemesis::{self, NemesisConfig, Schedule};
use palisade_sim::{RunReport, Simulation};
use std::io::Write;
use std::time::Duration;

/// One seed in this many signs with real ed25519 in the Byzantine scenarios; the others
/// use ideal signatures.
pub const REAL_SIGNATURES_EVERY: u64 = 16;

/// The keys a Byzantine scenario signs with for `seed`: ideal signatures
/// ([`VoteKeys::Ideal`]: the same protocol behaviour at a fraction of the cost of an
/// elliptic-curve operation), except every [`REAL_SIGNATURES_EVERY`]th seed from the first
/// (1, 17, 33, ...), which signs and verifies with real ed25519 ([`VoteKeys::Test`]), so
/// every sweep from seed 1 runs the real code path. A seed's verdict does not depend on
/// which it gets (the scenarios' `simulation_with_keys` functions force either, and
/// `tests/byzantine.rs` compares them).
pub fn vote_keys(seed: u64, cluster: u64) -> VoteKeys {
    if seed % REAL_SIGNATURES_EVERY == 1 { VoteKeys::Test(cluster) } else { VoteKeys::Ideal(cluster) }
}

/// How to run a scenario once.
#[non_exhaustive]
pub struct RunSpec {
    /// The seed.
    pub seed: u64,
    /// Simulated time to cover.
    pub duration: Duration,
    /// A random nemesis on top of the scenario's own faults, if any.
    pub nemesis: Option<NemesisConfig>,
    /// An explicit nemesis schedule (used when shrinking); overrides `nemesis`.
    pub schedule: Option<Schedule>,
    /// Where to export the trace as JSON lines.
    pub trace: Option<Box<dyn Write>>,
    /// Where to export the clients' history of operations as JSON lines (the format
    /// `palisade check-history` reads), for scenarios that record one; others write nothing.
    pub history: Option<Box<dyn Write>>,
}

impl RunSpec {
    palisade_core::__config_setters! {
        seed: u64,
        duration: Duration,
        nemesis: Option<NemesisConfig>,
        schedule: Option<Schedule>,
        trace: Option<Box<dyn Write>>,
        history: Option<Box<dyn Write>>,
    }
}

impl RunSpec {
    /// One seed for `duration`, no nemesis, no trace, no history export.
    pub fn new(seed: u64, duration: Duration) -> Self {
        RunSpec { seed, duration, nemesis: None, schedule: None, trace: None, history: None }
    }

    /// The nemesis schedule for this run: the explicit one, or one drawn from the seed.
    pub fn schedule_for(&self, nodes: &[NodeId]) -> Schedule {
        match (&self.schedule, &self.nemesis) {
            (Some(s), _) => s.clone(),
            (None, Some(n)) => {
                n.generate(nodes, &mut Rng::from_seed(self.seed ^ palisade_sim::NEMESIS_STREAM))
            }
            (None, None) => Vec::new(),
        }
    }

    /// Schedules this run's nemesis faults on `sim` and attaches its trace export; returns
    /// the schedule used.
    pub fn prepare<P: palisade_core::Protocol>(
        &mut self,
        sim: &mut Simulation<P>,
        nodes: &[NodeId],
    ) -> Schedule {
        let schedule = self.schedule_for(nodes);
        sim.schedule_all(nemesis::faults(&schedule));
        if let Some(t) = self.trace.take() {
            sim.export_trace(t);
        }
        schedule
    }
}

/// One run of a scenario.
pub struct Outcome {
    /// The simulator's report (violation included, if any).
    pub report: RunReport,
    /// Human-readable lines describing what happened (for the terminal).
    pub story: Vec<String>,
    /// The nemesis schedule the run used.
    pub schedule: Schedule,
}

impl Outcome {
    /// The nemesis episodes that took effect, per kind: every drawn episode counts, except a
    /// torn write, which counts only if its node persisted while it was armed (a protocol
    /// that never persists then cannot be torn, and a report must not say it was).
    pub fn applied_episodes(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let mut by_kind = std::collections::BTreeMap::new();
        for e in &self.schedule {
            match e.kind() {
                Some(nemesis::NemesisKind::Torn) | None => {}
                Some(k) => *by_kind.entry(k.name()).or_insert(0) += 1,
            }
        }
        if self.report.torn_writes > 0 {
            by_kind.insert(nemesis::NemesisKind::Torn.name(), self.report.torn_writes);
        }
        by_kind
    }
}

/// A named, runnable scenario. Build one with [`Scenario::new`] and the methods after it.
#[non_exhaustive]
pub struct Scenario {
    /// The name given on the command line.
    pub name: &'static str,
    /// One line on what it shows.
    pub about: &'static str,
    /// Simulated time a run covers unless told otherwise.
    pub default_duration: Duration,
    /// The nemesis this scenario runs under unless told otherwise (`--nemesis` syntax).
    pub default_nemesis: Option<&'static str>,
    /// Faults beyond the scenario's model that it forces by default to demonstrate a hazard
    /// (`--outside-model` syntax); such runs are labelled outside the model.
    pub default_outside_model: Option<&'static str>,
    /// True for a scenario that shows a hazard: violations are what it demonstrates, so the
    /// tour reports them without failing.
    pub hazard: bool,
    /// True when a run writes the clients' history of operations to [`RunSpec::history`]
    /// (`palisade sim --history` refuses, before running, a scenario that does not).
    pub records_history: bool,
    /// The system model the scenario's protocol assumes: the random nemesis draws only the
    /// faults it admits, within its fault budget.
    pub model: SystemModel,
    /// Runs once.
    pub run: fn(RunSpec) -> Outcome,
}

impl Scenario {
    /// A scenario under every fault `model` admits (`--nemesis all` by default), 60 simulated
    /// seconds a run, not a hazard; adjust with [`Self::hazard`], [`Self::duration`] and
    /// [`Self::nemesis`].
    pub fn new(
        name: &'static str,
        about: &'static str,
        model: SystemModel,
        run: fn(RunSpec) -> Outcome,
    ) -> Self {
        Scenario {
            name,
            about,
            default_duration: Duration::from_secs(60),
            default_nemesis: Some("all"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model,
            run,
        }
    }

    /// Marks the scenario as a hazard demonstration: its violations are expected.
    pub fn hazard(mut self) -> Self {
        self.hazard = true;
        self
    }

    /// Declares that runs write the clients' history to [`RunSpec::history`].
    pub fn records_history(mut self) -> Self {
        self.records_history = true;
        self
    }

    /// Simulated time per run unless `--duration` says otherwise.
    pub fn duration(mut self, d: Duration) -> Self {
        self.default_duration = d;
        self
    }

    /// The default nemesis, in `--nemesis` syntax (`none` for none).
    pub fn nemesis(mut self, kinds: &'static str) -> Self {
        self.default_nemesis = Some(kinds).filter(|k| *k != "none");
        self
    }

    /// Shrinks the nemesis schedule of a failing run to a smallest one that still fails the
    /// same way, within `budget` re-runs: the same checker at the same kind of event, no
    /// later than the original ([`palisade_sim::ViolationReport::reproduced_by`]), so the
    /// shrunk schedule explains this failure, not another one it happens to reach. An empty
    /// result means the failure needs no faults at all.
    pub fn shrink(&self, seed: u64, duration: Duration, failing: &Outcome, budget: usize) -> Schedule {
        let Some(original) = &failing.report.violation else { return failing.schedule.clone() };
        let seeded = failing.schedule.clone();
        nemesis::shrink(seeded, budget, |candidate| {
            let spec = RunSpec { schedule: Some(candidate.to_vec()), ..RunSpec::new(seed, duration) };
            (self.run)(spec).report.violation.is_some_and(|v| original.reproduced_by(&v))
        })
    }
}

/// The nemesis for a run of `duration` under `model`: `list` in the `--nemesis` syntax (`all`
/// is every kind the model admits), `outside` the kinds forced beyond the model. Faults start
/// after 1 s and have all ended by two thirds of the run, leaving the last third to check
/// recovery after GST.
pub fn nemesis_for(
    model: &SystemModel,
    list: Option<&str>,
    outside: Option<&str>,
    duration: Duration,
) -> Result<Option<NemesisConfig>, String> {
    let list = list.filter(|l| *l != "none");
    if list.is_none() && outside.is_none() {
        return Ok(None);
    }
    let (start, end) = (Duration::from_secs(1), duration * 2 / 3);
    NemesisConfig::for_model(model, list, outside, start, end).map(Some)
}

impl Scenario {
    /// The nemesis the scenario runs under by default, if any.
    pub fn default_nemesis_config(&self, duration: Duration) -> Option<NemesisConfig> {
        nemesis_for(&self.model, self.default_nemesis, None, duration)
            .expect("a scenario's default nemesis fits its model")
    }
}

/// Runs seeds `1..=seeds` of the scenario called `name` under its default nemesis and
/// duration, one after another, and returns the failing seeds with their checkers.
/// Panics if there is no such scenario (a test helper).
pub fn violations(name: &str, seeds: u64) -> Vec<(u64, &'static str)> {
    let sc = find(name).unwrap_or_else(|| panic!("no scenario `{name}`"));
    let nemesis = sc.default_nemesis_config(sc.default_duration);
    (1..=seeds)
        .filter_map(|seed| {
            let spec = RunSpec { nemesis: nemesis.clone(), ..RunSpec::new(seed, sc.default_duration) };
            (sc.run)(spec).report.violation.map(|v| (seed, v.checker))
        })
        .collect()
}

/// What a sweep under a chosen nemesis found: the failing seeds with their checkers, and
/// how many nemesis episodes the runs applied (zero means nothing was injected).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelSweep {
    /// Failing seeds and the checker that fired.
    pub violations: Vec<(u64, &'static str)>,
    /// Nemesis episodes applied over all seeds.
    pub episodes: u64,
}

/// Runs seeds `1..=seeds` of the scenario called `name` under the nemesis `list` (the
/// `--nemesis` syntax, drawn within the scenario's model) at its default duration, one
/// after another. Panics if there is no such scenario or the list does not fit its model
/// (a test helper).
pub fn sweep_within_model(name: &str, list: &str, seeds: u64) -> ModelSweep {
    let sc = find(name).unwrap_or_else(|| panic!("no scenario `{name}`"));
    let nemesis = nemesis_for(&sc.model, Some(list), None, sc.default_duration)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = ModelSweep::default();
    for seed in 1..=seeds {
        let spec = RunSpec { nemesis: nemesis.clone(), ..RunSpec::new(seed, sc.default_duration) };
        let outcome = (sc.run)(spec);
        out.episodes += outcome.applied_episodes().values().sum::<u64>();
        if let Some(v) = outcome.report.violation {
            out.violations.push((seed, v.checker));
        }
    }
    out
}

/// Every scenario, in the order the CLI lists them.
pub fn all() -> Vec<Scenario> {
    let mut all = detector::scenarios();
    all.extend(lease::scenarios());
    all.extend(clock::scenarios());
    all.extend(lww::scenarios());
    all.extend(commit_wait::scenarios());
    all.extend(bracha::scenarios());
    all.extend(bft_register::scenarios());
    all.extend(abd::scenarios());
    all.extend(locks::scenarios());
    all.extend(fuzzing::scenarios());
    all
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}
