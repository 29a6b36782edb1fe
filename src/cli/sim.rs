//! `palisade sim`: one scenario, one seed or a sweep, with shrinking of failures.

use super::exit::{format_duration, parse_duration, runtime_error, usage_error};
use super::sweep::sweep;
use crate::scenarios::{self, RunSpec, Scenario};
use palisade_sim::ViolationReport;
use serde::Serialize;
use std::process::ExitCode;
use std::time::Duration;

/// Re-runs allowed when shrinking a failing schedule.
const SHRINK_BUDGET: usize = 300;

/// `palisade sim`: a scenario's runs, or `sim merge` of sharded reports.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SimCmd {
    /// `merge`, instead of running a scenario.
    #[command(subcommand)]
    merge: Option<SimSub>,
    #[command(flatten)]
    args: SimArgs,
}

/// Subcommands of `palisade sim`.
#[derive(clap::Subcommand, Debug)]
enum SimSub {
    /// Merge the `--json` reports of a sharded sweep (`--shard I/N`) into one report.
    Merge(super::shard::MergeArgs),
}

/// Arguments of `palisade sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Scenario name (`--list` lists them).
    #[arg(value_parser = super::names::sim_scenario, required_unless_present = "list")]
    pub(super) scenario: Option<String>,
    /// List every scenario with its one-line description, and exit.
    #[arg(long, exclusive = true)]
    pub(super) list: bool,
    /// First (or only) seed.
    #[arg(long, default_value_t = 1)]
    pub(super) seed: u64,
    /// Number of consecutive seeds to run, starting at --seed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub(super) seeds: u64,
    /// Run only shard I of N of the seeds (every N-th, from the I-th; I from 0): `I/N`, or
    /// `N` with I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or
    /// SLURM_ARRAY_TASK_ID. `palisade sim merge` joins the shards' `--json` reports.
    #[arg(long, value_name = "I/N", value_parser = super::shard::parse_arg)]
    pub(super) shard: Option<super::shard::Shard>,
    /// Simulated time per run, e.g. 60s, 500ms, 2m (default: the scenario's own).
    #[arg(long, value_parser = parse_duration)]
    pub(super) duration: Option<Duration>,
    /// Random faults on top of the scenario's own: a list of crash, torn, pause, partition,
    /// clock, loss, duplicate or all (every kind the scenario's system model admits), each optionally
    /// with a rate per simulated minute (pause=3); `none` turns off a scenario's default
    /// nemesis. Faults are drawn within the model: its fault budget, clock bounds, restarts.
    #[arg(long)]
    pub(super) nemesis: Option<String>,
    /// Force faults the scenario's system model does not admit (same syntax as --nemesis);
    /// the run is labelled outside the model, and a violation there is a demonstration, not
    /// a bug.
    #[arg(long, value_name = "KINDS")]
    pub(super) outside_model: Option<String>,
    /// Print the scenario's system model and exit.
    #[arg(long)]
    pub(super) model: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(super) json: bool,
    /// Write the full event trace as JSON lines to this file (single seed only).
    #[arg(long)]
    pub(super) trace: Option<std::path::PathBuf>,
    /// Write the clients' history of operations as JSON lines to this file, for scenarios
    /// that record one (single seed only); `palisade check-history FILE --model register`
    /// checks it.
    #[arg(long, value_name = "FILE")]
    pub(super) history: Option<std::path::PathBuf>,
    /// Write a self-contained HTML space-time diagram of the run to this file (single seed).
    #[arg(long, value_name = "FILE")]
    pub(super) html: Option<std::path::PathBuf>,
    /// Do not shrink the fault schedule of a failing seed.
    #[arg(long)]
    pub(super) no_shrink: bool,
    /// Swarm testing: each seed runs only a random subset of the nemesis's fault kinds, at
    /// rates scaled up to keep the total (few kinds hard, as well as all kinds at once)
    #[arg(long)]
    pub(super) swarm: bool,
    /// How runs are scheduled: `timed` (the default: the discrete-event simulator with random
    /// delays and the nemesis), or, for scenarios `palisade explore` knows, one random path per
    /// seed through the explorer's model (ABD's with 32 operations per client, more than
    /// `explore` can exhaust): `random` (a uniform choice at every step) or `pct` (random
    /// priorities with --depth - 1 change points; Burckhardt et al. 2010).
    #[arg(long, value_enum, default_value_t = SchedulerArg::Timed)]
    pub(super) scheduler: SchedulerArg,
    /// PCT's bug depth d: the number of ordering constraints it targets (default 3).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(super) depth: Option<u32>,
}

/// `--scheduler`.
#[derive(clap::ValueEnum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SchedulerArg {
    /// The discrete-event simulator.
    Timed,
    /// Uniformly random paths through the scenario's untimed model.
    Random,
    /// PCT paths through the scenario's untimed model.
    Pct,
}

/// What a sweep was asked to run: shards of one sweep agree on it, and `sim merge` checks.
#[derive(Serialize)]
struct SweepSpec {
    first_seed: u64,
    seeds: u64,
    duration_ns: u64,
    nemesis: Option<String>,
    swarm: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    scenario: &'a str,
    sweep: SweepSpec,
    /// This process's shard of the sweep, if it ran one.
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<super::shard::Shard>,
    seeds: Vec<u64>,
    violations: Vec<ViolationReport>,
    events: u64,
    simulated_ns: u64,
    wall_ns: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gst_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shrunk_schedule: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shrunk_violation: Option<ViolationReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<String>,
    model: palisade_core::SystemModel,
    /// Nemesis episodes applied over the sweep: zero means nothing was injected.
    nemesis_episodes: u64,
    /// The same, per kind of fault.
    nemesis_episodes_by_kind: std::collections::BTreeMap<&'static str, u64>,
    /// Kinds forced beyond the model (empty for a run inside it).
    outside_model: Vec<&'static str>,
    /// Messages and frames Byzantine nodes put on the wire, over every seed.
    byzantine_messages: u64,
    /// Of those, the ones that differ from what their honest core sent.
    byzantine_altered: u64,
}

/// The scenarios a `sim` command line runs, and how a replay hint starts.
pub struct Catalogue {
    /// The scenarios, by name.
    pub scenarios: Vec<Scenario>,
    /// Models for `--scheduler random|pct` (none for an author's own binary).
    pub models: Vec<crate::scenarios::explorable::Explorable>,
    /// The command that runs a scenario again, before its name: `palisade sim` (as this
    /// process was started), or an author's own binary.
    pub command: String,
}

impl Catalogue {
    /// palisade's own scenarios and models, under `palisade sim`.
    pub fn builtin() -> Catalogue {
        Catalogue {
            scenarios: scenarios::all(),
            models: crate::scenarios::explorable::all(),
            command: format!("{} sim", super::exit::invocation()),
        }
    }

    fn find(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }
}

/// Runs `palisade sim` or `palisade sim merge` over palisade's own scenarios.
pub fn run(cmd: SimCmd) -> ExitCode {
    run_in(cmd, &Catalogue::builtin())
}

/// Runs a parsed `sim` command line over `catalogue`.
fn run_in(cmd: SimCmd, catalogue: &Catalogue) -> ExitCode {
    match cmd.merge {
        Some(SimSub::Merge(m)) => super::shard::run(m),
        None => run_scenario(cmd.args, catalogue),
    }
}

/// `palisade sim` for your own scenarios, from your own binary: parses this process's
/// arguments as `palisade sim` does (`SCENARIO [--seed N] [--seeds N] [--nemesis KINDS]
/// [--duration 90s] [--shard I/N] [--json] [--trace FILE] [--html FILE] [--no-shrink]`,
/// `--list`, `merge FILES`) and runs them over `scenarios`, with sweeps on every core,
/// progress, shrinking of failures and replay hints naming your binary. Returns the exit
/// status: 0 no violation, 1 a checker failed, 2 bad arguments, 3 a runtime failure.
///
/// ```no_run
/// # fn my_scenarios() -> Vec<palisade::scenarios::Scenario> { Vec::new() }
/// fn main() -> std::process::ExitCode {
///     palisade::cli::sim::sim_main(my_scenarios())
/// }
/// ```
pub fn sim_main(scenarios: Vec<Scenario>) -> ExitCode {
    sim_main_from(scenarios, std::env::args_os())
}

/// [`sim_main`] on the given arguments (the first is the program's name).
pub fn sim_main_from(
    scenarios: Vec<Scenario>,
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> ExitCode {
    use clap::{Args, FromArgMatches};
    let names: Vec<&'static str> = scenarios.iter().map(|s| s.name).collect();
    let validate = move |name: &str| -> Result<String, String> {
        if names.contains(&name) {
            Ok(name.to_owned())
        } else {
            Err(super::names::unknown("scenario", name, names.iter().copied(), "--list"))
        }
    };
    let program = super::exit::invocation();
    let command = SimCmd::augment_args(clap::Command::new("sim").bin_name(program.clone()))
        .about("Run your scenarios in palisade's simulator")
        .mut_arg("scenario", |a| a.value_parser(validate));
    let parsed = command.try_get_matches_from(args).and_then(|m| SimCmd::from_arg_matches(&m));
    let cmd = match parsed {
        Ok(cmd) => cmd,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    run_in(cmd, &Catalogue { scenarios, models: Vec::new(), command: program })
}

/// Seeds one process runs at most (`--shard` spreads more over processes).
pub const MAX_SEEDS: u64 = 100_000_000;

/// The seeds `args` names: `--seeds` from `--seed`, or this process's shard of them
/// (computed, not filtered from the whole range). Refuses a range past `u64::MAX` and more
/// than [`MAX_SEEDS`] in one process.
pub(super) fn seeds_of(args: &SimArgs) -> Result<Vec<u64>, String> {
    let (first, count) = (args.seed, args.seeds);
    if first.checked_add(count - 1).is_none() {
        return Err(format!("--seed {first} --seeds {count} runs past the largest seed, {}", u64::MAX));
    }
    let shard = args.shard.unwrap_or(super::shard::Shard::WHOLE);
    let mine = shard.len(count);
    if mine > MAX_SEEDS {
        return Err(format!(
            "{mine} seeds in one process: at most {MAX_SEEDS}; spread them with --shard I/N"
        ));
    }
    Ok(shard.seeds(first, count).collect())
}

fn run_scenario(args: SimArgs, catalogue: &Catalogue) -> ExitCode {
    if args.list {
        let (all, models) = (&catalogue.scenarios, &catalogue.models);
        out!("{}", super::names::listing(all.iter().map(|s| (s.name, s.about))));
        let only_models = models.iter().filter(|e| all.iter().all(|s| s.name != e.name));
        let extra = super::names::listing(only_models.map(|e| (e.name, e.about)));
        if !extra.is_empty() {
            out!("\nexplorer models only (--scheduler random|pct, `palisade explore`):\n{extra}");
        }
        return ExitCode::SUCCESS;
    }
    if args.scheduler != SchedulerArg::Timed {
        return super::sample::run(&args, catalogue);
    }
    if args.depth.is_some() {
        return usage_error("--depth is PCT's bug depth: use it with --scheduler pct");
    }
    let name = args.scenario.as_deref().unwrap_or_default();
    let Some(sc) = catalogue.find(name) else {
        return usage_error(format!(
            "`{name}` is a model for the explorer only: run it with --scheduler random or pct, or `palisade explore {name}`"
        ));
    };
    if args.trace.is_some() && args.seeds > 1 {
        return usage_error("--trace records one run: use it with a single seed");
    }
    if args.history.is_some() && args.seeds > 1 {
        return usage_error("--history records one run: use it with a single seed");
    }
    if args.html.is_some() && args.seeds > 1 {
        return usage_error("--html draws one run: use it with a single seed");
    }
    if args.model {
        if args.json {
            outln!("{}", serde_json::to_string(&sc.model).unwrap_or_default());
        } else {
            outln!("system model of `{}`:\n{}", sc.name, sc.model);
        }
        return ExitCode::SUCCESS;
    }
    let duration = args.duration.unwrap_or(sc.default_duration);
    let list = args.nemesis.as_deref().or(sc.default_nemesis);
    let off = args.nemesis.as_deref() == Some("none");
    let outside = args.outside_model.as_deref().or(sc.default_outside_model.filter(|_| !off));
    let mut nemesis = match scenarios::nemesis_for(&sc.model, list, outside, duration) {
        Err(e) => return usage_error(e),
        Ok(n) => n,
    };
    if args.swarm {
        match nemesis.as_mut() {
            Some(n) => n.swarm = true,
            None => return usage_error("--swarm needs a nemesis: add --nemesis KINDS"),
        }
    }
    let outside: Vec<&'static str> =
        nemesis.iter().flat_map(|n| n.outside.iter().map(|k| k.name())).collect();
    let started = std::time::Instant::now();
    let seeds = match seeds_of(&args) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    if args.shard.is_some() && (args.trace.is_some() || args.html.is_some() || args.history.is_some()) {
        return usage_error("--trace, --html and --history record one run: not with --shard");
    }
    if args.history.is_some() && !sc.records_history {
        return usage_error(format!("scenario `{}` records no client history", sc.name));
    }
    let outcomes = if seeds.len() == 1 {
        let trace_error = TraceError::default();
        let trace: Option<Box<dyn std::io::Write>> = match &args.trace {
            None => None,
            Some(path) => match std::fs::File::create(path) {
                Ok(f) => {
                    Some(Box::new(Recorded { inner: std::io::BufWriter::new(f), error: trace_error.clone() }))
                }
                Err(e) => return runtime_error(format!("cannot write trace to {}: {e}", path.display())),
            },
        };
        let history = SharedBuf::default();
        let spec = RunSpec {
            nemesis: nemesis.clone(),
            trace,
            history: args.history.as_ref().map(|_| Box::new(history.clone()) as Box<dyn std::io::Write>),
            ..RunSpec::new(seeds[0], duration)
        };
        let outcome = (sc.run)(spec);
        // The scenario has dropped its writer by now, which flushed it.
        if let (Some(path), Some(e)) =
            (&args.trace, trace_error.lock().unwrap_or_else(|e| e.into_inner()).take())
        {
            return runtime_error(format!("cannot write trace to {}: {e}", path.display()));
        }
        if let Some(path) = &args.trace {
            errln!("trace written to {}", path.display());
        }
        if let Some(path) = &args.history {
            let bytes = std::mem::take(&mut *history.0.lock().unwrap_or_else(|e| e.into_inner()));
            if bytes.is_empty() {
                return usage_error(format!("scenario `{}` records no client history", sc.name));
            }
            if let Err(e) = std::fs::write(path, &bytes) {
                return runtime_error(format!("cannot write history to {}: {e}", path.display()));
            }
            errln!(
                "history written to {} ({} events)",
                path.display(),
                bytes.iter().filter(|&&b| b == b'\n').count()
            );
        }
        vec![(seeds[0], outcome)]
    } else {
        sweep(sc, &seeds, duration, nemesis.as_ref()).outcomes
    };
    let wall_ns = started.elapsed().as_nanos() as u64;
    if let Some(path) = &args.html {
        match diagram(sc, seeds[0], duration, nemesis.clone()).and_then(|html| {
            std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }) {
            Ok(()) => errln!("diagram written to {}", path.display()),
            Err(e) => return runtime_error(e),
        }
    }

    let violations: Vec<ViolationReport> =
        outcomes.iter().filter_map(|(_, o)| o.report.violation.clone()).collect();
    let first_failure = outcomes.iter().find(|(_, o)| o.report.violation.is_some());
    let replay =
        first_failure.map(|(seed, _)| replay_command(&catalogue.command, sc, *seed, &args, duration));
    // Shrink the first failure's schedule, then run it once more to say how it fails (the
    // same checker, not necessarily at the same moment).
    let shrunk = match first_failure {
        Some((seed, o)) if !args.no_shrink && !o.schedule.is_empty() => {
            // Only the same checker at the same kind of event, no later, counts as still
            // failing: the shrunk schedule explains this failure, not another.
            let schedule = sc.shrink(*seed, duration, o, SHRINK_BUDGET);
            let rerun =
                (sc.run)(RunSpec { schedule: Some(schedule.clone()), ..RunSpec::new(*seed, duration) });
            Some((schedule.iter().map(|e| e.to_string()).collect::<Vec<_>>(), rerun.report.violation))
        }
        _ => None,
    };
    let (shrunk, shrunk_violation) = match shrunk {
        Some((s, v)) => (Some(s), v),
        None => (None, None),
    };
    let events = outcomes.iter().map(|(_, o)| o.report.events).sum();
    let mut by_kind = std::collections::BTreeMap::new();
    for (_, o) in &outcomes {
        for (k, n) in o.applied_episodes() {
            *by_kind.entry(k).or_insert(0u64) += n;
        }
    }
    let nemesis_episodes: u64 = by_kind.values().sum();
    let simulated_ns = outcomes.iter().map(|(_, o)| o.report.simulated_ns).sum();
    let byzantine_messages: u64 = outcomes.iter().map(|(_, o)| o.report.byzantine_sent).sum();
    let byzantine_altered: u64 = outcomes.iter().map(|(_, o)| o.report.byzantine_altered).sum();
    let single = (outcomes.len() == 1).then(|| &outcomes[0].1);
    let failed = !violations.is_empty();

    if args.json {
        let summary = Summary {
            scenario: sc.name,
            sweep: SweepSpec {
                first_seed: args.seed,
                seeds: args.seeds,
                duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
                nemesis: list.map(str::to_owned),
                swarm: args.swarm,
            },
            shard: args.shard,
            seeds,
            violations,
            events,
            simulated_ns,
            wall_ns,
            trace_hash: single.map(|o| format!("{:016x}", o.report.trace_hash)),
            gst_ns: single.map(|o| o.report.gst_ns),
            shrunk_schedule: shrunk,
            shrunk_violation,
            replay,
            model: sc.model,
            nemesis_episodes,
            nemesis_episodes_by_kind: by_kind,
            outside_model: outside,
            byzantine_messages,
            byzantine_altered,
        };
        outln!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        if let Some(o) = single {
            for line in &o.story {
                outln!("{line}");
            }
        }
        if !outside.is_empty() {
            outln!(
                "OUTSIDE THE MODEL: {} forced beyond what `{}` assumes; violations here demonstrate the model's limits",
                outside.join(", "),
                sc.name
            );
        }
        for v in &violations {
            outln!(
                "VIOLATION seed {} event {} at {:.3}s: {}: {}",
                v.seed,
                v.event,
                v.time_ns as f64 / 1e9,
                v.checker,
                v.message
            );
        }
        if let Some(r) = &replay {
            outln!("replay the first: {r}");
        }
        if let Some(s) = &shrunk {
            if s.is_empty() {
                outln!("the failure needs no faults: with none, the run fails the same way, no later");
            } else {
                outln!(
                    "shrunk fault schedule that fails the same way, no later ({} of {} episode(s)):",
                    s.len(),
                    first_failure.map_or(0, |(_, o)| o.schedule.len())
                );
            }
            for line in s {
                outln!("  {line}");
            }
            if let Some(v) = &shrunk_violation {
                outln!(
                    "  {}: event {} at {:.3}s: {}: {}",
                    if s.is_empty() { "with no faults" } else { "with only these faults" },
                    v.event,
                    v.time_ns as f64 / 1e9,
                    v.checker,
                    v.message
                );
            }
        }
        outln!(
            "{}: {} seed(s), {} violation(s), {nemesis_episodes} nemesis episodes, {}{events} events, {:.1}s simulated in {:.3}s{}",
            sc.name,
            outcomes.len(),
            violations.len(),
            if byzantine_messages > 0 {
                format!("{byzantine_messages} Byzantine messages ({byzantine_altered} altered), ")
            } else {
                String::new()
            },
            simulated_ns as f64 / 1e9,
            wall_ns as f64 / 1e9,
            single.map(|o| format!(", trace hash {:016x}", o.report.trace_hash)).unwrap_or_default()
        );
    }
    if failed { ExitCode::from(super::exit::FAILED) } else { ExitCode::SUCCESS }
}

fn replay_command(command: &str, sc: &Scenario, seed: u64, args: &SimArgs, duration: Duration) -> String {
    let mut cmd = format!("{command} {} --seed {seed}", sc.name);
    if duration != sc.default_duration {
        cmd += &format!(" --duration {}", format_duration(duration));
    }
    let quote = super::exit::quote;
    if let Some(n) = &args.nemesis {
        cmd += &format!(" --nemesis {}", quote(n));
    }
    if let Some(n) = &args.outside_model {
        cmd += &format!(" --outside-model {}", quote(n));
    }
    if args.swarm {
        cmd += " --swarm";
    }
    cmd
}

/// The first error of a [`Recorded`] writer.
type TraceError = std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>;

/// A file writer that keeps its first error, and flushes when dropped: a scenario may ignore
/// its trace writer's errors, or drop it unflushed, and a trace that could not be written
/// must still be reported.
struct Recorded {
    inner: std::io::BufWriter<std::fs::File>,
    error: TraceError,
}

impl Recorded {
    fn note<T>(&self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert_with(|| std::io::Error::new(e.kind(), e.to_string()));
        }
        r
    }
}

impl std::io::Write for Recorded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        let r = std::io::Write::flush(&mut self.inner);
        let _ = self.note(r);
    }
}

/// A writer whose bytes can be read back after the run that owns it has finished.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `seed` of `sc` once more with its trace recorded and draws the space-time diagram
/// as a self-contained HTML page, under `nemesis` if given.
pub fn diagram(
    sc: &Scenario,
    seed: u64,
    duration: Duration,
    nemesis: Option<palisade_sim::NemesisConfig>,
) -> Result<String, String> {
    let buf = SharedBuf::default();
    let spec = RunSpec { nemesis, trace: Some(Box::new(buf.clone())), ..RunSpec::new(seed, duration) };
    let outcome = (sc.run)(spec);
    let bytes = std::mem::take(&mut *buf.0.lock().unwrap_or_else(|e| e.into_inner()));
    let trace = String::from_utf8(bytes).map_err(|e| format!("trace is not UTF-8: {e}"))?;
    let title = format!("palisade sim {} --seed {seed}", sc.name);
    palisade_sim::diagram::render(&title, &trace, outcome.report.violation.as_ref(), outcome.report.gst_ns)
        .map_err(|e| e.to_string())
}
