//! The injected, seedable random number generator.
//!
//! Every random choice a protocol or the simulator makes comes from an [`Rng`] built from
//! an explicit seed, so the same seed replays the same run. ChaCha8 is portable across
//! platforms and Rust versions (unlike `std`'s hashers) and fast enough for the simulator.

mod chacha;

use chacha::ChaCha8;
use std::time::Duration;

/// The draws every generator here derives from its `next_u64`, written once. Each draw is
/// `#[inline]`, as are the generators' `next_u64`: a draw is a few instructions, the
/// simulator makes several a message, and a call from another crate cost more than the
/// draw (0.97x the simulator's time an event).
macro_rules! uniform_draws {
    () => {
        /// A uniformly distributed `f64` in `[0, 1)` with 53 bits of precision.
        #[inline]
        pub fn unit_f64(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
        }

        /// A uniformly distributed integer in `[0, n)`, without modulo bias. Returns 0 when `n == 0`.
        #[inline]
        pub fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                return 0;
            }
            // Lemire's multiply-and-reject method. The threshold (2^64 mod n) is below n, so a
            // low word of at least n is always accepted, and the division that computes the
            // threshold is only needed in the rare case it is not: the same draws are accepted.
            let mut m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) < n {
                let threshold = n.wrapping_neg() % n;
                while (m as u64) < threshold {
                    m = u128::from(self.next_u64()) * u128::from(n);
                }
            }
            (m >> 64) as u64
        }

        /// A uniformly distributed integer in `[lo, hi)`; `lo` when the range is empty.
        #[inline]
        pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.below(hi.saturating_sub(lo))
        }

        /// A uniformly distributed duration in `[lo, hi)` at nanosecond resolution.
        pub fn duration_between(&mut self, lo: Duration, hi: Duration) -> Duration {
            let lo_ns = u64::try_from(lo.as_nanos()).unwrap_or(u64::MAX);
            let hi_ns = u64::try_from(hi.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(self.range(lo_ns, hi_ns))
        }

        /// True with probability `p` (clamped to `[0, 1]`).
        pub fn chance(&mut self, p: f64) -> bool {
            if p <= 0.0 {
                false
            } else if p >= 1.0 {
                true
            } else {
                self.unit_f64() < p
            }
        }

        /// Shuffles `items` in place (Fisher-Yates).
        pub fn shuffle<T>(&mut self, items: &mut [T]) {
            for i in (1..items.len()).rev() {
                let j = self.below(i as u64 + 1) as usize;
                items.swap(i, j);
            }
        }

        /// A uniformly chosen element of `items`, or `None` if it is empty.
        pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
            if items.is_empty() { None } else { items.get(self.below(items.len() as u64) as usize) }
        }
    };
}

/// A deterministic random number generator built from a 64-bit seed.
#[derive(Clone, Debug)]
pub struct Rng {
    inner: ChaCha8,
}

/// Two generators hash alike when they will produce the same numbers: same key and
/// position in the stream (the model checker fingerprints protocol states that hold one).
impl std::hash::Hash for Rng {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.position().hash(state);
    }
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn from_seed(seed: u64) -> Self {
        Rng { inner: ChaCha8::seed_from_u64(seed) }
    }

    /// A new generator for a named sub-component, independent of this one's future output
    /// and determined only by this one's current state and `stream`.
    pub fn fork(&mut self, stream: u64) -> Rng {
        let seed = self.next_u64() ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Rng::from_seed(seed)
    }

    /// A uniformly distributed `u64`.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    uniform_draws!();
}

/// A cheap generator for one keyed purpose, such as the draws that decide one message's
/// fate on one link. It is determined by a seed and a short key (the simulator uses the
/// link, the send time and the message's index among its sender's sends then), not by how
/// many draws were made elsewhere, so removing a fault in one place leaves the draws
/// everywhere else as they were: what lets a shrinker remove faults without re-drawing
/// every later delay. SplitMix64's output function (Steele, Lea and Flood, OOPSLA 2014)
/// over a state mixed from the key: good enough for simulation, not for secrets.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Draws {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Draws {
    /// The draws for `key` under `seed`: equal seeds and keys give equal draws; changing
    /// any word of either gives unrelated ones. (The numbers a key gives may change
    /// between versions of palisade, as the trace hashes that depend on them do.)
    pub fn keyed(seed: u64, key: &[u64]) -> Self {
        key.iter().fold(Draws { state: mix64(seed ^ GOLDEN) }, |d, &word| d.then(word))
    }

    /// The draws for this key extended by one more word: `Draws::keyed(s, &[a]).then(b)`
    /// is `Draws::keyed(s, &[a, b])`. Compute a shared prefix once and extend it per use
    /// (the simulator keys every message under its network prefix). Derived from the
    /// current state, so call it before drawing.
    #[inline]
    pub fn then(&self, word: u64) -> Draws {
        // One bijective mix per word: distinct words under one prefix never collide.
        Draws { state: mix64(self.state ^ word.wrapping_mul(0xD6E8_FEB8_6659_FD93)) }
    }

    /// A uniformly distributed `u64`.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    uniform_draws!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_stream_and_different_seeds_differ() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::from_seed(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::from_seed(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::from_seed(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn below_draws_what_lemires_method_with_the_threshold_always_computed_draws() {
        // The threshold is computed only when a draw could be rejected; the draws must be
        // exactly those of the plain method, or every recorded run would change.
        fn plain(rng: &mut Rng, n: u64) -> u64 {
            let threshold = n.wrapping_neg() % n;
            loop {
                let m = u128::from(rng.next_u64()) * u128::from(n);
                if (m as u64) >= threshold {
                    return (m >> 64) as u64;
                }
            }
        }
        let bounds = [1, 2, 3, 7, 100, 1 << 32, (1 << 63) + 1, u64::MAX - 1, u64::MAX];
        for (i, &n) in bounds.iter().enumerate() {
            let (mut a, mut b) = (Rng::from_seed(i as u64), Rng::from_seed(i as u64));
            for _ in 0..20_000 {
                assert_eq!(a.below(n), plain(&mut b, n), "n = {n}");
            }
        }
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::from_seed(1);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let x = r.below(7);
            assert!(x < 7);
            seen[x as usize] += 1;
        }
        // Each bucket expects 1000; a fair generator stays well within ±20%.
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn unit_f64_is_in_unit_interval_and_chance_respects_extremes() {
        let mut r = Rng::from_seed(3);
        for _ in 0..10_000 {
            let x = r.unit_f64();
            assert!((0.0..1.0).contains(&x));
        }
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2_250..2_750).contains(&hits), "{hits}");
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut r = Rng::from_seed(9);
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted, "50 elements left in order by chance is 1/50!");
    }

    #[test]
    fn fork_is_deterministic_and_distinct_per_stream() {
        let mut a = Rng::from_seed(5);
        let mut b = Rng::from_seed(5);
        let (mut a1, mut b1) = (a.fork(1), b.fork(1));
        assert_eq!(a1.next_u64(), b1.next_u64());
        let mut a2 = a.fork(2);
        let mut b3 = b.fork(3);
        assert_ne!(a2.next_u64(), b3.next_u64());
    }

    #[test]
    fn draws_depend_on_seed_and_every_key_word_only() {
        let first = |seed, key: &[u64]| Draws::keyed(seed, key).next_u64();
        assert_eq!(first(1, &[2, 3, 4]), first(1, &[2, 3, 4]));
        let others = [first(2, &[2, 3, 4]), first(1, &[3, 3, 4]), first(1, &[2, 4, 4]), first(1, &[2, 3, 5])];
        let mut all = others.to_vec();
        all.push(first(1, &[2, 3, 4]));
        all.push(first(1, &[3, 2, 4]));
        all.push(first(1, &[2, 3]));
        all.push(first(1, &[2, 3, 4, 0]));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8, "every change of seed, key word, order or length gives other draws");
        assert_eq!(Draws::keyed(1, &[2]).then(3).then(4), Draws::keyed(1, &[2, 3, 4]));
    }

    #[test]
    fn keyed_draws_are_uniform_across_keys_and_along_a_stream() {
        // Across keys (one draw per message, as the network uses them) and along one key.
        let across = (0..40_000u64).filter(|&seq| Draws::keyed(7, &[1, 2, seq]).chance(0.25)).count();
        assert!((9_400..10_600).contains(&across), "{across}");
        let mut d = Draws::keyed(7, &[1, 2]);
        let mut seen = [0u32; 10];
        for _ in 0..20_000 {
            seen[d.below(10) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (1_800..2_200).contains(&n)), "{seen:?}");
        let mean = (0..20_000).map(|_| d.unit_f64()).sum::<f64>() / 20_000.0;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
