//! TCP between nodes: exactly one connection per pair of nodes (the lower id dials, the
//! higher accepts, and both send and receive over it), each an authenticated, encrypted
//! Noise session ([`noise`]); admission control before authentication ([`admission`],
//! [`Limits`]); bounded outbound queues; reconnects with backoff and jitter.
//!
//! Per frame the cost is one ChaCha20-Poly1305 seal or open, cheap enough for the node's own
//! thread; a link packs every message its queue holds into as few frames as fit, so under
//! load one seal covers many messages. The public-key work of a handshake runs on tokio's
//! blocking pool, not on the node's thread (a flood of handshakes still competes with the
//! node for the CPU: their number is capped, their rate is not).
//!
//! Any frame that fails authentication or decoding closes its connection: a member that
//! sends it is broken or lying, and anyone else cannot produce a frame that authenticates.
//! Every rejection is counted in [`TransportStats`] and logged at a bounded rate.
//!
//! Back-pressure: readers hand messages to the node with `send().await`, so a slow node
//! slows its peers' TCP streams instead of growing an unbounded mailbox (actix's `do_send`
//! ignores mailbox capacity, and a flooded mailbox starves the node's timers, actix #520).
//! Outbound queues hold at most [`OUTBOUND_QUEUE`] messages; when one is full the message is
//! dropped and counted, as the network would have done.

pub mod admission;
pub mod connection;
mod inbound;
mod limits;
mod link;
pub mod noise;
mod report;

pub use connection::{Connection, Keys, answer, dial};
pub(crate) use inbound::Attach;
pub use inbound::Handover;
pub use inbound::listen;
pub use limits::{FD_RESERVE, Limits, open_file_limit};
pub use link::{PeerLink, Role, dials};
pub use noise::Identity;
pub use report::{Rejection, Reporter};

use actix::Message;
use palisade_core::NodeId;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Messages queued per peer while its link is slow or down; beyond this, they are dropped.
pub const OUTBOUND_QUEUE: usize = 1024;
/// First reconnect delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Frames sealed and written per wake-up of a link at most.
pub const WRITE_BATCH: usize = 64;

/// Transport counters, shared with the application through the node handle.
/// Relaxed ordering throughout: each counter is independent and only ever read as a total.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Messages accepted and handed to the protocol.
    pub(crate) frames_in: AtomicU64,
    /// Messages written to a peer's socket (keepalives included; several may share a frame).
    pub(crate) frames_out: AtomicU64,
    /// Handshakes and frames that failed authentication or decoding (each closed its
    /// connection).
    pub(crate) rejected: AtomicU64,
    /// Pending connections closed unheard by admission control (the oldest, to admit a newer
    /// one when too many handshakes were pending).
    pub(crate) refused: AtomicU64,
    /// Handshakes that missed their deadline, and links closed after going idle.
    pub(crate) timed_out: AtomicU64,
    /// Outbound frames dropped because the peer's queue was full.
    pub(crate) dropped_queue_full: AtomicU64,
    /// Outbound frames lost because the connection failed while sending.
    pub(crate) dropped_link_down: AtomicU64,
    /// Outbound messages to nodes that are not peers, or too large for one frame.
    pub(crate) dropped_unknown_peer: AtomicU64,
    /// Sessions established (first connects, reconnects and replacements).
    pub(crate) connects: AtomicU64,
}

impl TransportStats {
    /// Every counter's value now (each read on its own, not one atomic snapshot).
    pub fn counts(&self) -> TransportCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TransportCounts {
            frames_in: get(&self.frames_in),
            frames_out: get(&self.frames_out),
            rejected: get(&self.rejected),
            refused: get(&self.refused),
            timed_out: get(&self.timed_out),
            dropped_queue_full: get(&self.dropped_queue_full),
            dropped_link_down: get(&self.dropped_link_down),
            dropped_unknown_peer: get(&self.dropped_unknown_peer),
            connects: get(&self.connects),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The transport's counters at one moment ([`TransportStats::counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TransportCounts {
    /// Messages accepted and handed to the protocol.
    pub frames_in: u64,
    /// Messages written to a peer's socket (keepalives included; several may share a frame).
    pub frames_out: u64,
    /// Handshakes and frames that failed authentication or decoding (each closed its
    /// connection).
    pub rejected: u64,
    /// Pending connections closed unheard by admission control (the oldest, to admit a newer
    /// one when too many handshakes were pending).
    pub refused: u64,
    /// Handshakes that missed their deadline, and links closed after going idle.
    pub timed_out: u64,
    /// Outbound frames dropped because the peer's queue was full.
    pub dropped_queue_full: u64,
    /// Outbound frames lost because the connection failed while sending.
    pub dropped_link_down: u64,
    /// Outbound messages to nodes that are not peers, or too large for one frame.
    pub dropped_unknown_peer: u64,
    /// Sessions established (first connects, reconnects and replacements).
    pub connects: u64,
}

/// Validated inbound messages (those of one frame), delivered to the node actor together.
#[derive(Debug)]
pub struct Inbound<M> {
    /// The authenticated sender.
    pub from: NodeId,
    /// The decoded messages, in the order sent.
    pub msgs: Vec<M>,
}

impl<M: 'static> Message for Inbound<M> {
    type Result = ();
}

/// What all of one node's transport tasks share; they run on the node's thread.
#[derive(Debug)]
pub struct Net {
    /// This process's identity in handshakes.
    pub me: Arc<Identity>,
    /// The members' keys.
    pub keys: Arc<Keys>,
    /// The limits.
    pub limits: Limits,
    /// The counters.
    pub stats: Arc<TransportStats>,
    /// Counts and logs rejections.
    pub reporter: Reporter,
    /// Pending-handshake slots.
    pub admission: Rc<admission::Admission>,
}

impl Net {
    /// The transport state of node `me`, with `keys` its peers' keys.
    pub fn new(me: Identity, keys: Keys, limits: Limits, stats: Arc<TransportStats>) -> Rc<Self> {
        let admission = admission::Admission::new(&limits);
        Rc::new(Net {
            me: Arc::new(me),
            keys: Arc::new(keys),
            limits,
            reporter: Reporter::new(stats.clone()),
            stats,
            admission,
        })
    }
}
