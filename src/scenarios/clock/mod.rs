//! Clock scenarios: `skew`, `skew-unmonitored` and `skew-calm` (the skew monitor, and what a
//! skewed clock damages without it).

pub mod stamped;

use super::{Outcome, RunSpec, Scenario};
use palisade_core::clock::SkewConfig;
use palisade_core::{NodeId, Rng, Violation};
use palisade_sim::clock::EPOCH_UNIX_NANOS;
use palisade_sim::{Disruptions, Fault, Latency, LinkConfig, Network, SimConfig, Simulation, World};
use stamped::{StampedEvent, StampedWriter};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Nodes in the skew scenarios.
pub const NODES: u32 = 5;
/// The node whose clock goes wrong in `skew`.
pub const BAD: NodeId = NodeId(3);

fn wall_error_ns<P: palisade_core::Protocol>(w: &World<P>, n: NodeId) -> i64 {
    let truth = EPOCH_UNIX_NANOS + w.now().as_nanos() as i64;
    w.clock(n).map_or(0, |c| c.wall.nanos_since(palisade_core::WallTime::from_unix_nanos(truth)))
}

/// The skew monitor on a LAN, correct clocks within ±50 ms and ±100 ppm, every node serving
/// wall-clock-stamped writes ([`stamped`]), with checkers: a node never fences itself while
/// its clock is within the model's bound for a correct clock, and one that has stayed
/// within it for `fence_within` is not fenced (it un-fenced in time); a node beyond the
/// bound by more than the fencing threshold for `fence_within` is fenced; and writes are
/// ordered by their stamps ([`WRITES_IN_ORDER`]).
pub fn skew_simulation(seed: u64, config: SkewConfig) -> (Simulation<StampedWriter>, Duration) {
    let (sim, within, _) = skew_simulation_monitored(seed, config, true, Disruptions::default());
    (sim, within)
}

/// [`skew_simulation`], with the monitor fencing nobody when `monitoring` is false (its
/// maximum offset raised to a day): then only the damage is checked ([`WRITES_IN_ORDER`]),
/// since a monitor that is off fences nobody by construction. The time bounds (fence a bad
/// node, un-fence a correct one, the grace a bad clock's writes get before the monitor can
/// have fenced it) count from when the node last could hear a majority of its peers,
/// given the nemesis's `disruptions`. Also returns the count of writes excused as damage
/// the monitor could not prevent (discarded by a write stamped in that grace).
pub fn skew_simulation_monitored(
    seed: u64,
    config: SkewConfig,
    monitoring: bool,
    disruptions: Disruptions,
) -> (Simulation<StampedWriter>, Duration, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let monitor =
        if monitoring { config.clone() } else { config.clone().max_offset(Duration::from_secs(86_400)) };
    let mut sc = SimConfig::new(seed, NODES);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(10),
    )));
    let mut rng = Rng::from_seed(seed ^ 0x736b_6577);
    sc.drift_ppm = (0..NODES).map(|_| rng.range(0, 201) as i64 - 100).collect();
    let mut sim = Simulation::new(sc, monitor);
    for n in 1..=NODES {
        let off = rng.range(0, 100_000_001) as i64 - 50_000_000;
        sim.schedule(Fault::wall_step(NodeId(n), Duration::ZERO, off));
    }
    // Three probe rounds to measure, plus staleness of the old estimates.
    let fence_within = config.interval * 3 + config.stale_after;
    // Correct, as the model defines it: within the bound of true time that keeps any two
    // correct clocks closer than the fencing threshold. The model is the one for the
    // configured maximum offset with CockroachDB's fence fraction, so a monitor configured
    // to fence earlier than that is caught fencing correct nodes.
    let requirement = SkewConfig::default().max_offset(config.max_offset);
    let correct_ns = palisade_core::clock::skew_model(&requirement)
        .clocks
        .max_offset
        .map_or(i64::MAX, |b| b.as_nanos() as i64);
    // Bad enough that the monitor must see it: further from true time than the fencing
    // threshold plus the furthest a correct peer may be, plus the LAN's measurement error.
    let threshold_ns = requirement.max_offset.mul_f64(requirement.fence_fraction).as_nanos() as i64;
    let beyond_ns = threshold_ns.saturating_add(correct_ns).saturating_add(10_000_000);
    // The largest offset between two nodes the monitor lets serve (each at most `beyond_ns`
    // from true time, one either side): writes further apart than this in real time must
    // be ordered by their stamps.
    let order_gap = Duration::from_nanos(u64::try_from(beyond_ns.saturating_mul(2)).unwrap_or(u64::MAX));
    let mut beyond_since: BTreeMap<NodeId, Duration> = BTreeMap::new();
    let mut correct_since: BTreeMap<NodeId, Duration> = BTreeMap::new();
    // Writes not yet `order_gap` old, and the highest stamp of the older ones that count.
    // Each write also says whether it was made in grace.
    let mut recent: VecDeque<(Duration, i64, NodeId, bool)> = VecDeque::new();
    let mut highest_old: Option<(i64, NodeId, Duration)> = None;
    let mut highest_grace: Option<i64> = None;
    let excused = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let excused_count = excused.clone();
    let mut seen = 0;
    let all: Vec<NodeId> = (1..=NODES).map(NodeId).collect();
    let majority = (all.len() - 1) / 2 + 1;
    let peers: BTreeMap<NodeId, Vec<NodeId>> =
        all.iter().map(|&n| (n, all.iter().copied().filter(|&p| p != n).collect())).collect();
    // When `n` last could measure: it and a majority of its peers up, unpaused and
    // reachable, the network not degraded.
    let calm_since = move |n: NodeId, now: Duration| {
        disruptions.quorum_calm_since(n, peers.get(&n).map_or(&[][..], Vec::as_slice), majority, now)
    };
    sim.add_checker(move |w: &World<StampedWriter>| {
        let now = w.now();
        for (n, _) in w.running() {
            let Some(calm) = calm_since(n, now) else { continue };
            if wall_error_ns(w, n).abs() > beyond_ns {
                let since = beyond_since.entry(n).or_insert(now);
                *since = (*since).max(calm);
            } else {
                beyond_since.remove(&n);
            }
        }
        for o in &w.history()[seen..] {
            let err = wall_error_ns(w, o.node);
            match o.event {
                StampedEvent::Fenced { .. } if monitoring && err.abs() <= correct_ns => {
                    return Err(Violation::new(
                        "skew::no_correct_node_fenced",
                        format!("{} fenced itself with its clock only {} ms off", o.node, err / 1_000_000),
                    ));
                }
                StampedEvent::Wrote { ts } => {
                    while recent.front().is_some_and(|&(at, _, _, _)| at + order_gap < o.at) {
                        let (at, old, node, grace) = recent.pop_front().expect("front exists");
                        if grace {
                            highest_grace = highest_grace.max(Some(old));
                        } else if highest_old.is_none_or(|(h, _, _)| old > h) {
                            highest_old = Some((old, node, at));
                        }
                    }
                    // The monitor cannot stop a clock that has just gone wrong: a write
                    // stamped within `fence_within` of its clock going beyond the bound, or
                    // while its node cannot hear a majority of peers to measure, is in grace.
                    // Grace writes are not held to the order, and the later writes they make
                    // last-write-wins discard are counted as excused damage, not hidden.
                    let grace = calm_since(o.node, now).is_none()
                        || beyond_since.get(&o.node).is_some_and(|&since| o.at <= since + fence_within);
                    let behind_old = highest_old.filter(|&(h, _, _)| ts <= h);
                    let behind_grace = highest_grace.is_some_and(|g| ts <= g);
                    if (grace && behind_old.is_some()) || (behind_grace && behind_old.is_none()) {
                        excused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    } else if let (false, Some((h, by, at))) = (grace, behind_old) {
                        return Err(Violation::new(
                            "skew::writes_in_real_time_order",
                            format!(
                                "{}'s write at {:?} is stamped {} ms before {by}'s write at {at:?}, made \
                                 more than {order_gap:?} earlier: last-write-wins discards the later write",
                                o.node,
                                o.at,
                                (h - ts) / 1_000_000
                            ),
                        ));
                    }
                    recent.push_back((o.at, ts, o.node, grace));
                }
                _ => {}
            }
        }
        seen = w.history().len();
        if !monitoring {
            return Ok(());
        }
        for (n, m) in w.running() {
            // A node that is down, paused or cut off cannot measure: its bounds count from
            // when what touches it last ended.
            let Some(calm) = calm_since(n, now) else { continue };
            let err = wall_error_ns(w, n);
            if err.abs() <= correct_ns {
                let since = (*correct_since.entry(n).or_insert(now)).max(calm);
                if m.monitor().is_fenced() && now > since + fence_within {
                    return Err(Violation::new(
                        "skew::correct_node_unfenced_in_time",
                        format!(
                            "{n}'s clock has been within {} ms since {since:?} and it is still fenced",
                            correct_ns / 1_000_000
                        ),
                    ));
                }
            } else {
                correct_since.remove(&n);
            }
            if let Some(&since) = beyond_since.get(&n)
                && !m.monitor().is_fenced()
                && now > since + fence_within
            {
                return Err(Violation::new(
                    "skew::bad_node_fenced_in_time",
                    format!(
                        "{n}'s clock has been {} ms off since {since:?} and it still serves (not fenced)",
                        err / 1_000_000
                    ),
                ));
            }
        }
        Ok(())
    });
    (sim, fence_within, excused_count)
}

fn count(w: &World<StampedWriter>, node: NodeId, event: fn(&StampedEvent) -> bool) -> usize {
    w.history().iter().filter(|o| o.node == node && event(&o.event)).count()
}

/// The checker the skew scenarios' damage is judged by.
pub const WRITES_IN_ORDER: &str = "skew::writes_in_real_time_order";

/// `skew`: node 3's clock steps 2 s ahead at 10 s, back at 30 s, then drifts 20% fast
/// until 60 s, when it is stopped and stepped back.
pub fn skew(spec: RunSpec) -> Outcome {
    skew_run(spec, true)
}

fn skew_run(mut spec: RunSpec, monitoring: bool) -> Outcome {
    let nodes: Vec<NodeId> = (1..=NODES).map(NodeId).collect();
    let schedule = spec.schedule_for(&nodes);
    spec.schedule = Some(schedule.clone());
    let disruptions = Disruptions::of(&palisade_sim::nemesis::faults(&schedule));
    let (mut sim, within, excused) =
        skew_simulation_monitored(spec.seed, SkewConfig::default(), monitoring, disruptions);
    let s = Duration::from_secs;
    // A 2 s step: beyond the 1.2 s two unfenced clocks may differ, so its damage counts.
    sim.schedule(Fault::wall_step(BAD, s(10), 2_000_000_000));
    sim.schedule(Fault::wall_step(BAD, s(30), -2_000_000_000));
    sim.schedule(Fault::drift(BAD, s(30), 200_000));
    sim.schedule(Fault::drift(BAD, s(60), 0));
    // 30 s at 20% fast left it 6 s ahead: an operator corrects it.
    sim.schedule(Fault::wall_step(BAD, s(60), -6_000_000_000));
    let schedule = spec.prepare(&mut sim, &nodes);
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let w = sim.world();
    let fenced = |e: &StampedEvent| matches!(e, StampedEvent::Fenced { .. });
    let others: usize = (1..=NODES).map(NodeId).filter(|&n| n != BAD).map(|n| count(w, n, fenced)).sum();
    let mut story = vec![
        format!(
            "n3 fenced itself {} time(s) and un-fenced {} time(s); the other nodes fenced {others} time(s)",
            count(w, BAD, fenced),
            count(w, BAD, |e| matches!(e, StampedEvent::Unfenced))
        ),
        format!(
            "n3 served {} write(s) stamped more than 600 ms from true time (the monitor may let through those \
             in the {within:?} it needs to measure; later ones are the damage)",
            w.history()
                .iter()
                .filter(|o| o.node == BAD)
                .filter(|o| match o.event {
                    StampedEvent::Wrote { ts } => {
                        (ts - EPOCH_UNIX_NANOS - o.at.as_nanos() as i64).abs() > 600_000_000
                    }
                    _ => false,
                })
                .count()
        ),
        format!(
            "{} later write(s) discarded by writes stamped in the grace the monitor needs (excused damage)",
            excused.load(std::sync::atomic::Ordering::Relaxed)
        ),
        format!(
            "checked: writes more than ~1.2 s apart are ordered by their stamps{}",
            if monitoring {
                format!(
                    "; no node within ±190 ms of true time fenced; a node beyond ±600 ms fenced within \
                     {within:?} of the cluster being calm"
                )
            } else {
                String::new()
            }
        ),
    ];
    for o in w.history() {
        if !matches!(o.event, StampedEvent::Wrote { .. }) {
            story.push(format!("{:>9.3}s  {} {:?}", o.at.as_secs_f64(), o.node, o.event));
        }
    }
    Outcome { report, story, schedule }
}

/// `skew-calm`: every clock within ±50 ms under pauses, partitions and loss: nobody fences.
pub fn skew_calm(mut spec: RunSpec) -> Outcome {
    let (mut sim, _) = skew_simulation(spec.seed, SkewConfig::default());
    sim.add_checker(|w: &World<StampedWriter>| {
        match w.history().iter().find(|o| matches!(o.event, StampedEvent::Fenced { .. })) {
            Some(o) => Err(Violation::new(
                "skew::nobody_fenced_when_calm",
                format!("{} fenced itself at {:?}", o.node, o.at),
            )),
            None => Ok(()),
        }
    });
    let schedule = spec.prepare(&mut sim, &(1..=NODES).map(NodeId).collect::<Vec<_>>());
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let story = vec!["all clocks within ±50 ms, ±100 ppm; the monitor must fence nobody".to_string()];
    Outcome { report, story, schedule }
}

/// The clock scenarios for the CLI.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "skew",
            about: "node 3's wall clock steps 2 s ahead, returns, then drifts 20% fast while every node serves \
                    wall-clock-stamped writes: the skew monitor fences n3 in time (its writes stay in order once \
                    it could have measured), never fences a correct node, and un-fences it once corrected",
            default_duration: Duration::from_secs(90),
            default_nemesis: None,
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::clock::skew_model(&SkewConfig::default()),
            run: skew,
        },
        Scenario {
            name: "skew-unmonitored",
            about: "the same clock faults with no skew monitor: node 3 keeps serving writes stamped with its \
                    clock seconds off, ordered before writes made after them (last-write-wins discards the later)",
            default_duration: Duration::from_secs(90),
            default_nemesis: None,
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::clock::skew_model(&SkewConfig::default()),
            run: |spec| skew_run(spec, false),
        },
        Scenario {
            name: "skew-calm",
            about: "every clock within ±50 ms under pauses, partitions and loss: the skew monitor fences nobody",
            default_duration: Duration::from_secs(90),
            default_nemesis: Some("pause=6,partition=4,loss=4"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::clock::skew_model(&SkewConfig::default()),
            run: skew_calm,
        },
    ]
}
