//! The event queue: earliest true time first, FIFO among equal times, so every run is
//! reproducible.
//!
//! Two structures share one interface and one set of property tests: a radix heap
//! ([`RadixQueue`]), which the simulator uses, and an adaptive calendar queue
//! ([`CalendarQueue`]), kept as the measured alternative. Side by side in the bare event
//! loop of `pingpong_bench` (`cargo run --release --example pingpong_bench -- --queues`),
//! the calendar queue is 1.1-1.5× faster with up to a few thousand pending events (5 to 100
//! nodes) and 0.5-1.1× as fast with tens of thousands (1000 nodes), where its buckets no
//! longer fit in cache (0.52-0.88× on 2026-12-04 after the core's draws were inlined,
//! 0.7-1.1× before). Inside the simulator (measured by making [`EventQueue`] each of them
//! in turn) the calendar queue saved 0-7% of an event's cost at 10 nodes and cost 1.5-2× as
//! much at 1000 nodes at first; with the simulator's later speed-ups, 1.05× at 10 nodes and
//! 1.12-1.6× at 1000 (two sets of 5 alternating runs on 2026-12-04). A queue that switched
//! between them at 8192 items kept the small saving but ran 1000 nodes 7-9% slower than the
//! radix heap alone, for reasons not found, so the simulator keeps the radix heap at every
//! size. A radix heap with byte-wide digits (256 buckets a level, so an item moves 2-3
//! times rather than 4-8) was no faster in the bare loop (21.5, 22.2, 27.0 and 26.9 ns per
//! event at 5, 10, 100 and 1000 nodes against 22.6, 23.0, 25.0 and 27.0) and 6% slower
//! inside the simulator at 1000 nodes; it was not kept.

mod calendar;
mod radix;
mod slab;

pub use calendar::CalendarQueue;
pub use radix::RadixQueue;

/// The simulator's event queue.
pub type EventQueue<T> = RadixQueue<T>;

#[cfg(test)]
mod tests;
