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

/// A failure at run time: status 3 and one line.
fn runtime_failure(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// An error clap renders: status 2, the problem on the first line (`error: ...`), then what
/// clap adds (a suggestion, the usage, where help is). Returns the first line.
fn clap_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let first = err.lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with("error: "), "{err}");
    assert!(err.contains("--help"), "clap's rendering, pointing at the help: {err}");
    first
}

#[test]
fn an_unknown_scenario_gets_the_nearest_name_and_the_list_command() {
    let first = clap_error(&palisade(&["sim", "unfencd"]));
    assert!(first.contains("no scenario `unfencd`: did you mean `unfenced`?"), "{first}");
    assert!(first.contains("palisade sim --list"), "{first}");
    let first = clap_error(&palisade(&["sim", "no-such-thing"]));
    assert!(!first.contains("did you mean") && first.contains("palisade sim --list"), "{first}");
    // The list: every scenario, one line each with its description.
    let list = palisade(&["sim", "--list"]);
    assert_eq!(list.status.code(), Some(0));
    let text = String::from_utf8_lossy(&list.stdout);
    let line = text.lines().find(|l| l.starts_with("unfenced ")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.split_whitespace().count() > 4, "a description: {line}");
}

#[test]
fn a_mistyped_subcommand_keeps_clap_suggestion() {
    let out = palisade(&["simm"]);
    let first = clap_error(&out);
    assert!(first.contains("unrecognized subcommand 'simm'"), "{first}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("a similar subcommand exists: 'sim'"), "{out:?}");
    let first = clap_error(&palisade(&["sim"]));
    assert!(first.contains("required arguments were not provided"), "{first}");
}

#[test]
fn bad_arguments_exit_2_and_name_the_problem_on_the_first_line() {
    assert!(clap_error(&palisade(&["sim", "detector-crash-phi", "--duration", "5x"])).contains("`5x`"));
    assert!(
        clap_error(&palisade(&["sim", "detector-crash-phi", "--duration", "500"])).contains("needs a unit")
    );
    assert!(
        one_line_error(&palisade(&["sim", "detector-crash-phi", "--nemesis", "meteor"]))
            .contains("unknown nemesis")
    );
    assert!(clap_error(&palisade(&["sim", "detector-crash-phi", "--seeds", "0"])).contains("--seeds"));
    assert!(
        one_line_error(&palisade(&["sim", "detector-crash-phi", "--seeds", "2", "--trace", "x"]))
            .contains("--trace")
    );
    clap_error(&palisade(&["frobnicate"]));
}

#[test]
fn durations_take_humantime_forms() {
    let out = palisade(&["sim", "detector-crash-phi", "--duration", "1m30s", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json(&out)["simulated_ns"], 90_000_000_000u64);
}

#[test]
fn runtime_failures_exit_3_with_one_line() {
    let err = runtime_failure(&palisade(&["sim", "detector-crash-phi", "--trace", "/no/such/dir/t.jsonl"]));
    assert!(err.contains("cannot write trace to /no/such/dir/t.jsonl"), "{err}");
    let err = runtime_failure(&palisade(&["check-history", "/no/such/file", "--model", "register"]));
    assert!(err.contains("cannot read /no/such/file"), "{err}");
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    // Megabytes of levels, far past a pipe's buffer, to a reader that takes a few bytes and
    // goes: the writer meets a closed pipe (before, it panicked with status 101).
    let text: String =
        std::iter::once("time_ms\n".to_string()).chain((0..2000).map(|i| format!("{}\n", i * 100))).collect();
    let path = write_csv("pipe", &text);
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["detector", "replay", "--trace", path.to_str().unwrap(), "--sample-every", "1ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 8];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // (The read end is dropped here.)
    let out = child.wait_with_output().unwrap();
    std::fs::remove_file(&path).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    // 141, as for a process killed by SIGPIPE: `set -o pipefail` still sees it.
    assert_eq!(out.status.code(), Some(141), "{err}");
}

#[test]
fn tour_and_keygen_speak_json() {
    let out = palisade(&["tour", "--seeds", "2", "--json"]);
    let tour = json(&out);
    let rows = tour["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 11, "{tour}");
    assert_eq!(rows[0]["seeds"], 2);
    assert!(rows.iter().all(|r| r["with"]["scenario"].is_string() && r["without"]["violating"].is_array()));
    // Two seeds are too few for some hazards to show: the tour says so with status 1.
    assert_eq!(out.status.code(), Some(if tour["ok"] == true { 0 } else { 1 }), "{tour}");
    let dir = std::env::temp_dir().join(format!("palisade-keygen-json-{}", std::process::id()));
    let out = palisade(&["keygen", "--out", dir.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let keys = json(&out);
    assert_eq!(keys["public_key"].as_str().unwrap().len(), 64, "{keys}");
    assert_eq!(
        std::fs::read_to_string(dir.join("node.pub")).unwrap().trim(),
        keys["public_key"].as_str().unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_are_scripts_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = palisade(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("palisade") && script.contains("check-history"), "{shell}: {script}");
    }
    clap_error(&palisade(&["completions", "tcsh"]));
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("trace written to {}", path.display())), "{stderr}");
    let events = json(&out)["events"].as_u64().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text.lines().count() as u64, events);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["kind"].is_string() && v["t_ns"].is_u64());
    }
}

fn write_csv(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("palisade-cli-{name}-{}.csv", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn detector_replay_reports_transitions_qos_and_levels() {
    // Heartbeats every second, a 4 s gap after 10 s, then the node stops at 20 s.
    let mut csv = String::from("time_ms\n");
    for t in (0..=10_000).step_by(1000).chain((14_000..=20_000).step_by(1000)) {
        csv += &format!("{t}\n");
    }
    let path = write_csv("replay", &csv);
    let out = palisade(&[
        "detector",
        "replay",
        "--trace",
        path.to_str().unwrap(),
        "--detector",
        "fixed",
        "--timeout-ms",
        "2500",
        "--crash-at",
        "20.5s",
        "--sample-every",
        "1s",
        "--json",
    ]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = json(&out);
    let node = &j["nodes"][0];
    assert_eq!(node["arrivals"], 18);
    let transitions: Vec<(f64, bool)> = node["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["t_ms"].as_f64().unwrap(), t["suspect"].as_bool().unwrap()))
        .collect();
    assert_eq!(transitions, vec![(12_500.0, true), (14_000.0, false), (22_500.0, true)]);
    assert_eq!(node["qos"]["mistakes"], 1);
    assert!((node["qos"]["detection"]["mean_s"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    let levels = node["levels"].as_array().unwrap();
    assert_eq!(levels[0]["t_ms"], 0.0);
    assert!((levels[12]["level"].as_f64().unwrap() - 0.8).abs() < 1e-9, "{:?}", levels[12]);
}

#[test]
fn detector_replay_rejects_bad_input_with_one_line_naming_the_line() {
    for (name, text, expect) in [
        ("empty", "", "empty file"),
        ("header-only", "time_ms\n", "no arrival times"),
        ("nan", "time_ms\n1\nabc\n", "line 3"),
        ("unsorted", "time_ms\n5\n3\n", "line 3"),
    ] {
        let path = write_csv(name, text);
        let out = palisade(&["detector", "replay", "--trace", path.to_str().unwrap()]);
        std::fs::remove_file(&path).unwrap();
        assert!(one_line_error(&out).contains(expect), "{name}");
    }
    let err = runtime_failure(&palisade(&["detector", "replay", "--trace", "/nonexistent.csv"]));
    assert!(err.contains("cannot read"));
    let path = write_csv("flags", "t\n1\n");
    let err = one_line_error(&palisade(&[
        "detector",
        "replay",
        "--trace",
        path.to_str().unwrap(),
        "--detector",
        "fixed",
        "--threshold",
        "3",
    ]));
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains("--threshold applies to --detector phi"), "{err}");
}

#[test]
fn detector_tune_recommends_the_quietest_threshold_within_the_detection_limit() {
    // 100k arrivals every 1000 ± 20 ms with a 3.5 s gap every 10k: phi's threshold trades
    // detection time against those gaps.
    let mut csv = String::from("time_ms\n");
    let mut t = 0u64;
    for i in 0..100_000u64 {
        t += if i % 10_000 == 9_999 { 3_500 } else { 980 + (i * 7919) % 41 };
        csv += &format!("{t}\n");
    }
    let path = write_csv("tune", &csv);
    let out = palisade(&[
        "detector",
        "tune",
        "--trace",
        path.to_str().unwrap(),
        "--max-detection",
        "2500ms",
        "--acceptable-pause-ms",
        "0",
        "--json",
    ]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = json(&out);
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 32);
    let mistakes: Vec<u64> = rows.iter().map(|r| r["mistakes"].as_u64().unwrap()).collect();
    assert!(
        mistakes.windows(2).all(|w| w[0] >= w[1]),
        "higher thresholds never make more mistakes: {mistakes:?}"
    );
    let detect: Vec<f64> = rows.iter().map(|r| r["mean_detection_ms"].as_f64().unwrap()).collect();
    assert!(detect.windows(2).all(|w| w[0] <= w[1]), "and never detect faster: {detect:?}");
    let pick = j["recommended"].as_f64().unwrap();
    let row = rows.iter().find(|r| r["setting"].as_f64() == Some(pick)).unwrap();
    assert!(row["mean_detection_ms"].as_f64().unwrap() <= 2500.0);
    let quietest_fit = rows
        .iter()
        .filter(|r| r["mean_detection_ms"].as_f64().unwrap() <= 2500.0)
        .map(|r| r["mistakes"].as_u64().unwrap())
        .min();
    assert_eq!(row["mistakes"].as_u64(), quietest_fit);
}

#[test]
fn keygen_writes_a_key_pair_that_signs_and_verifies_and_refuses_to_overwrite() {
    let dir = std::env::temp_dir().join(format!("palisade-keygen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = palisade(&["keygen", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.trim().len()).step_by(2).map(|i| u8::from_str_radix(&s.trim()[i..i + 2], 16).unwrap()).collect()
    };
    let secret: [u8; 32] = unhex(&std::fs::read_to_string(dir.join("node.key")).unwrap()).try_into().unwrap();
    let public = unhex(&std::fs::read_to_string(dir.join("node.pub")).unwrap());
    let key = ed25519_dalek::SigningKey::from_bytes(&secret);
    assert_eq!(key.verifying_key().as_bytes().as_slice(), public.as_slice());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        std::fs::read_to_string(dir.join("node.pub")).unwrap().trim()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("node.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the secret key is private");
    }
    assert!(one_line_error(&palisade(&["keygen", "--out", dir.to_str().unwrap()])).contains("--force"));
    let again = palisade(&["keygen", "--out", dir.to_str().unwrap(), "--force"]);
    assert_eq!(again.status.code(), Some(0));
    assert_ne!(again.stdout, out.stdout, "a fresh key each time");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sim_prints_the_scenario_model_and_counts_the_faults_it_injected() {
    let out = palisade(&["sim", "bracha", "--model"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("partially synchronous") && text.contains("Byzantine, f = 1"), "{text}");
    let v = json(&palisade(&["sim", "register", "--seeds", "3", "--nemesis", "all", "--json"]));
    assert!(v["nemesis_episodes"].as_u64().unwrap() > 0, "{v}");
    assert!(v["nemesis_episodes_by_kind"]["crash"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["model"]["nodes"]["kind"], "crash_recovery");
    assert_eq!(v["outside_model"].as_array().map(Vec::len), Some(0));
    // No nemesis: nothing injected, and the report says so.
    let v = json(&palisade(&["sim", "register", "--nemesis", "none", "--json"]));
    assert_eq!(v["nemesis_episodes"], 0);
}

#[test]
fn a_fault_the_model_does_not_admit_needs_outside_model_and_is_labelled() {
    // A fixed timeout assumes a synchronous network: partitions and loss are beyond it, and
    // pauses longer than its bound.
    let err = one_line_error(&palisade(&["sim", "detector-crash-fixed", "--nemesis", "partition"]));
    assert!(err.contains("does not admit `partition`") && err.contains("--outside-model partition"), "{err}");
    let v = json(&palisade(&["sim", "detector-crash-fixed", "--nemesis", "all", "--seeds", "2", "--json"]));
    let kinds: Vec<&str> =
        v["nemesis_episodes_by_kind"].as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert!(
        kinds.contains(&"pause") && !kinds.contains(&"partition") && !kinds.contains(&"loss"),
        "{kinds:?}"
    );
    assert_eq!(v["violations"].as_array().map(Vec::len), Some(0), "pauses within 100 ms are harmless: {v}");
    let err = one_line_error(&palisade(&["sim", "register", "--outside-model", "loss"]));
    assert!(err.contains("within the scenario's model"), "{err}");
    // Beyond commit wait's model: stepping the time master's reference clock breaks it.
    let v = json(&palisade(&["sim", "commit-wait", "--outside-model", "clock=30", "--seeds", "5", "--json"]));
    assert!(!v["violations"].as_array().unwrap().is_empty(), "{v}");
    let err = one_line_error(&palisade(&["sim", "commit-wait", "--outside-model", "x"]));
    assert!(err.contains("unknown nemesis `x`"), "{err}");
    // The hazard scenario forces pauses beyond its model by default, and says so.
    let v = json(&palisade(&["sim", "detector-pause-fixed", "--json"]));
    assert_eq!(v["outside_model"][0], "pause");
    let out = palisade(&["sim", "lww-hlc", "--outside-model", "clock=30", "--json"]);
    let v = json(&out);
    assert_eq!(v["outside_model"][0], "clock");
    let text = String::from_utf8_lossy(&palisade(&["sim", "lww-hlc", "--outside-model", "clock=30"]).stdout)
        .to_string();
    assert!(text.contains("OUTSIDE THE MODEL"), "{text}");
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn cluster_up_refuses_a_non_empty_directory_it_did_not_make() {
    let dir = temp("foreign");
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    std::fs::write(dir.join("notes.txt"), "keep me").unwrap();
    let d = dir.to_str().unwrap();
    let up = ["cluster", "up", "--nodes", "2", "--protocol", "heartbeat-fixed", "--detach", "--dir", d];
    let err = one_line_error(&palisade(&up));
    assert!(err.contains(d) && err.contains("not made by `palisade cluster up`"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "keep me");
    assert!(dir.join("photos").is_dir());
    assert!(!dir.join(".palisade-cluster").exists());
    // Not a directory at all: refused too.
    let file = dir.join("notes.txt");
    let f = file.to_str().unwrap();
    let err = one_line_error(&palisade(&["cluster", "up", "--nodes", "2", "--protocol", "swim", "--dir", f]));
    assert!(err.contains("not a directory"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cluster_ports_that_would_pass_65535_are_refused() {
    let dir = temp("wrap");
    let d = dir.to_str().unwrap();
    let up = |port: &str, proxy: bool| {
        let mut args = vec!["cluster", "up", "--nodes", "3", "--protocol", "heartbeat-fixed", "--detach"];
        args.extend(["--dir", d, "--port", port]);
        if proxy {
            args.push("--delay-proxy");
        }
        palisade(&args)
    };
    // The proxy's relays use port + 1 and port + 2.
    let err = one_line_error(&up("65534", true));
    assert!(err.contains("--port 65534") && err.contains("65535"), "{err}");
    one_line_error(&up("65535", true));
    assert!(one_line_error(&up("0", false)).contains("--port 0"));
    assert!(!dir.exists(), "nothing created for a refused cluster");
    // The proxy itself checks too.
    let err = one_line_error(&palisade(&["cluster", "proxy", "--dir", d, "--nodes", "3", "--port", "65535"]));
    assert!(err.contains("65535"), "{err}");
    clap_error(&palisade(&["cluster", "proxy", "--dir", d, "--nodes", "300", "--port", "7000"]));
}

#[cfg(unix)]
#[test]
fn keygen_force_writes_the_secret_0600_over_a_looser_file_and_the_node_warns_about_loose_keys() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp("keymode");
    let d = dir.to_str().unwrap();
    assert_eq!(palisade(&["keygen", "--out", d]).status.code(), Some(0));
    let key = dir.join("node.key");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let old = std::fs::read_to_string(&key).unwrap();
    let out = palisade(&["keygen", "--out", d, "--force"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_ne!(std::fs::read_to_string(&key).unwrap(), old, "a new key");
    assert_eq!(mode(&key), 0o600, "the replaced secret is private");
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "only node.key and node.pub: {leftovers:?}");

    // A node loading a key others can read says so, naming the file. (Its data_dir is not
    // a directory, so it stops there with a one-line error.)
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let config = dir.join("n1.toml");
    std::fs::write(
        &config,
        format!(
            "cluster = 1\nid = 1\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\nkey_file = {:?}\nprotocol = \"heartbeat-fixed\"\n",
            dir.join("node.pub/data"),
            key
        ),
    )
    .unwrap();
    let out = palisade(&["node", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let warning = err.lines().find(|l| l.contains("WARN")).unwrap_or_else(|| panic!("no warning: {err}"));
    assert!(
        warning.contains(key.to_str().unwrap()) && warning.contains("readable by group or others"),
        "{err}"
    );
    // At 0600 there is no warning, and the data_dir error (at run time) is the only line.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = runtime_failure(&palisade(&["node", "--config", config.to_str().unwrap()]));
    assert!(
        err.contains("data_dir") && err.contains("node.pub/data") && err.contains("not a writable directory"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_run_as_separate_processes_merge_into_the_one_process_report() {
    let dir = temp("shards");
    std::fs::create_dir_all(&dir).unwrap();
    let sweep = ["sim", "unfenced", "--seeds", "24", "--json"];
    // Three shards at once, one of them finding its index the way a Kubernetes Indexed Job
    // gives it.
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
            cmd.args(sweep);
            if i == 2 {
                cmd.args(["--shard", "3"]).env("JOB_COMPLETION_INDEX", "2");
            } else {
                cmd.args(["--shard", &format!("{i}/3")]);
            }
            cmd.stdout(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut files = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let path = dir.join(format!("shard{i}.json"));
        std::fs::write(&path, &out.stdout).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let mut merge = vec!["sim", "merge", "--json"];
    merge.extend(files.iter().map(String::as_str));
    let merged = palisade(&merge);
    let one = palisade(&sweep);
    assert_eq!(merged.status.code(), one.status.code());
    let (mut merged, mut one) = (json(&merged), json(&one));
    // Everything but the wall time: seeds, violations, the first failure's shrink and
    // replay, event and fault counts.
    merged.as_object_mut().unwrap().remove("wall_ns");
    one.as_object_mut().unwrap().remove("wall_ns");
    assert_eq!(merged, one);
    assert!(!one["violations"].as_array().unwrap().is_empty() && one["shrunk_schedule"].is_array());
    // A shard given twice is refused.
    let twice = palisade(&["sim", "merge", &files[0], &files[0]]);
    assert!(one_line_error(&twice).contains("given twice"));
    std::fs::remove_dir_all(&dir).unwrap();
}
