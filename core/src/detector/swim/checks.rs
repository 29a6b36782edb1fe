//! SWIM properties as checkers.

use super::SwimEvent;
use crate::check::{Observation, Violation};
use crate::node::NodeId;
use std::collections::BTreeMap;
use std::time::Duration;

/// No member that had not crashed is declared dead (strong accuracy for deaths; holds only
/// while pauses and delays stay within the suspicion timeout).
pub fn no_false_death(
    obs: &Observation<SwimEvent>,
    crashes: &BTreeMap<NodeId, Duration>,
) -> Result<(), Violation> {
    if let SwimEvent::Dead { peer } = obs.event
        && crashes.get(&peer).is_none_or(|&c| c > obs.at)
    {
        return Err(Violation::new(
            "swim::no_false_death",
            format!("{} declared live member {peer} dead at {:?}", obs.node, obs.at),
        ));
    }
    Ok(())
}

/// Counts false positives in a run: suspicions and death declarations of members that had
/// not crashed.
pub fn false_positives(
    history: &[Observation<SwimEvent>],
    crashes: &BTreeMap<NodeId, Duration>,
) -> (usize, usize) {
    let live = |peer: &NodeId, at: Duration| crashes.get(peer).is_none_or(|&c| c > at);
    let suspicions = history
        .iter()
        .filter(|o| matches!(o.event, SwimEvent::Suspect { peer, .. } if live(&peer, o.at)))
        .count();
    let deaths =
        history.iter().filter(|o| matches!(o.event, SwimEvent::Dead { peer } if live(&peer, o.at))).count();
    (suspicions, deaths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_death_before_the_crash_is_false() {
        let crashes: BTreeMap<_, _> = [(NodeId(2), Duration::from_secs(10))].into();
        let obs = |at, event| Observation { at: Duration::from_secs(at), node: NodeId(1), event };
        assert!(no_false_death(&obs(12, SwimEvent::Dead { peer: NodeId(2) }), &crashes).is_ok());
        let v = no_false_death(&obs(8, SwimEvent::Dead { peer: NodeId(2) }), &crashes).unwrap_err();
        assert_eq!(v.checker, "swim::no_false_death");
        let h = vec![
            obs(5, SwimEvent::Suspect { peer: NodeId(3), by: NodeId(1) }),
            obs(8, SwimEvent::Dead { peer: NodeId(2) }),
        ];
        assert_eq!(false_positives(&h, &crashes), (1, 1));
    }
}
