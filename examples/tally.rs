//! A retrying, idempotent counter, written by following `docs/guide.md` step by step: the
//! protocol, its system model and properties, checkers, a simulation under a nemesis, and
//! the hazard it defends against (turn deduplication off and retries count twice).
//!
//! `cargo run --release --example tally` sweeps 200 seeds with and without deduplication;
//! with arguments it is `palisade sim` for its two scenarios (`cargo run --release --example
//! tally -- tally-no-dedup --seeds 200 --html run.html`, `-- --list`, `-- --help`);
//! `cargo test --example tally` runs its tests.
//!
//! System model: asynchronous network that loses, delays, duplicates and reorders messages;
//! crash-recovery nodes with durable state; no Byzantine nodes.
//! Safety: an add is counted at most once (`exactly_once`), and an acknowledged add is in
//! the server's durable total (`acked_is_durable`). Liveness: after GST, clients keep
//! getting acknowledgements (`progress_after_gst`).

use palisade::core::check::Observation;
use palisade::core::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
use palisade::core::protocol::{Init, NoReply, Outbox, OutputFor, Protocol, RequestId};
use palisade::core::{Instant, NodeId, Now, Violation};
use palisade::scenarios::{Outcome, RunSpec, Scenario};
use palisade::sim::{
    EachEvent, Latency, LinkConfig, NemesisConfig, Network, ProgressAfterGst, SimConfig, Simulation, World,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The system model above as data: the nemesis draws only what it admits.
pub const MODEL: SystemModel = SystemModel {
    timing: Timing::PartiallySynchronous,
    nodes: NodeFaults::CrashRecovery,
    clocks: ClockModel::monotonic(200),
    network: NetworkModel::UNRELIABLE,
    max_down: None,
};

// --- 1. The protocol ------------------------------------------------------------------

/// Messages: a client asks the server to add `amount`; the server acknowledges `seq`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Msg {
    /// Add `amount` (the client's `seq`-th add).
    Add {
        /// The client's sequence number for this add.
        seq: u64,
        /// How much to add.
        amount: u64,
    },
    /// The server has durably applied the client's add `seq`.
    Ack {
        /// The add acknowledged.
        seq: u64,
    },
}

/// Events for the application and the checkers.
#[derive(Clone, Debug, Serialize)]
pub enum Event {
    /// Server: applied `client`'s add `seq`; the total is now `total`.
    Applied {
        /// The client.
        client: NodeId,
        /// Its add.
        seq: u64,
        /// The amount added.
        amount: u64,
        /// The total after it.
        total: u64,
    },
    /// Client: its add `seq` was acknowledged.
    Acked {
        /// The add.
        seq: u64,
    },
}

/// What survives a crash: the server's total and the last add applied per client; a
/// client's next sequence number.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Durable {
    /// Server: the total.
    pub total: u64,
    /// Server: the highest add applied, per client.
    pub applied: BTreeMap<NodeId, u64>,
    /// Client: the sequence number of its next add.
    pub next_seq: u64,
}

/// Configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server; every other node is a client.
    pub server: NodeId,
    /// A client starts an add this often.
    pub every: Duration,
    /// An unacknowledged add is re-sent this often.
    pub retry: Duration,
    /// Whether the server ignores adds it has applied already (off: the hazard).
    pub dedup: bool,
}

/// One node: the server or a client.
pub struct Tally {
    id: NodeId,
    config: Config,
    durable: Durable,
    /// Client: the add in flight, as (seq, amount).
    pending: Option<(u64, u64)>,
    /// Client: when to start the next add, or re-send the pending one.
    wake: Instant,
    outbox: Outbox<Msg, Event, Durable>,
}

impl Tally {
    /// Client: the next add, its sequence number made durable first so that it is never
    /// reused, even after a crash.
    fn next_add(&mut self) -> (u64, u64) {
        let seq = self.durable.next_seq + 1;
        self.durable.next_seq = seq;
        self.outbox.persist(self.durable.clone());
        (seq, seq % 5 + 1)
    }
}

impl Protocol for Tally {
    type Message = Msg;
    type Command = std::convert::Infallible;
    type Reply = NoReply;
    type Event = Event;
    type Config = Config;
    type Durable = Durable;

    fn new(init: Init<Self>) -> Self {
        let wake = init.now.mono + init.config.every;
        let durable = init.restored.unwrap_or_default();
        Tally { id: init.id, config: init.config, durable, pending: None, wake, outbox: Outbox::new() }
    }

    fn handle_message(&mut self, _now: Now, from: NodeId, msg: Msg) {
        match msg {
            Msg::Add { seq, amount } if self.id == self.config.server => {
                let last = self.durable.applied.entry(from).or_default();
                // A retry or a duplicate of an add already applied counts once.
                if seq > *last || !self.config.dedup {
                    // An add that would overflow the total is refused and never acked (the
                    // fuzzing adversary found `total += amount` panicking on u64::MAX).
                    let Some(total) = self.durable.total.checked_add(amount) else { return };
                    *last = (*last).max(seq);
                    self.durable.total = total;
                    // Durable before anyone hears of it: the barrier orders the ack after it.
                    self.outbox.persist(self.durable.clone());
                    let total = self.durable.total;
                    self.outbox.event(Event::Applied { client: from, seq, amount, total });
                }
                self.outbox.send(from, Msg::Ack { seq });
            }
            Msg::Ack { seq } if from == self.config.server && self.pending.is_some_and(|(s, _)| s == seq) => {
                self.pending = None;
                self.outbox.event(Event::Acked { seq });
            }
            _ => {} // a stray, late or misdirected message: harmless, ignore it
        }
    }

    fn handle_command(&mut self, _now: Now, _req: RequestId, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        if self.id == self.config.server || now.mono < self.wake {
            return; // early or spurious
        }
        // Unacknowledged: send the same add again; else start the next one.
        let (seq, amount) = self.pending.unwrap_or_else(|| self.next_add());
        self.pending = Some((seq, amount));
        self.outbox.send(self.config.server, Msg::Add { seq, amount });
        self.wake = now.mono + self.config.retry;
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (self.id != self.config.server).then_some(self.wake)
    }
}

// --- 2. Checkers: the properties, as functions of what happened ------------------------

/// Safety: no (client, seq) is applied twice.
pub fn exactly_once() -> impl FnMut(&Observation<Event>, &BTreeMap<NodeId, Duration>) -> Result<(), Violation>
{
    let mut applied = BTreeSet::new();
    move |o, _crashes| match o.event {
        Event::Applied { client, seq, .. } if !applied.insert((client, seq)) => Err(Violation::new(
            "tally::exactly_once",
            format!("{client}'s add {seq} was applied a second time at {:?}", o.at),
        )),
        _ => Ok(()),
    }
}

/// Safety: every acknowledged add is in the server's durable state.
pub fn acked_is_durable(server: NodeId) -> impl FnMut(&World<Tally>) -> Result<(), Violation> {
    let mut seen = 0;
    move |w| {
        for o in &w.history()[seen..] {
            if let Event::Acked { seq } = o.event {
                let applied = w.durable(server).and_then(|d| d.applied.get(&o.node)).copied().unwrap_or(0);
                if applied < seq {
                    return Err(Violation::new(
                        "tally::acked_is_durable",
                        format!(
                            "{}'s add {seq} was acknowledged but the server's durable state has {applied}",
                            o.node
                        ),
                    ));
                }
            }
        }
        seen = w.history().len();
        Ok(())
    }
}

// --- 3. A simulation: the network, the faults, the checkers ---------------------------

/// One server (n1) and three clients on a lossy, duplicating network, under a random
/// nemesis of crashes, pauses, partitions and loss bursts for the first 40 s of 60.
pub fn simulation(seed: u64, dedup: bool) -> Simulation<Tally> {
    let mut sim = checked(cluster(seed, dedup));
    sim.add_nemesis(&nemesis());
    sim
}

/// `sim` with the three checkers.
fn checked(mut sim: Simulation<Tally>) -> Simulation<Tally> {
    let server = NodeId(1);
    sim.add_checker(EachEvent::new(exactly_once()));
    sim.add_checker(acked_is_durable(server));
    // Liveness, re-armed: after GST, acknowledgements never stop for more than 5 s. Every
    // event is looked at (one step can emit several), not just the last.
    sim.add_checker(ProgressAfterGst::new(
        "tally::progress_after_gst",
        Duration::from_secs(5),
        |o: &Observation<Event>| matches!(o.event, Event::Acked { .. }),
    ));
    sim
}

// --- 4. The command line: `palisade sim` for these scenarios -------------------------

/// tally with and without deduplication, as scenarios: `main` hands them to
/// `palisade::cli::sim::sim_main`, which gives them sweeps on every core, `--nemesis`,
/// shrinking, `--trace`, `--html`, `--json`, `--shard` and replay hints.
pub fn scenarios() -> Vec<Scenario> {
    let about = "retries deduplicated: every add counted once";
    vec![
        Scenario::new("tally", about, MODEL, |s| run(s, true)).nemesis("all=4"),
        Scenario::new("tally-no-dedup", "the hazard: a retried add counts twice", MODEL, |s| run(s, false))
            .nemesis("all=4")
            .hazard(),
    ]
}

/// One run as the command line asks for it (seed, duration, nemesis or shrunk schedule,
/// trace export).
fn run(mut spec: RunSpec, dedup: bool) -> Outcome {
    let mut sim = checked(cluster(spec.seed, dedup));
    let schedule = spec.prepare(&mut sim, &(1..=4).map(NodeId).collect::<Vec<_>>());
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    Outcome { report, story: Vec::new(), schedule }
}

/// The nodes and the network, no checkers, no faults.
fn cluster(seed: u64, dedup: bool) -> Simulation<Tally> {
    let server = NodeId(1);
    let mut sc = SimConfig::new(seed, 4);
    let link =
        LinkConfig::with_latency(Latency::uniform(Duration::from_millis(1), Duration::from_millis(50)))
            .loss(0.05)
            .duplicate(0.05);
    sc.network = Network::uniform(link);
    let config =
        Config { server, every: Duration::from_millis(200), retry: Duration::from_millis(150), dedup };
    Simulation::new(sc, config)
}

/// Every fault the model admits, drawn within it, in [1 s, 40 s).
fn nemesis() -> NemesisConfig {
    NemesisConfig::for_model(&MODEL, Some("all=4"), None, Duration::from_secs(1), Duration::from_secs(40))
        .expect("the model admits `all`")
}

/// The same cluster with client n4 replaced by a fuzzing adversary: it speaks the protocol
/// with generated messages (huge and zero ids, other clients' ids, boundary counts). A
/// crash-fault protocol promises nothing about safety against a liar, so no checker is
/// added: the simulator itself fails the run (`sim::no_panic`) if any handler panics.
pub fn fuzzed(seed: u64) -> (Simulation<Tally>, palisade::sim::fuzz::FuzzStats) {
    let mut sim = cluster(seed, true);
    sim.add_nemesis(&nemesis());
    let fuzz = palisade::sim::fuzz::Fuzz::new();
    let stats = fuzz.stats();
    sim.make_byzantine(NodeId(4), fuzz);
    (sim, stats)
}

/// Runs seeds `1..=seeds`; returns the failing seeds with their checkers.
pub fn sweep(seeds: u64, dedup: bool) -> Vec<(u64, &'static str)> {
    (1..=seeds)
        .filter_map(|seed| {
            let v = simulation(seed, dedup).run_for(Duration::from_secs(60)).violation?;
            Some((seed, v.checker))
        })
        .collect()
}

fn main() -> std::process::ExitCode {
    if std::env::args().len() > 1 {
        return palisade::cli::sim::sim_main(scenarios());
    }
    let seeds = 200;
    for dedup in [true, false] {
        let failing = sweep(seeds, dedup);
        println!(
            "dedup {}: {} of {seeds} seeds violate{}",
            if dedup { "on " } else { "off" },
            failing.len(),
            failing.first().map(|(s, c)| format!(" (first: seed {s}, {c})")).unwrap_or_default()
        );
    }
    let mut sim = simulation(1, true);
    let report = sim.run_for(Duration::from_secs(60));
    let applied = sim.world().history().iter().filter(|o| matches!(o.event, Event::Applied { .. })).count();
    println!(
        "seed 1 with dedup: {applied} adds applied, {} messages sent, {} dropped, GST {:.1} s",
        report.sent,
        report.dropped,
        report.gst_ns as f64 / 1e9
    );
    std::process::ExitCode::SUCCESS
}

// --- 5. Tests --------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_dedup_every_property_holds_under_the_nemesis() {
        assert_eq!(sweep(30, true), vec![]);
    }

    #[test]
    fn without_dedup_retries_and_duplicates_count_twice() {
        let failing = sweep(30, false);
        assert!(!failing.is_empty(), "the hazard must show");
        assert!(failing.iter().all(|(_, c)| *c == "tally::exactly_once"), "{failing:?}");
    }

    #[test]
    fn the_scenarios_sweep_like_the_command_line() {
        let [with, without] = <[Scenario; 2]>::try_from(scenarios()).ok().unwrap();
        // The same runs as `cargo run --example tally -- tally --seeds 30`: every core, the
        // default nemesis, a report that names the replay command of any failing seed.
        let report = with.sweep(1..=30);
        report.assert_holds();
        assert!(report.nemesis_episodes() > 100, "faults were injected: {}", report.nemesis_episodes());
        without.sweep(1..=30).assert_breaks("tally::exactly_once");
    }

    #[test]
    fn a_fuzzing_client_cannot_panic_the_server() {
        let mut sent = 0;
        for seed in 1..=20 {
            let (mut sim, stats) = fuzzed(seed);
            let report = sim.run_for(Duration::from_secs(60));
            assert_eq!(report.violation, None, "seed {seed}");
            sent += stats.sent();
        }
        assert!(sent > 1000, "the fuzzer must have sent something: {sent}");
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let a = simulation(9, true).run_for(Duration::from_secs(20));
        let b = simulation(9, true).run_for(Duration::from_secs(20));
        assert_eq!(a.trace_hash, b.trace_hash);
    }
}
