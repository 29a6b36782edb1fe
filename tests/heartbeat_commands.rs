//! The heartbeat detector driven by its application, in the simulator through the public
//! API: a peer unwatched is never suspected, watched again it is judged afresh, and `Status`
//! says which peers are watched and suspected.

use palisade::core::NodeId;
use palisade::core::detector::{
    Heartbeat, HeartbeatCommand, HeartbeatConfig, HeartbeatEvent, HeartbeatReply, PeerStatus, PhiAccrual,
};
use palisade::sim::{Fault, Latency, LinkConfig, Network, SimConfig, Simulation};
use std::time::Duration;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn an_unwatched_peer_is_never_suspected_and_a_watched_one_is_judged_again() {
    let mut sc = SimConfig::new(3, 3);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(10),
    )));
    let mut sim = Simulation::<Heartbeat<PhiAccrual>>::new(sc, HeartbeatConfig::default());
    // n1 stops watching n3 at 5 s; n3 crashes at 10 s; n1 watches it again at 40 s.
    let unwatch = sim.call_at(NodeId(1), s(5), HeartbeatCommand::Unwatch { peer: NodeId(3) });
    sim.schedule(Fault::crash(NodeId(3), s(10)));
    let during = sim.call_at(NodeId(1), s(30), HeartbeatCommand::Status);
    let watch = sim.call_at(NodeId(1), s(40), HeartbeatCommand::Watch { peer: NodeId(3) });
    let after = sim.call_at(NodeId(1), s(70), HeartbeatCommand::Status);
    let stranger = sim.call_at(NodeId(1), s(70), HeartbeatCommand::Watch { peer: NodeId(9) });
    sim.run_for(s(80));
    let w = sim.world();
    let reply = |req| w.replies().iter().find(|o| o.event.req == req).map(|o| o.event.reply.clone());
    let status = |peer, watched, suspected| PeerStatus { peer: NodeId(peer), watched, suspected };
    assert_eq!(reply(unwatch), Some(HeartbeatReply::Unwatched));
    assert_eq!(
        reply(during),
        Some(HeartbeatReply::Status(vec![status(2, true, false), status(3, false, false)]))
    );
    assert_eq!(reply(watch), Some(HeartbeatReply::Watching));
    assert_eq!(
        reply(after),
        Some(HeartbeatReply::Status(vec![status(2, true, false), status(3, true, true)]))
    );
    assert_eq!(reply(stranger), Some(HeartbeatReply::NotAPeer));
    // n2 suspected the crashed n3 soon after 10 s; n1 only once it watched again, at 40 s.
    let first_suspicion = |node: NodeId| {
        w.history()
            .iter()
            .find(|o| o.node == node && matches!(o.event, HeartbeatEvent::Suspect { peer: NodeId(3), .. }))
            .map(|o| o.at)
    };
    let (by_n1, by_n2) = (first_suspicion(NodeId(1)), first_suspicion(NodeId(2)));
    assert!(by_n2.is_some_and(|t| t > s(10) && t < s(30)), "n2: {by_n2:?}");
    assert!(by_n1.is_some_and(|t| t > s(40)), "n1: {by_n1:?}");
}
