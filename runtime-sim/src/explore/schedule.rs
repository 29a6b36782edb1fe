//! One random path through an explorable model per seed, for state spaces too big to
//! exhaust: a uniformly random choice at every step, or PCT.
//!
//! **PCT** (probabilistic concurrency testing; Burckhardt, Kothari, Musuvathi and
//! Nagarakatte, ASPLOS 2010). Every actor (a message in flight, a node's timer, its next
//! client command, its crash or restart) gets a random priority of at least `d` when it
//! first becomes enabled, and each step takes the enabled choice whose actor ranks highest.
//! Messages are actors of their own, as in PCT's adaptation to message passing (Ozkan,
//! Majumdar, Niksic, Befrouei and Weissenbacher, OOPSLA 2018). Before each of `d - 1` change
//! points, steps drawn uniformly from `1..=k`, the highest-ranked message in flight drops
//! to priority `d - i`, below every initial priority, with its drop and duplicate choices
//! and every message the same step sent (the rest of a node's broadcast: a write's stores
//! to every replica, say). So "this message arrives after everything else" is one change
//! point, and so is "this broadcast arrives after everything else": a slow sender, a
//! congested uplink, a node paused right after it sent.
//!
//! This departs from the paper in three ways, so its bound (a bug of depth `d` among `n`
//! threads in `k` steps is found with probability at least `1 / (n k^(d-1))`) is a guide
//! here, not a guarantee: `k` is estimated from one uniform path, not a bound on every
//! path; a change point lowers messages, not whatever is about to run (lowering a client's
//! command serialised its operations after everything else and hid the concurrency bugs
//! need: measured on the ABD model, such change points found fewer bugs than none), and
//! with it what its step sent (on the ABD model, lowering only the highest-ranked message
//! found the missing write-back in 231 and 246 of 20,000 seeds at depths 3 and 5; with its
//! step's other messages, in 455 and 619: the bug needs both stores of one write held
//! back, which is one change point this way and two the other); and identical messages
//! share an actor, so a copy inherits its twin's rank (and its step).
//! A uniformly random walk has no such bound at all: it interleaves every actor evenly and
//! rarely starves one for long.

use super::state::{Choice, StepChoice, XState};
use super::{Counterexample, Setup};
use palisade_core::Protocol;
use palisade_core::rng::Rng;
use std::collections::BTreeMap;
use std::hash::Hash;

/// How a random path picks among the choices at each step.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scheduler {
    /// Uniformly at random among every enabled choice.
    Random,
    /// PCT with bug depth `depth` (at least 1; `depth - 1` priority change points).
    Pct {
        /// The bug depth `d`: how many ordering constraints the search targets.
        depth: u32,
    },
}

/// What one random path found.
#[derive(Clone, Debug)]
pub struct Walk {
    /// Steps taken (choices made).
    pub steps: usize,
    /// The path ended because no choice was left, not because of `max_steps`.
    pub finished: bool,
    /// The first violation on the path, with the path to it.
    pub counterexample: Option<Counterexample>,
}

/// Takes one path through `setup`'s model, chosen by `scheduler` from `seed`, for at most
/// `max_steps` steps, checking the invariants after every step (and the "eventually"
/// properties where the path ends). `k` is PCT's estimate of the path length, the range
/// its change points are drawn from ([`estimate_length`] measures one).
pub fn walk<P>(setup: &Setup<P>, scheduler: Scheduler, seed: u64, k: usize, max_steps: usize) -> Walk
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let mut rng = Rng::from_seed(seed);
    let mut initial = XState::initial(setup, false, true);
    let pick = rng.below(initial.len() as u64) as usize;
    let (mut state, drifts) = initial.swap_remove(pick);
    let mut path = vec![StepChoice::Start(drifts)];
    let found = |path: &[StepChoice], violation| {
        let path = super::Path { choices: path.to_vec(), forget_obsolete: true };
        let (steps, trace) = super::state::replay(setup, &path);
        Counterexample { violation, steps, trace, path }
    };
    if let Err(v) = state.check_safety(setup, None) {
        return Walk { steps: 0, finished: false, counterexample: Some(found(&path, v)) };
    }
    let mut pct = match scheduler {
        Scheduler::Random => None,
        Scheduler::Pct { depth } => Some(Pct::new(depth.max(1), k.max(1), &mut rng)),
    };
    let mut steps = 0;
    let mut finished = false;
    while steps < max_steps {
        let choices = state.choices(setup);
        if choices.is_empty() {
            finished = true;
            break;
        }
        steps += 1;
        let choice = match pct.as_mut() {
            None => choices[rng.below(choices.len() as u64) as usize].clone(),
            Some(p) => p.choose(&state, &choices, steps, &mut rng),
        };
        let before = state.observations();
        state.apply(setup, &choice);
        path.push(StepChoice::Made(choice));
        if let Err(v) = state.check_safety(setup, Some(before)) {
            return Walk { steps, finished: false, counterexample: Some(found(&path, v)) };
        }
    }
    let counterexample = state.check(&setup.at_end).err().map(|v| found(&path, v));
    Walk { steps, finished, counterexample }
}

/// The length of one uniformly random path from seed 0: PCT's `k` when the caller has no
/// better estimate.
pub fn estimate_length<P>(setup: &Setup<P>, max_steps: usize) -> usize
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    walk(setup, Scheduler::Random, 0, 1, max_steps).steps
}

/// PCT's priorities and change points for one path.
struct Pct {
    depth: u32,
    /// Priority of every actor seen so far; higher runs first.
    priority: BTreeMap<u128, u64>,
    /// The steps before which the running actor's priority drops, ascending.
    change_points: Vec<usize>,
    /// Change points passed.
    changed: u32,
    /// The step at which each message actor was first enabled: messages first enabled at
    /// one step were sent by the step before it.
    born: BTreeMap<u128, usize>,
}

impl Pct {
    fn new(depth: u32, k: usize, rng: &mut Rng) -> Pct {
        let mut change_points: Vec<usize> = (1..depth).map(|_| 1 + rng.below(k as u64) as usize).collect();
        change_points.sort_unstable();
        Pct { depth, priority: BTreeMap::new(), change_points, changed: 0, born: BTreeMap::new() }
    }

    fn choose<P: Protocol + Clone + Hash>(
        &mut self,
        state: &XState<P>,
        choices: &[Choice],
        step: usize,
        rng: &mut Rng,
    ) -> Choice {
        let floor = u64::from(self.depth);
        let actors: Vec<u128> = choices.iter().map(|c| state.actor(c)).collect();
        let is_message =
            |j: usize| matches!(choices[j], Choice::Deliver(_) | Choice::Drop(_) | Choice::Duplicate(_));
        for (j, a) in actors.iter().enumerate() {
            // A new actor ranks at a random place among the others, above every lowered one.
            self.priority.entry(*a).or_insert_with(|| floor + rng.below(u64::MAX - floor));
            if is_message(j) {
                self.born.entry(*a).or_insert(step);
            }
        }
        // Several change points may fall on one step; each lowers whoever would be delivered
        // next, with the rest of what its step sent.
        while self.change_points.get(self.changed as usize) == Some(&step) {
            self.changed += 1;
            let top = (0..choices.len())
                .filter(|&j| matches!(choices[j], Choice::Deliver(_)))
                .max_by_key(|&j| (self.priority[&actors[j]], std::cmp::Reverse(j)));
            if let Some(top) = top {
                let (k, sent) = (&choices[top], self.born[&actors[top]]);
                let low = floor - u64::from(self.changed);
                for j in (0..choices.len()).filter(|&j| is_message(j)) {
                    let same_message = matches!((&choices[j], k), (Choice::Deliver(m) | Choice::Drop(m) | Choice::Duplicate(m), Choice::Deliver(t)) if m == t);
                    if same_message || self.born[&actors[j]] == sent {
                        self.priority.insert(actors[j], low);
                    }
                }
            }
        }
        let best = (0..choices.len()).max_by_key(|&i| (self.priority[&actors[i]], std::cmp::Reverse(i)));
        choices[best.unwrap_or(0)].clone()
    }
}
