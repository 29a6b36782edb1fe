//! Leases and fencing in the simulator: the defence holds, and both hazards are real (the
//! checkers find them).

use palisade::scenarios::violations;

#[test]
fn fencing_keeps_one_holder_increasing_tokens_no_stale_write_and_progress() {
    assert_eq!(violations("fencing", 60), vec![]);
}

#[test]
fn without_fencing_a_stale_write_is_accepted() {
    let v = violations("unfenced", 30);
    assert!(!v.is_empty(), "the unfenced hazard must show within 30 seeds");
    assert!(v.iter().all(|(_, c)| *c == "fencing::writes_follow_grant_order"), "{v:?}");
}

#[test]
fn drift_beyond_the_bound_lets_two_clients_hold_the_lease() {
    let v = violations("drift-violation", 40);
    assert!(!v.is_empty(), "the drift hazard must show within 40 seeds");
    assert!(v.iter().all(|(_, c)| *c == "lease::single_holder"), "{v:?}");
}

#[test]
fn majority_leases_elect_one_leader_at_a_time_fence_deposed_leaders_and_make_progress() {
    assert_eq!(violations("leader", 60), vec![]);
}

#[test]
fn a_deposed_leader_is_fenced_and_a_new_one_takes_over() {
    use palisade::core::NodeId;
    use palisade::core::lease::election::ElectionEvent;
    use palisade::scenarios::lease::leader;
    use palisade::sim::Fault;
    use std::time::Duration;
    // Find the leader at 10 s, pause it for 6 s (three leases): someone else must be
    // elected, and the old leader's delayed writes must be rejected.
    let mut sim = leader::simulation(3, leader::election_config(true));
    leader::drive(&mut sim, 3, Duration::from_secs(40));
    sim.run_for(Duration::from_secs(10));
    let w = sim.world();
    let old =
        (1..leader::NODES).map(NodeId).find(|&n| w.node(n).and_then(|p| p.leads(w.clock(n)?.mono)).is_some());
    let old = old.expect("a leader after 10 s");
    sim.schedule(Fault::pause(old, Duration::from_secs(10), Duration::from_secs(6)));
    let r = sim.run_for(Duration::from_secs(30));
    assert_eq!(r.violation, None);
    let h = sim.world().history();
    let new_leader =
        h.iter().find(|o| o.at > Duration::from_secs(10) && matches!(o.event, ElectionEvent::Elected { .. }));
    assert!(new_leader.is_some_and(|o| o.node != old), "{new_leader:?}");
    let rejected =
        h.iter().filter(|o| matches!(o.event, ElectionEvent::Rejected { from, .. } if from == old)).count();
    assert!(rejected > 0, "the old leader's writes in flight were fenced");
}

#[test]
fn a_leader_that_resigns_is_followed_by_another_and_stands_again_only_when_asked() {
    use palisade::core::NodeId;
    use palisade::core::lease::election::{ElectionCommand, ElectionEvent, ElectionReply};
    use palisade::scenarios::lease::leader;
    use std::time::Duration;
    let s = Duration::from_secs;
    let mut sim = leader::simulation(5, leader::election_config(true));
    leader::drive(&mut sim, 5, s(120));
    sim.run_for(s(10));
    let w = sim.world();
    let old =
        (1..leader::NODES).map(NodeId).find(|&n| w.node(n).and_then(|p| p.leads(w.clock(n)?.mono)).is_some());
    let old = old.expect("a leader after 10 s");
    let resign = sim.call_at(old, s(10), ElectionCommand::Resign);
    let campaign = sim.call_at(old, s(60), ElectionCommand::Campaign);
    let r = sim.run_for(s(110));
    // The election's checkers (one leader at a time, fenced writes, progress) all held.
    assert_eq!(r.violation, None);
    let w = sim.world();
    let reply = |req| w.replies().iter().find(|o| o.event.req == req).map(|o| o.event.reply.clone());
    assert!(matches!(reply(resign), Some(ElectionReply::Resigned { term: Some(_) })), "{:?}", reply(resign));
    assert_eq!(reply(campaign), Some(ElectionReply::Campaigning));
    let h = w.history();
    assert!(h.iter().any(|o| o.node == old && matches!(o.event, ElectionEvent::Resigned { .. })));
    let next = h.iter().find(|o| o.at > s(10) && matches!(o.event, ElectionEvent::Elected { .. }));
    assert!(next.is_some_and(|o| o.node != old), "another leader after the resignation: {next:?}");
    let again = |from, to| {
        h.iter().any(|o| {
            o.node == old && o.at > from && o.at < to && matches!(o.event, ElectionEvent::Elected { .. })
        })
    };
    assert!(!again(s(10), s(60)), "the resigned node was elected before it asked to stand again");
}
