//! palisade-actix: runs palisade protocols in production on actix actors.
//!
//! One [`NodeActor`] per node feeds its [`palisade_core::Protocol`] with readings of the
//! real clocks, keeps a single timer re-armed from `poll_timeout`, talks to each peer over
//! one TCP connection carrying an authenticated, encrypted Noise session (the handshake binds
//! the cluster id and both node ids; each node proves its identity with its ed25519 key), and
//! makes `Persist` outputs durable (temp file, fsync, rename, fsync directory, off the
//! node's thread) before acting on anything after them.
//!
//! Start nodes with [`start`] inside an actix `System`; talk to them through the
//! [`NodeHandle`] it returns ([`NodeHandle::call`] for a command's reply). [`keys`] reads
//! the key files `palisade keygen` writes. `actix`, `tokio` and `ed25519_dalek` are re-exported, so an
//! application needs no direct dependency on either to start a system and await calls.

#[cfg(not(any(feature = "bincode", feature = "postcard")))]
compile_error!("choose a codec: enable the `bincode` feature (the default) or `postcard`");

pub use actix;
/// The ed25519 keys in [`NodeConfig`] and [`Peer`] are this crate's types.
pub use ed25519_dalek;
pub use tokio;

pub mod clock;
pub mod keys;
pub mod lease;
pub mod lock;
mod node;
pub mod storage;
// The transport's pieces (framing, the Noise handshake, admission control) are public for
// the fuzz targets, the transport tests and the transport benchmark, which drive them
// directly, and hidden from the documentation: an application needs only `start`,
// `NodeConfig` and the types re-exported below, and the pieces may change in any release.
#[doc(hidden)]
pub mod transport;
#[doc(hidden)]
pub mod wire;

pub use node::{
    CallError, Command, CommandError, EVENT_BUFFER, MAX_CALLS_WAITING, NodeActor, NodeConfig, NodeEvent,
    NodeHandle, Observer, PERSIST_FAILED_EXIT, Peer, StartError, Stop, start, start_observed,
};
pub use transport::{Limits, TransportCounts, TransportStats};
