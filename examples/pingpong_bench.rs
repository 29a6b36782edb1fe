//! Simulator throughput: the ping-pong workload from the simulator issue.
//!
//! 5 nodes; every 10 ms of simulated time each node pings each of the other 4, and every
//! ping is answered with a pong; one-way latency uniform in [0, 100 ms); 1% independent
//! loss; 60 simulated seconds; seed 42.
//!
//! `cargo run --release --example pingpong_bench` prints one line:
//! `delivered=<n> wall_s=<s> delivered_per_wall_s=<rate>` (the median of 7 runs).
//! `-- --scale` runs the same per-node load with 10, 100 and 1000 nodes (each pinging 4
//! random peers per round) and prints the wall nanoseconds per event for each, side by side
//! with a bare loop doing the same work on the same event queue (medians of 7 alternating
//! runs).
//! `-- --workload turmoil` gives every run turmoil's default latency instead (exponential,
//! mean 20 ms, no loss), for a like-for-like comparison (`bench/compare-turmoil.sh`).
//! `-- --profile N [SECONDS]` runs the simulator alone on N nodes (for 20000/N simulated
//! seconds unless given), for a profiler; with `--bare` too, the bare loop instead, and
//! with `--bare --sized` the bare loop with events as large as the simulator's (32 bytes
//! queued instead of 12: a payload the loop carries and never reads), to see what the
//! event's size alone costs.
//! `-- --memory` runs 1000 nodes for 10 simulated minutes and prints peak resident memory.

use palisade::core::protocol::{Init, NoReply, Outbox, OutputFor, Protocol, RequestId};
use palisade::core::{Draws, Instant, NodeId, Now, Rng};
use palisade::sim::queue::{CalendarQueue, EventQueue, RadixQueue};
use palisade::sim::{Latency, LinkConfig, Network, SimConfig, Simulation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Msg {
    Ping(u64),
    Pong(u64),
}

#[derive(Clone, Debug)]
struct Config {
    /// Peers pinged per round: all others when `None`, else this many random ones.
    fanout: Option<usize>,
}

struct PingPong {
    id: NodeId,
    /// Cluster size: ids are 1..=n.
    n: u32,
    peers: Vec<NodeId>,
    fanout: Option<usize>,
    rng: Rng,
    next: Instant,
    round: u64,
    outbox: Outbox<Msg, (), ()>,
}

const ROUND: Duration = Duration::from_millis(10);

impl Protocol for PingPong {
    type Message = Msg;
    type Command = std::convert::Infallible;
    type Reply = NoReply;
    type Event = ();
    type Config = Config;
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let all = init.config.fanout.is_none();
        PingPong {
            id: init.id,
            n: init.members.len() as u32,
            // Only the all-peers workload keeps a list; random fan-out draws ids directly,
            // so a 1000-node run does not carry a million-entry peer table.
            peers: if all { init.peers().collect() } else { Vec::new() },
            fanout: init.config.fanout,
            rng: Rng::from_seed(init.seed),
            next: init.now.mono,
            round: 0,
            outbox: Outbox::new(),
        }
    }
    fn handle_message(&mut self, _now: Now, from: NodeId, msg: Msg) {
        if let Msg::Ping(n) = msg {
            self.outbox.send(from, Msg::Pong(n));
        }
    }
    fn handle_command(&mut self, _now: Now, _req: RequestId, cmd: Self::Command) {
        match cmd {}
    }
    fn handle_timeout(&mut self, now: Now) {
        if now.mono < self.next {
            return;
        }
        match self.fanout {
            None => {
                for &p in &self.peers {
                    self.outbox.send(p, Msg::Ping(self.round));
                }
            }
            Some(k) => {
                for _ in 0..k {
                    // A uniformly random other node: draw from n - 1 and skip our own id.
                    let mut p = 1 + self.rng.below(u64::from(self.n - 1)) as u32;
                    if p >= self.id.0 {
                        p += 1;
                    }
                    self.outbox.send(NodeId(p), Msg::Ping(self.round));
                }
            }
        }
        self.round += 1;
        self.next = now.mono + ROUND;
    }
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }
}

struct Measured {
    delivered: u64,
    events: u64,
    wall: Duration,
}

/// The link: palisade's workload (uniform 0-100 ms, 1% loss), or with `--workload turmoil`
/// turmoil's default (0 + 100 ms × Exp(5), mean 20 ms, no loss; turmoil also cuts a delay at
/// 100 ms, which 0.7% of draws exceed).
fn link() -> LinkConfig {
    if std::env::args().collect::<Vec<_>>().windows(2).any(|w| w[0] == "--workload" && w[1] == "turmoil") {
        LinkConfig::with_latency(Latency::Exponential {
            min: Duration::ZERO,
            mean: Duration::from_millis(20),
        })
    } else {
        LinkConfig::with_latency(Latency::uniform(Duration::ZERO, Duration::from_millis(100))).loss(0.01)
    }
}

fn run(nodes: u32, fanout: Option<usize>, simulated: Duration) -> Measured {
    let mut cfg = SimConfig::new(42, nodes);
    cfg.network = Network::uniform(link());
    let mut sim = Simulation::<PingPong>::new(cfg, Config { fanout });
    let start = std::time::Instant::now();
    let report = sim.run_for(simulated);
    let wall = start.elapsed();
    Measured { delivered: report.delivered, events: report.events, wall }
}

/// The same workload without the simulator: the same event queue, the same kinds of random
/// draws (the peers pinged, loss, latency from the same link), and events counted as the
/// simulator's trace counts them (a timeout, a send or a drop, a delivery). What is left
/// out is everything the simulator adds: the protocol behind its trait, message payloads
/// and their encoding, clocks, the trace hash, checkers, crash and pause bookkeeping. The
/// floor the simulator's per-event cost is compared with; its random streams differ from
/// the simulator's, so its peers and delays are others drawn from the same distributions.
fn bare(nodes: u32, fanout: usize, simulated: Duration) -> Measured {
    bare_on::<EventQueue<Ev>, ()>(nodes, fanout, simulated)
}

/// The bare loop's events; `B` is a payload a message carries and the loop never reads:
/// none (`()`), or with `--sized` enough to make a queued event the simulator's size.
enum Ev<B = ()> {
    Round(u32),
    Ping { from: u32, to: u32, body: B },
    Pong(B),
}

/// The payload that makes a queued bare event (`Option<Ev<SimSizedBody>>`) 32 bytes, as the
/// simulator's pending message is in this benchmark.
type SimSizedBody = [u64; 2];

const _: () = assert!(std::mem::size_of::<Option<Ev>>() == 12);
const _: () = assert!(std::mem::size_of::<Option<Ev<SimSizedBody>>>() == 32);

/// A bare message's payload, made from the time it is sent.
trait Body: Copy {
    /// The payload of a message sent at `now`.
    fn made_at(now: u64) -> Self;
}

impl Body for () {
    fn made_at(_: u64) {}
}

impl Body for SimSizedBody {
    fn made_at(now: u64) -> Self {
        [now; 2]
    }
}

/// The queue operations the bare loop uses, so it can run on each queue (`--queues`).
trait Queue<B>: Default {
    fn push(&mut self, at: u64, ev: Ev<B>);
    fn pop(&mut self) -> Option<(u64, Ev<B>)>;
}

impl<B> Queue<B> for CalendarQueue<Ev<B>> {
    fn push(&mut self, at: u64, ev: Ev<B>) {
        CalendarQueue::push(self, at, ev)
    }
    fn pop(&mut self) -> Option<(u64, Ev<B>)> {
        CalendarQueue::pop(self)
    }
}

impl<B> Queue<B> for RadixQueue<Ev<B>> {
    fn push(&mut self, at: u64, ev: Ev<B>) {
        RadixQueue::push(self, at, ev)
    }
    fn pop(&mut self) -> Option<(u64, Ev<B>)> {
        RadixQueue::pop(self)
    }
}

fn bare_on<Q: Queue<B>, B: Body>(nodes: u32, fanout: usize, simulated: Duration) -> Measured {
    let end = simulated.as_nanos() as u64;
    let round = ROUND.as_nanos() as u64;
    let link = link();
    let mut master = Rng::from_seed(42);
    let network = Draws::keyed(42, &[1]);
    let mut peers: Vec<Rng> = (0..nodes).map(|i| master.fork(u64::from(i) + 10)).collect();
    let mut queue = Q::default();
    for i in 1..=nodes {
        queue.push(0, Ev::Round(i));
    }
    let (mut events, mut delivered) = (0u64, 0u64);
    let start = std::time::Instant::now();
    let send = |queue: &mut Q, now: u64, ev: Ev<B>, events: &mut u64| {
        *events += 1;
        // Each message's own keyed draws, as the simulator makes them (it keys by link,
        // send time and index among the sender's sends then; the event count stands in
        // for the link and the index here).
        let mut net = network.then(*events).then(now).then(0);
        if net.unit_f64() >= link.loss {
            queue.push(now + link.latency.sample_ns(&mut net), ev);
        }
    };
    while let Some((now, ev)) = queue.pop() {
        if now > end {
            break;
        }
        events += 1;
        match ev {
            Ev::Round(id) => {
                let rng = &mut peers[id as usize - 1];
                for _ in 0..fanout {
                    let mut p = 1 + rng.below(u64::from(nodes - 1)) as u32;
                    if p >= id {
                        p += 1;
                    }
                    send(&mut queue, now, Ev::Ping { from: id, to: p, body: B::made_at(now) }, &mut events);
                }
                queue.push(now + round, Ev::Round(id));
            }
            Ev::Ping { from, to, body } => {
                delivered += 1;
                std::hint::black_box(to);
                send(&mut queue, now, Ev::Pong(body), &mut events);
                std::hint::black_box(from);
            }
            Ev::Pong(_) => delivered += 1,
        }
    }
    Measured { delivered, events, wall: start.elapsed() }
}

/// The bare loop on each event queue, side by side: 5, 10, 100 and 1000 nodes, each pinging
/// 4 peers per round drawn at random (with replacement, so at 5 nodes not always the
/// other 4, as the headline workload pings), REPEATS alternating runs of each, medians
/// of ns per event.
fn queues() {
    for (nodes, secs) in [(5u32, 60u64), (10, 60), (100, 12), (1000, 6)] {
        let simulated = Duration::from_secs(secs);
        let (mut calendar, mut radix) = (Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            calendar.push(bare_on::<CalendarQueue<Ev>, ()>(nodes, 4, simulated));
            radix.push(bare_on::<RadixQueue<Ev>, ()>(nodes, 4, simulated));
        }
        let (c, r) = (median_ns(&calendar), median_ns(&radix));
        println!(
            "nodes={nodes} events={} ns_per_event: calendar={c:.1} radix={r:.1} radix_vs_calendar={:.2}x",
            calendar[0].events,
            r / c
        );
    }
}

/// The median wall nanoseconds per event of `runs`.
fn median_ns(runs: &[Measured]) -> f64 {
    let mut per: Vec<f64> = runs.iter().map(|m| m.wall.as_nanos() as f64 / m.events as f64).collect();
    per.sort_by(f64::total_cmp);
    per[per.len() / 2]
}

/// Repetitions of the headline run; the median is reported.
const REPEATS: usize = 7;

/// Peak resident memory of this process in MiB, from /proc (Linux), if available.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--memory") {
        // 1000 nodes, 10 simulated minutes, no trace export: the memory bound.
        let m = run(1000, Some(4), Duration::from_secs(600));
        println!(
            "nodes=1000 simulated_s=600 events={} wall_s={:.1} peak_rss_mib={:.1}",
            m.events,
            m.wall.as_secs_f64(),
            peak_rss_mib().unwrap_or(f64::NAN)
        );
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        // The simulator alone at one size, for a profiler: `perf record ... -- --profile 1000`.
        let nodes: u32 = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(10);
        let default = u64::from(20_000 / nodes.max(1)).max(1);
        let secs = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(default);
        let simulated = Duration::from_secs(secs);
        let (is_bare, sized) = (args.iter().any(|a| a == "--bare"), args.iter().any(|a| a == "--sized"));
        if sized && !is_bare {
            eprintln!("pingpong_bench: --sized applies to the bare loop only: add --bare");
            std::process::exit(2);
        }
        let m = if sized {
            bare_on::<EventQueue<Ev<SimSizedBody>>, SimSizedBody>(nodes, 4, simulated)
        } else if is_bare {
            bare(nodes, 4, simulated)
        } else {
            run(nodes, Some(4), simulated)
        };
        println!(
            "nodes={nodes} events={} ns_per_event={:.1}",
            m.events,
            m.wall.as_nanos() as f64 / m.events as f64
        );
        return;
    }
    if args.iter().any(|a| a == "--queues") {
        queues();
        return;
    }
    let scale = args.iter().any(|a| a == "--scale");
    if !scale {
        // The run takes tens of milliseconds: repeat it and report the median, so one
        // scheduling hiccup on a shared machine does not decide the figure.
        let mut runs: Vec<Measured> = (0..REPEATS).map(|_| run(5, None, Duration::from_secs(60))).collect();
        runs.sort_by_key(|m| m.wall);
        let m = &runs[REPEATS / 2];
        assert!(runs.iter().all(|r| r.delivered == m.delivered), "the same seed must deliver the same count");
        let secs = m.wall.as_secs_f64();
        println!(
            "delivered={} wall_s={secs:.4} delivered_per_wall_s={:.0}",
            m.delivered,
            m.delivered as f64 / secs
        );
        return;
    }
    // Same per-node load: 4 pings per node per round. Shorter simulated time for bigger
    // clusters keeps the run short; the cost per event is what is compared. The simulator
    // and the bare loop alternate, REPEATS times each, and the medians are reported.
    let mut base = None;
    for (nodes, secs) in [(10u32, 60u64), (100, 12), (1000, 6)] {
        let simulated = Duration::from_secs(secs);
        let (mut sim, mut floor) = (Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            sim.push(run(nodes, Some(4), simulated));
            floor.push(bare(nodes, 4, simulated));
        }
        let (sim_ns, bare_ns) = (median_ns(&sim), median_ns(&floor));
        let (m, b) = (&sim[0], &floor[0]);
        let base_ns = *base.get_or_insert(sim_ns);
        println!(
            "nodes={nodes} simulated_s={secs} delivered={} events={} ns_per_event={sim_ns:.1} vs_10_nodes={:.2}x bare_events={} bare_ns_per_event={bare_ns:.1} vs_bare={:.2}x",
            m.delivered,
            m.events,
            sim_ns / base_ns,
            b.events,
            sim_ns / bare_ns,
        );
    }
}
