//! The sending side of the connection to one peer. The node actor encodes messages and
//! queues them (bounded); the link task numbers, signs and writes them. Between two nodes
//! the lower id dials (and reads its replies on the same connection); the higher id sends
//! over the connection the lower one opened, handed over by the listener.

use super::inbound::{Attach, read_frames};
use super::{Acceptance, BACKOFF_MAX, BACKOFF_MIN, CRYPTO_BATCH, Inbound, OUTBOUND_QUEUE, TransportStats};
use crate::frame::{Auth, Frame, FrameHeader, Payload, length_codec};
use actix::Recipient;
use bytes::Bytes;
use ed25519_dalek::SigningKey;
use futures::SinkExt;
use palisade_core::codec::{Bincode, Codec};
use palisade_core::{NodeId, Rng};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;
use tracing::Instrument;

/// True when `me` opens the connection to `peer`: the lower id dials.
pub fn dials(me: NodeId, peer: NodeId) -> bool {
    me < peer
}

/// How a link gets its connection.
pub enum Role<M: Send + 'static> {
    /// Connect to `addr` (from `local`, when given), send a hello, and read the peer's
    /// frames on the same connection.
    Dial {
        /// The peer's address.
        addr: SocketAddr,
        /// Our own address, so a firewall can tell nodes on one host apart.
        local: Option<IpAddr>,
        /// How frames read on this connection are checked.
        accept: Acceptance,
        /// Where they go.
        node: Recipient<Inbound<M>>,
    },
    /// Wait for the listener to hand over the write half of the peer's connection.
    Accept(mpsc::Receiver<OwnedWriteHalf>),
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
            Auth::Signed => match tokio::task::spawn_blocking(sign).await {
                Ok(frames) => frames,
                Err(e) => {
                    // Only a panic in the signer gets here; the batch is lost (and counted).
                    tracing::error!(error = %e, "signing task failed; batch dropped");
                    Vec::new()
                }
            },
        }
    }
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
    /// Starts the link task that sends frames headed `header` (its `seq` is the first used).
    pub fn spawn<M>(
        header: FrameHeader,
        role: Role<M>,
        signer: Signer,
        stats: Arc<TransportStats>,
    ) -> (PeerLink, tokio::task::JoinHandle<()>)
    where
        M: serde::de::DeserializeOwned + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let to = header.to;
        let span = tracing::info_span!("link", cluster = header.cluster, node = %header.from, peer = %to);
        let task = actix::spawn(run(header, role, rx, signer, stats).instrument(span));
        (PeerLink { tx, to }, task)
    }

    /// Encodes and queues `msg`; drops and counts it if the queue is full.
    pub fn send<M: serde::Serialize>(&mut self, msg: &M, stats: &TransportStats) {
        let payload = match Bincode.encode(&Payload::Message(msg)) {
            Ok(b) => b,
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

/// Aborts a task when dropped: a link's reader ends with the link.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Numbers, signs and writes frames; shared by both roles.
struct Writer {
    header: FrameHeader,
    signer: Signer,
    stats: Arc<TransportStats>,
}

impl Writer {
    /// Writes `payloads` as frames; false if the connection broke (the batch is lost).
    async fn write(
        &mut self,
        sink: &mut FramedWrite<OwnedWriteHalf, tokio_util::codec::LengthDelimitedCodec>,
        payloads: Vec<Vec<u8>>,
    ) -> bool {
        let mut bodies = Vec::with_capacity(payloads.len());
        for p in payloads {
            match Frame::body_encoded(&self.header, &p) {
                Ok(b) => {
                    bodies.push(b);
                    self.header.seq += 1;
                }
                Err(e) => tracing::error!(error = %e, "frame too large; dropped"),
            }
        }
        let signing = bodies.len();
        let frames = self.signer.sign(bodies).await;
        let unsigned = (signing - frames.len()) as u64;
        self.stats.dropped_link_down.fetch_add(unsigned, Ordering::Relaxed);
        let n = frames.len() as u64;
        for frame in frames {
            if sink.feed(frame).await.is_err() {
                self.stats.dropped_link_down.fetch_add(n, Ordering::Relaxed);
                return false;
            }
        }
        if SinkExt::<Bytes>::flush(sink).await.is_err() {
            self.stats.dropped_link_down.fetch_add(n, Ordering::Relaxed);
            return false;
        }
        self.stats.frames_out.fetch_add(n, Ordering::Relaxed);
        true
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

async fn run<M>(
    header: FrameHeader,
    role: Role<M>,
    mut rx: mpsc::Receiver<Vec<u8>>,
    signer: Signer,
    stats: Arc<TransportStats>,
) where
    M: serde::de::DeserializeOwned + Send + 'static,
{
    let mut jitter = Rng::from_seed(header.epoch ^ (u64::from(header.from.0) << 32) ^ u64::from(header.to.0));
    let to = header.to;
    let mut writer = Writer { header, signer, stats: stats.clone() };
    let hello = Bincode.encode(&Payload::<()>::Hello).unwrap_or_default();
    let mut batch = Vec::with_capacity(CRYPTO_BATCH);
    match role {
        Role::Dial { addr, local, accept, node } => {
            let mut backoff = BACKOFF_MIN;
            loop {
                match connect(addr, local).await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        TransportStats::bump(&stats.connects);
                        tracing::debug!(%addr, "connected");
                        backoff = BACKOFF_MIN;
                        let (read, write) = stream.into_split();
                        let span = tracing::info_span!("inbound", cluster = accept.cluster, node = %accept.me, remote = %addr);
                        let reading =
                            read_frames(read, addr, accept.clone(), node.clone(), stats.clone(), None);
                        let mut reader = AbortOnDrop(actix::spawn(reading.instrument(span)));
                        let mut sink = FramedWrite::new(write, length_codec());
                        if writer.write(&mut sink, vec![hello.clone()]).await {
                            loop {
                                tokio::select! {
                                    n = rx.recv_many(&mut batch, CRYPTO_BATCH) => {
                                        if n == 0 {
                                            return; // the node dropped its end
                                        }
                                        if !writer.write(&mut sink, std::mem::take(&mut batch)).await {
                                            tracing::debug!(%to, "link broke; reconnecting");
                                            break;
                                        }
                                    }
                                    // The peer closed the connection (it restarted, say).
                                    _ = &mut reader.0 => {
                                        tracing::debug!(%to, "peer closed the connection; reconnecting");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::trace!(%addr, error = %e, "connect failed"),
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
        Role::Accept(mut handed) => {
            let mut sink = None;
            loop {
                tokio::select! {
                    conn = handed.recv() => match conn {
                        // The peer (re)connected: its newest connection wins.
                        Some(write) => {
                            TransportStats::bump(&stats.connects);
                            sink = Some(FramedWrite::new(write, length_codec()));
                        }
                        None => return,
                    },
                    n = rx.recv_many(&mut batch, CRYPTO_BATCH), if sink.is_some() => {
                        if n == 0 {
                            return; // the node dropped its end
                        }
                        let Some(s) = sink.as_mut() else { continue };
                        if !writer.write(s, std::mem::take(&mut batch)).await {
                            tracing::debug!(%to, "link broke; waiting for the peer to reconnect");
                            sink = None;
                        }
                    }
                }
            }
        }
    }
}

/// The per-peer handover channels for the links that accept, for the listener.
pub(crate) fn attach_channel() -> (mpsc::Sender<OwnedWriteHalf>, mpsc::Receiver<OwnedWriteHalf>) {
    mpsc::channel(4)
}

/// Builds an [`Attach`] registry from the accepting links' senders.
pub(crate) fn registry(senders: impl IntoIterator<Item = (NodeId, mpsc::Sender<OwnedWriteHalf>)>) -> Attach {
    std::rc::Rc::new(senders.into_iter().collect())
}
