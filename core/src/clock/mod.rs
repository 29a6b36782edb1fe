//! Clocks: what a node can and cannot know about time (DDIA 8.3).
//!
//! * Logical: [`LamportClock`], [`VersionVector`] with [`MvRegister`].
//! * Hybrid: [`Hlc`], physical time that respects causality, with a bound on how far ahead
//!   a remote timestamp may be.
//! * Uncertain: [`IntervalClock`] readings are intervals; [`CommitWait`] makes them safe to
//!   order transactions by.
//! * Sources: offsets from request/response timestamps ([`offset::cristian`],
//!   [`offset::ntp`]) and agreement between sources ([`marzullo::smallest_interval`]).
//! * [`SkewMonitor`]: a protocol that measures its offset to every peer and fences its own
//!   node when a majority says its clock is too far off.

mod hlc;
mod interval;
mod lamport;
pub mod marzullo;
pub mod offset;
mod skew;
mod version_vector;

pub use hlc::{Hlc, HlcTimestamp, TooFarAhead};
pub use interval::{CommitWait, IntervalClock, IntervalConfig};
pub use lamport::{LamportClock, LamportTimestamp};
pub use skew::{SkewConfig, SkewEvent, SkewMonitor, SkewMsg, skew_model};
pub use version_vector::{Causality, MvRegister, VersionVector};
