//! What a skewed clock damages: a node that serves writes stamped with its wall clock, as a
//! database does that orders writes by timestamp and relies on the cluster's maximum clock
//! offset (CockroachDB, Spanner without TrueTime's bound). Writes further apart in real
//! time than the largest offset between two nodes the monitor lets serve must be ordered
//! by their stamps; a clock that is far off stamps a write before writes made after it, and
//! last-write-wins then discards the later one.
//!
//! The skew monitor runs alongside: a fenced node stops serving writes.

use palisade_core::clock::{SkewConfig, SkewEvent, SkewMonitor, SkewMsg};
use palisade_core::protocol::{Init, Output, OutputFor, Protocol};
use palisade_core::{Instant, NodeId, Now};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// How often a node serves a write.
pub const WRITE_EVERY: Duration = Duration::from_millis(250);

/// Events of a [`StampedWriter`]: the monitor's, and every write served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StampedEvent {
    /// The monitor fenced this node: it stops serving writes.
    Fenced {
        /// How many peers are definitely too far.
        peers_beyond: usize,
        /// Their median offset (remote minus local), ms.
        median_offset_ms: i64,
    },
    /// The monitor un-fenced this node.
    Unfenced,
    /// A write served, stamped with this node's wall clock (Unix ns).
    Wrote {
        /// The stamp.
        ts: i64,
    },
}

/// The monitor's event as this node reports it; `None` for a kind this scenario does not
/// judge (the monitor's events may grow).
fn stamped(e: SkewEvent) -> Option<StampedEvent> {
    match e {
        SkewEvent::Fenced { peers_beyond, median_offset_ms } => {
            Some(StampedEvent::Fenced { peers_beyond, median_offset_ms })
        }
        SkewEvent::Unfenced => Some(StampedEvent::Unfenced),
        _ => None,
    }
}

/// A skew-monitored node serving a write every [`WRITE_EVERY`] while not fenced.
#[derive(Debug)]
pub struct StampedWriter {
    monitor: SkewMonitor,
    next_write: Instant,
    events: VecDeque<StampedEvent>,
}

impl StampedWriter {
    /// The node's skew monitor.
    pub fn monitor(&self) -> &SkewMonitor {
        &self.monitor
    }
}

impl Protocol for StampedWriter {
    type Message = SkewMsg;
    type Command = std::convert::Infallible;
    type Reply = palisade_core::NoReply;
    type Event = StampedEvent;
    type Config = SkewConfig;
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        let next_write = init.now.mono + WRITE_EVERY;
        let Init { id, members, config, restored, seed, now } = init;
        let monitor = SkewMonitor::new(Init { id, members, config, restored, seed, now });
        StampedWriter { monitor, next_write, events: VecDeque::new() }
    }

    fn handle_message(&mut self, now: Now, from: NodeId, msg: SkewMsg) {
        self.monitor.handle_message(now, from, msg);
    }

    fn handle_command(&mut self, _now: Now, _req: palisade_core::RequestId, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        self.monitor.handle_timeout(now);
        if now.mono >= self.next_write {
            if !self.monitor.is_fenced() {
                self.events.push_back(StampedEvent::Wrote { ts: now.wall.as_unix_nanos() });
            }
            self.next_write = now.mono + WRITE_EVERY;
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        // The monitor's outputs first (a fence raised in this step precedes any write the
        // step would still have served: writes are only served from the timeout above,
        // after the monitor has evaluated).
        while let Some(out) = self.monitor.poll_output() {
            match out {
                Output::Send { to, msg } => return Some(Output::Send { to, msg }),
                Output::Event(e) => {
                    if let Some(e) = stamped(e) {
                        return Some(Output::Event(e));
                    }
                }
                Output::Persist(()) => return Some(Output::Persist(())),
            }
        }
        self.events.pop_front().map(Output::Event)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.monitor.poll_timeout().map_or(self.next_write, |t| t.min(self.next_write)))
    }
}
