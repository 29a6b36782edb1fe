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
    let mut order = GrantOrder::default();
    for &(at, holder, token) in grants {
        order.grant(at, holder, token);
    }
    for &(at, from, token) in accepted {
        order.accept(at, from, token);
    }
    order.check(Duration::MAX)
}

/// A grant as the order check knows it: (its index among the grants, holder, time granted).
type Known = (usize, NodeId, Duration);

/// [`writes_follow_grant_order`] fed one fact at a time, for a checker that runs after every
/// event: a check costs the facts added since the last one rather than the whole history,
/// with the verdict the function gives on the same facts.
#[derive(Clone, Debug, Default)]
pub struct GrantOrder {
    /// Grants not read yet; the first is grant number `read`.
    grants: std::collections::VecDeque<(Duration, NodeId, FencingToken)>,
    /// Accepted writes not settled yet.
    accepted: std::collections::VecDeque<(Duration, NodeId, FencingToken)>,
    /// The scan's state after every settled write: the grants read so far (by token), how
    /// many, and the latest grant a write was accepted under.
    granted: std::collections::BTreeMap<FencingToken, Known>,
    read: usize,
    latest: Option<Known>,
    /// The latest `settled_before` passed to [`GrantOrder::check`]: no fact may come earlier.
    horizon: Duration,
}

impl GrantOrder {
    /// A lease granted to `holder` with `token` at `at` (after every grant added before).
    pub fn grant(&mut self, at: Duration, holder: NodeId, token: FencingToken) {
        debug_assert!(at >= self.horizon, "a grant at {at:?}, before facts settled up to {:?}", self.horizon);
        self.grants.push_back((at, holder, token));
    }

    /// A write by `from` with `token` accepted at `at` (after every write added before).
    pub fn accept(&mut self, at: Duration, from: NodeId, token: FencingToken) {
        debug_assert!(at >= self.horizon, "a write at {at:?}, before facts settled up to {:?}", self.horizon);
        self.accepted.push_back((at, from, token));
    }

    /// Judges every fact added so far. Facts before `settled_before` are final: no fact
    /// added afterwards may be earlier (a checker passes the current time). Later ones are
    /// judged again by the next check, as a grant at the same instant may still be added.
    /// Settled writes and the grants read for them are let go; the grants stay by token.
    pub fn check(&mut self, settled_before: Duration) -> Result<(), Violation> {
        self.horizon = self.horizon.max(settled_before);
        while let Some(&(at, from, token)) = self.accepted.front() {
            if at >= settled_before {
                break;
            }
            while let Some(&(gat, holder, gtoken)) = self.grants.front() {
                if gat > at {
                    break;
                }
                self.granted.insert(gtoken, (self.read, holder, gat));
                self.grants.pop_front();
                self.read += 1;
            }
            judge(self.granted.get(&token).copied(), &mut self.latest, at, from, token)?;
            self.accepted.pop_front();
        }
        // The writes at the last instant, without settling: their grants may not all be in.
        let (mut latest, mut read, mut newer) = (self.latest, 0, Vec::new());
        for &(at, from, token) in &self.accepted {
            while let Some(&(gat, holder, gtoken)) = self.grants.get(read) {
                if gat > at {
                    break;
                }
                newer.push((gtoken, (self.read + read, holder, gat)));
                read += 1;
            }
            let known = newer.iter().rev().find(|(t, _)| *t == token).map(|&(_, k)| k);
            judge(known.or_else(|| self.granted.get(&token).copied()), &mut latest, at, from, token)?;
        }
        Ok(())
    }
}

/// One accepted write against the grant its token names (`known`), and the latest grant a
/// write was accepted under before it.
fn judge(
    known: Option<Known>,
    latest: &mut Option<Known>,
    at: Duration,
    from: NodeId,
    token: FencingToken,
) -> Result<(), Violation> {
    const NAME: &str = "fencing::writes_follow_grant_order";
    let Some((i, holder, gat)) = known else {
        return Err(Violation::new(
            NAME,
            format!("at {at:?} the resource accepted {from}'s write with {token:?}, which was never granted"),
        ));
    };
    if holder != from {
        return Err(Violation::new(
            NAME,
            format!("at {at:?} the resource accepted {from}'s write with {token:?}, granted to {holder}"),
        ));
    }
    if let Some((li, lholder, lat)) = *latest
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
        *latest = Some((i, holder, gat));
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
    fn checking_after_every_fact_agrees_with_checking_the_whole_prefix() {
        // Random histories with many facts at one instant, where a grant may come after a
        // write at the same time in the log: after each fact the incremental check must say
        // what the function says of everything so far, to the message.
        let mut rng = crate::Rng::from_seed(8);
        let mut failures = 0;
        for _ in 0..2_000 {
            let (mut order, mut grants, mut accepted) = (GrantOrder::default(), Vec::new(), Vec::new());
            let mut now = 0;
            for _ in 0..30 {
                now += rng.below(3);
                let (at, node, token) =
                    (Duration::from_secs(now), NodeId(1 + rng.below(3) as u32), FencingToken(rng.below(6)));
                if rng.chance(0.4) {
                    order.grant(at, node, token);
                    grants.push((at, node, token));
                } else {
                    order.accept(at, node, token);
                    accepted.push((at, node, token));
                }
                let whole = writes_follow_grant_order(&grants, &accepted);
                assert_eq!(order.check(at), whole, "{grants:?} {accepted:?}");
                if whole.is_err() {
                    failures += 1;
                    break;
                }
            }
        }
        assert!(failures > 500, "the histories must break the check often: {failures}");
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
