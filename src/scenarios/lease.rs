//! Leases and fencing tokens (DDIA figure 8-4 and 8-5): `fencing`, `unfenced` and
//! `drift-violation`.

use super::{Outcome, RunSpec, Scenario};
use palisade_core::Observation;
use palisade_core::fencing::Fenced;
use palisade_core::fencing::checks::{GrantOrder, accepted_writes_increase, issued_tokens_increase};
use palisade_core::hazard::Hazards;
use palisade_core::lease::checks::single_holder;
use palisade_core::lease::{LeaseCommand, LeaseConfig, LeaseEvent, SingleGrantorLockService};
use palisade_core::{NodeId, Rng};
use palisade_sim::{Latency, LinkConfig, Network, ProgressAfterGst, SimConfig, Simulation, World};
use std::time::Duration;

/// Nodes: 1 grantor, 2 storage, 3-5 clients.
pub const NODES: u32 = 5;
/// The clients.
pub const CLIENTS: [NodeId; 3] = [NodeId(3), NodeId(4), NodeId(5)];
/// Configured drift bound ρ for these scenarios: 1% (generous, so it matters).
pub const RHO_PPM: u32 = 10_000;

/// The lock service as the scenarios run it: 2 s leases renewed after a third, 300 ms
/// request timeouts.
pub fn config(fencing: bool) -> LeaseConfig {
    let term = Duration::from_secs(2);
    LeaseConfig::default()
        .term(term)
        .max_drift_ppm(RHO_PPM)
        .renew_after(term / 3)
        .jeopardy_grace(Duration::from_secs(2))
        .request_timeout(Duration::from_millis(300))
        .hazards(if fencing { Hazards::NONE } else { Hazards::NONE.unfenced() })
}

/// How often the scenarios' application asks each node to write.
pub const WRITE_EVERY: Duration = Duration::from_millis(100);
/// The application's processing between its lease check and its write leaving (DDIA example
/// 8-1): long enough that a pause usually catches a write in flight.
pub const WRITE_AFTER: Duration = Duration::from_millis(300);

/// Write commands for `nodes` from the scenarios' application, as (node, time, value, after):
/// from 0-100 ms on (per node, from the seed), one every [`WRITE_EVERY`] until `duration`,
/// each leaving [`WRITE_AFTER`] after its lease check; values `node << 32 | k` are unique.
pub fn writes(seed: u64, nodes: &[NodeId], duration: Duration) -> Vec<(NodeId, Duration, u64)> {
    let mut rng = Rng::from_seed(seed ^ 0x7772_6974_6573);
    let mut out = Vec::new();
    for &n in nodes {
        let mut at = rng.duration_between(Duration::ZERO, WRITE_EVERY);
        let mut k = 0u64;
        while at < duration {
            k += 1;
            out.push((n, at, (u64::from(n.0) << 32) | k));
            at += WRITE_EVERY;
        }
    }
    out
}

/// Schedules the clients' application for a run of `duration`, as commands from outside the
/// protocol: each client asks for the lease within 300 ms of the start; every 2-4 s it
/// releases it and asks again 0.3-0.9 s later, so clients take turns; and it writes as
/// [`writes`] says, under whatever lease it holds when each write is checked.
pub fn drive_clients(sim: &mut Simulation<SingleGrantorLockService>, seed: u64, duration: Duration) {
    let mut rng = Rng::from_seed(seed ^ 0x0074_7572_6e73);
    for c in CLIENTS {
        let mut at = rng.duration_between(Duration::ZERO, Duration::from_millis(300));
        sim.command_at(c, at, LeaseCommand::Acquire);
        loop {
            at += rng.duration_between(Duration::from_secs(2), Duration::from_secs(4));
            if at >= duration {
                break;
            }
            sim.command_at(c, at, LeaseCommand::Release);
            let back = at + rng.duration_between(Duration::from_millis(300), Duration::from_millis(900));
            sim.command_at(c, back, LeaseCommand::Acquire);
            at = back;
        }
    }
    for (c, at, value) in writes(seed, &CLIENTS, duration) {
        sim.command_at(c, at, LeaseCommand::Write { value, after: WRITE_AFTER });
    }
}

/// Every node's drift drawn within ±ρ, except `outlier`'s, set to `outlier_ppm`.
pub fn drifts(seed: u64, outlier: Option<(NodeId, i64)>) -> Vec<i64> {
    let mut rng = Rng::from_seed(seed ^ 0x6472_6966);
    (1..=NODES)
        .map(|n| match outlier {
            Some((node, ppm)) if node.0 == n => ppm,
            _ => rng.range(0, 2 * u64::from(RHO_PPM) + 1) as i64 - i64::from(RHO_PPM),
        })
        .collect()
}

/// Builds a run: the network, drifts, and the checkers for the scenario's claims. With
/// fencing on, the storage's own rule is checked too (`fencing::accepted_writes_increase`:
/// no replayed, duplicated or overtaken write accepted); unfenced, the storage claims
/// nothing, and the scenario is judged by the grant order alone.
pub fn simulation(
    seed: u64,
    cfg: LeaseConfig,
    drift: Vec<i64>,
    check_liveness: bool,
) -> Simulation<SingleGrantorLockService> {
    let mut sc = SimConfig::new(seed, NODES);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(20),
    )));
    sc.drift_ppm = drift;
    let (term, fenced) = (cfg.term, cfg.hazards.is_none());
    let mut sim = Simulation::new(sc, cfg);
    add_checkers(&mut sim, term, fenced, check_liveness);
    sim
}

/// The scenario's checkers: one holder at a time, tokens issued in order, the grant order,
/// with `fenced` the storage's own rule, and with `check_liveness` progress after GST
/// (`term` sets its bound).
pub fn add_checkers(
    sim: &mut Simulation<SingleGrantorLockService>,
    term: Duration,
    fenced: bool,
    check_liveness: bool,
) {
    // Safety, after every event.
    sim.add_checker(|w: &World<SingleGrantorLockService>| {
        single_holder(CLIENTS.iter().map(|&c| (c, w.node(c).and_then(|n| n.holds(w.clock(c)?.mono)))))
    });
    // The history is read once, as it grows; each check judges only what is new.
    let (mut read, mut order) = (0, GrantOrder::default());
    let (mut issued, mut writes) = (Vec::new(), Vec::new());
    sim.add_checker(move |w: &World<SingleGrantorLockService>| {
        let (issued_before, writes_before) = (issued.len(), writes.len());
        for o in &w.history()[read..] {
            match o.event {
                LeaseEvent::Granted { holder, token } => {
                    issued.push((o.at, o.node, token));
                    order.grant(o.at, holder, token);
                }
                LeaseEvent::Accepted { from, token, seq, .. } => {
                    writes.push((o.at, from, token, seq));
                    order.accept(o.at, from, token);
                }
                _ => {}
            }
        }
        read = w.history().len();
        // Each new pair of neighbours, once (the first of them already judged).
        issued_tokens_increase(&issued[issued_before.saturating_sub(1)..])?;
        order.check(w.now())?;
        if fenced {
            accepted_writes_increase(&writes[writes_before.saturating_sub(1)..])?;
        }
        // Only the last of each is compared with what comes next.
        issued.drain(..issued.len().saturating_sub(1));
        writes.drain(..writes.len().saturating_sub(1));
        Ok(())
    });
    if check_liveness {
        // After GST: the grantor may wait a term after a restart, a holder may sit out its
        // lease and jeopardy grace; then someone acquires and writes.
        // Re-armed: after GST, accepted writes never stop for longer than the bound.
        let bound = term * 3 + Duration::from_secs(3);
        sim.add_checker(ProgressAfterGst::new(
            "lease::progress_after_gst",
            bound,
            |o: &Observation<LeaseEvent>| matches!(o.event, LeaseEvent::Accepted { .. }),
        ));
    }
}

fn tell(mut sim: Simulation<SingleGrantorLockService>, mut spec: RunSpec, about: &str) -> Outcome {
    drive_clients(&mut sim, spec.seed, spec.duration);
    let schedule = spec.prepare(&mut sim, &(1..=NODES).map(NodeId).collect::<Vec<_>>());
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let w = sim.world();
    let count = |f: fn(&LeaseEvent) -> bool| w.history().iter().filter(|o| f(&o.event)).count();
    let story = vec![
        about.to_string(),
        format!(
            "grants {}, writes accepted {}, stale writes rejected {}, replayed or overtaken writes \
             rejected {}, jeopardies {}, lapses {}",
            count(|e| matches!(e, LeaseEvent::Granted { .. })),
            count(|e| matches!(e, LeaseEvent::Accepted { .. })),
            count(|e| matches!(e, LeaseEvent::Rejected { why: Fenced::StaleToken(_), .. })),
            count(|e| matches!(e, LeaseEvent::Rejected { why: Fenced::StaleSeq { .. }, .. })),
            count(|e| matches!(e, LeaseEvent::Jeopardy { .. })),
            count(|e| matches!(e, LeaseEvent::Expired { .. })),
        ),
        format!("nemesis episodes: {}", schedule.len()),
    ];
    Outcome { report, story, schedule }
}

/// The lease scenarios for the CLI.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "fencing",
            about: "lease service + fenced storage under pauses longer than the lease, partitions, loss, \
                    crashes (grantor included) and drift within ρ: one holder at a time, tokens increase, \
                    no stale, replayed or overtaken write accepted, progress after GST",
            default_duration: Duration::from_secs(120),
            default_nemesis: Some("pause=8,partition=3,loss=3,crash=3"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::lease::model(RHO_PPM),
            run: |spec| {
                let sim = simulation(spec.seed, config(true), drifts(spec.seed, None), true);
                tell(sim, spec, "fencing on; every clock within ρ = 1%")
            },
        },
        Scenario {
            name: "unfenced",
            about: "the same without fencing: a paused holder's late write lands after the next holder's \
                    (DDIA figure 8-4); the checker must find it",
            default_duration: Duration::from_secs(120),
            default_nemesis: Some("pause=8,partition=3,loss=3,crash=3"),
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::lease::model(RHO_PPM),
            run: |spec| {
                let sim = simulation(spec.seed, config(false), drifts(spec.seed, None), false);
                tell(sim, spec, "fencing off: the storage accepts any token")
            },
        },
        Scenario {
            name: "drift-violation",
            about: "client 3's clock runs 30% slow, far beyond ρ = 1%: when its renewals fail it trusts its \
                    lease after the grantor has moved on, and two clients hold the lease at once",
            default_duration: Duration::from_secs(120),
            default_nemesis: Some("partition=6,loss=6"),
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::lease::model(RHO_PPM),
            run: |spec| {
                let drift = drifts(spec.seed, Some((NodeId(3), -300_000)));
                let sim = simulation(spec.seed, config(true), drift, false);
                tell(sim, spec, "client n3 drifts -300000 ppm; the protocol assumes at most 10000")
            },
        },
        Scenario {
            name: "drift-bounded",
            about: "client 3's clock runs 30% slow again, and the lease is configured for ρ = 30%: holders \
                    give up their leases early enough and no two clients ever hold at once",
            default_duration: Duration::from_secs(120),
            default_nemesis: Some("partition=6,loss=6"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::lease::model(300_000),
            run: |spec| {
                let drift = drifts(spec.seed, Some((NodeId(3), -300_000)));
                let cfg = config(true).max_drift_ppm(300_000);
                let sim = simulation(spec.seed, cfg, drift, true);
                tell(sim, spec, "client n3 drifts -300000 ppm; the protocol assumes at most 300000")
            },
        },
        Scenario {
            name: "leader",
            about: "majority-lease leader election (5 acceptors) under partitions, pauses, loss and crashes: \
                    never two leaders with valid leases at once, deposed leaders' writes fenced, no write \
                    accepted that is not newer than the last, progress after GST",
            default_duration: Duration::from_secs(120),
            default_nemesis: Some("pause=8,partition=4,loss=3,crash=3"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::lease::model(RHO_PPM),
            run: |spec| leader::run(None, spec),
        },
        Scenario {
            name: "leader-minority",
            about: "the same election where promises from 2 of the 5 acceptors make a leader: two sides of a \
                    partition each elect one, and both hold valid leases at once",
            default_duration: Duration::from_secs(120),
            default_nemesis: Some("pause=8,partition=4,loss=3,crash=3"),
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::lease::model(RHO_PPM),
            run: |spec| leader::run(Some(2), spec),
        },
    ]
}

/// The `leader` scenario: majority-lease leader election, 5 acceptors and a fenced storage
/// node, under partitions, pauses, loss and crashes.
pub mod leader {
    use super::super::{Outcome, RunSpec};
    use super::{Hazards, RHO_PPM, config};
    use palisade_core::Observation;
    use palisade_core::fencing::Fenced;
    use palisade_core::fencing::checks::{accepted_tokens_never_decrease, accepted_writes_increase};
    use palisade_core::lease::LeaseConfig;
    use palisade_core::lease::checks::single_holder;
    use palisade_core::lease::election::{Election, ElectionCommand, ElectionEvent};
    use palisade_core::{NodeId, Rng};
    use palisade_sim::{Latency, LinkConfig, Network, ProgressAfterGst, SimConfig, Simulation, World};
    use std::time::Duration;

    /// Storage is node 6; nodes 1-5 are acceptors and candidates.
    pub const NODES: u32 = 6;
    /// The fenced storage node.
    pub const STORAGE: NodeId = NodeId(6);

    /// The election's configuration: 2 s leases, as the lock service's.
    pub fn election_config(fencing: bool) -> LeaseConfig {
        config(fencing).resource(STORAGE)
    }

    /// Schedules the application on every candidate for a run of `duration`: a write every
    /// [`super::WRITE_EVERY`], leaving [`super::WRITE_AFTER`] after its lease check (a node
    /// that does not lead then answers `NotLeading` and writes nothing).
    pub fn drive(sim: &mut Simulation<Election>, seed: u64, duration: Duration) {
        let candidates: Vec<NodeId> = (1..NODES).map(NodeId).collect();
        for (n, at, value) in super::writes(seed, &candidates, duration) {
            sim.command_at(n, at, ElectionCommand::Write { value, after: super::WRITE_AFTER });
        }
    }

    /// A run with its checkers.
    pub fn simulation(seed: u64, cfg: LeaseConfig) -> Simulation<Election> {
        let mut sc = SimConfig::new(seed, NODES);
        sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
            Duration::from_millis(1),
            Duration::from_millis(20),
        )));
        let mut rng = Rng::from_seed(seed ^ 0x6c65_6164);
        sc.drift_ppm = (0..NODES)
            .map(|_| rng.range(0, 2 * u64::from(RHO_PPM) + 1) as i64 - i64::from(RHO_PPM))
            .collect();
        let term = cfg.term;
        let mut sim = Simulation::new(sc, cfg);
        sim.add_checker(|w: &World<Election>| {
            single_holder(
                (1..NODES).map(NodeId).map(|n| (n, w.node(n).and_then(|p| p.leads(w.clock(n)?.mono)))),
            )
        });
        let mut seen = 0;
        sim.add_checker(move |w: &World<Election>| {
            if w.history().len() == seen {
                return Ok(());
            }
            seen = w.history().len();
            let accepted: Vec<_> = w
                .history()
                .iter()
                .filter_map(|o| match o.event {
                    ElectionEvent::Accepted { from, token, seq, .. } => Some((o.at, from, token, seq)),
                    _ => None,
                })
                .collect();
            // A stale token is named as such; a replay or overtaken write under the current
            // token by the second checker.
            let tokens: Vec<_> = accepted.iter().map(|&(at, from, token, _)| (at, from, token)).collect();
            accepted_tokens_never_decrease(&tokens)?;
            accepted_writes_increase(&accepted)
        });
        // Re-armed: after GST, the leader's accepted writes never stop for longer than the
        // bound (every event is looked at, not just the last of a step).
        let bound = term * 4 + Duration::from_secs(3);
        sim.add_checker(ProgressAfterGst::new(
            "election::progress_after_gst",
            bound,
            |o: &Observation<ElectionEvent>| matches!(o.event, ElectionEvent::Accepted { .. }),
        ));
        sim
    }

    /// Runs one seed as `spec` says: leaders need promises from `quorum` acceptors (`None`:
    /// a majority).
    pub fn run(quorum: Option<usize>, mut spec: RunSpec) -> Outcome {
        let hazards = quorum.map_or(Hazards::NONE, |q| Hazards::NONE.quorum(q));
        let cfg = election_config(true).hazards(hazards);
        let mut sim = simulation(spec.seed, cfg);
        drive(&mut sim, spec.seed, spec.duration);
        let schedule = spec.prepare(&mut sim, &(1..=NODES).map(NodeId).collect::<Vec<_>>());
        let report = sim.run_for(spec.duration);
        let _ = sim.finish_trace();
        let h = sim.world().history();
        let count = |f: fn(&ElectionEvent) -> bool| h.iter().filter(|o| f(&o.event)).count();
        let story = vec![
            match quorum {
                None => "majority leases: 5 acceptors, fenced storage n6, drift within ρ = 1%".to_string(),
                Some(q) => {
                    format!("leases from any {q} of 5 acceptors, fenced storage n6, drift within ρ = 1%")
                }
            },
            format!(
                "elections won {}, leaders deposed {}, writes accepted {}, stale writes rejected {}, \
                 replayed or overtaken writes rejected {}",
                count(|e| matches!(e, ElectionEvent::Elected { .. })),
                count(|e| matches!(e, ElectionEvent::Deposed { .. })),
                count(|e| matches!(e, ElectionEvent::Accepted { .. })),
                count(|e| matches!(e, ElectionEvent::Rejected { why: Fenced::StaleToken(_), .. })),
                count(|e| matches!(e, ElectionEvent::Rejected { why: Fenced::StaleSeq { .. }, .. })),
            ),
            format!("nemesis episodes: {}", schedule.len()),
        ];
        Outcome { report, story, schedule }
    }
}

/// The explorer's model of the lock service: grantor n1, storage n2, clients n3 and n4,
/// 2 s leases renewed after a third; each client's application asks for the lease once, at
/// a point the explorer chooses, and keeps it (a client gets its turn when the other's
/// renewals are lost); no writes (the property is the lease's own: one holder at a
/// time). Every clock runs at one end of `true_drift_ppm` (every
/// assignment is an initial state); the holders budget for `configured_ppm`. Timers fire in
/// every order those rates admit, up to 4 s of true time; messages arrive in any order
/// within 50 ms, and up to two are lost (a lease outlives its holder only when renewals
/// fail). Replies a client no longer waits for are forgotten (`SingleGrantorLockService::ignores_reply`;
/// sound here because no node restarts, and request ids start again after a restart).
pub fn explorer_setup(
    true_drift_ppm: u32,
    configured_ppm: u32,
) -> palisade_sim::explore::Setup<SingleGrantorLockService> {
    use palisade_sim::explore::{Bounds, Setup, Symmetry};
    let mut model = palisade_core::lease::model(true_drift_ppm);
    model.clocks.max_drift_ppm = true_drift_ppm;
    let term = Duration::from_secs(2);
    let cfg = LeaseConfig::default()
        .term(term)
        .max_drift_ppm(configured_ppm)
        .renew_after(term / 3)
        .jeopardy_grace(Duration::ZERO)
        .request_timeout(Duration::from_millis(500));
    let bounds = Bounds::default()
        .horizon(Duration::from_secs(4))
        .max_delay(Some(Duration::from_millis(50)))
        .drops(2)
        .crashes(0)
        .duplicates(0);
    // The hook is sound only where no client restarts: request ids start again at 0 after
    // a restart, so a reply forgotten by one incarnation could match a later one's request.
    let obsolete: Option<palisade_sim::explore::Obsolete<SingleGrantorLockService>> = (bounds.crashes == 0)
        .then(|| {
            Box::new(|w: &World<SingleGrantorLockService>, _, to, msg: &_| {
                w.node(to).is_some_and(|n| n.ignores_reply(msg))
            }) as _
        });
    Setup {
        nodes: 4,
        config: cfg,
        model,
        bounds,
        workload: Box::new(|node, issued, _| match (node.0, issued) {
            (3 | 4, 0) => Some(LeaseCommand::Acquire),
            _ => None,
        }),
        invariants: vec![Box::new(|w: &World<SingleGrantorLockService>| {
            let clients = [NodeId(3), NodeId(4)];
            single_holder(clients.into_iter().map(|c| (c, w.node(c).and_then(|n| n.holds(w.clock(c)?.mono)))))
        })],
        history_invariants: vec![],
        at_end: vec![],
        obsolete,
        symmetry: Some(Symmetry::among([NodeId(3), NodeId(4)])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_sim::explore::{Mode, Options, check_symmetry, explore};

    /// The two clients are declared interchangeable: with the symmetry the drift-violation
    /// model breaks the same checker after about half the states, and a smaller
    /// drift-bounded model is exhausted clean in half the states; without it, every state.
    #[test]
    fn the_interchangeable_clients_halve_the_states_and_keep_every_verdict() {
        let options = Options::default().mode(Mode::Bfs).max_states(1_000_000);
        let broken = explorer_setup(300_000, 10_000);
        let reduced = explore(&broken, &options, |_| {});
        let full = explore(&broken, &options.clone().symmetry(false), |_| {});
        for r in [&reduced, &full] {
            let v = &r.counterexample.as_ref().expect("a slow holder outlives its lease").violation;
            assert_eq!(v.checker, "lease::single_holder");
        }
        assert!(reduced.states * 10 < full.states * 6, "{} against {} states", reduced.states, full.states);

        let mut bounded = explorer_setup(300_000, 300_000);
        bounded.bounds.horizon = Duration::from_millis(1500);
        let reduced = explore(&bounded, &options, |_| {});
        let full = explore(&bounded, &options.clone().symmetry(false), |_| {});
        for r in [&reduced, &full] {
            assert!(r.complete && r.counterexample.is_none(), "{r:?}");
        }
        // Every state checked: each one's renaming is its twin, and the reduced search
        // visited exactly one state of each group of twins.
        let check = check_symmetry(&bounded, &options).unwrap();
        assert_eq!((check.states, check.groups, check.complete), (full.states, reduced.states, true));
        // Swapping the clients fixes only states where they are alike in every respect.
        assert!(reduced.states * 2 > full.states && reduced.states * 2 - full.states < 100, "{check:?}");
    }

    /// The clients' declaration checked state by state on both lock-service models: the
    /// first 30,000 states of each, or with `PALISADE_LONG=1` every state.
    #[test]
    fn the_clients_are_interchangeable_in_every_state_of_both_models() {
        let long = std::env::var_os("PALISADE_LONG").is_some();
        let options = Options::default().max_states(if long { u64::MAX } else { 30_000 });
        for configured in [10_000, 300_000] {
            let check = check_symmetry(&explorer_setup(300_000, configured), &options).unwrap();
            assert!(check.groups * 2 > check.states && check.groups * 10 < check.states * 6, "{check:?}");
            assert_eq!(check.complete, long, "{check:?}");
            eprintln!("holders budgeting {configured} ppm: {check:?}");
        }
    }

    /// The drift-bounded model with `Release` in the application's hands too (n3 asks,
    /// releases and asks again at points the explorer chooses; n4 asks once): a grant that
    /// arrives after a release is handed back, and still one holder at a time, over every
    /// order within 1.5 s of true time (no loss, to keep the space small).
    #[test]
    fn releasing_at_any_point_keeps_one_holder_at_a_time() {
        let mut setup = explorer_setup(300_000, 300_000);
        setup.bounds.horizon = Duration::from_millis(1500);
        setup.bounds.drops = 0;
        setup.workload = Box::new(|node, issued, _| match (node.0, issued) {
            (3, 0 | 2) | (4, 0) => Some(LeaseCommand::Acquire),
            (3, 1) => Some(LeaseCommand::Release),
            _ => None,
        });
        // n3 and n4 no longer do the same thing, so they are not interchangeable.
        let short = Options::default().max_states(20_000);
        let err = check_symmetry(&setup, &short).unwrap_err();
        assert!(err.contains("does not step to the renamed successors"), "{err}");
        setup.symmetry = None;
        let options =
            Options::default().mode(Mode::Bfs).max_depth(256).max_states(1_000_000).forget_obsolete(true);
        let report = explore(&setup, &options, |_| {});
        assert!(report.counterexample.is_none(), "{:?}", report.counterexample);
        assert!(report.complete, "{} states, not exhausted", report.states);
        assert!(report.states > 100_000, "the releases multiply the orders: {} states", report.states);
    }
}
