//! Leases for application threads: a lock-service client node publishes its lease through
//! the loom-checked [`palisade_core::sync::lease_handle`] after every input, and any thread
//! asks [`LeaseView::token_now`] before acting, then presents the token to a fenced resource
//! (such as [`palisade_core::sync::FencedCell`]), which refuses it once a newer one was used.
//!
//! The view is conservative in the same way as the protocol: the deadline it publishes is the
//! holder's drift-padded one, on the node's own monotonic clock, and a thread that reads a
//! valid token may still be paused before it uses it, which is why the resource must fence.

use crate::clock::RealClock;
use crate::node::{NodeConfig, NodeHandle, StartError, start_observed};
use palisade_core::fencing::FencingToken;
use palisade_core::lease::SingleGrantorLockService;
use palisade_core::sync::{LeaseReader, lease_handle};

/// What application threads see of a node's lease. Cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct LeaseView {
    reader: LeaseReader,
    clock: RealClock,
}

impl LeaseView {
    /// The token of the lease this node holds at this instant, if it holds one.
    pub fn token_now(&self) -> Option<FencingToken> {
        self.reader.valid_at(self.clock.now().mono)
    }
}

/// Starts a lock-service node (see [`crate::start`]) and returns, with its handle, a view of
/// its lease for other threads.
pub fn start_lock_client(
    config: NodeConfig<SingleGrantorLockService>,
    listener: std::net::TcpListener,
) -> Result<(NodeHandle<SingleGrantorLockService>, LeaseView), StartError> {
    let (mut writer, reader) = lease_handle();
    let mut published = None;
    let observe = Box::new(move |p: &SingleGrantorLockService, _now| {
        let lease = p.lease();
        if lease != published {
            match lease {
                Some((token, until)) => writer.grant(token, until),
                None => writer.revoke(),
            }
            published = lease;
        }
    });
    let node = start_observed(config, listener, Some(observe))?;
    let view = LeaseView { reader, clock: node.clock().clone() };
    Ok((node, view))
}
