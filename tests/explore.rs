//! `palisade explore` as a user meets it: the textbook ABD bug found exhaustively with a
//! short counterexample, drawn and exported; the correct register explored without one;
//! bad arguments refused.

use std::process::{Command, Output};

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade")).args(args).output().expect("run palisade")
}

#[test]
fn the_explorer_finds_the_missing_write_back_in_a_short_counterexample() {
    let dir = std::env::temp_dir().join(format!("palisade-explore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (html, trace) = (dir.join("cex.html"), dir.join("cex.jsonl"));
    let out = palisade(&[
        "explore",
        "abd-no-write-back",
        "--json",
        "--html",
        html.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["violation"]["checker"], "abd::linearizable", "{json}");
    let steps = json["violation"]["steps"].as_array().unwrap();
    // The initial state, then at most a dozen steps (breadth-first: the shortest path).
    assert!(steps.len() <= 13, "{} steps: {json}", steps.len());
    assert!(steps.iter().any(|s| s["what"].as_str().unwrap().contains("Read")), "{json}");
    // The trace is the simulator's format, and the diagram draws it.
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.lines().any(|l| l.contains("\"kind\":\"deliver\"")), "{text}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("abd::linearizable"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_correct_register_shows_no_violation_within_a_bound_and_says_it_was_cut_short() {
    let out = palisade(&["explore", "abd", "--max-states", "20000", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["violation"], serde_json::Value::Null);
    assert_eq!(json["states"], 20000);
    assert_eq!(json["complete"], false, "a bounded search must not claim to be exhaustive");
}

#[test]
fn bad_explore_arguments_are_one_line_errors() {
    let out = palisade(&["explore", "no-such-model"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("abd-no-write-back") && err.trim_end().lines().count() == 1, "{err}");
    let out = palisade(&["explore", "abd", "--bfs", "--dfs"]);
    assert_eq!(out.status.code(), Some(2));
}
