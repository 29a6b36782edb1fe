//! Shrinking a non-linearizable history to the few operations that show why.
//!
//! Deleting operations is not a sound way to shrink: a read of 5 without the write of 5 is
//! "not linearizable" whatever the rest of the history did. Two steps are sound, because
//! each only adds behaviours, so the smaller history failing proves the original fails:
//!
//! - **Cut** at a time `T`: drop operations invoked after `T`, and treat those still
//!   pending at `T` as having unknown outcomes. The earliest failing cut is found by
//!   bisection (failing is monotone in `T`).
//! - **Forget** an outcome: the operation took effect between its invocation and its
//!   completion with any result, or never. Operations that change nothing
//!   ([`Model::is_read_only`]) are then dropped entirely.
//!
//! What is left is a witness: a handful of operations with the outcomes the clients saw,
//! and the operations whose outcomes were forgotten, such that no order explains them.

use super::{Budget, Model, Operation, Outcome, Verdict, check};

/// A shrunk failure: every index refers to the history given to [`minimal_failure`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The cut: nothing invoked after this time matters.
    pub cut: u64,
    /// Operations whose outcomes the failure needs, in time order.
    pub definite: Vec<usize>,
    /// Operations kept with unknown outcomes (unknown to begin with, pending at the cut, or
    /// forgotten), that might change the object: each took effect within its window (up to
    /// the cut at most), or never.
    pub unknown: Vec<usize>,
    /// True when forgetting any one more outcome was checked and makes the failure go away;
    /// false when some check ran out of budget and the witness may be larger than needed.
    pub minimal: bool,
}

/// Shrinks a non-linearizable history to a [`Witness`], spending at most `budget` on each
/// check. `None` if `ops` is not shown to be non-linearizable within the budget.
pub fn minimal_failure<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    budget: Budget,
) -> Option<Witness>
where
    M::Input: Clone,
    M::Output: Clone,
{
    let mut minimal = true;
    let mut fails = |kept: &[usize], forgotten: &dyn Fn(usize) -> bool, cut: u64| {
        let sub: Vec<Operation<M::Input, M::Output>> = kept
            .iter()
            .filter(|&&i| !(forgotten(i) && model.is_read_only(&ops[i].input)))
            .map(|&i| {
                // Forgotten: it took effect within its window, with any result, or never.
                // Pending at the cut: the same, within [invoked, cut], since nothing that
                // completed by the cut can have seen it take effect later.
                let mut op = ops[i].clone();
                if forgotten(i) {
                    op.outcome = Outcome::Info;
                }
                if op.completed.is_none_or(|c| c > cut) {
                    op.outcome = Outcome::Info;
                    op.completed = Some(cut.max(op.invoked));
                }
                op
            })
            .collect();
        match check(model, &sub, budget) {
            Verdict::NotLinearizable { .. } => true,
            Verdict::Linearizable { .. } => false,
            Verdict::Undecided { .. } => {
                minimal = false;
                false
            }
        }
    };
    let all: Vec<usize> = (0..ops.len()).collect();
    let mut cuts: Vec<u64> = ops.iter().filter_map(|o| o.completed).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let last = ops.iter().map(|o| o.completed.unwrap_or(o.invoked).max(o.invoked)).max()?;
    let nothing = |_: usize| false;
    if !fails(&all, &nothing, last) {
        return None;
    }
    // The earliest failing cut.
    let (mut lo, mut hi) = (0, cuts.len());
    let invoked_by =
        |cut: u64| -> Vec<usize> { all.iter().copied().filter(|&i| ops[i].invoked <= cut).collect() };
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(&invoked_by(cuts[mid]), &nothing, cuts[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let cut = cuts.get(lo).copied().unwrap_or(last);
    let kept = invoked_by(cut);
    // Forget outcomes one at a time, latest first, until none can be forgotten.
    let mut forgotten = vec![false; ops.len()];
    let definite = |i: usize, forgotten: &[bool]| {
        !forgotten[i]
            && ops[i].completed.is_some_and(|c| c <= cut)
            && !matches!(ops[i].outcome, Outcome::Info)
    };
    loop {
        let mut changed = false;
        for &i in kept.iter().rev() {
            if !definite(i, &forgotten) {
                continue;
            }
            forgotten[i] = true;
            let snapshot = forgotten.clone();
            if fails(&kept, &|j| snapshot[j], cut) {
                changed = true;
            } else {
                forgotten[i] = false;
            }
        }
        if !changed {
            break;
        }
    }
    let (definite, unknown): (Vec<usize>, Vec<usize>) = kept
        .iter()
        .copied()
        .filter(|&i| definite(i, &forgotten) || !model.is_read_only(&ops[i].input))
        .partition(|&i| definite(i, &forgotten));
    Some(Witness { cut, definite, unknown, minimal })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;
    use crate::history::events::Call;
    use crate::history::models::Register;

    fn op(process: u64, f: &str, value: i64, out: Option<i64>, t: (u64, u64)) -> Operation<Call, Value> {
        Operation {
            process,
            input: Call {
                f: f.into(),
                key: None,
                value: Value::Int(value),
                line: t.0 as usize,
                outcome_line: None,
            },
            outcome: Outcome::Ok(out.map_or(Value::Nil, Value::Int)),
            invoked: t.0,
            completed: Some(t.1),
        }
    }

    #[test]
    fn a_stale_read_shrinks_to_the_newer_write_and_the_read() {
        let mut h = vec![
            op(1, "write", 0, None, (1, 2)),
            op(2, "read", 0, Some(0), (3, 4)),
            op(1, "write", 1, None, (5, 6)),
            op(3, "read", 0, Some(1), (7, 8)),
            op(2, "read", 0, Some(0), (9, 10)), // stale: 1 was written and read before
        ];
        // Noise after the failure, and concurrent noise before it on another process.
        h.push(op(4, "write", 5, None, (11, 12)));
        h.push(op(4, "read", 0, Some(5), (13, 14)));
        let w = minimal_failure(&Register, &h, Budget::default()).expect("fails");
        assert_eq!(w.cut, 10);
        assert!(w.minimal);
        // The stale read, and what makes it stale: write 1 completed before it began (the
        // read of 1 adds nothing). Write 0 only needs to have happened within its window,
        // which closed before write 1 began, so its outcome may be forgotten.
        assert_eq!(w.definite, vec![2, 4], "{w:?}");
        assert_eq!(w.unknown, vec![0], "{w:?}");
    }

    #[test]
    fn a_linearizable_history_has_no_witness() {
        let h = [op(1, "write", 1, None, (1, 2)), op(2, "read", 0, Some(1), (3, 4))];
        assert_eq!(minimal_failure(&Register, &h, Budget::default()), None);
    }
}
