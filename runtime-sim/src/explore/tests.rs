use super::*;
use palisade_core::model::{ClockModel, NetworkModel, NodeFaults, Timing};
use palisade_core::protocol::OutputFor;
use palisade_core::{Init, Instant, Now};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

fn model(drift_ppm: u32, network: NetworkModel) -> SystemModel {
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
struct TimedLock {
    deadline: Option<Instant>,
    out: VecDeque<OutputFor<TimedLock>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Hash)]
enum LockEvent {
    Acquired,
    Released,
}

impl Protocol for TimedLock {
    type Message = ();
    type Command = std::convert::Infallible;
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
    fn handle_command(&mut self, _: Now, c: Self::Command) {
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
fn one_holder(w: &World<TimedLock>) -> Result<(), Violation> {
    let n1_released = w.history().iter().any(|o| o.node == NodeId(1) && o.event == LockEvent::Released);
    let n2_acquired = w.history().iter().any(|o| o.node == NodeId(2) && o.event == LockEvent::Released);
    if n2_acquired && !n1_released {
        return Err(Violation::new("test::one_holder", "node 2 took the lock while node 1 still held it"));
    }
    Ok(())
}

fn lock_setup(margin_ms: u64) -> Setup<TimedLock> {
    Setup {
        nodes: 2,
        config: (Duration::from_secs(1), Duration::from_millis(margin_ms)),
        model: model(10_000, NetworkModel::RELIABLE),
        bounds: Bounds::default(),
        workload: Box::new(|_, _, _| None),
        invariants: vec![Box::new(one_holder)],
        at_end: vec![],
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
struct Once {
    out: VecDeque<OutputFor<Once>>,
}

impl Protocol for Once {
    type Message = u8;
    type Command = std::convert::Infallible;
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
    fn handle_command(&mut self, _: Now, c: Self::Command) {
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

fn once_setup(network: NetworkModel, bounds: Bounds) -> Setup<Once> {
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
        at_end: vec![Box::new(|w: &World<Once>| {
            if w.history().is_empty() {
                return Err(Violation::new("test::eventually_delivered", "never delivered"));
            }
            Ok(())
        })],
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
