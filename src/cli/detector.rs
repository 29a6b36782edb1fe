//! `palisade detector replay` and `palisade detector tune`: run recorded heartbeat arrivals
//! through a detector, and pick parameters from real logs.

use super::exit::{Failure, parse_duration};
use palisade_core::Instant;
use palisade_core::detector::qos::{Qos, qos_of_intervals};
use palisade_core::detector::replay::{Replay, replay};
use palisade_core::detector::{
    AdaptiveConfig, AdaptiveTimeout, FixedTimeout, FixedTimeoutConfig, PhiAccrual, PhiConfig,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `palisade detector ...`
#[derive(clap::Subcommand, Debug)]
pub enum DetectorCmd {
    /// Replay a CSV of heartbeat arrival times through a detector: transitions and QoS.
    Replay(ReplayArgs),
    /// For a range of thresholds, the detection time and mistake rate each would have given.
    Tune(TuneArgs),
}

/// Which detector.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Fixed timeout.
    Fixed,
    /// RFC 6298 adaptive timeout.
    Adaptive,
    /// Phi accrual (Akka's defaults).
    Phi,
}

/// Detector parameters; unset ones keep each detector's documented defaults.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Flags {
    /// fixed: the timeout in ms (default 5000).
    #[arg(long)]
    timeout_ms: Option<f64>,
    /// phi: suspicion threshold (default 8).
    #[arg(long)]
    threshold: Option<f64>,
    /// phi: minimum standard deviation in ms (default 100).
    #[arg(long)]
    min_std_ms: Option<f64>,
    /// phi: acceptable heartbeat pause in ms (default 3000).
    #[arg(long)]
    acceptable_pause_ms: Option<f64>,
    /// phi: intervals kept (default 1000).
    #[arg(long)]
    max_samples: Option<usize>,
    /// phi: first heartbeat estimate in ms (default 1000).
    #[arg(long)]
    first_estimate_ms: Option<f64>,
    /// adaptive: first timeout in ms (default 3000).
    #[arg(long)]
    initial_rto_ms: Option<f64>,
    /// adaptive: floor in ms (default 1500).
    #[arg(long)]
    min_rto_ms: Option<f64>,
    /// adaptive: ceiling in ms (default 60000).
    #[arg(long)]
    max_rto_ms: Option<f64>,
}

/// Arguments of `palisade detector replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// CSV: a header line, then one arrival time in ms per line, optionally a node name.
    #[arg(long)]
    trace: PathBuf,
    /// The detector.
    #[arg(long, value_enum, default_value_t = Kind::Phi)]
    detector: Kind,
    #[command(flatten)]
    flags: Flags,
    /// The monitored node(s) crashed at this time on the trace's clock (e.g. 20.5s):
    /// report the detection time.
    #[arg(long, value_parser = parse_duration)]
    crash_at: Option<Duration>,
    /// Also report the suspicion level this often (e.g. 100ms).
    #[arg(long, value_parser = parse_duration)]
    sample_every: Option<Duration>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `palisade detector tune`.
#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// CSV: a header line, then one arrival time in ms per line, optionally a node name.
    #[arg(long)]
    trace: PathBuf,
    /// The longest acceptable mean detection time (e.g. 5s).
    #[arg(long, value_parser = parse_duration)]
    max_detection: Duration,
    /// The detector whose threshold to tune (phi: φ; fixed: the timeout; adaptive: the floor).
    #[arg(long, value_enum, default_value_t = Kind::Phi)]
    detector: Kind,
    /// The detector's other parameters (the tuned one is overridden).
    #[command(flatten)]
    flags: Flags,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `palisade detector ...`.
pub fn run(cmd: DetectorCmd) -> ExitCode {
    let result = match cmd {
        DetectorCmd::Replay(a) => replay_cmd(a),
        DetectorCmd::Tune(a) => tune_cmd(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

/// Arrival times per monitored node, in file order.
type Arrivals = BTreeMap<String, Vec<Instant>>;

fn ms_to_instant(ms: f64) -> Option<Instant> {
    (0.0..1e15).contains(&ms).then(|| Instant::from_nanos((ms * 1e6).round() as u64))
}

fn ms_to_duration(ms: f64, name: &str) -> Result<Duration, String> {
    if (0.0..1e15).contains(&ms) {
        Ok(Duration::from_nanos((ms * 1e6).round() as u64))
    } else {
        Err(format!("--{name} must be a non-negative number of milliseconds, got {ms}"))
    }
}

/// Parses the CSV; errors name the line.
pub fn parse_arrivals(text: &str) -> Result<Arrivals, String> {
    let mut out: Arrivals = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    if lines.next().is_none() {
        return Err("empty file: expected a header line, then arrival times in ms".into());
    }
    for (i, line) in lines {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(',').map(str::trim);
        let time = fields.next().unwrap_or("");
        let node = fields.next().filter(|s| !s.is_empty()).unwrap_or("node").to_string();
        if fields.next().is_some() {
            return Err(format!("line {n}: expected `time_ms[,node]`, got `{line}`"));
        }
        let ms: f64 =
            time.parse().map_err(|_| format!("line {n}: `{time}` is not a time in milliseconds"))?;
        let at = ms_to_instant(ms).ok_or_else(|| format!("line {n}: time {ms} is negative or too large"))?;
        let list = out.entry(node.clone()).or_default();
        if let Some(&prev) = list.last()
            && at < prev
        {
            return Err(format!(
                "line {n}: arrival {ms} ms for {node} is earlier than the previous one ({} ms): times must be sorted",
                prev.as_nanos() as f64 / 1e6
            ));
        }
        list.push(at);
    }
    if out.is_empty() {
        return Err("no arrival times after the header line".into());
    }
    Ok(out)
}

/// Reads and parses the trace: a file that cannot be read is a runtime failure, one that
/// is not a trace of arrivals is bad input.
fn read(path: &PathBuf) -> Result<Arrivals, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_arrivals(&text).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))
}

fn check_flags(kind: Kind, f: &Flags) -> Result<(), String> {
    let used = |set: bool, flag: &str, owner: Kind| -> Result<(), String> {
        if set && owner != kind {
            return Err(format!("--{flag} applies to --detector {owner:?}, not {kind:?}").to_lowercase());
        }
        Ok(())
    };
    used(f.timeout_ms.is_some(), "timeout-ms", Kind::Fixed)?;
    used(f.threshold.is_some(), "threshold", Kind::Phi)?;
    used(f.min_std_ms.is_some(), "min-std-ms", Kind::Phi)?;
    used(f.acceptable_pause_ms.is_some(), "acceptable-pause-ms", Kind::Phi)?;
    used(f.max_samples.is_some(), "max-samples", Kind::Phi)?;
    used(f.first_estimate_ms.is_some(), "first-estimate-ms", Kind::Phi)?;
    used(f.initial_rto_ms.is_some(), "initial-rto-ms", Kind::Adaptive)?;
    used(f.min_rto_ms.is_some(), "min-rto-ms", Kind::Adaptive)?;
    used(f.max_rto_ms.is_some(), "max-rto-ms", Kind::Adaptive)
}

fn fixed_config(f: &Flags) -> Result<FixedTimeoutConfig, String> {
    let mut c = FixedTimeoutConfig::default();
    if let Some(ms) = f.timeout_ms {
        c.timeout = ms_to_duration(ms, "timeout-ms")?;
    }
    Ok(c)
}

fn phi_config(f: &Flags) -> Result<PhiConfig, String> {
    let mut c = PhiConfig::default();
    if let Some(t) = f.threshold {
        if !(t.is_finite() && t > 0.0) {
            return Err(format!("--threshold must be a positive number, got {t}"));
        }
        c.threshold = t;
    }
    if let Some(ms) = f.min_std_ms {
        c.min_std_deviation = ms_to_duration(ms, "min-std-ms")?;
    }
    if let Some(ms) = f.acceptable_pause_ms {
        c.acceptable_heartbeat_pause = ms_to_duration(ms, "acceptable-pause-ms")?;
    }
    if let Some(n) = f.max_samples {
        if n == 0 {
            return Err("--max-samples must be at least 1".into());
        }
        c.max_sample_size = n;
    }
    if let Some(ms) = f.first_estimate_ms {
        c.first_heartbeat_estimate = ms_to_duration(ms, "first-estimate-ms")?;
    }
    Ok(c)
}

fn adaptive_config(f: &Flags) -> Result<AdaptiveConfig, String> {
    let mut c = AdaptiveConfig::default();
    if let Some(ms) = f.initial_rto_ms {
        c.rto.initial_rto = ms_to_duration(ms, "initial-rto-ms")?;
    }
    if let Some(ms) = f.min_rto_ms {
        c.rto.min_rto = ms_to_duration(ms, "min-rto-ms")?;
    }
    if let Some(ms) = f.max_rto_ms {
        c.rto.max_rto = ms_to_duration(ms, "max-rto-ms")?;
    }
    if c.rto.max_rto < c.rto.min_rto {
        return Err("--max-rto-ms must not be below --min-rto-ms".into());
    }
    Ok(c)
}

/// Runs one detector over one node's arrivals.
fn run_one(
    kind: Kind,
    f: &Flags,
    arrivals: &[Instant],
    end: Instant,
    sample: Option<Duration>,
) -> Result<Replay, String> {
    Ok(match kind {
        Kind::Fixed => replay::<FixedTimeout>(&fixed_config(f)?, arrivals, end, sample),
        Kind::Adaptive => replay::<AdaptiveTimeout>(&adaptive_config(f)?, arrivals, end, sample),
        Kind::Phi => replay::<PhiAccrual>(&phi_config(f)?, arrivals, end, sample),
    })
}

fn since(origin: Instant, t: Instant) -> Duration {
    t - origin
}

fn intervals(r: &Replay, origin: Instant, end: Instant) -> Vec<(Duration, Duration)> {
    let mut out = Vec::new();
    let mut open = None;
    for t in &r.transitions {
        match (t.suspect, open) {
            (true, None) => open = Some(t.at),
            (false, Some(s)) => {
                out.push((since(origin, s), since(origin, t.at)));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        out.push((since(origin, s), since(origin, end.max(s))));
    }
    out
}

#[derive(Serialize)]
struct TransitionOut {
    t_ms: f64,
    suspect: bool,
}

#[derive(Serialize)]
struct LevelOut {
    t_ms: f64,
    level: f64,
}

#[derive(Serialize)]
struct NodeOut {
    node: String,
    arrivals: usize,
    transitions: Vec<TransitionOut>,
    qos: Qos,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    levels: Vec<LevelOut>,
}

fn ms(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e6
}

fn replay_cmd(a: ReplayArgs) -> Result<(), Failure> {
    check_flags(a.detector, &a.flags).map_err(Failure::Usage)?;
    let arrivals = read(&a.trace)?;
    replay_arrivals(a, &arrivals).map_err(Failure::Usage)
}

/// Suspicion levels `--sample-every` may report per node at most.
const MAX_LEVELS: u128 = 1_000_000;

fn replay_arrivals(a: ReplayArgs, arrivals: &Arrivals) -> Result<(), String> {
    let sample = a.sample_every;
    if sample.is_some_and(|d| d.is_zero()) {
        return Err("--sample-every must be more than 0s".into());
    }
    let crash = a
        .crash_at
        .map(|d| {
            let ms = d.as_secs_f64() * 1e3;
            ms_to_instant(ms).ok_or(format!("--crash-at {} is out of range", super::exit::format_duration(d)))
        })
        .transpose()?;
    let mut nodes = Vec::new();
    for (node, times) in arrivals {
        let (first, last) = (times[0], *times.last().unwrap_or(&times[0]));
        // Without a crash, watch until the last arrival; with one, long enough to see it.
        let end = match crash {
            Some(c) => c.max(last) + Duration::from_secs(3600),
            None => last,
        };
        if let Some(every) = sample {
            let levels = since(first, end).as_nanos() / every.as_nanos().max(1);
            if levels > MAX_LEVELS {
                return Err(format!(
                    "--sample-every {} would report {levels} levels for {node}: at most {MAX_LEVELS}; sample less often",
                    super::exit::format_duration(every)
                ));
            }
        }
        let r = run_one(a.detector, &a.flags, times, end, sample)?;
        let crash_rel = crash.map(|c| since(first, c));
        let qos = qos_of_intervals(&intervals(&r, first, end), crash_rel, since(first, end), Duration::ZERO);
        nodes.push(NodeOut {
            node: node.clone(),
            arrivals: times.len(),
            transitions: r
                .transitions
                .iter()
                .map(|t| TransitionOut { t_ms: ms(t.at), suspect: t.suspect })
                .collect(),
            qos,
            levels: r.levels.iter().map(|&(t, level)| LevelOut { t_ms: ms(t), level }).collect(),
        });
    }
    if a.json {
        #[derive(Serialize)]
        struct Out<'a> {
            detector: String,
            nodes: &'a [NodeOut],
        }
        let out = Out { detector: format!("{:?}", a.detector).to_lowercase(), nodes: &nodes };
        outln!("{}", serde_json::to_string(&out).map_err(|e| e.to_string())?);
        return Ok(());
    }
    const SHOWN: usize = 40;
    for n in &nodes {
        outln!("{}: {} arrivals, detector {:?}", n.node, n.arrivals, a.detector);
        for t in n.transitions.iter().take(SHOWN) {
            outln!("  {:>14.3} ms  {}", t.t_ms, if t.suspect { "suspect" } else { "trust" });
        }
        if n.transitions.len() > SHOWN {
            outln!("  ... and {} more transitions (use --json for all)", n.transitions.len() - SHOWN);
        }
        for l in &n.levels {
            outln!("  {:>14.3} ms  level {:.4}", l.t_ms, l.level);
        }
        let q = &n.qos;
        outln!(
            "  mistakes {} ({:.3} per hour), mean mistake {:.3} s, query accuracy {:.6}",
            q.mistakes,
            q.mistake_rate_per_s * 3600.0,
            q.mistake_duration.mean_s,
            q.query_accuracy
        );
        if crash.is_some() {
            if q.undetected > 0 {
                outln!("  the crash was never detected");
            } else {
                outln!("  detection time {:.3} s", q.detection.mean_s);
            }
        }
    }
    Ok(())
}

#[derive(Serialize, Clone)]
struct TuneRow {
    setting: f64,
    mistakes: usize,
    mistakes_per_hour: f64,
    mean_detection_ms: f64,
    worst_detection_ms: f64,
}

fn tune_cmd(a: TuneArgs) -> Result<(), Failure> {
    check_flags(a.detector, &a.flags).map_err(Failure::Usage)?;
    let arrivals = read(&a.trace)?;
    tune_arrivals(a, &arrivals).map_err(Failure::Usage)
}

fn tune_arrivals(a: TuneArgs, arrivals: &Arrivals) -> Result<(), String> {
    let max = a.max_detection;
    let max_ms = max.as_secs_f64() * 1e3;
    let settings: Vec<f64> = match a.detector {
        Kind::Phi => (1..=32).map(|i| f64::from(i) * 0.5).collect(),
        Kind::Fixed | Kind::Adaptive => {
            (1..=40).map(|i| max.as_secs_f64() * 1000.0 * f64::from(i) / 20.0).collect()
        }
    };
    let mut rows = Vec::new();
    for &setting in &settings {
        let base = a.flags.clone();
        let flags = match a.detector {
            Kind::Phi => Flags { threshold: Some(setting), ..base },
            Kind::Fixed => Flags { timeout_ms: Some(setting), ..base },
            Kind::Adaptive => Flags { min_rto_ms: Some(setting), initial_rto_ms: Some(setting), ..base },
        };
        let (mut mistakes, mut hours, mut sum_det, mut n_det, mut worst) =
            (0usize, 0.0f64, 0.0f64, 0usize, 0.0f64);
        for times in arrivals.values() {
            let (first, last) = (times[0], *times.last().unwrap_or(&times[0]));
            let r = run_one(a.detector, &flags, times, last, None)?;
            mistakes += r.transitions.iter().filter(|t| t.suspect).count();
            hours += (last - first).as_secs_f64() / 3600.0;
            // A crash at a uniformly random moment after a heartbeat is detected after the
            // allowed silence minus half the interval on average.
            let mean_interval = (last - first).as_secs_f64() / (times.len().max(2) - 1) as f64;
            for s in &r.silence_allowed {
                sum_det += (s.as_secs_f64() - mean_interval / 2.0).max(0.0);
                worst = worst.max(s.as_secs_f64());
                n_det += 1;
            }
        }
        rows.push(TuneRow {
            setting,
            mistakes,
            mistakes_per_hour: if hours > 0.0 { mistakes as f64 / hours } else { 0.0 },
            mean_detection_ms: sum_det / n_det.max(1) as f64 * 1000.0,
            worst_detection_ms: worst * 1000.0,
        });
    }
    let fits: Vec<&TuneRow> =
        rows.iter().filter(|r| r.mean_detection_ms <= max.as_secs_f64() * 1000.0).collect();
    let pick = fits
        .iter()
        .min_by(|x, y| x.mistakes.cmp(&y.mistakes).then(x.mean_detection_ms.total_cmp(&y.mean_detection_ms)));
    let what = match a.detector {
        Kind::Phi => "threshold",
        Kind::Fixed => "timeout_ms",
        Kind::Adaptive => "min_rto_ms",
    };
    if a.json {
        #[derive(Serialize)]
        struct Out<'a> {
            detector: String,
            setting: &'a str,
            rows: &'a [TuneRow],
            recommended: Option<f64>,
        }
        let out = Out {
            detector: format!("{:?}", a.detector).to_lowercase(),
            setting: what,
            rows: &rows,
            recommended: pick.map(|r| r.setting),
        };
        outln!("{}", serde_json::to_string(&out).map_err(|e| e.to_string())?);
        return Ok(());
    }
    outln!(
        "{what:>12} {:>9} {:>12} {:>15} {:>16}",
        "mistakes",
        "per hour",
        "mean detect ms",
        "worst detect ms"
    );
    for r in &rows {
        outln!(
            "{:>12.3} {:>9} {:>12.3} {:>15.1} {:>16.1}",
            r.setting,
            r.mistakes,
            r.mistakes_per_hour,
            r.mean_detection_ms,
            r.worst_detection_ms
        );
    }
    match pick {
        Some(r) => outln!(
            "recommended {what} {:.3}: {} mistakes, mean detection {:.1} ms (limit {:.1} ms)",
            r.setting,
            r.mistakes,
            r.mean_detection_ms,
            max_ms
        ),
        None => outln!("no {what} in the range tried detects within {max_ms:.1} ms on average"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_the_line() {
        assert!(parse_arrivals("").unwrap_err().contains("empty file"));
        assert!(parse_arrivals("t\n").unwrap_err().contains("no arrival"));
        assert!(parse_arrivals("t\n1\nabc\n").unwrap_err().starts_with("line 3: `abc`"));
        assert!(parse_arrivals("t\n5\n3\n").unwrap_err().starts_with("line 3: arrival 3 ms"));
        assert!(parse_arrivals("t\n-1\n").unwrap_err().starts_with("line 2:"));
        assert!(parse_arrivals("t\n1,a,b\n").unwrap_err().starts_with("line 2:"));
        let a = parse_arrivals("time_ms,node\n0,a\n0.5,b\n1000,a\n").unwrap();
        assert_eq!(a["a"], vec![Instant::ZERO, Instant::from_nanos(1_000_000_000)]);
        assert_eq!(a["b"], vec![Instant::from_nanos(500_000)]);
    }
}
