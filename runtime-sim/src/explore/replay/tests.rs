use super::*;
use crate::explore::tests::{lock_setup, model, once_setup, one_holder};
use crate::explore::{Bounds, Counterexample, Options, Scheduler, explore, walk};
use palisade_core::model::NetworkModel;
use palisade_core::protocol::OutputFor;
use palisade_core::{Init, Instant, Now, Output};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

fn counterexample<P>(setup: &Setup<P>) -> Counterexample
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    explore(setup, &Options::default(), |_| {}).counterexample.expect("the model has a bug")
}

fn kinds(trace: &str, kind: &str) -> usize {
    trace.lines().filter(|l| l.contains(&format!("\"kind\":\"{kind}\""))).count()
}

#[test]
fn a_drift_counterexample_fails_the_same_checker_in_the_simulator_at_the_same_true_time() {
    let setup = lock_setup(10);
    let cx = counterexample(&setup);
    // The simulator runs the model's invariant as a checker of its own.
    let r = replay_in_simulator(&setup, &cx.path, |sim| {
        sim.add_checker(one_holder);
    })
    .expect("the simulator takes every step");
    let v = r.report.violation.as_ref().expect("the simulator sees two holders too");
    assert_eq!(v.checker, cx.violation.checker);
    assert_eq!(Duration::from_nanos(v.time_ns), cx.steps.last().expect("steps").at, "{:?}", cx.steps);
    assert_eq!(r.steps, cx.path.len());
    assert_eq!(r.model.as_ref().map(|(step, v)| (*step, v.checker)), Some((r.steps, "test::one_holder")));
    // The timers fired where the explorer's clock rates put them, traced in true time.
    assert_eq!(
        kinds(&r.trace, "timeout"),
        cx.steps.iter().filter(|s| s.what.contains("timer fires")).count()
    );
    assert!(r.trace.contains("\"ppm\":-10000") && r.trace.contains("\"ppm\":10000"), "{}", r.trace);
    assert!(r.trace.contains("\"kind\":\"violation\""), "{}", r.trace);
}

#[test]
fn duplicates_and_losses_replay_and_eventually_properties_are_judged_where_the_path_ends() {
    let dup_only = Bounds { duplicates: 1, ..Bounds::default() };
    let setup = once_setup(NetworkModel::UNRELIABLE, dup_only);
    let cx = counterexample(&setup);
    let r = replay_in_simulator(&setup, &cx.path, |_| {}).expect("replays");
    assert_eq!(r.report.violation, None, "no simulator checker was added");
    assert_eq!(r.model.as_ref().map(|(_, v)| v.checker), Some("test::at_most_once"));
    assert_eq!((kinds(&r.trace, "duplicate"), kinds(&r.trace, "deliver")), (1, 2), "{}", r.trace);
    assert_eq!(r.report.delivered, 2);

    let lossy = once_setup(NetworkModel::UNRELIABLE, Bounds { drops: 1, ..Bounds::default() });
    let cx = counterexample(&lossy);
    let r = replay_in_simulator(&lossy, &cx.path, |sim| {
        sim.add_checker(crate::AtEnd(|w: &crate::World<crate::explore::tests::Once>| {
            match w.history().len() {
                0 => Err(Violation::new("sim::delivered", "nothing arrived")),
                _ => Ok(()),
            }
        }));
    })
    .expect("replays");
    let (step, v) = r.model.expect("never delivered");
    assert_eq!((step, v.checker), (cx.path.len(), "test::eventually_delivered"));
    let v = r.report.violation.expect("the simulator's end-of-run checker fails too");
    assert_eq!((v.checker, v.cause.as_str()), ("sim::delivered", "end of run"));
    assert_eq!((kinds(&r.trace, "drop"), r.report.dropped), (1, 1), "{}", r.trace);
}

#[test]
fn the_simulators_own_checkers_judge_the_replay_before_the_models_invariants() {
    use crate::explore::tests::{Starve, StarveEvent, starve_setup};
    let setup = starve_setup();
    let failing = (1..=400u64)
        .find_map(|seed| walk(&setup, Scheduler::Pct { depth: 1 }, seed, 22, 1000).counterexample)
        .expect("some seed starves the aside");
    let replay = |add: bool| {
        replay_in_simulator(&setup, &failing.path, |sim| {
            if add {
                sim.add_checker(|w: &crate::World<Starve>| match w.history().last() {
                    Some(o) if o.event == StarveEvent::Done => Err(Violation::new("sim::done_seen", "done")),
                    _ => Ok(()),
                });
            }
        })
        .expect("replays")
    };
    let r = replay(true);
    assert_eq!(r.report.violation.map(|v| v.checker), Some("sim::done_seen"));
    assert_eq!(r.model.map(|(_, v)| v.checker), Some("test::heard_before_done"));
    let r = replay(false);
    assert_eq!(r.report.violation, None);
    assert_eq!(r.model.map(|(_, v)| v.checker), Some("test::heard_before_done"));
    assert_eq!(r.steps, failing.path.len());
    // Ten pings and ten pongs delivered; the aside still in flight.
    assert_eq!((r.report.delivered, r.report.sent), (20, 21));
}

/// Node 1 counts commands, answers each with its count and sends it to node 2, but persists
/// only odd counts: after a crash it can restart from an older count and answer one twice.
#[derive(Clone, Debug, Hash)]
struct Counter {
    count: u64,
    /// What it was given at boot: a wrong seed or clock origin in the replay shows here.
    seed: u64,
    booted: Instant,
    out: VecDeque<OutputFor<Counter>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Hash)]
struct Seen(u64);

impl Protocol for Counter {
    type Message = u64;
    type Command = ();
    type Reply = u64;
    type Event = Seen;
    type Config = ();
    type Durable = u64;

    fn new(init: Init<Self>) -> Self {
        Counter {
            count: init.restored.unwrap_or(0),
            seed: init.seed,
            booted: init.now.mono,
            out: VecDeque::new(),
        }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, n: u64) {
        self.out.push_back(Output::Event(Seen(n)));
    }
    fn handle_command(&mut self, _: Now, req: RequestId, (): ()) {
        self.count += 1;
        if !self.count.is_multiple_of(2) {
            self.out.push_back(Output::Persist(self.count));
        }
        self.out.push_back(Output::Send { to: NodeId(2), msg: self.count });
        self.out.push_back(Output::Reply { req, reply: self.count });
    }
    fn handle_timeout(&mut self, _: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

fn counter_setup() -> Setup<Counter> {
    Setup {
        nodes: 2,
        config: (),
        model: model(0, NetworkModel::RELIABLE),
        bounds: Bounds { crashes: 1, ..Bounds::default() },
        workload: Box::new(|node, issued, _| (node == NodeId(1) && issued < 3).then_some(())),
        invariants: vec![Box::new(|w: &crate::World<Counter>| {
            let counts: Vec<u64> = w.replies().iter().map(|o| o.event.reply).collect();
            if counts.windows(2).any(|p| p[1] <= p[0]) {
                return Err(Violation::new("test::counts_increase", format!("n1 counted {counts:?}")));
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
fn crashes_restarts_commands_and_durable_state_replay() {
    let setup = counter_setup();
    let cx = counterexample(&setup);
    let text: Vec<&str> = cx.steps.iter().map(|s| s.what.as_str()).collect();
    assert!(
        text.iter().any(|s| s.contains("crashes")) && text.iter().any(|s| s.contains("restarts")),
        "{text:?}"
    );
    assert!(cx.violation.message.contains("[1, 2, 2]"), "{}", cx.violation.message);
    let r = replay_in_simulator(&setup, &cx.path, |_| {}).expect("replays");
    assert_eq!(r.model.as_ref().map(|(_, v)| v.checker), Some("test::counts_increase"));
    for kind in ["crash", "restart", "command", "reply", "persist"] {
        assert!(kinds(&r.trace, kind) >= 1, "no {kind} in {}", r.trace);
    }
}

/// A protocol that is not a function of its inputs: it numbers its instances from a global
/// counter, so the explorer's run and the simulator's differ.
#[derive(Clone, Debug, Hash)]
struct Impure {
    instance: u64,
    out: VecDeque<OutputFor<Impure>>,
}

static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Protocol for Impure {
    type Message = u8;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = u8;
    type Config = ();
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let mut out = VecDeque::new();
        if init.id == NodeId(1) {
            out.push_back(Output::Send { to: NodeId(2), msg: 1 });
        }
        Impure { instance: INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed), out }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, m: u8) {
        self.out.push_back(Output::Event(m));
    }
    fn handle_command(&mut self, _: Now, _: RequestId, c: Self::Command) {
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

#[test]
fn a_simulator_that_reaches_other_states_than_the_explorer_is_an_error() {
    let setup = Setup::<Impure> {
        nodes: 2,
        config: (),
        model: model(0, NetworkModel::RELIABLE),
        bounds: Bounds::default(),
        workload: Box::new(|_, _, _| None),
        invariants: vec![Box::new(|w: &crate::World<Impure>| match w.history().len() {
            0 => Ok(()),
            _ => Err(Violation::new("test::nothing_heard", "n2 heard n1")),
        })],
        history_invariants: vec![],
        at_end: vec![],
        obsolete: None,
        symmetry: None,
    };
    let cx = counterexample(&setup);
    let err = replay_in_simulator(&setup, &cx.path, |_| {}).expect_err("the instances differ");
    assert!(err.contains("at the start") && err.contains("not the explorer's"), "{err}");
}

/// Impure in one place each: it persists a global (`durable`), or asks for a timer a global
/// sets (`timer`); its protocol state is the same in both loops.
#[derive(Clone, Debug, Hash)]
struct Leaky<const TIMER: bool> {
    out: VecDeque<OutputFor<Leaky<TIMER>>>,
    armed: Option<Instant>,
}

static LEAKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<const TIMER: bool> Protocol for Leaky<TIMER> {
    type Message = u8;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = u8;
    type Config = ();
    type Durable = u64;

    fn new(init: Init<Self>) -> Self {
        let mut out = VecDeque::new();
        let leak = LEAKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !TIMER {
            out.push_back(Output::Persist(leak));
        }
        let armed = (TIMER && init.id == NodeId(1)).then_some(init.now.mono);
        Leaky { out, armed }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: u8) {}
    fn handle_command(&mut self, _: Now, _: RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {
        self.armed = None;
        self.out.push_back(Output::Event(1));
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let leak = LEAKS.load(std::sync::atomic::Ordering::Relaxed);
        self.armed.map(|t| t + Duration::from_millis(leak % 1000 + 1))
    }
}

fn leaky_setup<const TIMER: bool>() -> Setup<Leaky<TIMER>> {
    Setup {
        nodes: 2,
        config: (),
        model: model(0, NetworkModel::RELIABLE),
        bounds: Bounds::default(),
        workload: Box::new(|_, _, _| None),
        invariants: vec![Box::new(|w: &crate::World<Leaky<TIMER>>| match w.history().len() {
            0 => Ok(()),
            _ => Err(Violation::new("test::no_event", "an event")),
        })],
        history_invariants: vec![],
        at_end: vec![Box::new(|_: &crate::World<Leaky<TIMER>>| Err(Violation::new("test::ends", "the end")))],
        obsolete: None,
        symmetry: None,
    }
}

#[test]
fn durable_state_and_timers_the_explorer_did_not_see_are_errors() {
    let setup = leaky_setup::<false>();
    let cx = counterexample(&setup);
    let err = replay_in_simulator(&setup, &cx.path, |_| {}).expect_err("the durable states differ");
    assert!(err.contains("durable state) are not the explorer's"), "{err}");
    let setup = leaky_setup::<true>();
    let cx = counterexample(&setup);
    assert_eq!(cx.violation.checker, "test::no_event");
    LEAKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let err = replay_in_simulator(&setup, &cx.path, |_| {}).expect_err("the timer is due elsewhere");
    assert!(err.contains("timer is due at"), "{err}");
}

#[test]
fn a_path_from_another_setup_is_an_error_not_a_panic() {
    let dup_only = Bounds { duplicates: 1, ..Bounds::default() };
    let cx = counterexample(&once_setup(NetworkModel::UNRELIABLE, dup_only));
    // The same protocol where the network never duplicates: the path's first choice is not one.
    let reliable = once_setup(NetworkModel::RELIABLE, Bounds::default());
    let err = replay_in_simulator(&reliable, &cx.path, |_| {}).expect_err("not this model's path");
    assert!(err.contains("step 1") && err.contains("not a choice of this model"), "{err}");
}
