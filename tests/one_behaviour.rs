//! What a protocol can observe of its runtime is the same in the simulator and on actix:
//! every incarnation gets a seed of its own, and a message a node sends itself comes back
//! once, in order, after the step that sent it, however lossy, partitioned or duplicating
//! the network is. One probe protocol runs in both, through a crash and a restart, and the
//! two observations are compared.

use palisade::actix::{NodeConfig, start};
use palisade::core::protocol::{Init, Outbox, OutputFor, Protocol};
use palisade::core::quorum::test_key;
use palisade::core::{Instant, NodeId, Now};
use palisade::sim::{Fault, LinkConfig, Network, Partition, SimConfig, Simulation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Notes each incarnation sends itself at start.
const NOTES: u32 = 3;

/// Records its seed and incarnation at start, sends itself [`NOTES`] notes (and as many to
/// every peer, which the network may lose), and reports each note it hears.
struct Probe {
    outbox: Outbox<Note, Seen, u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Note {
    incarnation: u32,
    k: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
enum Seen {
    Started { incarnation: u32, seed: u64 },
    Heard { from: NodeId, note: Note },
}

impl Protocol for Probe {
    type Message = Note;
    type Command = std::convert::Infallible;
    type Reply = palisade::core::NoReply;
    type Event = Seen;
    type Config = ();
    type Durable = u32;

    fn new(init: Init<Self>) -> Self {
        let incarnation = init.restored.unwrap_or(0) + 1;
        let mut outbox = Outbox::default();
        outbox.persist(incarnation);
        outbox.event(Seen::Started { incarnation, seed: init.seed });
        for k in 1..=NOTES {
            for &m in &init.members {
                outbox.send(m, Note { incarnation, k });
            }
        }
        Probe { outbox }
    }
    fn handle_message(&mut self, _: Now, from: NodeId, note: Note) {
        self.outbox.event(Seen::Heard { from, note });
    }
    fn handle_command(&mut self, _: Now, _req: palisade::core::RequestId, cmd: Self::Command) {
        match cmd {}
    }
    fn handle_timeout(&mut self, _: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Node 1's observations of itself, with the seeds taken out (they must differ; they
/// cannot match across runtimes) and returned apart.
fn of_itself(seen: impl IntoIterator<Item = Seen>) -> (Vec<Seen>, Vec<u64>) {
    let mut seeds = Vec::new();
    let mut out = Vec::new();
    for s in seen {
        match s {
            Seen::Started { incarnation, seed } => {
                seeds.push(seed);
                out.push(Seen::Started { incarnation, seed: 0 });
            }
            Seen::Heard { from: NodeId(1), .. } => out.push(s),
            Seen::Heard { .. } => {}
        }
    }
    (out, seeds)
}

/// Two incarnations, each hearing its own notes once and in order.
fn expected() -> Vec<Seen> {
    let mut out = Vec::new();
    for incarnation in 1..=2 {
        out.push(Seen::Started { incarnation, seed: 0 });
        out.extend((1..=NOTES).map(|k| Seen::Heard { from: NodeId(1), note: Note { incarnation, k } }));
    }
    out
}

fn distinct(seeds: &[u64]) -> bool {
    seeds.iter().enumerate().all(|(i, s)| !seeds[..i].contains(s))
}

#[test]
fn the_simulator_gives_each_incarnation_its_seed_and_never_loses_a_message_to_self() {
    for seed in 1..=20 {
        // Every link loses everything and node 1 is cut off: only local delivery can work.
        let mut network = Network::uniform(LinkConfig::default().loss(1.0));
        network.partition = Partition::isolate(NodeId(1), &[NodeId(1), NodeId(2)]);
        let config = SimConfig::new(seed, 2).network(network);
        let mut sim = Simulation::<Probe>::new(config, ());
        sim.schedule(Fault::crash(NodeId(1), Duration::from_secs(1)));
        sim.schedule(Fault::restart(NodeId(1), Duration::from_secs(2)));
        let report = sim.run_for(Duration::from_secs(3));
        assert_eq!(report.violation, None, "seed {seed}");
        let seen = sim.world().history().iter().filter(|o| o.node == NodeId(1)).map(|o| o.event.clone());
        let (observed, seeds) = of_itself(seen);
        assert_eq!(observed, expected(), "seed {seed}");
        assert!(distinct(&seeds), "seed {seed}: an incarnation reused a seed: {seeds:?}");
        assert!(report.dropped > 0, "seed {seed}: the network dropped nothing, so this proved nothing");
    }
}

#[test]
fn actix_gives_each_start_its_seed_and_delivers_messages_to_self_as_the_simulator_does() {
    let dir = std::env::temp_dir().join(format!("palisade-one-behaviour-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let seen = actix::System::new().block_on(async {
        let mut seen = Vec::new();
        // The same configuration (and `NodeConfig::seed`) twice: a stop and a restart.
        for _ in 0..2 {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let config = NodeConfig::<Probe>::new(5, NodeId(1), test_key(5, NodeId(1)), (), dir.clone())
                .peers(Default::default())
                .seed(1);
            let node = start(config, listener).unwrap();
            let mut events = node.subscribe();
            for _ in 0..=NOTES {
                let e = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
                seen.push(e.event);
            }
            node.stop().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen.extend(std::iter::from_fn(|| events.try_recv().ok().map(|e| e.event)));
        }
        seen
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (observed, seeds) = of_itself(seen);
    assert_eq!(observed, expected());
    assert!(distinct(&seeds), "a restart reused the seed: {seeds:?}");
}

/// Messages itself forever, telling the application every 1000th.
struct Spinner {
    outbox: Outbox<u64, u64, ()>,
}

impl Protocol for Spinner {
    type Message = u64;
    type Command = std::convert::Infallible;
    type Reply = palisade::core::NoReply;
    type Event = u64;
    type Config = ();
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let mut outbox = Outbox::default();
        outbox.send(init.id, 1);
        Spinner { outbox }
    }
    fn handle_message(&mut self, _: Now, from: NodeId, n: u64) {
        if n.is_multiple_of(1000) {
            self.outbox.event(n);
        }
        self.outbox.send(from, n + 1);
    }
    fn handle_command(&mut self, _: Now, _req: palisade::core::RequestId, cmd: Self::Command) {
        match cmd {}
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
fn a_node_that_messages_itself_forever_still_lets_timers_and_stop_run() {
    let dir = std::env::temp_dir().join(format!("palisade-spinner-{}", std::process::id()));
    let (spun, slept, stopped) = actix::System::new().block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = NodeConfig::<Spinner>::new(6, NodeId(1), test_key(6, NodeId(1)), (), dir.clone())
            .peers(Default::default())
            .seed(1);
        let node = start(config, listener).unwrap();
        let mut events = node.subscribe();
        let began = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let slept = began.elapsed();
        let mut spun = 0;
        while let Ok(e) = events.try_recv() {
            spun = spun.max(e.event);
        }
        let stopped = tokio::time::timeout(Duration::from_secs(5), node.stop()).await.is_ok();
        (spun, slept, stopped)
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(spun >= 1000, "the node ran: {spun} messages");
    assert!(slept < Duration::from_secs(2), "a 100 ms sleep took {slept:?}");
    assert!(stopped, "stop() returned");
}
