//! How the command line ends: exit statuses, one-line errors, standard output that ends
//! quietly when its reader goes away, durations, and the command a replay hint names.
//!
//! | status | meaning |
//! | --- | --- |
//! | 0 | done; every checker held |
//! | 1 | a checker failed (a violation, a non-linearizable history, a failing sweep) |
//! | 2 | bad arguments or bad configuration: nothing was run |
//! | 3 | a runtime failure (a file that cannot be read or written, a port in use, a node not running, nftables refusing), or a check that could not decide within its budget |

use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub use crate::node::{runtime_error, usage_error};

/// Exit status of a run whose checker failed.
pub const FAILED: u8 = 1;

/// A failure of a subcommand: bad arguments (status 2) or something at run time (status 3).
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or configuration.
    Usage(String),
    /// Something failed while running.
    Runtime(String),
}

impl Failure {
    /// Prints the failure as one line and returns its exit status.
    pub fn exit(self) -> ExitCode {
        match self {
            Failure::Usage(msg) => usage_error(msg),
            Failure::Runtime(msg) => runtime_error(msg),
        }
    }
}

impl From<String> for Failure {
    /// Errors from helpers that touch files, processes or sockets are runtime failures.
    fn from(msg: String) -> Self {
        Failure::Runtime(msg)
    }
}

impl From<&str> for Failure {
    fn from(msg: &str) -> Self {
        Failure::Runtime(msg.to_owned())
    }
}

/// Writes `args` to standard output (behind the crate's `outln!` and `out!` macros). A
/// reader that has gone (`palisade ... | head`) ends the process quietly with status 141,
/// as a process killed by SIGPIPE would (so `set -o pipefail` still sees a failure); any
/// other write error is a runtime failure.
pub fn write(args: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE);
        }
        let _ = writeln!(std::io::stderr(), "palisade: cannot write to standard output: {e}");
        std::process::exit(3);
    }
}

/// Exit status when standard output's reader has gone: 128 + SIGPIPE, what a shell reports
/// for a process killed by a broken pipe.
pub const CLOSED_PIPE: i32 = 141;

/// Writes `args` to standard error, ignoring a closed pipe (behind the crate's `errln!`).
pub fn write_err(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Writes `text` to standard output; `false` when its reader has gone (for a loop that
/// must clean up before it ends, such as `cluster up` following its nodes' events).
pub fn try_write(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => false,
        Err(e) => {
            errln!("palisade: cannot write to standard output: {e}");
            false
        }
    }
}

/// Parses a duration: humantime's forms (`1m30s`, `500ms`, `2h 5m`, `10us`) and decimal
/// ones (`1.5s`, `0.25ms`). A bare number is refused: every time argument names its unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(d);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let scale = match unit.trim() {
        "" if !num.is_empty() => return Err(format!("`{s}` needs a unit, e.g. {s}ms or {s}s")),
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("`{s}` is not a duration like 1m30s, 500ms or 1.5s")),
    };
    let value: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration like 1m30s, 500ms or 1.5s"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("`{s}` is out of range"))
}

/// Formats a duration the way [`parse_duration`] reads it back (`1500ms`, `60s`, `2m`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string().replace(' ', "")
}

/// The command that runs this binary again, for replay hints: under cargo, `cargo run
/// --release --` (or `cargo run --release --example NAME --` for an example); else the
/// program name it was started by (`palisade`, `target/release/palisade`).
pub fn invocation() -> String {
    let exe = std::env::current_exe().ok();
    if std::env::var_os("CARGO").is_some() && std::env::var_os("CARGO_PKG_NAME").is_some() {
        let example = exe.as_ref().and_then(|p| {
            let parent = p.parent()?.file_name()?;
            (parent == "examples").then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))?
        });
        return match example {
            Some(name) => format!("cargo run --release --example {name} --"),
            None => "cargo run --release --".into(),
        };
    }
    std::env::args_os()
        .next()
        .map(|a| quote(&a.to_string_lossy()))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "palisade".into())
}

/// `arg` as a POSIX shell word: unchanged if it is plain, else in single quotes.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain { arg.to_owned() } else { format!("'{}'", arg.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_humantime_and_decimal_forms_and_refuse_bare_numbers() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h 5m"), Ok(Duration::from_secs(7500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.25ms"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert!(parse_duration("500").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("five s").is_err());
        assert!(parse_duration("1e400s").is_err());
    }

    #[test]
    fn replay_arguments_are_quoted_for_the_shell() {
        assert_eq!(quote("pause=6,partition"), "pause=6,partition");
        assert_eq!(quote("pause=6, partition"), "'pause=6, partition'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn formatted_durations_read_back() {
        for d in [
            Duration::from_millis(1500),
            Duration::from_secs(60),
            Duration::from_secs(5400),
            Duration::from_nanos(7),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{}", format_duration(d));
        }
    }
}
