//! A protocol of the user's own (examples/own_node.rs) runs as real node processes through
//! `palisade::node::run`: its `[protocol]` table configures it, keys come from
//! `palisade keygen`, events arrive as JSON, its durable state survives a SIGKILL, SIGTERM
//! stops it with status 0, and bad arguments or configuration exit 2 with one line.

mod common;

use common::{Cluster, events, example, num};
use std::process::Command;
use std::time::Duration;

fn beacons(name: &str) -> Cluster {
    Cluster::new(name, 2, |_, _| "cluster = 9\n\n[protocol]\ninterval_ms = 100\n".to_string())
        .running(example("own_node"), &[])
}

/// The highest beacon number `to` has heard from `from`.
fn heard(c: &Cluster, to: u64, from: u64) -> u64 {
    events(&c.seen(), to, "heard")
        .filter(|s| num(&s.v, "from") == from)
        .map(|s| num(&s.v, "n"))
        .max()
        .unwrap_or(0)
}

#[test]
fn an_applications_own_protocol_runs_restarts_and_stops_as_a_node_process() {
    let mut c = beacons("own-node");
    c.start(1);
    c.start(2);
    let patience = Duration::from_secs(20);
    c.wait_for(patience, "both nodes hearing each other", |_| {
        (heard(&c, 1, 2) >= 3 && heard(&c, 2, 1) >= 3).then_some(())
    });
    // SIGKILL n2 and start it again: it goes on from the count it persisted.
    c.kill(2);
    let before = heard(&c, 1, 2);
    c.start(2);
    let restarted = c.wait_for(patience, "n2 restarting", |seen| {
        events(seen, 2, "started").map(|s| num(&s.v, "sent")).find(|&sent| sent > 0)
    });
    assert!(restarted >= before, "n2 restarted from {restarted}, but n1 had heard {before}");
    c.wait_for(patience, "n1 hearing the restarted n2", |_| (heard(&c, 1, 2) > restarted).then_some(()));
    // SIGTERM: a clean stop, status 0.
    c.signal(1, "TERM");
    let status = c.wait_exit(1, Duration::from_secs(10)).expect("n1 exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bad_arguments_and_configuration_exit_2_with_one_line() {
    let c = beacons("own-node-bad");
    let program = example("own_node");
    let bad = c.dir.join("bad.toml");
    let text = std::fs::read_to_string(&c.configs[0]).unwrap().replace("interval_ms = 100", "interval = 100");
    std::fs::write(&bad, text).unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&[], "--config FILE is required"),
        (&["--config", bad.to_str().unwrap()], "unknown field `interval`"),
        (&["--bogus"], "unexpected argument `--bogus`"),
    ];
    for (args, expect) in cases {
        let out = Command::new(&program).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line, not {stderr:?}");
        assert!(stderr.contains(expect), "{args:?}: {stderr:?} does not say {expect:?}");
    }
}
