//! The named locks' properties as checkers, shared by the simulator, the explorer and the
//! tests.

use super::LockEvent;
use crate::check::{Observation, Violation};
use crate::node::NodeId;
use std::collections::BTreeMap;

/// At most one node holds each name at this instant. `held` lists, for each running node,
/// the names it believes it holds (with their tokens) at its own clock's current reading.
pub fn single_holder<'a>(held: impl IntoIterator<Item = (NodeId, &'a str, u64)>) -> Result<(), Violation> {
    let mut holders: BTreeMap<&str, (NodeId, u64)> = BTreeMap::new();
    for (node, name, token) in held {
        if let Some(&(other, other_token)) = holders.get(name) {
            return Err(Violation::new(
                "lock::single_holder",
                format!("{other} (token {other_token}) and {node} (token {token}) both hold `{name}`"),
            ));
        }
        holders.insert(name, (node, token));
    }
    Ok(())
}

/// Each grant of a name carries a greater token than every grant of it before, whichever
/// node was granted and whatever restarted in between (judged over the history in the order
/// the grants happened).
pub fn tokens_increase(history: &[Observation<LockEvent>]) -> Result<(), Violation> {
    let mut order = TokenOrder::default();
    history.iter().try_for_each(|o| order.observe(o))
}

/// [`tokens_increase`] one event at a time, for a checker that runs after every event.
#[derive(Clone, Debug, Default)]
pub struct TokenOrder {
    last: BTreeMap<String, (u64, NodeId)>,
}

impl TokenOrder {
    /// Judges the next event of the history.
    pub fn observe(&mut self, o: &Observation<LockEvent>) -> Result<(), Violation> {
        let LockEvent::Acquired { name, token } = &o.event else { return Ok(()) };
        if let Some(&(before, by)) = self.last.get(name)
            && *token <= before
        {
            return Err(Violation::new(
                "lock::tokens_increase",
                format!(
                    "{} was granted `{name}` under token {token} at {:?}, after {by} got {before}",
                    o.node, o.at
                ),
            ));
        }
        self.last.insert(name.clone(), (*token, o.node));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn two_holders_of_one_name_are_a_violation_and_of_two_names_are_not() {
        assert_eq!(single_holder([(NodeId(1), "a", 3), (NodeId(2), "b", 4)]), Ok(()));
        let v = single_holder([(NodeId(1), "a", 3), (NodeId(2), "a", 4)]).unwrap_err();
        assert_eq!(v.checker, "lock::single_holder");
    }

    #[test]
    fn a_token_that_does_not_increase_is_a_violation() {
        let at = |s, node, name: &str, token| Observation {
            at: Duration::from_secs(s),
            node: NodeId(node),
            event: LockEvent::Acquired { name: name.to_string(), token },
        };
        assert_eq!(tokens_increase(&[at(1, 1, "a", 1), at(2, 2, "b", 1), at(3, 2, "a", 2)]), Ok(()));
        let v = tokens_increase(&[at(1, 1, "a", 2), at(3, 2, "a", 2)]).unwrap_err();
        assert_eq!(v.checker, "lock::tokens_increase");
    }
}
