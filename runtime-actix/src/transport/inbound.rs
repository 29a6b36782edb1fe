//! The listener: every accepted connection takes an admission slot (closing the oldest
//! pending one when the caps are reached), then has [`Limits::handshake_timeout`] to prove it
//! is a member that should dial us; an authenticated connection goes to that peer's
//! [`Handover`], where it replaces any connection the link has not yet taken.

use super::{Connection, Net, Rejection, answer};
use palisade_core::NodeId;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Where one peer's authenticated inbound connections wait for its link: one at most, the
/// newest. So a member that reconnects in a loop holds at most two connections of ours (the
/// one its link serves and the one waiting), whatever its rate.
#[derive(Debug, Default)]
pub struct Handover {
    waiting: RefCell<Option<Connection>>,
    ready: Notify,
}

impl Handover {
    /// Leaves `conn` for the link, closing any connection still waiting.
    pub fn put(&self, conn: Connection) {
        drop(self.waiting.borrow_mut().replace(conn));
        self.ready.notify_one();
    }

    /// The newest connection left for the link, when there is one.
    pub async fn take(&self) -> Connection {
        loop {
            if let Some(conn) = self.waiting.borrow_mut().take() {
                return conn;
            }
            self.ready.notified().await;
        }
    }
}

/// Where authenticated inbound connections go: the link of every peer that dials us.
pub type Attach = Rc<BTreeMap<NodeId, Rc<Handover>>>;

/// Accepts connections until aborted. Pending handshakes are tasks owned by this one, so
/// aborting the listener ends them too.
pub async fn listen(listener: TcpListener, net: Rc<Net>, attach: Attach) {
    let mut pending = JoinSet::new();
    loop {
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, remote)) => {
                    let (slot, evicted) = net.admission.admit(remote.ip());
                    if let Some(why) = evicted {
                        net.reporter.reject(Rejection::Refused, remote, &why);
                        // Let the evicted task be dropped (closing its connection) before
                        // accepting more: otherwise a burst of accepts outruns the aborts
                        // and the node holds more than the cap's file descriptors.
                        tokio::task::yield_now().await;
                    }
                    let id = slot.id();
                    let (task_net, attach) = (net.clone(), attach.clone());
                    let task = pending.spawn_local(async move {
                        let net = task_net;
                        let handshake = answer(stream, net.me.clone(), net.keys.clone());
                        let outcome = tokio::time::timeout(net.limits.handshake_timeout, handshake).await;
                        match outcome {
                            Ok(Ok(conn)) => match attach.get(&conn.peer) {
                                Some(handover) => handover.put(conn),
                                None => tracing::error!(peer = %conn.peer, "authenticated peer has no accepting link"),
                            },
                            Ok(Err(e)) => net.reporter.reject(Rejection::Handshake, remote, &e),
                            Err(_) => net.reporter.reject(Rejection::TimedOut, remote, &"handshake deadline passed"),
                        }
                        drop(slot);
                    });
                    net.admission.owned_by(id, task);
                }
                Err(e) => {
                    // Out of file descriptors, say: the admission caps keep the network from
                    // causing this, but wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(super::BACKOFF_MIN).await;
                }
            },
            Some(_) = pending.join_next(), if !pending.is_empty() => {}
        }
    }
}
