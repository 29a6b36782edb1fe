//! The built-in protocols driven by application commands in the explorer: a small model of
//! each, whose application issues its next command once the events it waits for have
//! happened, walked along random paths to their end. On every path every command gets
//! exactly one reply, and the replies that carry results are checked. Each protocol is
//! `Clone + Hash`, so its states fingerprint. The lock service, ABD and Bracha have models
//! of their own (`palisade explore`, `src/scenarios/bracha.rs`); the skew monitor takes no
//! commands and is walked here with none.

use palisade::core::clock::{SkewConfig, SkewMonitor, skew_model};
use palisade::core::detector::swim::{MODEL as SWIM_MODEL, Swim, SwimCommand, SwimConfig, SwimReply};
use palisade::core::detector::{
    HEARTBEAT_MODEL, Heartbeat, HeartbeatCommand, HeartbeatConfig, HeartbeatReply, PhiAccrual,
};
use palisade::core::lease::LeaseConfig;
use palisade::core::lease::election::{Election, ElectionCommand, ElectionEvent, ElectionReply};
use palisade::core::lock::{LockCommand, LockConfig, LockEvent, LockReply, Locks};
use palisade::core::quorum::register::{
    Register, RegisterCommand, RegisterConfig, RegisterEvent, RegisterReply,
};
use palisade::core::quorum::{QuorumKind, QuorumSystem, VoteKeys};
use palisade::core::{NodeId, Observation, Protocol, Violation};
use palisade::sim::World;
use palisade::sim::explore::{Bounds, Invariant, Scheduler, Setup, Workload, walk};
use std::collections::BTreeSet;
use std::hash::Hash;
use std::time::Duration;

/// A model of `P` on `nodes` nodes: one message may be lost, messages arrive within 50 ms,
/// timers fire up to `horizon`. `workload` is the application; `expected` commands must each
/// be answered exactly once by the end of every path, and `check` judges the replies then.
fn setup<P: Protocol>(
    nodes: u32,
    config: P::Config,
    model: palisade::core::SystemModel,
    horizon: Duration,
    expected: usize,
    workload: Workload<P>,
    check: Invariant<P>,
) -> Setup<P> {
    let answered = move |w: &World<P>| {
        let distinct: BTreeSet<_> = w.replies().iter().map(|o| (o.node, o.event.req)).collect();
        if w.replies().len() == expected && distinct.len() == expected {
            Ok(())
        } else {
            let got = w.replies().len();
            Err(Violation::new(
                "commands::answered",
                format!(
                    "{got} replies to {} distinct commands; expected one to each of {expected}",
                    distinct.len()
                ),
            ))
        }
    };
    Setup {
        nodes,
        config,
        model,
        bounds: Bounds::default()
            .horizon(horizon)
            .max_delay(Some(Duration::from_millis(50)))
            .drops(1)
            .crashes(0)
            .duplicates(0),
        workload,
        invariants: vec![],
        history_invariants: vec![],
        at_end: vec![Box::new(answered), check],
        obsolete: None,
        symmetry: None,
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

/// True when `node` has seen an event `f` accepts.
fn seen<E>(history: &[Observation<E>], node: NodeId, f: impl Fn(&E) -> bool) -> bool {
    history.iter().any(|o| o.node == node && f(&o.event))
}

/// The replies `node` got, in order.
fn replies_of<R: Clone>(replies: &[Observation<palisade::core::Replied<R>>], node: NodeId) -> Vec<R> {
    replies.iter().filter(|o| o.node == node).map(|o| o.event.reply.clone()).collect()
}

#[test]
fn the_register_is_read_after_its_write_completes_and_returns_the_value() {
    let system = QuorumSystem::new(QuorumKind::Majority, 3, 1).expect("3 servers tolerate 1");
    let config = RegisterConfig::new(system, VoteKeys::Test(7));
    let client = NodeId(4);
    let workload: Workload<Register> = Box::new(move |node, issued, h| match (node == client, issued) {
        (true, 0) => Some(RegisterCommand::Write { value: b"x".to_vec() }),
        (true, 1) if seen(h, client, |e| matches!(e, RegisterEvent::WriteDone { .. })) => {
            Some(RegisterCommand::Read)
        }
        _ => None,
    });
    let check: Invariant<Register> =
        Box::new(move |w: &World<Register>| match &replies_of(w.replies(), client)[..] {
            [RegisterReply::Written { .. }, RegisterReply::Read { value: Some(v), .. }] if v == b"x" => {
                Ok(())
            }
            other => Err(Violation::new("register::read_own_write", format!("{other:?}"))),
        });
    let model = palisade::core::quorum::register::model(0);
    walks(&setup::<Register>(4, config, model, Duration::from_secs(3), 2, workload, check));
}

#[test]
fn a_named_lock_is_acquired_viewed_released_and_then_acquired_by_another() {
    let name = || "a".to_string();
    let within = Duration::from_secs(2);
    let (a, b) = (NodeId(1), NodeId(2));
    let acquired = |h: &[Observation<LockEvent>], n| seen(h, n, |e| matches!(e, LockEvent::Acquired { .. }));
    let workload: Workload<Locks> = Box::new(move |node, issued, h| match (node, issued) {
        (n, 0) if n == a => Some(LockCommand::Acquire { name: name(), within }),
        (n, 1) if n == a && acquired(h, a) => Some(LockCommand::View { name: name() }),
        (n, 2) if n == a => Some(LockCommand::Release { name: name() }),
        (n, 0) if n == b && seen(h, a, |e| matches!(e, LockEvent::Released { .. })) => {
            Some(LockCommand::Acquire { name: name(), within })
        }
        _ => None,
    });
    let check: Invariant<Locks> = Box::new(move |w: &World<Locks>| {
        let (ra, rb) = (replies_of(w.replies(), a), replies_of(w.replies(), b));
        match (&ra[..], &rb[..]) {
            (
                [
                    LockReply::Acquired { token: t1, .. },
                    LockReply::Holds { token: t2, .. },
                    LockReply::Released,
                ],
                [LockReply::Acquired { token: t3, .. }],
            ) if t1 == t2 && t3 > t1 => Ok(()),
            other => Err(Violation::new("lock::replies", format!("{other:?}"))),
        }
    });
    let config = LockConfig::default();
    let model = palisade::core::lock::model(3, config.max_drift_ppm);
    walks(&setup::<Locks>(3, config, model, Duration::from_secs(3), 4, workload, check));
}

#[test]
fn the_first_leader_views_writes_and_resigns_by_command() {
    let term = Duration::from_secs(1);
    let config = LeaseConfig::default().resource(NodeId(4)).term(term).renew_after(term / 3);
    let first_leader = |h: &[Observation<ElectionEvent>]| {
        h.iter().find(|o| matches!(o.event, ElectionEvent::Elected { .. })).map(|o| o.node)
    };
    // The application on the first node elected views its lease, writes its id, resigns.
    let workload: Workload<Election> = Box::new(move |node, issued, h| match issued {
        _ if first_leader(h) != Some(node) => None,
        0 => Some(ElectionCommand::View),
        1 => Some(ElectionCommand::Write { value: u64::from(node.0), after: Duration::ZERO }),
        2 => Some(ElectionCommand::Resign),
        _ => None,
    });
    let check: Invariant<Election> = Box::new(move |w: &World<Election>| {
        let Some(n) = first_leader(w.history()) else {
            return Err(Violation::new("election::replies", "nobody was elected".to_string()));
        };
        // The lease may lapse between the commands (a lost renewal): then NotLeading.
        match &replies_of(w.replies(), n)[..] {
            [
                ElectionReply::Leading { .. } | ElectionReply::NotLeading,
                ElectionReply::Writing { .. } | ElectionReply::NotLeading,
                ElectionReply::Resigned { .. },
            ] => Ok(()),
            other => Err(Violation::new("election::replies", format!("{n}: {other:?}"))),
        }
    });
    let model = palisade::core::lease::model(config.max_drift_ppm);
    walks(&setup::<Election>(4, config, model, Duration::from_secs(3), 3, workload, check));
}

#[test]
fn the_phi_heartbeat_detector_is_unwatched_asked_and_watched_by_command() {
    let peer = NodeId(2);
    let workload: Workload<Heartbeat<PhiAccrual>> = Box::new(move |node, issued, _| match (node.0, issued) {
        (1, 0) => Some(HeartbeatCommand::Unwatch { peer }),
        (1, 1) => Some(HeartbeatCommand::Status),
        (1, 2) => Some(HeartbeatCommand::Watch { peer }),
        _ => None,
    });
    let check: Invariant<Heartbeat<PhiAccrual>> = Box::new(|w: &World<Heartbeat<PhiAccrual>>| {
        let r = replies_of(w.replies(), NodeId(1));
        match &r[..] {
            [HeartbeatReply::Unwatched, HeartbeatReply::Status(peers), HeartbeatReply::Watching]
                if peers.iter().all(|p| p.peer != NodeId(2) || !p.watched) =>
            {
                Ok(())
            }
            other => Err(Violation::new("heartbeat::replies", format!("{other:?}"))),
        }
    });
    let config = HeartbeatConfig::<PhiAccrual>::default();
    walks(&setup(2, config, HEARTBEAT_MODEL, Duration::from_secs(3), 3, workload, check));
}

#[test]
fn a_swim_member_leaves_and_joins_by_command_and_others_list_it() {
    let workload: Workload<Swim> = Box::new(|node, issued, _| match (node.0, issued) {
        (3, 0) => Some(SwimCommand::Leave),
        (3, 1) => Some(SwimCommand::Join),
        (1, 0) => Some(SwimCommand::Members),
        _ => None,
    });
    let check: Invariant<Swim> = Box::new(|w: &World<Swim>| match &replies_of(w.replies(), NodeId(3))[..] {
        [SwimReply::Left, SwimReply::Joined] => Ok(()),
        other => Err(Violation::new("swim::replies", format!("{other:?}"))),
    });
    walks(&setup::<Swim>(3, SwimConfig::default(), SWIM_MODEL, Duration::from_secs(2), 3, workload, check));
}

#[test]
fn the_skew_monitor_takes_no_commands_and_still_explores() {
    let config = SkewConfig::default();
    let model = skew_model(&config);
    let workload: Workload<SkewMonitor> = Box::new(|_, _, _| None);
    let nothing: Invariant<SkewMonitor> = Box::new(|_: &World<SkewMonitor>| Ok(()));
    walks(&setup::<SkewMonitor>(3, config, model, Duration::from_secs(2), 0, workload, nothing));
}
