//! Exponential variates by the ziggurat method (Marsaglia and Tsang, "The Ziggurat Method
//! for Generating Random Variables", 2000), taking the layer and the abscissa from separate
//! bits of one draw as Doornik (2005) recommends.
//!
//! The density e^-x is covered by 256 layers of equal area: a base layer (a rectangle plus
//! the tail beyond [`R`]) and 255 rectangles stacked on it. A draw picks a layer and a point
//! across it; in about 99% of draws the point lies inside the part of its rectangle that is
//! wholly under the curve and is returned after one multiply and one compare, with no `ln`.
//! The rest either sample the tail (memoryless: `R` plus a fresh exponential) or accept the
//! point if a second draw falls under the curve. The result is exactly exponentially
//! distributed (up to floating point), the same distribution as inverting the CDF.

use palisade_core::Draws;
use std::sync::LazyLock;

/// Where the base layer's tail begins, for 256 layers (Marsaglia and Tsang's constant).
const R: f64 = 7.697_117_470_131_05;

/// The area of each layer: `R`'s rectangle under e^-R plus the tail, e^-R (R + 1).
const AREA: f64 = 0.003_949_659_822_581_557;

/// Layer `i` spans `[0, x[i])` between heights `f[i]` and `f[i + 1]`, where `f = e^-x`;
/// `x[0]` is the base layer's equivalent width (its area over its height), `x[1] = R`,
/// and `x[256] = 0`. `w[i]` is `x[i] / 2^53`, so 53 random bits times `w[i]` is a point
/// across layer `i` in one multiply (exactly as a uniform in [0, 1) times `x[i]`: the
/// scaling is by a power of two).
struct Tables {
    x: [f64; 257],
    f: [f64; 257],
    w: [f64; 257],
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut x = [0.0; 257];
    x[0] = AREA / (-R).exp();
    x[1] = R;
    for i in 1..255 {
        // The next layer up has the same area: x[i] (e^-x[i+1] - e^-x[i]) = AREA.
        x[i + 1] = -((-x[i]).exp() + AREA / x[i]).ln();
    }
    let f = x.map(|x| (-x).exp());
    let w = x.map(|x| x / (1u64 << 53) as f64);
    Tables { x, f, w }
});

/// One draw from the exponential distribution with mean 1.
#[inline(always)]
pub(crate) fn exp1(rng: &mut Draws) -> f64 {
    let t = &*TABLES;
    let (i, x) = layer_point(rng, t);
    // Inside the layer's rectangle, 97.8% of draws (the mean of x[i+1]/x[i]): inlined.
    if x < t.x[i + 1] { x } else { exp1_beyond(rng, t, i, x) }
}

/// A layer and a point across it from one 64-bit draw.
#[inline(always)]
fn layer_point(rng: &mut Draws, t: &Tables) -> (usize, f64) {
    let bits = rng.next_u64();
    let i = (bits & 0xff) as usize;
    // The top 53 bits, disjoint from the layer's 8.
    (i, (bits >> 11) as f64 * t.w[i])
}

/// The rest of [`exp1`] once a point `x` of layer `i` falls outside its rectangle: the
/// tail, a wedge, or a fresh draw. Out of line: rare.
#[cold]
#[inline(never)]
fn exp1_beyond(rng: &mut Draws, t: &Tables, mut i: usize, mut x: f64) -> f64 {
    loop {
        if i == 0 {
            return R - (1.0 - rng.unit_f64()).ln();
        }
        if t.f[i] + (t.f[i + 1] - t.f[i]) * rng.unit_f64() < (-x).exp() {
            return x;
        }
        (i, x) = layer_point(rng, t);
        if x < t.x[i + 1] {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layers_have_equal_areas_and_reach_the_peak() {
        let t = &*TABLES;
        assert!((AREA - (-R).exp() * (R + 1.0)).abs() < 1e-17);
        for i in 1..255 {
            let area = t.x[i] * (t.f[i + 1] - t.f[i]);
            assert!((area - AREA).abs() < 1e-12, "layer {i}: {area}");
        }
        // R and AREA are the pair for which the recurrence lands on the peak: the top
        // layer, from e^-x[255] up to e^0 = 1, has the same area as the others.
        assert_eq!((t.x[256], t.f[256]), (0.0, 1.0));
        let top = t.x[255] * (1.0 - t.f[255]);
        assert!((top - AREA).abs() < 1e-9, "top layer area {top}, width {}", t.x[255]);
    }

    #[test]
    fn draws_are_exponential_in_the_body_the_wedges_and_the_tail() {
        // A chi-square test on 800 bins of width 0.01 over [0, 8) and one beyond, against
        // the exact CDF 1 - e^-x: 801 bins, so the statistic has mean 800 and standard
        // deviation 40 for a correct sampler. Wrong wedges (every wedge point accepted) or
        // a wrong tail put it in the thousands.
        const N: usize = 2_000_000;
        const BINS: usize = 800;
        let mut rng = Draws::keyed(7, &[]);
        let mut counts = [0u64; BINS + 1];
        let (mut sum, mut tail, mut tail_excess) = (0.0, 0u64, 0.0);
        for _ in 0..N {
            let x = exp1(&mut rng);
            assert!(x >= 0.0 && x.is_finite());
            sum += x;
            counts[((x * 100.0) as usize).min(BINS)] += 1;
            if x > R {
                tail += 1;
                tail_excess += x - R;
            }
        }
        let cdf = |x: f64| 1.0 - (-x).exp();
        let chi2: f64 = (0..=BINS)
            .map(|b| {
                let hi = if b == BINS { 1.0 } else { cdf((b + 1) as f64 / 100.0) };
                let expected = (hi - cdf(b as f64 / 100.0)) * N as f64;
                (counts[b] as f64 - expected).powi(2) / expected
            })
            .sum();
        assert!(chi2 < 800.0 + 5.0 * 40.0, "chi-square {chi2:.0} on 800 degrees of freedom");
        let mean = sum / N as f64;
        assert!((mean - 1.0).abs() < 5.0 / (N as f64).sqrt(), "mean {mean}");
        // The tail beyond R: about N e^-R = 908 draws, whose excess over R is again
        // exponential with mean 1.
        let expected = N as f64 * (-R).exp();
        assert!(
            (tail as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "{tail} beyond R, {expected:.0} expected"
        );
        let excess = tail_excess / tail as f64;
        assert!((excess - 1.0).abs() < 5.0 / (tail as f64).sqrt(), "mean excess {excess}");
    }
}
