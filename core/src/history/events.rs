//! Histories as clients record them, one line per event, and how invocations are paired
//! with their outcomes.

use super::{Operation, Outcome, Value};
use std::collections::BTreeMap;
use std::fmt;

/// What an event says of its operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The client invoked the operation.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// Its outcome is unknown.
    Info,
}

impl EventKind {
    /// The name histories use: `invoke`, `ok`, `fail`, `info`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Invoke => "invoke",
            EventKind::Ok => "ok",
            EventKind::Fail => "fail",
            EventKind::Info => "info",
        }
    }

    /// Parses a name (with or without Clojure's leading `:`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim_start_matches(':') {
            "invoke" => Some(EventKind::Invoke),
            "ok" => Some(EventKind::Ok),
            "fail" => Some(EventKind::Fail),
            "info" => Some(EventKind::Info),
            _ => None,
        }
    }
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The client process.
    pub process: u64,
    /// Invocation or outcome.
    pub kind: EventKind,
    /// The operation's function: `read`, `write`, `cas`, `get`, `put`, `append`, ...
    pub f: String,
    /// The object it acts on, for histories of many independent objects.
    pub key: Option<String>,
    /// The argument (on an invocation) or the result (on an outcome).
    pub value: Value,
    /// When, in any unit that orders the history; events must come in this order.
    pub time: u64,
    /// Where the event came from (a line number), for messages.
    pub line: usize,
}

/// What an operation asked: its function, object and argument, and where it was invoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The function.
    pub f: String,
    /// The object, if the history has several.
    pub key: Option<String>,
    /// The argument.
    pub value: Value,
    /// The line of the invocation.
    pub line: usize,
    /// The line of its outcome, if it had one.
    pub outcome_line: Option<usize>,
}

/// A history that cannot be paired into operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairError {
    /// The offending line.
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for PairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for PairError {}

/// Pairs each invocation with the next outcome of the same process. An invocation with no
/// outcome by the end of the history has an unknown outcome (its client crashed or the
/// history was cut). Errors: an outcome with no invocation, a second invocation while one is
/// pending, an outcome for another function or key, or time going backwards.
pub fn pair(events: &[Event]) -> Result<Vec<Operation<Call, Value>>, PairError> {
    let mut ops: Vec<Operation<Call, Value>> = Vec::new();
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    let mut last_time = 0;
    for e in events {
        let err = |problem: String| PairError { line: e.line, problem };
        if e.time < last_time {
            return Err(err(format!("time {} is before the previous event's {last_time}", e.time)));
        }
        last_time = e.time;
        if e.kind == EventKind::Invoke {
            if let Some(&i) = pending.get(&e.process) {
                return Err(err(format!(
                    "process {} invokes again while its operation of line {} is pending",
                    e.process, ops[i].input.line
                )));
            }
            pending.insert(e.process, ops.len());
            ops.push(Operation {
                process: e.process,
                input: Call {
                    f: e.f.clone(),
                    key: e.key.clone(),
                    value: e.value.clone(),
                    line: e.line,
                    outcome_line: None,
                },
                outcome: Outcome::Info,
                invoked: e.time,
                completed: None,
            });
            continue;
        }
        let Some(i) = pending.remove(&e.process) else {
            return Err(err(format!("process {} has a `{}` with no invocation", e.process, e.kind.name())));
        };
        let op = &mut ops[i];
        if op.input.f != e.f || (e.key.is_some() && op.input.key != e.key) {
            return Err(err(format!(
                "process {} completes `{}` but invoked `{}` at line {}",
                e.process, e.f, op.input.f, op.input.line
            )));
        }
        op.input.outcome_line = Some(e.line);
        match e.kind {
            EventKind::Ok => {
                op.outcome = Outcome::Ok(e.value.clone());
                op.completed = Some(e.time);
            }
            EventKind::Fail => {
                op.outcome = Outcome::Fail;
                op.completed = Some(e.time);
            }
            EventKind::Info | EventKind::Invoke => {} // unknown: open until the end
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(process: u64, kind: EventKind, f: &str, value: Value, time: u64) -> Event {
        Event { process, kind, f: f.into(), key: None, value, time, line: time as usize }
    }

    #[test]
    fn pairs_by_process_and_leaves_unfinished_operations_unknown() {
        use EventKind::*;
        let h = [
            ev(1, Invoke, "write", Value::Int(1), 1),
            ev(2, Invoke, "read", Value::Nil, 2),
            ev(1, Ok, "write", Value::Int(1), 3),
            ev(3, Invoke, "cas", Value::List(vec![Value::Int(1), Value::Int(2)]), 4),
            ev(2, Ok, "read", Value::Int(1), 5),
            ev(3, Info, "cas", Value::List(vec![Value::Int(1), Value::Int(2)]), 6),
            ev(4, Invoke, "write", Value::Int(9), 7),
        ];
        let ops = pair(&h).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!((ops[0].invoked, ops[0].completed), (1, Some(3)));
        assert_eq!(ops[1].outcome, Outcome::Ok(Value::Int(1)));
        assert_eq!((ops[2].outcome.clone(), ops[2].completed), (Outcome::Info, None));
        assert_eq!((ops[3].outcome.clone(), ops[3].completed), (Outcome::Info, None));
    }

    #[test]
    fn malformed_histories_name_the_line() {
        use EventKind::*;
        let orphan = pair(&[ev(1, Ok, "read", Value::Nil, 1)]).unwrap_err();
        assert!(orphan.problem.contains("no invocation"), "{orphan}");
        let twice =
            pair(&[ev(1, Invoke, "read", Value::Nil, 1), ev(1, Invoke, "read", Value::Nil, 2)]).unwrap_err();
        assert_eq!(twice.line, 2);
        let other =
            pair(&[ev(1, Invoke, "read", Value::Nil, 1), ev(1, Ok, "write", Value::Nil, 2)]).unwrap_err();
        assert!(other.problem.contains("invoked `read`"), "{other}");
        let back =
            pair(&[ev(1, Invoke, "read", Value::Nil, 5), ev(1, Ok, "read", Value::Nil, 4)]).unwrap_err();
        assert!(back.problem.contains("before"), "{back}");
    }
}
