//! The values operations carry, as histories write them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A value in a history: what JSON, EDN and Jepsen's logs can all write.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum Value {
    /// No value (`nil`, `null`): a read of a register never written, a read's argument.
    #[default]
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A list, such as a compare-and-set's `[expected new]`.
    List(Vec<Value>),
}

impl Value {
    /// The two elements of a pair, such as a compare-and-set's `[expected new]`.
    pub fn pair(&self) -> Option<(&Value, &Value)> {
        match self {
            Value::List(v) if v.len() == 2 => Some((&v[0], &v[1])),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// EDN-like: `nil`, `3`, `"x"`, `[1 2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(v) => {
                write!(f, "[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, "]")
            }
        }
    }
}
