//! Byzantine voting in the simulator: Bracha broadcast holds within the bound, breaks
//! beyond it, and the checkers see both.

use palisade::core::NodeId;
use palisade::core::quorum::bracha::BrachaEvent;
use palisade::scenarios::bracha::simulation;
use palisade::scenarios::violations;
use std::time::Duration;

#[test]
fn bracha_holds_with_an_equivocating_sender_within_the_bound() {
    assert_eq!(violations("bracha", 12), vec![]);
    assert_eq!(violations("bracha-7", 8), vec![]);
}

#[test]
fn two_equivocators_sharing_a_plan_within_the_bound_are_both_caught_and_agreement_holds() {
    // Seeds ≡ 4 mod 5 of bracha-7: n1 and n2 each lie about their own instance along the
    // same split and back each other's lies. Both are proven to equivocate; nothing breaks.
    for seed in [4, 9, 14] {
        let mut sim = simulation(seed, 7, 2, 2);
        assert_eq!(sim.run_for(Duration::from_secs(30)).violation, None, "seed {seed}");
        let w = sim.world();
        for culprit in [NodeId(1), NodeId(2)] {
            let caught = w.history().iter().any(|o| {
                w.is_honest(o.node)
                    && matches!(&o.event, BrachaEvent::Equivocation { evidence, .. } if evidence.culprit() == culprit)
            });
            assert!(caught, "seed {seed}: no evidence against {culprit}");
        }
    }
}

#[test]
fn beyond_the_bound_two_colluders_split_the_correct_nodes() {
    let v = violations("bracha-beyond", 10);
    assert_eq!(v.len(), 10, "{v:?}");
    assert!(v.iter().all(|(_, c)| *c == "bracha::agreement"));
}

#[test]
fn no_sender_is_counted_twice_and_forgeries_are_rejected() {
    use palisade::scenarios::bracha::BROADCASTS;
    let mut sim = simulation(3, 4, 1, 1);
    assert_eq!(sim.run_for(Duration::from_secs(40)).violation, None);
    let w = sim.world();
    for (id, node) in w.running().filter(|(id, _)| w.is_honest(*id)) {
        for sender in (1..=4).map(NodeId) {
            for instance in 1..=BROADCASTS {
                let value = node.delivered(sender, instance).expect("every instance delivered").to_vec();
                let (echoes, readies) = node.counts((sender, instance), &value);
                assert!(echoes <= 4 && readies <= 4, "{id}: {echoes} echoes, {readies} readies from 4 nodes");
            }
        }
    }
    // Evidence against n1, for each of its broadcasts, reached every correct node.
    let accused: std::collections::BTreeSet<(NodeId, u64)> = w
        .history()
        .iter()
        .filter_map(|o| match &o.event {
            BrachaEvent::Equivocation { sender: NodeId(1), instance, .. } if w.is_honest(o.node) => {
                Some((o.node, *instance))
            }
            _ => None,
        })
        .collect();
    assert_eq!(accused.len(), 3 * BROADCASTS as usize, "{accused:?}");
}

#[test]
fn byzantine_registers_hold_within_the_bound_and_break_beyond_it() {
    assert_eq!(violations("bft-register", 15), vec![]);
    assert_eq!(violations("bft-register-signed", 8), vec![]);
    let v = violations("bft-register-beyond", 10);
    assert_eq!(v.len(), 10, "{v:?}");
    assert!(v.iter().all(|(_, c)| *c == "register::never_a_value_nobody_wrote"));
}

#[test]
fn two_liars_in_a_signed_register_of_four_cause_stale_reads() {
    // Signatures stop forgeries, but two liars out of four leave a read quorum of three
    // with a single honest, possibly outdated, answer: the stale-read check must fire.
    // A lossy network lets a write complete on the two liars and one honest server while
    // its copy to the other honest server is lost.
    use palisade::core::quorum::{QuorumKind, QuorumSystem};
    use palisade::scenarios::bft_register::simulation;
    use palisade::sim::{Fault, LinkConfig};
    let failing = (1..=20u64).find_map(|seed| {
        let system = QuorumSystem::new(QuorumKind::Dissemination, 4, 1).unwrap();
        let mut sim = simulation(seed, system, 2, Duration::from_secs(30));
        let lossy = LinkConfig::default().loss(0.3);
        sim.schedule_all(Fault::degrade(lossy, Duration::ZERO, Duration::from_secs(30)));
        sim.run_for(Duration::from_secs(30)).violation
    });
    let v = failing.expect("some seed shows a stale read");
    assert_eq!(v.checker, "register::no_stale_read");
}

#[test]
fn generated_votes_and_certificates_never_count_a_forgery_or_panic() {
    // The fuzzing adversary's generator, pointed at votes and certificates directly: well-
    // typed, boundary-biased variations of genuine ones (other voters, other instances,
    // flipped signature bits, huge values). A collector counts only votes that verify, and
    // a certificate verifies only if a quorum of distinct voters signed its value.
    use palisade::core::Rng;
    use palisade::core::quorum::{
        Added, QuorumCertificate, QuorumKind, QuorumSystem, Vote, VoteCollector, test_key, test_keyring,
    };
    use palisade::sim::fuzz::generate::{Source, generate};
    use palisade::sim::fuzz::shape::shape_of;
    let members: Vec<NodeId> = (1..=4).map(NodeId).collect();
    let ring = test_keyring(9, members.iter().copied());
    let system = QuorumSystem::new(QuorumKind::Dissemination, 4, 1).unwrap();
    let genuine: Vec<Vote> =
        members.iter().map(|&m| Vote::sign(&test_key(9, m), 5, 0, m, b"v".to_vec())).collect();
    let cert =
        QuorumCertificate { instance: 5, round: 0, value: b"v".to_vec(), votes: genuine[..3].to_vec() };
    assert!(cert.verify(&ring, &system).is_ok());
    let cert_shape = shape_of(&cert).unwrap();
    let mut rng = Rng::from_seed(3);
    let mut counted = 0;
    for i in 0..3000 {
        let mut collector = VoteCollector::new(5, 0, system);
        for _ in 0..4 {
            let template = shape_of(&genuine[i % 4]).unwrap();
            let mut src = Source { rng: &mut rng, members: &members, keep: 0.7 };
            let Ok(vote) = generate::<Vote>(&mut src, Some(&template)) else { continue };
            let valid = ring.verify(&vote).is_ok();
            if let Added::Counted { .. } = collector.add(&ring, vote.clone()) {
                assert!(valid, "counted a vote that does not verify: {vote:?}");
                counted += 1;
            }
        }
        let mut src = Source { rng: &mut rng, members: &members, keep: 0.8 };
        if let Ok(c) = generate::<QuorumCertificate>(&mut src, Some(&cert_shape))
            && c.verify(&ring, &system).is_ok()
        {
            let voters: std::collections::BTreeSet<NodeId> = c.votes.iter().map(|v| v.voter).collect();
            assert!(voters.len() >= system.quorum(), "a certificate without a quorum verified: {c:?}");
            assert!(c.votes.iter().all(|v| ring.verify(v).is_ok() && v.value == c.value));
        }
    }
    assert!(counted > 100, "some generated votes are the genuine ones and count: {counted}");
}

#[test]
fn the_masking_register_checks_a_fair_share_of_reads_against_the_last_write() {
    // Reads that a write overlaps are exempt from the stale-read check (safe semantics);
    // clients in lock step once made nearly all of them exempt, and some seeds checked none.
    use palisade::core::quorum::{QuorumKind, QuorumSystem};
    use palisade::scenarios::bft_register::simulation_with_coverage;
    for seed in 1..=10 {
        let system = QuorumSystem::new(QuorumKind::Masking, 5, 1).unwrap();
        let (mut sim, coverage) = simulation_with_coverage(seed, system, 1, false, Duration::from_secs(60));
        assert_eq!(sim.run_for(Duration::from_secs(60)).violation, None);
        let (checked, reads) = coverage.get();
        assert!(checked >= 20 && checked * 10 >= reads, "seed {seed}: {checked} of {reads} reads checked");
    }
}

#[test]
fn ideal_and_real_signatures_give_the_same_runs() {
    // The same seeds and adversaries signing with ed25519 and with ideal signatures: every
    // count, the verdict and every observation's time and node agree. Only the trace hash
    // differs, since it digests the signature bytes.
    use palisade::core::quorum::{QuorumKind, QuorumSystem, VoteKeys};
    use palisade::scenarios::{bft_register, bracha};
    use palisade::sim::RunReport;
    let same = |a: RunReport, b: RunReport, what: &str| {
        assert_ne!(a.trace_hash, b.trace_hash, "{what}: the signature bytes differ");
        assert_eq!(RunReport { trace_hash: 0, ..a }, RunReport { trace_hash: 0, ..b }, "{what}");
    };
    let secs = Duration::from_secs(20);
    for seed in 2..=7 {
        for (n, f, byzantine) in [(4, 1, 1), (7, 2, 2), (4, 1, 2)] {
            let run = |keys| {
                let mut sim = bracha::simulation_with_keys(seed, n, f, byzantine, keys);
                let report = sim.run_for(secs);
                let seen: Vec<_> = sim.world().history().iter().map(|o| (o.at, o.node)).collect();
                (report, seen)
            };
            let ((a, seen_a), (b, seen_b)) = (run(VoteKeys::Test(3)), run(VoteKeys::Ideal(3)));
            let what = format!("bracha n = {n}, {byzantine} Byzantine, seed {seed}");
            assert!(a.byzantine_altered > 0, "{what}: the adversary acted");
            same(a, b, &what);
            assert_eq!(seen_a, seen_b, "{what}");
        }
        let fuzz = |keys| bracha::fuzz_simulation_with_keys(seed, 4, 1, keys).run_for(secs);
        same(fuzz(VoteKeys::Test(3)), fuzz(VoteKeys::Ideal(3)), &format!("fuzz-bracha seed {seed}"));
        let system = QuorumSystem::new(QuorumKind::Dissemination, 4, 1).expect("valid");
        for fuzzing in [false, true] {
            let run = |keys| {
                bft_register::simulation_with_keys(seed, system, 1, fuzzing, secs, keys).0.run_for(secs)
            };
            let what = format!("signed register, fuzzing {fuzzing}, seed {seed}");
            same(run(VoteKeys::Test(3)), run(VoteKeys::Ideal(3)), &what);
        }
    }
}
