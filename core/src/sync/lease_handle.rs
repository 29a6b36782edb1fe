//! Publishing a lease from the protocol thread to application threads.
//!
//! The protocol thread (the only writer) publishes `(token, valid_until)` or a revocation;
//! any number of readers ask "may I act under a lease at monotonic time `now`?". Readers
//! never lock: the pair is published under a sequence lock (Boehm, "Can seqlocks get along
//! with programming language memory models?", MSPC 2012), so a reader sees one grant's
//! token with that same grant's deadline, never a mix; and since versions only grow, a
//! reader that has seen a revocation never sees the revoked lease again.

use super::shim::{Arc, AtomicU64, Ordering, fence, spin_loop};
use crate::fencing::FencingToken;
use crate::time::Instant;

#[derive(Debug, Default)]
struct Shared {
    /// Even: stable; odd: a write is in progress. Only grows.
    seq: AtomicU64,
    token: AtomicU64,
    /// Monotonic deadline in ns; 0 means no lease.
    valid_until: AtomicU64,
}

/// The protocol thread's end: publishes grants and revocations. Not `Clone`: one writer.
#[derive(Debug)]
pub struct LeaseWriter {
    shared: Arc<Shared>,
}

/// An application thread's end: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct LeaseReader {
    shared: Arc<Shared>,
}

/// A new lease handle with no lease published.
pub fn lease_handle() -> (LeaseWriter, LeaseReader) {
    let shared = Arc::new(Shared::default());
    (LeaseWriter { shared: shared.clone() }, LeaseReader { shared })
}

impl LeaseWriter {
    fn publish(&mut self, token: u64, valid_until: u64) {
        let s = &self.shared;
        // Ordering: mark the write in progress (odd), and fence so the data stores below
        // cannot be seen before the odd sequence (Release fence orders the stores after it
        // relative to an Acquire reader that sees them).
        let seq = s.seq.load(Ordering::Relaxed);
        s.seq.store(seq + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        s.token.store(token, Ordering::Relaxed);
        s.valid_until.store(valid_until, Ordering::Relaxed);
        // Release: a reader that acquires this even value sees both stores above.
        s.seq.store(seq + 2, Ordering::Release);
    }

    /// Publishes a lease with `token`, trusted until `valid_until` (monotonic).
    pub fn grant(&mut self, token: FencingToken, valid_until: Instant) {
        self.publish(token.0, valid_until.as_nanos().max(1));
    }

    /// Revokes the lease: from now on no reader that sees this acts under it.
    pub fn revoke(&mut self) {
        self.publish(0, 0);
    }
}

impl LeaseReader {
    /// A consistent snapshot: the token and deadline of one publication, and its version.
    pub fn snapshot(&self) -> (u64, FencingToken, Option<Instant>) {
        let s = &self.shared;
        loop {
            // Acquire pairs with the writer's final Release store of `seq`.
            let before = s.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                spin_loop();
                continue;
            }
            let token = s.token.load(Ordering::Relaxed);
            let until = s.valid_until.load(Ordering::Relaxed);
            // Acquire fence: the data loads above happen before the re-check below, so if
            // the sequence is unchanged no write overlapped them.
            fence(Ordering::Acquire);
            let after = s.seq.load(Ordering::Relaxed);
            if before == after {
                let deadline = (until != 0).then(|| Instant::from_nanos(until));
                return (before, FencingToken(token), deadline);
            }
            spin_loop();
        }
    }

    /// The token to act under at monotonic time `now`, if the lease is valid then.
    pub fn valid_at(&self, now: Instant) -> Option<FencingToken> {
        match self.snapshot() {
            (_, token, Some(until)) if now < until => Some(token),
            _ => None,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn grant_then_revoke() {
        let (mut w, r) = lease_handle();
        assert_eq!(r.valid_at(Instant::from_nanos(5)), None);
        w.grant(FencingToken(7), Instant::from_nanos(100));
        assert_eq!(r.valid_at(Instant::from_nanos(5)), Some(FencingToken(7)));
        assert_eq!(r.valid_at(Instant::from_nanos(100)), None, "expired at its deadline");
        w.revoke();
        assert_eq!(r.valid_at(Instant::from_nanos(5)), None);
    }
}
