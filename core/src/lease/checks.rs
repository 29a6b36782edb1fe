//! Lease properties as checkers.

use crate::check::Violation;
use crate::fencing::FencingToken;
use crate::node::NodeId;

/// At most one client believes it holds the lease at this instant. `beliefs` gives, for
/// each running client, the token it trusts at its own clock's current reading.
pub fn single_holder(
    beliefs: impl IntoIterator<Item = (NodeId, Option<FencingToken>)>,
) -> Result<(), Violation> {
    let holders: Vec<(NodeId, FencingToken)> =
        beliefs.into_iter().filter_map(|(n, t)| t.map(|t| (n, t))).collect();
    if holders.len() > 1 {
        let list: Vec<String> = holders.iter().map(|(n, t)| format!("{n} with {t:?}")).collect();
        return Err(Violation::new(
            "lease::single_holder",
            format!("{} hold the lease at once: {}", holders.len(), list.join(", ")),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_believers_are_a_violation() {
        assert_eq!(single_holder([(NodeId(1), Some(FencingToken(3))), (NodeId(2), None)]), Ok(()));
        let v = single_holder([(NodeId(1), Some(FencingToken(3))), (NodeId(2), Some(FencingToken(4)))])
            .unwrap_err();
        assert_eq!(v.checker, "lease::single_holder");
    }
}
