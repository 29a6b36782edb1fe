//! TCP between nodes: exactly one connection per pair of nodes (the lower id dials, the
//! higher accepts, and both send and receive over it), frames checked before the node sees
//! them, bounded outbound queues, reconnects with backoff and jitter.
//!
//! Signatures cost tens of microseconds each, so neither signing nor verifying runs on the
//! node's arbiter thread, where it would delay the node's timers: links sign, and readers
//! verify, whole batches of frames on tokio's blocking pool, keeping frame order.
//!
//! Back-pressure: readers hand messages to the node with `send().await`, so a slow node
//! slows its peers' TCP streams instead of growing an unbounded mailbox (actix's `do_send`
//! ignores mailbox capacity, and a flooded mailbox starves the node's timers, actix #520).
//! Outbound queues hold at most [`OUTBOUND_QUEUE`] frames; when one is full the frame is
//! dropped and counted, as the network would have done.

mod accept;
mod inbound;
mod link;

pub use accept::{Acceptance, Verifier};
pub use inbound::{Attach, listen};
pub use link::{PeerLink, Role, Signer, dials};
pub(crate) use link::{attach_channel, registry};

use actix::Message;
use palisade_core::NodeId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Frames queued per peer while its link is slow or down; beyond this, frames are dropped.
pub const OUTBOUND_QUEUE: usize = 1024;
/// First reconnect delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Frames verified (or signed) per trip to the blocking pool.
pub const CRYPTO_BATCH: usize = 64;

/// Transport counters, shared with the application through the node handle.
/// Relaxed ordering throughout: each counter is independent and only ever read as a total.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Frames accepted and handed to the protocol.
    pub frames_in: AtomicU64,
    /// Frames written to a peer's socket.
    pub frames_out: AtomicU64,
    /// Inbound frames rejected (malformed, wrong cluster or recipient, unknown sender).
    pub rejected: AtomicU64,
    /// Outbound frames dropped because the peer's queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Outbound frames lost because the connection failed while sending.
    pub dropped_link_down: AtomicU64,
    /// Outbound messages to nodes that are not peers.
    pub dropped_unknown_peer: AtomicU64,
    /// Successful outbound connections (first connects and reconnects).
    pub connects: AtomicU64,
}

impl TransportStats {
    /// Reads one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A validated inbound message, delivered to the node actor.
#[derive(Debug)]
pub struct Inbound<M> {
    /// The sender named by the (validated) frame.
    pub from: NodeId,
    /// The decoded message.
    pub msg: M,
}

impl<M: 'static> Message for Inbound<M> {
    type Result = ();
}
