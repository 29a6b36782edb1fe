//! A protocol of your own, run as a node process: `main` is one call to
//! `palisade::node::run`, which gives it what `palisade node` gives the built-in protocols
//! (the TOML configuration with the protocol's own `[protocol]` table, keys from
//! `palisade keygen`, JSON events on stdout, logs on stderr, SIGINT/SIGTERM handling, exit
//! status 2 for bad configuration).
//!
//! The protocol is a beacon: every `interval_ms` each node tells its peers how many beacons
//! it has sent, and reports each one it hears. Its count is durable, so a restarted node
//! goes on from where it stopped.
//!
//! ```text
//! cargo run --release -- keygen --out keys/n1     # and n2; put each node.pub in the other's [[peers]]
//! cargo run --release --example own_node -- --config n1.toml --json-events
//! ```
//!
//! with `n1.toml`:
//!
//! ```toml
//! cluster = 9
//! id = 1
//! listen = "127.0.0.1:7101"
//! data_dir = "data/n1"
//! key_file = "keys/n1/node.key"
//!
//! [protocol]
//! interval_ms = 200
//!
//! [[peers]]
//! id = 2
//! addr = "127.0.0.1:7102"
//! public_key = "…keys/n2/node.pub…"
//! ```

use palisade::core::protocol::{Init, NoReply, Outbox, OutputFor, Protocol, RequestId};
use palisade::core::{Instant, NodeId, Now};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The `[protocol]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BeaconConfig {
    /// How often to send a beacon, in milliseconds.
    interval_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Beacon {
    /// Beacons sent so far by the sender, this one included.
    n: u64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum BeaconEvent {
    /// Started, going on from `sent` beacons.
    Started { sent: u64 },
    /// `from` has sent `n` beacons.
    Heard { from: NodeId, n: u64 },
}

struct BeaconNode {
    peers: Vec<NodeId>,
    interval: Duration,
    sent: u64,
    next: Instant,
    outbox: Outbox<Beacon, BeaconEvent, u64>,
}

impl Protocol for BeaconNode {
    type Message = Beacon;
    type Command = std::convert::Infallible;
    type Reply = NoReply;
    type Event = BeaconEvent;
    type Config = BeaconConfig;
    type Durable = u64;

    fn new(init: Init<Self>) -> Self {
        let sent = init.restored.unwrap_or(0);
        let mut outbox = Outbox::new();
        outbox.event(BeaconEvent::Started { sent });
        BeaconNode {
            peers: init.peers().collect(),
            interval: Duration::from_millis(init.config.interval_ms.max(1)),
            sent,
            next: init.now.mono,
            outbox,
        }
    }

    fn handle_message(&mut self, _now: Now, from: NodeId, msg: Beacon) {
        self.outbox.event(BeaconEvent::Heard { from, n: msg.n });
    }

    fn handle_command(&mut self, _now: Now, _req: RequestId, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        if now.mono < self.next {
            return; // early or spurious
        }
        self.sent += 1;
        // Durable before it is sent: a restarted node never repeats a number.
        self.outbox.persist(self.sent);
        for &p in &self.peers {
            self.outbox.send(p, Beacon { n: self.sent });
        }
        self.next = now.mono + self.interval;
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }
}

fn main() -> std::process::ExitCode {
    palisade::node::run::<BeaconNode>()
}
