//! Marzullo's algorithm: the smallest interval consistent with the most time sources.
//!
//! Each source reports an interval that should contain the true offset. Sweeping the sorted
//! endpoints (lower before upper on ties, so touching intervals overlap) counts how many
//! sources agree at each point; the answer is the smallest interval where the most agree.

use serde::Serialize;

/// The result: the interval, how many sources agree with it and how many do not.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// Lower bound of the agreed interval.
    pub lower: i64,
    /// Upper bound of the agreed interval.
    pub upper: i64,
    /// Sources whose interval contains it ("true chimers").
    pub sources_true: usize,
    /// Sources that disagree ("false chimers").
    pub sources_false: usize,
}

/// The smallest interval consistent with the largest number of `sources` (each
/// `(lower, upper)`, lower ≤ upper); ties between equally supported intervals go to the
/// narrower. No sources: `[0, 0]` with nobody agreeing.
pub fn smallest_interval(sources: &[(i64, i64)]) -> Agreement {
    // (offset, 0 = lower / 1 = upper, source): sorting puts lower before upper on ties.
    let mut tuples: Vec<(i64, u8, usize)> = Vec::with_capacity(sources.len() * 2);
    for (i, &(lo, hi)) in sources.iter().enumerate() {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        tuples.push((lo, 0, i));
        tuples.push((hi, 1, i));
    }
    tuples.sort_unstable();
    let mut best = 0usize;
    let mut count = 0usize;
    let mut out = Agreement::default();
    for (i, &(offset, bound, _)) in tuples.iter().enumerate() {
        if bound == 0 {
            count += 1;
            let next = tuples.get(i + 1).map_or(offset, |t| t.0);
            if count > best {
                best = count;
                out.lower = offset;
                out.upper = next;
            } else if count == best && next - offset < out.upper - out.lower {
                // Equally many sources agree here: keep the narrower interval.
                out.lower = offset;
                out.upper = next;
            }
        } else {
            count -= 1;
        }
    }
    out.sources_true = best;
    out.sources_false = sources.len() - best;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One vector: sources, then the expected lower, upper, true and false counts.
    type Vector = (&'static [(i64, i64)], i64, i64, usize, usize);

    /// TigerBeetle's vectors (`src/vsr/marzullo.zig`).
    #[test]
    fn tigerbeetle_vectors() {
        let table: &[Vector] = &[
            (&[(11, 13), (10, 12), (8, 12)], 11, 12, 3, 0),
            (&[(8, 12), (11, 13), (14, 15)], 11, 12, 2, 1),
            (&[(-10, 10), (-1, 1), (0, 0)], 0, 0, 3, 0),
            // The first interval's upper bound touches the last one's lower bound.
            (&[(8, 12), (10, 11), (8, 10)], 10, 10, 3, 0),
            // Of two equally supported intervals the smaller wins (8..9, not 10..12).
            (&[(8, 12), (10, 12), (8, 9)], 8, 9, 2, 1),
            (&[(7, 9), (7, 12), (10, 11)], 10, 11, 2, 1),
            (&[(-9, -7), (-12, -7), (-11, -10)], -11, -10, 2, 1),
            (&[], 0, 0, 0, 0),
            (&[(1, 3)], 1, 3, 1, 0),
            (&[(1, 3), (2, 2)], 2, 2, 2, 0),
            (&[(1, 3), (4, 5)], 4, 5, 1, 1),
        ];
        for &(sources, lower, upper, t, f) in table {
            let got = smallest_interval(sources);
            assert_eq!(got, Agreement { lower, upper, sources_true: t, sources_false: f }, "{sources:?}");
        }
    }
}
