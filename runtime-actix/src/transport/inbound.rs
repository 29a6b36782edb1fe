//! Reading frames from a connection: batches verified off the arbiter, then admitted on it,
//! then handed to the node. On an accepted connection the first authenticated frame names the
//! peer, and the connection's write half goes to that peer's link.

use super::{Acceptance, CRYPTO_BATCH, Inbound, TransportStats};
use crate::frame::{Auth, HEADER_LEN, Payload, SIGNATURE_LEN, length_codec};
use actix::Recipient;
use futures::StreamExt;
use palisade_core::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::codec::FramedRead;
use tracing::Instrument;

/// Where an accepted connection's write half goes once its peer is authenticated: the
/// link of every peer that dials us.
pub type Attach = Rc<BTreeMap<NodeId, mpsc::Sender<OwnedWriteHalf>>>;

/// Accepts connections until aborted; each connection gets a reader task owned by this one,
/// so aborting the listener closes every inbound connection too.
pub async fn listen<M>(
    listener: TcpListener,
    accept: Acceptance,
    node: Recipient<Inbound<M>>,
    stats: Arc<TransportStats>,
    attach: Attach,
) where
    M: serde::de::DeserializeOwned + Send + 'static,
{
    let mut readers = JoinSet::new();
    loop {
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let (read, write) = stream.into_split();
                    // The peer is known only once a frame authenticates it; the span names the
                    // remote address, and rejections name the claimed sender.
                    let span = tracing::info_span!("inbound", cluster = accept.cluster, node = %accept.me, %remote);
                    let hand_over = Some((write, attach.clone()));
                    readers.spawn_local(
                        read_frames(read, remote, accept.clone(), node.clone(), stats.clone(), hand_over).instrument(span),
                    );
                }
                Err(e) => {
                    tracing::warn!(node = %accept.me, error = %e, "accept failed");
                    tokio::time::sleep(super::BACKOFF_MIN).await;
                }
            },
            Some(_) = readers.join_next(), if !readers.is_empty() => {}
        }
    }
}

/// Reads and delivers frames until the connection ends or breaks. `hand_over` is the write
/// half of an accepted connection, given to the link of the first peer that authenticates.
pub(super) async fn read_frames<M>(
    read: OwnedReadHalf,
    remote: SocketAddr,
    accept: Acceptance,
    node: Recipient<Inbound<M>>,
    stats: Arc<TransportStats>,
    mut hand_over: Option<(OwnedWriteHalf, Attach)>,
) where
    M: serde::de::DeserializeOwned + Send + 'static,
{
    // Whatever frames have arrived (up to a batch) are verified together off the arbiter.
    let mut batches = FramedRead::new(read, length_codec()).ready_chunks(CRYPTO_BATCH);
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
                    if let Some((write, attach)) = hand_over.take() {
                        match attach.get(&inbound.from) {
                            Some(link) => {
                                if link.send(write).await.is_err() {
                                    return; // the node stopped
                                }
                            }
                            None => tracing::warn!(
                                node = %accept.me, from = %inbound.from,
                                "a peer that should be dialled connected; reading only"
                            ),
                        }
                    }
                    if let Payload::Message(msg) = inbound.msg {
                        if node.send(Inbound { from: inbound.from, msg }).await.is_err() {
                            return; // the node stopped
                        }
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
