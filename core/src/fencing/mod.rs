//! Fencing tokens and fenced resources (DDIA figure 8-5).
//!
//! Model: any timing; crash-recovery resources with stable storage; clients may be paused
//! or delayed arbitrarily (they are not trusted to know whether their lease still holds).
//! Guarantees: a [`FencedResource`] accepts a write only if its token is at least the
//! highest it has accepted, and remembers that highest token durably, so a write from a
//! deposed holder (a smaller token) is rejected whenever a newer holder has written,
//! before or after a restart.
//! Checkers: [`checks::accepted_tokens_never_decrease`] (the resource's rule, restated),
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// Why a fenced resource refused a write.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("stale {token:?}: the resource has accepted {highest:?}")]
pub struct StaleToken {
    /// The token presented.
    pub token: FencingToken,
    /// The highest token accepted so far.
    pub highest: FencingToken,
}

/// The storage side of fencing: admit a write iff its token is ≥ the highest admitted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencedResource {
    highest: FencingToken,
}

impl FencedResource {
    /// A resource that has accepted tokens up to `highest` (restored from durable state).
    pub fn restore(highest: FencingToken) -> Self {
        FencedResource { highest }
    }

    /// Admits a write with `token`, raising the highest seen; the caller must persist
    /// [`FencedResource::highest`] before acknowledging the write.
    pub fn admit(&mut self, token: FencingToken) -> Result<(), StaleToken> {
        if token < self.highest {
            return Err(StaleToken { token, highest: self.highest });
        }
        self.highest = token;
        Ok(())
    }

    /// The highest token accepted.
    pub fn highest(&self) -> FencingToken {
        self.highest
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
        assert_eq!(r.admit(FencingToken(33)), Ok(()));
        assert_eq!(r.admit(FencingToken(34)), Ok(()));
        assert_eq!(
            r.admit(FencingToken(33)),
            Err(StaleToken { token: FencingToken(33), highest: FencingToken(34) })
        );
        assert_eq!(r.admit(FencingToken(34)), Ok(()), "the current holder may write again");
        let restored = FencedResource::restore(r.highest());
        assert_eq!(restored.highest(), FencingToken(34));
    }
}
