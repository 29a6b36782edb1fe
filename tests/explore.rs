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
    let (html, trace, sim_trace) = (dir.join("cex.html"), dir.join("cex.jsonl"), dir.join("sim.jsonl"));
    let out = palisade(&[
        "explore",
        "abd-no-write-back",
        "--json",
        "--html",
        html.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--sim-trace",
        sim_trace.to_str().unwrap(),
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
    // Replayed in the timed simulator, with the `abd` scenario's checkers: the same
    // violation at the path's last step, in true time, in a trace the diagram draws.
    let last_at = steps.last().unwrap()["at_ns"].as_u64().unwrap();
    let sim = &json["simulator"];
    assert_eq!(sim["violation"]["checker"], "abd::linearizable", "{json}");
    assert_eq!(sim["violation"]["cause"], "end of run", "the scenario judges its history at the end: {json}");
    assert_eq!(sim["violation"]["time_ns"].as_u64(), Some(last_at), "{json}");
    assert_eq!(
        (&sim["model"]["checker"], sim["model"]["step"].as_u64()),
        (&json["violation"]["checker"], Some(steps.len() as u64 - 1)),
        "{json}"
    );
    let text = std::fs::read_to_string(&sim_trace).unwrap();
    let times: Vec<u64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["t_ns"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]) && times.last() == Some(&last_at), "{text}");
    assert!(text.lines().any(|l| l.contains("\"kind\":\"violation\"")), "{text}");
    let page = dir.join("sim.html");
    let drawn = palisade(&["diagram", sim_trace.to_str().unwrap(), "--out", page.to_str().unwrap()]);
    assert_eq!(drawn.status.code(), Some(0), "{drawn:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_correct_register_is_exhausted_clean_and_a_bound_is_reported_as_one() {
    // 3 replicas, a writer and a reader of 2 operations each: every interleaving.
    let out = palisade(&["explore", "abd", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["violation"], serde_json::Value::Null);
    assert_eq!(json["complete"], true, "{json}");
    assert_eq!(json["states"], 19147, "{json}");
    assert_eq!(json["symmetric"], serde_json::json!([]), "writer, reader and replica differ: {json}");
    let out = palisade(&["explore", "abd", "--max-states", "2000", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["states"], 2000);
    assert_eq!(json["complete"], false, "a bounded search must not claim to be exhaustive");
}

/// Bracha (n = 4, f = 1) is too large to exhaust: `explore bracha-correct` searches it depth-first
/// within its own bound unless told otherwise, runs paths to their end (some sixty
/// deliveries) and says the search was cut, not exhausted.
#[test]
fn bracha_is_searched_depth_first_and_reported_as_cut() {
    let list = palisade(&["explore", "--list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("bracha-correct ") && l.contains("cut at a million states")),
        "{text}"
    );
    let out = palisade(&["explore", "bracha-correct", "--max-states", "3000", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&json["mode"], &json["states"], &json["complete"]),
        (&"dfs".into(), &3000.into(), &false.into())
    );
    assert!(json["max_depth"].as_u64().unwrap() >= 50, "paths end after every delivery: {json}");
    assert_eq!(json["violation"], serde_json::Value::Null, "{json}");
    let out = palisade(&["explore", "bracha-correct", "--bfs", "--max-states", "3000", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&json["mode"], &json["complete"]), (&"bfs".into(), &false.into()), "{json}");
    assert!(json["max_depth"].as_u64().unwrap() < 10, "{json}");
}

/// Forgetting obsolete messages merges states without losing behaviour: the shortest
/// counterexample is as short with it as without it, over far fewer states.
#[test]
fn forgetting_obsolete_messages_keeps_the_shortest_counterexample() {
    use palisade::scenarios::abd::explorer_setup;
    use palisade_sim::explore::{Options, explore};
    let with = explore(&explorer_setup(false), &Options::default(), |_| {});
    let mut setup = explorer_setup(false);
    setup.obsolete = None;
    let without = explore(&setup, &Options::default(), |_| {});
    let (a, b) = (with.counterexample.unwrap(), without.counterexample.unwrap());
    assert_eq!(a.steps.len(), b.steps.len(), "{:?}\n{:?}", a.steps, b.steps);
    assert_eq!(a.violation.checker, b.violation.checker);
    assert!(with.states * 2 < without.states, "{} vs {} states", with.states, without.states);
    // The counterexample found keeping every message replays in the simulator too (the
    // replay must keep them as well: it checks the path against the model it is given).
    let out = palisade(&["explore", "abd-no-write-back", "--keep-obsolete", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["simulator"]["violation"]["checker"], "abd::linearizable", "{json}");
}

#[test]
fn bad_explore_arguments_are_one_line_errors() {
    let out = palisade(&["explore", "abd-no-writeback"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("did you mean `abd-no-write-back`?") && first.contains("explore --list"), "{err}");
    let out = palisade(&["explore", "abd", "--bfs", "--dfs"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `palisade sim NAME --scheduler pct`: one PCT path per seed through the scenario's sampled
/// model (for ABD, the explored one with 32 operations per client).
#[test]
fn pct_paths_find_the_missing_write_back_and_not_a_bug_in_the_correct_register() {
    const PCT: [&str; 9] =
        ["sim", "abd-no-write-back", "--scheduler", "pct", "--depth", "3", "--seeds", "300", "--json"];
    let out = palisade(&PCT);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["scheduler"], "pct");
    assert_eq!(json["depth"], 3);
    let found = json["violating_seeds"].as_u64().unwrap();
    assert!(found >= 3, "{json}");
    assert_eq!(json["violations"][0]["checker"], "abd::linearizable", "{json}");
    assert_eq!(json["first_replayed_in_simulator"]["violation"]["checker"], "abd::linearizable", "{json}");
    // The same seeds, the same verdicts.
    let again = palisade(&PCT);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["violations"], again["violations"]);
    let ok = palisade(&["sim", "abd", "--scheduler", "pct", "--seeds", "200"]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(text.contains("200 seed(s) (pct, depth 3), 0 violating"), "{text}");
}

#[test]
fn scheduler_arguments_that_make_no_sense_are_one_line_errors() {
    for (args, needle) in [
        (&["sim", "register", "--scheduler", "pct"][..], "has none"),
        (
            &["sim", "abd", "--scheduler", "pct", "--nemesis", "all"][..],
            "--nemesis belongs to the timed simulator",
        ),
        (&["sim", "abd", "--scheduler", "random", "--depth", "2"][..], "--depth is PCT's bug depth"),
        (&["sim", "abd", "--depth", "2"][..], "--depth is PCT's bug depth"),
        (&["sim", "abd", "--scheduler", "pct", "--depth", "0"][..], "0"),
    ] {
        let out = palisade(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// Time as bounded nondeterminism: with clocks 30% fast or slow, a lease budgeted for 1%
/// drift is broken (a slow holder still trusts a lease the fast grantor has given away), and
/// the same model with the lease budgeted for 30% is exhausted clean.
#[test]
fn the_explorer_breaks_an_underestimated_drift_bound_and_exhausts_the_right_one() {
    let out = palisade(&["explore", "drift-violation", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["violation"]["checker"], "lease::single_holder", "{json}");
    let steps = json["violation"]["steps"].as_array().unwrap();
    let first = steps[0]["what"].as_str().unwrap();
    assert!(first.contains("n1 +300000 ppm"), "the grantor's clock runs fast: {first}");
    // The timed simulator, its clocks at the same rates, fires the timers at the same true
    // times and its lease checkers see two holders at the same step.
    assert_eq!(json["simulator"]["violation"]["checker"], "lease::single_holder", "{json}");
    assert_eq!(json["simulator"]["violation"]["time_ns"], steps.last().unwrap()["at_ns"], "{json}");
    let out = palisade(&["explore", "drift-bounded", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["complete"], true, "{json}");
    assert_eq!(json["states"], 1_061_338, "{json}");
    assert_eq!(json["symmetric"], serde_json::json!([3, 4]), "the two clients are interchangeable: {json}");
    let out = palisade(&["explore", "drift-violation", "--no-symmetry", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["states"].as_u64(), &json["symmetric"]),
        (Some(12_059), &serde_json::json!([])),
        "{json}"
    );
}
