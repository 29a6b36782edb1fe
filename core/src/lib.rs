//! palisade-core: pure, deterministic protocol state machines for systems that must stay
//! correct under partial failure.
//!
//! Nothing in this crate reads a clock, sleeps, does IO, spawns a thread or draws
//! randomness except from an explicit seed. Time comes in through [`Now`] on every call;
//! outputs go out through [`protocol::Output`]. The same protocol value then runs unchanged
//! in the deterministic simulator (`palisade-sim`) and in production (`palisade-actix`).
//!
//! Start with the [`protocol`] module: it is the whole contract.
//!
//! # Features
//!
//! * `signatures` (default): ed25519 votes, quorum certificates, the Byzantine register and
//!   Bracha's reliable broadcast, in [`quorum`].
//! * `bincode` (default) and `postcard`: the codecs in [`codec`]; `codec::DefaultCodec`
//!   is bincode when it is on.
//! * `tracing` (default): diagnostic events through `tracing`.
//! * `hazard-switches`: lets the simulator's hazard scenarios switch defences off. Never
//!   enable it in a deployment.
//!
//! With no features, a user of the failure detectors, leases, fencing or clocks builds
//! serde and nothing else.

pub mod abd;
pub mod check;
pub mod clock;
pub mod codec;
pub mod detector;
pub mod fencing;
pub mod hazard;
pub mod history;
pub mod lease;
pub mod lock;
mod log;
pub mod model;
pub mod node;
pub mod protocol;
pub mod quorum;
pub mod rename;
pub mod rng;
mod setters;
pub mod sync;
pub mod time;
pub mod timer;

pub use check::{Observation, Replied, Violation};
pub use model::SystemModel;
pub use node::NodeId;
pub use protocol::{Gauge, Init, Input, NoReply, Outbox, Output, Protocol, RequestId};
pub use rename::{Rename, Renaming};
pub use rng::{Draws, Rng};
pub use time::{Instant, Now, WallInterval, WallTime};
pub use timer::Timers;
