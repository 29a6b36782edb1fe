//! Loom model checks of `palisade_core::sync`.
//!
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p palisade-core --test loom --release`
//! (`.ci/run` does this; use LOOM_MAX_PREEMPTIONS=3 for the longer run).
//!
//! For each primitive a deliberately naive variant lives here too, and a `should_panic`
//! test proves loom finds its race: the checks can fail.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use palisade_core::Instant;
use palisade_core::fencing::FencingToken;
use palisade_core::sync::{AtomicFence, FencedCell, TokenAllocator, lease_handle};

fn t(n: u64) -> FencingToken {
    FencingToken(n)
}

// ---------------------------------------------------------------- fence

/// Two writers race with tokens 3 and 5: whatever the interleaving, the fence ends at 5.
#[test]
fn fence_admits_in_one_atomic_step() {
    loom::model(|| {
        let fence = Arc::new(AtomicFence::new());
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = [3u64, 5]
            .into_iter()
            .map(|tok| {
                let (fence, admitted) = (fence.clone(), admitted.clone());
                thread::spawn(move || {
                    if fence.admit(t(tok)).is_ok() {
                        admitted.lock().unwrap().push(tok);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(fence.highest(), t(5));
        assert!(admitted.lock().unwrap().contains(&5));
    });
}

/// The naive fence: check, then store.
struct NaiveFence(AtomicU64);

impl NaiveFence {
    fn admit(&self, token: u64) -> bool {
        if token < self.0.load(Ordering::SeqCst) {
            return false;
        }
        self.0.store(token, Ordering::SeqCst);
        true
    }
}

#[test]
#[should_panic(expected = "went backwards")]
fn naive_fence_is_caught() {
    loom::model(|| {
        let fence = Arc::new(NaiveFence(AtomicU64::new(0)));
        let handles: Vec<_> = [3u64, 5]
            .into_iter()
            .map(|tok| {
                let fence = fence.clone();
                thread::spawn(move || {
                    fence.admit(tok);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(fence.0.load(Ordering::SeqCst), 5, "the highest admitted token went backwards");
    });
}

// ---------------------------------------------------------------- fenced cell

#[test]
fn fenced_cell_keeps_the_newest_writers_value() {
    loom::model(|| {
        let cell = Arc::new(FencedCell::new(0u64));
        let handles: Vec<_> = [3u64, 5]
            .into_iter()
            .map(|tok| {
                let cell = cell.clone();
                thread::spawn(move || {
                    let _ = cell.write(t(tok), tok * 10);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(cell.read(), (t(5), 50));
    });
}

/// The naive cell: an atomic fence check, then the write under a separate lock.
struct NaiveCell {
    fence: AtomicFence,
    value: Mutex<u64>,
}

#[test]
#[should_panic(expected = "stale writer")]
fn naive_fenced_cell_is_caught() {
    loom::model(|| {
        let cell = Arc::new(NaiveCell { fence: AtomicFence::new(), value: Mutex::new(0) });
        let handles: Vec<_> = [3u64, 5]
            .into_iter()
            .map(|tok| {
                let cell = cell.clone();
                thread::spawn(move || {
                    if cell.fence.admit(t(tok)).is_ok() {
                        *cell.value.lock().unwrap() = tok * 10;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*cell.value.lock().unwrap(), 50, "a stale writer overwrote the newest value");
    });
}

// ---------------------------------------------------------------- token allocator

#[test]
fn allocator_tokens_are_unique_and_increasing() {
    loom::model(|| {
        let alloc = Arc::new(TokenAllocator::starting_after(t(0)));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let alloc = alloc.clone();
                thread::spawn(move || {
                    let a = alloc.issue();
                    let b = alloc.issue();
                    assert!(b > a, "one thread's tokens increase");
                    vec![a, b]
                })
            })
            .collect();
        let mut all: Vec<FencingToken> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all, vec![t(1), t(2), t(3), t(4)]);
    });
}

#[test]
#[should_panic(expected = "same token")]
fn naive_allocator_is_caught() {
    loom::model(|| {
        let last = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let last = last.clone();
                thread::spawn(move || {
                    let next = last.load(Ordering::SeqCst) + 1;
                    last.store(next, Ordering::SeqCst);
                    next
                })
            })
            .collect();
        let got: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_ne!(got[0], got[1], "two callers got the same token");
    });
}

// ---------------------------------------------------------------- lease handle

/// The protocol thread renews (token 1 → token 2 with a later deadline) and then revokes;
/// a reader never sees token 1 with token 2's deadline, and once it has seen the
/// revocation it never sees a valid lease again.
#[test]
fn lease_reader_sees_consistent_pairs_and_revocation_sticks() {
    loom::model(|| {
        let (mut w, r) = lease_handle();
        w.grant(t(1), Instant::from_nanos(100));
        let reader = thread::spawn(move || {
            let mut seen_revoked = false;
            for _ in 0..2 {
                let (_, token, until) = r.snapshot();
                match until {
                    None => seen_revoked = true,
                    Some(u) => {
                        assert!(!seen_revoked, "valid again after a revocation was seen");
                        let expected = if token == t(1) { 100 } else { 200 };
                        assert_eq!(u.as_nanos(), expected, "torn read: {token:?} with deadline {u:?}");
                    }
                }
            }
        });
        w.grant(t(2), Instant::from_nanos(200));
        w.revoke();
        reader.join().unwrap();
    });
}

/// The naive handle: two independent relaxed atomics, no sequence check.
#[test]
#[should_panic(expected = "torn read")]
fn naive_lease_handle_is_caught() {
    loom::model(|| {
        let token = Arc::new(AtomicU64::new(1));
        let until = Arc::new(AtomicU64::new(100));
        let (rt, ru) = (token.clone(), until.clone());
        let reader = thread::spawn(move || {
            let u = ru.load(Ordering::Relaxed);
            let tok = rt.load(Ordering::Relaxed);
            let expected = if tok == 1 { 100 } else { 200 };
            assert_eq!(u, expected, "torn read: token {tok} with deadline {u}");
        });
        token.store(2, Ordering::Relaxed);
        until.store(200, Ordering::Relaxed);
        reader.join().unwrap();
    });
}
