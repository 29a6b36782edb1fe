//! Histories of client operations, and a linearizability checker for them.
//!
//! A history is what clients saw: each operation was invoked at some time and then either
//! completed (`ok`), definitely did not take effect (`fail`), or has an unknown outcome
//! (`info`: a timeout, a crashed client), in which case it may have taken effect at any
//! moment after its invocation, or never. A history is *linearizable* for a sequential
//! [`Model`] when every operation can be given one point between its invocation and its
//! completion such that, taken in that order, the model accepts every result the clients
//! saw (Herlihy and Wing, 1990).
//!
//! [`check`] runs the Wing-Gong-Lowe search: it walks the invocations in real-time order,
//! linearizes one that is minimal, and backtracks when a completion is reached with its
//! operation still pending. It caches every (linearized set, model state) pair it has seen,
//! as Lowe's variant does, so equivalent orders are explored once. [`check_by_key`] first
//! splits a history by key and checks each part alone (P-compositionality: a history of
//! independent objects is linearizable iff each object's is). When a history is not
//! linearizable, [`minimal_failure`] shrinks it to a sub-history that still fails and
//! loses that property if any one of its operations is removed.
//!
//! The built-in models are in [`models`]: a register, a compare-and-set register, a
//! key-value map with get/put/append, and a lease with fencing tokens. The same checker
//! judges histories from the simulator, the explorer and real processes; the `palisade
//! check-history` command reads them from files.

pub mod events;
pub mod minimize;
pub mod models;
mod search;
mod value;

pub use events::{Event, EventKind, PairError, pair};
pub use minimize::{Witness, minimal_failure};
pub use search::{Budget, Verdict, check, check_by_key};
pub use value::Value;

/// What a client learnt of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<O> {
    /// It took effect and returned this.
    Ok(O),
    /// It definitely did not take effect (what that means for an operation that compares,
    /// such as a compare-and-set, is the model's to say).
    Fail,
    /// Nobody knows: it may have taken effect at any point after its invocation, or never.
    Info,
}

/// One operation of a history: who invoked what, when, and what came of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The client process that invoked it (a process runs one operation at a time).
    pub process: u64,
    /// What was asked.
    pub input: I,
    /// What came of it.
    pub outcome: Outcome<O>,
    /// When it was invoked, in any unit that orders the history (ns, or line numbers).
    pub invoked: u64,
    /// When its outcome was known; `None` for [`Outcome::Info`], which never completes.
    pub completed: Option<u64>,
}

/// A sequential specification: the state of one object and how operations change it.
///
/// `step` is the whole model. It is given the state before the operation and what the
/// client saw, and returns the state after, or `None` if the object could not have produced
/// that outcome from that state. For [`Outcome::Info`] it returns the state as if the
/// operation took effect (the checker also tries "it never took effect" on its own). For
/// [`Outcome::Fail`] it decides what a
/// failure says: usually nothing (return the same state), but a failed compare-and-set saw
/// a value other than the expected one.
pub trait Model {
    /// The object's state. Hashed and compared to cache what the search has seen.
    type State: Clone + Eq + std::hash::Hash;
    /// An operation's arguments.
    type Input;
    /// An operation's result.
    type Output;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// The state after `input` with `outcome` in `state`, or `None` if that is impossible.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        outcome: &Outcome<Self::Output>,
    ) -> Option<Self::State>;
    /// True if the operation never changes the state (a read): with its outcome unknown it
    /// says nothing, and [`minimal_failure`] leaves it out of a witness.
    fn is_read_only(&self, _input: &Self::Input) -> bool {
        false
    }
}
