//! Clock costs. `cargo bench -p palisade-core --bench clocks`
//!
//! * HLC `now` (send) and `receive`;
//! * version-vector `compare` of two 100-entry vectors that differ in the last entry.

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_core::clock::{Hlc, HlcTimestamp, VersionVector};
use palisade_core::{NodeId, WallTime};
use std::hint::black_box;
use std::time::Duration;

fn hlc(c: &mut Criterion) {
    let mut clock = Hlc::new(Duration::from_millis(500));
    let mut pt = 1_000_000_000i64;
    c.bench_function("hlc/send", |b| {
        b.iter(|| {
            pt += 1_000;
            black_box(clock.now(WallTime::from_unix_nanos(black_box(pt))))
        })
    });
    c.bench_function("hlc/receive", |b| {
        b.iter(|| {
            pt += 1_000;
            let remote = HlcTimestamp { l: pt - 500, c: 3 };
            black_box(clock.receive(black_box(remote), WallTime::from_unix_nanos(pt)))
        })
    });
}

fn version_vectors(c: &mut Criterion) {
    let mut a = VersionVector::new();
    for n in 0..100u32 {
        for _ in 0..(n % 7 + 1) {
            a.increment(NodeId(n));
        }
    }
    let mut b = a.clone();
    b.increment(NodeId(99));
    c.bench_function("version_vector/compare_100", |bench| {
        bench.iter(|| black_box(&a).compare(black_box(&b)))
    });
}

criterion_group!(benches, hlc, version_vectors);
criterion_main!(benches);
