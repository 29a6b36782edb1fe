//! Fencing tokens and fenced resources (DDIA figure 8-5).
//!
//! Model: any timing; crash-recovery resources with stable storage; clients may be paused
//! or delayed arbitrarily (they are not trusted to know whether their lease still holds);
//! messages to the resource may be lost, duplicated, reordered or replayed.
//! Guarantees: a [`FencedResource`] accepts a write only if it is newer than every write it
//! has accepted: its token is above the highest accepted, or equal to it with a higher
//! per-writer sequence number (writers number their writes 1, 2, 3, … under each token).
//! It remembers that (token, seq) pair durably, so a write from a deposed holder (a smaller
//! token) is rejected whenever a newer holder has written, and a replayed, duplicated or
//! overtaken write under the current token never rolls the value back, before or after a
//! restart. It does not say a write reached it: a write overtaken in flight by a later one
//! from the same writer is refused, which is the rule working.
//! Checkers: [`checks::accepted_tokens_never_decrease`] and
//! [`checks::accepted_writes_increase`] (the resource's rule, restated),
//! [`checks::writes_follow_grant_order`] (the same harm judged from the grantor's history),
//! [`checks::issued_tokens_increase`].

pub mod checks;

use serde::{Deserialize, Serialize};
use std::fmt;

/// A fencing token: strictly increasing per resource. The high 32 bits are the epoch (the
/// grantor's term, raised on every failover), the low 32 a counter within it, so tokens
/// from a newer epoch always win, as ZooKeeper's zxid does.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct FencingToken(pub u64);

impl FencingToken {
    /// The token `counter` of `epoch`.
    pub const fn new(epoch: u32, counter: u32) -> Self {
        FencingToken(((epoch as u64) << 32) | counter as u64)
    }

    /// The epoch (high 32 bits).
    pub const fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The counter within the epoch (low 32 bits).
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Debug for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {}.{}", self.epoch(), self.counter())
    }
}

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.epoch(), self.counter())
    }
}

/// Issues strictly increasing tokens; persist [`TokenIssuer::highest`] before handing a
/// token out, and restore from it after a crash.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssuer {
    highest: FencingToken,
}

impl TokenIssuer {
    /// An issuer that has issued nothing above `highest` (restored from durable state).
    pub fn restore(highest: FencingToken) -> Self {
        TokenIssuer { highest }
    }

    /// The next token in the current epoch.
    pub fn issue(&mut self) -> FencingToken {
        let next = FencingToken(self.highest.0 + 1);
        debug_assert!(next > self.highest, "tokens only increase");
        self.highest = next;
        next
    }

    /// Moves to `epoch` (if newer): the next token is its first.
    pub fn enter_epoch(&mut self, epoch: u32) {
        if epoch > self.highest.epoch() {
            self.highest = FencingToken::new(epoch, 0);
        }
    }

    /// The highest token issued.
    pub fn highest(&self) -> FencingToken {
        self.highest
    }
}

/// A token below the highest admitted: what [`crate::sync::AtomicFence`] and
/// [`crate::sync::FencedCell`] refuse, and the first reason a [`FencedResource`] gives.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StaleToken {
    /// The token presented.
    pub token: FencingToken,
    /// The highest token accepted so far.
    pub highest: FencingToken,
}

/// Why a [`FencedResource`] refused a write.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fenced {
    /// A newer token has written: the writer's lease is over.
    StaleToken(StaleToken),
    /// The current token, but not a newer write under it: a replay, a duplicate, or a write
    /// overtaken in flight by a later one from the same writer.
    StaleSeq {
        /// The token presented, the highest accepted.
        token: FencingToken,
        /// The sequence number presented.
        seq: u64,
        /// The highest sequence number accepted under `token`.
        last: u64,
    },
}

impl std::fmt::Display for StaleToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stale {:?}: the resource has accepted {:?}", self.token, self.highest)
    }
}

impl std::error::Error for StaleToken {}

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fenced::StaleToken(stale) => stale.fmt(f),
            Fenced::StaleSeq { token, seq, last } => write!(
                f,
                "replayed or overtaken write: seq {seq} under {token:?} is not above seq {last}, already accepted under it"
            ),
        }
    }
}

impl std::error::Error for Fenced {}

impl From<StaleToken> for Fenced {
    fn from(stale: StaleToken) -> Self {
        Fenced::StaleToken(stale)
    }
}

impl Fenced {
    /// The highest token the resource had accepted when it refused.
    pub fn highest(&self) -> FencingToken {
        match *self {
            Fenced::StaleToken(s) => s.highest,
            Fenced::StaleSeq { token, .. } => token,
        }
    }
}

/// The storage side of fencing: admit a write iff its (token, seq) is above the highest
/// admitted, compared token first. Under a token newer than any admitted, any seq is
/// admitted; under the current token, only a seq above the last one. Writers number their
/// writes from 1 under each token, so the fresh resource's (token 0, seq 0) is below every
/// write.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencedResource {
    highest: FencingToken,
    seq: u64,
}

impl FencedResource {
    /// A resource that has accepted writes up to `seq` under `highest` (restored from
    /// durable state).
    pub fn restore(highest: FencingToken, seq: u64) -> Self {
        FencedResource { highest, seq }
    }

    /// Admits write number `seq` under `token`, raising the highest seen; the caller must
    /// persist [`FencedResource::highest`] and [`FencedResource::highest_seq`] before
    /// acknowledging the write. A refusal changes nothing.
    pub fn admit(&mut self, token: FencingToken, seq: u64) -> Result<(), Fenced> {
        if token < self.highest {
            return Err(StaleToken { token, highest: self.highest }.into());
        }
        if token == self.highest && seq <= self.seq {
            return Err(Fenced::StaleSeq { token, seq, last: self.seq });
        }
        self.highest = token;
        self.seq = seq;
        Ok(())
    }

    /// The highest token accepted.
    pub fn highest(&self) -> FencingToken {
        self.highest
    }

    /// The highest sequence number accepted under [`FencedResource::highest`].
    pub fn highest_seq(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_order_by_epoch_then_counter() {
        assert!(FencingToken::new(2, 0) > FencingToken::new(1, u32::MAX));
        assert_eq!(FencingToken::new(3, 7).epoch(), 3);
        assert_eq!(FencingToken::new(3, 7).counter(), 7);
    }

    #[test]
    fn issuer_is_strictly_increasing_across_restore_and_failover() {
        let mut a = TokenIssuer::default();
        let t1 = a.issue();
        let t2 = a.issue();
        assert!(t2 > t1);
        // Crash: restored from the persisted highest, it never reissues.
        let mut b = TokenIssuer::restore(a.highest());
        assert!(b.issue() > t2);
        // Failover to a new grantor in epoch 2: every token beats every epoch-1 token.
        let mut c = TokenIssuer::restore(FencingToken::new(1, 1_000));
        c.enter_epoch(2);
        let t = c.issue();
        assert_eq!(t, FencingToken::new(2, 1));
        c.enter_epoch(1);
        assert!(c.issue() > t, "an older epoch never moves the issuer back");
    }

    #[test]
    fn stale_token_is_rejected_after_a_newer_write() {
        let mut r = FencedResource::default();
        assert_eq!(r.admit(FencingToken(33), 1), Ok(()));
        assert_eq!(r.admit(FencingToken(34), 1), Ok(()));
        let stale = r.admit(FencingToken(33), 2).unwrap_err();
        assert_eq!(
            stale,
            Fenced::StaleToken(StaleToken { token: FencingToken(33), highest: FencingToken(34) })
        );
        assert_eq!(stale.highest(), FencingToken(34));
        assert_eq!(stale.to_string(), "stale token 0.33: the resource has accepted token 0.34");
        assert_eq!(r.admit(FencingToken(34), 2), Ok(()), "the current holder may write again");
        let restored = FencedResource::restore(r.highest(), r.highest_seq());
        assert_eq!((restored.highest(), restored.highest_seq()), (FencingToken(34), 2));
    }

    #[test]
    fn a_replayed_or_overtaken_write_under_the_current_token_is_rejected() {
        let mut r = FencedResource::default();
        for seq in 1..=3 {
            assert_eq!(r.admit(FencingToken(4), seq), Ok(()), "the holder's consecutive writes");
        }
        for seq in [0, 2, 3] {
            let why = r.admit(FencingToken(4), seq).unwrap_err();
            assert_eq!(why, Fenced::StaleSeq { token: FencingToken(4), seq, last: 3 });
            assert_eq!(why.highest(), FencingToken(4));
        }
        assert_eq!(
            r.admit(FencingToken(4), 2).unwrap_err().to_string(),
            "replayed or overtaken write: seq 2 under token 0.4 is not above seq 3, already accepted under it"
        );
        assert_eq!((r.highest(), r.highest_seq()), (FencingToken(4), 3), "a refusal changes nothing");
        // After a restart from the persisted pair, the same replay is still refused.
        let mut restored = FencedResource::restore(r.highest(), r.highest_seq());
        assert!(matches!(restored.admit(FencingToken(4), 3), Err(Fenced::StaleSeq { last: 3, .. })));
        assert_eq!(restored.admit(FencingToken(4), 4), Ok(()));
    }

    #[test]
    fn a_newer_token_is_admitted_with_any_seq() {
        let mut r = FencedResource::restore(FencingToken(4), 9);
        assert_eq!(r.admit(FencingToken(5), 0), Ok(()));
        assert_eq!(r.admit(FencingToken(6), 1), Ok(()));
        assert_eq!(r.admit(FencingToken(7), u64::MAX), Ok(()));
        // The fresh resource admits the first write of any writer numbering from 1.
        assert_eq!(FencedResource::default().admit(FencingToken(0), 1), Ok(()));
    }
}
