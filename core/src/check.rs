//! Properties as checkers: the vocabulary the simulator, unit tests and multi-process tests
//! share to say what went wrong.
//!
//! A checker is a pure function over protocol states or over a history of
//! [`Observation`]s that returns `Err(Violation)` at the first sign of a broken property.
//! Each protocol module ships its own checkers in a `checks` submodule.

use crate::node::NodeId;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A broken property: which checker found it and what it saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The checker's name, e.g. `"detector::completeness"`.
    pub checker: &'static str,
    /// What went wrong, with the values involved.
    pub message: String,
}

impl Violation {
    /// A violation found by `checker`.
    pub fn new(checker: &'static str, message: impl Into<String>) -> Self {
        Violation { checker, message: message.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.checker, self.message)
    }
}

impl std::error::Error for Violation {}

/// A node's answer to one command, as the simulator records it (in an [`Observation`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Replied<R> {
    /// The command answered.
    pub req: crate::protocol::RequestId,
    /// The answer.
    pub reply: R,
}

/// An event a node emitted, stamped with the observer's reference time (true time in the
/// simulator, elapsed real time in a live cluster) since the start of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observation<E> {
    /// Reference time since the start of the run.
    pub at: Duration,
    /// The node that emitted the event.
    pub node: NodeId,
    /// The event.
    pub event: E,
}
