//! Heartbeat failure detection scenarios.

use super::{Outcome, Scenario};
use palisade_core::NodeId;
use palisade_core::detector::{
    Detector, DetectorHistory, FixedTimeout, Heartbeat, HeartbeatConfig, HeartbeatEvent, PhiAccrual,
    completeness, never_suspects_live_at,
};
use palisade_sim::{AtEnd, EachEvent, Fault, Latency, LinkConfig, Network, SimConfig, Simulation, World};
use std::io::Write;
use std::time::Duration;

/// A heartbeat run: which detector, how many nodes, the network, and an optional crash.
#[derive(Clone, Debug)]
pub struct DetectorRun<D: Detector> {
    /// Protocol configuration (interval and detector parameters).
    pub config: HeartbeatConfig<D>,
    /// Number of nodes.
    pub nodes: u32,
    /// Every link's behaviour.
    pub link: LinkConfig,
    /// A node that crashes (crash-stop), and when.
    pub crash: Option<(NodeId, Duration)>,
}

impl<D: Detector> DetectorRun<D> {
    /// The longest a crashed node may go unsuspected: the detector's silence bound for the
    /// inter-arrival spread this network produces, plus the longest one-way delay.
    pub fn detection_bound(&self) -> Duration {
        let spread = self.link.latency.max() - self.link.latency.min();
        let lo = self.config.interval.saturating_sub(spread);
        let hi = self.config.interval + spread;
        D::silence_bound(&self.config.detector, lo, hi) + self.link.latency.max()
    }

    /// A simulation of this run with its checkers attached: strong accuracy after every
    /// event (valid because the network here has no loss and bounded delay) and
    /// completeness within [`Self::detection_bound`] at the end.
    pub fn simulation(&self, seed: u64) -> Simulation<Heartbeat<D>> {
        let mut cfg = SimConfig::new(seed, self.nodes);
        cfg.network = Network::uniform(self.link);
        let mut sim = Simulation::new(cfg, self.config.clone());
        if let Some((node, at)) = self.crash {
            sim.schedule(Fault::crash(node, at));
        }
        let bound = self.detection_bound();
        sim.add_checker(EachEvent::new(never_suspects_live_at));
        sim.add_checker(AtEnd(move |w: &World<Heartbeat<D>>| completeness(&history(w), bound)));
        sim
    }
}

/// The run as the detector checkers see it.
pub fn history<D: Detector>(w: &World<Heartbeat<D>>) -> DetectorHistory {
    DetectorHistory {
        members: w.ids().collect(),
        events: w.history().to_vec(),
        crashes: w.crashes().clone(),
        end: w.now(),
    }
}

/// Three nodes on a LAN-like network (1-20 ms, no loss), Akka's defaults, node 3 crashes at
/// 20 s.
pub fn crash_run<D: Detector>() -> DetectorRun<D> {
    DetectorRun {
        config: HeartbeatConfig::default(),
        nodes: 3,
        link: LinkConfig {
            latency: Latency::Uniform { lo: Duration::from_millis(1), hi: Duration::from_millis(20) },
            loss: 0.0,
            ..LinkConfig::default()
        },
        crash: Some((NodeId(3), Duration::from_secs(20))),
    }
}

/// Runs `run` for one seed and tells who suspected whom and when.
pub fn run_and_tell<D: Detector>(
    run: &DetectorRun<D>,
    seed: u64,
    duration: Duration,
    trace: Option<Box<dyn Write>>,
) -> Outcome {
    let mut sim = run.simulation(seed);
    if let Some(t) = trace {
        sim.export_trace(t);
    }
    let report = sim.run_for(duration);
    if let Err(e) = sim.finish_trace() {
        eprintln!("trace export failed: {e}");
    }
    let mut story = Vec::new();
    if let Some((node, at)) = run.crash {
        story.push(format!("{:>9.3}s  {node} crashes", at.as_secs_f64()));
    }
    for o in sim.world().history() {
        let (verb, peer) = match o.event {
            HeartbeatEvent::Suspect { peer } => ("suspects", peer),
            HeartbeatEvent::Trust { peer } => ("trusts again", peer),
        };
        let after = match run.crash {
            Some((c, at)) if c == peer && o.at >= at => {
                format!(" ({:.3}s after the crash)", (o.at - at).as_secs_f64())
            }
            _ => String::new(),
        };
        story.push(format!("{:>9.3}s  {} {verb} {peer}{after}", o.at.as_secs_f64(), o.node));
    }
    story.push(format!("bound implied by the configuration: {:.3}s", run.detection_bound().as_secs_f64()));
    Outcome { report, story }
}

/// The detector scenarios for the CLI.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "detector-crash-phi",
            about: "3 nodes, phi accrual (Akka defaults); node 3 crashes at 20 s and must be suspected in time",
            default_duration: Duration::from_secs(60),
            run: |seed, d, trace| run_and_tell(&crash_run::<PhiAccrual>(), seed, d, trace),
        },
        Scenario {
            name: "detector-crash-fixed",
            about: "3 nodes, fixed 5 s timeout; node 3 crashes at 20 s and must be suspected in time",
            default_duration: Duration::from_secs(60),
            run: |seed, d, trace| run_and_tell(&crash_run::<FixedTimeout>(), seed, d, trace),
        },
    ]
}
