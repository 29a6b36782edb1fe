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
