use super::*;
use crate::check::{AtEnd, EachEvent};
use crate::net::{Latency, LinkConfig};
use palisade_core::detector::{
    FixedTimeout, FixedTimeoutConfig, Heartbeat, HeartbeatConfig, HeartbeatEvent,
    never_suspects_live_at,
};
use palisade_core::protocol::Outbox;
use palisade_core::{Instant, Now};

type Hb = Heartbeat<FixedTimeout>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn lossy(seed: u64) -> Simulation<Hb> {
    let mut cfg = SimConfig::new(seed, 4);
    cfg.network = Network::uniform(LinkConfig {
        latency: Latency::Uniform {
            lo: ms(1),
            hi: ms(80),
        },
        loss: 0.05,
    });
    let hb = HeartbeatConfig {
        interval: ms(100),
        detector: FixedTimeoutConfig { timeout: ms(300) },
    };
    let mut sim = Simulation::new(cfg, hb);
    sim.schedule(Fault::crash(NodeId(2), Duration::from_secs(3)));
    sim
}

#[test]
fn same_seed_same_trace_and_different_seeds_differ() {
    let a = lossy(11).run_for(Duration::from_secs(10));
    let b = lossy(11).run_for(Duration::from_secs(10));
    let c = lossy(12).run_for(Duration::from_secs(10));
    assert_eq!(a, b);
    assert!(a.events > 1_000, "{a:?}");
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn exported_trace_is_one_json_object_per_event() {
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Shared::default();
    let mut sim = lossy(3);
    sim.export_trace(Box::new(buf.clone()));
    let report = sim.run_for(Duration::from_secs(4));
    sim.finish_trace().unwrap();
    let text = String::from_utf8(buf.0.borrow().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, report.events);
    assert!(lines.iter().any(|l| l["kind"] == "crash" && l["node"] == 2));
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "drop" && l["reason"] == "loss")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "event" && l["event"]["event"] == "suspect")
    );
    // Exporting must not change the run.
    assert_eq!(
        report.trace_hash,
        lossy(3).run_for(Duration::from_secs(4)).trace_hash
    );
}

#[test]
fn loss_rate_matches_configuration() {
    let mut cfg = SimConfig::new(5, 3);
    cfg.network = Network::uniform(LinkConfig {
        latency: Latency::Constant(ms(1)),
        loss: 0.2,
    });
    let hb = HeartbeatConfig {
        interval: ms(10),
        detector: FixedTimeoutConfig {
            timeout: Duration::from_secs(60),
        },
    };
    let r = Simulation::<Hb>::new(cfg, hb).run_for(Duration::from_secs(100));
    let rate = r.dropped as f64 / r.sent as f64;
    assert!(r.sent > 50_000);
    assert!((0.19..0.21).contains(&rate), "loss rate {rate}");
}

#[test]
fn crashed_node_is_suspected_and_its_messages_stop() {
    let mut sim = lossy(7);
    let report = sim.run_for(Duration::from_secs(10));
    assert!(report.violation.is_none());
    for id in [1, 3, 4] {
        let node = sim.world().node(NodeId(id)).unwrap();
        assert_eq!(node.suspected(), vec![NodeId(2)], "node {id}");
    }
    assert!(sim.world().node(NodeId(2)).is_none());
}

#[test]
fn checker_runs_after_every_event_and_stops_the_run() {
    // Strong accuracy is broken by the crash: the checker must say so, at the suspicion.
    let mut sim = lossy(7);
    sim.add_checker(EachEvent::new(
        |o: &Observation<HeartbeatEvent>, _: &std::collections::BTreeMap<NodeId, Duration>| {
            never_suspects_live_at(o, &Default::default())
        },
    ));
    let report = sim.run_for(Duration::from_secs(10));
    let v = report
        .violation
        .expect("a suspicion of the crashed node violates strong accuracy");
    assert_eq!(v.checker, "detector::never_suspects_live");
    assert!(
        v.time_ns >= 3_000_000_000 && v.time_ns < 3_500_000_000,
        "{v:?}"
    );
    assert_eq!(
        v.event + 1,
        report.events,
        "stopped at the event that broke it"
    );
    // The same checker, given the crash table, passes.
    let mut sim = lossy(7);
    sim.add_checker(EachEvent::new(never_suspects_live_at));
    assert!(sim.run_for(Duration::from_secs(10)).violation.is_none());
}

#[test]
fn at_end_checker_sees_the_final_world() {
    let mut sim = lossy(1);
    sim.add_checker(AtEnd(|w: &World<Hb>| {
        if w.now() == Duration::from_secs(5) && w.running().count() == 3 {
            Ok(())
        } else {
            Err(Violation::new("test", format!("now {:?}", w.now())))
        }
    }));
    assert!(sim.run_for(Duration::from_secs(5)).violation.is_none());
}

/// Counts its timeouts, persists the count every other one; used to check restarts.
#[derive(Debug)]
struct Counter {
    count: u64,
    next: Instant,
    outbox: Outbox<(), u64, u64>,
}

impl Protocol for Counter {
    type Message = ();
    type Command = std::convert::Infallible;
    type Event = u64;
    type Config = ();
    type Durable = u64;

    fn new(init: Init<Self>) -> Self {
        let count = init.restored.unwrap_or(0);
        let mut outbox = Outbox::new();
        outbox.event(count);
        Counter {
            count,
            next: init.now.mono + ms(100),
            outbox,
        }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
    fn handle_command(&mut self, _: Now, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, now: Now) {
        if now.mono >= self.next {
            self.count += 1;
            if self.count % 2 == 0 {
                self.outbox.persist(self.count);
            }
            self.next = now.mono + ms(100);
        }
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }
}

#[test]
fn restarted_node_has_exactly_its_persisted_state() {
    let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    // Timeouts at 100, 200, ..., 500 ms: count 5, last persisted 4.
    sim.schedule(Fault::crash(NodeId(1), ms(550)));
    sim.schedule(Fault::restart(NodeId(1), ms(700)));
    sim.run_for(ms(750));
    let restarted: Vec<u64> = sim.world().history().iter().map(|o| o.event).collect();
    assert_eq!(restarted, vec![0, 4]);
    assert_eq!(sim.world().node(NodeId(1)).unwrap().count, 4);
}

#[test]
fn drift_makes_a_timer_fire_at_the_drift_adjusted_true_time() {
    let mut cfg = SimConfig::new(1, 1);
    cfg.drift_ppm = vec![100_000]; // 10% fast, exaggerated so the effect is unmistakable
    let mut sim = Simulation::<Counter>::new(cfg, ());
    // 10 s of true time read as 11 s locally: 110 timeouts of 100 ms (each deadline is
    // re-armed from a nanosecond-rounded reading, so allow a microsecond of slip).
    sim.run_for(Duration::from_secs(10) + Duration::from_micros(1));
    assert_eq!(sim.world().node(NodeId(1)).unwrap().count, 110);
    // Without drift the same run sees 100.
    let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    sim.run_for(Duration::from_secs(10) + Duration::from_micros(1));
    assert_eq!(sim.world().node(NodeId(1)).unwrap().count, 100);
}

/// Always wants a timeout now and never moves its deadline.
struct Stuck;

impl Protocol for Stuck {
    type Message = ();
    type Command = std::convert::Infallible;
    type Event = ();
    type Config = ();
    type Durable = ();
    fn new(_: Init<Self>) -> Self {
        Stuck
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
    fn handle_command(&mut self, _: Now, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
}

#[test]
fn a_protocol_stuck_on_an_expired_deadline_is_reported_not_hung() {
    let report = Simulation::<Stuck>::new(SimConfig::new(1, 1), ()).run_for(Duration::from_secs(1));
    assert_eq!(report.violation.unwrap().checker, "sim::timer_livelock");
}
