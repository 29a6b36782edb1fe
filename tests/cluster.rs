//! Real processes: three `palisade node`s on loopback with heartbeat detection. One is
//! stopped with SIGSTOP (a paused process): the others suspect it, and trust it again once
//! it is resumed with SIGCONT. Another is killed: the others suspect it within the bound.
//! Every process the test starts is killed when it ends, pass or fail.

mod common;

use common::{Cluster, Seen, num, palisade};
use std::time::{Duration, Instant};

/// Observers that have reported `event` ("suspect" or "trust") about `peer` since `since`,
/// with the first time each did.
fn reports(seen: &[Seen], event: &str, peer: u64, since: Instant) -> Vec<(u64, Instant)> {
    let mut first = std::collections::BTreeMap::new();
    for s in seen.iter().filter(|s| s.at >= since && s.v["event"] == event && num(&s.v, "peer") == peer) {
        first.entry(num(&s.v, "node")).or_insert(s.at);
    }
    first.into_iter().collect()
}

#[test]
fn paused_and_killed_nodes_are_suspected_within_the_bound_and_a_resumed_one_trusted_again() {
    let timeout = Duration::from_millis(1000);
    let mut cluster = Cluster::new("cluster", 3, |_, _| {
        "cluster = 9\nprotocol = \"heartbeat-fixed\"\nheartbeat_ms = 100\ntimeout_ms = 1000\n".into()
    });
    for id in 1..=3 {
        cluster.start(id);
    }
    // Let them find each other, then check nobody was suspected.
    std::thread::sleep(Duration::from_secs(3));
    for p in 1..=3 {
        let wrong = reports(&cluster.seen(), "suspect", p, Instant::now() - Duration::from_secs(60));
        assert!(wrong.is_empty(), "live node n{p} suspected: {wrong:?}");
    }
    // The detection bound: the timeout plus slack for a loaded 2-core machine.
    let bound = timeout + Duration::from_secs(2);

    // SIGSTOP node 2 (a process pause): both others suspect it in time...
    let stopped_at = Instant::now();
    cluster.signal(2, "STOP");
    assert!(cluster.exited().is_empty(), "a stopped node has not exited: {:?}", cluster.exited());
    let found = cluster.wait_for(bound + Duration::from_secs(2), "suspicions of stopped n2", |seen| {
        let r = reports(seen, "suspect", 2, stopped_at);
        (r.len() == 2).then_some(r)
    });
    for (n, at) in found {
        assert!(at - stopped_at <= bound, "n{n} took {:?} to suspect stopped n2", at - stopped_at);
    }
    // ...and trust it again once it resumes: its heartbeats are the proof of life.
    std::thread::sleep(Duration::from_secs(1));
    let resumed_at = Instant::now();
    cluster.signal(2, "CONT");
    cluster.wait_for(Duration::from_secs(3), "n2 trusted again by n1 and n3", |seen| {
        let r = reports(seen, "trust", 2, resumed_at);
        (r.len() == 2).then_some(())
    });

    // SIGKILL node 3: the others must suspect it within the bound. (Not reaped until the
    // cluster is dropped, so a timeout's message can name it as exited: checked here.)
    let killed_at = Instant::now();
    cluster.signal(3, "KILL");
    let pid = cluster.pid(3);
    while cluster.exited().is_empty() && killed_at.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cluster.exited(), vec![format!("n3 (pid {pid})")], "the killed node is reported as exited");
    let found = cluster.wait_for(bound + Duration::from_secs(2), "suspicions of killed n3", |seen| {
        let r = reports(seen, "suspect", 3, killed_at);
        (r.len() == 2).then_some(r)
    });
    for (n, at) in found {
        assert!(at - killed_at <= bound, "n{n} took {:?} to suspect killed n3", at - killed_at);
    }
}

#[test]
fn a_bad_node_config_is_a_one_line_error_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("palisade-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "cluster = 1\nlisten = \"127.0.0.1:1\"\n").unwrap();
    let out = palisade().args(["node", "--config"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("missing field `id`"), "{err}");
    std::fs::write(&path, "cluster = 1\nid = 1\nlisten = \"127.0.0.1:1\"\ndata_dir = \"d\"\nkey_file = \"k\"\nprotocol = \"raft\"\n").unwrap();
    let out = palisade().args(["node", "--config"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key_file"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_peer_key_repeating_another_members_is_a_one_line_error() {
    let cluster = Cluster::new("dupkey", 3, |_, _| "cluster = 9\nprotocol = \"heartbeat-fixed\"\n".into());
    let config = std::fs::read_to_string(&cluster.configs[0]).unwrap();
    let own = std::fs::read_to_string(cluster.dir.join("k1/node.pub")).unwrap();
    let n2 = std::fs::read_to_string(cluster.dir.join("k2/node.pub")).unwrap();
    let n3 = std::fs::read_to_string(cluster.dir.join("k3/node.pub")).unwrap();
    // Peer 3 given peer 2's key, then peer 2 given this node's own key.
    for bad in [config.replace(n3.trim(), n2.trim()), config.replace(n2.trim(), own.trim())] {
        assert_ne!(bad, config);
        std::fs::write(&cluster.configs[0], bad).unwrap();
        let out = palisade().args(["node", "--config"]).arg(&cluster.configs[0]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("public_key repeats another member's key"), "{err}");
    }
}

#[test]
fn a_node_whose_event_pipe_is_never_read_keeps_running_and_is_never_suspected() {
    // Node 3 flaps about its peers (a 1 ms timeout against their 5 ms heartbeats), so it
    // prints hundreds of suspect/trust lines a second to a stdout pipe nobody reads: the
    // pipe's buffer fills within seconds. Its own heartbeats (every 100 ms) must keep going
    // out all the same; its peers allow 2 s of silence.
    let mut cluster = Cluster::new("undrained", 3, |id, _| {
        if id == 3 {
            "cluster = 9\nprotocol = \"heartbeat-fixed\"\nheartbeat_ms = 100\ntimeout_ms = 1\n".into()
        } else {
            "cluster = 9\nprotocol = \"heartbeat-fixed\"\nheartbeat_ms = 5\ntimeout_ms = 2000\n".into()
        }
    });
    cluster.start(1);
    cluster.start(2);
    let stderr = cluster.start_undrained(3);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(12) {
        std::thread::sleep(Duration::from_millis(500));
        let exited = cluster.procs[2].as_mut().unwrap().try_wait().unwrap();
        assert!(exited.is_none(), "n3 exited: {exited:?}: {}", std::fs::read_to_string(&stderr).unwrap());
    }
    let wrong = reports(&cluster.seen(), "suspect", 3, started);
    assert!(wrong.is_empty(), "n3, its stdout undrained, was suspected: {wrong:?}");

    // Still responsive: SIGINT stops it cleanly and promptly (its arbiter handles the
    // signal), and it says on stderr that its event lines were dropped, not written.
    let stopping = Instant::now();
    cluster.signal(3, "INT");
    let status = loop {
        if let Some(status) = cluster.procs[2].as_mut().unwrap().try_wait().unwrap() {
            break status;
        }
        assert!(stopping.elapsed() < Duration::from_secs(10), "n3 did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "n3 exited with {status}");
    let log = std::fs::read_to_string(&stderr).unwrap();
    let report = log
        .lines()
        .find(|l| l.contains("not written at exit: stdout not drained"))
        .unwrap_or_else(|| panic!("no report of dropped lines: {log}"));
    let dropped: u64 = report
        .split_whitespace()
        .skip_while(|w| *w != "WARN")
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    eprintln!("n3: {report}");
    assert!(dropped > 0, "the pipe filled and lines were dropped: {report}");

    // The peers were watching all along: now that n3 is gone, they suspect it.
    let gone = Instant::now();
    cluster.wait_for(Duration::from_secs(8), "suspicions of stopped n3", |seen| {
        (reports(seen, "suspect", 3, gone).len() == 2).then_some(())
    });
}
