//! The fixed-timeout detector.
//!
//! Model: synchronous network with a known bound on delay d and processing r.
//! Guarantees: with timeout T ≥ interval + 2d + r a live peer is never suspected
//! (accuracy); a crashed peer is suspected within T + d of its crash (completeness). When
//! the bounds do not hold, as in every real network, accuracy is lost: that is the hazard.
//! Checkers: [`super::completeness`], [`super::never_suspects_live`].

use super::Detector;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The synchronous model a fixed timeout assumes: one-way delay at most `max_delay`,
/// processes never paused longer than `max_pause`, reliable links (no loss, no partition),
/// nodes that crash and may restart, monotonic clocks only. Pauses, loss and partitions
/// beyond these are outside the model: forcing them shows why the model matters.
pub const fn fixed_timeout_model(max_delay: Duration, max_pause: Duration) -> crate::model::SystemModel {
    use crate::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
    SystemModel {
        timing: Timing::Synchronous { max_delay, max_pause },
        nodes: NodeFaults::CrashRecovery,
        clocks: ClockModel::monotonic(1_000),
        network: NetworkModel::RELIABLE,
        max_down: None,
    }
}

/// Parameters of [`FixedTimeout`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FixedTimeoutConfig {
    /// Silence after which the peer is suspected. Default 5 s (three missed 1 s heartbeats
    /// plus margin, in the spirit of memberlist's and Cassandra's defaults).
    pub timeout: Duration,
}

impl FixedTimeoutConfig {
    crate::__config_setters! {
        timeout: Duration,
    }
}

impl Default for FixedTimeoutConfig {
    fn default() -> Self {
        FixedTimeoutConfig { timeout: Duration::from_secs(5) }
    }
}

/// Suspects a peer once no heartbeat has arrived for a fixed timeout.
#[derive(Clone, Debug, Hash)]
pub struct FixedTimeout {
    timeout: Duration,
    last: Instant,
}

impl Detector for FixedTimeout {
    type Config = FixedTimeoutConfig;

    fn new(config: &FixedTimeoutConfig, now: Instant) -> Self {
        FixedTimeout { timeout: config.timeout, last: now }
    }

    fn heartbeat(&mut self, now: Instant) {
        self.last = self.last.max(now);
    }

    fn heartbeat_unsampled(&mut self, now: Instant) {
        self.heartbeat(now);
    }

    fn suspect_at(&self) -> Instant {
        self.last + self.timeout
    }

    fn level(&self, now: Instant) -> f64 {
        (now - self.last).as_secs_f64() / self.timeout.as_secs_f64().max(1e-9)
    }

    fn silence_bound(config: &FixedTimeoutConfig, _min: Duration, _max: Duration) -> Duration {
        config.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspects_exactly_at_timeout_and_heartbeat_resets() {
        let cfg = FixedTimeoutConfig { timeout: Duration::from_secs(2) };
        let mut d = FixedTimeout::new(&cfg, Instant::ZERO);
        let t = |ms| Instant::ZERO + Duration::from_millis(ms);
        assert!(d.is_available(t(1_999)));
        assert!(!d.is_available(t(2_000)));
        d.heartbeat(t(1_500));
        assert!(d.is_available(t(3_000)));
        assert_eq!(d.suspect_at(), t(3_500));
        // A heartbeat stamped earlier than the last one (cannot happen on one monotonic
        // clock, but must not shorten the deadline if it did).
        d.heartbeat(t(100));
        assert_eq!(d.suspect_at(), t(3_500));
    }
}
