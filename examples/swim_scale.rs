//! A 1000-member SWIM cluster with Lifeguard for 10 simulated minutes, one member crashing
//! at 5 minutes: wall time, events, and whether every member declared it dead.
//!
//! `cargo run --release --example swim_scale`

use palisade::core::NodeId;
use palisade::core::detector::swim::{MemberState, Swim, SwimConfig};
use palisade::sim::{Fault, Latency, LinkConfig, Network, SimConfig, Simulation};
use std::time::Duration;

fn main() {
    let n = 1000;
    let mut cfg = SimConfig::new(42, n);
    cfg.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(10),
    )));
    let mut sim = Simulation::<Swim>::new(cfg, SwimConfig::default());
    sim.schedule(Fault::crash(NodeId(7), Duration::from_secs(300)));
    let start = std::time::Instant::now();
    let report = sim.run_for(Duration::from_secs(600));
    let wall = start.elapsed().as_secs_f64();
    let knew = sim
        .world()
        .running()
        .filter(|(_, m)| matches!(m.state_of(NodeId(7)), Some(MemberState::Dead { .. })))
        .count();
    println!(
        "members={n} simulated_s=600 events={} delivered={} wall_s={wall:.2} events_per_wall_s={:.0} declared_dead_by={knew}/{}",
        report.events,
        report.delivered,
        report.events as f64 / wall,
        n - 1
    );
}
