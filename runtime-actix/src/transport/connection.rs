//! An authenticated connection: a TCP stream after a completed Noise handshake, split into a
//! framed reader and writer with the session's two nonce counters. [`dial`] and [`answer`]
//! run the handshake (its public-key work on tokio's blocking pool, off the node's thread);
//! the caller bounds them with a deadline.

use super::noise::{FrameError, HandshakeError, Identity, Initiator, Opener, Responder, Sealer, Session};
use crate::wire::{BadRecords, MAX_RECORD, Payload, length_codec, pack, records};
use bytes::Bytes;
use ed25519_dalek::VerifyingKey;
use futures::{SinkExt, StreamExt};
use palisade_core::NodeId;
use palisade_core::codec::{Codec, CodecError, DEFAULT_CODEC};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

/// The members' ed25519 keys, by node.
pub type Keys = BTreeMap<NodeId, VerifyingKey>;
/// The reading half of a connection, cut into frames.
pub type FrameReader = FramedRead<OwnedReadHalf, LengthDelimitedCodec>;
/// The writing half of a connection, cut into frames.
pub type FrameWriter = FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>;

/// A connection whose peer has proved who it is.
pub struct Connection {
    /// The authenticated peer.
    pub peer: NodeId,
    /// Frames from the peer.
    pub reader: FrameReader,
    /// Frames to the peer.
    pub writer: FrameWriter,
    /// Seals what we send.
    pub sealer: Sealer,
    /// Opens what we receive.
    pub opener: Opener,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("peer", &self.peer).finish_non_exhaustive()
    }
}

/// Why a frame could not be read from a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The stream failed or carried an oversized length prefix.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The frame did not authenticate.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The frame authenticated but does not decode as payloads of this protocol: a member
    /// with a bug, or a member that lies.
    #[error("malformed payload from an authenticated peer: {0}")]
    Malformed(#[from] CodecError),
    /// The frame authenticated but is not a sequence of whole records.
    #[error("authenticated peer sent {0}")]
    Records(#[from] BadRecords),
}

fn prepare(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    // The kernel notices a peer host that vanished even when we have nothing to send.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(1))
        .with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive);
}

fn split(stream: TcpStream) -> (FrameReader, FrameWriter) {
    prepare(&stream);
    let (r, w) = stream.into_split();
    (FramedRead::new(r, length_codec()), FramedWrite::new(w, length_codec()))
}

async fn next_message(reader: &mut FrameReader) -> Result<Bytes, HandshakeError> {
    match reader.next().await {
        Some(Ok(b)) => Ok(b.freeze()),
        Some(Err(e)) => Err(e.into()),
        None => Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
    }
}

/// Public-key work, off the caller's thread.
async fn offload<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HandshakeError> + Send + 'static,
) -> Result<T, HandshakeError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| HandshakeError::Io(std::io::Error::other(e)))?
}

fn connection(session: Session, reader: FrameReader, writer: FrameWriter) -> Connection {
    let peer = session.peer();
    let (sealer, opener) = session.split();
    Connection { peer, reader, writer, sealer, opener }
}

/// Runs the dialling side of a handshake with `peer` over `stream`.
pub async fn dial(
    stream: TcpStream,
    me: Arc<Identity>,
    peer: NodeId,
    keys: Arc<Keys>,
) -> Result<Connection, HandshakeError> {
    let (mut reader, mut writer) = split(stream);
    let id = me.clone();
    let (initiator, msg1) = offload(move || Initiator::start(&id, peer)).await?;
    writer.send(Bytes::from(msg1)).await?;
    let msg2 = next_message(&mut reader).await?;
    let (msg3, session) = offload(move || initiator.finish(&me, &msg2, &keys)).await?;
    writer.send(Bytes::from(msg3)).await?;
    Ok(connection(session, reader, writer))
}

/// Runs the listening side of a handshake over `stream`; the dialler must prove to be a
/// member in `keys` with a lower id than ours.
pub async fn answer(
    stream: TcpStream,
    me: Arc<Identity>,
    keys: Arc<Keys>,
) -> Result<Connection, HandshakeError> {
    let (mut reader, mut writer) = split(stream);
    let msg1 = next_message(&mut reader).await?;
    let id = me.clone();
    let (responder, msg2) = offload(move || Responder::start(&id, &msg1)).await?;
    writer.send(Bytes::from(msg2)).await?;
    let msg3 = next_message(&mut reader).await?;
    let session = offload(move || responder.finish(&me, &msg3, &keys)).await?;
    Ok(connection(session, reader, writer))
}

impl Connection {
    /// Seals and queues one payload in a frame of its own (call [`Connection::flush`] to
    /// send what is queued).
    pub async fn feed<M: serde::Serialize>(&mut self, payload: &Payload<M>) -> std::io::Result<()> {
        let encoded = DEFAULT_CODEC.encode(payload).map_err(std::io::Error::other)?;
        if encoded.len() > MAX_RECORD {
            return Err(std::io::Error::other(format!(
                "payload of {} bytes exceeds {MAX_RECORD}",
                encoded.len()
            )));
        }
        for plain in pack([encoded]) {
            let frame = self.sealer.seal(&plain).map_err(std::io::Error::other)?;
            self.writer.feed(frame).await?;
        }
        Ok(())
    }

    /// Sends what is queued.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        SinkExt::<Bytes>::flush(&mut self.writer).await
    }

    /// Reads, authenticates and decodes the next frame's payloads; `None` when the peer
    /// closed.
    pub async fn recv<M: serde::Serialize + serde::de::DeserializeOwned>(
        &mut self,
    ) -> Option<Result<Vec<Payload<M>>, ReadError>> {
        let frame = match self.reader.next().await? {
            Ok(f) => f,
            Err(e) => return Some(Err(e.into())),
        };
        Some(open(&mut self.opener, &frame))
    }
}

/// Authenticates one frame and decodes all its payloads (all or nothing).
pub fn open<M: serde::Serialize + serde::de::DeserializeOwned>(
    opener: &mut Opener,
    frame: &[u8],
) -> Result<Vec<Payload<M>>, ReadError> {
    let plain = opener.open(frame)?;
    let mut out = Vec::new();
    for record in records(&plain)? {
        out.push(DEFAULT_CODEC.decode(record)?);
    }
    Ok(out)
}
