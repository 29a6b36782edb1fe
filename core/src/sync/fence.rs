//! Fencing for threads: an atomic fence, a fenced cell and a token allocator.

use super::shim::{AtomicU64, Mutex, Ordering, lock};
use crate::fencing::{FencingToken, StaleToken};

/// Admits a token iff it is ≥ the highest token admitted so far.
#[derive(Debug, Default)]
pub struct AtomicFence {
    highest: AtomicU64,
}

impl AtomicFence {
    /// A fence that has admitted nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits `token` if it is ≥ every token admitted before, raising the highest.
    ///
    /// Ordering: one `fetch_max` both checks and raises, so no two admissions can
    /// interleave between a check and a write (the naive load-then-store race). `AcqRel`:
    /// a thread admitted with token t sees everything threads admitted before it did
    /// before their admission (they released; it acquires).
    pub fn admit(&self, token: FencingToken) -> Result<(), StaleToken> {
        let previous = self.highest.fetch_max(token.0, Ordering::AcqRel);
        if token.0 < previous {
            return Err(StaleToken { token, highest: FencingToken(previous) });
        }
        Ok(())
    }

    /// The highest token admitted.
    pub fn highest(&self) -> FencingToken {
        // Acquire pairs with the AcqRel of `admit`.
        FencingToken(self.highest.load(Ordering::Acquire))
    }
}

/// A value guarded by fencing: a write carries a token and happens only if the token is
/// ≥ the highest that has written, checked and applied under one lock.
#[derive(Debug, Default)]
pub struct FencedCell<T> {
    inner: Mutex<(FencingToken, T)>,
}

impl<T: Clone> FencedCell<T> {
    /// A cell holding `value`, written by no token yet.
    pub fn new(value: T) -> Self {
        FencedCell { inner: Mutex::new((FencingToken::default(), value)) }
    }

    /// Writes `value` if `token` is ≥ the highest that has written. The check and the
    /// write are one critical section: a stale writer cannot slip in between a newer
    /// writer's check and its write.
    pub fn write(&self, token: FencingToken, value: T) -> Result<(), StaleToken> {
        let mut guard = lock(&self.inner);
        if token < guard.0 {
            return Err(StaleToken { token, highest: guard.0 });
        }
        *guard = (token, value);
        Ok(())
    }

    /// The last accepted value and the token that wrote it.
    pub fn read(&self) -> (FencingToken, T) {
        lock(&self.inner).clone()
    }
}

/// Hands out unique, strictly increasing tokens to concurrent callers.
#[derive(Debug, Default)]
pub struct TokenAllocator {
    last: AtomicU64,
}

impl TokenAllocator {
    /// An allocator whose next token is `after + 1` (restore from the persisted highest).
    pub fn starting_after(after: FencingToken) -> Self {
        TokenAllocator { last: AtomicU64::new(after.0) }
    }

    /// The next token. Ordering: `fetch_add` is a single read-modify-write, so every
    /// caller gets a distinct value and later calls (in the modification order) get larger
    /// ones; `Relaxed` suffices because the counter protects no other data.
    pub fn issue(&self) -> FencingToken {
        let previous = self.last.fetch_add(1, Ordering::Relaxed);
        FencingToken(previous + 1)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fence_rejects_lower_tokens_and_admits_equal_ones() {
        let f = AtomicFence::new();
        assert!(f.admit(FencingToken(5)).is_ok());
        assert!(f.admit(FencingToken(5)).is_ok());
        assert_eq!(
            f.admit(FencingToken(4)),
            Err(StaleToken { token: FencingToken(4), highest: FencingToken(5) })
        );
        assert_eq!(f.highest(), FencingToken(5));
    }

    #[test]
    fn cell_keeps_the_newest_writer() {
        let c = FencedCell::new(0u32);
        c.write(FencingToken(2), 20).unwrap();
        assert!(c.write(FencingToken(1), 10).is_err());
        assert_eq!(c.read(), (FencingToken(2), 20));
    }

    #[test]
    fn allocator_continues_after_a_restore() {
        let a = TokenAllocator::starting_after(FencingToken(41));
        assert_eq!(a.issue(), FencingToken(42));
        assert_eq!(a.issue(), FencingToken(43));
    }
}
