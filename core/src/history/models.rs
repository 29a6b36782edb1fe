//! Sequential models of the objects palisade's histories are about, over operations as
//! histories record them ([`Call`]s with [`Value`]s).

use super::events::Call;
use super::{Model, Outcome, Value};

/// The built-in models, by the name `palisade check-history --model` takes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// [`Register`].
    Register,
    /// [`CasRegister`].
    CasRegister,
    /// [`Kv`], checked key by key.
    Kv,
    /// [`Lease`].
    Lease,
}

impl Builtin {
    /// Every model, in the order the CLI lists them.
    pub const ALL: [Builtin; 4] = [Builtin::Register, Builtin::CasRegister, Builtin::Kv, Builtin::Lease];

    /// The model's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Register => "register",
            Builtin::CasRegister => "cas-register",
            Builtin::Kv => "kv",
            Builtin::Lease => "lease",
        }
    }

    /// The model called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the model knows this operation, with arguments of the right shape.
    pub fn validate(self, call: &Call) -> Result<(), String> {
        let f = call.f.as_str();
        let ok = match self {
            Builtin::Register => matches!(f, "read" | "write"),
            Builtin::CasRegister => match f {
                "cas" => call.value.pair().is_some(),
                _ => matches!(f, "read" | "write"),
            },
            Builtin::Kv => matches!(f, "get" | "put" | "append") && call.key.is_some(),
            Builtin::Lease => match f {
                "acquire" | "read" => true,
                "release" | "expire" => call.value.as_int().is_some(),
                _ => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "the {} model has no operation `{}` with value {}{}",
                self.name(),
                f,
                call.value,
                match self {
                    Builtin::Register => " (it knows read, write)",
                    Builtin::CasRegister => " (it knows read, write, cas [expected new])",
                    Builtin::Kv => " (it knows get, put, append, each with a key)",
                    Builtin::Lease => " (it knows acquire, release TOKEN, expire TOKEN, read)",
                }
            ))
        }
    }
}

/// A read/write register, initially `nil`.
#[derive(Copy, Clone, Debug, Default)]
pub struct Register;

impl Model for Register {
    type State = Value;
    type Input = Call;
    type Output = Value;

    fn init(&self) -> Value {
        Value::Nil
    }

    fn step(&self, state: &Value, call: &Call, outcome: &Outcome<Value>) -> Option<Value> {
        CasRegister.step(state, call, outcome)
    }

    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "read"
    }
}

/// A register with read, write and compare-and-set `[expected new]`, initially `nil`. A
/// failed compare-and-set saw a value other than `expected` (as Jepsen's etcd client
/// reports it); a failed read or write did nothing.
#[derive(Copy, Clone, Debug, Default)]
pub struct CasRegister;

impl Model for CasRegister {
    type State = Value;
    type Input = Call;
    type Output = Value;

    fn init(&self) -> Value {
        Value::Nil
    }

    fn step(&self, state: &Value, call: &Call, outcome: &Outcome<Value>) -> Option<Value> {
        match (call.f.as_str(), outcome) {
            ("read", Outcome::Ok(v)) => (v == state).then(|| state.clone()),
            ("write", Outcome::Ok(_) | Outcome::Info) => Some(call.value.clone()),
            ("cas", _) => {
                let (expected, new) = call.value.pair()?;
                match outcome {
                    Outcome::Ok(_) => (state == expected).then(|| new.clone()),
                    Outcome::Fail => (state != expected).then(|| state.clone()),
                    Outcome::Info => Some(if state == expected { new.clone() } else { state.clone() }),
                }
            }
            (_, Outcome::Fail | Outcome::Info) => Some(state.clone()),
            _ => None,
        }
    }

    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "read"
    }
}

/// One key of a key-value map of strings, initially empty: `get` returns it, `put` replaces
/// it, `append` adds to its end. Check a whole map with
/// [`check_by_key`](super::check_by_key), keyed by [`Call::key`].
#[derive(Copy, Clone, Debug, Default)]
pub struct Kv;

impl Model for Kv {
    type State = String;
    type Input = Call;
    type Output = Value;

    fn init(&self) -> String {
        String::new()
    }

    fn step(&self, state: &String, call: &Call, outcome: &Outcome<Value>) -> Option<String> {
        let text = |v: &Value| match v {
            Value::Nil => String::new(),
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        };
        match (call.f.as_str(), outcome) {
            ("get", Outcome::Ok(v)) => (text(v) == *state).then(|| state.clone()),
            ("put", Outcome::Ok(_) | Outcome::Info) => Some(text(&call.value)),
            ("append", Outcome::Ok(_) | Outcome::Info) => Some(format!("{state}{}", text(&call.value))),
            (_, Outcome::Fail | Outcome::Info) => Some(state.clone()),
            _ => None,
        }
    }

    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "get"
    }
}

/// A lease (or lock) with fencing tokens: at most one holder at a time, and every grant's
/// token larger than every earlier one. `acquire` returns the token it was granted;
/// `release TOKEN` (by the holder) and `expire TOKEN` (its term ran out) end that grant;
/// `read` returns the current holder's token or `nil`. An `acquire` whose outcome is unknown
/// may have granted a lease the history never mentions again; it is taken as never granted.
#[derive(Copy, Clone, Debug, Default)]
pub struct Lease;

/// The state of a [`Lease`]: the token of the grant in force, and the largest ever given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LeaseState {
    /// The token of the current holder.
    pub holder: Option<i64>,
    /// The largest token granted so far.
    pub max_token: Option<i64>,
}

impl Model for Lease {
    type State = LeaseState;
    type Input = Call;
    type Output = Value;

    fn init(&self) -> LeaseState {
        LeaseState::default()
    }

    fn step(&self, state: &LeaseState, call: &Call, outcome: &Outcome<Value>) -> Option<LeaseState> {
        match (call.f.as_str(), outcome) {
            ("acquire", Outcome::Ok(v)) => {
                let token = v.as_int()?;
                (state.holder.is_none() && state.max_token.is_none_or(|m| token > m))
                    .then_some(LeaseState { holder: Some(token), max_token: Some(token) })
            }
            ("release" | "expire", Outcome::Ok(_)) => {
                let token = call.value.as_int()?;
                (state.holder == Some(token)).then(|| LeaseState { holder: None, ..state.clone() })
            }
            ("read", Outcome::Ok(v)) => {
                let holder = match v {
                    Value::Nil => None,
                    other => Some(other.as_int()?),
                };
                (state.holder == holder).then(|| state.clone())
            }
            // A release or expiry with an unknown outcome may have ended the grant.
            ("release" | "expire", Outcome::Info) => {
                let token = call.value.as_int()?;
                (state.holder == Some(token)).then(|| LeaseState { holder: None, ..state.clone() })
            }
            (_, Outcome::Fail | Outcome::Info) => Some(state.clone()),
            _ => None,
        }
    }

    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "read"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Budget, Operation, Verdict, check, check_by_key};

    fn op(
        process: u64,
        f: &str,
        value: Value,
        outcome: Outcome<Value>,
        t: (u64, Option<u64>),
    ) -> Operation<Call, Value> {
        Operation {
            process,
            input: Call { f: f.into(), key: None, value, line: t.0 as usize, outcome_line: None },
            outcome,
            invoked: t.0,
            completed: t.1,
        }
    }

    fn int(i: i64) -> Value {
        Value::Int(i)
    }

    fn ok(v: Value) -> Outcome<Value> {
        Outcome::Ok(v)
    }

    #[test]
    fn a_read_overlapping_a_write_may_see_either_value() {
        for seen in [Value::Nil, int(1)] {
            let h = [
                op(1, "write", int(1), ok(Value::Nil), (1, Some(4))),
                op(2, "read", Value::Nil, ok(seen.clone()), (2, Some(3))),
            ];
            assert!(
                matches!(check(&Register, &h, Budget::default()), Verdict::Linearizable { .. }),
                "{seen}"
            );
        }
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_not_linearizable() {
        // Hand-made: write 1 completes, write 2 completes, then a read returns 1.
        let h = [
            op(1, "write", int(1), ok(Value::Nil), (1, Some(2))),
            op(1, "write", int(2), ok(Value::Nil), (3, Some(4))),
            op(2, "read", Value::Nil, ok(int(1)), (5, Some(6))),
        ];
        let Verdict::NotLinearizable { stuck_at, longest, .. } = check(&Register, &h, Budget::default())
        else {
            panic!("a stale read passed")
        };
        assert_eq!(longest, vec![0, 1]);
        assert_eq!(stuck_at, 2);
    }

    #[test]
    fn an_unknown_write_may_take_effect_late_or_never() {
        let unknown = op(1, "write", int(7), Outcome::Info, (1, None));
        for seen in [Value::Nil, int(7)] {
            let h = [unknown.clone(), op(2, "read", Value::Nil, ok(seen.clone()), (10, Some(11)))];
            assert!(
                matches!(check(&Register, &h, Budget::default()), Verdict::Linearizable { .. }),
                "{seen}"
            );
        }
        // But not before it was invoked.
        let early = [
            op(2, "read", Value::Nil, ok(int(7)), (1, Some(2))),
            op(1, "write", int(7), Outcome::Info, (3, None)),
        ];
        assert!(check(&Register, &early, Budget::default()).is_violation());
    }

    #[test]
    fn a_failed_cas_saw_another_value() {
        let pair = Value::List(vec![int(1), int(2)]);
        let write1 = op(1, "write", int(1), ok(Value::Nil), (1, Some(2)));
        let failed = op(2, "cas", pair.clone(), Outcome::Fail, (3, Some(4)));
        assert!(check(&CasRegister, &[write1.clone(), failed.clone()], Budget::default()).is_violation());
        let swapped = op(2, "cas", pair, ok(Value::Nil), (3, Some(4)));
        let read2 = op(3, "read", Value::Nil, ok(int(2)), (5, Some(6)));
        assert!(!check(&CasRegister, &[write1, swapped, read2], Budget::default()).is_violation());
    }

    #[test]
    fn kv_keys_are_checked_apart_and_appends_concatenate() {
        let kv = |process, f: &str, key: &str, value: &str, out: &str, t: (u64, u64)| Operation {
            process,
            input: Call {
                f: f.into(),
                key: Some(key.into()),
                value: Value::Str(value.into()),
                line: 0,
                outcome_line: None,
            },
            outcome: ok(Value::Str(out.into())),
            invoked: t.0,
            completed: Some(t.1),
        };
        let good = [
            kv(1, "append", "a", "x", "x", (1, 2)),
            kv(2, "put", "b", "y", "y", (1, 2)),
            kv(1, "append", "a", "z", "z", (3, 4)),
            kv(2, "get", "a", "", "xz", (5, 6)),
            kv(2, "get", "b", "", "y", (7, 8)),
        ];
        let key = |o: &Operation<Call, Value>| o.input.key.clone();
        assert!(!check_by_key(&Kv, &good, key, Budget::default()).is_violation());
        let mut bad = good.to_vec();
        bad[3] = kv(2, "get", "a", "", "zx", (5, 6));
        let v = check_by_key(&Kv, &bad, key, Budget::default());
        let Verdict::NotLinearizable { stuck_at, .. } = v else { panic!("{v:?}") };
        assert_eq!(stuck_at, 3, "indices refer to the whole history");
    }

    #[test]
    fn a_lease_has_one_holder_and_rising_tokens() {
        let h = [
            op(1, "acquire", Value::Nil, ok(int(1)), (1, Some(2))),
            op(1, "expire", int(1), ok(Value::Nil), (3, Some(4))),
            op(2, "acquire", Value::Nil, ok(int(2)), (5, Some(6))),
            op(3, "read", Value::Nil, ok(int(2)), (7, Some(8))),
        ];
        assert!(!check(&Lease, &h, Budget::default()).is_violation());
        // Two holders at once.
        let mut two = h.to_vec();
        two.remove(1);
        assert!(check(&Lease, &two, Budget::default()).is_violation());
        // A token that goes backwards.
        let mut back = h.to_vec();
        back[2] = op(2, "acquire", Value::Nil, ok(int(1)), (5, Some(6)));
        assert!(check(&Lease, &back, Budget::default()).is_violation());
    }

    #[test]
    fn validation_names_what_the_model_knows() {
        let call = |f: &str, value| Call { f: f.into(), key: None, value, line: 1, outcome_line: None };
        assert!(Builtin::CasRegister.validate(&call("cas", Value::List(vec![int(1), int(2)]))).is_ok());
        let e = Builtin::CasRegister.validate(&call("cas", int(1))).unwrap_err();
        assert!(e.contains("cas [expected new]"), "{e}");
        assert!(Builtin::Kv.validate(&call("get", Value::Nil)).is_err(), "kv needs a key");
        assert!(Builtin::Register.validate(&call("cas", Value::Nil)).is_err());
        assert_eq!(Builtin::parse("cas-register"), Some(Builtin::CasRegister));
    }
}
