//! The listener: every accepted connection takes an admission slot or is closed at once,
//! then has [`Limits::handshake_timeout`] to prove it is a member that should dial us; an
//! authenticated connection goes to that peer's link, which replaces any older one with it.

use super::{Connection, Net, Rejection, answer};
use palisade_core::NodeId;
use std::collections::BTreeMap;
use std::rc::Rc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Where authenticated inbound connections go: the link of every peer that dials us.
pub type Attach = Rc<BTreeMap<NodeId, mpsc::Sender<Connection>>>;

/// Accepts connections until aborted. Pending handshakes are tasks owned by this one, so
/// aborting the listener ends them too.
pub async fn listen(listener: TcpListener, net: Rc<Net>, attach: Attach) {
    let mut pending = JoinSet::new();
    loop {
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, remote)) => {
                    let slot = match net.admission.admit(remote.ip()) {
                        Ok(slot) => slot,
                        Err(refused) => {
                            net.reporter.reject(Rejection::Refused, remote, &refused);
                            continue; // dropping the stream closes it
                        }
                    };
                    let (net, attach) = (net.clone(), attach.clone());
                    pending.spawn_local(async move {
                        let handshake = answer(stream, net.me.clone(), net.keys.clone());
                        let outcome = tokio::time::timeout(net.limits.handshake_timeout, handshake).await;
                        drop(slot);
                        match outcome {
                            Ok(Ok(conn)) => {
                                let peer = conn.peer;
                                match attach.get(&peer) {
                                    // A full channel means the link is busy with earlier
                                    // replacements: wait, the link drains it.
                                    Some(link) => { let _ = link.send(conn).await; }
                                    None => tracing::error!(%peer, "authenticated peer has no accepting link"),
                                }
                            }
                            Ok(Err(e)) => net.reporter.reject(Rejection::Handshake, remote, &e),
                            Err(_) => net.reporter.reject(Rejection::TimedOut, remote, &"handshake deadline passed"),
                        }
                    });
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
