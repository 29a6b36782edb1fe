//! `palisade check-history` against real Jepsen histories with known verdicts, and against
//! histories written here to fail in one known way; exit statuses and JSON as a user sees
//! them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade")).args(args).output().expect("run palisade")
}

fn data(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/histories").join(dir)
}

fn verdicts(dir: &str) -> Vec<(PathBuf, bool)> {
    let text = std::fs::read_to_string(data(dir).join("VERDICTS")).expect("VERDICTS");
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(file, verdict)| (data(dir).join(file), verdict.trim() == "linearizable"))
        .collect()
}

fn check(file: &Path, model: &str) -> (Option<i32>, serde_json::Value) {
    let out = palisade(&["check-history", file.to_str().unwrap(), "--model", model, "--json"]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {} {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code(), json)
}

#[test]
fn agrees_with_every_known_verdict() {
    let mut checked = 0;
    for (dir, model) in [("etcd", "cas-register"), ("kv", "kv")] {
        for (file, linearizable) in verdicts(dir) {
            let (code, json) = check(&file, model);
            assert_eq!(json["linearizable"], linearizable, "{}: {json}", file.display());
            assert_eq!(code, Some(if linearizable { 0 } else { 1 }), "{}", file.display());
            assert!(json["operations"].as_u64().unwrap() > 30, "{json}");
            if !linearizable {
                // The witness is small and shows outcomes the clients saw.
                let w = &json["witness"];
                assert_eq!(w["minimal"], true, "{}: {w}", file.display());
                let definite = w["definite"].as_array().unwrap();
                assert!((1..=6).contains(&definite.len()), "{}: {w}", file.display());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

fn write_history(name: &str, lines: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-lin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

#[test]
fn a_stale_read_in_json_lines_is_caught_and_shrunk_to_its_cause() {
    // Process 1 writes 1 then 2; process 2, strictly after both, reads 1. Process 3 does
    // unrelated, concurrent work that the witness must leave out.
    let path = write_history(
        "stale.jsonl",
        &[
            r#"{"process": 1, "type": "invoke", "f": "write", "value": 1, "time_ns": 10}"#,
            r#"{"process": 3, "type": "invoke", "f": "read", "value": null, "time_ns": 11}"#,
            r#"{"process": 1, "type": "ok", "f": "write", "value": 1, "time_ns": 20}"#,
            r#"{"process": 3, "type": "ok", "f": "read", "value": 1, "time_ns": 25}"#,
            r#"{"process": 1, "type": "invoke", "f": "write", "value": 2, "time_ns": 30}"#,
            r#"{"process": 1, "type": "ok", "f": "write", "value": 2, "time_ns": 40}"#,
            r#"{"process": 2, "type": "invoke", "f": "read", "value": null, "time_ns": 50}"#,
            r#"{"process": 2, "type": "ok", "f": "read", "value": 1, "time_ns": 60}"#,
        ],
    );
    let (code, json) = check(&path, "register");
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["linearizable"], false);
    let lines = |part: &str| -> Vec<u64> {
        json["witness"][part].as_array().unwrap().iter().map(|o| o["invoke_line"].as_u64().unwrap()).collect()
    };
    // Write 2 and the stale read, as seen; write 1 only needs to have happened (or not)
    // within its window, which ended before write 2 began. Process 3's read is irrelevant.
    assert_eq!(lines("definite"), vec![5, 7], "{json}");
    assert_eq!(lines("unknown"), vec![1], "{json}");
    // The same with the stale read made unknown (a timeout) is linearizable.
    let mut text = std::fs::read_to_string(&path).unwrap().replace(
        r#"{"process": 2, "type": "ok", "f": "read", "value": 1, "time_ns": 60}"#,
        r#"{"process": 2, "type": "info", "f": "read", "value": null, "time_ns": 60}"#,
    );
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    assert_eq!(check(&path, "register").0, Some(0));
}

#[test]
fn a_lease_granted_twice_at_once_is_caught() {
    let path = write_history(
        "lease.jsonl",
        &[
            r#"{"process": 1, "type": "invoke", "f": "acquire", "value": null}"#,
            r#"{"process": 1, "type": "ok", "f": "acquire", "value": 7}"#,
            r#"{"process": 2, "type": "invoke", "f": "acquire", "value": null}"#,
            r#"{"process": 2, "type": "ok", "f": "acquire", "value": 8}"#,
        ],
    );
    assert_eq!(check(&path, "lease").0, Some(1));
}

#[test]
fn bad_input_is_a_one_line_error_with_status_2() {
    let cases: [(&[&str], &str, &str); 5] = [
        (&[r#"{"process": 1, "type": "ok", "f": "read", "value": 1}"#], "register", "no invocation"),
        (
            &[r#"{"process": 1, "type": "invoke", "f": "cas", "value": 1}"#],
            "cas-register",
            "cas [expected new]",
        ),
        (&["not a history"], "register", "cannot tell the format"),
        (&[r#"{"process": 1, "type": "invoke", "f": "read"}"#], "sharded-log", "unknown model"),
        (&[r#"{"process": 1, "type": "maybe", "f": "read"}"#], "register", "line 1"),
    ];
    for (i, (lines, model, expect)) in cases.iter().enumerate() {
        let path = write_history(&format!("bad{i}.jsonl"), lines);
        let out = palisade(&["check-history", path.to_str().unwrap(), "--model", model]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(expect), "{expect}: {err}");
    }
    // A file that cannot be read is a runtime failure, not a usage error.
    let out = palisade(&["check-history", "/no/such/file", "--model", "register"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_search_that_runs_out_of_budget_says_so_with_status_3() {
    let file = data("etcd").join("etcd_002.log");
    let out = palisade(&[
        "check-history",
        file.to_str().unwrap(),
        "--model",
        "cas-register",
        "--max-steps",
        "100",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decided"], false);
}
