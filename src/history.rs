//! Reading histories from the formats people have: palisade's JSON lines, Jepsen's log
//! lines, and Jepsen's EDN history maps. The checker itself is
//! [`palisade_core::history`].
//!
//! - **JSON lines** (palisade's own): one object per line,
//!   `{"process": 1, "type": "invoke"|"ok"|"fail"|"info", "f": "write", "key": "k",
//!   "value": 3, "time_ns": 1500}`. `key` and `time_ns` may be left out (then the line
//!   order is the time order); values are `null`, integers, strings or arrays of them.
//! - **Jepsen log lines**: `INFO  jepsen.util - 2 :invoke :write 4` (process, type,
//!   function, value, separated by tabs); other log lines are skipped.
//! - **EDN maps**: `{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}`,
//!   one per line.
//!
//! In every format, events of the `:nemesis` process are skipped: they are faults, not
//! client operations.

use palisade_core::history::{Event, EventKind, Value};
use std::fmt;

/// A history file format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// palisade's JSON lines.
    Jsonl,
    /// Jepsen's log lines.
    JepsenLog,
    /// Jepsen's EDN history maps, one per line.
    Edn,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::JepsenLog => "jepsen-log",
            Format::Edn => "edn",
        }
    }

    /// The format called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Format::Jsonl, Format::JepsenLog, Format::Edn].into_iter().find(|f| f.name() == name)
    }

    /// Guesses the format from the first line that is not blank.
    pub fn guess(text: &str) -> Option<Self> {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        if line.starts_with("{\"") || line == "{}" {
            Some(Format::Jsonl)
        } else if line.starts_with("{:") {
            Some(Format::Edn)
        } else if text.lines().any(|l| l.contains("jepsen.util - ")) {
            Some(Format::JepsenLog)
        } else {
            None
        }
    }
}

/// A line that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Its number, from 1.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for ParseError {}

/// Reads every event of `text` in `format`.
pub fn parse(text: &str, format: Format) -> Result<Vec<Event>, ParseError> {
    let mut events = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let err = |problem: String| ParseError { line: line_no, problem };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let event = match format {
            Format::Jsonl => jsonl_line(trimmed, line_no).map_err(err)?,
            Format::JepsenLog => match line.split_once("jepsen.util - ") {
                Some((_, rest)) => jepsen_line(rest, line_no).map_err(err)?,
                None => continue,
            },
            Format::Edn => edn_line(trimmed, line_no).map_err(err)?,
        };
        if let Some(e) = event {
            events.push(e);
        }
    }
    Ok(events)
}

/// Writes `events` as palisade's JSON lines, one object per event, with `time_ns` from each
/// event's time (and `key` only when there is one): what [`parse`] reads back with
/// [`Format::Jsonl`] and `palisade check-history` checks.
pub fn to_jsonl(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let mut line = serde_json::json!({
            "process": e.process,
            "type": e.kind.name(),
            "f": e.f,
            "value": e.value,
            "time_ns": e.time,
        });
        if let (Some(key), Some(obj)) = (&e.key, line.as_object_mut()) {
            obj.insert("key".into(), serde_json::Value::String(key.clone()));
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEvent {
    process: serde_json::Value,
    #[serde(rename = "type")]
    kind: String,
    f: String,
    #[serde(default)]
    key: Option<serde_json::Value>,
    #[serde(default)]
    value: serde_json::Value,
    #[serde(default)]
    time_ns: Option<u64>,
}

fn json_value(v: &serde_json::Value) -> Result<Value, String> {
    Ok(match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Number(n) => {
            Value::Int(n.as_i64().ok_or_else(|| format!("{n} is not a 64-bit integer"))?)
        }
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(json_value).collect::<Result<_, _>>()?),
        serde_json::Value::Bool(b) => Value::Str(b.to_string()),
        serde_json::Value::Object(_) => return Err("objects are not values".into()),
    })
}

fn jsonl_line(line: &str, n: usize) -> Result<Option<Event>, String> {
    let e: JsonEvent = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let process = match &e.process {
        serde_json::Value::Number(p) => p.as_u64().ok_or("process must be a non-negative integer")?,
        serde_json::Value::String(s) if s == "nemesis" => return Ok(None),
        other => return Err(format!("process must be a non-negative integer, got {other}")),
    };
    let kind = EventKind::parse(&e.kind)
        .ok_or_else(|| format!("type `{}` is not invoke, ok, fail or info", e.kind))?;
    let key = match e.key {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    };
    Ok(Some(Event {
        process,
        kind,
        f: e.f,
        key,
        value: json_value(&e.value)?,
        time: e.time_ns.unwrap_or(n as u64),
        line: n,
    }))
}

fn jepsen_line(rest: &str, n: usize) -> Result<Option<Event>, String> {
    let fields: Vec<&str> = rest.split('\t').map(str::trim).collect();
    let [process, kind, f, value @ ..] = fields.as_slice() else {
        return Err("expected process, type, function and value separated by tabs".into());
    };
    if *process == ":nemesis" {
        return Ok(None);
    }
    let process: u64 = process.parse().map_err(|_| format!("process `{process}` is not a number"))?;
    let kind =
        EventKind::parse(kind).ok_or_else(|| format!("type `{kind}` is not :invoke, :ok, :fail or :info"))?;
    let text = value.join("\t");
    let value = if text.is_empty() { Value::Nil } else { Edn::reader(&text).whole()?.into_value()? };
    Ok(Some(Event {
        process,
        kind,
        f: f.trim_start_matches(':').to_string(),
        key: None,
        value,
        time: n as u64,
        line: n,
    }))
}

fn edn_line(line: &str, n: usize) -> Result<Option<Event>, String> {
    let Edn::Map(entries) = Edn::reader(line).whole()? else {
        return Err("expected a map like {:process 0, :type :invoke, :f :read, :value nil}".into());
    };
    let get =
        |k: &str| entries.iter().find(|(key, _)| matches!(key, Edn::Keyword(s) if s == k)).map(|(_, v)| v);
    let process = match get("process") {
        Some(Edn::Int(p)) if *p >= 0 => *p as u64,
        Some(Edn::Keyword(k)) if k == "nemesis" => return Ok(None),
        other => return Err(format!("`:process` must be a non-negative integer, got {other:?}")),
    };
    let kind = match get("type") {
        Some(Edn::Keyword(k)) => EventKind::parse(k),
        _ => None,
    }
    .ok_or("`:type` must be :invoke, :ok, :fail or :info")?;
    let f = match get("f") {
        Some(Edn::Keyword(k) | Edn::Str(k)) => k.clone(),
        _ => return Err("`:f` must be a keyword".into()),
    };
    let key = match get("key") {
        None | Some(Edn::Nil) => None,
        Some(Edn::Str(s) | Edn::Keyword(s)) => Some(s.clone()),
        Some(Edn::Int(i)) => Some(i.to_string()),
        Some(other) => return Err(format!("`:key` must be a string or number, got {other:?}")),
    };
    let value = get("value").cloned().unwrap_or(Edn::Nil).into_value()?;
    Ok(Some(Event { process, kind, f, key, value, time: n as u64, line: n }))
}

/// The part of EDN histories use: nil, booleans, integers, strings, keywords, vectors,
/// lists and maps.
#[derive(Clone, Debug, PartialEq)]
enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    Keyword(String),
    Vector(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

/// How deep vectors and maps may nest in one line: enough for any history, and a bound on
/// the recursion a hostile file can cause.
const MAX_DEPTH: usize = 32;

struct EdnReader<'a> {
    rest: &'a str,
}

impl Edn {
    fn reader(text: &str) -> EdnReader<'_> {
        EdnReader { rest: text }
    }

    fn into_value(self) -> Result<Value, String> {
        Ok(match self {
            Edn::Nil => Value::Nil,
            Edn::Bool(b) => Value::Str(b.to_string()),
            Edn::Int(i) => Value::Int(i),
            Edn::Str(s) | Edn::Keyword(s) => Value::Str(s),
            Edn::Vector(v) => Value::List(v.into_iter().map(Edn::into_value).collect::<Result<_, _>>()?),
            Edn::Map(_) => return Err("maps are not values".into()),
        })
    }
}

impl EdnReader<'_> {
    /// Reads one form that must be all of the text.
    fn whole(mut self) -> Result<Edn, String> {
        let form = self.form(0)?;
        self.skip_space();
        if !self.rest.is_empty() {
            return Err(format!(
                "unexpected `{}` after the value",
                self.rest.chars().take(20).collect::<String>()
            ));
        }
        Ok(form)
    }

    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    }

    fn form(&mut self, depth: usize) -> Result<Edn, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        self.skip_space();
        let mut chars = self.rest.chars();
        match chars.next() {
            None => Err("unexpected end of line".into()),
            Some('[') | Some('(') => {
                let close = if self.rest.starts_with('[') { ']' } else { ')' };
                self.rest = &self.rest[1..];
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    if let Some(r) = self.rest.strip_prefix(close) {
                        self.rest = r;
                        return Ok(Edn::Vector(items));
                    }
                    items.push(self.form(depth + 1)?);
                }
            }
            Some('{') => {
                self.rest = &self.rest[1..];
                let mut entries = Vec::new();
                loop {
                    self.skip_space();
                    if let Some(r) = self.rest.strip_prefix('}') {
                        self.rest = r;
                        return Ok(Edn::Map(entries));
                    }
                    let k = self.form(depth + 1)?;
                    let v = self.form(depth + 1)?;
                    entries.push((k, v));
                }
            }
            Some('"') => {
                let mut out = String::new();
                let mut escaped = false;
                for (i, c) in self.rest.char_indices().skip(1) {
                    if escaped {
                        out.push(match c {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        self.rest = &self.rest[i + 1..];
                        return Ok(Edn::Str(out));
                    } else {
                        out.push(c);
                    }
                }
                Err("unterminated string".into())
            }
            Some(_) => {
                let end = self
                    .rest
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, ',' | ']' | ')' | '}' | '[' | '(' | '{' | '"')
                    })
                    .unwrap_or(self.rest.len());
                let (token, rest) = self.rest.split_at(end);
                self.rest = rest;
                match token {
                    "nil" => Ok(Edn::Nil),
                    "true" => Ok(Edn::Bool(true)),
                    "false" => Ok(Edn::Bool(false)),
                    _ if token.starts_with(':') && token.len() > 1 => {
                        Ok(Edn::Keyword(token[1..].to_string()))
                    }
                    _ => token
                        .parse()
                        .map(Edn::Int)
                        .map_err(|_| format!("`{token}` is not nil, an integer, a string or a keyword")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_reads_the_same_event() {
        let jsonl = r#"{"process": 3, "type": "ok", "f": "cas", "value": [1, 4], "time_ns": 7}"#;
        let log = "INFO  jepsen.util - 3\t:ok\t:cas\t[1 4]";
        let edn = "{:process 3, :type :ok, :f :cas, :value [1 4]}";
        for (text, format) in [(jsonl, Format::Jsonl), (log, Format::JepsenLog), (edn, Format::Edn)] {
            assert_eq!(Format::guess(text), Some(format));
            let events = parse(text, format).unwrap();
            assert_eq!(events.len(), 1, "{format:?}");
            let e = &events[0];
            assert_eq!((e.process, e.kind, e.f.as_str()), (3, EventKind::Ok, "cas"));
            assert_eq!(e.value, Value::List(vec![Value::Int(1), Value::Int(4)]));
        }
    }

    #[test]
    fn json_lines_written_read_back_the_same() {
        let jsonl = concat!(
            r#"{"process": 4294967297, "type": "invoke", "f": "write", "value": 5, "time_ns": 10}"#,
            "\n",
            r#"{"process": 8589934593, "type": "invoke", "f": "read", "value": null, "time_ns": 11}"#,
            "\n",
            r#"{"process": 4294967297, "type": "ok", "f": "write", "value": 5, "time_ns": 12}"#,
            "\n",
            r#"{"process": 8589934593, "type": "fail", "f": "cas", "key": "k", "value": [1, "x"], "time_ns": 13}"#,
        );
        let events = parse(jsonl, Format::Jsonl).unwrap();
        let written = to_jsonl(&events);
        assert_eq!(written.lines().count(), 4);
        let again = parse(&written, Format::Jsonl).unwrap();
        // Line numbers are where each event was read; everything else survives.
        let strip = |es: Vec<Event>| es.into_iter().map(|e| Event { line: 0, ..e }).collect::<Vec<_>>();
        assert_eq!(strip(again), strip(events));
        assert!(written.contains(r#""time_ns":10"#) && written.contains(r#""type":"invoke""#), "{written}");
    }

    #[test]
    fn nemesis_events_and_other_log_lines_are_skipped() {
        let log = "INFO  jepsen.core - Running test\nINFO  jepsen.util - :nemesis\t:info\t:start\tnil\n";
        assert_eq!(parse(log, Format::JepsenLog).unwrap(), vec![]);
        let edn = "{:process :nemesis, :type :info, :f :start, :value nil}";
        assert_eq!(parse(edn, Format::Edn).unwrap(), vec![]);
    }

    #[test]
    fn bad_lines_name_the_line_and_the_problem() {
        let e =
            parse("{\"process\": 1, \"type\": \"ok\", \"f\": \"read\"}\n{\"process\": -1}", Format::Jsonl)
                .unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("{:process 0, :type :sometimes, :f :read}", Format::Edn).unwrap_err();
        assert!(e.problem.contains(":type"), "{e}");
        let e = parse("{:process 0, :type :ok, :f :read, :value \"open", Format::Edn).unwrap_err();
        assert!(e.problem.contains("unterminated"), "{e}");
        let deep = format!("{{:process 0, :type :ok, :f :read, :value {}}}", "[".repeat(10_000));
        assert!(parse(&deep, Format::Edn).unwrap_err().problem.contains("nested deeper"));
        let e = parse("{\"process\": 1, \"type\": \"ok\", \"f\": \"read\", \"value\": 1.5}", Format::Jsonl)
            .unwrap_err();
        assert!(e.problem.contains("64-bit integer"), "{e}");
    }
}
