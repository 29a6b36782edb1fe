//! The random nemesis: a seeded generator of fault schedules, in episodes that the shrinker
//! can drop or shorten one at a time.

use crate::fault::{Fault, FaultKind};
use crate::net::{LinkConfig, Partition};
use palisade_core::{NodeId, Rng, SystemModel};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A kind of fault the nemesis injects.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum NemesisKind {
    /// A node crashes and restarts from its persisted state after a while.
    Crash,
    /// A node crashes in the middle of a persist: that write is lost (torn), then it restarts.
    Torn,
    /// A node pauses (GC, VM suspension).
    Pause,
    /// A partition of a random Jepsen shape, healed after a while.
    Partition,
    /// A node's wall clock steps forwards or backwards.
    Clock,
    /// Every link loses a large share of messages for a while.
    Loss,
    /// Every link delivers a share of messages twice for a while, the copies late and out of
    /// order.
    Duplicate,
}

impl NemesisKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [NemesisKind; 7] = [
        NemesisKind::Crash,
        NemesisKind::Torn,
        NemesisKind::Pause,
        NemesisKind::Partition,
        NemesisKind::Clock,
        NemesisKind::Loss,
        NemesisKind::Duplicate,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Crash => "crash",
            NemesisKind::Torn => "torn",
            NemesisKind::Pause => "pause",
            NemesisKind::Partition => "partition",
            NemesisKind::Clock => "clock",
            NemesisKind::Loss => "loss",
            NemesisKind::Duplicate => "duplicate",
        }
    }
}

/// The random stream a run's nemesis schedule is drawn from: the run's seed XOR this. The
/// command line, the scenarios and [`crate::Simulation::add_nemesis`] all draw from it, so a
/// seed means the same faults everywhere.
pub const NEMESIS_STREAM: u64 = 0x6e65_6d65_7369_7321;

/// A fault schedule as episodes: each episode is one fault with its end (a crash and its
/// restart, a partition and its heal), so shrinking never leaves half of one behind.
pub type Schedule = Vec<Episode>;

/// One fault and, where it has one, the fault that ends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    /// The faults, in time order.
    pub faults: Vec<Fault>,
}

impl Episode {
    /// A shorter version of this episode (half the duration), or `None` if it is already
    /// instantaneous or shorter than a millisecond.
    pub fn shortened(&self) -> Option<Episode> {
        let min = Duration::from_millis(1);
        match self.faults.as_slice() {
            [Fault { at, kind: FaultKind::Pause { node, duration } }] if *duration > min => {
                Some(Episode { faults: vec![Fault::pause(*node, *at, *duration / 2)] })
            }
            [start, end] if end.at - start.at > min => {
                let mut end = end.clone();
                end.at = start.at + (end.at - start.at) / 2;
                Some(Episode { faults: vec![start.clone(), end] })
            }
            _ => None,
        }
    }

    /// A simpler version of this episode: half the clock step, half the drift, half the
    /// duplication rate; `None` for faults with nothing to halve, or already small (a step
    /// under a millisecond, a drift of 1 ppm, a rate under 2%).
    pub fn simplified(&self) -> Option<Episode> {
        let first = self.faults.first()?;
        let kind = match first.kind {
            FaultKind::WallStep { node, by_ns } if by_ns.unsigned_abs() > 1_000_000 => {
                FaultKind::WallStep { node, by_ns: by_ns / 2 }
            }
            FaultKind::WallStepWithin { node, by_ns, bound_ns } if by_ns.unsigned_abs() > 1_000_000 => {
                FaultKind::WallStepWithin { node, by_ns: by_ns / 2, bound_ns }
            }
            FaultKind::Drift { node, ppm } if ppm.abs() > 1 => FaultKind::Drift { node, ppm: ppm / 2 },
            FaultKind::Duplicate { rate } if rate >= 0.02 => FaultKind::Duplicate { rate: rate / 2.0 },
            _ => return None,
        };
        let mut faults = self.faults.clone();
        faults[0] = Fault { at: first.at, kind };
        Some(Episode { faults })
    }

    /// When the episode's last fault ends.
    pub fn ends_at(&self) -> Duration {
        self.faults.iter().map(Fault::ends_at).max().unwrap_or_default()
    }
}

impl fmt::Display for Episode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.faults.iter().map(describe).collect();
        f.write_str(&parts.join("; "))
    }
}

/// One line describing a fault, e.g. `12.500s pause n2 for 1.200s`.
pub fn describe(fault: &Fault) -> String {
    let at = fault.at.as_secs_f64();
    match &fault.kind {
        FaultKind::Crash(n) => format!("{at:.3}s crash {n}"),
        FaultKind::Restart(n) => format!("{at:.3}s restart {n}"),
        FaultKind::TornWrite(n) => format!("{at:.3}s {n} crashes during its next persist (torn write)"),
        FaultKind::Pause { node, duration } => {
            format!("{at:.3}s pause {node} for {:.3}s", duration.as_secs_f64())
        }
        FaultKind::Partition(p) => {
            format!("{at:.3}s partition cutting {} links: {}", p.cut.len(), cut_summary(p))
        }
        FaultKind::Heal => format!("{at:.3}s heal"),
        FaultKind::Degrade(l) => format!("{at:.3}s degrade every link (loss {:.0}%)", l.loss * 100.0),
        FaultKind::RestoreLinks => format!("{at:.3}s restore links"),
        FaultKind::Duplicate { rate } => {
            format!("{at:.3}s every link duplicates {:.0}% of messages", rate * 100.0)
        }
        FaultKind::StopDuplicating => format!("{at:.3}s links stop duplicating"),
        FaultKind::WallStep { node, by_ns } => {
            format!("{at:.3}s {node} wall clock steps {:+.3}s", *by_ns as f64 / 1e9)
        }
        FaultKind::WallStepWithin { node, by_ns, bound_ns } => format!(
            "{at:.3}s {node} wall clock steps {:+.3}s (kept within ±{:.3}s of true time)",
            *by_ns as f64 / 1e9,
            *bound_ns as f64 / 1e9
        ),
        FaultKind::Drift { node, ppm } => format!("{at:.3}s {node} drifts {ppm:+} ppm"),
    }
}

fn cut_summary(p: &Partition) -> String {
    let links: Vec<String> = p.cut.iter().take(6).map(|(a, b)| format!("{a}->{b}")).collect();
    let more = p.cut.len().saturating_sub(6);
    if more > 0 { format!("{} and {more} more", links.join(" ")) } else { links.join(" ") }
}

/// Flattens a schedule into faults in time order.
pub fn faults(schedule: &[Episode]) -> Vec<Fault> {
    let mut all: Vec<Fault> = schedule.iter().flat_map(|e| e.faults.iter().cloned()).collect();
    all.sort_by_key(|f| f.at);
    all
}

/// The seeded random nemesis: which faults, how often, and when.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct NemesisConfig {
    /// Faults per simulated minute, per kind.
    pub rates: BTreeMap<NemesisKind, f64>,
    /// Faults start no earlier than this.
    pub start: Duration,
    /// Every fault has ended by this time: the latest possible GST.
    pub end: Duration,
    /// Longest crash, pause, partition or loss burst.
    pub max_duration: Duration,
    /// Largest wall-clock step, either way.
    pub max_clock_step: Duration,
    /// The most honest nodes crashed or paused at the same time (the model's fault budget);
    /// `None` for no limit.
    pub max_down: Option<u32>,
    /// Crashes are for good (a crash-stop model): no restart follows.
    pub crash_stop: bool,
    /// The longest pause within the model (a synchronous model's bound); `None` for any.
    pub max_pause: Option<Duration>,
    /// Within-model wall-clock steps never leave a clock further than this from true time
    /// (the model's bound on a correct clock's offset).
    pub max_clock_offset: Option<Duration>,
    /// Kinds forced beyond the model (`--outside-model`): drawn without the model's limits
    /// (restarts, budget, step and pause bounds), and the run is labelled outside the model.
    pub outside: BTreeSet<NemesisKind>,
    /// Smallest wall-clock step of an outside-the-model clock fault (just beyond the
    /// model's bound).
    pub outside_clock_step: Duration,
    /// Swarm testing (Groce et al., ISSTA 2012): each schedule first draws which of the
    /// within-model kinds are enabled (each with probability 1/2, at least one) and runs
    /// those at proportionally higher rates (the total rate is kept), so a sweep covers runs
    /// with few kinds at high intensity as well as all kinds at once.
    pub swarm: bool,
}

impl NemesisConfig {
    palisade_core::__config_setters! {
        rates: BTreeMap<NemesisKind, f64>,
        start: Duration,
        end: Duration,
        max_duration: Duration,
        max_clock_step: Duration,
        max_down: Option<u32>,
        crash_stop: bool,
        max_pause: Option<Duration>,
        max_clock_offset: Option<Duration>,
        outside: BTreeSet<NemesisKind>,
        outside_clock_step: Duration,
        swarm: bool,
    }
}

/// The rate a kind named without one on the command line gets: faults per simulated minute.
pub const DEFAULT_RATE_PER_MIN: f64 = 4.0;

impl NemesisKind {
    /// Whether `model` admits this kind of fault, and if not, why.
    pub fn admitted_by(self, model: &SystemModel) -> Result<(), &'static str> {
        match self {
            NemesisKind::Crash if !model.admits_crashes() => Err("honest nodes never crash"),
            NemesisKind::Torn if !model.admits_restarts() => {
                Err("no crash-recovery: a torn persist needs a restart to matter")
            }
            NemesisKind::Pause if model.max_pause() == Some(Duration::ZERO) => Err("processes never pause"),
            NemesisKind::Partition if !model.admits_partitions() => Err("links are never cut"),
            NemesisKind::Clock if model.clocks.max_wall_step.is_none() => {
                Err("wall clocks are never stepped")
            }
            NemesisKind::Loss if !model.network.loss => Err("messages are never lost"),
            NemesisKind::Duplicate if !model.network.duplication => Err("messages are never duplicated"),
            _ => Ok(()),
        }
    }
}

impl NemesisConfig {
    /// The given kinds at their rates, active in `[start, end)`, with moderate defaults
    /// for durations (up to 5 s) and clock steps (up to 2 s), and no model limits.
    pub fn new(rates: BTreeMap<NemesisKind, f64>, start: Duration, end: Duration) -> Self {
        NemesisConfig {
            rates,
            start,
            end,
            max_duration: Duration::from_secs(5),
            max_clock_step: Duration::from_secs(2),
            max_down: None,
            crash_stop: false,
            max_pause: None,
            max_clock_offset: None,
            outside: BTreeSet::new(),
            outside_clock_step: Duration::from_secs(2),
            swarm: false,
        }
    }

    /// A nemesis for a run under `model`: `list` in the `--nemesis` syntax (where `all` means
    /// every kind the model admits) and `outside` in the same syntax for kinds forced beyond
    /// it. Naming a kind in `list` that the model does not admit is an error that says why.
    pub fn for_model(
        model: &SystemModel,
        list: Option<&str>,
        outside: Option<&str>,
        start: Duration,
        end: Duration,
    ) -> Result<Self, String> {
        let mut rates = BTreeMap::new();
        let inside = match list {
            Some(l) => Self::parse_list(l)?,
            None => BTreeMap::new(),
        };
        for (kind, (rate, named)) in inside {
            match kind.admitted_by(model) {
                Ok(()) => {
                    rates.insert(kind, rate);
                }
                Err(why) if named => {
                    return Err(format!(
                        "the scenario's model does not admit `{}` faults ({why}); use --outside-model {} to force them",
                        kind.name(),
                        kind.name()
                    ));
                }
                Err(_) => {} // `all` means every kind the model admits
            }
        }
        let mut forced = BTreeSet::new();
        if let Some(list) = outside {
            for (kind, (rate, named)) in Self::parse_list(list)? {
                // Clock steps and pauses can go beyond a model that admits some of them (a
                // larger step, a longer pause); other kinds the model admits cannot be forced
                // "outside" it, and a run must not be labelled a demonstration for them.
                let beyond = kind.admitted_by(model).is_err()
                    || (kind == NemesisKind::Clock && model.clocks.max_wall_step.is_some())
                    || (kind == NemesisKind::Pause && model.max_pause().is_some());
                if !beyond {
                    if named {
                        return Err(format!(
                            "`{}` faults are within the scenario's model: use --nemesis {}",
                            kind.name(),
                            kind.name()
                        ));
                    }
                    continue; // `all`: only what lies beyond
                }
                rates.insert(kind, rate);
                forced.insert(kind);
            }
        }
        let mut cfg = NemesisConfig::new(rates, start, end);
        if let Some(step) = model.clocks.max_wall_step {
            cfg.max_clock_step = step;
            cfg.outside_clock_step = step + Duration::from_millis(1);
        } else {
            cfg.outside_clock_step = Duration::from_millis(1);
        }
        cfg.max_pause = model.max_pause();
        cfg.max_down = model.max_down;
        cfg.max_clock_offset = model.clocks.max_offset;
        cfg.crash_stop = !model.admits_restarts();
        cfg.outside = forced;
        Ok(cfg)
    }

    /// True when the run forces faults beyond its model.
    pub fn is_outside_model(&self) -> bool {
        !self.outside.is_empty()
    }

    /// Parses a list like `pause=3,partition,crash` (rates per simulated minute; a kind
    /// without one gets [`DEFAULT_RATE_PER_MIN`]); `all` names every kind.
    pub fn parse_rates(list: &str) -> Result<BTreeMap<NemesisKind, f64>, String> {
        Ok(Self::parse_list(list)?.into_iter().map(|(k, (r, _))| (k, r)).collect())
    }

    /// Like [`Self::parse_rates`], also telling for each kind whether it was named (true) or
    /// came from `all` (false).
    fn parse_list(list: &str) -> Result<BTreeMap<NemesisKind, (f64, bool)>, String> {
        let mut rates = BTreeMap::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, rate) = match item.split_once('=') {
                Some((n, r)) => {
                    let r: f64 =
                        r.parse().map_err(|_| format!("nemesis rate `{r}` for `{n}` is not a number"))?;
                    if !(r.is_finite() && r >= 0.0) {
                        return Err(format!("nemesis rate for `{n}` must be a non-negative number, got {r}"));
                    }
                    (n, r)
                }
                None => (item, DEFAULT_RATE_PER_MIN),
            };
            if name == "all" {
                for k in NemesisKind::ALL {
                    rates.entry(k).or_insert((rate, false));
                }
                continue;
            }
            let kind = name.parse::<NemesisKind>()?;
            rates.insert(kind, (rate, true));
        }
        if rates.is_empty() {
            return Err("empty nemesis list".into());
        }
        Ok(rates)
    }

    /// The kinds this schedule draws from, with their rates: all of them, or with
    /// [`Self::swarm`] a random non-empty subset of the within-model kinds at rates scaled
    /// up so the total stays the same (kinds forced outside the model are always on).
    pub fn enabled_rates(&self, rng: &mut Rng) -> Vec<(NemesisKind, f64)> {
        let active: Vec<(NemesisKind, f64)> =
            self.rates.iter().filter(|(_, r)| **r > 0.0).map(|(&k, &r)| (k, r)).collect();
        if !self.swarm {
            return active;
        }
        let (forced, swarmed): (Vec<_>, Vec<_>) =
            active.into_iter().partition(|(k, _)| self.outside.contains(k));
        if swarmed.is_empty() {
            return forced;
        }
        let mut on: Vec<bool> = swarmed.iter().map(|_| rng.chance(0.5)).collect();
        if !on.contains(&true) {
            let pick = rng.below(on.len() as u64) as usize;
            on[pick] = true;
        }
        let total: f64 = swarmed.iter().map(|(_, r)| r).sum();
        let kept: f64 = swarmed.iter().zip(&on).filter(|(_, o)| **o).map(|((_, r), _)| r).sum();
        let scale = total / kept;
        forced
            .into_iter()
            .chain(swarmed.into_iter().zip(on).filter(|(_, o)| *o).map(|((k, r), _)| (k, r * scale)))
            .collect()
    }

    /// Draws a schedule for `nodes` from `rng`. Partitions and loss bursts never overlap
    /// each other (one network condition at a time); crashes and pauses of one node never
    /// overlap; no more than `max_down` nodes are crashed or paused at once (except by kinds
    /// forced outside the model); every episode ends by `end` (a crash-stop crash never
    /// ends).
    pub fn generate(&self, nodes: &[NodeId], rng: &mut Rng) -> Schedule {
        let mut schedule = Vec::new();
        if nodes.is_empty() || self.end <= self.start {
            return schedule;
        }
        // When each node, and the network, is next free of faults.
        let mut node_free: BTreeMap<NodeId, Duration> = nodes.iter().map(|&n| (n, self.start)).collect();
        let mut net_free = self.start;
        // Duplication overlays whatever the links do, so it has its own clock.
        let mut dup_free = self.start;
        // Within-model crash and pause windows, for the fault budget.
        let mut down: Vec<(Duration, Duration)> = Vec::new();
        // Poisson arrivals per kind (exponential gaps), merged in time order so that no kind
        // claims the nodes and the network before the others get a turn.
        let gap = |rate: f64, rng: &mut Rng| {
            Duration::from_secs_f64((-(60.0 / rate) * (1.0 - rng.unit_f64()).ln()).min(1e6))
        };
        let mut next: Vec<(Duration, NemesisKind, f64)> = Vec::new();
        for (kind, rate) in self.enabled_rates(rng) {
            next.push((self.start + gap(rate, rng), kind, rate));
        }
        while let Some(i) = (0..next.len()).min_by_key(|&i| (next[i].0, next[i].1)) {
            let (t, kind, rate) = next[i];
            if t >= self.end {
                next.swap_remove(i);
                continue;
            }
            next[i].0 = t + gap(rate, rng);
            let outside = self.outside.contains(&kind);
            {
                let node = nodes[rng.below(nodes.len() as u64) as usize];
                let max = self.max_duration.min(self.end - t);
                let dur = rng.duration_between(max / 10, max).max(Duration::from_millis(1));
                let crash_stop = self.crash_stop && !outside;
                let until = if crash_stop && kind == NemesisKind::Crash { Duration::MAX } else { t + dur };
                let within_budget = outside
                    || self.max_down.is_none_or(|m| {
                        down.iter().filter(|&&(a, b)| a < until && t < b).count() < m as usize
                    });
                match kind {
                    NemesisKind::Crash | NemesisKind::Torn if node_free[&node] <= t && within_budget => {
                        let first = if kind == NemesisKind::Crash {
                            Fault::crash(node, t)
                        } else {
                            Fault { at: t, kind: FaultKind::TornWrite(node) }
                        };
                        let faults = if crash_stop && kind == NemesisKind::Crash {
                            vec![first]
                        } else {
                            vec![first, Fault::restart(node, t + dur)]
                        };
                        schedule.push(Episode { faults });
                        node_free.insert(node, until);
                        if !outside {
                            down.push((t, until));
                        }
                    }
                    NemesisKind::Pause if node_free[&node] <= t && within_budget => {
                        let dur = match self.max_pause {
                            Some(m) if !outside => dur.min(m.max(Duration::from_millis(1))),
                            _ => dur,
                        };
                        schedule.push(Episode { faults: vec![Fault::pause(node, t, dur)] });
                        node_free.insert(node, t + dur);
                        if !outside {
                            down.push((t, t + dur));
                        }
                    }
                    NemesisKind::Partition if net_free <= t => {
                        let p = random_partition(nodes, rng);
                        schedule.push(Episode { faults: vec![Fault::partition(p, t), Fault::heal(t + dur)] });
                        net_free = t + dur;
                    }
                    NemesisKind::Loss if net_free <= t => {
                        let loss = 0.3 + 0.7 * rng.unit_f64();
                        let link = LinkConfig { loss, ..LinkConfig::default() };
                        let [a, b] = Fault::degrade(link, t, dur);
                        schedule.push(Episode { faults: vec![a, b] });
                        net_free = t + dur;
                    }
                    NemesisKind::Duplicate if dup_free <= t => {
                        let rate = 0.2 + 0.6 * rng.unit_f64();
                        let [a, b] = Fault::duplicate(rate, t, dur);
                        schedule.push(Episode { faults: vec![a, b] });
                        dup_free = t + dur;
                    }
                    NemesisKind::Clock => {
                        let (lo, hi) = if outside {
                            let lo = self.outside_clock_step;
                            (lo, (lo * 4).max(Duration::from_secs(2)))
                        } else {
                            (Duration::from_millis(1).min(self.max_clock_step), self.max_clock_step)
                        };
                        let step = rng.duration_between(lo, hi);
                        let by = i64::try_from(step.as_nanos()).unwrap_or(i64::MAX);
                        let by = if rng.chance(0.5) { by } else { -by };
                        let fault = match self.max_clock_offset {
                            Some(bound) if !outside => Fault::wall_step_within(node, t, by, bound),
                            _ => Fault::wall_step(node, t, by),
                        };
                        schedule.push(Episode { faults: vec![fault] });
                    }
                    _ => {} // the target is busy with another fault, or the budget is spent
                }
            }
        }
        schedule.sort_by_key(|e| e.faults.first().map(|f| f.at));
        schedule
    }
}

impl Episode {
    /// The kind of fault this episode is.
    pub fn kind(&self) -> Option<NemesisKind> {
        Some(match self.faults.first()?.kind {
            FaultKind::Crash(_) | FaultKind::Restart(_) => NemesisKind::Crash,
            FaultKind::TornWrite(_) => NemesisKind::Torn,
            FaultKind::Pause { .. } => NemesisKind::Pause,
            FaultKind::Partition(_) | FaultKind::Heal => NemesisKind::Partition,
            FaultKind::Degrade(_) | FaultKind::RestoreLinks => NemesisKind::Loss,
            FaultKind::Duplicate { .. } | FaultKind::StopDuplicating => NemesisKind::Duplicate,
            FaultKind::WallStep { .. } | FaultKind::WallStepWithin { .. } | FaultKind::Drift { .. } => {
                NemesisKind::Clock
            }
        })
    }
}

/// A partition of a random Jepsen shape: isolate one node, halves, majorities ring, bridge,
/// or one-way between two nodes.
pub fn random_partition(nodes: &[NodeId], rng: &mut Rng) -> Partition {
    let mut shuffled = nodes.to_vec();
    rng.shuffle(&mut shuffled);
    match rng.below(5) {
        0 => Partition::isolate(shuffled[0], nodes),
        1 => Partition::halves(&shuffled),
        2 => Partition::majorities_ring(&shuffled),
        3 => Partition::bridge(&shuffled),
        _ if shuffled.len() >= 2 => Partition::one_way(shuffled[0], shuffled[1]),
        _ => Partition::default(),
    }
}

impl FromStr for NemesisKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NemesisKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let known: Vec<&str> = NemesisKind::ALL.iter().map(|k| k.name()).collect();
            // A typo (at most two letters off) gets the name it was probably meant to be.
            match known.iter().chain(["all"].iter()).min_by_key(|k| edit_distance(s, k)) {
                Some(k) if edit_distance(s, k) <= 2 => {
                    format!("unknown nemesis `{s}`: did you mean `{k}`? (known: {}, all)", known.join(", "))
                }
                _ => format!("unknown nemesis `{s}`; known: {}, all", known.join(", ")),
            }
        })
    }
}

/// Levenshtein distance between two short names (insertions, deletions, substitutions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Reduces a failing schedule to a smaller one for which `still_fails` holds: first the
/// empty schedule (a failure that needs no faults shrinks to none), then rounds that drop
/// episodes one at a time, shorten each survivor by halves and simplify it
/// ([`Episode::simplified`]), repeated until a whole round changes nothing or `budget`
/// calls of `still_fails` are spent. Returns the smallest failing schedule found (the input
/// if nothing smaller fails). `still_fails` decides what "the same failure" means; a
/// scenario's shrinker accepts only the same checker at the same kind of event, no later
/// ([`crate::ViolationReport::reproduced_by`]).
pub fn shrink(
    mut schedule: Schedule,
    budget: usize,
    mut still_fails: impl FnMut(&[Episode]) -> bool,
) -> Schedule {
    let mut runs = 0;
    let mut try_it = |candidate: &[Episode], runs: &mut usize| {
        *runs += 1;
        still_fails(candidate)
    };
    if schedule.is_empty() || budget == 0 {
        return schedule;
    }
    if try_it(&[], &mut runs) {
        return Vec::new();
    }
    loop {
        let mut changed = false;
        // Drop episodes, one at a time.
        let mut i = 0;
        while i < schedule.len() && runs < budget {
            let mut candidate = schedule.clone();
            candidate.remove(i);
            if try_it(&candidate, &mut runs) {
                schedule = candidate;
                changed = true;
            } else {
                i += 1;
            }
        }
        // Shorten, then simplify, each survivor while it still fails.
        for i in 0..schedule.len() {
            for smaller in [Episode::shortened, Episode::simplified] {
                while runs < budget {
                    let Some(next) = smaller(&schedule[i]) else { break };
                    let mut candidate = schedule.clone();
                    candidate[i] = next;
                    if !try_it(&candidate, &mut runs) {
                        break;
                    }
                    schedule = candidate;
                    changed = true;
                }
            }
        }
        if !changed || runs >= budget {
            return schedule;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: u32) -> Vec<NodeId> {
        (1..=n).map(NodeId).collect()
    }

    fn config(list: &str) -> NemesisConfig {
        NemesisConfig::new(
            NemesisConfig::parse_rates(list).unwrap(),
            Duration::from_secs(1),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn a_misspelt_nemesis_gets_the_name_it_was_probably_meant_to_be() {
        let err = "pase".parse::<NemesisKind>().unwrap_err();
        assert!(err.contains("did you mean `pause`?"), "{err}");
        let err = "partitoin".parse::<NemesisKind>().unwrap_err();
        assert!(err.contains("did you mean `partition`?"), "{err}");
        let err = "x".parse::<NemesisKind>().unwrap_err();
        assert!(!err.contains("did you mean"), "{err}");
        assert_eq!(edit_distance("pause", "pause"), 0);
        assert_eq!(edit_distance("", "all"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn parses_rates_and_rejects_unknown_kinds() {
        let r = NemesisConfig::parse_rates("pause=3, partition").unwrap();
        assert_eq!(r[&NemesisKind::Pause], 3.0);
        assert_eq!(r[&NemesisKind::Partition], DEFAULT_RATE_PER_MIN);
        assert_eq!(NemesisConfig::parse_rates("all").unwrap().len(), NemesisKind::ALL.len());
        assert!(NemesisConfig::parse_rates("meteor").unwrap_err().contains("known: crash"));
        assert!(NemesisConfig::parse_rates("pause=-1").is_err());
        assert!(NemesisConfig::parse_rates("pause=x").is_err());
    }

    #[test]
    fn generated_schedule_is_deterministic_within_its_window_and_non_overlapping() {
        let cfg = config("all=10");
        let a = cfg.generate(&nodes(5), &mut Rng::from_seed(3));
        let b = cfg.generate(&nodes(5), &mut Rng::from_seed(3));
        assert_eq!(a, b);
        assert!(a.len() > 20, "{} episodes", a.len());
        for e in &a {
            assert!(e.faults[0].at >= cfg.start && e.ends_at() <= cfg.end, "{e}");
        }
        // Network episodes never overlap.
        let mut net: Vec<(Duration, Duration)> = a
            .iter()
            .filter(|e| matches!(e.faults[0].kind, FaultKind::Partition(_) | FaultKind::Degrade(_)))
            .map(|e| (e.faults[0].at, e.ends_at()))
            .collect();
        net.sort();
        assert!(net.windows(2).all(|w| w[0].1 <= w[1].0));
        // Every kind appears.
        for kind in ["crash", "torn", "pause", "partition", "wall clock", "degrade", "duplicates"] {
            assert!(a.iter().any(|e| e.to_string().contains(kind)), "no {kind} in {a:?}");
        }
    }

    #[test]
    fn swarm_draws_subsets_of_kinds_and_keeps_the_total_rate() {
        let mut cfg = config("crash=4,pause=4,partition=4,loss=4");
        cfg.swarm = true;
        let mut seen = BTreeSet::new();
        for seed in 0..200 {
            let rates = cfg.enabled_rates(&mut Rng::from_seed(seed));
            assert!(!rates.is_empty());
            let total: f64 = rates.iter().map(|(_, r)| r).sum();
            assert!((total - 16.0).abs() < 1e-9, "{rates:?}");
            seen.insert(rates.iter().map(|(k, _)| *k).collect::<Vec<_>>());
        }
        assert!(seen.len() >= 12, "most of the 15 non-empty subsets appear: {}", seen.len());
        // Without swarm, every kind at its own rate.
        cfg.swarm = false;
        assert_eq!(cfg.enabled_rates(&mut Rng::from_seed(1)).len(), 4);
    }

    #[test]
    fn shrink_finds_the_one_fault_that_matters() {
        // Planted bug: the run fails iff n2 is paused for more than 1 s at some point.
        let culprit = |s: &[Episode]| {
            faults(s).iter().any(|f| matches!(f.kind, FaultKind::Pause { node, duration } if node == NodeId(2) && duration > Duration::from_secs(1)))
        };
        let cfg =
            NemesisConfig { max_duration: Duration::from_secs(8), ..config("pause=20,partition=5,clock=5") };
        let seed = (0..100).find(|&s| culprit(&cfg.generate(&nodes(5), &mut Rng::from_seed(s)))).unwrap();
        let schedule = cfg.generate(&nodes(5), &mut Rng::from_seed(seed));
        assert!(schedule.len() > 5);
        let small = shrink(schedule, 1_000, culprit);
        assert_eq!(small.len(), 1, "{small:?}");
        let [Fault { kind: FaultKind::Pause { node, duration }, .. }] = small[0].faults.as_slice() else {
            panic!("{small:?}")
        };
        assert_eq!(*node, NodeId(2));
        assert!(*duration > Duration::from_secs(1) && *duration <= Duration::from_secs(2), "{duration:?}");
    }

    fn model(nodes: palisade_core::model::NodeFaults, step: Option<Duration>) -> SystemModel {
        use palisade_core::model::{ClockModel, NetworkModel, Timing};
        SystemModel {
            timing: Timing::PartiallySynchronous,
            nodes,
            clocks: ClockModel {
                max_drift_ppm: 200,
                max_wall_step: step,
                max_offset: Some(Duration::from_millis(300)),
            },
            network: NetworkModel { partitions: false, ..NetworkModel::UNRELIABLE },
            max_down: Some(1),
        }
    }

    #[test]
    fn all_means_every_kind_the_model_admits_and_named_ones_must_be_admitted() {
        use palisade_core::model::NodeFaults;
        let (a, b) = (Duration::from_secs(1), Duration::from_secs(60));
        let m = model(NodeFaults::Byzantine { f: 1, recovery: false }, None);
        let cfg = NemesisConfig::for_model(&m, Some("all"), None, a, b).unwrap();
        let kinds: Vec<NemesisKind> = cfg.rates.keys().copied().collect();
        assert_eq!(
            kinds,
            vec![NemesisKind::Pause, NemesisKind::Loss, NemesisKind::Duplicate],
            "no crashes, partitions or clock steps"
        );
        let reliable = SystemModel { network: palisade_core::model::NetworkModel::RELIABLE, ..m };
        let err = NemesisConfig::for_model(&reliable, Some("duplicate"), None, a, b).unwrap_err();
        assert!(err.contains("never duplicated"), "{err}");
        let forced = NemesisConfig::for_model(&reliable, None, Some("duplicate"), a, b).unwrap();
        assert!(forced.is_outside_model());
        assert!(!cfg.is_outside_model());
        let err = NemesisConfig::for_model(&m, Some("clock"), None, a, b).unwrap_err();
        assert!(err.contains("never stepped") && err.contains("--outside-model clock"), "{err}");
        let forced = NemesisConfig::for_model(&m, None, Some("clock,crash"), a, b).unwrap();
        assert!(forced.is_outside_model());
        assert_eq!(forced.outside.len(), 2);
    }

    #[test]
    fn within_the_model_the_budget_restarts_and_clock_bounds_hold() {
        use palisade_core::model::NodeFaults;
        let (a, b) = (Duration::from_secs(1), Duration::from_secs(600));
        let m = model(NodeFaults::CrashRecovery, Some(Duration::from_millis(200)));
        let cfg = NemesisConfig::for_model(&m, Some("crash=30,pause=30,clock=30"), None, a, b).unwrap();
        let schedule = cfg.generate(&nodes(5), &mut Rng::from_seed(9));
        let mut down: Vec<(Duration, Duration)> = Vec::new();
        for e in &schedule {
            match &e.faults[0].kind {
                FaultKind::Crash(_) => {
                    assert!(matches!(e.faults[1].kind, FaultKind::Restart(_)), "{e}");
                    down.push((e.faults[0].at, e.ends_at()));
                }
                FaultKind::Pause { duration, .. } => down.push((e.faults[0].at, e.faults[0].at + *duration)),
                FaultKind::WallStepWithin { by_ns, bound_ns, .. } => {
                    assert!(by_ns.unsigned_abs() <= 200_000_000, "step {by_ns} beyond the model's 200 ms");
                    assert_eq!(*bound_ns, 300_000_000);
                }
                other => panic!("not admitted: {other:?}"),
            }
        }
        assert!(down.len() >= 20, "only {} crashes and pauses", down.len());
        for &(s, _) in &down {
            let at_once = down.iter().filter(|&&(a, b)| a <= s && s < b).count();
            assert!(at_once <= 1, "{at_once} nodes down at {s:?}: the budget is 1");
        }
        // Crash-stop: crashes are for good, and one spends the budget of 1 for ever.
        let stop = model(NodeFaults::CrashStop, None);
        let cfg = NemesisConfig::for_model(&stop, Some("crash=30,pause=30"), None, a, b).unwrap();
        let schedule = cfg.generate(&nodes(5), &mut Rng::from_seed(9));
        let crashes: Vec<&Episode> =
            schedule.iter().filter(|e| matches!(e.faults[0].kind, FaultKind::Crash(_))).collect();
        assert_eq!(crashes.len(), 1);
        assert_eq!(crashes[0].faults.len(), 1, "no restart");
        let crashed_at = crashes[0].faults[0].at;
        assert!(schedule.iter().all(|e| e.faults[0].at < crashed_at || e.kind() == Some(NemesisKind::Crash)));
        // Forced beyond the model: steps larger than the bound, not kept within the offset.
        let cfg = NemesisConfig::for_model(&m, None, Some("clock=30"), a, b).unwrap();
        for e in cfg.generate(&nodes(5), &mut Rng::from_seed(9)) {
            let FaultKind::WallStep { by_ns, .. } = e.faults[0].kind else { panic!("{e}") };
            assert!(by_ns.unsigned_abs() > 200_000_000, "{by_ns}");
        }
    }
}
