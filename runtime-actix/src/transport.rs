//! TCP between nodes: one outbound link task per peer with a bounded queue and reconnect
//! backoff, and a listener whose reader tasks validate frames before the node sees them.
//!
//! Signatures cost tens of microseconds each, so neither signing nor verifying runs on the
//! node's arbiter thread, where it would delay the node's timers: link tasks sign, and
//! readers verify, whole batches of frames on tokio's blocking pool, keeping frame order.
//!
//! Back-pressure: readers hand messages to the node with `send().await`, so a slow node
//! slows its peers' TCP streams instead of growing an unbounded mailbox (actix's `do_send`
//! ignores mailbox capacity, and a flooded mailbox starves the node's timers, actix #520).
//! Outbound queues hold at most [`OUTBOUND_QUEUE`] frames; when one is full the frame is
//! dropped and counted, as the network would have done.

use crate::frame::{Auth, Frame, FrameError, FrameHeader, HEADER_LEN, SIGNATURE_LEN, length_codec};
use actix::{Message, Recipient};
use bytes::Bytes;
use ed25519_dalek::{SigningKey, VerifyingKey};
use futures::{SinkExt, StreamExt};
use palisade_core::codec::{Bincode, Codec};
use palisade_core::{NodeId, Rng};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::Instrument;

/// Frames queued per peer while its link is slow or down; beyond this, frames are dropped.
pub const OUTBOUND_QUEUE: usize = 1024;
/// First reconnect delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

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

/// Frames verified (or signed) per trip to the blocking pool.
pub const CRYPTO_BATCH: usize = 64;

/// The signature check, shareable with the blocking pool.
#[derive(Clone, Debug)]
pub struct Verifier {
    /// Signed or not.
    pub auth: Auth,
    /// The peers' public keys: the only senders accepted.
    pub keys: Arc<BTreeMap<NodeId, VerifyingKey>>,
}

impl Verifier {
    /// Checks one frame's sender and signature; returns its header and the frame (whose
    /// payload is `frame[HEADER_LEN..len - SIGNATURE_LEN]`).
    pub fn verify(&self, frame: Bytes) -> Result<(FrameHeader, Bytes), FrameError> {
        let header = Frame::open_as(self.auth, &frame, &self.keys)?.header;
        Ok((header, frame))
    }
}

/// What a reader checks every frame against, and the replay window it keeps per sender.
/// Readers of one node share it (they run on the node's arbiter thread).
#[derive(Clone, Debug)]
pub struct Acceptance {
    /// Our cluster id.
    pub cluster: u64,
    /// Our node id.
    pub me: NodeId,
    /// The signature check.
    pub verifier: Verifier,
    /// Per sender: the last accepted (epoch, seq).
    pub seen: Rc<RefCell<BTreeMap<NodeId, (u64, u64)>>>,
}

impl Acceptance {
    /// Accepts frames for `me` in `cluster` signed by one of `keys`.
    pub fn new(cluster: u64, me: NodeId, keys: BTreeMap<NodeId, VerifyingKey>) -> Self {
        Self::with_auth(cluster, me, keys, Auth::Signed)
    }

    /// [`Acceptance::new`] under `auth`.
    pub fn with_auth(cluster: u64, me: NodeId, keys: BTreeMap<NodeId, VerifyingKey>, auth: Auth) -> Self {
        Acceptance { cluster, me, verifier: Verifier { auth, keys: Arc::new(keys) }, seen: Rc::default() }
    }

    /// Authenticates one frame (signature first), checks cluster, recipient and freshness,
    /// then decodes its message.
    pub fn accept<M: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<Inbound<M>, FrameError> {
        let opened = Frame::open_as(self.verifier.auth, bytes, &self.verifier.keys)?;
        self.admit(&opened.header, opened.payload)
    }

    /// The checks after the signature: cluster, recipient, freshness, then the payload's
    /// decoding. Records the frame in the replay window only if all pass.
    pub fn admit<M: serde::de::DeserializeOwned>(
        &self,
        h: &FrameHeader,
        payload: &[u8],
    ) -> Result<Inbound<M>, FrameError> {
        if h.cluster != self.cluster {
            return Err(FrameError::WrongCluster { got: h.cluster, want: self.cluster });
        }
        if h.to != self.me {
            return Err(FrameError::WrongRecipient { to: h.to, me: self.me });
        }
        let mut seen = self.seen.borrow_mut();
        if let Some(&(last_epoch, last_seq)) = seen.get(&h.from) {
            let fresh = h.epoch > last_epoch || (h.epoch == last_epoch && h.seq > last_seq);
            if !fresh {
                return Err(FrameError::Replay {
                    from: h.from,
                    epoch: h.epoch,
                    seq: h.seq,
                    last_epoch,
                    last_seq,
                });
            }
        }
        let msg = Bincode.decode(payload)?;
        seen.insert(h.from, (h.epoch, h.seq));
        Ok(Inbound { from: h.from, msg })
    }
}

/// Accepts connections until aborted; each connection gets a reader task owned by this one,
/// so aborting the listener closes every inbound connection too.
pub async fn listen<M>(
    listener: TcpListener,
    accept: Acceptance,
    node: Recipient<Inbound<M>>,
    stats: Arc<TransportStats>,
) where
    M: serde::de::DeserializeOwned + Send + 'static,
{
    let mut readers = JoinSet::new();
    loop {
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    // The peer is known only once a frame authenticates it; the span names the
                    // remote address, and rejections name the claimed sender.
                    let span = tracing::info_span!("inbound", cluster = accept.cluster, node = %accept.me, %remote);
                    readers.spawn_local(
                        read_frames(stream, remote, accept.clone(), node.clone(), stats.clone()).instrument(span),
                    );
                }
                Err(e) => {
                    tracing::warn!(node = %accept.me, error = %e, "accept failed");
                    tokio::time::sleep(BACKOFF_MIN).await;
                }
            },
            Some(_) = readers.join_next(), if !readers.is_empty() => {}
        }
    }
}

async fn read_frames<M>(
    stream: TcpStream,
    remote: SocketAddr,
    accept: Acceptance,
    node: Recipient<Inbound<M>>,
    stats: Arc<TransportStats>,
) where
    M: serde::de::DeserializeOwned + Send + 'static,
{
    // Whatever frames have arrived (up to a batch) are verified together off the arbiter.
    let mut batches = FramedRead::new(stream, length_codec()).ready_chunks(CRYPTO_BATCH);
    while let Some(batch) = batches.next().await {
        let mut frames = Vec::with_capacity(batch.len());
        let mut broken = None;
        for next in batch {
            match next {
                Ok(b) => frames.push(b.freeze()),
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            }
        }
        let verifier = accept.verifier.clone();
        let verify = move || frames.into_iter().map(|f| verifier.verify(f)).collect::<Vec<_>>();
        let verified = match accept.verifier.auth {
            Auth::Unsigned => verify(), // nothing costly to move off the arbiter
            Auth::Signed => match tokio::task::spawn_blocking(verify).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(node = %accept.me, error = %e, "verifier task failed; closing connection");
                    return;
                }
            },
        };
        for result in verified {
            let admitted = result.and_then(|(header, frame)| {
                accept.admit::<M>(&header, &frame[HEADER_LEN..frame.len() - SIGNATURE_LEN])
            });
            match admitted {
                Ok(inbound) => {
                    TransportStats::bump(&stats.frames_in);
                    if node.send(inbound).await.is_err() {
                        return; // the node stopped
                    }
                }
                Err(e) => {
                    TransportStats::bump(&stats.rejected);
                    tracing::warn!(node = %accept.me, %remote, error = %e, "frame rejected");
                }
            }
        }
        if let Some(e) = broken {
            // Oversized length prefix or IO error: the stream is unusable from here on.
            TransportStats::bump(&stats.rejected);
            tracing::warn!(node = %accept.me, %remote, error = %e, "closing connection");
            return;
        }
    }
}

/// The sending side of one peer link, owned by the node actor. It encodes and numbers
/// frames; the link task signs and writes them.
pub struct PeerLink {
    tx: mpsc::Sender<Vec<u8>>,
    header: FrameHeader,
}

impl std::fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink").field("header", &self.header).finish()
    }
}

impl PeerLink {
    /// Starts the link task for `peer` at `addr`; returns the link and the task handle.
    /// Connections leave from `local` (port chosen by the OS) when given: the node's own
    /// listening address, so that a firewall can tell nodes on one host apart.
    pub fn spawn(
        header: FrameHeader,
        addr: SocketAddr,
        local: Option<std::net::IpAddr>,
        signer: Signer,
        stats: Arc<TransportStats>,
    ) -> (PeerLink, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let jitter = Rng::from_seed(header.epoch ^ (u64::from(header.from.0) << 32) ^ u64::from(header.to.0));
        let span =
            tracing::info_span!("link", cluster = header.cluster, node = %header.from, peer = %header.to);
        let task =
            actix::spawn(run_link(header.clone(), addr, local, rx, signer, stats, jitter).instrument(span));
        (PeerLink { tx, header }, task)
    }

    /// Encodes, numbers and queues `msg`; drops and counts it if the queue is full.
    pub fn send<M: serde::Serialize>(&mut self, msg: &M, stats: &TransportStats) {
        let body = match Frame::body(&self.header, msg) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(to = %self.header.to, error = %e, "message cannot be framed; dropped");
                return;
            }
        };
        self.header.seq += 1;
        if self.tx.try_send(body).is_err() {
            TransportStats::bump(&stats.dropped_queue_full);
            tracing::debug!(to = %self.header.to, "outbound queue full; frame dropped");
        }
    }
}

/// How a link signs: the mode and the node's key.
#[derive(Clone, Debug)]
pub struct Signer {
    /// Signed or not.
    pub auth: Auth,
    /// The node's signing key.
    pub key: Arc<SigningKey>,
}

impl Signer {
    /// Signs a batch of frame bodies, off the arbiter when signing costs anything.
    async fn sign(&self, bodies: Vec<Vec<u8>>) -> Vec<Bytes> {
        let (auth, key) = (self.auth, self.key.clone());
        let sign = move || bodies.into_iter().map(|b| Bytes::from(Frame::sign(auth, b, &key))).collect();
        match auth {
            Auth::Unsigned => sign(),
            Auth::Signed => tokio::task::spawn_blocking(sign).await.unwrap_or_default(),
        }
    }
}

async fn connect(addr: SocketAddr, local: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = local.filter(|ip| !ip.is_unspecified() && ip.is_ipv4() == addr.is_ipv4()) else {
        return TcpStream::connect(addr).await;
    };
    let socket =
        if ip.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

async fn run_link(
    header: FrameHeader,
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    mut rx: mpsc::Receiver<Vec<u8>>,
    signer: Signer,
    stats: Arc<TransportStats>,
    mut jitter: Rng,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        match connect(addr, local).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                TransportStats::bump(&stats.connects);
                tracing::debug!(from = %header.from, to = %header.to, %addr, "connected");
                backoff = BACKOFF_MIN;
                let mut sink = FramedWrite::new(stream, length_codec());
                let mut bodies = Vec::with_capacity(CRYPTO_BATCH);
                'connected: loop {
                    // Whatever is queued, up to a batch, is signed and written together.
                    if rx.recv_many(&mut bodies, CRYPTO_BATCH).await == 0 {
                        return; // the node dropped its end
                    }
                    let frames = signer.sign(std::mem::take(&mut bodies)).await;
                    let n = frames.len();
                    for (i, frame) in frames.into_iter().enumerate() {
                        if let Err(e) = sink.feed(frame).await {
                            stats.dropped_link_down.fetch_add((n - i) as u64, Ordering::Relaxed);
                            tracing::debug!(to = %header.to, error = %e, "link broke; reconnecting");
                            break 'connected;
                        }
                    }
                    if let Err(e) = SinkExt::<Bytes>::flush(&mut sink).await {
                        stats.dropped_link_down.fetch_add(n as u64, Ordering::Relaxed);
                        tracing::debug!(to = %header.to, error = %e, "link broke; reconnecting");
                        break;
                    }
                    stats.frames_out.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            Err(e) => {
                tracing::trace!(to = %header.to, %addr, error = %e, "connect failed");
            }
        }
        // Equal jitter: half the backoff fixed, half random, so peers do not reconnect in lockstep.
        let half = backoff / 2;
        let sleep = half + jitter.duration_between(Duration::ZERO, half.max(Duration::from_millis(1)));
        tokio::time::sleep(sleep).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::quorum::test_key;

    fn acceptance() -> Acceptance {
        let keys =
            [1u32, 3].into_iter().map(|n| (NodeId(n), test_key(7, NodeId(n)).verifying_key())).collect();
        Acceptance::new(7, NodeId(2), keys)
    }

    fn frame(cluster: u64, from: u32, to: u32, epoch: u64, seq: u64) -> Vec<u8> {
        let header = FrameHeader { cluster, from: NodeId(from), to: NodeId(to), epoch, seq };
        Frame::seal(&header, &5u64, &test_key(7, NodeId(from))).unwrap()
    }

    #[test]
    fn valid_frame_is_accepted_with_its_sender() {
        let inbound = acceptance().accept::<u64>(&frame(7, 1, 2, 1, 0)).unwrap();
        assert_eq!((inbound.from, inbound.msg), (NodeId(1), 5));
    }

    #[test]
    fn frames_for_other_clusters_recipients_or_from_strangers_are_rejected() {
        let a = acceptance();
        assert_eq!(
            a.accept::<u64>(&frame(8, 1, 2, 1, 0)).unwrap_err(),
            FrameError::WrongCluster { got: 8, want: 7 }
        );
        assert_eq!(
            a.accept::<u64>(&frame(7, 1, 3, 1, 0)).unwrap_err(),
            FrameError::WrongRecipient { to: NodeId(3), me: NodeId(2) }
        );
        assert_eq!(a.accept::<u64>(&frame(7, 9, 2, 1, 0)).unwrap_err(), FrameError::UnknownSender(NodeId(9)));
        // A payload of the wrong type for this protocol: rejected, not a panic.
        assert!(matches!(a.accept::<(u64, u64)>(&frame(7, 1, 2, 1, 0)), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn replays_and_old_epochs_are_rejected_and_a_new_epoch_starts_over() {
        let a = acceptance();
        a.accept::<u64>(&frame(7, 1, 2, 5, 0)).unwrap();
        a.accept::<u64>(&frame(7, 1, 2, 5, 1)).unwrap();
        assert!(
            matches!(a.accept::<u64>(&frame(7, 1, 2, 5, 1)), Err(FrameError::Replay { .. })),
            "same seq again"
        );
        assert!(
            matches!(a.accept::<u64>(&frame(7, 1, 2, 5, 0)), Err(FrameError::Replay { .. })),
            "older seq"
        );
        assert!(
            matches!(a.accept::<u64>(&frame(7, 1, 2, 4, 9)), Err(FrameError::Replay { .. })),
            "older epoch"
        );
        a.accept::<u64>(&frame(7, 1, 2, 6, 0)).expect("a restarted sender's new epoch");
        // Another sender has its own window.
        a.accept::<u64>(&frame(7, 3, 2, 1, 0)).unwrap();
    }
}
