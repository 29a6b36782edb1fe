//! The ABD register's property: its history is linearizable.
//!
//! [`history`] turns the events nodes emitted ([`AbdEvent::Invoked`], [`AbdEvent::Returned`],
//! [`AbdEvent::Failed`]) into a client history; [`linearizable`] pairs it and runs
//! [`crate::history::check`] with the register model. Every invocation is its own
//! process, `node * 2^32 + k` for the node's k-th invocation, so an operation a restart cut
//! short stays pending (an unknown outcome, which may have taken effect or not) without
//! blocking the node's later operations.

use super::{AbdEvent, OpKind};
use crate::check::{Observation, Violation};
use crate::history::events::Call;
use crate::history::models::Register;
use crate::history::{Budget, Event, EventKind, Operation, Outcome, Value, Verdict, check, pair};
use crate::node::NodeId;
use std::collections::BTreeMap;

/// The checker's name in violations.
pub const LINEARIZABLE: &str = "abd::linearizable";

/// The name of the violation reported when the search ran out of budget: the history was
/// neither shown linearizable nor shown not to be.
pub const UNDECIDED: &str = "abd::linearizability_undecided";

/// A value as histories write it: `nil` for a register never written.
pub fn value(v: Option<u64>) -> Value {
    match v {
        None => Value::Nil,
        Some(v) => i64::try_from(v).map(Value::Int).unwrap_or_else(|_| Value::Str(v.to_string())),
    }
}

fn f(op: OpKind) -> &'static str {
    match op {
        OpKind::Read => "read",
        OpKind::Write => "write",
    }
}

/// The client history of `observations` (in time order, as a run records them): an
/// `invoke` per [`AbdEvent::Invoked`], an `ok` per [`AbdEvent::Returned`] and a `fail` per
/// [`AbdEvent::Failed`], each matched to the latest invocation of the same request id on
/// the same node. Rejected commands were never invoked and are left out; an outcome with no
/// invocation (none in a run the protocol drove) is left out too. `time` is in ns, `line`
/// the observation's index.
pub fn history(observations: &[Observation<AbdEvent>]) -> Vec<Event> {
    let mut open: BTreeMap<(NodeId, u64), u64> = BTreeMap::new();
    let mut count: BTreeMap<NodeId, u64> = BTreeMap::new();
    let mut events = Vec::new();
    for (line, o) in observations.iter().enumerate() {
        let time = u64::try_from(o.at.as_nanos()).unwrap_or(u64::MAX);
        let (req, op, v, kind) = match o.event {
            AbdEvent::Invoked { req, op, value } => (req, op, value, EventKind::Invoke),
            AbdEvent::Returned { req, op, value } => (req, op, value, EventKind::Ok),
            AbdEvent::Failed { req, op, value } => (req, op, value, EventKind::Fail),
            AbdEvent::Rejected { .. } => continue,
        };
        let process = if kind == EventKind::Invoke {
            let k = count.entry(o.node).or_insert(0);
            *k += 1;
            let process = (u64::from(o.node.0) << 32) | (*k & 0xffff_ffff);
            open.insert((o.node, req), process);
            process
        } else {
            match open.remove(&(o.node, req)) {
                Some(p) => p,
                None => continue,
            }
        };
        let val = match (kind, op) {
            (EventKind::Invoke, OpKind::Read) => Value::Nil,
            _ => value(v),
        };
        events.push(Event { process, kind, f: f(op).into(), key: None, value: val, time, line });
    }
    events
}

/// [`linearizable_within`] with the default budget.
pub fn linearizable(observations: &[Observation<AbdEvent>]) -> Result<(), Violation> {
    linearizable_within(observations, Budget::default())
}

/// Checks that the history of `observations` is linearizable for a read/write register
/// that starts `nil`. A failure names the operation no order explains and the last few
/// operations the search could order before it; a search that runs out of `budget` is
/// reported as [`UNDECIDED`], never as a pass.
pub fn linearizable_within(observations: &[Observation<AbdEvent>], budget: Budget) -> Result<(), Violation> {
    let events = history(observations);
    let ops = pair(&events).map_err(|e| Violation::new(LINEARIZABLE, format!("malformed history: {e}")))?;
    match check(&Register, &ops, budget) {
        Verdict::Linearizable { .. } => Ok(()),
        Verdict::Undecided { steps } => Err(Violation::new(
            UNDECIDED,
            format!("{} operations: no verdict within {steps} search steps", ops.len()),
        )),
        Verdict::NotLinearizable { steps, longest, stuck_at } => {
            // Shrinking to a minimal witness (`minimal_failure`) forgets outcomes one at a
            // time, and a history of a thousand operations with hundreds of forgotten writes
            // can take minutes; name where the search got stuck instead, with the last
            // operations it could order before it. `palisade check-history` shrinks.
            let mut parts: Vec<String> = Vec::new();
            if let Some(op) = ops.get(stuck_at) {
                parts.push(format!("no order explains {}", describe(op)));
            }
            let tail: Vec<String> =
                longest.iter().rev().take(CONTEXT).rev().filter_map(|&i| ops.get(i)).map(describe).collect();
            if !tail.is_empty() {
                parts.push(format!("the longest order found ends with {}", tail.join("; ")));
            }
            Err(Violation::new(
                LINEARIZABLE,
                format!(
                    "{} operations are not linearizable ({steps} search steps): {}",
                    ops.len(),
                    parts.join(", and ")
                ),
            ))
        }
    }
}

/// Operations of the longest linearized prefix named in a violation.
const CONTEXT: usize = 4;

/// One operation for a message: `n2 read -> 5 [1.2 s, 1.3 s]`.
fn describe(op: &Operation<Call, Value>) -> String {
    let node = op.process >> 32;
    let secs = |ns: u64| ns as f64 / 1e9;
    let span = match op.completed {
        Some(c) => format!("[{:.6} s, {:.6} s]", secs(op.invoked), secs(c)),
        None => format!("[{:.6} s, never returned]", secs(op.invoked)),
    };
    let what = match (&op.outcome, op.input.f.as_str()) {
        (Outcome::Ok(v), "read") => format!("read -> {v}"),
        (_, "read") => "read (outcome unknown)".to_string(),
        (Outcome::Ok(_), _) => format!("write {}", op.input.value),
        (Outcome::Fail, _) => format!("write {} (failed)", op.input.value),
        (Outcome::Info, _) => format!("write {} (outcome unknown)", op.input.value),
    };
    format!("n{node} {what} {span}")
}
