//! The connection to one peer. The node actor encodes messages and queues them (bounded);
//! the link task seals and writes them over the current session, and a reader task owned by
//! that session delivers the peer's frames. Between two nodes the lower id dials (and
//! redials with backoff when the session ends); the higher id takes the sessions the listener
//! authenticates, a newer one replacing the current one.

use super::connection::{Connection, dial, open};
use super::inbound::Handover;
use super::{BACKOFF_MAX, BACKOFF_MIN, Inbound, Net, OUTBOUND_QUEUE, Rejection, TransportStats, WRITE_BATCH};
use crate::wire::{MAX_RECORD, Payload, pack};
use actix::Recipient;
use futures::SinkExt;
use futures::StreamExt;
use palisade_core::codec::{Codec, DEFAULT_CODEC};
use palisade_core::{NodeId, Rng};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::Instrument;

/// True when `me` opens the connection to `peer`: the lower id dials.
pub fn dials(me: NodeId, peer: NodeId) -> bool {
    me < peer
}

/// How a link gets its sessions.
pub enum Role {
    /// Connect to `addr` (from `local`, when given) and run the handshake.
    Dial {
        /// The peer's address.
        addr: SocketAddr,
        /// Our own address, so a firewall can tell nodes on one host apart.
        local: Option<IpAddr>,
    },
    /// Take the sessions the listener authenticates for this peer.
    Accept(Rc<Handover>),
}

/// The node actor's end of one peer link.
pub struct PeerLink {
    tx: mpsc::Sender<Vec<u8>>,
    to: NodeId,
}

impl std::fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink").field("to", &self.to).finish()
    }
}

impl PeerLink {
    /// Starts the link task to `to`, delivering what it reads to `node`.
    pub fn spawn<M>(
        to: NodeId,
        role: Role,
        net: Rc<Net>,
        node: Recipient<Inbound<M>>,
    ) -> (PeerLink, tokio::task::JoinHandle<()>)
    where
        M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let span = tracing::info_span!("link", cluster = net.me.cluster(), node = %net.me.id(), peer = %to);
        let task = actix::spawn(run(to, role, rx, net, node).instrument(span));
        (PeerLink { tx, to }, task)
    }

    /// Encodes and queues `msg`; drops and counts it if the queue is full or it is too large
    /// for one frame.
    pub fn send<M: serde::Serialize>(&mut self, msg: &M, stats: &TransportStats) {
        let payload = match DEFAULT_CODEC.encode(&Payload::Message(msg)) {
            Ok(b) if b.len() <= MAX_RECORD => b,
            Ok(b) => {
                TransportStats::bump(&stats.dropped_unknown_peer);
                tracing::error!(to = %self.to, bytes = b.len(), "message too large for one frame; dropped");
                return;
            }
            Err(e) => {
                tracing::error!(to = %self.to, error = %e, "message cannot be encoded; dropped");
                return;
            }
        };
        if self.tx.try_send(payload).is_err() {
            TransportStats::bump(&stats.dropped_queue_full);
            tracing::debug!(to = %self.to, "outbound queue full; frame dropped");
        }
    }
}

/// Aborts a task when dropped: a session's reader ends with the session.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a session ended.
enum Ended {
    /// It broke after the peer was heard (at least one frame authenticated): dial again
    /// promptly.
    BrokenAfterHeard,
    /// It broke (or went idle, or a frame failed): dial again, or wait for the peer to.
    Broken,
    /// The peer authenticated a newer session, which replaces this one.
    Replaced(Box<Connection>),
    /// The node dropped its end of the queue: the link is over.
    NodeGone,
}

/// Reads the peer's frames and delivers its messages until the connection ends, a frame
/// fails, or nothing arrives for the idle timeout.
async fn read<M>(
    mut reader: super::connection::FrameReader,
    mut opener: super::noise::Opener,
    peer: NodeId,
    remote: SocketAddr,
    net: Rc<Net>,
    node: Recipient<Inbound<M>>,
    heard: Rc<std::cell::Cell<bool>>,
) where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    loop {
        let frame = match tokio::time::timeout(net.limits.idle_timeout, reader.next()).await {
            Err(_) => return net.reporter.reject(Rejection::TimedOut, remote, &"link idle"),
            Ok(None) => return,
            Ok(Some(Err(e))) => return net.reporter.reject(Rejection::Frame, remote, &e),
            Ok(Some(Ok(frame))) => frame,
        };
        let payloads = match open::<M>(&mut opener, &frame) {
            Ok(p) => p,
            Err(e) => return net.reporter.reject(Rejection::Frame, remote, &e),
        };
        heard.set(true);
        let records = payloads.len();
        let msgs: Vec<M> = payloads
            .into_iter()
            .filter_map(|p| match p {
                Payload::Message(m) => Some(m),
                Payload::Keepalive => None,
            })
            .collect();
        if msgs.is_empty() {
            if records > 1 {
                // Nothing for the node, so no back-pressure: a frame of keepalives only would
                // let a member keep this thread busy for free.
                return net.reporter.reject(Rejection::Frame, remote, &"frame of keepalives only");
            }
            continue;
        }
        net.stats.frames_in.fetch_add(msgs.len() as u64, Ordering::Relaxed);
        if node.send(Inbound { from: peer, msgs }).await.is_err() {
            return; // the node stopped
        }
    }
}

/// The next session handed over to replace the current one; never, for a dialling link.
async fn replacement(handed: Option<&Handover>) -> Connection {
    match handed {
        Some(h) => h.take().await,
        None => std::future::pending().await,
    }
}

/// Sends over one session until it ends.
async fn serve<M>(
    conn: Connection,
    rx: &mut mpsc::Receiver<Vec<u8>>,
    handed: Option<&Handover>,
    net: &Rc<Net>,
    node: &Recipient<Inbound<M>>,
) -> Ended
where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let Connection { peer, reader, mut writer, mut sealer, opener } = conn;
    TransportStats::bump(&net.stats.connects);
    let remote = writer.get_ref().peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    tracing::debug!(%remote, "session established");
    let heard = Rc::new(std::cell::Cell::new(false));
    let reading =
        read(reader, opener, peer, remote, net.clone(), node.clone(), heard.clone()).in_current_span();
    let mut reader = AbortOnDrop(actix::spawn(reading));
    let broken =
        |heard: &std::cell::Cell<bool>| if heard.get() { Ended::BrokenAfterHeard } else { Ended::Broken };
    let keepalive_bytes = DEFAULT_CODEC.encode(&Payload::<()>::Keepalive).unwrap_or_default();
    let mut tick = tokio::time::interval(net.limits.keepalive);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick sends a keepalive at once, so the dialler hears us and knows the
    // session is real (a dialler that never hears anything backs off).
    let now = tokio::time::Instant::now();
    let mut last_write = now.checked_sub(net.limits.keepalive).unwrap_or(now);
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        let payloads = tokio::select! {
            n = rx.recv_many(&mut batch, WRITE_BATCH) => {
                if n == 0 {
                    return Ended::NodeGone;
                }
                std::mem::take(&mut batch)
            }
            _ = tick.tick() => {
                if last_write.elapsed() < net.limits.keepalive {
                    continue;
                }
                vec![keepalive_bytes.clone()]
            }
            _ = &mut reader.0 => return broken(&heard),
            newer = replacement(handed) => return Ended::Replaced(Box::new(newer)),
        };
        let n = payloads.len() as u64;
        let write = async {
            for plain in pack(payloads) {
                writer.feed(sealer.seal(&plain).map_err(std::io::Error::other)?).await?;
            }
            SinkExt::<bytes::Bytes>::flush(&mut writer).await
        };
        let written = tokio::select! {
            w = tokio::time::timeout(net.limits.write_timeout, write) => w,
            // A newer session replaces this one even while a write to it is stalled.
            newer = replacement(handed) => {
                net.stats.dropped_link_down.fetch_add(n, Ordering::Relaxed);
                return Ended::Replaced(Box::new(newer));
            }
        };
        match written {
            Ok(Ok(())) => {
                net.stats.frames_out.fetch_add(n, Ordering::Relaxed);
                last_write = tokio::time::Instant::now();
            }
            Ok(Err(e)) => {
                net.stats.dropped_link_down.fetch_add(n, Ordering::Relaxed);
                tracing::debug!(error = %e, "write failed; session over");
                return broken(&heard);
            }
            Err(_) => {
                net.stats.dropped_link_down.fetch_add(n, Ordering::Relaxed);
                net.reporter.reject(Rejection::TimedOut, remote, &"peer did not take our writes");
                return broken(&heard);
            }
        }
    }
}

async fn connect(addr: SocketAddr, local: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = local.filter(|ip| !ip.is_unspecified() && ip.is_ipv4() == addr.is_ipv4()) else {
        return TcpStream::connect(addr).await;
    };
    let socket =
        if ip.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

/// Connects to `addr` and authenticates `peer` there, within the limits' deadlines.
async fn open_session(
    addr: SocketAddr,
    local: Option<IpAddr>,
    peer: NodeId,
    net: &Rc<Net>,
) -> Option<Connection> {
    let stream = match tokio::time::timeout(net.limits.connect_timeout, connect(addr, local)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::trace!(%addr, error = %e, "connect failed");
            return None;
        }
        Err(_) => {
            tracing::trace!(%addr, "connect timed out");
            return None;
        }
    };
    let handshake = dial(stream, net.me.clone(), peer, net.keys.clone());
    match tokio::time::timeout(net.limits.handshake_timeout, handshake).await {
        Ok(Ok(conn)) => Some(conn),
        Ok(Err(e)) => {
            net.reporter.reject(Rejection::Handshake, addr, &e);
            None
        }
        Err(_) => {
            net.reporter.reject(Rejection::TimedOut, addr, &"handshake deadline passed");
            None
        }
    }
}

async fn run<M>(
    to: NodeId,
    role: Role,
    mut rx: mpsc::Receiver<Vec<u8>>,
    net: Rc<Net>,
    node: Recipient<Inbound<M>>,
) where
    M: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    match role {
        Role::Dial { addr, local } => {
            let seed = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), to);
            let mut jitter = Rng::from_seed(seed);
            let mut backoff = BACKOFF_MIN;
            loop {
                if let Some(conn) = open_session(addr, local, to, &net).await {
                    match serve(conn, &mut rx, None, &net, &node).await {
                        Ended::NodeGone => return,
                        // Only a session in which the peer was heard proves the handshake
                        // was accepted: after anything else, keep backing off.
                        Ended::BrokenAfterHeard => backoff = BACKOFF_MIN,
                        Ended::Broken | Ended::Replaced(_) => {}
                    }
                    tracing::debug!(%to, "session ended; dialling again");
                }
                // Equal jitter: half the backoff fixed, half random, so peers do not
                // reconnect in lockstep.
                let half = backoff / 2;
                let sleep =
                    half + jitter.duration_between(Duration::ZERO, half.max(Duration::from_millis(1)));
                tokio::time::sleep(sleep).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
        Role::Accept(handed) => {
            let mut next = handed.take().await;
            loop {
                next = match serve(next, &mut rx, Some(&handed), &net, &node).await {
                    Ended::NodeGone => return,
                    Ended::Replaced(newer) => *newer,
                    Ended::Broken | Ended::BrokenAfterHeard => handed.take().await,
                };
            }
        }
    }
}
