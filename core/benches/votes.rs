//! Vote costs. `cargo bench -p palisade-core --bench votes`
//!
//! * collecting a quorum of 67 votes out of n = 100 (each verified once);
//! * verifying a 67-vote quorum certificate;
//! * a duplicate vote (recognised without a second verification).

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_core::NodeId;
use palisade_core::quorum::{QuorumKind, QuorumSystem, Vote, VoteCollector, test_key, test_keyring};
use std::hint::black_box;

fn votes(c: &mut Criterion) {
    let n = 100u32;
    let ring = test_keyring(1, (1..=n).map(NodeId));
    let system = QuorumSystem::new(QuorumKind::Dissemination, n as usize, 33).unwrap();
    let votes: Vec<Vote> = (1..=system.quorum() as u32)
        .map(|i| Vote::sign(&test_key(1, NodeId(i)), 9, 1, NodeId(i), vec![7; 32]))
        .collect();
    c.bench_function("votes/collect_quorum_67_of_100", |b| {
        b.iter(|| {
            let mut col = VoteCollector::new(9, 1, system);
            for v in &votes {
                black_box(col.add(&ring, v.clone()));
            }
            black_box(col.certificate())
        })
    });
    let mut col = VoteCollector::new(9, 1, system);
    for v in &votes {
        col.add(&ring, v.clone());
    }
    let qc = col.certificate().unwrap();
    c.bench_function("votes/verify_certificate_67", |b| b.iter(|| black_box(&qc).verify(&ring, &system)));
    c.bench_function("votes/duplicate_vote", |b| b.iter(|| black_box(col.add(&ring, votes[0].clone()))));
}

criterion_group!(benches, votes);
criterion_main!(benches);
