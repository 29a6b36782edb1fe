//! Concurrent primitives for deployments where several threads share one node's state,
//! model-checked with loom (`core/tests/loom.rs`).
//!
//! Code here imports atomics only from the [`shim`], which re-exports `std` normally and
//! `loom` under `--cfg loom`, as tokio does. Each primitive states its memory-ordering
//! argument next to the orderings it uses.
//!
//! * [`AtomicFence`]: admit a token iff it is ≥ the highest admitted, in one atomic step.
//! * [`FencedCell`]: a value whose admit-and-write is one atomic step.
//! * [`TokenAllocator`]: unique, strictly increasing tokens under contention.
//! * [`lease_handle`]: the protocol thread publishes (token, deadline); application threads
//!   read a consistent pair without locking, and never see a lease valid after they have
//!   seen it revoked.

mod fence;
mod lease_handle;
pub mod shim;

pub use fence::{AtomicFence, FencedCell, TokenAllocator};
pub use lease_handle::{LeaseReader, LeaseWriter, lease_handle};
