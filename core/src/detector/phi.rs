//! Phi accrual failure detection (Hayashibara et al., SRDS 2004), with Akka's approximation.
//!
//! Model: partially synchronous network; crash-stop targets; heartbeats may be lost or late.
//! Guarantees: a crashed peer is eventually suspected forever (completeness); after GST and
//! with a stable inter-arrival distribution, a live peer is wrongly suspected with
//! probability about 10^-threshold per check (accuracy, under the normal model).
//! Checkers: [`super::completeness`], [`super::never_suspects_live`].
//!
//! φ(Δ) = -log10(1 - F(Δ)) where F is the normal CDF of the observed heartbeat inter-arrival
//! times, shifted by the acceptable pause. Akka's logistic approximation of F is used, with
//! its two branches for precision. The window keeps exact integer running sums, so an
//! update is O(1) and the statistics never drift; the variance is computed exactly and can
//! never go negative.

use super::Detector;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// Parameters of [`PhiAccrual`]. The defaults are Akka cluster's (`reference.conf`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PhiConfig {
    /// Suspect when φ reaches this. Default 8.0.
    pub threshold: f64,
    /// Inter-arrival intervals kept, a count. Default 1000.
    pub max_sample_size: usize,
    /// Floor on the standard deviation, so a perfectly regular history does not make φ
    /// explode on the first late heartbeat. Default 100 ms.
    pub min_std_deviation: Duration,
    /// Extra silence tolerated on top of the mean interval (GC pauses, network blips).
    /// Default 3 s.
    pub acceptable_heartbeat_pause: Duration,
    /// Expected heartbeat interval, used to bootstrap the history with est ± est/4.
    /// Default 1 s (Akka's heartbeat-interval).
    pub first_heartbeat_estimate: Duration,
}

impl PhiConfig {
    crate::__config_setters! {
        threshold: f64,
        max_sample_size: usize,
        min_std_deviation: Duration,
        acceptable_heartbeat_pause: Duration,
        first_heartbeat_estimate: Duration,
    }
}

impl Default for PhiConfig {
    fn default() -> Self {
        PhiConfig {
            threshold: 8.0,
            max_sample_size: 1000,
            min_std_deviation: Duration::from_millis(100),
            acceptable_heartbeat_pause: Duration::from_secs(3),
            first_heartbeat_estimate: Duration::from_secs(1),
        }
    }
}

/// The longest interval recorded, so the exact integer sums cannot overflow: one hour.
/// Longer intervals are clamped; they only arise after silences φ has long since flagged.
const MAX_RECORDED_INTERVAL_NS: u64 = 3_600 * 1_000_000_000;

/// φ for a silence of `elapsed` given interval mean `mean` and standard deviation `std_dev`
/// (all in the same unit), using Akka's logistic approximation of the normal CDF.
/// Never NaN, never negative; +∞ when the silence is beyond floating-point resolution.
pub fn phi(elapsed: f64, mean: f64, std_dev: f64) -> f64 {
    let y = (elapsed - mean) / std_dev;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    let p = if elapsed > mean {
        // e ≤ 1 here; computing e/(1+e) directly keeps precision for tiny tail probabilities.
        -(e / (1.0 + e)).log10()
    } else {
        // e may be +∞ here; 1/(1+e) is then 0 and the result 0, never ∞/∞ = NaN.
        -(1.0 - 1.0 / (1.0 + e)).log10()
    };
    if p.is_nan() { 0.0 } else { p.max(0.0) }
}

/// The standardised silence `y` at which φ reaches `threshold`: the real root of
/// `0.070566·y³ + 1.5976·y + ln(p / (1 - p)) = 0` with `p = 10^-threshold` (Akka's logistic
/// approximation inverted), by Cardano's formula and two Newton steps. Infinite for an
/// unreachable threshold; φ = threshold at `elapsed = mean + y·std`.
pub fn standardized_crossing(threshold: f64) -> f64 {
    const A: f64 = 0.070566;
    const B: f64 = 1.5976;
    if threshold.is_nan() || threshold <= 0.0 {
        return f64::NEG_INFINITY;
    }
    // ln(p / (1 - p)) without underflow for large thresholds.
    let p = 10f64.powf(-threshold);
    let c = -threshold * std::f64::consts::LN_10 - (-p).ln_1p();
    if !c.is_finite() {
        return f64::INFINITY;
    }
    let (pp, q) = (B / A, c / A);
    let d = (q / 2.0).powi(2) + (pp / 3.0).powi(3);
    let mut y = (-q / 2.0 + d.sqrt()).cbrt() + (-q / 2.0 - d.sqrt()).cbrt();
    for _ in 0..2 {
        y -= (A * y * y * y + B * y + c) / (3.0 * A * y * y + B);
    }
    y
}

/// The phi accrual detector for one peer.
#[derive(Clone, Debug)]
pub struct PhiAccrual {
    config: PhiConfig,
    /// `standardized_crossing(threshold)`, computed once.
    crossing: f64,
    intervals: VecDeque<u64>,
    sum: u128,
    sum_sq: u128,
    last: Instant,
    /// Cached: the smallest silence at which φ reaches the threshold, in ns.
    suspect_after_ns: u64,
}

/// The state, for the explorer's fingerprints: the configuration and the crossing point
/// derived from it are left out, being the same in every state of one model.
impl std::hash::Hash for PhiAccrual {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let PhiAccrual { config: _, crossing: _, intervals, sum, sum_sq, last, suspect_after_ns } = self;
        (intervals, sum, sum_sq, last, suspect_after_ns).hash(h);
    }
}

impl PhiAccrual {
    fn record(&mut self, interval_ns: u64) {
        let x = interval_ns.min(MAX_RECORDED_INTERVAL_NS);
        if self.intervals.len() >= self.config.max_sample_size.max(1)
            && let Some(old) = self.intervals.pop_front()
        {
            self.sum -= u128::from(old);
            self.sum_sq -= u128::from(old) * u128::from(old);
        }
        self.intervals.push_back(x);
        self.sum += u128::from(x);
        self.sum_sq += u128::from(x) * u128::from(x);
    }

    /// Mean of the recorded intervals, in ns.
    pub fn mean_ns(&self) -> f64 {
        let n = self.intervals.len().max(1) as f64;
        self.sum as f64 / n
    }

    /// Standard deviation of the recorded intervals, in ns (before the configured floor).
    pub fn std_dev_ns(&self) -> f64 {
        let n = self.intervals.len() as u128;
        if n == 0 {
            return 0.0;
        }
        // n·Σx² - (Σx)² is exactly n² times the variance and ≥ 0 by Cauchy-Schwarz; the
        // clamp guards the invariant anyway.
        let scaled = (n * self.sum_sq).saturating_sub(self.sum * self.sum);
        let variance = (scaled as f64 / (n * n) as f64).max(0.0);
        variance.sqrt()
    }

    /// Number of intervals in the window.
    pub fn sample_count(&self) -> usize {
        self.intervals.len()
    }

    fn effective(&self) -> (f64, f64) {
        let mean = self.mean_ns() + self.config.acceptable_heartbeat_pause.as_nanos() as f64;
        let std = self.std_dev_ns().max(self.config.min_std_deviation.as_nanos() as f64).max(1.0);
        (mean, std)
    }

    /// φ at `now`: how improbable the current silence is (0 = just heard from the peer).
    pub fn phi_at(&self, now: Instant) -> f64 {
        let (mean, std) = self.effective();
        phi((now - self.last).as_nanos() as f64, mean, std)
    }

    fn recompute_deadline(&mut self) {
        let (mean, std) = self.effective();
        self.suspect_after_ns = crossing_ns(mean, std, self.crossing);
    }
}

/// The silence (ns) at which φ reaches the threshold whose standardised crossing is `y`.
fn crossing_ns(mean: f64, std: f64, y: f64) -> u64 {
    let t = (mean + y * std).ceil();
    if t.is_nan() || t <= 0.0 {
        0
    } else if t >= u64::MAX as f64 {
        u64::MAX
    } else {
        t as u64
    }
}

/// The smallest silence (ns) at which φ reaches `threshold`, by bisection (φ is
/// non-decreasing in the silence): the slow reference the closed form is tested against.
#[cfg(test)]
fn first_crossing_ns(mean: f64, std: f64, threshold: f64) -> u64 {
    let reaches = |ns: u64| phi(ns as f64, mean, std) >= threshold;
    if reaches(0) {
        return 0;
    }
    let mut hi: u64 = (mean.max(1.0) as u64).max(1);
    while !reaches(hi) {
        if hi >= u64::MAX / 2 {
            return u64::MAX;
        }
        hi *= 2;
    }
    let mut lo = 0u64; // !reaches(lo)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reaches(mid) { hi = mid } else { lo = mid }
    }
    hi
}

impl Detector for PhiAccrual {
    type Config = PhiConfig;

    fn new(config: &PhiConfig, now: Instant) -> Self {
        let mut d = PhiAccrual {
            config: config.clone(),
            crossing: standardized_crossing(config.threshold),
            intervals: VecDeque::with_capacity(config.max_sample_size.clamp(2, 1024)),
            sum: 0,
            sum_sq: 0,
            last: now,
            suspect_after_ns: 0,
        };
        let est = u64::try_from(config.first_heartbeat_estimate.as_nanos()).unwrap_or(u64::MAX);
        d.record(est - est / 4);
        d.record(est + est / 4);
        d.recompute_deadline();
        d
    }

    fn heartbeat(&mut self, now: Instant) {
        if now < self.last {
            return;
        }
        // Akka: record the interval only if the peer was still trusted, so the first
        // heartbeat after a long pause does not poison the statistics.
        if self.is_available(now) {
            self.record((now - self.last).as_nanos() as u64);
            self.recompute_deadline();
        }
        self.last = now;
    }

    fn heartbeat_unsampled(&mut self, now: Instant) {
        self.last = self.last.max(now);
    }

    fn suspect_at(&self) -> Instant {
        self.last + Duration::from_nanos(self.suspect_after_ns)
    }

    fn level(&self, now: Instant) -> f64 {
        self.phi_at(now)
    }

    fn silence_bound(config: &PhiConfig, min_interval: Duration, max_interval: Duration) -> Duration {
        // Every recorded value lies in [lo, hi] (bootstrap values included), so the mean is
        // at most hi and the standard deviation at most (hi - lo) / 2.
        let est = config.first_heartbeat_estimate;
        let lo = min_interval.min(est - est / 4).as_nanos() as f64;
        let hi = max_interval.max(est + est / 4).as_nanos() as f64;
        let mean = hi + config.acceptable_heartbeat_pause.as_nanos() as f64;
        let std = ((hi - lo) / 2.0).max(config.min_std_deviation.as_nanos() as f64).max(1.0);
        Duration::from_nanos(crossing_ns(mean, std, standardized_crossing(config.threshold)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    // 0.30103 is log10(2) because φ at the mean is -log10(1/2); the vectors are Akka's
    // (PhiAccrualFailureDetectorSpec), written as it gives them.
    #[allow(clippy::approx_constant)]
    fn akka_reference_vectors() {
        for (elapsed, want) in [(1000.0, 0.30103), (1100.0, 0.79951), (1200.0, 1.64283)] {
            let got = phi(elapsed, 1000.0, 100.0);
            assert!((got - want).abs() < 1e-4, "phi({elapsed}) = {got}, want {want}");
        }
    }

    #[test]
    fn phi_is_finite_zero_far_before_mean_and_infinite_far_after() {
        assert_eq!(phi(0.0, 1e9, 1.0), 0.0);
        assert!(phi(1e12, 1.0, 1.0).is_infinite());
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn cfg_no_pause() -> PhiConfig {
        PhiConfig { acceptable_heartbeat_pause: Duration::ZERO, ..PhiConfig::default() }
    }

    #[test]
    fn bootstrap_history_is_estimate_plus_minus_a_quarter() {
        let d = PhiAccrual::new(&PhiConfig::default(), Instant::ZERO);
        assert_eq!(d.sample_count(), 2);
        assert_eq!(d.mean_ns(), 1e9);
        assert_eq!(d.std_dev_ns(), 250e6);
    }

    #[test]
    fn regular_heartbeats_keep_peer_trusted_and_silence_raises_phi() {
        let mut d = PhiAccrual::new(&cfg_no_pause(), Instant::ZERO);
        let mut t = Instant::ZERO;
        for _ in 0..20 {
            t += ms(1000);
            assert!(d.is_available(t), "suspected at a regular heartbeat");
            d.heartbeat(t);
        }
        assert!(d.phi_at(t + ms(500)) < d.phi_at(t + ms(1500)));
        // With σ at its 100 ms floor, φ = 8 is reached about 5.2σ past the mean.
        let after = d.suspect_at() - t;
        assert!(after > ms(1400) && after < ms(1700), "{after:?}");
        // The closed-form deadline sits on the crossing, to within float rounding.
        assert!(d.phi_at(d.suspect_at()) >= 8.0 - 1e-6);
        assert!(d.phi_at(d.suspect_at().saturating_sub(Duration::from_micros(1))) < 8.0);
    }

    #[test]
    fn intervals_are_not_recorded_while_suspected() {
        let mut d = PhiAccrual::new(&cfg_no_pause(), Instant::ZERO);
        let before = (d.sample_count(), d.mean_ns());
        let late = d.suspect_at() + ms(60_000);
        d.heartbeat(late);
        assert_eq!((d.sample_count(), d.mean_ns()), before);
        assert!(d.is_available(late));
    }

    #[test]
    fn window_is_bounded_and_sums_stay_exact() {
        let cfg = PhiConfig { max_sample_size: 10, ..cfg_no_pause() };
        let mut d = PhiAccrual::new(&cfg, Instant::ZERO);
        let mut t = Instant::ZERO;
        for _ in 0..100 {
            t += ms(1000);
            d.heartbeat(t);
        }
        assert_eq!(d.sample_count(), 10);
        assert_eq!(d.mean_ns(), 1e9);
        assert_eq!(d.std_dev_ns(), 0.0);
    }

    #[test]
    fn silence_bound_covers_the_actual_deadline() {
        let cfg = PhiConfig::default();
        let mut d = PhiAccrual::new(&cfg, Instant::ZERO);
        let mut t = Instant::ZERO;
        for i in 0..50u64 {
            t += ms(900 + (i * 37) % 200); // intervals in [900, 1100)
            d.heartbeat(t);
            let bound = PhiAccrual::silence_bound(&cfg, ms(900), ms(1100));
            assert!(d.suspect_at() - t <= bound);
        }
    }

    #[test]
    fn closed_form_crossing_matches_bisection() {
        for threshold in [0.5, 1.0, 3.0, 8.0, 12.0, 16.0] {
            for (mean, std) in [(1e9, 1e8), (2.5e9, 3e6), (1e8, 5e7), (4e9, 1.2e9)] {
                let fast = crossing_ns(mean, std, standardized_crossing(threshold));
                let slow = first_crossing_ns(mean, std, threshold);
                let diff = fast.abs_diff(slow);
                assert!(diff <= 1_000, "threshold {threshold}, mean {mean}, std {std}: {fast} vs {slow}");
            }
        }
        assert!(standardized_crossing(1e6) > 100.0, "absurd thresholds give absurd but finite silences");
        assert_eq!(standardized_crossing(0.0), f64::NEG_INFINITY);
    }

    proptest! {
        #[test]
        fn phi_is_never_nan_or_negative(
            intervals in proptest::collection::vec(0u64..=10_000_000_000_000, 0..50),
            elapsed in 0u64..=u64::MAX / 4,
        ) {
            let mut d = PhiAccrual::new(&PhiConfig::default(), Instant::ZERO);
            let mut t = Instant::ZERO;
            for i in intervals {
                t += Duration::from_nanos(i);
                d.heartbeat(t);
            }
            let p = d.phi_at(t + Duration::from_nanos(elapsed));
            prop_assert!(!p.is_nan());
            prop_assert!(p >= 0.0);
        }

        #[test]
        fn phi_is_non_decreasing_in_elapsed_time(
            a in 0.0f64..1e13, b in 0.0f64..1e13,
            mean in 1.0f64..1e11, std in 1.0f64..1e10,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(phi(lo, mean, std) <= phi(hi, mean, std),
                "phi({lo}) = {} > phi({hi}) = {}", phi(lo, mean, std), phi(hi, mean, std));
        }

        #[test]
        fn phi_reference_points_never_nan_for_degenerate_inputs(
            elapsed in proptest::num::f64::ANY, mean in proptest::num::f64::ANY,
        ) {
            let p = phi(elapsed, mean, 1.0);
            prop_assert!(!p.is_nan() && p >= 0.0);
        }
    }
}
