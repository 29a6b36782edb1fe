use super::*;
use crate::check::{AtEnd, EachEvent};
use crate::net::{Latency, LinkConfig};
use palisade_core::detector::{
    FixedTimeout, FixedTimeoutConfig, Heartbeat, HeartbeatConfig, HeartbeatEvent, never_suspects_live_at,
};
use palisade_core::protocol::Outbox;
use palisade_core::{Instant, Now};
use std::cell::RefCell;
use std::rc::Rc;

type Hb = Heartbeat<FixedTimeout>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn lossy(seed: u64) -> Simulation<Hb> {
    let mut cfg = SimConfig::new(seed, 4);
    cfg.network = Network::uniform(LinkConfig {
        latency: Latency::Uniform { lo: ms(1), hi: ms(80) },
        loss: 0.05,
        ..LinkConfig::default()
    });
    let hb =
        HeartbeatConfig::default().interval(ms(100)).detector(FixedTimeoutConfig::default().timeout(ms(300)));
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

/// Every 100 ms node 1 sends node 2 and itself the configured payload followed by a
/// count of its sends, so no two sends carry the same message; node 2 echoes what it
/// gets with the first byte changed.
struct PayloadEcho {
    id: NodeId,
    payload: Vec<u8>,
    sends: u32,
    next: Instant,
    outbox: Outbox<Vec<u8>, (), ()>,
}

impl Protocol for PayloadEcho {
    type Message = Vec<u8>;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = ();
    type Config = Vec<u8>;
    type Durable = ();
    fn new(init: Init<Self>) -> Self {
        PayloadEcho {
            id: init.id,
            payload: init.config,
            sends: 0,
            next: init.now.mono,
            outbox: Outbox::new(),
        }
    }
    fn handle_message(&mut self, _: Now, from: NodeId, mut msg: Vec<u8>) {
        if self.id == NodeId(2) {
            if let Some(first) = msg.first_mut() {
                *first ^= 0xff;
            }
            self.outbox.send(from, msg);
        }
    }
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, now: Now) {
        if self.id == NodeId(1) && now.mono >= self.next {
            for to in [NodeId(2), NodeId(1)] {
                self.sends += 1;
                let mut msg = self.payload.clone();
                msg.extend_from_slice(&self.sends.to_le_bytes());
                self.outbox.send(to, msg);
            }
            self.next = now.mono + ms(100);
        }
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (self.id == NodeId(1)).then_some(self.next)
    }
}

#[test]
fn one_byte_of_a_payload_changes_the_trace_hash_and_nothing_else() {
    // The digest taken at send stands for the payload at every event that carries it:
    // sends, holds while node 2 is paused, deliveries and drops.
    let run = |payload: Vec<u8>| {
        let mut cfg = SimConfig::new(3, 2);
        cfg.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(ms(1), ms(50))).loss(0.2));
        let mut sim = Simulation::<PayloadEcho>::new(cfg, payload);
        sim.schedule(Fault::pause(NodeId(2), ms(1_000), ms(500)));
        sim.run_for(Duration::from_secs(5))
    };
    let payload: Vec<u8> = (0..64).collect();
    let base = run(payload.clone());
    assert!(base.delivered > 50 && base.dropped > 5, "{base:?}");
    for i in [0, 31, 63] {
        let mut changed = payload.clone();
        changed[i] ^= 1;
        let other = run(changed);
        assert_ne!(other.trace_hash, base.trace_hash, "byte {i}");
        assert_eq!(
            RunReport { trace_hash: base.trace_hash, ..other },
            base,
            "byte {i}: only the hash differs"
        );
    }
    assert_eq!(run(payload).trace_hash, base.trace_hash);
}

#[test]
fn every_event_that_carries_a_message_hashes_that_message() {
    // The test above sees the hash change when a payload does, but sends alone would
    // change it; here each send, duplicate, hold, delivery (over the network and to
    // self) and drop is checked against the digest of the very message its exported
    // line shows. (Not covered: a frame an adversary injects mixes in the digest of its
    // raw bytes, which determine the message it decodes to, and its line shows them.)
    let mut cfg = SimConfig::new(3, 2);
    cfg.network =
        Network::uniform(LinkConfig::with_latency(Latency::uniform(ms(1), ms(50))).loss(0.2).duplicate(0.2));
    let mut sim = Simulation::<PayloadEcho>::new(cfg, (0..64).collect());
    sim.schedule(Fault::pause(NodeId(2), ms(1_000), ms(500)));
    sim.schedule(Fault::crash(NodeId(1), ms(3_000)));
    sim.trace.mixed = Some(Vec::new());
    let mut out = Vec::new();
    sim.run_for_exporting(Duration::from_secs(5), &mut out).unwrap();
    let mixed: std::collections::BTreeMap<u64, u64> = sim.trace.mixed.take().unwrap().into_iter().collect();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let mut digests = std::collections::BTreeSet::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(msg) = v.get("msg") else { continue };
        let msg: Vec<u8> = serde_json::from_value(msg.clone()).unwrap();
        let i = v["i"].as_u64().unwrap();
        assert_eq!(mixed.get(&i), Some(&crate::trace::digest(&msg)), "{line}");
        digests.insert(mixed[&i]);
        let to_self = v["from"] == v["to"];
        let kind = v["kind"].as_str().unwrap();
        *kinds.entry(format!("{kind}{}", if to_self { " to self" } else { "" })).or_default() += 1;
    }
    // Every kind of message event happened, so every path was checked; every message
    // differs, so a digest taken of the wrong one would not match.
    for kind in ["send", "send to self", "duplicate", "hold", "deliver", "deliver to self", "drop"] {
        assert!(kinds.get(kind).is_some_and(|&n| n > 0), "no {kind} in {kinds:?}");
    }
    assert!(digests.len() > 50, "{} distinct messages", digests.len());
    // No message event went unchecked: each one the trace mixed in has a line above.
    assert_eq!(kinds.values().sum::<usize>(), mixed.len());
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
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, report.events);
    assert!(lines.iter().any(|l| l["kind"] == "crash" && l["node"] == 2));
    assert!(lines.iter().any(|l| l["kind"] == "drop" && l["reason"] == "loss"));
    assert!(lines.iter().any(|l| l["kind"] == "event" && l["event"]["event"] == "suspect"));
    // Exporting must not change the run.
    assert_eq!(report.trace_hash, lossy(3).run_for(Duration::from_secs(4)).trace_hash);

    // Lines are staged; a simulation dropped without `finish_trace` still writes them out.
    let dropped = Shared::default();
    let mut sim = lossy(3);
    sim.export_trace(Box::new(dropped.clone()));
    sim.run_for(Duration::from_secs(4));
    assert!(dropped.0.borrow().len() < text.len(), "the tail is still staged before the drop");
    drop(sim);
    assert_eq!(*dropped.0.borrow(), text.as_bytes());
}

#[test]
fn loss_rate_matches_configuration() {
    let mut cfg = SimConfig::new(5, 3);
    cfg.network = Network::uniform(LinkConfig {
        latency: Latency::Constant(ms(1)),
        loss: 0.2,
        ..LinkConfig::default()
    });
    let hb = HeartbeatConfig::default()
        .interval(ms(10))
        .detector(FixedTimeoutConfig::default().timeout(Duration::from_secs(60)));
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
    let v = report.violation.expect("a suspicion of the crashed node violates strong accuracy");
    assert_eq!(v.checker, "detector::never_suspects_live");
    assert!(v.time_ns >= 3_000_000_000 && v.time_ns < 3_500_000_000, "{v:?}");
    assert_eq!(v.event + 1, report.events, "stopped at the event that broke it");
    // The same checker, given the crash table, passes.
    let mut sim = lossy(7);
    sim.add_checker(EachEvent::new(never_suspects_live_at));
    assert!(sim.run_for(Duration::from_secs(10)).violation.is_none());
}

#[test]
fn a_world_a_checker_keeps_is_a_copy_and_the_run_goes_on() {
    // A checker may keep the world it saw, to compare with the next; the simulator must
    // still change its nodes (it once panicked on a shared node), and the kept copies must
    // not change with them.
    let kept: Rc<RefCell<Vec<World<Hb>>>> = Rc::default();
    let mut sim = lossy(3);
    let keeper = Rc::clone(&kept);
    sim.add_checker(move |w: &World<Hb>| {
        keeper.borrow_mut().push(w.clone());
        Ok(())
    });
    let report = sim.run_for(Duration::from_secs(5));
    assert!(report.violation.is_none(), "{:?}", report.violation);
    let kept = kept.borrow();
    assert!(kept.len() > 100, "{} copies", kept.len());
    let times: Vec<Duration> = kept.iter().map(World::now).collect();
    assert!(
        times.windows(2).all(|t| t[0] <= t[1]) && times[0] < times[times.len() - 1],
        "each copy kept its time"
    );
    let suspected = |w: &World<Hb>| w.node(NodeId(1)).map(|n| n.suspected());
    assert_eq!(suspected(&kept[0]), Some(vec![]), "the first copy predates the crash");
    assert_eq!(suspected(sim.world()), Some(vec![NodeId(2)]));
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

/// Counts its timeouts, persists the count every other one (used to check restarts), and
/// takes unit commands, which it ignores.
#[derive(Debug)]
struct Counter {
    count: u64,
    next: Instant,
    outbox: Outbox<(), u64, u64>,
}

impl Protocol for Counter {
    type Message = ();
    type Command = ();
    type Reply = palisade_core::NoReply;
    type Event = u64;
    type Config = ();
    type Durable = u64;

    fn new(init: Init<Self>) -> Self {
        let count = init.restored.unwrap_or(0);
        let mut outbox = Outbox::new();
        outbox.event(count);
        Counter { count, next: init.now.mono + ms(100), outbox }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
    fn handle_command(&mut self, _: Now, _: palisade_core::RequestId, (): ()) {}
    fn handle_timeout(&mut self, now: Now) {
        if now.mono >= self.next {
            self.count += 1;
            if self.count.is_multiple_of(2) {
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
fn a_fault_scheduled_between_runs_happens_at_its_time() {
    // The first run stops with the 600 ms timeout already looked at; a crash scheduled
    // before it must still come first, at its own time (the radix heap once moved it to
    // 600 ms).
    let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    sim.run_for(ms(550));
    sim.schedule(Fault::crash(NodeId(1), ms(560)));
    let split = sim.run_for(ms(1_000));
    assert_eq!(sim.world().crashes.get(&NodeId(1)), Some(&ms(560)));
    // The same run as with the crash scheduled from the start: same events, same hash.
    let mut whole = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    whole.schedule(Fault::crash(NodeId(1), ms(560)));
    assert_eq!(split, whole.run_for(ms(1_000)));
}

#[test]
fn a_fault_scheduled_in_the_past_happens_now_and_time_never_goes_back() {
    // After a run to 550 ms, times before 550 ms have passed: a crash asked for at 520 ms
    // (after the last event, at 500 ms) or at 100 ms happens at 550 ms, and no trace line
    // is dated before it.
    for asked in [ms(520), ms(100)] {
        let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
        let mut out = Vec::new();
        sim.run_for_exporting(ms(550), &mut out).unwrap();
        let before = out.len();
        sim.schedule(Fault::crash(NodeId(1), asked));
        sim.run_for_exporting(ms(1_000), &mut out).unwrap();
        assert_eq!(sim.world().crashes.get(&NodeId(1)), Some(&ms(550)), "asked {asked:?}");
        let later = String::from_utf8(out[before..].to_vec()).unwrap();
        let times: Vec<u64> = later
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.get("t_ns")?.as_u64())
            .collect();
        assert!(!times.is_empty(), "the second run wrote its events");
        assert!(times.iter().all(|&t| t >= 550_000_000), "asked {asked:?}: {times:?}");
    }
}

#[test]
fn a_pause_scheduled_in_the_past_keeps_its_length_and_moves_gst() {
    // Asked for 100 ms + 500 ms after a run to 550 ms: node 1 is paused from 550 ms to
    // 1,050 ms (no timeouts in between), and GST is its end, not the 600 ms asked.
    let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    sim.run_for(ms(550));
    assert_eq!(sim.world().node(NodeId(1)).unwrap().count, 5);
    sim.schedule(Fault::pause(NodeId(1), ms(100), ms(500)));
    assert_eq!(sim.world().gst(), ms(1_050));
    sim.run_for(ms(1_040));
    assert_eq!(sim.world().node(NodeId(1)).unwrap().count, 5, "paused until 1,050 ms");
    sim.run_for(ms(1_060));
    assert_eq!(sim.world().node(NodeId(1)).unwrap().count, 6, "resumed at 1,050 ms");
}

#[test]
fn a_command_scheduled_in_the_past_is_handled_now() {
    // As with faults: after a run to 550 ms, a command asked for at 100 ms is handled at
    // 550 ms, one asked for at 600 ms at 600 ms.
    let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    sim.run_for(ms(550));
    let early = sim.call_at(NodeId(1), ms(100), ());
    sim.command_at(NodeId(1), ms(600), ());
    let mut out = Vec::new();
    sim.run_for_exporting(ms(1_000), &mut out).unwrap();
    let commands: Vec<(u64, u64)> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "command")
        .map(|v| (v["req"].as_u64().unwrap(), v["t_ns"].as_u64().unwrap()))
        .collect();
    assert_eq!(commands, [(early.0, 550_000_000), (early.0 + 1, 600_000_000)]);
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

/// Arms one 10 s timer at start and reports when it fires.
struct TenSeconds {
    deadline: Option<Instant>,
    outbox: Outbox<(), (), ()>,
}

impl Protocol for TenSeconds {
    type Message = ();
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = ();
    type Config = ();
    type Durable = ();
    fn new(init: Init<Self>) -> Self {
        TenSeconds { deadline: Some(init.now.mono + Duration::from_secs(10)), outbox: Outbox::new() }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, now: Now) {
        if self.deadline.is_some_and(|d| now.mono >= d) {
            self.deadline = None;
            self.outbox.event(());
        }
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

#[test]
fn a_ten_second_timer_fires_at_the_drift_adjusted_true_time() {
    for (ppm, want_ns) in [(0i64, 10_000_000_000u64), (200, 9_998_000_400), (-200, 10_002_000_401)] {
        let mut cfg = SimConfig::new(1, 1);
        cfg.drift_ppm = vec![ppm];
        let mut sim = Simulation::<TenSeconds>::new(cfg, ());
        sim.run_for(Duration::from_secs(11));
        let fired = sim.world().history()[0].at;
        // ceil(10 s / (1 + ppm·1e-6)) in true time.
        assert_eq!(fired.as_nanos() as u64, want_ns, "drift {ppm} ppm");
    }
}

/// Always wants a timeout now and never moves its deadline.
struct Stuck;

impl Protocol for Stuck {
    type Message = ();
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = ();
    type Config = ();
    type Durable = ();
    fn new(_: Init<Self>) -> Self {
        Stuck
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
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

/// Sends itself a message at start and on every one it gets; at start, also tells the
/// application which incarnation it is (its restored count) and records each message heard.
struct Echo {
    outbox: Outbox<u64, (u64, u64), u64>,
    incarnation: u64,
    forever: bool,
}

impl Protocol for Echo {
    type Message = u64;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = (u64, u64);
    type Config = bool;
    type Durable = u64;
    fn new(init: Init<Self>) -> Self {
        let incarnation = init.restored.unwrap_or(0) + 1;
        let mut outbox = Outbox::new();
        outbox.persist(incarnation);
        outbox.send(init.id, incarnation);
        Echo { outbox, incarnation, forever: init.config }
    }
    fn handle_message(&mut self, _: Now, from: NodeId, sent_by: u64) {
        self.outbox.event((self.incarnation, sent_by));
        if self.forever {
            self.outbox.send(from, sent_by);
        }
    }
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

#[test]
fn a_protocol_that_messages_itself_forever_is_reported_not_hung() {
    let report = Simulation::<Echo>::new(SimConfig::new(1, 1), true).run_for(Duration::from_secs(1));
    assert_eq!(report.violation.unwrap().checker, "sim::self_message_livelock");
}

#[test]
fn a_message_to_self_dies_with_the_incarnation_that_sent_it() {
    // Crash and restart at the instant node 1 starts: what its first incarnation sent
    // itself must not reach the second.
    let mut sim = Simulation::<Echo>::new(SimConfig::new(1, 1), false);
    sim.schedule(Fault::crash(NodeId(1), Duration::ZERO));
    sim.schedule(Fault::restart(NodeId(1), Duration::ZERO));
    assert_eq!(sim.run_for(Duration::from_secs(1)).violation, None);
    let heard: Vec<(u64, u64)> = sim.world().history().iter().map(|o| o.event).collect();
    assert!(heard.iter().all(|&(incarnation, sent_by)| incarnation == sent_by), "{heard:?}");
    assert!(heard.contains(&(2, 2)), "the new incarnation hears its own message: {heard:?}");
}

fn quiet_hb(seed: u64, nodes: u32) -> Simulation<Hb> {
    let mut cfg = SimConfig::new(seed, nodes);
    cfg.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(ms(1), ms(5))));
    let hb =
        HeartbeatConfig::default().interval(ms(100)).detector(FixedTimeoutConfig::default().timeout(ms(300)));
    Simulation::new(cfg, hb)
}

fn suspicions(w: &World<Hb>) -> Vec<(NodeId, NodeId)> {
    let mut v: Vec<_> =
        w.running().flat_map(|(id, n)| n.suspected().into_iter().map(move |p| (id, p))).collect();
    v.sort();
    v
}

#[test]
fn one_way_partition_delivers_one_way_only() {
    let mut sim = quiet_hb(1, 3);
    sim.schedule(Fault::partition(
        crate::net::Partition::one_way(NodeId(1), NodeId(2)),
        Duration::from_secs(1),
    ));
    sim.run_for(Duration::from_secs(3));
    // n2 no longer hears n1; n1 still hears n2; n3 hears everyone.
    assert_eq!(suspicions(sim.world()), vec![(NodeId(2), NodeId(1))]);
}

#[test]
fn healed_partition_restores_trust_and_gst_is_the_heal() {
    let mut sim = quiet_hb(2, 4);
    let all: Vec<NodeId> = (1..=4).map(NodeId).collect();
    sim.schedule(Fault::partition(crate::net::Partition::halves(&all), Duration::from_secs(1)));
    sim.schedule(Fault::heal(Duration::from_secs(2)));
    let report = sim.run_for(Duration::from_secs(3));
    assert_eq!(report.gst_ns, 2_000_000_000);
    assert!(suspicions(sim.world()).is_empty());
    let h = sim.world().history();
    // Each node suspected exactly the two across the cut, and trusted them again.
    assert_eq!(h.iter().filter(|o| matches!(o.event, HeartbeatEvent::Suspect { .. })).count(), 8);
    assert_eq!(h.iter().filter(|o| matches!(o.event, HeartbeatEvent::Trust { .. })).count(), 8);
    assert!(h.iter().all(|o| o.at > Duration::from_secs(1) && o.at < Duration::from_millis(2_100)));
}

#[test]
fn messages_in_flight_are_dropped_when_a_partition_starts() {
    let mut cfg = SimConfig::new(3, 2);
    cfg.network = Network::uniform(LinkConfig::with_latency(Latency::Constant(ms(50))));
    let hb =
        HeartbeatConfig::default().interval(ms(100)).detector(FixedTimeoutConfig::default().timeout(ms(300)));
    let mut sim = Simulation::<Hb>::new(cfg, hb);
    // Heartbeats sent at 0 ms arrive at 50 ms; the partition at 20 ms catches them in flight.
    sim.schedule(Fault::partition(crate::net::Partition::halves(&[NodeId(1), NodeId(2)]), ms(20)));
    let r = sim.run_for(ms(60));
    assert_eq!((r.sent, r.delivered, r.dropped), (2, 0, 2));
}

#[test]
fn paused_node_fires_timers_late_and_drains_its_inbox_on_resume() {
    let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    sim.schedule(Fault::pause(NodeId(1), ms(250), ms(1_000)));
    sim.run_for(ms(1_300));
    // Timeouts at 100 and 200 ms; the one due at 300 ms fires late, at 1250 ms, once.
    assert_eq!(sim.world().node(NodeId(1)).unwrap().count, 3);

    // An observer paused longer than its timeout: on resume its timers fire before its
    // backlog is read, so it suspects everyone (the observer-pause hazard), then the held
    // heartbeats restore trust at the same instant.
    let mut sim = quiet_hb(4, 3);
    sim.schedule(Fault::pause(NodeId(2), Duration::from_secs(1), Duration::from_secs(2)));
    let r = sim.run_for(Duration::from_secs(4));
    assert_eq!(r.gst_ns, 3_000_000_000);
    let n2: Vec<_> = sim.world().history().iter().filter(|o| o.node == NodeId(2)).collect();
    let kinds: Vec<_> = n2.iter().map(|o| o.event.clone()).collect();
    // (In either order: both are overdue when it resumes.)
    let mut suspected = kinds[..2].to_vec();
    suspected.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        suspected,
        [HeartbeatEvent::Suspect { peer: NodeId(1) }, HeartbeatEvent::Suspect { peer: NodeId(3) }]
    );
    let mut trusted = kinds[2..].to_vec();
    trusted.sort_by_key(|e| format!("{e:?}"));
    // Trust returns in the order the held heartbeats arrived.
    assert_eq!(
        trusted,
        [HeartbeatEvent::Trust { peer: NodeId(1) }, HeartbeatEvent::Trust { peer: NodeId(3) }]
    );
    assert!(n2.iter().all(|o| o.at == Duration::from_secs(3)), "{n2:?}");
    // Meanwhile n1 and n3 suspected the paused n2 and trusted it again once it spoke.
    assert!(suspicions(sim.world()).is_empty());
}

#[test]
fn wall_step_is_seen_by_the_node_and_never_moves_its_monotonic_clock() {
    /// Records (mono, wall) readings at every timeout.
    struct Reader {
        next: Instant,
        readings: Vec<Now>,
    }
    impl Protocol for Reader {
        type Message = ();
        type Command = std::convert::Infallible;
        type Reply = palisade_core::NoReply;
        type Event = ();
        type Config = ();
        type Durable = ();
        fn new(init: Init<Self>) -> Self {
            Reader { next: init.now.mono, readings: Vec::new() }
        }
        fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
        fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
            match c {}
        }
        fn handle_timeout(&mut self, now: Now) {
            self.readings.push(now);
            self.next = now.mono + ms(100);
        }
        fn poll_output(&mut self) -> Option<OutputFor<Self>> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(self.next)
        }
    }
    let mut sim = Simulation::<Reader>::new(SimConfig::new(1, 1), ());
    sim.schedule(Fault::wall_step(NodeId(1), ms(550), -10_000_000_000));
    sim.run_for(ms(1_000));
    let r = &sim.world().node(NodeId(1)).unwrap().readings;
    assert!(r.windows(2).all(|w| w[1].mono - w[0].mono == ms(100)), "monotonic clock steady");
    let walls: Vec<i64> = r.windows(2).map(|w| w[1].wall.nanos_since(w[0].wall)).collect();
    assert_eq!(walls.iter().filter(|&&d| d == 100_000_000).count(), walls.len() - 1);
    assert!(walls.contains(&(100_000_000 - 10_000_000_000)), "one reading jumped back 10 s");
}

#[test]
fn determinism_holds_across_every_fault_kind() {
    let run = |seed| {
        let mut cfg = SimConfig::new(seed, 5);
        cfg.network = Network::uniform(LinkConfig {
            latency: Latency::LogNormal {
                min: ms(1),
                median: ms(10),
                sigma: 1.0,
                max: crate::net::MAX_LATENCY,
            },
            loss: 0.02,
            duplicate: 0.02,
            fifo: false,
            bandwidth: None,
        });
        cfg.drift_ppm = vec![200, -200, 0, 50, -50];
        let hb = HeartbeatConfig::default()
            .interval(ms(100))
            .detector(FixedTimeoutConfig::default().timeout(ms(500)));
        let mut sim = Simulation::<Hb>::new(cfg, hb);
        let all: Vec<NodeId> = (1..=5).map(NodeId).collect();
        let s = Duration::from_secs;
        sim.make_byzantine(NodeId(5), crate::byzantine::Garbage { probability: 0.3 });
        sim.schedule(Fault { at: s(6), kind: crate::FaultKind::TornWrite(NodeId(1)) });
        sim.schedule_all(Fault::degrade(
            LinkConfig {
                bandwidth: Some(crate::net::Bandwidth { bytes_per_sec: 2_000, queue_bytes: 500 }),
                ..LinkConfig::default()
            },
            s(6),
            s(1),
        ));
        sim.schedule(Fault::partition(crate::net::Partition::majorities_ring(&all), s(1)))
            .schedule(Fault::heal(s(2)))
            .schedule(Fault::partition(crate::net::Partition::bridge(&all), s(3)))
            .schedule(Fault::heal(s(4)))
            .schedule(Fault::pause(NodeId(2), s(2), ms(700)))
            .schedule(Fault::crash(NodeId(4), s(3)))
            .schedule(Fault::restart(NodeId(4), s(5)))
            .schedule(Fault::wall_step(NodeId(1), s(1), -5_000_000_000))
            .schedule(Fault::drift(NodeId(3), s(2), 100_000))
            .schedule_all(Fault::strobe(NodeId(5), s(1), s(2), ms(200), ms(50)));
        sim.run_for(s(8))
    };
    let a = run(21);
    assert_eq!(a, run(21));
    assert_ne!(a.trace_hash, run(22).trace_hash);
    assert!(a.delivered > 1_000 && a.dropped > 0 && a.rejected > 0, "{a:?}");
}

#[test]
fn a_degraded_network_is_restored_on_schedule() {
    let mut sim = quiet_hb(5, 3);
    let lossy = LinkConfig { loss: 1.0, ..LinkConfig::default() };
    sim.schedule_all(Fault::degrade(lossy, Duration::from_secs(1), Duration::from_secs(1)));
    let r = sim.run_for(Duration::from_secs(3));
    assert_eq!(r.gst_ns, 2_000_000_000);
    // Everyone suspected everyone while every message was lost, and trusted again after.
    let h = sim.world().history();
    assert_eq!(h.iter().filter(|o| matches!(o.event, HeartbeatEvent::Suspect { .. })).count(), 6);
    assert!(suspicions(sim.world()).is_empty());
}

#[test]
fn a_duplication_burst_delivers_copies_only_while_it_lasts() {
    let s = Duration::from_secs;
    let plain = quiet_hb(5, 3).run_for(s(3));
    assert!(plain.delivered <= plain.sent, "{plain:?}");
    let mut sim = quiet_hb(5, 3);
    sim.schedule_all(Fault::duplicate(1.0, s(1), s(1)));
    let dup = sim.run_for(s(3));
    // Every message sent during the burst arrives twice: about a third of the run's traffic.
    let copies = dup.delivered - dup.sent;
    assert!(copies * 4 > dup.sent && copies * 2 < dup.sent, "{copies} copies of {} sent", dup.sent);
    // Like every fault, the burst's end counts towards GST; copies cut nobody off.
    assert_eq!(dup.gst_ns, 2_000_000_000);
    assert!(suspicions(sim.world()).is_empty());
}

#[test]
fn a_torn_write_is_lost_and_the_node_dies_mid_write() {
    let mut sim = Simulation::<Counter>::new(SimConfig::new(1, 1), ());
    // Persists happen at counts 2 (200 ms) and 4 (400 ms); the one at 400 ms is torn.
    sim.schedule(Fault { at: ms(250), kind: crate::FaultKind::TornWrite(NodeId(1)) });
    sim.schedule(Fault::restart(NodeId(1), ms(600)));
    sim.run_for(ms(650));
    assert_eq!(sim.world().durable(NodeId(1)), Some(&2));
    let events: Vec<u64> = sim.world().history().iter().map(|o| o.event).collect();
    assert_eq!(events, vec![0, 2], "restarted from the last complete persist");
}

#[test]
fn liveness_is_judged_after_gst() {
    use crate::check::WithinAfterGst;
    let all_trusted = |w: &World<Hb>| w.running().all(|(_, n)| n.suspected().is_empty());
    // A halves partition until 2 s: trust returns within 1 s after it heals.
    let run = |within| {
        let mut sim = quiet_hb(6, 4);
        let all: Vec<NodeId> = (1..=4).map(NodeId).collect();
        sim.schedule(Fault::partition(crate::net::Partition::halves(&all), Duration::from_secs(1)));
        sim.schedule(Fault::heal(Duration::from_secs(2)));
        sim.add_checker(WithinAfterGst::new("test::trust_returns", within, all_trusted));
        sim.run_for(Duration::from_secs(4))
    };
    assert_eq!(run(Duration::from_secs(1)).violation, None);
    // Planted: demand it within 1 µs of the heal, before any heartbeat can cross.
    let v = run(Duration::from_micros(1)).violation.expect("too tight a bound must fail");
    assert_eq!(v.checker, "test::trust_returns");
    assert!(v.time_ns > 2_000_000_000 && v.time_ns < 2_010_000_000, "{v:?}");
}

/// Emits its tick count every 100 ms until it has emitted `config` ticks: an even tick
/// starts an operation, the next odd one completes it.
#[derive(Debug)]
struct Ticker {
    stop_after: u64,
    count: u64,
    next: Instant,
    outbox: Outbox<(), u64, ()>,
}

impl Protocol for Ticker {
    type Message = ();
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = u64;
    type Config = u64;
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        Ticker { stop_after: init.config, count: 0, next: init.now.mono + ms(100), outbox: Outbox::new() }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: ()) {}
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, now: Now) {
        if now.mono >= self.next && self.count < self.stop_after {
            self.outbox.event(self.count);
            self.count += 1;
            self.next = now.mono + ms(100);
        }
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (self.count < self.stop_after).then_some(self.next)
    }
}

#[test]
fn progress_is_re_armed_after_every_step_not_satisfied_once() {
    use crate::check::{ProgressAfterGst, WithinAfterGst};
    // A pause from 1 s to 2 s (GST); in the stalling run the node stops ticking at 3 s.
    let run = |stall: bool, once: bool| {
        let ticks = if stall { 20 } else { u64::MAX };
        let mut sim = Simulation::<Ticker>::new(SimConfig::new(1, 1), ticks);
        sim.schedule(Fault::pause(NodeId(1), Duration::from_secs(1), Duration::from_secs(1)));
        let within = Duration::from_millis(300);
        if once {
            sim.add_checker(WithinAfterGst::new("test::ticks", within, |w: &World<Ticker>| {
                w.history().last().is_some_and(|o| o.at >= w.gst())
            }));
        } else {
            sim.add_checker(ProgressAfterGst::new("test::ticks", within, |_: &Observation<u64>| true));
        }
        sim.run_for(Duration::from_secs(4))
    };
    assert_eq!(run(false, false).violation, None);
    let v = run(true, false).violation.expect("a stall after GST must fail");
    assert_eq!(v.checker, "test::ticks");
    assert!(v.message.contains("no progress for 300ms since 3s"), "{v:?}");
    // The one-shot form was satisfied by the first tick after GST and misses the stall.
    assert_eq!(run(true, true).violation, None, "WithinAfterGst holds once and is never re-checked");
}

/// A ticker whose even ticks start an operation and odd ones end it, checked to finish each
/// within `within`; with `crash`, its node crashes mid-operation.
fn ops_run(within: Duration, crash: bool) -> RunReport {
    use crate::check::EveryOperationWithin;
    let mut sim = Simulation::<Ticker>::new(SimConfig::new(1, 1), u64::MAX);
    if crash {
        // Crashes between an operation's start (tick 2 at 300 ms) and its completion.
        sim.schedule(Fault { at: ms(350), kind: crate::FaultKind::Crash(NodeId(1)) });
    }
    sim.add_checker(EveryOperationWithin::new(
        "test::ops",
        within,
        |e: &u64| e.is_multiple_of(2),
        |e: &u64| e % 2 == 1,
    ));
    sim.run_for(Duration::from_secs(2))
}

#[test]
fn every_operation_must_finish_within_the_bound_unless_its_node_crashed() {
    let run = ops_run;
    assert_eq!(run(ms(150), false).violation, None);
    let v = run(ms(50), false).violation.expect("operations take 100 ms: a 50 ms bound fails");
    assert_eq!(v.checker, "test::ops");
    // The operation started at 300 ms never completes: its node crashed at 350 ms, so its
    // outcome is unknown, not late.
    assert_eq!(run(ms(150), true).violation, None);
}

#[test]
fn a_violation_names_the_kind_of_event_and_only_the_same_failure_no_later_reproduces_it() {
    let v = ops_run(ms(50), false).violation.expect("fails");
    // The last event the checker saw was a tick (the `u64` event's Debug form is the number).
    assert!(!v.cause.is_empty() && v.cause != "start", "{v:?}");
    let same = |f: &dyn Fn(&mut ViolationReport)| {
        let mut other = v.clone();
        f(&mut other);
        v.reproduced_by(&other)
    };
    assert!(same(&|_| {}));
    assert!(same(&|o| o.time_ns -= 1), "earlier is fine");
    assert!(!same(&|o| o.time_ns += 1), "later is a different failure");
    assert!(!same(&|o| o.checker = "test::other"), "another checker");
    assert!(!same(&|o| o.cause = "end of run".into()), "another kind of event");
    assert_eq!(variant_name("WriteAccepted { token: 3 }"), "WriteAccepted");
    assert_eq!(variant_name("Some(1)"), "Some");
    assert_eq!(variant_name("Heal"), "Heal");
}

#[test]
fn a_trace_exported_to_memory_is_handed_back_after_the_run() {
    let mut sim = lossy(3);
    sim.export_trace(Vec::<u8>::new());
    let report = sim.run_for(Duration::from_secs(2));
    // Asking for another type leaves the export where it is.
    assert!(sim.take_trace_export::<std::io::Cursor<Vec<u8>>>().is_none());
    let bytes: Vec<u8> = sim.take_trace_export().expect("the Vec given to export_trace");
    let lines = String::from_utf8(bytes).unwrap().lines().count() as u64;
    assert_eq!(lines, report.events);
    assert!(sim.take_trace_export::<Vec<u8>>().is_none(), "handed back once");
}

#[test]
fn a_fault_at_one_node_leaves_every_other_links_draws_as_they_were() {
    // Each message's fate is drawn from its own key (link, send time, index among the
    // sender's sends then), so cutting n1 off, crashing it or pausing it for a while
    // changes nothing on n2 <-> n3: the same heartbeats arrive at the same times. With
    // one shared stream every draw after the fault would have moved.
    // (Heartbeats are sent on a timer, whatever arrives, so n2's and n3's sends are the
    // same in every run.)
    let all = [NodeId(1), NodeId(2), NodeId(3)];
    let sends_between_2_and_3 = |faults: Vec<Fault>| {
        let mut sim = quiet_hb(7, 3);
        sim.schedule_all(faults);
        let mut trace = Vec::new();
        let r = sim.run_for_exporting(Duration::from_secs(2), &mut trace).unwrap();
        let mut sends: Vec<String> = String::from_utf8(trace)
            .unwrap()
            .lines()
            .filter(|l| l.contains(r#""kind":"send""#))
            .filter(|l| l.contains(r#""from":2,"to":3"#) || l.contains(r#""from":3,"to":2"#))
            .map(|l| l[l.find(r#""t_ns""#).unwrap()..].to_owned())
            .collect();
        // (Two nodes' heartbeats at one instant may be sent in either order.)
        sends.sort();
        (r, sends)
    };
    let (plain_report, plain) = sends_between_2_and_3(Vec::new());
    assert_eq!(plain_report.dropped, 0);
    assert!(plain.len() > 30, "{}", plain.len());
    let variants = [
        (
            "partition",
            vec![
                Fault::partition(crate::net::Partition::isolate(NodeId(1), &all), ms(300)),
                Fault::heal(ms(800)),
            ],
        ),
        ("crash", vec![Fault::crash(NodeId(1), ms(300)), Fault::restart(NodeId(1), ms(800))]),
        ("pause", vec![Fault::pause(NodeId(1), ms(300), ms(500))]),
    ];
    for (name, faults) in variants {
        let (report, sends) = sends_between_2_and_3(faults);
        assert_ne!(report.trace_hash, plain_report.trace_hash, "{name}: the fault changed the run");
        assert_eq!(sends, plain, "{name}");
    }
}

#[test]
fn a_borrowed_writer_gets_the_same_trace_as_an_owned_one() {
    let run = || {
        let mut sim = quiet_hb(3, 4);
        sim.schedule(Fault::pause(NodeId(2), Duration::from_secs(1), Duration::from_secs(2)));
        sim
    };
    let mut owned = run();
    owned.export_trace(Vec::new());
    let owned_report = owned.run_for(Duration::from_secs(5));
    let owned_lines = owned.take_trace_export::<Vec<u8>>().unwrap();

    let mut lent = Vec::new();
    let mut borrowed = run();
    let report = borrowed.run_for_exporting(Duration::from_secs(5), &mut lent).unwrap();
    assert!(lent.len() > 2 * crate::trace::STAGE_BYTES, "drained in several chunks: {}", lent.len());
    assert_eq!(lent, owned_lines);
    assert_eq!(report.trace_hash, owned_report.trace_hash);
    // The writer is still ours, and the simulation holds no export after the run.
    lent.clear();
    assert!(borrowed.take_trace_export::<Vec<u8>>().is_none());

    // Lending while a writer is attached is refused before anything runs.
    let mut both = run();
    both.export_trace(Vec::new());
    let err = both.run_for_exporting(Duration::from_secs(1), &mut lent).unwrap_err();
    assert!(err.to_string().contains("already attached"), "{err}");
    assert_eq!(both.world().now(), Duration::ZERO);

    // A writer that fails: the run completes, and the first error is returned.
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = run().run_for_exporting(Duration::from_secs(5), &mut Full).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
}

#[test]
fn the_link_table_gives_each_message_the_draws_its_key_gives() {
    // Small clusters look a link's draw prefix up; the result must be the keyed draws a
    // large cluster computes, for every link, and for a recipient outside the cluster.
    for nodes in [1, 5, LINK_TABLE_MAX_NODES as u32, LINK_TABLE_MAX_NODES as u32 + 1] {
        let mut sim = lossy(3);
        sim = Simulation::new(SimConfig { nodes, ..sim.config.clone() }, sim.protocol_config.clone());
        assert_eq!(sim.link_draws.is_empty(), nodes as usize > LINK_TABLE_MAX_NODES);
        // A new time for each case: the index counts a sender's sends at one time.
        let near = [(1, 1, 1), (7, 1, nodes), (9, nodes, 1)];
        let far = [(11, 1, nodes + 1), (14, nodes, nodes + 7), (15, nodes + 1, 1), (16, 0, 1), (17, 1, 0)];
        let edges = [(18, u32::MAX, 1), (19, 1, u32::MAX), (20, u32::MAX, u32::MAX), (21, 0, 0)];
        for (now, from, to) in near.into_iter().chain(far).chain(edges) {
            sim.world.now_ns = now;
            for index in 0..3u64 {
                // A sender outside the cluster keeps no count of its sends: always index 0.
                let index = if (1..=nodes).contains(&from) { index } else { 0 };
                let expected =
                    sim.network_draws.then((u64::from(from) << 32) | u64::from(to)).then(now).then(index);
                assert_eq!(
                    sim.message_draws(NodeId(from), NodeId(to)),
                    expected,
                    "{nodes} nodes, {from} to {to}"
                );
            }
        }
    }
}

/// A message whose encoding panics when it carries `true`: a bug in a message type, not in
/// a protocol's handler.
#[derive(Clone, Debug, serde::Deserialize)]
struct Bomb(bool);

impl Serialize for Bomb {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        assert!(!self.0, "serialize bomb");
        s.serialize_bool(false)
    }
}

/// On its first timeout, yields an event and a message to node 2, then either panics in
/// `poll_output` (config `true`) or sends a message whose encoding panics (`false`).
struct Fragile {
    outbox: Outbox<Bomb, u8, ()>,
    panic_in_drain: bool,
    fired: bool,
    yielded: u8,
}

impl Protocol for Fragile {
    type Message = Bomb;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = u8;
    type Config = bool;
    type Durable = ();
    fn new(init: Init<Self>) -> Self {
        Fragile { outbox: Outbox::new(), panic_in_drain: init.config, fired: false, yielded: 0 }
    }
    fn handle_message(&mut self, _: Now, _: NodeId, _: Bomb) {}
    fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
        match c {}
    }
    fn handle_timeout(&mut self, _: Now) {
        self.fired = true;
        self.outbox.event(1);
        self.outbox.send(NodeId(2), Bomb(!self.panic_in_drain));
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        assert!(!(self.panic_in_drain && self.yielded == 2), "drain bomb");
        let out = self.outbox.pop();
        self.yielded += u8::from(out.is_some());
        out
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (!self.fired).then_some(Instant::ZERO)
    }
}

#[test]
fn a_step_that_panics_while_draining_has_none_of_its_outputs_acted_on() {
    // As in the actix runtime, the whole step runs before any output is acted on: the
    // event and the message yielded before the panic are not recorded, sent or observed.
    let mut sim = Simulation::<Fragile>::new(SimConfig::new(1, 2), true);
    let report = sim.run_for(Duration::from_secs(1));
    let v = report.violation.expect("the panic is reported");
    assert_eq!(v.checker, NO_PANIC);
    assert!(v.message.contains("drain bomb"), "{}", v.message);
    assert_eq!(v.cause, "start");
    assert_eq!(report.sent, 0);
    assert!(sim.world().history().is_empty());
}

#[test]
fn a_panic_outside_the_protocol_s_step_is_not_reported_as_the_node_s() {
    // A message type whose encoding panics is a bug the simulator must not blame on the
    // node's handler: the panic leaves the run, as it would leave a real node's runtime.
    let run = catch_unwind(AssertUnwindSafe(|| {
        Simulation::<Fragile>::new(SimConfig::new(1, 2), false).run_for(Duration::from_secs(1))
    }));
    let payload = run.expect_err("the encoding's panic propagates");
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(text.contains("serialize bomb"), "{text}");
}
