//! Leases and fencing across real processes (DDIA figure 8-4, for real): a grantor (n1), a
//! fenced storage node (n2) and two clients (n3, n4), each its own `palisade node`. The lease
//! holder is frozen with SIGSTOP for longer than its lease; the other client takes the lease
//! and writes; on SIGCONT the old holder's writes, checked before the pause and sent after
//! it, reach the storage and are rejected by their fencing token. Then the storage is
//! SIGKILLed and restarted: the state it restores holds the last write it acknowledged, with
//! its token and sequence number.

mod common;

use common::{Cluster, events, lease_config, num};
use std::time::{Duration, Instant};

/// A token as the events print it: `{"epoch":e,"counter":c}` or a bare number.
fn token(v: &serde_json::Value) -> (u64, u64) {
    match v {
        serde_json::Value::Object(_) => (num(v, "epoch"), num(v, "counter")),
        other => (0, other.as_u64().unwrap_or(0)),
    }
}

#[test]
fn a_paused_holders_late_writes_are_fenced_and_acknowledged_writes_survive_a_restart() {
    let mut cluster = Cluster::new("lease", 4, |_, _| lease_config(11, 300));
    for id in 1..=4 {
        cluster.start(id);
    }
    // Someone holds the lease and the storage accepts its writes.
    let holder = cluster.wait_for(Duration::from_secs(10), "a holder with accepted writes", |seen| {
        let a = events(seen, 2, "accepted").next()?;
        Some(num(&a.v, "from"))
    });
    let other = if holder == 3 { 4 } else { 3 };
    let old = cluster.wait_for(Duration::from_secs(5), "the holder's token", |seen| {
        events(seen, holder, "acquired").last().map(|s| token(&s.v["token"]))
    });

    // Freeze the holder for 3 s, three lease terms, with writes checked but not yet sent.
    std::thread::sleep(Duration::from_millis(500));
    let stopped_at = Instant::now();
    cluster.signal(holder as usize, "STOP");
    let new = cluster.wait_for(Duration::from_secs(6), "the other client acquiring", |seen| {
        events(seen, other, "acquired").find(|s| s.at > stopped_at).map(|s| token(&s.v["token"]))
    });
    assert!(new > old, "the new holder's token {new:?} must be above the old {old:?}");
    let moved_on = cluster.wait_for(Duration::from_secs(5), "the new holder's writes accepted", |seen| {
        events(seen, 2, "accepted").find(|s| s.at > stopped_at && num(&s.v, "from") == other).map(|s| s.at)
    });
    std::thread::sleep(Duration::from_millis(
        3000u64.saturating_sub(stopped_at.elapsed().as_millis() as u64),
    ));

    // Resume it: its delayed writes go out with the old token and must be refused.
    let resumed_at = Instant::now();
    cluster.signal(holder as usize, "CONT");
    let rejected =
        cluster.wait_for(Duration::from_secs(5), "the old holder's stale write rejected", |seen| {
            events(seen, 2, "rejected").find(|s| s.at > resumed_at && num(&s.v, "from") == holder).cloned()
        });
    assert_eq!(token(&rejected.v["token"]), old, "rejected with the old token");
    let seen = cluster.seen();
    // (A write already on the wire when the holder froze may land before the new holder's
    // first one; none may land after it.)
    let stale_accepted =
        events(&seen, 2, "accepted").filter(|s| s.at > moved_on && token(&s.v["token"]) <= old).count();
    assert_eq!(stale_accepted, 0, "no write with the old token accepted after the new holder's");

    // Kill the storage mid-stream and restart it: the last write it acknowledged (its
    // `accepted` event is emitted only after the state is durable) must be restored.
    std::thread::sleep(Duration::from_millis(500));
    cluster.kill(2);
    let seen = cluster.seen();
    let last = events(&seen, 2, "accepted").last().expect("writes accepted before the kill").v.clone();
    let restarted_at = Instant::now();
    cluster.start(2);
    let restored = cluster.wait_for(Duration::from_secs(5), "the storage's restored state", |seen| {
        events(seen, 2, "restored").find(|s| s.at > restarted_at).map(|s| s.v["state"].clone())
    });
    // The restored write is the last one acknowledged to the test, or one it accepted (and
    // made durable) after that whose event had not yet reached the test when it was killed:
    // never an older one. (token, seq) orders them, so a replay of an older write under the
    // same token is still refused after the restart.
    let restored_at = (token(&restored["accepted"]), num(&restored, "accepted_seq"));
    let acknowledged = (token(&last["token"]), num(&last, "seq"));
    assert!(restored_at >= acknowledged, "restored {restored} vs last acknowledged {last}");
    if restored_at == acknowledged {
        assert_eq!(num(&restored, "value"), num(&last, "value"), "restored {restored} vs {last}");
    }
    // And it goes on accepting the current holder's writes.
    cluster.wait_for(Duration::from_secs(5), "writes accepted after the restart", |seen| {
        events(seen, 2, "accepted").find(|s| s.at > restarted_at).map(|_| ())
    });
}

/// A storage node that cannot make a write durable must not stay up acting on what follows:
/// its data directory is swapped for a plain file under it, and at its next write the
/// process exits with status 74 and one line naming the directory.
#[test]
fn a_storage_node_that_cannot_persist_exits_with_one_line() {
    let mut cluster = Cluster::new("persistfail", 3, |_, _| lease_config(13, 0));
    cluster.start(1);
    let log = cluster.start_logged(2);
    cluster.start(3);
    cluster.wait_for(Duration::from_secs(10), "writes accepted", |seen| {
        events(seen, 2, "accepted").next().map(|_| ())
    });
    let data = cluster.dir.join("data2");
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::write(&data, b"not a directory").unwrap();
    let status = cluster.wait_exit(2, Duration::from_secs(10)).expect("the storage node exits");
    assert_eq!(status.code(), Some(74), "exit status {status:?}");
    let stderr = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("persisting state in")).collect();
    assert_eq!(lines.len(), 1, "one line says what failed: {stderr}");
    assert!(lines[0].contains("data2") && lines[0].contains("exiting"), "{}", lines[0]);
}
