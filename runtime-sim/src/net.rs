//! The simulated network: per directed link latency (with long tails), independent loss,
//! duplication, reordering or FIFO, and partitions.

mod ziggurat;

use palisade_core::{Draws, NodeId};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// No sampled delay exceeds this: one hour. Long-tailed distributions are cut here so a
/// single draw cannot push a message past the end of any sensible run by centuries.
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// The sub-key of a message's draws that decides its duplication and the second copy's
/// delay.
const DUPLICATE_STREAM: u64 = 1;

/// How long a message spends on a link.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always exactly this long.
    Constant(Duration),
    /// Uniformly distributed in `[lo, hi)`.
    Uniform {
        /// Shortest delay.
        lo: Duration,
        /// Upper bound (exclusive).
        hi: Duration,
    },
    /// `min` plus an exponentially distributed part with mean `mean`.
    Exponential {
        /// Propagation floor.
        min: Duration,
        /// Mean of the exponential part.
        mean: Duration,
    },
    /// `min` plus a log-normal part with the given median and σ of the underlying normal:
    /// the usual shape of real RPC latencies (a body and a long tail), cut at `max`.
    LogNormal {
        /// Propagation floor.
        min: Duration,
        /// Median of the log-normal part.
        median: Duration,
        /// Standard deviation of ln(delay); 1.0 gives p99 ≈ 10× median.
        sigma: f64,
        /// The longest delay: a draw beyond it is delivered at `max` (clamped, not redrawn;
        /// a `max` below `min` counts as `min`). [`MAX_LATENCY`] leaves
        /// the tail unbounded (an asynchronous link); a smaller value is the bound Δ that a
        /// partially synchronous model promises after GST, which the protocol does not know.
        max: Duration,
    },
    /// Pareto with the given scale (the minimum) and shape α: heavy-tailed, infinite
    /// variance for α ≤ 2.
    Pareto {
        /// Minimum delay.
        scale: Duration,
        /// Tail index α > 0; smaller is heavier.
        shape: f64,
    },
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// [`MAX_LATENCY`] in nanoseconds.
const MAX_LATENCY_NS: u64 = MAX_LATENCY.as_secs() * 1_000_000_000;

/// A delay of `s` seconds in nanoseconds, cut to `[0, MAX_LATENCY]`: exactly
/// `Duration::try_from_secs_f64(s)` (nearest nanosecond, ties to even) below the cut, and
/// [`MAX_LATENCY`] above it and for infinities; zero for NaN and negatives. Without
/// `Duration`'s general conversion: a delay is drawn for every simulated message, and std's
/// conversion (which handles every `f64` up to `u64::MAX` seconds) cost more than the draw.
/// Tested equal to std's on every kind of input.
#[inline]
fn clamp_ns(s: f64) -> u64 {
    if s.is_nan() || s <= 0.0 {
        return 0;
    }
    if s >= MAX_LATENCY.as_secs() as f64 {
        return MAX_LATENCY_NS;
    }
    // The fast path: below 3600 s, `y = s × 10^9` is under 2^42, so the product rounded to
    // f64 is within half an ulp (at most 2^-12 ns) of the exact one, and `t = y + 0.5` within
    // 2^-11 < 10^-3 of the exact product plus one half. Unless `t`'s fraction lies within
    // 10^-3 of an integer (the product's within 10^-3 of one half), no error can cross an
    // integer, so `t` truncates to the exact product's nearest integer. Its integer part
    // fits an `i64`, whose conversions are single instructions (a `u64`'s are not), and
    // the check is off the result's path (no branch on the fraction, which is a coin
    // toss). Otherwise, the exact method below.
    let t = s * 1e9 + 0.5;
    let whole = t as i64;
    if ((t - whole as f64) - 0.5).abs() < 0.5 - 1e-3 {
        return (whole as u64).min(MAX_LATENCY_NS);
    }
    clamp_ns_exactly(s)
}

/// [`clamp_ns`] for `0 < s < 3600` by exact integer arithmetic. Out of line: about one
/// delay in 500 comes here.
#[cold]
#[inline(never)]
fn clamp_ns_exactly(s: f64) -> u64 {
    // s = mantissa × 2^exp exactly, with 0 < s < 3600 < 2^12, so exp < 0 for normal
    // numbers; the nanoseconds are mantissa × 10^9 / 2^-exp, rounded to nearest, ties to even.
    let bits = s.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let (mantissa, exp) = if biased == 0 {
        (bits & ((1 << 52) - 1), -1074) // subnormal
    } else {
        ((bits & ((1 << 52) - 1)) | (1 << 52), biased - 1075)
    };
    let shift = (-exp) as u32;
    if shift >= 128 {
        return 0; // below 2^-75 s: far under half a nanosecond
    }
    let scaled = u128::from(mantissa) * 1_000_000_000;
    let ns = scaled >> shift;
    let rest = scaled & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    let up = rest > half || (rest == half && ns & 1 == 1);
    (ns as u64 + u64::from(up)).min(MAX_LATENCY_NS)
}

impl Latency {
    /// A uniform latency in `[lo, hi)`.
    pub fn uniform(lo: Duration, hi: Duration) -> Self {
        Latency::Uniform { lo, hi }
    }

    /// Draws one delay.
    pub fn sample(&self, rng: &mut Draws) -> Duration {
        Duration::from_nanos(self.sample_ns(rng))
    }

    /// Draws one delay, in nanoseconds: [`Latency::sample`] without building a
    /// `Duration` (the simulator draws one for every message, and works in nanoseconds).
    // Inlined into `fate`, and `fate` into the simulator's send: 0.98x an event's time.
    #[inline(always)]
    pub fn sample_ns(&self, rng: &mut Draws) -> u64 {
        match *self {
            Latency::Constant(d) => nanos(d).min(MAX_LATENCY_NS),
            Latency::Uniform { lo, hi } => rng.range(nanos(lo), nanos(hi)).min(MAX_LATENCY_NS),
            // By the ziggurat method: no `ln` in 99% of draws.
            Latency::Exponential { min, mean } => clamp_ns(secs(min) + secs(mean) * ziggurat::exp1(rng)),
            Latency::LogNormal { min, median, sigma, max } => {
                // Box-Muller: one standard normal from two uniforms.
                let (u1, u2) = (1.0 - rng.unit_f64(), rng.unit_f64());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                clamp_ns(secs(min) + secs(median) * (sigma * z).exp()).min(nanos(max.max(min)))
            }
            Latency::Pareto { scale, shape } => {
                let u = 1.0 - rng.unit_f64(); // (0, 1]
                clamp_ns(secs(scale) / u.powf(1.0 / shape.max(1e-9)))
            }
        }
    }

    /// The largest delay this distribution can produce ([`MAX_LATENCY`] for unbounded ones).
    pub fn max(&self) -> Duration {
        match *self {
            Latency::Constant(d) => d.min(MAX_LATENCY),
            Latency::Uniform { lo, hi } => hi.max(lo).min(MAX_LATENCY),
            Latency::LogNormal { min, max, .. } => max.max(min).min(MAX_LATENCY),
            _ => MAX_LATENCY,
        }
    }

    /// The smallest delay this distribution can produce.
    pub fn min(&self) -> Duration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { lo, hi } => lo.min(hi),
            Latency::Exponential { min, .. } | Latency::LogNormal { min, .. } => min,
            Latency::Pareto { scale, .. } => scale,
        }
    }
}

/// A link's capacity: a transmit queue drained at a fixed rate. A burst larger than the
/// link can carry waits in the queue (queueing delay grows), and once the queue is full
/// further messages are dropped (tail drop): congestion as DDIA describes it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Bandwidth {
    /// Transmission rate in bytes per second.
    pub bytes_per_sec: u64,
    /// Largest backlog in bytes; a message that would exceed it is dropped.
    pub queue_bytes: u64,
}

/// Bytes each message costs on a bandwidth-limited link beyond its encoding (roughly the
/// IP, TCP and framing headers).
pub const FRAME_OVERHEAD_BYTES: u64 = 64;

/// The behaviour of one directed link.
#[derive(Copy, Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// One-way delay.
    pub latency: Latency,
    /// Probability that a message is lost, independently per message, in `[0, 1]`.
    pub loss: f64,
    /// Probability that a delivered message is delivered a second time (with its own delay).
    pub duplicate: f64,
    /// Deliver in send order, like one TCP connection: a message never overtakes an
    /// earlier one on the same link. Otherwise random delays reorder messages.
    pub fifo: bool,
    /// Capacity, or `None` for unlimited.
    pub bandwidth: Option<Bandwidth>,
}

impl LinkConfig {
    palisade_core::__config_setters! {
        latency: Latency,
        loss: f64,
        duplicate: f64,
        fifo: bool,
        bandwidth: Option<Bandwidth>,
    }
}

impl LinkConfig {
    /// A link with this latency and nothing else wrong with it.
    pub fn with_latency(latency: Latency) -> Self {
        LinkConfig { latency, loss: 0.0, duplicate: 0.0, fifo: false, bandwidth: None }
    }
}

impl Default for LinkConfig {
    /// A LAN-like link: 1-5 ms, no loss, no duplication, reordering allowed.
    fn default() -> Self {
        Self::with_latency(Latency::Uniform { lo: Duration::from_millis(1), hi: Duration::from_millis(5) })
    }
}

/// What the network decided for one message: the delays of each copy delivered, in
/// nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Delivered once after this many nanoseconds.
    Deliver(u64),
    /// Delivered twice, after each of these delays (ns).
    Duplicate(u64, u64),
    /// Lost on the link.
    Lost,
    /// The link is cut by a partition.
    Partitioned,
    /// The link's transmit queue is full (tail drop).
    Congested,
}

/// A set of cut directed links. Jepsen's partition shapes are constructors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partition {
    /// Directed links `(from, to)` on which nothing is delivered.
    pub cut: BTreeSet<(NodeId, NodeId)>,
}

impl Partition {
    /// Cuts every link between a node of `a` and a node of `b`, both ways.
    pub fn between(a: &[NodeId], b: &[NodeId]) -> Self {
        let mut cut = BTreeSet::new();
        for &x in a {
            for &y in b {
                if x != y {
                    cut.insert((x, y));
                    cut.insert((y, x));
                }
            }
        }
        Partition { cut }
    }

    /// `node` can neither send to nor hear from anyone else.
    pub fn isolate(node: NodeId, all: &[NodeId]) -> Self {
        Self::between(&[node], all)
    }

    /// The first ⌊n/2⌋ nodes against the rest.
    pub fn halves(all: &[NodeId]) -> Self {
        let (a, b) = all.split_at(all.len() / 2);
        Self::between(a, b)
    }

    /// Jepsen's majorities ring: every node hears a majority (itself and the next ⌊n/2⌋
    /// nodes round the ring) but no two nodes hear the same majority. Links are cut
    /// one way where needed, as Jepsen's grudges are.
    pub fn majorities_ring(all: &[NodeId]) -> Self {
        let n = all.len();
        let m = n / 2;
        let mut cut = BTreeSet::new();
        for (i, &hearer) in all.iter().enumerate() {
            for (j, &sender) in all.iter().enumerate() {
                let ahead = (j + n - i) % n; // how far round the ring `sender` is from `hearer`
                if ahead > m {
                    cut.insert((sender, hearer));
                }
            }
        }
        Partition { cut }
    }

    /// Two halves that can only talk through one bridge node (the middle one), which
    /// hears and is heard by both sides.
    pub fn bridge(all: &[NodeId]) -> Self {
        let mid = all.len() / 2;
        let (a, rest) = all.split_at(mid);
        let b = rest.get(1..).unwrap_or(&[]);
        Self::between(a, b)
    }

    /// `to` hears nothing from `from`; `from` still hears `to` (an asymmetric partition).
    pub fn one_way(from: NodeId, to: NodeId) -> Self {
        Partition { cut: [(from, to)].into_iter().collect() }
    }

    /// True when messages from `from` to `to` are cut.
    #[inline]
    pub fn blocks(&self, from: NodeId, to: NodeId) -> bool {
        self.cut.contains(&(from, to))
    }
}

/// Every directed link: a default plus per-link overrides, and the partition in force.
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// Applies to every link without an override.
    pub default: LinkConfig,
    /// Per directed link `(from, to)`.
    pub links: BTreeMap<(NodeId, NodeId), LinkConfig>,
    /// Links currently cut.
    pub partition: Partition,
    /// While set, every link behaves like this instead of its own configuration.
    pub degraded: Option<LinkConfig>,
    /// While set, every link duplicates at least this share of messages.
    pub duplicating: Option<f64>,
    /// Latest delivery time (ns) scheduled per FIFO link, so later messages never overtake.
    fifo_tail: BTreeMap<(NodeId, NodeId), u64>,
    /// When each bandwidth-limited link finishes transmitting its backlog (true ns).
    tx_free_at: BTreeMap<(NodeId, NodeId), u64>,
}

impl Network {
    /// Every link behaves like `link`.
    pub fn uniform(link: LinkConfig) -> Self {
        Network { default: link, ..Network::default() }
    }

    /// The longest delay any configured link's latency can produce: the bound Δ of a
    /// partially synchronous network after GST ([`MAX_LATENCY`] when some link's tail is
    /// unbounded). Faults (degraded links, partitions) are not counted: they end at GST.
    /// Nor is queueing on a bandwidth-limited link, which depends on the load.
    pub fn max_delay(&self) -> Duration {
        self.links.values().chain([&self.default]).map(|l| l.latency.max()).max().unwrap_or_default()
    }

    /// The configuration of the directed link `from → to` in force now.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        self.degraded.as_ref().unwrap_or_else(|| self.links.get(&(from, to)).unwrap_or(&self.default))
    }

    /// Decides the fate of one message sent on `from → to` at true time `now_ns` from
    /// `draws`, the message's own key (the simulator keys it by link, send time and index
    /// among the sender's sends at that time), so that its fate does not depend on what
    /// other messages were sent. Loss and the delay come from the key's stream, in that
    /// order, and duplication from a sub-stream of its own, so that no change of loss or
    /// duplication rate moves another decision's draws. `size` gives the message's encoded
    /// length; it is only called for bandwidth-limited links.
    #[inline(always)]
    pub fn fate(
        &mut self,
        from: NodeId,
        to: NodeId,
        now_ns: u64,
        size: impl FnOnce() -> usize,
        draws: &Draws,
    ) -> Fate {
        if self.partition.blocks(from, to) {
            return Fate::Partitioned;
        }
        // Borrowed, not copied: the fields below that change are others.
        let link = match &self.degraded {
            Some(l) => l,
            None if self.links.is_empty() => &self.default,
            None => self.links.get(&(from, to)).unwrap_or(&self.default),
        };
        let mut queued_ns = 0;
        if let Some(bw) = link.bandwidth {
            let bps = u128::from(bw.bytes_per_sec.max(1));
            let bytes = size() as u64 + FRAME_OVERHEAD_BYTES;
            let free = self.tx_free_at.get(&(from, to)).copied().unwrap_or(0).max(now_ns);
            let backlog = u128::from(free - now_ns) * bps / 1_000_000_000;
            if backlog + u128::from(bytes) > u128::from(bw.queue_bytes) {
                return Fate::Congested;
            }
            let tx_ns = (u128::from(bytes) * 1_000_000_000).div_ceil(bps);
            let done = free.saturating_add(u64::try_from(tx_ns).unwrap_or(u64::MAX));
            self.tx_free_at.insert((from, to), done);
            queued_ns = done - now_ns;
        }
        let mut main = draws.clone();
        // Always drawn, so the delay's draws are the same whatever the loss rate.
        if main.unit_f64() < link.loss {
            return Fate::Lost;
        }
        let first = queued_ns.saturating_add(link.latency.sample_ns(&mut main));
        let duplicate = self.duplicating.map_or(link.duplicate, |d| d.max(link.duplicate));
        let second = if duplicate > 0.0 {
            let mut extra = draws.then(DUPLICATE_STREAM);
            (extra.unit_f64() < duplicate)
                .then(|| queued_ns.saturating_add(link.latency.sample_ns(&mut extra)))
        } else {
            None
        };
        let (first, second) = if link.fifo {
            let tail = self.fifo_tail.entry((from, to)).or_insert(0);
            let mut order = |d: u64| {
                let at = now_ns.saturating_add(d).max(*tail);
                *tail = at;
                at - now_ns
            };
            let f = order(first);
            (f, second.map(&mut order))
        } else {
            (first, second)
        };
        match second {
            Some(s) => Fate::Duplicate(first, s),
            None => Fate::Deliver(first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> Vec<NodeId> {
        (1..=n).map(NodeId).collect()
    }

    fn reachable(p: &Partition, all: &[NodeId], x: NodeId) -> usize {
        all.iter().filter(|&&y| y == x || !p.blocks(x, y)).count()
    }

    /// What `clamp` did before it had its own conversion: std's, cut at the maximum.
    fn std_clamp(s: f64) -> Duration {
        if s.is_nan() || s <= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(s).unwrap_or(MAX_LATENCY).min(MAX_LATENCY)
        }
    }

    #[test]
    fn the_fast_conversion_is_std_s_on_every_kind_of_input() {
        let mut rng = palisade_core::Rng::from_seed(5);
        let mut cases = vec![
            0.0,
            -0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            5e-10,
            1.5e-9,
            2.5e-9,
            3_599.999_999_999_5,
            3600.0,
            3_600.000_000_1,
            1e300,
        ];
        // Exact ties (a power of two of a second lands on half a nanosecond) and their
        // neighbours, which round the other way.
        for k in 1..=60 {
            let t = 2f64.powi(-k);
            cases.extend([t, f64::from_bits(t.to_bits() + 1), f64::from_bits(t.to_bits() - 1)]);
            cases.extend((1..40).map(|m| f64::from(m) * t));
        }
        // Random bit patterns over every exponent that matters, and uniform seconds.
        for _ in 0..200_000 {
            let exp = 1023 - 40 + rng.below(52); // 2^-40 s to 2^11 s
            cases.push(f64::from_bits((exp << 52) | (rng.next_u64() >> 12)));
            cases.push(rng.unit_f64() * 4000.0);
            cases.push(rng.unit_f64() * 1e-6);
        }
        // Either side of the fast path's margin: products whose fraction is near one half,
        // and their neighbouring floats.
        for _ in 0..20_000 {
            let k = rng.below(3_600_000_000_000) as f64;
            for d in [0.0, 1e-5, 2e-4, 5e-4, 9.9e-4, 1e-3, 1.01e-3, 2e-3, 0.1] {
                for s in [(k + 0.5 + d) / 1e9, (k + 0.5 - d) / 1e9] {
                    cases.extend([s, f64::from_bits(s.to_bits() + 1), f64::from_bits(s.to_bits() - 1)]);
                }
            }
        }
        // The last floats below the cut, where the product's ulp is largest.
        let cut = MAX_LATENCY.as_secs() as f64;
        cases.extend((1..2_000).map(|u| f64::from_bits(cut.to_bits() - u)));
        for s in cases {
            assert_eq!(Duration::from_nanos(clamp_ns(s)), std_clamp(s), "{s:e} ({:#x})", s.to_bits());
        }
    }

    #[test]
    fn one_way_partition_blocks_one_direction_only() {
        let p = Partition::one_way(NodeId(1), NodeId(2));
        assert!(p.blocks(NodeId(1), NodeId(2)));
        assert!(!p.blocks(NodeId(2), NodeId(1)));
    }

    #[test]
    fn isolate_and_halves_and_bridge_have_their_shapes() {
        let all = ids(5);
        let iso = Partition::isolate(NodeId(3), &all);
        assert_eq!(reachable(&iso, &all, NodeId(3)), 1);
        assert_eq!(reachable(&iso, &all, NodeId(1)), 4);
        let halves = Partition::halves(&all);
        assert_eq!(reachable(&halves, &all, NodeId(1)), 2);
        assert_eq!(reachable(&halves, &all, NodeId(5)), 3);
        let bridge = Partition::bridge(&all);
        assert_eq!(reachable(&bridge, &all, NodeId(3)), 5, "the bridge sees everyone");
        assert_eq!(reachable(&bridge, &all, NodeId(1)), 3);
        assert!(bridge.blocks(NodeId(1), NodeId(5)) && !bridge.blocks(NodeId(1), NodeId(3)));
    }

    #[test]
    fn majorities_ring_gives_every_node_a_different_majority() {
        for n in [3u32, 5, 7] {
            let all = ids(n);
            let p = Partition::majorities_ring(&all);
            let mut views = BTreeSet::new();
            for &x in &all {
                let view: BTreeSet<_> = all.iter().copied().filter(|&y| y == x || !p.blocks(y, x)).collect();
                assert!(view.len() as u32 > n / 2, "n={n}: {x} sees {view:?}");
                views.insert(view);
            }
            assert_eq!(views.len() as u32, n, "n={n}: majorities must differ");
        }
    }

    #[test]
    fn fifo_link_never_reorders_and_plain_link_does() {
        let link = |fifo| LinkConfig {
            fifo,
            ..LinkConfig::with_latency(Latency::uniform(Duration::ZERO, Duration::from_millis(50)))
        };
        for fifo in [true, false] {
            let mut net = Network::uniform(link(fifo));
            let mut arrivals = Vec::new();
            for t in 0..200u64 {
                let now = t * 1_000_000;
                if let Fate::Deliver(d) = net.fate(NodeId(1), NodeId(2), now, || 10, &Draws::keyed(1, &[t])) {
                    arrivals.push(now + d);
                }
            }
            let sorted = arrivals.windows(2).all(|w| w[0] <= w[1]);
            assert_eq!(sorted, fifo, "fifo={fifo}");
        }
    }

    #[test]
    fn long_tailed_latencies_have_their_shape() {
        let mut rng = Draws::keyed(2, &[]);
        let median_of = |l: &Latency, rng: &mut Draws| {
            let mut v: Vec<_> = (0..10_001).map(|_| l.sample(rng)).collect();
            v.sort();
            (v[5_000], v[9_900])
        };
        let ms = Duration::from_millis;
        let (p50, p99) = median_of(
            &Latency::LogNormal { min: ms(1), median: ms(10), sigma: 1.0, max: MAX_LATENCY },
            &mut rng,
        );
        assert!(p50 > ms(10) && p50 < ms(12), "{p50:?}");
        assert!(p99 > ms(80) && p99 < ms(130), "{p99:?}"); // e^2.326 ≈ 10.2
        let (p50, _) = median_of(&Latency::Exponential { min: ms(0), mean: ms(10) }, &mut rng);
        assert!(p50 > ms(6) && p50 < ms(8), "{p50:?}"); // ln 2 · mean
        let (p50, p99) = median_of(&Latency::Pareto { scale: ms(1), shape: 1.5 }, &mut rng);
        assert!(p50 > ms(1) && p50 < ms(2), "{p50:?}"); // 2^(1/1.5) ≈ 1.59
        assert!(p99 > ms(15) && p99 < ms(30), "{p99:?}"); // 100^(1/1.5) ≈ 21.5
    }

    #[test]
    fn a_cut_tail_never_exceeds_its_bound_and_leaves_the_body_alone() {
        let ms = Duration::from_millis;
        let uncut = Latency::LogNormal { min: ms(20), median: ms(60), sigma: 0.8, max: MAX_LATENCY };
        let cut = Latency::LogNormal { min: ms(20), median: ms(60), sigma: 0.8, max: ms(200) };
        let (mut a, mut b) = (Draws::keyed(9, &[]), Draws::keyed(9, &[]));
        let mut beyond = 0;
        for _ in 0..100_000 {
            let (x, y) = (uncut.sample(&mut a), cut.sample(&mut b));
            assert_eq!(y, x.min(ms(200)), "the cut changes only what lies beyond it");
            beyond += usize::from(x > ms(200));
        }
        assert!(beyond > 100, "the uncut tail goes past the bound ({beyond} of 100000)");
        assert_eq!(cut.max(), ms(200));
        assert_eq!(uncut.max(), MAX_LATENCY);
        let mut net = Network::uniform(LinkConfig::with_latency(Latency::uniform(ms(1), ms(10))));
        assert_eq!(net.max_delay(), ms(10));
        net.links.insert((NodeId(1), NodeId(2)), LinkConfig::with_latency(cut));
        assert_eq!(net.max_delay(), ms(200));
    }

    #[test]
    fn a_burst_queues_then_drops_on_a_bandwidth_limited_link() {
        // 1 MB/s, 10 kB queue, 1 ms propagation; 1000-byte messages take 1.064 ms each.
        let mut net = Network::uniform(LinkConfig {
            bandwidth: Some(Bandwidth { bytes_per_sec: 1_000_000, queue_bytes: 10_000 }),
            ..LinkConfig::with_latency(Latency::Constant(Duration::from_millis(1)))
        });
        let fates: Vec<Fate> =
            (0..20).map(|k| net.fate(NodeId(1), NodeId(2), 0, || 1000, &Draws::keyed(4, &[k]))).collect();
        let delays: Vec<u64> = fates
            .iter()
            .filter_map(|f| match f {
                Fate::Deliver(d) => Some(*d),
                _ => None,
            })
            .collect();
        // Queueing delay grows by one transmission time per message...
        assert!(delays.windows(2).all(|w| w[1] - w[0] == 1_064_000), "{delays:?}");
        // ...until the backlog exceeds the queue, and the rest of the burst is dropped.
        // 9 · 1064 bytes fit in the 10 kB queue; the 10th would not.
        assert_eq!(delays.len(), 9);
        assert!(fates[9..].iter().all(|f| *f == Fate::Congested));
        // Once the queue has drained, the link carries traffic again at the base delay.
        assert_eq!(
            net.fate(NodeId(1), NodeId(2), 1_000_000_000, || 1000, &Draws::keyed(4, &[20])),
            Fate::Deliver(2_064_000)
        );
    }

    #[test]
    fn duplication_happens_at_its_rate() {
        let mut net = Network::uniform(LinkConfig { duplicate: 0.1, ..LinkConfig::default() });
        let dups = (0..10_000)
            .filter(|&k| {
                matches!(
                    net.fate(NodeId(1), NodeId(2), 0, || 10, &Draws::keyed(3, &[k])),
                    Fate::Duplicate(..)
                )
            })
            .count();
        assert!((900..1100).contains(&dups), "{dups}");
    }
}
