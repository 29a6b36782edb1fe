//! The `palisade` binary as a user meets it: exit statuses, one-line errors, JSON output,
//! replay and shrinking.

use std::process::{Command, Output};

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade")).args(args).output().expect("run palisade")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn unknown_scenario_is_a_one_line_error_listing_the_known_ones() {
    let err = one_line_error(&palisade(&["sim", "no-such-thing"]));
    assert!(err.contains("unknown scenario `no-such-thing`") && err.contains("detector-crash-phi"), "{err}");
}

#[test]
fn bad_arguments_are_one_line_errors_with_status_2() {
    assert!(
        one_line_error(&palisade(&["sim", "detector-crash-phi", "--duration", "5x"]))
            .contains("needs a unit")
    );
    assert!(
        one_line_error(&palisade(&["sim", "detector-crash-phi", "--nemesis", "meteor"]))
            .contains("unknown nemesis")
    );
    assert!(one_line_error(&palisade(&["sim", "detector-crash-phi", "--seeds", "0"])).contains("--seeds"));
    assert!(
        one_line_error(&palisade(&["sim", "detector-crash-phi", "--seeds", "2", "--trace", "x"]))
            .contains("--trace")
    );
    one_line_error(&palisade(&["frobnicate"]));
}

#[test]
fn passing_run_prints_the_json_summary_and_replays_identically() {
    let a = palisade(&["sim", "detector-crash-phi", "--seed", "5", "--json"]);
    assert_eq!(a.status.code(), Some(0));
    let j = json(&a);
    assert_eq!(j["scenario"], "detector-crash-phi");
    assert_eq!(j["seeds"], serde_json::json!([5]));
    assert_eq!(j["violations"], serde_json::json!([]));
    assert!(j["events"].as_u64().unwrap() > 100);
    assert_eq!(j["simulated_ns"], 60_000_000_000u64);
    assert!(j["wall_ns"].as_u64().is_some());
    let b = json(&palisade(&["sim", "detector-crash-phi", "--seed", "5", "--json"]));
    assert_eq!(j["trace_hash"], b["trace_hash"]);
    let c = json(&palisade(&["sim", "detector-crash-phi", "--seed", "6", "--json"]));
    assert_ne!(j["trace_hash"], c["trace_hash"]);
}

#[test]
fn failing_run_reports_the_violation_the_replay_command_and_a_shrunk_schedule() {
    let out = palisade(&["sim", "detector-pause-fixed", "--seed", "3", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let j = json(&out);
    let v = &j["violations"][0];
    assert_eq!(v["seed"], 3);
    assert_eq!(v["checker"], "detector::never_suspects_live");
    assert!(v["event"].as_u64().is_some() && v["time_ns"].as_u64().is_some());
    assert!(v["message"].as_str().unwrap().contains("suspected live node"));
    assert_eq!(j["replay"], "cargo run --release -- sim detector-pause-fixed --seed 3");
    let shrunk = j["shrunk_schedule"].as_array().unwrap();
    assert_eq!(shrunk.len(), 1, "{shrunk:?}");
    assert!(shrunk[0].as_str().unwrap().contains("pause"));
}

#[test]
fn a_sweep_finds_the_failing_seeds() {
    let out = palisade(&["sim", "detector-pause-fixed", "--seeds", "10", "--json", "--no-shrink"]);
    assert_eq!(out.status.code(), Some(1));
    let j = json(&out);
    assert_eq!(j["seeds"].as_array().unwrap().len(), 10);
    let failing: Vec<u64> =
        j["violations"].as_array().unwrap().iter().map(|v| v["seed"].as_u64().unwrap()).collect();
    assert!(!failing.is_empty() && failing.windows(2).all(|w| w[0] < w[1]), "{failing:?}");
    // Turning the nemesis off removes the hazard.
    let calm = palisade(&["sim", "detector-pause-fixed", "--seeds", "10", "--nemesis", "none", "--json"]);
    assert_eq!(calm.status.code(), Some(0), "{}", String::from_utf8_lossy(&calm.stdout));
}

#[test]
fn trace_file_has_one_json_line_per_event() {
    let path = std::env::temp_dir().join(format!("palisade-cli-trace-{}.jsonl", std::process::id()));
    let out = palisade(&[
        "sim",
        "detector-crash-fixed",
        "--seed",
        "2",
        "--json",
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let events = json(&out)["events"].as_u64().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text.lines().count() as u64, events);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["kind"].is_string() && v["t_ns"].is_u64());
    }
}
