//! An adaptive calendar queue (Brown, 1988), with a sorted bottom as in a ladder queue (Tang,
//! Goh and Thng, 2005).
//!
//! Time is cut into windows of one bucket width (a power of two of nanoseconds); window `w`
//! files into bucket `w mod buckets`, so a year of `buckets × width` nanoseconds lies on the
//! calendar at once and later items wait in their bucket for their year to come round. When
//! the sorted bottom runs out, the next window's items are taken out of their bucket and
//! sorted into the bottom, which the earliest item is popped from. Pushes into the window
//! already in the bottom are inserted in order there. The number of buckets follows the
//! number of items, and the width follows the spacing of the earlier half, measured each
//! time the calendar is rebuilt: when it doubles or halves, or when popping starts to cost
//! more than a few entries looked at per item.

use super::slab::Slab;
use std::collections::VecDeque;

/// An item's place in the order: time, then push order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    at: u64,
    seq: u64,
    slot: u32,
}

/// Fewest buckets the calendar shrinks to.
const MIN_BUCKETS: usize = 16;
/// A calendar that costs more than this many entries or buckets looked at per pop is rebuilt.
const MAX_WORK_PER_POP: u64 = 6;

/// Items scheduled at true times (ns), popped earliest first, FIFO among equal times.
pub struct CalendarQueue<T> {
    slab: Slab<T>,
    /// The current window's items, earliest first: every item before `bottom_end`.
    bottom: VecDeque<Key>,
    bottom_end: u64,
    /// Items at or after `bottom_end`, by window modulo the number of buckets.
    buckets: Vec<Vec<Key>>,
    /// The bucket width is `1 << shift` ns.
    shift: u32,
    /// The next window to move into the bottom starts at `bottom_end`, in this bucket.
    next_bucket: usize,
    /// Time of the last item popped: nothing is scheduled before it.
    last: u64,
    seq: u64,
    len: usize,
    /// Pops and the entries and buckets they looked at since the calendar was last built.
    pops: u64,
    work: u64,
}

impl<T> Default for CalendarQueue<T> {
    fn default() -> Self {
        CalendarQueue {
            slab: Slab::default(),
            bottom: VecDeque::new(),
            bottom_end: 0,
            buckets: (0..MIN_BUCKETS).map(|_| Vec::new()).collect(),
            shift: 20,
            next_bucket: 0,
            last: 0,
            seq: 0,
            len: 0,
            pops: 0,
            work: 0,
        }
    }
}

impl<T> CalendarQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn bucket_of(&self, at: u64) -> usize {
        ((at >> self.shift) as usize) & (self.buckets.len() - 1)
    }

    /// Schedules `item` at true time `at`. Times earlier than the last popped item's are
    /// scheduled at that time instead (the simulator never schedules into the past).
    #[inline]
    pub fn push(&mut self, at: u64, item: T) {
        let slot = self.slab.insert(item);
        let key = Key { at: at.max(self.last), seq: self.seq, slot };
        self.seq += 1;
        self.len += 1;
        self.file(key);
        if self.len > 2 * self.buckets.len() {
            self.rebuild(self.buckets.len() * 2);
        }
    }

    fn file(&mut self, key: Key) {
        if key.at < self.bottom_end {
            // Into the sorted bottom, after every earlier key: items pushed at the current
            // time (the common case) land near its front.
            let i = self.bottom.partition_point(|k| *k < key);
            self.bottom.insert(i, key);
        } else {
            let b = self.bucket_of(key.at);
            self.buckets[b].push(key);
        }
    }

    /// Makes the bottom hold the earliest items, if there are any; false when empty.
    fn settle(&mut self) -> bool {
        if !self.bottom.is_empty() {
            return true;
        }
        if self.len == 0 {
            return false;
        }
        if self.pops >= self.buckets.len().max(64) as u64 {
            if self.work > MAX_WORK_PER_POP * self.pops {
                self.rebuild(self.buckets.len());
            }
            (self.pops, self.work) = (0, 0);
        }
        let width = 1u64 << self.shift;
        // Window by window for one year; then, if every item lies beyond that year, jump
        // straight to the window of the earliest.
        for _ in 0..self.buckets.len() {
            let end = self.bottom_end.saturating_add(width);
            // A window that reaches the end of time takes everything left in its bucket.
            let cut = if end == u64::MAX { u64::MAX } else { end - 1 };
            let b = self.next_bucket;
            self.next_bucket = (b + 1) & (self.buckets.len() - 1);
            self.bottom_end = end;
            let bucket = &mut self.buckets[b];
            self.work += 1 + bucket.len() as u64;
            let mut i = 0;
            while i < bucket.len() {
                if bucket[i].at <= cut {
                    self.bottom.push_back(bucket.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            if !self.bottom.is_empty() {
                self.bottom.make_contiguous().sort_unstable();
                return true;
            }
        }
        let earliest = self.buckets.iter().flatten().map(|k| k.at).min().expect("len > 0 but no item filed");
        self.work += self.len as u64;
        self.bottom_end = earliest >> self.shift << self.shift;
        self.next_bucket = self.bucket_of(earliest);
        self.settle()
    }

    /// Files every item again into `buckets` buckets, with the width measured on the
    /// items: three times the mean spacing of the earlier half (a few far-off items, such
    /// as a fault an hour ahead, do not widen it), rounded up to a power of two.
    fn rebuild(&mut self, buckets: usize) {
        let mut keys: Vec<Key> = self.bottom.drain(..).collect();
        for b in &mut self.buckets {
            keys.append(b);
        }
        if keys.len() >= 2 {
            let half = keys.len() / 2;
            let first = keys.iter().map(|k| k.at).min().unwrap_or(0);
            let (_, median, _) = keys.select_nth_unstable(half);
            let mut spacing = (median.at - first) / half as u64;
            if spacing == 0 {
                // The earlier half shares one time (a burst): spread over all the items.
                let end = keys.iter().map(|k| k.at).max().unwrap_or(first);
                spacing = (end - first) / keys.len() as u64;
            }
            self.shift = (3 * spacing).max(1).next_power_of_two().trailing_zeros().min(62);
        }
        let buckets = buckets.max(MIN_BUCKETS).next_power_of_two();
        self.buckets.resize_with(buckets, Vec::new);
        self.buckets.truncate(buckets);
        // The bottom starts empty at the window of the last pop: nothing is earlier.
        self.bottom_end = self.last >> self.shift << self.shift;
        self.next_bucket = self.bucket_of(self.last);
        for key in keys {
            self.file(key);
        }
        (self.pops, self.work) = (0, 0);
    }

    /// The time of the earliest item.
    #[inline]
    pub fn peek_time(&mut self) -> Option<u64> {
        if self.settle() { self.bottom.front().map(|k| k.at) } else { None }
    }

    /// Removes and returns the earliest item with its time if it is due at or before
    /// `end`; a later one stays queued.
    #[inline]
    pub fn pop_due(&mut self, end: u64) -> Option<(u64, T)> {
        if self.peek_time()? > end { None } else { self.pop() }
    }

    /// Removes and returns the earliest item with its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, T)> {
        if !self.settle() {
            return None;
        }
        let key = self.bottom.pop_front()?;
        let item = self.slab.remove(key.slot)?;
        self.len -= 1;
        self.last = key.at;
        self.pops += 1;
        if self.len * 4 < self.buckets.len() && self.buckets.len() > MIN_BUCKETS {
            self.rebuild(self.buckets.len() / 2);
        }
        Some((key.at, item))
    }

    /// Number of scheduled items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
