//! The Wing-Gong-Lowe search for a linearization, with Lowe's cache of configurations.

use super::{Model, Operation, Outcome};
use std::collections::BTreeMap;
use std::hash::{BuildHasherDefault, Hasher};

/// How much work a check may do before it gives up undecided.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Budget {
    /// Attempts to linearize an operation, over the whole check.
    pub max_steps: u64,
}

impl Budget {
    crate::__config_setters! {
        max_steps: u64,
    }
}

impl Default for Budget {
    /// 100 million steps: tens of seconds at worst on one core; real histories need far fewer.
    fn default() -> Self {
        Budget { max_steps: 100_000_000 }
    }
}

/// The answer of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations, each at a point between its invocation and completion,
    /// explains every result.
    Linearizable {
        /// Search steps taken.
        steps: u64,
    },
    /// No order does.
    NotLinearizable {
        /// Search steps taken.
        steps: u64,
        /// The longest sequence of operations (indices into the history) the search could
        /// linearize in real-time order before it got stuck.
        longest: Vec<usize>,
        /// The operation that completed, still unlinearized, at the deepest point: no order
        /// of the operations before it leaves a state that explains it.
        stuck_at: usize,
    },
    /// The search ran out of budget.
    Undecided {
        /// Search steps taken.
        steps: u64,
    },
}

impl Verdict {
    /// Search steps taken.
    pub fn steps(&self) -> u64 {
        match self {
            Verdict::Linearizable { steps }
            | Verdict::NotLinearizable { steps, .. }
            | Verdict::Undecided { steps } => *steps,
        }
    }

    /// True for [`Verdict::NotLinearizable`].
    pub fn is_violation(&self) -> bool {
        matches!(self, Verdict::NotLinearizable { .. })
    }
}

const NONE: usize = usize::MAX;

/// The history as a doubly linked list of call and return entries in time order, from
/// which linearized operations are lifted out and restored on backtracking.
struct Entries {
    /// Per entry: the operation, and whether it is the call (or the return).
    op: Vec<usize>,
    is_call: Vec<bool>,
    /// Per call entry, its return entry.
    ret: Vec<usize>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Entries {
    /// Entry 0 is the head; the rest are sorted by time, calls before returns at equal times
    /// (so operations that touch are concurrent). An unknown outcome returns after everything.
    fn new<I, O>(ops: &[Operation<I, O>]) -> Self {
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            order.push((op.invoked, false, i));
            order.push((op.completed.unwrap_or(u64::MAX).max(op.invoked), true, i));
        }
        order.sort_unstable();
        let n = order.len() + 1;
        let mut e = Entries {
            op: vec![NONE; n],
            is_call: vec![false; n],
            ret: vec![NONE; n],
            next: (1..=n).map(|k| if k == n { NONE } else { k }).collect(),
            prev: (0..n).map(|k| k.wrapping_sub(1)).collect(),
        };
        let mut call_of = vec![NONE; ops.len()];
        for (k, &(_, is_return, i)) in order.iter().enumerate() {
            let k = k + 1;
            e.op[k] = i;
            e.is_call[k] = !is_return;
            if is_return {
                e.ret[call_of[i]] = k;
            } else {
                call_of[i] = k;
            }
        }
        e
    }

    fn unlink(&mut self, k: usize) {
        let (p, n) = (self.prev[k], self.next[k]);
        self.next[p] = n;
        if n != NONE {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, k: usize) {
        let (p, n) = (self.prev[k], self.next[k]);
        self.next[p] = k;
        if n != NONE {
            self.prev[n] = k;
        }
    }

    /// Takes a call entry and its return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.ret[call]);
    }

    /// Puts them back (in the reverse order of [`Self::lift`]).
    fn unlift(&mut self, call: usize) {
        self.relink(self.ret[call]);
        self.relink(call);
    }
}

/// A set of operations, as bits: inline up to 256 operations (no allocation or pointer to
/// follow per cache entry), on the heap beyond.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Bits {
    Inline([u64; 4]),
    Heap(Box<[u64]>),
}

impl Bits {
    fn empty(n: usize) -> Self {
        if n <= 256 { Bits::Inline([0; 4]) } else { Bits::Heap(vec![0; n.div_ceil(64)].into_boxed_slice()) }
    }

    fn flip(&mut self, i: usize) {
        let words: &mut [u64] = match self {
            Bits::Inline(w) => w,
            Bits::Heap(w) => w,
        };
        words[i / 64] ^= 1 << (i % 64);
    }
}

/// A fast multiplicative hasher for the cache (keys are bitsets and small states that no
/// adversary chooses; a collision costs a comparison, never a wrong answer).
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn finish(&self) -> u64 {
        // A multiply only carries upwards: fold the high bits back down (MurmurHash3's
        // finalizer), since the table indexes by the low ones.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// The search's cache: (linearized set, state) pairs already explored. Only membership is
/// asked, so the iteration order of a hash set never reaches a result, and the hasher has
/// fixed keys, so runs are deterministic.
#[allow(clippy::disallowed_types)]
type Seen<S> = std::collections::HashSet<(Bits, S), BuildHasherDefault<Mix>>;

/// Checks that `ops` is linearizable for `model`.
pub fn check<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>], budget: Budget) -> Verdict {
    let mut entries = Entries::new(ops);
    let mut seen: Seen<M::State> = Seen::default();
    let mut linearized = Bits::empty(ops.len());
    let mut state = model.init();
    // The calls linearized so far, with the state before each.
    let mut stack: Vec<(usize, M::State, usize, usize)> = Vec::new();
    // The deepest the search got, and the operation that completed there unlinearized.
    let mut longest: Vec<usize> = Vec::new();
    let mut stuck_at = NONE;
    let mut steps = 0u64;
    let mut k = entries.next[0];
    // At a call entry, the alternatives still to try: 0 = the operation takes effect as the
    // model says; 1 = (unknown outcomes only) it never takes effect. Where the model cannot
    // apply an unknown outcome at all, it is a no-op.
    let mut first_alt = 0;
    // The candidates at a point are the calls before the first return. Operations with
    // known outcomes are tried first (pass 0), unknown ones after (pass 1): every candidate
    // is still tried, but an unknown write is not taken eagerly where nothing needs it.
    let unknown = |i: usize| matches!(ops[i].outcome, Outcome::Info);
    let mut pass = 0;
    while entries.next[0] != NONE {
        if k == NONE {
            break; // cannot happen: the last entry is always a return
        }
        if entries.is_call[k] {
            let i = entries.op[k];
            if usize::from(unknown(i)) != pass {
                k = entries.next[k];
                continue;
            }
            // "Never" needs trying only when the window closes: an unknown outcome that never
            // completes can always be placed after everything else, where nobody sees it.
            let may_not_happen = unknown(i) && ops[i].completed.is_some();
            let mut lifted = false;
            for alt in first_alt..2 {
                let next = match alt {
                    0 => match model.step(&state, &ops[i].input, &ops[i].outcome) {
                        None if unknown(i) => Some(state.clone()),
                        next => next,
                    },
                    _ if may_not_happen => Some(state.clone()),
                    _ => None,
                };
                let Some(next) = next else { continue };
                steps += 1;
                if steps > budget.max_steps {
                    return Verdict::Undecided { steps };
                }
                linearized.flip(i);
                if seen.insert((linearized.clone(), next.clone())) {
                    stack.push((k, std::mem::replace(&mut state, next), alt, pass));
                    entries.lift(k);
                    lifted = true;
                    break;
                }
                linearized.flip(i);
            }
            first_alt = 0;
            if lifted {
                k = entries.next[0];
                pass = 0;
            } else {
                k = entries.next[k];
            }
        } else if pass == 0 {
            // Known outcomes exhausted here: now the unknown ones.
            pass = 1;
            k = entries.next[0];
        } else {
            // An operation completed before it could be linearized: undo the last choice and
            // try its next alternative.
            if stuck_at == NONE || stack.len() > longest.len() {
                longest = stack.iter().map(|&(c, ..)| entries.op[c]).collect();
                stuck_at = entries.op[k];
            }
            let Some((call, before, alt, call_pass)) = stack.pop() else {
                return Verdict::NotLinearizable { steps, longest, stuck_at };
            };
            entries.unlift(call);
            linearized.flip(entries.op[call]);
            state = before;
            k = call;
            first_alt = alt + 1;
            pass = call_pass;
        }
    }
    if entries.next[0] != NONE {
        return Verdict::NotLinearizable { steps, longest, stuck_at: entries.op[entries.next[0]] };
    }
    Verdict::Linearizable { steps }
}

/// Checks each object of a history on its own: `key` names the object an operation acts
/// on. A history of independent objects is linearizable iff each object's sub-history is.
/// Indices in the verdict refer to `ops`.
pub fn check_by_key<M: Model, K: Ord>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    key: impl Fn(&Operation<M::Input, M::Output>) -> K,
    budget: Budget,
) -> Verdict
where
    M::Input: Clone,
    M::Output: Clone,
{
    let mut parts: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        parts.entry(key(op)).or_default().push(i);
    }
    let mut steps = 0;
    let mut undecided = false;
    for idx in parts.values() {
        let sub: Vec<Operation<M::Input, M::Output>> = idx.iter().map(|&i| ops[i].clone()).collect();
        let left = Budget { max_steps: budget.max_steps.saturating_sub(steps) };
        match check(model, &sub, left) {
            Verdict::Linearizable { steps: s } => steps += s,
            Verdict::Undecided { steps: s } => {
                steps += s;
                undecided = true;
            }
            Verdict::NotLinearizable { steps: s, longest, stuck_at } => {
                return Verdict::NotLinearizable {
                    steps: steps + s,
                    longest: longest.into_iter().map(|i| idx[i]).collect(),
                    stuck_at: idx[stuck_at],
                };
            }
        }
    }
    if undecided { Verdict::Undecided { steps } } else { Verdict::Linearizable { steps } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;
    use crate::history::events::Call;
    use crate::history::models::CasRegister;
    use proptest::prelude::*;

    /// Linearizable by brute force: some order respecting real time, and some choice of which
    /// unknown outcomes took effect, that the model accepts.
    fn brute_force(ops: &[Operation<Call, Value>]) -> bool {
        fn go(ops: &[Operation<Call, Value>], done: &mut Vec<bool>, state: &Value) -> bool {
            if done.iter().all(|&d| d) {
                return true;
            }
            for i in 0..ops.len() {
                if done[i] {
                    continue;
                }
                // i may go next only if no pending operation completed before i began.
                let blocked = (0..ops.len())
                    .any(|j| j != i && !done[j] && ops[j].completed.is_some_and(|c| c < ops[i].invoked));
                if blocked {
                    continue;
                }
                done[i] = true;
                let mut options = vec![CasRegister.step(state, &ops[i].input, &ops[i].outcome)];
                if ops[i].outcome == Outcome::Info {
                    options.push(Some(state.clone()));
                }
                for next in options.into_iter().flatten() {
                    if go(ops, done, &next) {
                        return true;
                    }
                }
                done[i] = false;
            }
            false
        }
        go(ops, &mut vec![false; ops.len()], &Value::Nil)
    }

    fn history() -> impl Strategy<Value = Vec<Operation<Call, Value>>> {
        let op = (0u8..3, 0i64..3, 0i64..3, 0u8..4, 0u64..20, 0u64..8);
        proptest::collection::vec(op, 1..7).prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(n, (f, a, b, out, start, len))| {
                    let (f, value) = match f {
                        0 => ("read", Value::Nil),
                        1 => ("write", Value::Int(a)),
                        _ => ("cas", Value::List(vec![Value::Int(a), Value::Int(b)])),
                    };
                    let outcome = match out {
                        0 => Outcome::Info,
                        1 if f != "read" => Outcome::Fail,
                        _ if f == "read" => Outcome::Ok(if a == 0 { Value::Nil } else { Value::Int(b) }),
                        _ => Outcome::Ok(Value::Nil),
                    };
                    let completed = (outcome != Outcome::Info).then_some(start + len);
                    Operation {
                        process: n as u64,
                        input: Call { f: f.into(), key: None, value, line: n, outcome_line: None },
                        outcome,
                        invoked: start,
                        completed,
                    }
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn agrees_with_brute_force_on_small_histories(ops in history()) {
            let verdict = check(&CasRegister, &ops, Budget::default());
            let decided = !matches!(verdict, Verdict::Undecided { .. });
            prop_assert!(decided);
            prop_assert_eq!(!verdict.is_violation(), brute_force(&ops), "{:?}", ops);
        }
    }

    #[test]
    fn the_generated_histories_are_often_enough_not_linearizable() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut bad, n) = (0, 1000);
        for _ in 0..n {
            let ops = history().new_tree(&mut runner).unwrap().current();
            bad += usize::from(check(&CasRegister, &ops, Budget::default()).is_violation());
        }
        assert!(bad > n / 10 && bad < n * 9 / 10, "{bad} of {n} not linearizable");
    }
}
