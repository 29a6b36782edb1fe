//! The same properties of both queues: order by time, FIFO among equal times, pushes into
//! the past run at the last popped time, and every pop equal to a binary heap's under
//! interleaved use with many time distributions (bursts at one instant, far-off outliers,
//! spacings from nanoseconds to hours, sizes that grow and shrink), and pushes that land
//! before a time already peeked at.

use super::{CalendarQueue, RadixQueue};
use palisade_core::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The interface both queues share, so one test body checks each.
trait Queue<T> {
    fn push(&mut self, at: u64, item: T);
    fn pop(&mut self) -> Option<(u64, T)>;
    fn pop_due(&mut self, end: u64) -> Option<(u64, T)>;
    fn peek_time(&mut self) -> Option<u64>;
    fn len(&self) -> usize;
}

macro_rules! impl_queue {
    ($q:ident) => {
        impl<T> Queue<T> for $q<T> {
            fn push(&mut self, at: u64, item: T) {
                $q::push(self, at, item)
            }
            fn pop(&mut self) -> Option<(u64, T)> {
                $q::pop(self)
            }
            fn pop_due(&mut self, end: u64) -> Option<(u64, T)> {
                $q::pop_due(self, end)
            }
            fn peek_time(&mut self) -> Option<u64> {
                $q::peek_time(self)
            }
            fn len(&self) -> usize {
                $q::len(self)
            }
        }
    };
}
impl_queue!(CalendarQueue);
impl_queue!(RadixQueue);

/// Runs `check` on each queue.
fn each(check: impl Fn(&mut dyn Queue<u64>)) {
    check(&mut CalendarQueue::new());
    check(&mut RadixQueue::new());
}

#[test]
fn pops_by_time_then_insertion_order() {
    each(|q| {
        for (at, x) in [(5, 1), (1, 2), (5, 3), (0, 4)] {
            q.push(at, x);
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(0, 4), (1, 2), (5, 1), (5, 3)]);
        assert_eq!(q.len(), 0);
    });
}

#[test]
fn pop_due_takes_only_what_is_due_and_leaves_the_rest_in_order() {
    each(|q| {
        for (at, x) in [(5, 1), (9, 2), (5, 3), (12, 4)] {
            q.push(at, x);
        }
        assert_eq!(q.pop_due(4), None);
        assert_eq!(q.len(), 4);
        assert_eq!(q.pop_due(5), Some((5, 1)));
        assert_eq!(q.pop_due(5), Some((5, 3)));
        assert_eq!(q.pop_due(8), None);
        // Something earlier than the item left waiting still comes first.
        q.push(7, 5);
        assert_eq!(q.pop_due(9), Some((7, 5)));
        assert_eq!(q.pop_due(9), Some((9, 2)));
        assert_eq!(q.pop_due(u64::MAX), Some((12, 4)));
        assert_eq!(q.pop_due(u64::MAX), None);
        assert_eq!(q.len(), 0);
    });
}

#[test]
fn a_push_into_the_past_runs_now() {
    each(|q| {
        q.push(10, 1);
        assert_eq!(q.pop(), Some((10, 1)));
        q.push(3, 2);
        q.push(10, 3);
        assert_eq!(q.pop(), Some((10, 2)));
        assert_eq!(q.pop(), Some((10, 3)));
    });
}

#[test]
fn a_push_before_a_peeked_item_comes_first() {
    // The simulator peeks at the next event's time, stops at the end of a run, and a
    // command may then be scheduled before that event.
    each(|q| {
        q.push(0, 0);
        assert_eq!(q.pop(), Some((0, 0)));
        q.push(5_000_000_000, 1);
        assert_eq!(q.peek_time(), Some(5_000_000_000));
        q.push(7, 2);
        assert_eq!(q.peek_time(), Some(7));
        assert_eq!(q.pop(), Some((7, 2)));
        assert_eq!(q.pop(), Some((5_000_000_000, 1)));
    });
}

#[test]
fn the_end_of_time_is_reached() {
    each(|q| {
        q.push(u64::MAX, 1);
        q.push(u64::MAX - 1, 2);
        q.push(u64::MAX, 3);
        assert_eq!(q.pop(), Some((u64::MAX - 1, 2)));
        assert_eq!(q.pop(), Some((u64::MAX, 1)));
        q.push(0, 4);
        assert_eq!(q.pop(), Some((u64::MAX, 3)));
        assert_eq!(q.pop(), Some((u64::MAX, 4)));
        assert_eq!(q.pop(), None);
    });
}

/// Delays drawn from one of several shapes, to exercise the calendar's width estimate.
fn delay(rng: &mut Rng, shape: u64) -> u64 {
    match shape {
        0 => rng.below(1_000_000),                               // uniform, up to 1 ms
        1 => 0,                                                  // a burst at one instant
        2 => rng.below(4),                                       // nanoseconds apart
        3 => (rng.below(2) * 3_600_000_000_000) + rng.below(10), // now or an hour on
        4 => 1 << rng.below(50),                                 // every scale
        _ => rng.below(100_000_000) * 1_000,                     // uniform, up to 100 s
    }
}

#[test]
fn matches_a_binary_heap_under_interleaved_monotone_use() {
    for seed in 0..12 {
        each(|q| {
            let mut rng = Rng::from_seed(seed);
            let mut reference = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for phase in 0..12 {
                // Phases that grow the queue, shrink it and hold it, each with its shape.
                let shape = rng.below(6);
                let push_share = [0.8, 0.2, 0.5][phase % 3];
                for _ in 0..4_000 {
                    if rng.chance(push_share) || reference.is_empty() {
                        let at = now.saturating_add(delay(&mut rng, shape));
                        q.push(at, seq);
                        reference.push(Reverse((at, seq)));
                        seq += 1;
                    } else {
                        let Reverse((at, s)) = reference.pop().unwrap();
                        assert_eq!(q.peek_time(), Some(at), "seed {seed} phase {phase}");
                        assert_eq!(q.pop(), Some((at, s)), "seed {seed} phase {phase}");
                        now = at;
                    }
                    assert_eq!(q.len(), reference.len());
                }
            }
            while let Some(Reverse((at, s))) = reference.pop() {
                assert_eq!(q.pop(), Some((at, s)));
            }
            assert_eq!(q.pop(), None);
        });
    }
}

#[test]
fn matches_a_binary_heap_when_pushes_land_before_a_peeked_time() {
    // Between two runs the simulator has peeked at the next time and may then schedule
    // earlier, or at a time many items already share: the radix heap files everything
    // again then, and FIFO among equal times must survive it.
    for seed in 0..40 {
        each(|q| {
            let mut rng = Rng::from_seed(seed);
            let mut reference = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u64);
            let mut push = |q: &mut dyn Queue<u64>, reference: &mut BinaryHeap<_>, at: u64| {
                q.push(at, seq);
                reference.push(Reverse((at, seq)));
                seq += 1;
            };
            for step in 0..3_000 {
                match rng.below(4) {
                    // Few distinct times, so many items share each.
                    0 | 1 => push(q, &mut reference, now + rng.below(4) * 1_000),
                    2 => {
                        if let Some(peeked) = q.peek_time() {
                            let at = now + rng.below(peeked - now + 1);
                            for _ in 0..=rng.below(3) {
                                push(q, &mut reference, at);
                            }
                        }
                    }
                    _ => {
                        if let Some(Reverse((at, s))) = reference.pop() {
                            assert_eq!(q.pop(), Some((at, s)), "seed {seed} step {step}");
                            now = at;
                        }
                    }
                }
                assert_eq!(q.len(), reference.len());
            }
            while let Some(Reverse((at, s))) = reference.pop() {
                assert_eq!(q.pop(), Some((at, s)), "seed {seed} draining");
            }
            assert_eq!(q.pop(), None);
        });
    }
}
