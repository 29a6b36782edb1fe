//! What a diagram shows, distilled from a JSON-lines trace.

use crate::ViolationReport;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Lanes drawn at most: a trace naming a larger node id is refused, not allocated for.
pub const MAX_NODES: usize = 100_000;

/// A trace line that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("trace line {line}: {problem}")]
pub struct ModelError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

/// A message: sent at `t` by `from`, arriving (or dropped) at `at` at `to`.
#[derive(Clone, Debug, Serialize)]
pub struct Msg {
    /// Send time, ns.
    pub t: u64,
    /// Sender.
    pub from: u32,
    /// Recipient.
    pub to: u32,
    /// Arrival (or drop) time, ns.
    pub at: u64,
    /// The message's variant name.
    pub label: String,
    /// `delivered`, `held` (waited in a paused node's inbox), `duplicate`, or `drop:REASON`.
    pub fate: String,
    /// The message as JSON.
    pub detail: String,
    /// Trace index of its delivery (or drop), if the trace shows one.
    pub di: Option<u64>,
    /// Trace index of its send.
    pub si: u64,
    /// The value it carries, if it has a field named `value` (at any depth), short: what
    /// tells an equivocating node's messages apart. The page colours arrows by variant, and
    /// by value too where a variant carries only a few distinct values.
    pub value: Option<String>,
    /// The fencing token it carries, if it has a field named `token` (at any depth).
    pub token: Option<u64>,
    /// For a message held at a paused node: when the node handled it after resuming, ns.
    pub handled: Option<u64>,
}

/// A span of time a node spent paused or down.
#[derive(Clone, Debug, Serialize)]
pub struct Span {
    /// The node.
    pub node: u32,
    /// Start, ns.
    pub from: u64,
    /// End, ns.
    pub to: u64,
    /// `pause` or `down`.
    pub kind: &'static str,
}

/// A span of time the whole network was cut or degraded.
#[derive(Clone, Debug, Serialize)]
pub struct Band {
    /// Start, ns.
    pub from: u64,
    /// End, ns.
    pub to: u64,
    /// `partition`, `degrade` or `duplicate`.
    pub kind: &'static str,
    /// What it was.
    pub label: String,
}

/// A point event on one node's lane.
#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    /// Trace index of the event.
    pub i: u64,
    /// Time, ns.
    pub t: u64,
    /// The node.
    pub node: u32,
    /// `event`, `timeout`, `persist`, `command`, `crash`, `restart`, `torn`, `wall-step`, `drift`.
    pub kind: &'static str,
    /// Short text.
    pub label: String,
    /// Details for hovering.
    pub detail: String,
}

/// One node's clock: drift and wall-clock error from time `t` on.
#[derive(Clone, Debug, Serialize)]
pub struct ClockPoint {
    /// Time, ns.
    pub t: u64,
    /// Wall clock error at `t`, ns (positive: ahead).
    pub offset_ns: i64,
    /// Drift from `t` on, ppm.
    pub ppm: i64,
}

/// The violation, where the diagram highlights it.
#[derive(Clone, Debug, Serialize)]
pub struct Flag {
    /// Trace index of the event after which the checker failed.
    pub i: u64,
    /// Time, ns.
    pub t: u64,
    /// The checker.
    pub checker: String,
    /// Its message.
    pub message: String,
    /// The seed.
    pub seed: u64,
}

/// Everything the page draws.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Model {
    /// Page title.
    pub title: String,
    /// Node ids, one lane each.
    pub nodes: Vec<u32>,
    /// End of the run, ns.
    pub end_ns: u64,
    /// When the last fault healed, ns.
    pub gst_ns: u64,
    /// Messages.
    pub msgs: Vec<Msg>,
    /// Pauses and downtime.
    pub spans: Vec<Span>,
    /// Partitions and degraded links.
    pub bands: Vec<Band>,
    /// Events on lanes.
    pub marks: Vec<Mark>,
    /// Per node (by position in `nodes`), its clock over time.
    pub clocks: Vec<Vec<ClockPoint>>,
    /// Byzantine nodes and the adversary that speaks for each.
    pub byzantine: BTreeMap<u32, String>,
    /// The violation, if the run had one.
    pub violation: Option<Flag>,
    /// Messages and marks left out of a long run (those farthest from the violation).
    pub omitted: u64,
}

/// The variant name of an externally tagged serde value: `{"Ping":{..}}` → `Ping`.
/// An internally tagged one (`{"event":"granted",..}`) is named by its tag.
fn variant(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => ["event", "kind", "type", "msg"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| m.keys().next().cloned().unwrap_or_default()),
        Value::Null => String::new(),
        other => {
            let s = other.to_string();
            s.chars().take(24).collect()
        }
    }
}

/// The first field called `name` in `v`, at any depth (breadth first within an object).
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(name).or_else(|| m.values().find_map(|x| field(x, name))),
        _ => None,
    }
}

/// The first field named `value` in `v`, at any depth, as short text: a byte array of
/// printable ASCII as a quoted string, anything else as compact JSON, cut to 24 characters.
fn value_of(v: &Value) -> Option<String> {
    let found = field(v, "value")?;
    let text = match found {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> =
                items.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect();
            match bytes.filter(|b| !b.is_empty() && b.iter().all(|c| (0x20..0x7f).contains(c))) {
                Some(b) => format!("\"{}\"", String::from_utf8_lossy(&b)),
                None => found.to_string(),
            }
        }
        other => other.to_string(),
    };
    Some(if text.chars().count() > 24 {
        format!("{}…", text.chars().take(23).collect::<String>())
    } else {
        text
    })
}

fn compact(v: Option<&Value>) -> String {
    let s = v.map(Value::to_string).unwrap_or_default();
    if s.len() > 400 {
        let cut = (0..=400).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

impl Model {
    /// Reads a JSON-lines trace; its `clock` lines (one per node at the start of a run) give
    /// the lanes. At most `cap` messages and
    /// `cap` marks are kept: those nearest the violation's time (or the end of the run).
    pub fn from_trace(
        title: &str,
        trace: &str,
        violation: Option<&ViolationReport>,
        gst_ns: u64,
        cap: usize,
    ) -> Result<Model, ModelError> {
        let mut m = Model { title: title.to_string(), gst_ns, ..Model::default() };
        // Messages in flight, by (from, to, arrival): their index in `msgs`.
        let mut in_flight: BTreeMap<(u32, u32, u64), Vec<usize>> = BTreeMap::new();
        // Messages waiting in a paused node's inbox, per link, in arrival order.
        let mut held: BTreeMap<(u32, u32), std::collections::VecDeque<usize>> = BTreeMap::new();
        let mut paused: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        let mut down: BTreeMap<u32, u64> = BTreeMap::new();
        let mut cut: Option<(u64, String)> = None;
        let mut degraded: Option<u64> = None;
        let mut duplicating: Option<(u64, String)> = None;
        let mut end = 0;
        let mut noted: Option<Flag> = None;
        for (n, line) in trace.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let err = |problem: String| ModelError { line: n + 1, problem };
            let v: Value = serde_json::from_str(line).map_err(|e| err(e.to_string()))?;
            let num = |k: &str| v.get(k).and_then(Value::as_u64);
            let int = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
            let node = |k: &str| num(k).map(|x| x as u32).ok_or_else(|| err(format!("no `{k}`")));
            let kind = v.get("kind").and_then(Value::as_str).ok_or_else(|| err("no `kind`".into()))?;
            let t = num("t_ns").ok_or_else(|| err("no `t_ns`".into()))?;
            let i = num("i").unwrap_or(n as u64);
            end = end.max(t);
            let mut mark = |node: u32, kind: &'static str, label: String, detail: String| {
                m.marks.push(Mark { i, t, node, kind, label, detail });
            };
            match kind {
                "send" | "duplicate" => {
                    let (from, to, at) = (node("from")?, node("to")?, num("deliver_ns").unwrap_or(t));
                    let msg = v.get("msg");
                    let label = msg.map(variant).unwrap_or_else(|| "bytes".into());
                    let fate = if kind == "send" { "delivered" } else { "duplicate" };
                    in_flight.entry((from, to, at)).or_default().push(m.msgs.len());
                    let detail = compact(msg.or(v.get("bytes_hex")));
                    let value = msg.and_then(value_of);
                    let token = msg.and_then(|x| field(x, "token")).and_then(Value::as_u64);
                    m.msgs.push(Msg {
                        t,
                        from,
                        to,
                        at,
                        label,
                        fate: fate.into(),
                        detail,
                        di: None,
                        si: i,
                        value,
                        token,
                        handled: None,
                    });
                    end = end.max(at);
                }
                "drop" => {
                    let (from, to) = (node("from")?, node("to")?);
                    let reason = v.get("reason").and_then(Value::as_str).unwrap_or("?");
                    let fate = format!("drop:{reason}");
                    match in_flight.get_mut(&(from, to, t)).and_then(Vec::pop) {
                        // Dropped on arrival (partition, recipient down, undecodable).
                        Some(idx) => {
                            m.msgs[idx].fate = fate;
                            m.msgs[idx].di = Some(i);
                        }
                        // Dropped as it was sent (loss, congestion, partition at send).
                        None => {
                            let msg = v.get("msg");
                            let label = msg.map(variant).unwrap_or_else(|| "bytes".into());
                            let detail = compact(msg.or(v.get("bytes_hex")));
                            let value = msg.and_then(value_of);
                            let token = msg.and_then(|x| field(x, "token")).and_then(Value::as_u64);
                            m.msgs.push(Msg {
                                t,
                                from,
                                to,
                                at: t,
                                label,
                                fate,
                                detail,
                                di: Some(i),
                                si: i,
                                value,
                                token,
                                handled: None,
                            });
                        }
                    }
                }
                "deliver" | "hold" => {
                    let (from, to) = (node("from")?, node("to")?);
                    if let Some(idx) = in_flight.get_mut(&(from, to, t)).and_then(|v| v.pop()) {
                        m.msgs[idx].di = Some(i);
                        if kind == "hold" {
                            m.msgs[idx].fate = "held".into();
                            held.entry((from, to)).or_default().push_back(idx);
                        }
                    } else if kind == "deliver"
                        && let Some(idx) = held.get_mut(&(from, to)).and_then(|q| q.pop_front())
                    {
                        // Held at a paused node, handled now that it has resumed (in order).
                        m.msgs[idx].di = Some(i);
                        m.msgs[idx].handled = Some(t);
                    }
                }
                "timeout" => {
                    mark(node("node")?, "timeout", String::new(), format!("timer fired at t={t} ns"))
                }
                "event" => {
                    let ev = v.get("event");
                    let mut label = ev.map(variant).unwrap_or_default();
                    if let Some(token) = ev.and_then(|e| field(e, "token")).and_then(Value::as_u64) {
                        label += &format!(" token {token}");
                    }
                    // A payload that reads as text (Bracha's delivered value) joins the label.
                    if let Some(value) = ev.and_then(value_of).filter(|v| v.starts_with('"')) {
                        label += &format!(" {value}");
                    }
                    mark(node("node")?, "event", label, compact(ev));
                }
                "persist" => mark(node("node")?, "persist", "persist".into(), "state made durable".into()),
                "command" => mark(node("node")?, "command", "command".into(), "application command".into()),
                "torn_write" => {
                    mark(node("node")?, "torn", "torn write".into(), "crashed mid-persist".into())
                }
                "crash" => {
                    let id = node("node")?;
                    down.insert(id, t);
                    mark(id, "crash", "crash".into(), "crashed: volatile state lost".into());
                }
                "restart" => {
                    let id = node("node")?;
                    if let Some(from) = down.remove(&id) {
                        m.spans.push(Span { node: id, from, to: t, kind: "down" });
                    }
                    mark(id, "restart", "restart".into(), "restarted from durable state".into());
                }
                "pause" => {
                    let id = node("node")?;
                    let until = num("until_ns").unwrap_or(t);
                    let start = paused.get(&id).map_or(t, |&(s, _)| s);
                    paused.insert(id, (start, until));
                }
                "resume" => {
                    let id = node("node")?;
                    if let Some((from, _)) = paused.remove(&id) {
                        m.spans.push(Span { node: id, from, to: t, kind: "pause" });
                    }
                }
                "partition" => {
                    if let Some((from, label)) = cut.take() {
                        m.bands.push(Band { from, to: t, kind: "partition", label });
                    }
                    cut = Some((t, format!("{} directed links cut", num("cut").unwrap_or(0))));
                }
                "heal" => {
                    if let Some((from, label)) = cut.take() {
                        m.bands.push(Band { from, to: t, kind: "partition", label });
                    }
                }
                "degrade" => {
                    degraded.get_or_insert(t);
                }
                "restore_links" => {
                    if let Some(from) = degraded.take() {
                        m.bands.push(Band { from, to: t, kind: "degrade", label: "links degraded".into() });
                    }
                }
                "duplicate_burst" => {
                    let label = format!("links duplicate {}% of messages", num("percent").unwrap_or(0));
                    duplicating.get_or_insert((t, label));
                }
                "duplicate_burst_end" => {
                    if let Some((from, label)) = duplicating.take() {
                        m.bands.push(Band { from, to: t, kind: "duplicate", label });
                    }
                }
                "violation" if violation.is_none() => {
                    // A saved trace's own record of how its run ended.
                    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    noted = Some(Flag {
                        i,
                        t,
                        checker: text("checker"),
                        message: text("message"),
                        seed: num("seed").unwrap_or(0),
                    });
                }
                "byzantine" => {
                    let adversary = v.get("adversary").and_then(Value::as_str).unwrap_or("adversary");
                    m.byzantine.insert(node("node")?, adversary.to_string());
                }
                "clock" | "wall_step" | "drift" => {
                    let id = node("node")?;
                    if kind == "clock" && id as usize > m.clocks.len() {
                        // One lane per node up to the largest id: a trace names its nodes
                        // 1..=n, and a larger id is not one of this simulator's.
                        if id as usize > MAX_NODES {
                            return Err(err(format!("node {id}: at most {MAX_NODES} nodes are drawn")));
                        }
                        m.clocks.resize(id as usize, Vec::new());
                    }
                    let Some(points) = m.clocks.get_mut(id.saturating_sub(1) as usize) else { continue };
                    let last = points.last().cloned();
                    // Saturating: a hand-edited trace may go back in time or overflow.
                    let projected = |p: &ClockPoint| {
                        let drifted = i128::from(t.saturating_sub(p.t)) * i128::from(p.ppm) / 1_000_000;
                        let sum = i128::from(p.offset_ns) + drifted;
                        sum.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
                    };
                    let point = match kind {
                        "clock" => ClockPoint { t, offset_ns: int("offset_ns"), ppm: int("ppm") },
                        "wall_step" => ClockPoint {
                            t,
                            offset_ns: int("offset_ns"),
                            ppm: last.as_ref().map_or(0, |p| p.ppm),
                        },
                        _ => ClockPoint { t, offset_ns: last.as_ref().map_or(0, projected), ppm: int("ppm") },
                    };
                    if kind != "clock" {
                        let what = if kind == "drift" {
                            format!("drift now {} ppm", point.ppm)
                        } else {
                            format!("wall clock stepped: now {:+.3} ms", point.offset_ns as f64 / 1e6)
                        };
                        mark(id, if kind == "drift" { "drift" } else { "wall-step" }, String::new(), what);
                    }
                    points.push(point);
                }
                _ => {}
            }
        }
        m.nodes = (1..=m.clocks.len() as u32).collect();
        let flag_t = violation.map(|v| v.time_ns).or(noted.as_ref().map(|f| f.t));
        // A run stopped by a violation ends there, even if its faults were to go on.
        m.end_ns = end.max(flag_t.unwrap_or(0));
        for (id, (from, until)) in paused {
            m.spans.push(Span { node: id, from, to: until.min(m.end_ns).max(from), kind: "pause" });
        }
        for (id, from) in down {
            m.spans.push(Span { node: id, from, to: m.end_ns, kind: "down" });
        }
        if let Some((from, label)) = cut {
            m.bands.push(Band { from, to: m.end_ns, kind: "partition", label });
        }
        if let Some(from) = degraded {
            m.bands.push(Band { from, to: m.end_ns, kind: "degrade", label: "links degraded".into() });
        }
        if let Some((from, label)) = duplicating {
            m.bands.push(Band { from, to: m.end_ns, kind: "duplicate", label });
        }
        m.violation = violation
            .map(|v| Flag {
                i: v.event,
                t: v.time_ns,
                checker: v.checker.to_string(),
                message: v.message.clone(),
                seed: v.seed,
            })
            .or(noted);
        // GST after the end of the run (a run stopped early by a violation) never came.
        if m.gst_ns > m.end_ns {
            m.gst_ns = 0;
        }
        let center = flag_t.unwrap_or(m.end_ns);
        m.omitted = keep_nearest(&mut m.msgs, cap, center, |x| x.t)
            + keep_nearest(&mut m.marks, cap, center, |x| x.t);
        Ok(m)
    }
}

/// Keeps the `cap` items whose time is nearest `center`, in their original order; returns
/// how many were removed.
fn keep_nearest<T>(items: &mut Vec<T>, cap: usize, center: u64, time: impl Fn(&T) -> u64) -> u64 {
    if items.len() <= cap {
        return 0;
    }
    let mut distances: Vec<u64> = items.iter().map(|x| time(x).abs_diff(center)).collect();
    distances.sort_unstable();
    let limit = distances[cap - 1];
    let before = items.len();
    let mut kept = 0;
    items.retain(|x| {
        let keep = time(x).abs_diff(center) <= limit && kept < cap;
        kept += usize::from(keep);
        keep
    });
    (before - items.len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"{"i":0,"t_ns":0,"kind":"clock","node":1,"ppm":100,"offset_ns":5000000}
{"i":1,"t_ns":0,"kind":"clock","node":2,"ppm":0,"offset_ns":0}
{"i":1,"t_ns":0,"kind":"byzantine","node":2,"adversary":"liar"}
{"i":2,"t_ns":10,"kind":"send","from":1,"to":2,"deliver_ns":50,"msg":{"Ping":{"seq":1}}}
{"i":3,"t_ns":11,"kind":"drop","from":1,"to":2,"reason":"loss","msg":"Pong"}
{"i":4,"t_ns":20,"kind":"pause","node":2,"until_ns":70}
{"i":5,"t_ns":50,"kind":"hold","from":1,"to":2,"msg":{"Ping":{"seq":1}}}
{"i":6,"t_ns":60,"kind":"partition","cut":2}
{"i":7,"t_ns":70,"kind":"resume","node":2}
{"i":8,"t_ns":80,"kind":"event","node":2,"event":{"Suspect":{"peer":1}}}
{"i":8,"t_ns":85,"kind":"event","node":1,"event":{"event":"unfenced"}}
{"i":9,"t_ns":90,"kind":"heal"}
{"i":10,"t_ns":1000000000,"kind":"wall_step","node":2,"offset_ns":-3000}
{"i":11,"t_ns":1000000000,"kind":"crash","node":1}
"#;

    #[test]
    fn a_trace_becomes_lanes_arrows_spans_and_bands() {
        let m = Model::from_trace("t", TRACE, None, 90, 100).unwrap();
        assert_eq!(m.nodes, vec![1, 2]);
        assert_eq!(m.msgs.len(), 2);
        assert_eq!((m.msgs[0].label.as_str(), m.msgs[0].fate.as_str(), m.msgs[0].at), ("Ping", "held", 50));
        assert_eq!((m.msgs[1].label.as_str(), m.msgs[1].fate.as_str()), ("Pong", "drop:loss"));
        assert!(m.spans.iter().any(|s| s.node == 2 && s.kind == "pause" && (s.from, s.to) == (20, 70)));
        assert!(m.spans.iter().any(|s| s.node == 1 && s.kind == "down" && s.to == m.end_ns));
        assert_eq!(m.bands.len(), 1);
        assert_eq!((m.bands[0].from, m.bands[0].to), (60, 90));
        assert!(m.marks.iter().any(|k| k.kind == "event" && k.label == "Suspect" && k.node == 2));
        assert!(m.marks.iter().any(|k| k.kind == "event" && k.label == "unfenced" && k.node == 1));
        assert_eq!(m.clocks[0][0].offset_ns, 5_000_000);
        assert_eq!(m.byzantine.get(&2).map(String::as_str), Some("liar"));
        assert_eq!(m.clocks[1].last().unwrap().offset_ns, -3000);
    }

    #[test]
    fn a_violation_is_flagged_and_long_runs_keep_what_is_near_it() {
        let v = ViolationReport {
            seed: 7,
            event: 8,
            time_ns: 80,
            checker: "detector::never_suspects_live",
            message: "n2 suspected live node n1".into(),
            cause: String::new(),
        };
        let m = Model::from_trace("t", TRACE, Some(&v), 0, 1).unwrap();
        let flag = m.violation.as_ref().unwrap();
        assert_eq!((flag.i, flag.t, flag.seed), (8, 80, 7));
        assert_eq!(m.msgs.len(), 1);
        assert_eq!(m.msgs[0].t, 11, "the message nearest the violation is kept");
        assert!(m.omitted > 0);
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        let e = Model::from_trace("t", "{\"i\":0}\nnot json", None, 0, 10).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.problem.contains("kind"));
    }

    #[test]
    fn held_messages_values_tokens_and_a_saved_violation_are_read() {
        let trace = r#"{"i":0,"t_ns":0,"kind":"clock","node":1,"ppm":0,"offset_ns":0}
{"i":1,"t_ns":0,"kind":"clock","node":2,"ppm":0,"offset_ns":0}
{"i":2,"t_ns":5,"kind":"pause","node":2,"until_ns":60}
{"i":3,"t_ns":10,"kind":"send","from":1,"to":2,"deliver_ns":20,"msg":{"Ready":{"sender":1,"value":[76,73,69]}}}
{"i":4,"t_ns":11,"kind":"send","from":1,"to":2,"deliver_ns":30,"msg":{"Write":{"token":7,"seq":1,"value":99}}}
{"i":5,"t_ns":20,"kind":"hold","from":1,"to":2}
{"i":6,"t_ns":30,"kind":"hold","from":1,"to":2}
{"i":7,"t_ns":60,"kind":"resume","node":2}
{"i":8,"t_ns":60,"kind":"deliver","from":1,"to":2}
{"i":9,"t_ns":60,"kind":"deliver","from":1,"to":2}
{"i":10,"t_ns":60,"kind":"event","node":2,"event":{"event":"accepted","token":7}}
{"i":11,"t_ns":60,"kind":"violation","seed":3,"checker":"fencing::x","message":"late write","cause":"Accepted"}
"#;
        let m = Model::from_trace("t", trace, None, 0, 100).unwrap();
        let (ready, write) = (&m.msgs[0], &m.msgs[1]);
        assert_eq!(ready.value.as_deref(), Some("\"LIE\""), "printable bytes read as text");
        assert_eq!((write.token, write.value.as_deref()), (Some(7), Some("99")));
        // Held in order at the paused node, handled in order when it resumes.
        assert_eq!((ready.fate.as_str(), ready.handled, ready.di), ("held", Some(60), Some(8)));
        assert_eq!((write.handled, write.di), (Some(60), Some(9)));
        assert_eq!(m.marks.last().map(|k| k.label.as_str()), Some("accepted token 7"));
        // The trace's own violation line, when no report is given.
        let flag = m.violation.as_ref().expect("read from the trace");
        assert_eq!((flag.i, flag.t, flag.seed, flag.checker.as_str()), (11, 60, 3, "fencing::x"));
    }

    #[test]
    fn hand_edited_traces_are_errors_not_panics() {
        let back_in_time = "{\"i\":0,\"t_ns\":100,\"kind\":\"clock\",\"node\":1,\"ppm\":5,\"offset_ns\":9223372036854775000}\n\
                            {\"i\":1,\"t_ns\":50,\"kind\":\"drift\",\"node\":1,\"ppm\":3}\n\
                            {\"i\":2,\"t_ns\":18446744073709551615,\"kind\":\"drift\",\"node\":1,\"ppm\":9}\n";
        assert!(Model::from_trace("t", back_in_time, None, 0, 10).is_ok());
        let huge = "{\"i\":0,\"t_ns\":0,\"kind\":\"clock\",\"node\":4294967295,\"ppm\":0,\"offset_ns\":0}\n";
        assert!(Model::from_trace("t", huge, None, 0, 10).unwrap_err().problem.contains("at most"));
    }
}
