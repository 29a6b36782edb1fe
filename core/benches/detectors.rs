//! Detector step costs. `cargo bench -p palisade-core --bench detectors`
//!
//! * phi accrual `heartbeat` (record an interval and recompute the deadline) and `phi`;
//! * one SWIM message step (a ping handled and its ack drained) in a 1000-member cluster.

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_core::detector::swim::{Swim, SwimConfig, SwimMsg};
use palisade_core::detector::{Detector, PhiAccrual, PhiConfig};
use palisade_core::protocol::{Init, Protocol, drain};
use palisade_core::{Instant, NodeId, Now, WallTime};
use std::hint::black_box;
use std::time::Duration;

fn phi(c: &mut Criterion) {
    let mut d = PhiAccrual::new(&PhiConfig::default(), Instant::ZERO);
    let mut t = Instant::ZERO;
    for i in 0..2_000u64 {
        t += Duration::from_millis(950 + i % 100);
        d.heartbeat(t);
    }
    c.bench_function("phi_accrual/heartbeat", |b| {
        b.iter(|| {
            t += Duration::from_millis(1000);
            d.heartbeat(black_box(t));
        })
    });
    let probe = t + Duration::from_millis(1500);
    c.bench_function("phi_accrual/phi", |b| b.iter(|| black_box(&d).phi_at(black_box(probe))));
}

fn swim(c: &mut Criterion) {
    let members: Vec<NodeId> = (1..=1000).map(NodeId).collect();
    let now = Now::new(Instant::ZERO + Duration::from_secs(1), WallTime::UNIX_EPOCH);
    let mut node = Swim::new(Init::fresh(NodeId(1), members, SwimConfig::default(), 7, now));
    drain(&mut node, |_| {});
    let mut seq = 0u64;
    c.bench_function("swim/ping_step_1000_members", |b| {
        b.iter(|| {
            seq += 1;
            node.handle_message(
                now,
                NodeId(2 + (seq % 999) as u32),
                SwimMsg::Ping { seq, updates: Vec::new() },
            );
            drain(&mut node, |o| {
                black_box(o);
            });
        })
    });
}

criterion_group!(benches, phi, swim);
criterion_main!(benches);
