//! The contract holds: the same heartbeat detector, with the same configuration, runs in
//! the simulator and on actix over real TCP on loopback. In both, a node that stops is
//! suspected by every other node within the bound its configuration implies, and in a run
//! without faults nobody is suspected. Both sides are judged by the same checkers from
//! palisade-core.

use palisade::actix::{NodeConfig, NodeEvent, Peer, start};
use palisade::core::detector::{
    Detector, DetectorHistory, FixedTimeout, FixedTimeoutConfig, Heartbeat, HeartbeatConfig, HeartbeatEvent,
    PhiAccrual, PhiConfig, completeness, never_suspects_live,
};
use palisade::core::quorum::test_key;
use palisade::core::{NodeId, Observation, WallTime};
use palisade::scenarios::detector::{DetectorRun, history};
use palisade::sim::{Latency, LinkConfig};
use std::collections::BTreeMap;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const INTERVAL: Duration = Duration::from_millis(100);

fn fixed_config() -> HeartbeatConfig<FixedTimeout> {
    HeartbeatConfig::default().interval(INTERVAL).detector(FixedTimeoutConfig::default().timeout(ms(1_000)))
}

fn phi_config() -> HeartbeatConfig<PhiAccrual> {
    HeartbeatConfig::default().interval(INTERVAL).detector(
        PhiConfig::default()
            .acceptable_heartbeat_pause(ms(500))
            .min_std_deviation(ms(50))
            .first_heartbeat_estimate(INTERVAL),
    )
}

// ---------------------------------------------------------------- simulator

fn simulate<D: Detector>(config: HeartbeatConfig<D>) {
    let link = LinkConfig::default().latency(Latency::Uniform { lo: ms(1), hi: ms(5) }).loss(0.0);
    let crash = DetectorRun { config, nodes: 3, link, crash: Some((NodeId(3), Duration::from_secs(5))) };
    let bound = crash.detection_bound();
    for seed in 1..=20 {
        let mut sim = crash.simulation(seed);
        let report = sim.run_for(Duration::from_secs(15));
        assert_eq!(report.violation, None, "seed {seed}");
        // The checkers passed; make sure they had something to judge.
        let h = history(sim.world());
        for observer in [NodeId(1), NodeId(2)] {
            let at = h.first_suspicion_after(observer, NodeId(3), Duration::from_secs(5)).expect("suspected");
            assert!(at - Duration::from_secs(5) <= bound, "seed {seed}: {observer} took {at:?}");
        }
        assert_eq!(h.events.len(), 2, "seed {seed}: exactly two suspicions: {:?}", h.events);
    }
    let quiet = DetectorRun { crash: None, ..crash };
    for seed in 1..=20 {
        let mut sim = quiet.simulation(seed);
        assert_eq!(sim.run_for(Duration::from_secs(15)).violation, None, "seed {seed}");
        assert!(sim.world().history().is_empty(), "seed {seed}: a live node was suspected");
    }
}

#[test]
fn simulator_fixed_timeout_suspects_crashed_node_within_bound_and_no_live_node() {
    simulate(fixed_config());
}

#[test]
fn simulator_phi_accrual_suspects_crashed_node_within_bound_and_no_live_node() {
    simulate(phi_config());
}

// ---------------------------------------------------------------- actix on loopback

/// What we assume of loopback on a busy CI machine when computing the bound: heartbeat
/// inter-arrival times within [50 ms, 300 ms] and one-way delay under 200 ms.
const LIVE_MIN_INTERVAL: Duration = Duration::from_millis(50);
const LIVE_MAX_INTERVAL: Duration = Duration::from_millis(300);
const LIVE_MAX_DELAY: Duration = Duration::from_millis(200);

fn live_cluster<D: Detector>(config: HeartbeatConfig<D>) {
    let bound = D::silence_bound(&config.detector, LIVE_MIN_INTERVAL, LIVE_MAX_INTERVAL) + LIVE_MAX_DELAY;
    let data = std::env::temp_dir().join(format!(
        "palisade-two-runtimes-{}-{}",
        std::process::id(),
        bound.as_nanos()
    ));
    let system = actix::System::new();
    let h = system.block_on(async move {
        let ids = [NodeId(1), NodeId(2), NodeId(3)];
        let listeners: Vec<_> =
            ids.iter().map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let addrs: BTreeMap<NodeId, _> =
            ids.iter().zip(&listeners).map(|(&id, l)| (id, l.local_addr().unwrap())).collect();
        let t0 = palisade::actix::clock::wall_now();
        let mut handles = Vec::new();
        let mut subs = Vec::new();
        for (&id, listener) in ids.iter().zip(listeners) {
            let peers = addrs
                .iter()
                .filter(|(p, _)| **p != id)
                .map(|(&p, &addr)| (p, Peer { addr, key: test_key(7, p).verifying_key() }))
                .collect();
            let cfg = NodeConfig::<Heartbeat<D>>::new(
                7,
                id,
                test_key(7, id),
                config.clone(),
                data.join(id.to_string()),
            )
            .peers(peers)
            .seed(u64::from(id.0));
            let handle = start(cfg, listener).unwrap();
            subs.push(handle.subscribe());
            handles.push(handle);
        }
        // Fault-free phase: everybody heartbeats for 2 s.
        tokio::time::sleep(ms(2_000)).await;
        let crashed_at = palisade::actix::clock::wall_now();
        handles[2].stop().await;
        assert!(!handles[2].is_running());
        tokio::time::sleep(bound + ms(1_000)).await;
        let end = palisade::actix::clock::wall_now();
        for h in &handles[..2] {
            assert_eq!(h.stats().counts().rejected, 0);
            h.stop().await;
        }
        let since = |w: WallTime| Duration::from_nanos(w.nanos_since(t0).max(0) as u64);
        let mut events: Vec<Observation<HeartbeatEvent>> = Vec::new();
        for mut rx in subs {
            while let Ok(NodeEvent { node, wall, event, .. }) = rx.try_recv() {
                events.push(Observation { at: since(wall), node, event });
            }
        }
        events.sort_by_key(|o| o.at);
        DetectorHistory {
            members: ids.to_vec(),
            events,
            crashes: [(NodeId(3), since(crashed_at))].into_iter().collect(),
            end: since(end),
            gst: Duration::ZERO,
            restarts: Vec::new(),
        }
    });
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!(
        "palisade-two-runtimes-{}-{}",
        std::process::id(),
        bound.as_nanos()
    )));
    assert_eq!(never_suspects_live(&h), Ok(()), "events: {:?}", h.events);
    assert_eq!(completeness(&h, bound), Ok(()), "bound {bound:?}, events: {:?}", h.events);
    for observer in [NodeId(1), NodeId(2)] {
        assert!(h.first_suspicion_after(observer, NodeId(3), h.crashes[&NodeId(3)]).is_some());
    }
}

#[test]
fn actix_fixed_timeout_suspects_stopped_node_within_bound_and_no_live_node() {
    live_cluster(fixed_config());
}

#[test]
fn actix_phi_accrual_suspects_stopped_node_within_bound_and_no_live_node() {
    live_cluster(phi_config());
}
