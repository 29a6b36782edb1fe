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
    let mut sim = simulation(3, 4, 1, 1);
    assert_eq!(sim.run_for(Duration::from_secs(20)).violation, None);
    let w = sim.world();
    for (id, node) in w.running().filter(|(id, _)| w.is_honest(*id)) {
        for instance in 1..=4u64 {
            let value = node.delivered(instance).expect("every instance delivered").to_vec();
            let (echoes, readies) = node.counts(instance, &value);
            assert!(echoes <= 4 && readies <= 4, "{id}: {echoes} echoes, {readies} readies from 4 nodes");
        }
    }
    // Evidence against n1 reached every correct node.
    let accusers: Vec<NodeId> = w
        .history()
        .iter()
        .filter(|o| w.is_honest(o.node) && matches!(o.event, BrachaEvent::Equivocation { .. }))
        .map(|o| o.node)
        .collect();
    assert_eq!(accusers.len(), 3, "{accusers:?}");
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
        let mut sim = simulation(seed, QuorumSystem::new(QuorumKind::Dissemination, 4, 1).unwrap(), 2);
        let lossy = LinkConfig { loss: 0.3, ..LinkConfig::default() };
        sim.schedule_all(Fault::degrade(lossy, Duration::ZERO, Duration::from_secs(30)));
        sim.run_for(Duration::from_secs(30)).violation
    });
    let v = failing.expect("some seed shows a stale read");
    assert_eq!(v.checker, "register::no_stale_read");
}
