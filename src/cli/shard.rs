//! Sweeps beyond one machine: `palisade sim NAME --seeds N --shard I/N` runs every N-th seed
//! (a Kubernetes Indexed Job, a Slurm array or a CI matrix gives each process its index),
//! and `palisade sim merge FILE...` merges the shards' `--json` reports into the report one
//! process would have written.

use super::exit::Failure;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The environment variables a shard's index is read from when `--shard` gives only the
/// count: Kubernetes Indexed Jobs, then Slurm job arrays.
pub const INDEX_VARS: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

/// One shard of a sweep: the seeds at positions `index`, `index + count`, ... of the range.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// Parses `I/N`, or `N` with the index from [`INDEX_VARS`] (looked up by `env`).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let (index, count) = match text.split_once('/') {
            Some((i, n)) => (Some(i.trim().to_owned()), n.trim()),
            None => (None, text.trim()),
        };
        let count: u64 = count.parse().map_err(|_| format!("--shard {text}: expected I/N or N, e.g. 3/8"))?;
        if count == 0 {
            return Err(format!("--shard {text}: at least one shard"));
        }
        let index = match index {
            Some(i) => i,
            None => INDEX_VARS.iter().find_map(|v| env(v)).ok_or_else(|| {
                format!("--shard {text} gives no index, and neither {} is set", INDEX_VARS.join(" nor "))
            })?,
        };
        let index: u64 =
            index.trim().parse().map_err(|_| format!("--shard {text}: index `{index}` is not a number"))?;
        if index >= count {
            return Err(format!("--shard {index}/{count}: the index runs from 0 to {}", count - 1));
        }
        Ok(Shard { index, count })
    }

    /// The whole sweep, unsharded.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// How many of `count` consecutive seeds fall to this shard.
    pub fn len(&self, count: u64) -> u64 {
        count.saturating_sub(self.index).div_ceil(self.count)
    }

    /// This shard's seeds of the `count` from `first` (every `self.count`-th from the
    /// `self.index`-th), in order, computed rather than filtered from the whole range. The
    /// caller checks the range does not pass `u64::MAX`.
    pub fn seeds(&self, first: u64, count: u64) -> impl Iterator<Item = u64> + use<> {
        let (start, step) = (first + self.index, self.count);
        (0..self.len(count)).map(move |k| start + k * step)
    }
}

/// clap's parser for `--shard`, reading the process's environment.
pub fn parse_arg(text: &str) -> Result<Shard, String> {
    Shard::parse(text, |v| std::env::var(v).ok())
}

/// Arguments of `palisade sim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shards' reports (`palisade sim ... --shard I/N --json > FILE`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the merged report as one JSON object (the shape `sim --json` prints).
    #[arg(long)]
    pub json: bool,
}

/// Fields that must agree across shards.
const SAME: [&str; 4] = ["scenario", "sweep", "model", "outside_model"];
/// Fields summed across shards.
const SUMMED: [&str; 6] =
    ["events", "simulated_ns", "wall_ns", "nemesis_episodes", "byzantine_messages", "byzantine_altered"];
/// Fields that describe the sweep's first failure: taken from the shard that holds it.
const FIRST_FAILURE: [&str; 3] = ["shrunk_schedule", "shrunk_violation", "replay"];
/// Fields that describe a single run: kept only when the merged sweep is one seed.
const SINGLE_RUN: [&str; 2] = ["trace_hash", "gst_ns"];

/// Merges shard reports into one. Bad input (not a report, shards of different scenarios,
/// a seed in two shards) is a usage failure; a file that cannot be read, a runtime one.
pub fn merge(reports: &[(String, Value)]) -> Result<Value, Failure> {
    let bad = |msg: String| Failure::Usage(msg);
    let Some((_, first)) = reports.first() else { return Err(bad("no reports to merge".into())) };
    let mut out = Map::new();
    for key in SAME {
        let value = first
            .get(key)
            .cloned()
            .ok_or_else(|| bad(format!("{}: not a `sim --json` report (no {key})", reports[0].0)))?;
        if let Some((name, _)) = reports.iter().find(|(_, r)| r.get(key) != Some(&value)) {
            return Err(bad(format!(
                "{name}: its {key} differs from {}'s: shards of one sweep only",
                reports[0].0
            )));
        }
        out.insert(key.into(), value);
    }
    // Every shard of one sweep, each once: the merged report is then the one-process one.
    let mut shards: Vec<(u64, u64)> = Vec::new();
    for (name, r) in reports {
        let shard =
            r.get("shard").ok_or_else(|| bad(format!("{name}: not a shard (run with --shard I/N)")))?;
        let field = |k: &str| {
            shard.get(k).and_then(Value::as_u64).ok_or_else(|| bad(format!("{name}: shard has no {k}")))
        };
        shards.push((field("count")?, field("index")?));
    }
    shards.sort_unstable();
    let count = shards[0].0;
    if let Some((c, _)) = shards.iter().find(|(c, _)| *c != count) {
        return Err(bad(format!("shards of {count} and of {c}: one sweep's shards only")));
    }
    if let Some(w) = shards.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("shard {}/{count} given twice", w[0].1)));
    }
    if shards.len() as u64 != count {
        let have: Vec<u64> = shards.iter().map(|(_, i)| *i).collect();
        let missing: Vec<String> =
            (0..count).filter(|i| !have.contains(i)).take(5).map(|i| format!("{i}/{count}")).collect();
        return Err(bad(format!("{} of {count} shards given; missing {}", shards.len(), missing.join(", "))));
    }
    let mut seeds = Vec::new();
    let mut violations = Vec::new();
    let mut by_kind: std::collections::BTreeMap<String, u64> = Default::default();
    for (name, r) in reports {
        let list = |key: &str| {
            r.get(key).and_then(Value::as_array).cloned().ok_or_else(|| bad(format!("{name}: no {key} list")))
        };
        for s in list("seeds")? {
            seeds.push(s.as_u64().ok_or_else(|| bad(format!("{name}: a seed that is not a number")))?);
        }
        violations.extend(list("violations")?);
        if let Some(kinds) = r.get("nemesis_episodes_by_kind").and_then(Value::as_object) {
            for (k, n) in kinds {
                let total = by_kind.entry(k.clone()).or_default();
                *total = total
                    .checked_add(n.as_u64().unwrap_or(0))
                    .ok_or_else(|| bad(format!("{name}: {k} overflows")))?;
            }
        }
    }
    seeds.sort_unstable();
    if let Some(w) = seeds.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("seed {} is in two shards: were they given the same --shard?", w[0])));
    }
    let seed_of = |v: &Value| v.get("seed").and_then(Value::as_u64).unwrap_or(u64::MAX);
    violations.sort_by_key(seed_of);
    for key in SUMMED {
        let mut total = 0u64;
        for (name, r) in reports {
            let n = r.get(key).and_then(Value::as_u64).unwrap_or(0);
            total = total.checked_add(n).ok_or_else(|| bad(format!("{name}: {key} overflows the total")))?;
        }
        out.insert(key.into(), total.into());
    }
    out.insert("nemesis_episodes_by_kind".into(), serde_json::to_value(&by_kind).unwrap_or_default());
    // The first failure's shrink and replay come from the shard whose first violation it is.
    let first_failing = reports
        .iter()
        .filter_map(|(_, r)| r.get("violations")?.as_array()?.first().map(|v| (seed_of(v), r)))
        .min_by_key(|(seed, _)| *seed);
    if let Some((_, r)) = first_failing {
        for key in FIRST_FAILURE {
            if let Some(v) = r.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
    }
    if seeds.len() == 1 {
        for key in SINGLE_RUN {
            if let Some(v) = reports.iter().find_map(|(_, r)| r.get(key)) {
                out.insert(key.into(), v.clone());
            }
        }
    }
    out.insert("seeds".into(), seeds.into());
    out.insert("violations".into(), violations.into());
    Ok(Value::Object(out))
}

/// Runs `palisade sim merge`.
pub fn run(args: MergeArgs) -> std::process::ExitCode {
    let mut reports = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return Failure::Runtime(format!("cannot read {name}: {e}")).exit(),
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => reports.push((name, v)),
            Err(e) => return Failure::Usage(format!("{name}: not a `sim --json` report: {e}")).exit(),
        }
    }
    let merged = match merge(&reports) {
        Ok(m) => m,
        Err(f) => return f.exit(),
    };
    let violations = merged["violations"].as_array().map_or(0, Vec::len);
    if args.json {
        outln!("{merged}");
    } else {
        let seeds = merged["seeds"].as_array().map_or(0, Vec::len);
        outln!(
            "{}: {seeds} seed(s) from {} report(s), {violations} violation(s), {} nemesis episodes, {} events",
            merged["scenario"].as_str().unwrap_or("?"),
            reports.len(),
            merged["nemesis_episodes"],
            merged["events"]
        );
        for v in merged["violations"].as_array().into_iter().flatten() {
            outln!(
                "VIOLATION seed {} at {:.3}s: {}: {}",
                v["seed"],
                v["time_ns"].as_u64().unwrap_or(0) as f64 / 1e9,
                v["checker"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or("")
            );
        }
        if let Some(r) = merged.get("replay").and_then(Value::as_str) {
            outln!("replay the first: {r}");
        }
    }
    if violations > 0 {
        std::process::ExitCode::from(super::exit::FAILED)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shards_take_every_nth_seed_and_together_take_each_once() {
        let all: Vec<u64> = (10..20).collect();
        let mut union: Vec<u64> = (0..3).flat_map(|i| Shard { index: i, count: 3 }.seeds(10, 10)).collect();
        assert_eq!(Shard { index: 1, count: 3 }.seeds(10, 10).collect::<Vec<_>>(), vec![11, 14, 17]);
        union.sort_unstable();
        assert_eq!(union, all);
        assert_eq!(Shard::WHOLE.seeds(10, 10).collect::<Vec<_>>(), all);
        // More shards than seeds: the last ones are empty, not wrapped.
        assert_eq!(Shard { index: 4, count: 6 }.len(3), 0);
    }

    #[test]
    fn the_index_comes_from_the_argument_or_the_job_environment() {
        let none = |_: &str| None;
        assert_eq!(Shard::parse("2/8", none), Ok(Shard { index: 2, count: 8 }));
        let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "5".to_string());
        assert_eq!(Shard::parse("8", k8s), Ok(Shard { index: 5, count: 8 }));
        let slurm = |v: &str| (v == "SLURM_ARRAY_TASK_ID").then(|| "7".to_string());
        assert_eq!(Shard::parse("8", slurm), Ok(Shard { index: 7, count: 8 }));
        assert!(Shard::parse("8", none).unwrap_err().contains("JOB_COMPLETION_INDEX"));
        assert!(Shard::parse("8/8", none).unwrap_err().contains("0 to 7"));
        assert!(Shard::parse("1/0", none).is_err());
        assert!(Shard::parse("a/b", none).is_err());
    }

    fn report(seeds: &[u64], failing: &[u64]) -> Value {
        json!({
            "scenario": "x", "model": {"m": 1}, "outside_model": [], "sweep": {"first_seed": 1, "seeds": 7},
            "shard": {"index": seeds[0] % 2, "count": 2},
            "seeds": seeds, "events": seeds.len() * 10, "simulated_ns": 5, "wall_ns": 1,
            "nemesis_episodes": 2, "nemesis_episodes_by_kind": {"pause": 2},
            "byzantine_messages": 0, "byzantine_altered": 0,
            "violations": failing.iter().map(|s| json!({"seed": s})).collect::<Vec<_>>(),
            "replay": failing.first().map(|s| format!("sim x --seed {s}")),
        })
    }

    #[test]
    fn merging_sums_counts_orders_seeds_and_keeps_the_first_failures_replay() {
        let a = report(&[1, 3, 5], &[5]);
        let b = report(&[2, 4, 6], &[2, 4]);
        let m = merge(&[("a".into(), a), ("b".into(), b.clone())]).unwrap();
        assert_eq!(m["seeds"], json!([1, 2, 3, 4, 5, 6]));
        assert_eq!(m["events"], 60);
        assert_eq!(m["nemesis_episodes_by_kind"]["pause"], 4);
        assert_eq!(m["violations"], json!([{"seed": 2}, {"seed": 4}, {"seed": 5}]));
        assert_eq!(m["replay"], "sim x --seed 2");
        // A shard twice, a missing shard, another sweep's shard, another scenario, a total
        // that overflows: refused.
        let refused = |reports: &[(String, Value)], needle: &str| {
            let r = merge(reports);
            assert!(matches!(&r, Err(Failure::Usage(e)) if e.contains(needle)), "{needle}: {r:?}");
        };
        refused(&[("a".into(), b.clone()), ("b".into(), b.clone())], "given twice");
        refused(&[("b".into(), b.clone())], "missing 1/2");
        let mut later = report(&[1, 3, 5], &[]);
        later["sweep"]["first_seed"] = 100.into();
        refused(&[("a".into(), later), ("b".into(), b.clone())], "sweep");
        let mut other = report(&[1, 3], &[]);
        other["scenario"] = "y".into();
        refused(&[("a".into(), b.clone()), ("c".into(), other)], "scenario");
        let mut huge = report(&[1, 3, 5], &[]);
        huge["events"] = u64::MAX.into();
        refused(&[("a".into(), huge), ("b".into(), b)], "overflows");
    }
}
