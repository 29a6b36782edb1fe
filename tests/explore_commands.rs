//! Every built-in protocol driven by application commands in the explorer: a small model of
//! each, with a workload of commands, walked along random paths to their end. On every path
//! every command is answered, and the protocol's state fingerprints (each protocol is
//! `Clone + Hash`). The lock service, ABD and Bracha have models of their own
//! (`palisade explore`, `src/scenarios/bracha.rs`).

use palisade::core::detector::swim::{MODEL as SWIM_MODEL, Swim, SwimCommand, SwimConfig};
use palisade::core::detector::{FixedTimeout, HEARTBEAT_MODEL, Heartbeat, HeartbeatCommand, HeartbeatConfig};
use palisade::core::lease::LeaseConfig;
use palisade::core::lease::election::{Election, ElectionCommand};
use palisade::core::lock::{LockCommand, LockConfig, Locks};
use palisade::core::quorum::register::{Register, RegisterCommand, RegisterConfig};
use palisade::core::quorum::{QuorumKind, QuorumSystem, VoteKeys};
use palisade::core::{NodeId, Protocol, Violation};
use palisade::sim::World;
use palisade::sim::explore::{Bounds, Scheduler, Setup, Workload, walk};
use std::hash::Hash;
use std::time::Duration;

/// A model of `P` on `nodes` nodes whose application issues `commands` (per node, in order),
/// checked at the end of every path for one reply per command.
fn setup<P: Protocol>(
    nodes: u32,
    config: P::Config,
    model: palisade::core::SystemModel,
    horizon: Duration,
    commands: Vec<(NodeId, Vec<P::Command>)>,
) -> Setup<P>
where
    P::Command: Clone + 'static,
{
    let expected: usize = commands.iter().map(|(_, c)| c.len()).sum();
    let workload: Workload<P> = Box::new(move |node, issued, _| {
        commands.iter().find(|(n, _)| *n == node).and_then(|(_, c)| c.get(issued).cloned())
    });
    Setup {
        nodes,
        config,
        model,
        bounds: Bounds {
            horizon,
            max_delay: Some(Duration::from_millis(50)),
            drops: 1,
            crashes: 0,
            duplicates: 0,
        },
        workload,
        invariants: vec![],
        at_end: vec![Box::new(move |w: &World<P>| {
            let answered = w.replies().len();
            if answered == expected {
                Ok(())
            } else {
                Err(Violation::new(
                    "commands::answered",
                    format!("{answered} of {expected} commands answered"),
                ))
            }
        })],
        obsolete: None,
    }
}

/// Walks 20 random paths to their end: each must finish, and pass.
fn walks<P>(setup: &Setup<P>)
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    for seed in 1..=20 {
        let w = walk(setup, Scheduler::Random, seed, 0, 200_000);
        assert!(w.finished, "seed {seed}: the path did not end within 200,000 steps");
        assert!(w.counterexample.is_none(), "seed {seed}: {:?}", w.counterexample);
    }
}

#[test]
fn the_heartbeat_detector_is_watched_unwatched_and_asked_by_command() {
    let peer = NodeId(2);
    let commands = vec![(
        NodeId(1),
        vec![HeartbeatCommand::Unwatch { peer }, HeartbeatCommand::Status, HeartbeatCommand::Watch { peer }],
    )];
    let config = HeartbeatConfig::<FixedTimeout>::default();
    walks(&setup::<Heartbeat<FixedTimeout>>(2, config, HEARTBEAT_MODEL, Duration::from_secs(3), commands));
}

#[test]
fn swim_members_leave_and_join_by_command() {
    let commands = vec![
        (NodeId(1), vec![SwimCommand::Members]),
        (NodeId(3), vec![SwimCommand::Leave, SwimCommand::Join]),
    ];
    walks(&setup::<Swim>(3, SwimConfig::default(), SWIM_MODEL, Duration::from_secs(2), commands));
}

#[test]
fn the_quorum_register_is_written_and_read_by_command() {
    let system = QuorumSystem::new(QuorumKind::Majority, 3, 1).expect("3 servers tolerate 1");
    let config = RegisterConfig::new(system, VoteKeys::Test(7));
    let commands =
        vec![(NodeId(4), vec![RegisterCommand::Write { value: b"x".to_vec() }, RegisterCommand::Read])];
    let model = palisade::core::quorum::register::model(0);
    walks(&setup::<Register>(4, config, model, Duration::from_secs(2), commands));
}

#[test]
fn named_locks_are_acquired_viewed_and_released_by_command() {
    let name = || "a".to_string();
    let within = Duration::from_secs(1);
    let commands = vec![
        (
            NodeId(1),
            vec![
                LockCommand::Acquire { name: name(), within },
                LockCommand::View { name: name() },
                LockCommand::Release { name: name() },
            ],
        ),
        (NodeId(2), vec![LockCommand::Acquire { name: name(), within }]),
    ];
    let config = LockConfig::default();
    let model = palisade::core::lock::model(3, config.max_drift_ppm);
    walks(&setup::<Locks>(3, config, model, Duration::from_secs(3), commands));
}

#[test]
fn the_election_is_viewed_written_to_and_resigned_from_by_command() {
    let config = LeaseConfig { resource: NodeId(4), ..LeaseConfig::default() };
    let write = ElectionCommand::Write { value: 1, after: Duration::ZERO };
    let commands = vec![
        (NodeId(1), vec![ElectionCommand::View, write.clone(), ElectionCommand::Resign]),
        (NodeId(2), vec![write, ElectionCommand::Campaign]),
    ];
    let model = palisade::core::lease::model(config.max_drift_ppm);
    walks(&setup::<Election>(4, config, model, Duration::from_secs(3), commands));
}
