//! Writes decided at a lease check and sent later without checking again: DDIA example
//! 8-1's `if lease.isValid() { process(request) }`, where the processing takes time. Both the
//! lock-service client and the elected leader write this way, so fencing must catch what a
//! pause in between makes stale.
//!
//! Each write is numbered when it is decided: 1, 2, 3, … under each token, starting again
//! at 1 when the token changes (a writer's tokens only grow). The storage admits a write
//! under its current token only with a higher number, so a replay or duplicate never rolls
//! its value back. Delayed writes may reach the storage out of order (a pause releases
//! several at once, and the network reorders): one arriving after a later-numbered one is
//! rejected, which is fencing doing its job, not a lost acknowledgement.

use crate::fencing::FencingToken;
use std::collections::BTreeMap;
use std::time::Duration;

/// Writes decided but not yet sent, at most: each write command adds one for its processing
/// time, so this bounds how many an application can have waiting at once.
pub const MAX_PENDING_WRITES: usize = 1024;

/// A write as it goes to the storage.
#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq)]
pub struct Write {
    /// The writer's token.
    pub token: FencingToken,
    /// The write's number under `token`, from 1.
    pub seq: u64,
    /// The value.
    pub value: u64,
}

/// What to do with a write just decided.
#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq)]
pub enum Decision {
    /// Send it now.
    Now(Write),
    /// Arm a timer for `key` (the write it will send is the first field);
    /// [`DelayedWrites::take`] it when it fires.
    Later(Write, u64),
    /// Too many writes in flight: skip this one (it takes no number).
    Full,
}

/// The writes waiting out their processing delay, by key, and the numbering of writes.
#[derive(Clone, Debug, Hash, Default)]
pub struct DelayedWrites {
    pending: BTreeMap<u64, Write>,
    /// The key the next delayed write gets.
    next_key: u64,
    /// The token of the last write decided, and its number.
    last: Option<(FencingToken, u64)>,
}

impl DelayedWrites {
    /// Decides a write of `value` under `token`, to be sent after `delay`, numbering it now.
    pub fn decide(&mut self, token: FencingToken, value: u64, delay: Duration) -> Decision {
        if !delay.is_zero() && self.pending.len() >= MAX_PENDING_WRITES {
            return Decision::Full;
        }
        let seq = match self.last {
            Some((last, seq)) if last == token => seq + 1,
            _ => 1,
        };
        self.last = Some((token, seq));
        let write = Write { token, seq, value };
        if delay.is_zero() {
            Decision::Now(write)
        } else {
            let key = self.next_key;
            self.next_key += 1;
            self.pending.insert(key, write);
            Decision::Later(write, key)
        }
    }

    /// The write whose timer fired, if it is still pending.
    pub fn take(&mut self, key: u64) -> Option<Write> {
        self.pending.remove(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_numbered_per_token_when_decided() {
        let (t4, t5) = (FencingToken(4), FencingToken(5));
        let mut w = DelayedWrites::default();
        let later = Duration::from_millis(300);
        assert_eq!(w.decide(t4, 10, Duration::ZERO), Decision::Now(Write { token: t4, seq: 1, value: 10 }));
        assert_eq!(w.decide(t4, 11, later), Decision::Later(Write { token: t4, seq: 2, value: 11 }, 0));
        assert_eq!(w.decide(t4, 12, Duration::ZERO), Decision::Now(Write { token: t4, seq: 3, value: 12 }));
        // The delayed write keeps the number it was decided with, though it leaves last.
        assert_eq!(w.take(0), Some(Write { token: t4, seq: 2, value: 11 }));
        assert_eq!(w.take(0), None);
        // A new token starts again at 1.
        assert_eq!(w.decide(t5, 13, Duration::ZERO), Decision::Now(Write { token: t5, seq: 1, value: 13 }));
    }

    #[test]
    fn a_skipped_write_takes_no_number() {
        let t = FencingToken(1);
        let mut w = DelayedWrites::default();
        let later = Duration::from_millis(1);
        for k in 0..MAX_PENDING_WRITES as u64 {
            assert!(matches!(w.decide(t, k, later), Decision::Later(_, key) if key == k));
        }
        assert_eq!(w.decide(t, 0, later), Decision::Full);
        assert_eq!(w.take(0).map(|w| w.seq), Some(1));
        let next = MAX_PENDING_WRITES as u64 + 1;
        assert_eq!(w.decide(t, 0, Duration::ZERO), Decision::Now(Write { token: t, seq: next, value: 0 }));
    }
}
