//! Exhaustive exploration of small models: every interleaving of message deliveries,
//! timers, faults and client operations up to a bound, over the unchanged
//! [`Protocol`] trait, with the simulator's checkers evaluated on every state.
//!
//! **State.** Every node's protocol state, the state it would restart from, its clock,
//! the messages in flight (a multiset), the events emitted so far, how many client
//! operations each node has issued, and what is left of the fault budget. Two states are
//! the same when their fingerprints are: protocols must be `Clone + Hash` (the fingerprint
//! hashes the protocol value itself, and messages, durable state and events through their
//! canonical encoding).
//!
//! **Choices.** At each state: deliver any message in flight; drop or duplicate it (where
//! the [`SystemModel`] admits loss or duplication, up to [`Bounds`]); fire the timer that
//! is due first; crash a node or restart a crashed one from its durable state (where the
//! model admits it, within its fault budget and [`Bounds::crashes`]); or issue a node's
//! next client command from the [`Workload`].
//!
//! **Time as bounded nondeterminism.** Message delays are unbounded (delivery is a choice
//! at any time), so true time advances only when a timer fires, and by [`COMMAND_GAP`]
//! before each client command (so operations that returned precede it in real time). Each node's clock runs at
//! a rate the explorer chooses at the start from the ends of the model's drift bound
//! (`1 ± ρ`), so a timer fires at the true time that rate gives, and the explorer covers
//! every order of timers across nodes that the bound admits at its extremes: a lease
//! holder whose clock runs slow against a grantor's that runs fast is one of the initial
//! states. Timers due after [`Bounds::horizon`] do not fire. With [`Bounds::max_delay`], a
//! timer does not fire while a message older than that bound (at the timer's time) is in
//! flight.
//!
//! **Search.** Breadth-first (shortest counterexample) or depth-first (memory-light), with a
//! depth bound and a bound on distinct states. Checkers run on every new state; "eventually"
//! checkers run on maximal states (no choice left, or the depth bound reached).
//!
//! **Replay.** A counterexample carries its [`Path`], which [`replay_in_simulator`] runs in
//! the timed [`crate::Simulation`], step by step, with the simulator's own checkers.

mod replay;
mod schedule;
mod state;
mod symmetry;
#[cfg(test)]
mod tests;

use crate::check::World;
use palisade_core::{NodeId, Observation, Protocol, Renaming, SystemModel, Violation};
use state::{StepChoice, XState};
use std::collections::VecDeque;
use std::hash::Hash;
use std::time::Duration;

pub use replay::{SimReplay, replay_in_simulator};
pub use schedule::{Scheduler, Walk, estimate_length, walk};
pub use state::Step;
pub use symmetry::{EXACT_UP_TO, Symmetry};

/// A safety property, checked on every state.
pub type Invariant<P> = Box<dyn Fn(&World<P>) -> Result<(), Violation>>;

/// The client operations of a scenario: the next command `node` issues after `issued`
/// earlier ones, given the events so far (so a client can wait for its last reply), or
/// `None` when it has nothing to issue now.
pub type Workload<P> =
    Box<dyn Fn(NodeId, usize, &[Observation<<P as Protocol>::Event>]) -> Option<<P as Protocol>::Command>>;

/// Says that a message in flight (`from`, `to`, the message) can never change anything
/// again, whenever it is delivered: the explorer then forgets it, which merges states that
/// differ only in such messages. The protocol's author vouches for "never"; the explorer
/// checks what it can each time it forgets one (delivering it now must leave the receiver's
/// state as it was, emit no event, persist nothing, and send only messages the hook calls
/// obsolete too) and panics naming the message if the hook is wrong.
pub type Obsolete<P> = Box<dyn Fn(&World<P>, NodeId, NodeId, &<P as Protocol>::Message) -> bool>;

/// Bounds on the faults the explorer injects (on top of what the model admits) and on time.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bounds {
    /// Crashes over a path (each may be followed by a restart where the model admits it).
    pub crashes: u32,
    /// Messages dropped over a path.
    pub drops: u32,
    /// Messages duplicated over a path.
    pub duplicates: u32,
    /// Timers due later than this (true time) do not fire.
    pub horizon: Duration,
    /// The longest a message may stay in flight, in true time: a timer whose firing would
    /// make some message older than this waits until that message is delivered or dropped.
    /// `None` leaves delays unbounded (the asynchronous network); a bound is the partially
    /// synchronous model after GST, and a much smaller state space.
    pub max_delay: Option<Duration>,
}

impl Bounds {
    palisade_core::__config_setters! {
        crashes: u32,
        drops: u32,
        duplicates: u32,
        horizon: Duration,
        max_delay: Option<Duration>,
    }
}

impl Default for Bounds {
    /// No faults, timers within the first 10 s.
    fn default() -> Self {
        Bounds { crashes: 0, drops: 0, duplicates: 0, horizon: Duration::from_secs(10), max_delay: None }
    }
}

/// What to explore: the nodes, their protocol, the workload, the properties.
pub struct Setup<P: Protocol> {
    /// Nodes `1..=nodes`.
    pub nodes: u32,
    /// The protocol's configuration on every node.
    pub config: P::Config,
    /// The system model: which faults may happen, the drift bound and fault budget.
    pub model: SystemModel,
    /// Extra bounds on faults and time.
    pub bounds: Bounds,
    /// Client operations.
    pub workload: Workload<P>,
    /// Safety properties, on every state.
    pub invariants: Vec<Invariant<P>>,
    /// Safety properties of the history alone ([`World::history`] and [`World::replies`]),
    /// such as linearizability: judged only on states whose step added to the history, since
    /// no other step can change their verdict. A property here that reads anything else (a
    /// node's state, the time, the messages in flight) is judged too rarely and can miss a
    /// violation: put it in `invariants`.
    pub history_invariants: Vec<Invariant<P>>,
    /// Properties of maximal paths ("eventually"), on states with no choice left.
    pub at_end: Vec<Invariant<P>>,
    /// Messages that can never matter again, forgotten as soon as they are (`None`: keep
    /// every message until it is delivered or dropped).
    pub obsolete: Option<Obsolete<P>>,
    /// Nodes that are interchangeable ([`Symmetry`]): the explorer visits one state of each
    /// group that differ only by their names (`None`: every node is distinct).
    pub symmetry: Option<Symmetry<P>>,
}

/// Breadth-first or depth-first.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Shortest counterexamples; keeps a whole frontier in memory.
    Bfs,
    /// Memory-light; counterexamples may be long.
    Dfs,
}

/// How far to search.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// Breadth- or depth-first.
    pub mode: Mode,
    /// Steps from the initial state.
    pub max_depth: usize,
    /// Distinct states.
    pub max_states: u64,
    /// Forget the messages [`Setup::obsolete`] names (the default); `false` keeps every
    /// message, to compare state counts or to rule out a wrong hook.
    pub forget_obsolete: bool,
    /// Merge states that differ only by the names of [`Setup::symmetry`]'s nodes (the
    /// default); `false` visits each, to compare state counts.
    pub symmetry: bool,
}

impl Options {
    palisade_core::__config_setters! {
        mode: Mode,
        max_depth: usize,
        max_states: u64,
        forget_obsolete: bool,
        symmetry: bool,
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Bfs,
            max_depth: 256,
            max_states: 5_000_000,
            forget_obsolete: true,
            symmetry: true,
        }
    }
}

/// Where a running search is, for progress output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Distinct states seen.
    pub states: u64,
    /// Deepest state seen.
    pub depth: usize,
    /// States waiting to be expanded.
    pub queue: usize,
}

/// True time between a client command and the step before it: operations that have
/// returned precede the next one in real time.
pub const COMMAND_GAP: Duration = Duration::from_millis(1);

/// How often (in states expanded) [`explore`] reports progress.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// A path to a violation.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// What broke.
    pub violation: Violation,
    /// The steps from the initial state, in order.
    pub steps: Vec<Step>,
    /// The path as JSON lines in the simulator's trace format (for the diagram).
    pub trace: String,
    /// The path itself, to replay in the timed simulator ([`replay_in_simulator`]).
    pub path: Path,
}

/// A path through a model: the clock rates it starts from, then each choice made, and
/// whether the search forgot obsolete messages ([`Options::forget_obsolete`]), which its
/// choices depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub(crate) choices: Vec<StepChoice>,
    pub(crate) forget_obsolete: bool,
}

impl Path {
    /// Choices made after the start.
    pub fn len(&self) -> usize {
        self.choices.len().saturating_sub(1)
    }

    /// True for a path that makes no choice (a violation in an initial state).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct Report {
    /// Distinct states (after symmetry reduction).
    pub states: u64,
    /// States generated, counting revisits.
    pub generated: u64,
    /// Deepest state expanded.
    pub max_depth: usize,
    /// Every reachable state within the depth bound was explored (no bound cut it short).
    pub complete: bool,
    /// The first violation found, if any.
    pub counterexample: Option<Counterexample>,
    /// The interchangeable nodes whose renamings were merged (empty when the model declares
    /// none or [`Options::symmetry`] is off).
    pub symmetric: Vec<NodeId>,
}

/// Fingerprints already seen. Only membership is asked, so the set's iteration order never
/// reaches a result; the fingerprints are already well mixed, so the table hashes them by
/// taking their low half.
#[allow(clippy::disallowed_types)]
type Visited = std::collections::HashSet<u128, std::hash::BuildHasherDefault<LowHalf>>;

/// Hashes a fingerprint by its low 64 bits.
#[derive(Default)]
struct LowHalf(u64);

impl std::hash::Hasher for LowHalf {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, fp: u128) {
        self.0 = fp as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Explores `setup` within `options`, calling `progress` every [`PROGRESS_EVERY`] states
/// expanded (the explorer reads no clock: it is deterministic, and the caller times it).
pub fn explore<P>(setup: &Setup<P>, options: &Options, mut progress: impl FnMut(&Progress)) -> Report
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let mut seen = Visited::default();
    // The search tree, for counterexamples: each state's parent entry (`usize::MAX` for an
    // initial state) and the choice that led to it (steps are described only on replay).
    let mut tree: Vec<(usize, StepChoice)> = Vec::new();
    let mut frontier: VecDeque<(XState<P>, usize, usize)> = VecDeque::new();
    let mut report = Report {
        states: 0,
        generated: 0,
        max_depth: 0,
        complete: true,
        counterexample: None,
        symmetric: Vec::new(),
    };
    let mut expanded = 0u64;
    let symmetry = setup.symmetry.as_ref().filter(|_| options.symmetry);
    if let Some(sym) = symmetry {
        sym.check_members(setup.nodes);
        report.symmetric = sym.nodes().to_vec();
    }
    let mut renamed = 0u64;
    // A state's fingerprint, or its representative's, testing the symmetry on a sample of
    // the states that have a representative of their own.
    let mut fingerprint = |state: &XState<P>| {
        let Some(sym) = symmetry else { return state.fingerprint() };
        let (fp, map) = state.representative(setup, sym);
        if let Some(map) = map {
            renamed += 1;
            if symmetry::sampled(renamed)
                && let Some(why) = symmetry_mismatch(setup, sym, state, &map)
            {
                panic!("{why}");
            }
        }
        fp
    };
    let found = |tree: &Vec<(usize, StepChoice)>, at: usize, violation: Violation, setup: &Setup<P>| {
        let mut path = Vec::new();
        let mut i = at;
        loop {
            let (parent, choice) = &tree[i];
            path.push(choice.clone());
            if *parent == usize::MAX {
                break;
            }
            i = *parent;
        }
        path.reverse();
        let path = Path { choices: path, forget_obsolete: options.forget_obsolete };
        let (steps, trace) = state::replay(setup, &path);
        Counterexample { violation, steps, trace, path }
    };
    for (init, drifts) in XState::initial(setup, symmetry.is_some(), options.forget_obsolete) {
        let fp = fingerprint(&init);
        if !seen.insert(fp) {
            continue;
        }
        report.states += 1;
        tree.push((usize::MAX, StepChoice::Start(drifts)));
        let at = tree.len() - 1;
        if let Err(v) = init.check_safety(setup, None) {
            report.counterexample = Some(found(&tree, at, v, setup));
            return report;
        }
        frontier.push_back((init, at, 0));
    }
    while let Some((state, at, depth)) = match options.mode {
        Mode::Bfs => frontier.pop_front(),
        Mode::Dfs => frontier.pop_back(),
    } {
        report.max_depth = report.max_depth.max(depth);
        expanded += 1;
        if expanded.is_multiple_of(PROGRESS_EVERY) {
            progress(&Progress { states: report.states, depth: report.max_depth, queue: frontier.len() });
        }
        let choices = state.choices(setup);
        if choices.is_empty() || depth >= options.max_depth {
            if depth >= options.max_depth && !choices.is_empty() {
                report.complete = false;
            }
            if let Err(v) = state.check(&setup.at_end) {
                report.counterexample = Some(found(&tree, at, v, setup));
                break;
            }
            continue;
        }
        for choice in choices {
            let mut next = state.clone();
            next.apply(setup, &choice);
            report.generated += 1;
            let fp = fingerprint(&next);
            if !seen.insert(fp) {
                continue;
            }
            if report.states >= options.max_states {
                // A new state beyond the bound: the search stops short of it.
                report.complete = false;
                return report;
            }
            report.states += 1;
            tree.push((at, StepChoice::Made(choice)));
            let child = tree.len() - 1;
            if let Err(v) = next.check_safety(setup, Some(state.observations())) {
                report.counterexample = Some(found(&tree, child, v, setup));
                return report;
            }
            frontier.push_back((next, child, depth + 1));
        }
    }
    report
}

/// Why `state` renamed under `map` is not its twin, if it is not: the checkers (invariants
/// and "eventually" properties) judge the two differently, or the renamed state's successors
/// are not exactly the renamings of `state`'s.
fn symmetry_mismatch<P>(
    setup: &Setup<P>,
    sym: &Symmetry<P>,
    state: &XState<P>,
    map: &Renaming,
) -> Option<String>
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let twin = state.renamed(setup, sym, map);
    let verdict = |s: &XState<P>| (s.check_safety(setup, None).is_ok(), s.check(&setup.at_end).is_ok());
    if verdict(state) != verdict(&twin) {
        return Some(format!(
            "Setup::symmetry declares {:?} interchangeable, but the checkers judge a state and its renaming ({map:?}) differently",
            sym.nodes()
        ));
    }
    let successors = |s: &XState<P>, rename: bool| -> std::collections::BTreeSet<u128> {
        s.choices(setup)
            .iter()
            .map(|c| {
                let mut next = s.clone();
                next.apply(setup, c);
                if rename { next.renamed(setup, sym, map).fingerprint() } else { next.fingerprint() }
            })
            .collect()
    };
    (successors(state, true) != successors(&twin, false)).then(|| {
        format!(
            "Setup::symmetry declares {:?} interchangeable, but a state renamed ({map:?}) does not step to the renamed \
             successors: a protocol value names a node its Rename impl leaves alone, or the nodes differ in \
             configuration, workload or checkers",
            sym.nodes()
        )
    })
}

/// What [`check_symmetry`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SymmetryCheck {
    /// Distinct states checked, none merged.
    pub states: u64,
    /// Groups those states fall into, of states that differ only by the interchangeable
    /// nodes' names: when complete, what a search that reduces by the symmetry visits.
    pub groups: u64,
    /// Every reachable state within the bounds was checked.
    pub complete: bool,
}

/// Checks `setup.symmetry` on every state of the model within `options`' depth and state
/// bounds, searching without merging: each state, renamed under every renaming of the class
/// (for classes of up to [`EXACT_UP_TO`] nodes; the sorting renaming beyond), must be judged
/// alike by every checker and step to exactly the renamed successors. [`explore`] samples
/// this check as it searches; run this one on a small model whenever a declaration or a
/// `palisade_core::Rename` impl changes. Violations of the checkers do not stop it. `Err`
/// names the first mismatch.
pub fn check_symmetry<P>(setup: &Setup<P>, options: &Options) -> Result<SymmetryCheck, String>
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let Some(sym) = &setup.symmetry else {
        return Err("Setup::symmetry declares no interchangeable nodes".into());
    };
    sym.check_members(setup.nodes);
    let mut seen = Visited::default();
    let mut groups = Visited::default();
    let mut frontier: VecDeque<(XState<P>, usize)> = VecDeque::new();
    let mut complete = true;
    for (init, _) in XState::initial(setup, true, options.forget_obsolete) {
        if seen.insert(init.fingerprint()) {
            frontier.push_back((init, 0));
        }
    }
    let mut checked = 0u64;
    while let Some((state, depth)) = frontier.pop_front() {
        if checked == options.max_states {
            complete = false;
            break;
        }
        checked += 1;
        let (group, sorting) = state.representative(setup, sym);
        groups.insert(group);
        let maps: Vec<Renaming> = if sym.every_renaming().is_empty() {
            sorting.into_iter().collect()
        } else {
            sym.every_renaming().to_vec()
        };
        for map in &maps {
            if let Some(why) = symmetry_mismatch(setup, sym, &state, map) {
                return Err(why);
            }
        }
        let choices = state.choices(setup);
        if depth >= options.max_depth {
            complete &= choices.is_empty();
            continue;
        }
        for choice in choices {
            let mut next = state.clone();
            next.apply(setup, &choice);
            if seen.insert(next.fingerprint()) {
                frontier.push_back((next, depth + 1));
            }
        }
    }
    Ok(SymmetryCheck { states: checked, groups: groups.len() as u64, complete })
}
