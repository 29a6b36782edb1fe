//! Fencing properties as checkers over observed (time, node, token[, seq]) facts.

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
        if let Some((hat, hfrom, htoken)) = highest
            && token < htoken
        {
            return Err(Violation::new(
                "fencing::accepted_tokens_never_decrease",
                format!(
                    "at {at:?} the resource accepted {from}'s write with {token:?} after {hfrom}'s with {htoken:?} at {hat:?}"
                ),
            ));
        }
        if highest.is_none_or(|(_, _, h)| token >= h) {
            highest = Some((at, from, token));
        }
    }
    Ok(())
}

/// Every write the resource accepted was newer than the one accepted before it: (token,
/// seq) pairs strictly increase, token first (the resource's whole rule, restated). A
/// replayed or duplicated write, or one overtaken in flight by a later write under the same
/// token, fails it even where the token alone looks fine. `accepted` lists (time, writer,
/// token, seq) in order.
pub fn accepted_writes_increase(accepted: &[(Duration, NodeId, FencingToken, u64)]) -> Result<(), Violation> {
    for w in accepted.windows(2) {
        let ((lat, lfrom, ltoken, lseq), (at, from, token, seq)) = (w[0], w[1]);
        if (token, seq) <= (ltoken, lseq) {
            return Err(Violation::new(
                "fencing::accepted_writes_increase",
                format!(
                    "at {at:?} the resource accepted {from}'s write with {token:?} seq {seq}, not newer \
                     than {lfrom}'s with {ltoken:?} seq {lseq} accepted at {lat:?}: the older write \
                     overwrote the newer"
                ),
            ));
        }
    }
    Ok(())
}

/// Every write the resource accepted was made under a lease that was really granted, to
/// the node that wrote, and no write under an earlier grant is accepted after one under a
/// later grant: DDIA figure 8-4's corruption, judged from the grantor's history rather than
/// by comparing the tokens the way the resource does. `grants` lists (time, holder, token)
/// in the order the grants were made; `accepted` lists (time, writer, token) in order.
/// Both are read in time order, so a write accepted before its grant was made is caught.
pub fn writes_follow_grant_order(
    grants: &[(Duration, NodeId, FencingToken)],
    accepted: &[(Duration, NodeId, FencingToken)],
) -> Result<(), Violation> {
    const NAME: &str = "fencing::writes_follow_grant_order";
    let mut granted = std::collections::BTreeMap::new();
    let mut next_grant = grants.iter().enumerate().peekable();
    // The latest grant a write has been accepted under: (its index, holder, time granted).
    let mut latest: Option<(usize, NodeId, Duration)> = None;
    for &(at, from, token) in accepted {
        while let Some(&(i, &(gat, holder, gtoken))) = next_grant.peek() {
            if gat > at {
                break;
            }
            granted.insert(gtoken, (i, holder, gat));
            next_grant.next();
        }
        let Some(&(i, holder, gat)) = granted.get(&token) else {
            return Err(Violation::new(
                NAME,
                format!(
                    "at {at:?} the resource accepted {from}'s write with {token:?}, which was never granted"
                ),
            ));
        };
        if holder != from {
            return Err(Violation::new(
                NAME,
                format!("at {at:?} the resource accepted {from}'s write with {token:?}, granted to {holder}"),
            ));
        }
        if let Some((li, lholder, lat)) = latest
            && i < li
        {
            return Err(Violation::new(
                NAME,
                format!(
                    "at {at:?} the resource accepted {from}'s write under the lease granted at {gat:?}, after \
                         {lholder}'s write under the later lease granted at {lat:?}: the deposed holder overwrote it"
                ),
            ));
        }
        if latest.is_none_or(|(li, _, _)| i >= li) {
            latest = Some((i, holder, gat));
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
    fn a_replayed_or_overtaken_write_under_the_same_token_is_caught() {
        let w = |s: u64, n: u32, t: u64, seq: u64| (Duration::from_secs(s), NodeId(n), FencingToken(t), seq);
        // The holder's writes 1, 2, 3 under token 4, then a newer holder's first write.
        let good = [w(1, 1, 4, 1), w(2, 1, 4, 2), w(3, 1, 4, 3), w(4, 2, 5, 1)];
        assert_eq!(accepted_writes_increase(&good), Ok(()));
        assert_eq!(accepted_writes_increase(&[]), Ok(()));
        // A captured write 1 replayed after write 2: the token alone does not decrease.
        let replay = [w(1, 1, 4, 1), w(2, 1, 4, 2), w(3, 1, 4, 1)];
        assert_eq!(accepted_tokens_never_decrease(&replay.map(|(a, n, t, _)| (a, n, t))), Ok(()));
        let v = accepted_writes_increase(&replay).unwrap_err();
        assert_eq!(v.checker, "fencing::accepted_writes_increase");
        assert!(
            v.message.contains("n1's write with token 0.4 seq 1, not newer than n1's with token 0.4 seq 2"),
            "{v}"
        );
        // A duplicate (equal pair) and a stale token fail it too.
        assert!(accepted_writes_increase(&[w(1, 1, 4, 2), w(2, 1, 4, 2)]).is_err());
        assert!(accepted_writes_increase(&[w(1, 2, 5, 1), w(2, 1, 4, 9)]).is_err());
    }

    #[test]
    fn a_deposed_holders_write_after_the_next_holders_is_caught_from_the_grants() {
        let grants = [e(1, 1, 33), e(4, 2, 34)];
        // Figure 8-4: n2 (lease 34) writes, then n1's write under lease 33 lands.
        let v = writes_follow_grant_order(&grants, &[e(2, 1, 33), e(5, 2, 34), e(6, 1, 33)]).unwrap_err();
        assert!(v.message.contains("deposed holder overwrote"), "{v}");
        assert_eq!(writes_follow_grant_order(&grants, &[e(2, 1, 33), e(5, 2, 34), e(6, 2, 34)]), Ok(()));
    }

    #[test]
    fn forged_stolen_and_premature_tokens_are_caught() {
        let grants = [e(1, 1, 33), e(4, 2, 34)];
        // A token nobody granted, even one above every grant (what `admit` would take).
        let v = writes_follow_grant_order(&grants, &[e(5, 3, 99)]).unwrap_err();
        assert!(v.message.contains("never granted"), "{v}");
        // n3 writes with n2's token.
        let v = writes_follow_grant_order(&grants, &[e(5, 3, 34)]).unwrap_err();
        assert!(v.message.contains("granted to n2"), "{v}");
        // A write accepted before its lease was granted.
        let v = writes_follow_grant_order(&grants, &[e(3, 2, 34)]).unwrap_err();
        assert!(v.message.contains("never granted"), "{v}");
    }

    #[test]
    fn reissued_token_is_caught() {
        assert!(issued_tokens_increase(&[e(1, 1, 1), e(2, 1, 2), e(9, 1, 2)]).is_err());
        assert_eq!(issued_tokens_increase(&[e(1, 1, 1), e(9, 1, 3)]), Ok(()));
    }
}
