//! Retransmission timeouts after RFC 6298 (Jacobson/Karels), reusable by any protocol that
//! sends requests and waits for replies, and as a heartbeat detector ([`AdaptiveTimeout`]).
//!
//! Model: partially synchronous; round-trip (or inter-arrival) times drift slowly enough for
//! an exponentially weighted mean and mean deviation to track them.
//! Guarantees: the timeout follows the observed delay (SRTT + K·RTTVAR) within a floor and
//! a ceiling; after a timeout it backs off exponentially until a fresh, unambiguous sample
//! (Karn's rule); it never goes below the floor or above the ceiling.
//! Checkers: [`super::completeness`], [`super::eventual_accuracy`].

use super::Detector;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Parameters of an [`RttEstimator`]. Defaults are RFC 6298's: initial RTO 1 s, floor 1 s,
/// ceiling 60 s, clock granularity 1 ms, K = 4.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rfc6298Config {
    /// Timeout before any sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Floor on the timeout (RFC 6298 §2.4: 1 s; Linux uses 200 ms).
    pub min_rto: Duration,
    /// Ceiling on the timeout, backoff included (RFC 6298 §2.5: at least 60 s).
    pub max_rto: Duration,
    /// Clock granularity G: the least margin added to SRTT.
    pub granularity: Duration,
    /// Deviation multiplier K (4).
    pub k: u32,
}

impl Rfc6298Config {
    crate::__config_setters! {
        initial_rto: Duration,
        min_rto: Duration,
        max_rto: Duration,
        granularity: Duration,
        k: u32,
    }
}

impl Default for Rfc6298Config {
    fn default() -> Self {
        Rfc6298Config {
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(60),
            granularity: Duration::from_millis(1),
            k: 4,
        }
    }
}

/// Smoothed round-trip time, its mean deviation, and the retransmission timeout.
#[derive(Clone, Debug, Hash)]
pub struct RttEstimator {
    config: Rfc6298Config,
    srtt_ns: Option<u64>,
    rttvar_ns: u64,
    rto: Duration,
    backoffs: u32,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl RttEstimator {
    /// An estimator with no samples: the timeout is `initial_rto`.
    pub fn new(config: Rfc6298Config) -> Self {
        let rto = config.initial_rto.clamp(config.min_rto, config.max_rto.max(config.min_rto));
        RttEstimator { config, srtt_ns: None, rttvar_ns: 0, rto, backoffs: 0 }
    }

    /// Feeds one unambiguous round-trip sample (RFC 6298 §2.2, §2.3) and clears any backoff.
    pub fn sample(&mut self, rtt: Duration) {
        let r = ns(rtt);
        match self.srtt_ns {
            None => {
                self.srtt_ns = Some(r);
                self.rttvar_ns = r / 2;
            }
            Some(srtt) => {
                // β = 1/4 and α = 1/8; RTTVAR uses the old SRTT.
                self.rttvar_ns =
                    (3 * u128::from(self.rttvar_ns) / 4 + u128::from(srtt.abs_diff(r)) / 4) as u64;
                self.srtt_ns = Some((7 * u128::from(srtt) / 8 + u128::from(r) / 8) as u64);
            }
        }
        self.backoffs = 0;
        self.rto = self.computed();
    }

    fn computed(&self) -> Duration {
        let Some(srtt) = self.srtt_ns else { return self.rto };
        let margin = ns(self.config.granularity).max(u64::from(self.config.k).saturating_mul(self.rttvar_ns));
        Duration::from_nanos(srtt.saturating_add(margin))
            .clamp(self.config.min_rto, self.config.max_rto.max(self.config.min_rto))
    }

    /// Feeds a reply to a request first sent at `sent_at`. Karn's rule: if the request was
    /// retransmitted and the reply does not say which transmission it answers, the sample is
    /// ambiguous and is ignored (the backed-off timeout stays).
    pub fn sample_reply(&mut self, sent_at: Instant, now: Instant, ambiguous: bool) {
        if !ambiguous {
            self.sample(now - sent_at);
        }
    }

    /// The timer expired: double the timeout, up to the ceiling (RFC 6298 §5.5).
    pub fn on_timeout(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
        self.rto = self.rto.saturating_mul(2).min(self.config.max_rto.max(self.config.min_rto));
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// The smoothed round-trip time, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_ns.map(Duration::from_nanos)
    }

    /// The round-trip time's mean deviation.
    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar_ns)
    }

    /// Timeouts since the last fresh sample.
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }
}

/// Parameters of [`AdaptiveTimeout`]: RFC 6298 over heartbeat inter-arrival times, with a
/// floor suited to 1 s heartbeats (1.5 s) and a first timeout of three intervals (3 s).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdaptiveConfig {
    /// The estimator's parameters.
    pub rto: Rfc6298Config,
}

impl AdaptiveConfig {
    crate::__config_setters! {
        rto: Rfc6298Config,
    }
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            rto: Rfc6298Config {
                initial_rto: Duration::from_secs(3),
                min_rto: Duration::from_millis(1500),
                ..Rfc6298Config::default()
            },
        }
    }
}

/// Suspects a peer when the silence since its last heartbeat exceeds the RFC 6298 timeout
/// computed over its inter-arrival times. A heartbeat that arrives after a suspicion counts
/// as a timeout (the timeout backs off) and its interval is not sampled (Karn's rule: it
/// measures the outage, not the network).
#[derive(Clone, Debug, Hash)]
pub struct AdaptiveTimeout {
    rtt: RttEstimator,
    last: Instant,
}

impl AdaptiveTimeout {
    /// The estimator behind the timeout.
    pub fn estimator(&self) -> &RttEstimator {
        &self.rtt
    }
}

impl Detector for AdaptiveTimeout {
    type Config = AdaptiveConfig;

    fn new(config: &AdaptiveConfig, now: Instant) -> Self {
        AdaptiveTimeout { rtt: RttEstimator::new(config.rto.clone()), last: now }
    }

    fn heartbeat(&mut self, now: Instant) {
        if now < self.last {
            return;
        }
        if self.is_available(now) {
            self.rtt.sample(now - self.last);
        } else {
            self.rtt.on_timeout();
        }
        self.last = now;
    }

    fn heartbeat_unsampled(&mut self, now: Instant) {
        self.last = self.last.max(now);
    }

    fn suspect_at(&self) -> Instant {
        self.last + self.rtt.rto()
    }

    fn level(&self, now: Instant) -> f64 {
        (now - self.last).as_secs_f64() / self.rtt.rto().as_secs_f64().max(1e-9)
    }

    fn silence_bound(config: &AdaptiveConfig, min_interval: Duration, max_interval: Duration) -> Duration {
        // With every sample in [lo, hi]: SRTT ≤ hi, and RTTVAR never exceeds the larger of
        // its first value (≤ hi/2) and the largest deviation (hi - lo).
        let c = &config.rto;
        let var = (max_interval / 2).max(max_interval.saturating_sub(min_interval));
        let margin = c.granularity.max(var * c.k);
        (max_interval + margin).max(c.initial_rto).clamp(c.min_rto, c.max_rto.max(c.min_rto))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_at_a_huge_ceiling_saturates_instead_of_overflowing() {
        // A configuration read from a file may set any ceiling; doubling a timeout near
        // Duration::MAX overflowed (a panic) before.
        let config = Rfc6298Config {
            initial_rto: Duration::MAX / 2 + Duration::from_secs(1),
            max_rto: Duration::MAX,
            ..Rfc6298Config::default()
        };
        let mut e = RttEstimator::new(config);
        e.on_timeout();
        e.on_timeout();
        assert_eq!(e.rto(), Duration::MAX);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn linux() -> Rfc6298Config {
        Rfc6298Config { min_rto: ms(200), max_rto: Duration::from_secs(120), ..Rfc6298Config::default() }
    }

    #[test]
    fn rfc6298_first_and_second_samples() {
        // §2.2: first R = 100 ms → SRTT 100, RTTVAR 50, RTO = 100 + max(1, 4·50) = 300 ms.
        let mut e = RttEstimator::new(linux());
        assert_eq!(e.rto(), Duration::from_secs(1), "§2.1 initial RTO");
        e.sample(ms(100));
        assert_eq!((e.srtt(), e.rttvar(), e.rto()), (Some(ms(100)), ms(50), ms(300)));
        // §2.3: R' = 200 ms → RTTVAR = 3/4·50 + 1/4·|100 - 200| = 62.5, SRTT = 7/8·100 + 1/8·200
        // = 112.5, RTO = 112.5 + 4·62.5 = 362.5 ms.
        e.sample(ms(200));
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
    }

    #[test]
    fn rfc6298_floor_granularity_backoff_and_ceiling() {
        // §2.4: the RFC floor of 1 s applies to the 300 ms computed above.
        let mut e = RttEstimator::new(Rfc6298Config::default());
        e.sample(ms(100));
        assert_eq!(e.rto(), Duration::from_secs(1));
        // Identical samples drive RTTVAR towards 0; G keeps a margin.
        let mut g =
            RttEstimator::new(Rfc6298Config { min_rto: Duration::ZERO, granularity: ms(10), ..linux() });
        for _ in 0..200 {
            g.sample(ms(100));
        }
        assert_eq!(g.rttvar(), Duration::ZERO);
        assert_eq!(g.rto(), ms(110));
        // §5.5: each timeout doubles, up to the ceiling; a fresh sample recomputes.
        let mut b = RttEstimator::new(linux());
        b.sample(ms(100));
        let rtos: Vec<Duration> = (0..10)
            .map(|_| {
                b.on_timeout();
                b.rto()
            })
            .collect();
        assert_eq!(rtos[..3], [ms(600), ms(1200), ms(2400)]);
        assert_eq!(*rtos.last().unwrap(), Duration::from_secs(120));
        assert_eq!(b.backoffs(), 10);
        b.sample(ms(100));
        assert_eq!(b.backoffs(), 0);
        assert!(b.rto() < ms(400));
    }

    #[test]
    fn karns_rule_ignores_ambiguous_replies() {
        let mut e = RttEstimator::new(linux());
        e.sample(ms(100));
        e.on_timeout();
        let backed_off = e.rto();
        let t0 = Instant::ZERO;
        // The reply to a retransmitted request could answer either send: no sample.
        e.sample_reply(t0, t0 + ms(900), true);
        assert_eq!(e.rto(), backed_off);
        e.sample_reply(t0, t0 + ms(100), false);
        assert_eq!(e.backoffs(), 0);
    }

    #[test]
    fn adaptive_detector_tracks_jitter_and_backs_off_after_a_suspicion() {
        let cfg = AdaptiveConfig::default();
        let mut d = AdaptiveTimeout::new(&cfg, Instant::ZERO);
        assert_eq!(d.suspect_at(), Instant::ZERO + Duration::from_secs(3));
        let mut t = Instant::ZERO;
        for i in 0..50u64 {
            t += ms(800 + (i % 5) * 100); // 0.8 s to 1.2 s
            assert!(d.is_available(t));
            d.heartbeat(t);
        }
        let steady = d.suspect_at() - t;
        assert!(
            steady > ms(1_500) && steady <= AdaptiveTimeout::silence_bound(&cfg, ms(800), ms(1_200)),
            "{steady:?}"
        );
        // A long silence: suspected; the late heartbeat backs the timeout off instead of
        // teaching it that 10 s is normal.
        let late = t + Duration::from_secs(10);
        assert!(!d.is_available(late));
        d.heartbeat(late);
        assert_eq!(d.estimator().backoffs(), 1);
        assert_eq!(d.suspect_at() - late, steady * 2);
    }
}
