//! `palisade check-history FILE --model M`: is a recorded history linearizable?
//!
//! Exit status 0 when it is, 1 when it is not (with a shrunk witness), 2 for a file or
//! argument that cannot be read, 3 when the search ran out of `--max-steps` undecided.

use super::exit::usage_error;
use crate::history::{Format, parse};
use palisade_core::history::models::{Builtin, CasRegister, Kv, Lease, Register};
use palisade_core::history::{
    Budget, Model, Operation, Outcome, Value, Verdict, Witness, check_by_key, events::Call, minimal_failure,
    pair,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `palisade check-history`.
#[derive(clap::Args, Debug)]
pub struct CheckHistoryArgs {
    /// The history: JSON lines, Jepsen log lines or EDN maps.
    file: PathBuf,
    /// The object's sequential model: register, cas-register, kv or lease.
    #[arg(long)]
    model: String,
    /// The file's format: jsonl, jepsen-log or edn (guessed from the first line if left out).
    #[arg(long)]
    format: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Give up undecided (exit 3) after this many search steps.
    #[arg(long, default_value_t = Budget::default().max_steps, value_parser = clap::value_parser!(u64).range(1..))]
    max_steps: u64,
}

/// Runs `palisade check-history`.
pub fn run(args: CheckHistoryArgs) -> ExitCode {
    let Some(model) = Builtin::parse(&args.model) else {
        let known: Vec<&str> = Builtin::ALL.iter().map(|m| m.name()).collect();
        return usage_error(format!("unknown model `{}` (known: {})", args.model, known.join(", ")));
    };
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => return super::exit::runtime_error(format!("cannot read {}: {e}", args.file.display())),
    };
    let format = match args.format.as_deref() {
        Some(name) => match Format::parse(name) {
            Some(f) => f,
            None => return usage_error(format!("unknown format `{name}` (known: jsonl, jepsen-log, edn)")),
        },
        None => match Format::guess(&text) {
            Some(f) => f,
            None => {
                return usage_error(format!(
                    "cannot tell the format of {}; pass --format",
                    args.file.display()
                ));
            }
        },
    };
    let file = args.file.display();
    let ops = match parse(&text, format)
        .map_err(|e| e.to_string())
        .and_then(|events| pair(&events).map_err(|e| e.to_string()))
    {
        Ok(ops) => ops,
        Err(e) => return usage_error(format!("{file}: {e}")),
    };
    if let Some((op, e)) = ops.iter().find_map(|op| model.validate(&op.input).err().map(|e| (op, e))) {
        return usage_error(format!("{file}: line {}: {e}", op.input.line));
    }
    let budget = Budget::default().max_steps(args.max_steps);
    let (verdict, witness, wall_ns, shrink_ns) = match model {
        Builtin::Register => judge(&Register, &ops, budget),
        Builtin::CasRegister => judge(&CasRegister, &ops, budget),
        Builtin::Kv => judge(&Kv, &ops, budget),
        Builtin::Lease => judge(&Lease, &ops, budget),
    };
    let objects = ops.iter().map(|o| &o.input.key).collect::<std::collections::BTreeSet<_>>().len();
    if args.json {
        let mut out = json(&verdict, witness.as_ref(), &ops, model, format, objects, wall_ns);
        if witness.is_some() {
            out["shrink_wall_ns"] = shrink_ns.into();
        }
        outln!("{out}");
    } else {
        // Jepsen's formats (and JSON lines without times) are ordered by line.
        let by_line = ops.iter().all(|o| o.invoked == o.input.line as u64);
        let at = if by_line { "line" } else { "time_ns" };
        print_text(&file.to_string(), &verdict, witness.as_ref(), &ops, (model, objects, wall_ns, at));
    }
    match verdict {
        Verdict::Linearizable { .. } => ExitCode::SUCCESS,
        Verdict::NotLinearizable { .. } => ExitCode::from(1),
        Verdict::Undecided { .. } => ExitCode::from(3),
    }
}

/// Checks `ops` object by object; for a failure, shrinks the failing object's history.
/// Also returns the wall time of the check and of the shrinking, in ns.
fn judge<M: Model<Input = Call, Output = Value>>(
    model: &M,
    ops: &[Operation<Call, Value>],
    budget: Budget,
) -> (Verdict, Option<Witness>, u64, u64) {
    let started = Instant::now();
    let verdict = check_by_key(model, ops, |o| o.input.key.clone(), budget);
    let check_ns = started.elapsed().as_nanos() as u64;
    let Verdict::NotLinearizable { stuck_at, .. } = &verdict else { return (verdict, None, check_ns, 0) };
    let key = &ops[*stuck_at].input.key;
    let idx: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].input.key == *key).collect();
    let sub: Vec<Operation<Call, Value>> = idx.iter().map(|&i| ops[i].clone()).collect();
    // Each check while shrinking gets a tenth of the budget, at most a million steps.
    let each = Budget::default().max_steps((budget.max_steps / 10).clamp(1, 1_000_000));
    let witness = minimal_failure(model, &sub, each).map(|w| Witness {
        definite: w.definite.iter().map(|&i| idx[i]).collect(),
        unknown: w.unknown.iter().map(|&i| idx[i]).collect(),
        ..w
    });
    let shrink_ns = started.elapsed().as_nanos() as u64 - check_ns;
    (verdict, witness, check_ns, shrink_ns)
}

fn describe(op: &Operation<Call, Value>, as_seen: bool) -> String {
    let key = op.input.key.as_ref().map(|k| format!(" {k:?}")).unwrap_or_default();
    let outcome = match (&op.outcome, as_seen) {
        (_, false) | (Outcome::Info, _) => "?".to_string(),
        (Outcome::Ok(Value::Nil), _) if op.input.f != "read" && op.input.f != "get" => "ok".to_string(),
        (Outcome::Ok(v), _) => format!("ok {v}"),
        (Outcome::Fail, _) => "fail".to_string(),
    };
    let lines = match op.input.outcome_line {
        Some(l) => format!("lines {}-{l}", op.input.line),
        None => format!("line {}", op.input.line),
    };
    format!("{lines}: process {} {}{key} {} -> {outcome}", op.process, op.input.f, op.input.value)
}

/// Prints the verdict; `about` is the model, the number of objects, the check's wall time
/// and what the history's times are (`line` or `time_ns`).
fn print_text(
    file: &str,
    verdict: &Verdict,
    witness: Option<&Witness>,
    ops: &[Operation<Call, Value>],
    about: (Builtin, usize, u64, &str),
) {
    let (model, objects, wall_ns, at) = about;
    let what = match verdict {
        Verdict::Linearizable { .. } => "linearizable",
        Verdict::NotLinearizable { .. } => "NOT linearizable",
        Verdict::Undecided { .. } => "undecided (search budget spent; raise --max-steps)",
    };
    outln!(
        "{file}: {what} ({} model, {} operations, {objects} object(s), {} search steps, {:.3} s)",
        model.name(),
        ops.len(),
        verdict.steps(),
        wall_ns as f64 / 1e9
    );
    let Verdict::NotLinearizable { longest, stuck_at, .. } = verdict else { return };
    outln!(
        "The search linearized {} operations in real-time order at best, then {} completed with no order explaining it.",
        longest.len(),
        describe(&ops[*stuck_at], true)
    );
    let Some(w) = witness else { return };
    outln!(
        "A smaller history that fails too{}: nothing invoked after {at} {} matters, and these outcomes are enough:",
        if w.minimal {
            " (forgetting any one of these outcomes makes it pass)"
        } else {
            " (not proven minimal: some checks ran out of budget)"
        },
        w.cut
    );
    for &i in &w.definite {
        outln!("  {}", describe(&ops[i], true));
    }
    // Unknown outcomes that ended before the first needed operation began are summed up;
    // the ones that overlap the failure are listed (--json lists them all).
    let begins = w.definite.iter().map(|&i| ops[i].invoked).min().unwrap_or(0);
    let (near, early): (Vec<usize>, Vec<usize>) =
        w.unknown.iter().partition(|&&i| ops[i].completed.is_none_or(|c| c >= begins));
    if !near.is_empty() {
        outln!(
            "with these {} operations that overlap them taken as unknown (each took effect within its window, or never):",
            near.len()
        );
        for &i in &near {
            outln!("  {}", describe(&ops[i], false));
        }
    }
    if !early.is_empty() {
        outln!(
            "and {} earlier operations taken as unknown (all complete before line {}; --json lists them).",
            early.len(),
            w.definite.first().map_or(0, |&i| ops[i].input.line)
        );
    }
}

fn op_json(op: &Operation<Call, Value>) -> serde_json::Value {
    let (outcome, result) = match &op.outcome {
        Outcome::Ok(v) => ("ok", serde_json::to_value(v).unwrap_or_default()),
        Outcome::Fail => ("fail", serde_json::Value::Null),
        Outcome::Info => ("info", serde_json::Value::Null),
    };
    serde_json::json!({
        "process": op.process,
        "f": op.input.f,
        "key": op.input.key,
        "value": op.input.value,
        "outcome": outcome,
        "result": result,
        "invoke_line": op.input.line,
        "outcome_line": op.input.outcome_line,
    })
}

fn json(
    verdict: &Verdict,
    witness: Option<&Witness>,
    ops: &[Operation<Call, Value>],
    model: Builtin,
    format: Format,
    objects: usize,
    wall_ns: u64,
) -> serde_json::Value {
    let mut out = serde_json::json!({
        "linearizable": matches!(verdict, Verdict::Linearizable { .. }),
        "decided": !matches!(verdict, Verdict::Undecided { .. }),
        "operations": ops.len(),
        "objects": objects,
        "model": model.name(),
        "format": format.name(),
        "steps": verdict.steps(),
        "wall_ns": wall_ns,
    });
    if let Verdict::NotLinearizable { longest, stuck_at, .. } = verdict {
        out["longest_linearized"] = longest.len().into();
        out["stuck_at"] = op_json(&ops[*stuck_at]);
        if let Some(w) = witness {
            out["witness"] = serde_json::json!({
                "cut": w.cut,
                "minimal": w.minimal,
                "definite": w.definite.iter().map(|&i| op_json(&ops[i])).collect::<Vec<_>>(),
                "unknown": w.unknown.iter().map(|&i| op_json(&ops[i])).collect::<Vec<_>>(),
            });
        }
    }
    out
}
