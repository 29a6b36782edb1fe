use super::*;
use palisade_core::model::{ClockModel, NetworkModel, NodeFaults, Timing};
use palisade_core::protocol::OutputFor;
use palisade_core::{Init, Instant, Now};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub(crate) fn model(drift_ppm: u32, network: NetworkModel) -> SystemModel {
    SystemModel {
        timing: Timing::Asynchronous,
        nodes: NodeFaults::CrashRecovery,
        clocks: ClockModel { max_drift_ppm: drift_ppm, max_wall_step: None, max_offset: None },
        network,
        max_down: Some(1),
    }
}

/// Node 1 holds a lock for `lease` on its own clock; node 2 takes it over after
/// `lease + margin` on its own clock. Safe iff the margin covers the drift between them.
#[derive(Clone, Debug, Hash)]
pub(crate) struct TimedLock {
    deadline: Option<Instant>,
    out: VecDeque<OutputFor<TimedLock>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Hash)]
pub(crate) enum LockEvent {
    Acquired,
    Released,
}

impl Protocol for TimedLock {
    type Message = ();
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = LockEvent;
    type Config = (Duration, Duration);
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let (lease, margin) = init.config;
        let mut out = VecDeque::new();
        let wait = if init.id == NodeId(1) {
            out.push_back(Output::Event(LockEvent::Acquired));
            lease
        } else {
            lease + margin
        };
        TimedLock { deadline: Some(init.now.mono + wait), out }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, now: Now) {
        if self.deadline.is_some_and(|d| now.mono >= d) {
            self.deadline = None;
            self.out.push_back(Output::Event(LockEvent::Released));
        }
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

use palisade_core::Output;

/// Node 1's lease ends with its `Released`; node 2's timer firing is its `Released` too,
/// read as "node 2 acquires". Two holders: node 2's timer fired while node 1 still held.
pub(crate) fn one_holder(w: &World<TimedLock>) -> Result<(), Violation> {
    let n1_released = w.history().iter().any(|o| o.node == NodeId(1) && o.event == LockEvent::Released);
    let n2_acquired = w.history().iter().any(|o| o.node == NodeId(2) && o.event == LockEvent::Released);
    if n2_acquired && !n1_released {
        return Err(Violation::new("test::one_holder", "node 2 took the lock while node 1 still held it"));
    }
    Ok(())
}

pub(crate) fn lock_setup(margin_ms: u64) -> Setup<TimedLock> {
    Setup {
        nodes: 2,
        config: (Duration::from_secs(1), Duration::from_millis(margin_ms)),
        model: model(10_000, NetworkModel::RELIABLE),
        bounds: Bounds::default(),
        workload: Box::new(|_, _, _| None),
        invariants: vec![Box::new(one_holder)],
        history_invariants: vec![],
        at_end: vec![],
        obsolete: None,
        symmetry: None,
    }
}

#[test]
fn drift_breaks_a_lease_whose_margin_is_too_small_and_not_one_that_covers_it() {
    // ρ = 1%: node 1's 1 s can last 1/0.99 = 1.0101 s; node 2's 1 s + m can end after
    // (1 + m)/1.01 s. 10 ms is not enough, 30 ms is.
    let r = explore(&lock_setup(10), &Options::default(), |_| {});
    let cex = r.counterexample.expect("a 10 ms margin fails under 1% drift");
    assert_eq!(cex.violation.checker, "test::one_holder");
    assert!(
        cex.steps[0].what.contains("n1 -10000 ppm") && cex.steps[0].what.contains("n2 +10000 ppm"),
        "{:?}",
        cex.steps
    );
    let r = explore(&lock_setup(30), &Options::default(), |_| {});
    assert!(r.counterexample.is_none());
    assert!(r.complete);
    assert_eq!(r.states, 4 * 3, "four clock assignments, three states each");
}

/// Node 1 sends one message; node 2 counts what arrives.
#[derive(Clone, Debug, Hash)]
pub(crate) struct Once {
    out: VecDeque<OutputFor<Once>>,
}

impl Protocol for Once {
    type Message = u8;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = u8;
    type Config = ();
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let mut out = VecDeque::new();
        if init.id == NodeId(1) {
            out.push_back(Output::Send { to: NodeId(2), msg: 7 });
        }
        Once { out }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, m: u8) {
        self.out.push_back(Output::Event(m));
    }
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

pub(crate) fn once_setup(network: NetworkModel, bounds: Bounds) -> Setup<Once> {
    Setup {
        nodes: 2,
        config: (),
        model: model(0, network),
        bounds,
        workload: Box::new(|_, _, _| None),
        invariants: vec![Box::new(|w: &World<Once>| {
            if w.history().len() > 1 {
                return Err(Violation::new("test::at_most_once", "delivered twice"));
            }
            Ok(())
        })],
        history_invariants: vec![],
        at_end: vec![Box::new(|w: &World<Once>| {
            if w.history().is_empty() {
                return Err(Violation::new("test::eventually_delivered", "never delivered"));
            }
            Ok(())
        })],
        obsolete: None,
        symmetry: None,
    }
}

#[test]
fn loss_and_duplication_are_explored_only_where_the_model_admits_them() {
    let faults = Bounds { drops: 1, duplicates: 1, ..Bounds::default() };
    let reliable = explore(&once_setup(NetworkModel::RELIABLE, faults.clone()), &Options::default(), |_| {});
    assert!(reliable.counterexample.is_none(), "{:?}", reliable.counterexample);
    let lossy = explore(&once_setup(NetworkModel::UNRELIABLE, faults), &Options::default(), |_| {});
    let cex = lossy.counterexample.expect("duplication or loss breaks something");
    // BFS finds the shortest: duplicate then deliver twice (3 steps) or lose it (1 step,
    // a maximal path that never delivers).
    assert_eq!(cex.violation.checker, "test::eventually_delivered", "{:?}", cex.steps);
    assert_eq!(cex.steps.len(), 2, "start, drop: {:?}", cex.steps);
    let dup_only = Bounds { duplicates: 1, ..Bounds::default() };
    let dup = explore(&once_setup(NetworkModel::UNRELIABLE, dup_only), &Options::default(), |_| {});
    let cex = dup.counterexample.expect("a duplicate is delivered twice");
    assert_eq!(cex.violation.checker, "test::at_most_once");
    assert_eq!(cex.steps.len(), 4, "start, duplicate, deliver, deliver: {:?}", cex.steps);
    assert!(cex.trace.lines().count() >= 4, "{}", cex.trace);
}

/// Node 1 sends node 2 one message and plays `ROUNDS` rounds of ping-pong with node 3; the
/// "bug" is node 2 hearing nothing until the whole exchange is over: one message starved
/// past `2 * ROUNDS` others, a depth-1 ordering that PCT's priorities find often and a
/// uniformly random walk (a fair coin between two choices at every step) almost never.
#[derive(Clone, Debug, Hash)]
pub(crate) struct Starve {
    out: VecDeque<OutputFor<Starve>>,
}

const ROUNDS: u8 = 10;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Hash)]
pub(crate) enum StarveMsg {
    Aside,
    Ping(u8),
    Pong(u8),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Hash)]
pub(crate) enum StarveEvent {
    Heard,
    Done,
}

impl Protocol for Starve {
    type Message = StarveMsg;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = StarveEvent;
    type Config = ();
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let mut out = VecDeque::new();
        if init.id == NodeId(1) {
            out.push_back(Output::Send { to: NodeId(2), msg: StarveMsg::Aside });
            out.push_back(Output::Send { to: NodeId(3), msg: StarveMsg::Ping(1) });
        }
        Starve { out }
    }
    fn handle_message(&mut self, _: Now, from: NodeId, m: StarveMsg) {
        let out = match m {
            StarveMsg::Aside => Output::Event(StarveEvent::Heard),
            StarveMsg::Ping(i) => Output::Send { to: from, msg: StarveMsg::Pong(i) },
            StarveMsg::Pong(i) if i < ROUNDS => Output::Send { to: from, msg: StarveMsg::Ping(i + 1) },
            StarveMsg::Pong(_) => Output::Event(StarveEvent::Done),
        };
        self.out.push_back(out);
    }
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

pub(crate) fn starve_setup() -> Setup<Starve> {
    Setup {
        nodes: 3,
        config: (),
        model: model(0, NetworkModel::RELIABLE),
        bounds: Bounds::default(),
        workload: Box::new(|_, _, _| None),
        invariants: vec![Box::new(|w: &World<Starve>| {
            let done = w.history().iter().any(|o| o.event == StarveEvent::Done);
            let heard = w.history().iter().any(|o| o.event == StarveEvent::Heard);
            if done && !heard {
                return Err(Violation::new(
                    "test::heard_before_done",
                    "the aside waited out the whole exchange",
                ));
            }
            Ok(())
        })],
        history_invariants: vec![],
        at_end: vec![],
        obsolete: None,
        symmetry: None,
    }
}

#[test]
fn pct_starves_one_message_where_a_uniform_walk_does_not() {
    let setup = starve_setup();
    let k = estimate_length(&setup, 1000);
    assert!((2..=2 * ROUNDS as usize + 2).contains(&k), "k = {k}");
    let found = |scheduler| {
        (1..=400u64).filter(|&seed| walk(&setup, scheduler, seed, k, 1000).counterexample.is_some()).count()
    };
    // Uniform: the aside survives each of 20 coin flips with probability 1/2: 400 · 2^-20.
    assert_eq!(found(Scheduler::Random), 0);
    // PCT, depth 1: the aside's random priority must be the lowest of 21: about 1 in 21.
    let pct1 = found(Scheduler::Pct { depth: 1 });
    assert!((5..=60).contains(&pct1), "pct depth 1 found it in {pct1} of 400");
    // Depth 2 adds a change point that may lower the aside itself: at least as often.
    let pct2 = found(Scheduler::Pct { depth: 2 });
    assert!(pct2 >= 5, "pct depth 2 found it in {pct2} of 400");
}

#[test]
fn a_walk_is_a_function_of_its_seed_and_its_counterexample_replays() {
    let setup = starve_setup();
    let a = walk(&setup, Scheduler::Pct { depth: 3 }, 7, 22, 1000);
    let b = walk(&setup, Scheduler::Pct { depth: 3 }, 7, 22, 1000);
    assert_eq!((a.steps, a.finished), (b.steps, b.finished));
    assert_eq!(a.counterexample.map(|c| c.trace), b.counterexample.map(|c| c.trace));
    let failing = (1..=400u64)
        .find_map(|seed| walk(&setup, Scheduler::Pct { depth: 1 }, seed, 22, 1000).counterexample)
        .expect("some seed starves the aside");
    assert_eq!(failing.violation.checker, "test::heard_before_done");
    assert!(failing.trace.contains("\"kind\":\"deliver\""), "{}", failing.trace);
    let clean = walk(&setup, Scheduler::Random, 1, 22, 1000);
    assert!(clean.finished && clean.counterexample.is_none());
    let cut = walk(&setup, Scheduler::Random, 1, 22, 3);
    assert!(!cut.finished && cut.steps == 3);
}

#[test]
#[should_panic(
    expected = "Setup::obsolete called 7 from n1 to n2 obsolete, but delivering it emits an event"
)]
fn a_hook_that_forgets_a_message_that_matters_is_caught() {
    let mut setup = once_setup(NetworkModel::RELIABLE, Bounds::default());
    setup.obsolete = Some(Box::new(|_, _, _, _| true));
    explore(&setup, &Options::default(), |_| {});
}

/// Node 1 sends node 2 a message at once and fires a timer a second later.
#[derive(Clone, Debug, Hash)]
struct Race {
    deadline: Option<Instant>,
    out: VecDeque<OutputFor<Race>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Hash)]
enum RaceEvent {
    Arrived,
    Fired,
}

impl Protocol for Race {
    type Message = ();
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = RaceEvent;
    type Config = ();
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let mut out = VecDeque::new();
        let mut deadline = None;
        if init.id == NodeId(1) {
            out.push_back(Output::Send { to: NodeId(2), msg: () });
            deadline = Some(init.now.mono + Duration::from_secs(1));
        }
        Race { deadline, out }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {
        self.out.push_back(Output::Event(RaceEvent::Arrived));
    }
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {
        self.deadline = None;
        self.out.push_back(Output::Event(RaceEvent::Fired));
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

#[test]
fn a_delay_bound_holds_the_clock_until_old_messages_arrive() {
    let setup = |max_delay| Setup::<Race> {
        nodes: 2,
        config: (),
        model: model(0, NetworkModel::RELIABLE),
        bounds: Bounds { max_delay, ..Bounds::default() },
        workload: Box::new(|_, _, _| None),
        invariants: vec![Box::new(|w: &World<Race>| match w.history().first().map(|o| &o.event) {
            Some(RaceEvent::Fired) => Err(Violation::new("test::arrives_first", "the timer fired first")),
            _ => Ok(()),
        })],
        history_invariants: vec![],
        at_end: vec![],
        obsolete: None,
        symmetry: None,
    };
    let unbounded = explore(&setup(None), &Options::default(), |_| {});
    assert!(unbounded.counterexample.is_some(), "an unbounded delay outlasts the timer");
    let bounded = explore(&setup(Some(Duration::from_millis(100))), &Options::default(), |_| {});
    assert!(bounded.counterexample.is_none() && bounded.complete, "{:?}", bounded.counterexample);
    let long = explore(&setup(Some(Duration::from_secs(2))), &Options::default(), |_| {});
    assert!(long.counterexample.is_some(), "a bound longer than the timer admits the race");
}

#[test]
fn a_history_invariant_finds_what_an_invariant_finds_judging_only_where_the_history_grew() {
    use std::cell::Cell;
    use std::rc::Rc;
    // Starve's property reads the history alone, and most of its steps (the ping-pong) add
    // nothing to it; judged as either kind, the search must visit the same states and stop
    // at the same counterexample.
    let run = |as_history: bool, mode: Mode| {
        let mut setup = starve_setup();
        let property = setup.invariants.pop().expect("starve has a property");
        let calls = Rc::new(Cell::new(0u64));
        let counted = Rc::clone(&calls);
        let counting: Invariant<Starve> = Box::new(move |w: &World<Starve>| {
            counted.set(counted.get() + 1);
            property(w)
        });
        if as_history {
            setup.history_invariants.push(counting);
        } else {
            setup.invariants.push(counting);
        }
        let report = explore(&setup, &Options::default().mode(mode), |_| {});
        (report.states, report.counterexample.map(|c| (c.violation.checker, c.path)), calls.get())
    };
    for mode in [Mode::Bfs, Mode::Dfs] {
        let (states, found, judged_every_state) = run(false, mode);
        let (history_states, history_found, judged_on_growth) = run(true, mode);
        assert!(found.is_some(), "{mode:?}: the aside can wait out the exchange");
        assert_eq!((history_states, history_found), (states, found), "{mode:?}");
        assert_eq!(judged_every_state, states, "{mode:?}: an invariant is judged on every distinct state");
        assert!(
            judged_on_growth * 2 < judged_every_state,
            "{mode:?}: {judged_on_growth} judgements of {states} states"
        );
    }
}

#[test]
fn the_state_bound_is_exact() {
    let setup = starve_setup();
    let all = explore(&setup, &Options::default(), |_| {});
    assert!(all.states > 10);
    for bound in [1, 2, 10] {
        let cut = explore(&setup, &Options::default().max_states(bound), |_| {});
        assert_eq!((cut.states, cut.complete), (bound, false), "bound {bound}");
    }
    // A bound the model fits in exactly does not cut it.
    let exact = explore(&setup, &Options::default().max_states(all.states), |_| {});
    assert_eq!(exact.states, all.states);
    assert_eq!(exact.counterexample.is_some(), all.counterexample.is_some());
}

#[test]
fn fingerprints_keep_apart_inputs_that_differ_only_in_length_or_tail() {
    use super::state::fingerprint_of;
    // A string hashes as its bytes and a 0xff: a length marker inside the last word once
    // made these two the same.
    assert_ne!(fingerprint_of(&"abcdefg"), fingerprint_of(&"abcdefg8"));
    assert_ne!(fingerprint_of(&[1u8, 2, 3, 4]), fingerprint_of(&0x0403_0201u32));
    assert_ne!(fingerprint_of(&(0u64, 0u64)), fingerprint_of(&0u64));
    assert_ne!(fingerprint_of(&Vec::<u8>::new()), fingerprint_of(&vec![0u8]));
    assert_eq!(fingerprint_of(&("same", 1u8)), fingerprint_of(&("same", 1u8)));
}

/// Every node greets every other once and remembers who greeted it; with `RENAMES_HEARD`
/// false its [`Rename`] forgets that set (a wrong implementation the explorer must catch).
#[derive(Clone, Debug, Hash)]
struct Hello<const RENAMES_HEARD: bool> {
    id: NodeId,
    heard: std::collections::BTreeSet<NodeId>,
    out: VecDeque<OutputFor<Hello<RENAMES_HEARD>>>,
}

impl<const R: bool> Protocol for Hello<R> {
    type Message = ();
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = ();
    type Config = ();
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let out =
            init.members.iter().filter(|&&m| m != init.id).map(|&to| Output::Send { to, msg: () }).collect();
        Hello { id: init.id, heard: Default::default(), out }
    }
    fn handle_message(&mut self, _: Now, from: NodeId, _: ()) {
        self.heard.insert(from);
    }
    fn handle_command(&mut self, _: Now, _: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl<const R: bool> palisade_core::Rename for Hello<R> {
    fn rename(&mut self, map: &Renaming) {
        self.id.rename(map);
        if R {
            self.heard.rename(map);
        }
        assert!(self.out.is_empty(), "the explorer drains every output");
    }
}

fn hello_setup<const R: bool>(symmetric: bool) -> Setup<Hello<R>> {
    Setup {
        nodes: 3,
        config: (),
        model: model(0, NetworkModel::RELIABLE),
        bounds: Bounds::default(),
        workload: Box::new(|_, _, _| None),
        invariants: vec![],
        history_invariants: vec![],
        at_end: vec![Box::new(|w: &World<Hello<R>>| {
            let all = w.running().all(|(_, n)| n.heard.len() == 2);
            if all { Ok(()) } else { Err(Violation::new("test::everyone_heard", "a greeting was lost")) }
        })],
        obsolete: None,
        symmetry: symmetric.then(|| Symmetry::among((1..=3).map(NodeId))),
    }
}

#[test]
fn interchangeable_nodes_are_visited_once_per_renaming() {
    let full = explore(&hello_setup::<true>(false), &Options::default(), |_| {});
    let reduced = explore(&hello_setup::<true>(true), &Options::default(), |_| {});
    let off = explore(&hello_setup::<true>(true), &Options::default().symmetry(false), |_| {});
    for r in [&full, &reduced, &off] {
        assert!(r.complete && r.counterexample.is_none(), "{r:?}");
    }
    // Six greetings delivered in any order: the subsets delivered, 2^6 = 64 states. Up to
    // renaming the three nodes, the delivered greetings form a directed graph on three
    // unlabelled vertices: 16 of them.
    assert_eq!(full.states, 64);
    assert_eq!(off.states, 64, "Options::symmetry(false) visits every state");
    assert_eq!(reduced.states, 16);
    // Representatives by sorted keys (what classes of more than EXACT_UP_TO nodes get) are
    // renamings too, so they merge fewer twins but never lose a state.
    let mut setup = hello_setup::<true>(true);
    setup.symmetry = setup.symmetry.map(Symmetry::sorted_only);
    let sorted = explore(&setup, &Options::default(), |_| {});
    assert!(sorted.complete && sorted.counterexample.is_none(), "{sorted:?}");
    assert!((17..64).contains(&sorted.states), "sorted keys: {} states", sorted.states);
}

#[test]
#[should_panic(expected = "Setup::symmetry declares [n1, n2, n3] interchangeable, but a state renamed")]
fn a_rename_that_forgets_a_field_is_caught_by_the_search() {
    explore(&hello_setup::<false>(true), &Options::default(), |_| {});
}

#[test]
fn check_symmetry_counts_the_groups_a_reduced_search_visits() {
    let check = check_symmetry(&hello_setup::<true>(true), &Options::default()).unwrap();
    assert_eq!(check, SymmetryCheck { states: 64, groups: 16, complete: true });
    let err = check_symmetry(&hello_setup::<false>(true), &Options::default()).unwrap_err();
    assert!(err.contains("does not step to the renamed successors"), "{err}");
}

/// Asymmetries the search's sample can miss (found by a review): a checker that names
/// particular nodes, in an invariant or in an "eventually" property. `check_symmetry` looks
/// at every state, and the search given the same setup shows what is at stake: it misses
/// the violation.
#[test]
fn check_symmetry_catches_checkers_that_tell_the_nodes_apart() {
    // "n4 heard from all three while n1 heard from none": a state whose twins are fine.
    let mut setup = hello_setup::<true>(true);
    setup.nodes = 4;
    setup.symmetry = Some(Symmetry::among((1..=4).map(NodeId)));
    setup.at_end.clear();
    setup.invariants = vec![Box::new(|w: &World<Hello<true>>| {
        let heard = |n: u32| w.node(NodeId(n)).map_or(0, |h| h.heard.len());
        if heard(4) == 3 && heard(1) == 0 {
            return Err(Violation::new("test::lopsided", "n4 heard everyone before n1 heard anyone"));
        }
        Ok(())
    })];
    let unreduced = explore(&setup, &Options::default().symmetry(false), |_| {});
    assert!(unreduced.counterexample.is_some());
    let reduced = explore(&setup, &Options::default(), |_| {});
    assert!(
        reduced.counterexample.is_none(),
        "the wrong declaration hides the violation from the reduced search"
    );
    let err = check_symmetry(&setup, &Options::default()).unwrap_err();
    assert!(err.contains("the checkers judge a state and its renaming"), "{err}");

    // An "eventually" property about one pair, on a network that may lose one greeting.
    let mut setup = hello_setup::<true>(true);
    setup.model = model(0, NetworkModel { loss: true, ..NetworkModel::RELIABLE });
    setup.bounds = Bounds::default().drops(1);
    setup.at_end = vec![Box::new(|w: &World<Hello<true>>| {
        match w.node(NodeId(1)).is_some_and(|h| h.heard.contains(&NodeId(2))) {
            true => Ok(()),
            false => Err(Violation::new("test::n1_heard_n2", "n1 never heard n2")),
        }
    })];
    let err = check_symmetry(&setup, &Options::default()).unwrap_err();
    assert!(err.contains("the checkers judge a state and its renaming"), "{err}");
}

#[test]
#[should_panic(expected = "Setup::symmetry names n5, but the model's nodes are n1..=n3")]
fn a_symmetry_naming_a_node_the_model_lacks_is_refused() {
    let mut setup = hello_setup::<true>(true);
    setup.symmetry = Some(Symmetry::among([NodeId(2), NodeId(5)]));
    explore(&setup, &Options::default(), |_| {});
}
