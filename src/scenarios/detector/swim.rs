//! SWIM with and without Lifeguard when some members keep pausing (Lifeguard's "slow
//! member" experiment): how many healthy members are wrongly suspected or declared dead,
//! and how fast a real crash is detected.

use palisade_core::detector::swim::{Swim, SwimConfig, SwimEvent};
use palisade_core::{NodeId, Rng};
use palisade_sim::{Fault, Latency, LinkConfig, Network, SimConfig, Simulation};
use std::time::Duration;

/// Members in the experiment.
pub const MEMBERS: u32 = 16;
/// Members that pause: the last four.
pub const PAUSING: [NodeId; 4] = [NodeId(13), NodeId(14), NodeId(15), NodeId(16)];
/// The healthy member that crashes, and when.
pub const CRASH: (NodeId, Duration) = (NodeId(1), Duration::from_secs(480));
/// Run length.
pub const DURATION: Duration = Duration::from_secs(600);

/// What one configuration did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwimOutcome {
    /// Accusations of healthy (never paused, not crashed) members: suspicions raised by
    /// the accuser's own failed probe.
    pub false_accusations: usize,
    /// Suspicions of healthy members as every member learned of them (gossip spread).
    pub false_suspicions: usize,
    /// Death declarations of healthy members.
    pub false_deaths: usize,
    /// Per live observer, seconds from the crash to declaring the crashed member dead.
    pub detection_s: Vec<f64>,
    /// Live observers that never declared it dead.
    pub undetected: usize,
}

impl SwimOutcome {
    /// Mean detection time in seconds.
    pub fn mean_detection_s(&self) -> f64 {
        if self.detection_s.is_empty() {
            f64::NAN
        } else {
            self.detection_s.iter().sum::<f64>() / self.detection_s.len() as f64
        }
    }

    fn add(&mut self, o: SwimOutcome) {
        self.false_suspicions += o.false_suspicions;
        self.false_accusations += o.false_accusations;
        self.false_deaths += o.false_deaths;
        self.detection_s.extend(o.detection_s);
        self.undetected += o.undetected;
    }
}

/// The simulation: 16 members on a LAN; the last four pause for 0.5-3 s every 2-10 s
/// between 20 s and 420 s; member 1 crashes at 480 s.
pub fn simulation(config: SwimConfig, seed: u64) -> Simulation<Swim> {
    let mut cfg = SimConfig::new(seed, MEMBERS);
    cfg.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(10),
    )));
    let mut sim = Simulation::new(cfg, config);
    let mut rng = Rng::from_seed(seed ^ 0x5377_696d);
    for &node in &PAUSING {
        let mut t = Duration::from_secs(20);
        loop {
            t += rng.duration_between(Duration::from_secs(2), Duration::from_secs(10));
            let d = rng.duration_between(Duration::from_millis(500), Duration::from_secs(3));
            if t + d > Duration::from_secs(420) {
                break;
            }
            sim.schedule(Fault::pause(node, t, d));
            t += d;
        }
    }
    sim.schedule(Fault::crash(CRASH.0, CRASH.1));
    sim
}

/// Runs one seed and counts.
pub fn run(config: SwimConfig, seed: u64) -> SwimOutcome {
    let mut sim = simulation(config, seed);
    sim.run_for(DURATION);
    let healthy = |p: NodeId, at: Duration| !(PAUSING.contains(&p) || p == CRASH.0 && at >= CRASH.1);
    let mut out = SwimOutcome::default();
    let mut first_death = std::collections::BTreeMap::new();
    for o in sim.world().history() {
        match o.event {
            SwimEvent::Suspect { peer, by } if healthy(peer, o.at) => {
                out.false_suspicions += 1;
                if by == o.node {
                    out.false_accusations += 1;
                }
            }
            SwimEvent::Dead { peer } if healthy(peer, o.at) => out.false_deaths += 1,
            SwimEvent::Dead { peer } if peer == CRASH.0 && o.at >= CRASH.1 => {
                first_death.entry(o.node).or_insert(o.at);
            }
            _ => {}
        }
    }
    for id in (1..=MEMBERS).map(NodeId).filter(|&n| n != CRASH.0) {
        match first_death.get(&id) {
            Some(&at) => out.detection_s.push((at - CRASH.1).as_secs_f64()),
            None => out.undetected += 1,
        }
    }
    out
}

/// Pools several seeds.
pub fn measure(config: &SwimConfig, seeds: &[u64]) -> SwimOutcome {
    let mut total = SwimOutcome::default();
    for &seed in seeds {
        total.add(run(config.clone(), seed));
    }
    total
}
