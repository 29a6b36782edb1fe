//! Failure detection: deciding, from silence alone, which peers to suspect.
//!
//! DDIA chapter 8: in an asynchronous network a slow node and a dead one look the same, so
//! every detector trades detection time against false suspicions. A [`Detector`] watches one
//! peer's heartbeats; [`Heartbeat`] is the protocol that sends heartbeats to every member
//! and runs one detector per peer.
//!
//! Detectors here:
//! * [`FixedTimeout`]: suspect after a fixed silence (right only in a synchronous network).
//! * [`AdaptiveTimeout`]: RFC 6298's SRTT + 4·RTTVAR over inter-arrival times, with backoff
//!   and Karn's rule ([`RttEstimator`] serves request/reply protocols too).
//! * [`PhiAccrual`]: suspect when the silence is improbable given the observed
//!   inter-arrival distribution (Hayashibara et al., with Akka's approximation).

mod checks;
mod fixed;
mod heartbeat;
mod phi;
pub mod qos;
pub mod replay;
mod rfc6298;
pub mod swim;

pub use checks::{
    DetectorHistory, completeness, eventual_accuracy, never_suspects_live, never_suspects_live_at,
};
pub use fixed::{FixedTimeout, FixedTimeoutConfig, fixed_timeout_model};
pub use heartbeat::{
    HEARTBEAT_MODEL, Heartbeat, HeartbeatCommand, HeartbeatConfig, HeartbeatDurable, HeartbeatEvent,
    HeartbeatMsg, HeartbeatReply, PauseGuard, PeerStatus,
};
pub use phi::{PhiAccrual, PhiConfig, phi};
pub use rfc6298::{AdaptiveConfig, AdaptiveTimeout, Rfc6298Config, RttEstimator};

use crate::time::Instant;
use std::fmt::Debug;
use std::time::Duration;

/// A failure detector for one monitored peer.
///
/// The detector is told of every heartbeat and answers one question: from which instant on,
/// if no further heartbeat arrives, it suspects the peer. Answering with a deadline instead
/// of a yes/no lets the owning protocol arm one timer and suspect at exactly the right moment.
pub trait Detector: Clone + Debug + Send + 'static {
    /// The detector's parameters.
    type Config: Clone + Debug + Default + Send + 'static;

    /// Starts monitoring at `now`, as if a heartbeat had just arrived, so that a peer which
    /// never speaks is suspected too.
    fn new(config: &Self::Config, now: Instant) -> Self;

    /// Records a heartbeat received at `now`. Callers pass fresh heartbeats only (one per
    /// sender round, as [`Heartbeat`] does): a duplicate would count as a near-zero interval.
    fn heartbeat(&mut self, now: Instant);

    /// Records a heartbeat received at `now` without learning from the interval it ends:
    /// the silence restarts from `now`, the statistics stay as they were. For heartbeats that
    /// arrive right after this node was itself paused, whose intervals measure the pause
    /// rather than the network (see [`PauseGuard`]).
    fn heartbeat_unsampled(&mut self, now: Instant);

    /// The instant from which the peer is suspected unless another heartbeat arrives.
    fn suspect_at(&self) -> Instant;

    /// How suspicious the silence is at `now`: φ for phi accrual, elapsed silence over the
    /// current timeout for timeout detectors (suspected from 1.0 on).
    fn level(&self, now: Instant) -> f64;

    /// True when the peer is trusted at `now`.
    fn is_available(&self, now: Instant) -> bool {
        now < self.suspect_at()
    }

    /// The longest silence after a heartbeat before suspicion, given that every recorded
    /// inter-arrival interval lies in `[min_interval, max_interval]`. A crashed peer is
    /// suspected at most this long plus the maximum one-way delay after it crashed.
    fn silence_bound(config: &Self::Config, min_interval: Duration, max_interval: Duration) -> Duration;
}
