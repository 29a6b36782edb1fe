//! Writes decided at a lease check and sent later without checking again: DDIA example
//! 8-1's `if lease.isValid() { process(request) }`, where the processing takes time. Both the
//! lock-service client and the elected leader write this way, so fencing must catch what a
//! pause in between makes stale.

use crate::fencing::FencingToken;
use std::collections::BTreeMap;
use std::time::Duration;

/// Writes decided but not yet sent, at most: each check adds one, and checks come every
/// `write_every`, so this bounds `write_delay / write_every`.
pub const MAX_PENDING_WRITES: usize = 1024;

/// What to do with a write just decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it now.
    Now(FencingToken, u64),
    /// Arm a timer for `key`; [`DelayedWrites::take`] it when it fires.
    Later(u64),
    /// Too many writes in flight: skip this one.
    Full,
}

/// The writes waiting out their processing delay, by key.
#[derive(Clone, Debug, Default)]
pub struct DelayedWrites {
    pending: BTreeMap<u64, (FencingToken, u64)>,
}

impl DelayedWrites {
    /// Decides a write of `value` under `token` (its `key` unique per node), to be sent after
    /// `delay`.
    pub fn decide(&mut self, key: u64, token: FencingToken, value: u64, delay: Duration) -> Decision {
        if delay.is_zero() {
            Decision::Now(token, value)
        } else if self.pending.len() < MAX_PENDING_WRITES {
            self.pending.insert(key, (token, value));
            Decision::Later(key)
        } else {
            Decision::Full
        }
    }

    /// The write whose timer fired, if it is still pending.
    pub fn take(&mut self, key: u64) -> Option<(FencingToken, u64)> {
        self.pending.remove(&key)
    }
}
