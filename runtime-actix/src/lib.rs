//! palisade-actix: runs palisade protocols in production on actix actors.
//!
//! One [`NodeActor`] per node feeds its [`palisade_core::Protocol`] with readings of the
//! real clocks, keeps a single timer re-armed from `poll_timeout`, sends through one link
//! task per peer over length-delimited TCP frames signed with the node's ed25519 key (and
//! checks every inbound frame's signature, cluster, recipient and freshness before decoding
//! it), and makes `Persist` outputs durable (temp file, fsync, rename, fsync directory)
//! before acting on anything after them.
//!
//! Start nodes with [`start`] inside an actix `System`; talk to them through the
//! [`NodeHandle`] it returns.

pub mod clock;
pub mod frame;
pub mod lease;
mod node;
pub mod storage;
pub mod transport;

pub use frame::Auth;
pub use node::{
    Command, EVENT_BUFFER, NodeActor, NodeConfig, NodeEvent, NodeHandle, Observer, Peer, StartError, Stop,
    start, start_observed,
};
pub use transport::TransportStats;
