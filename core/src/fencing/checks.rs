//! Fencing properties as checkers over observed (time, node, token) facts.

use super::FencingToken;
use crate::check::Violation;
use crate::node::NodeId;
use std::time::Duration;

/// The resource never accepts a token below one it has already accepted (the fencing
/// property). Without fencing, this is exactly DDIA's corruption: a deposed holder's write
/// accepted after the new holder's. `accepted` lists (time, writer, token) in order.
pub fn accepted_tokens_never_decrease(
    accepted: &[(Duration, NodeId, FencingToken)],
) -> Result<(), Violation> {
    let mut highest: Option<(Duration, NodeId, FencingToken)> = None;
    for &(at, from, token) in accepted {
        if let Some((hat, hfrom, htoken)) = highest {
            if token < htoken {
                return Err(Violation::new(
                    "fencing::accepted_tokens_never_decrease",
                    format!(
                        "at {at:?} the resource accepted {from}'s write with {token:?} after {hfrom}'s with {htoken:?} at {hat:?}"
                    ),
                ));
            }
        }
        if highest.is_none_or(|(_, _, h)| token >= h) {
            highest = Some((at, from, token));
        }
    }
    Ok(())
}

/// Tokens are issued strictly increasing, across grantor restarts and failovers.
/// `issued` lists (time, grantor, token) in order.
pub fn issued_tokens_increase(issued: &[(Duration, NodeId, FencingToken)]) -> Result<(), Violation> {
    for w in issued.windows(2) {
        let ((_, a_node, a), (at, b_node, b)) = (w[0], w[1]);
        if b <= a {
            return Err(Violation::new(
                "fencing::issued_tokens_increase",
                format!("at {at:?} {b_node} issued {b:?}, not above {a:?} issued earlier by {a_node}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: u64, n: u32, t: u64) -> (Duration, NodeId, FencingToken) {
        (Duration::from_secs(s), NodeId(n), FencingToken(t))
    }

    #[test]
    fn ddia_figure_8_4_is_caught() {
        // Client 2 writes with 34; client 1 wakes up and writes with 33.
        let v = accepted_tokens_never_decrease(&[e(1, 1, 33), e(5, 2, 34), e(6, 1, 33)]).unwrap_err();
        assert!(v.message.contains("n1's write with token 0.33 after n2's with token 0.34"), "{v}");
        assert_eq!(accepted_tokens_never_decrease(&[e(1, 1, 33), e(5, 2, 34), e(6, 2, 34)]), Ok(()));
    }

    #[test]
    fn reissued_token_is_caught() {
        assert!(issued_tokens_increase(&[e(1, 1, 1), e(2, 1, 2), e(9, 1, 2)]).is_err());
        assert_eq!(issued_tokens_increase(&[e(1, 1, 1), e(9, 1, 3)]), Ok(()));
    }
}
