//! Real `palisade node` processes under a hostile network, as an attacker on loopback would
//! try it: a relay on the path records a session and replays it verbatim after the receiver
//! restarts; thousands of idle, stalled and garbage connections hit a node; a paused peer
//! leaves a half-open link behind. Nothing may be accepted that should not be, no
//! acknowledged write may be lost, no live node may be suspected, and the attacked node's
//! memory and file descriptors stay bounded.

mod common;

use common::{Cluster, Seen, events, lease_config, num};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest value of a transport counter node `node` has reported.
fn counter(seen: &[Seen], node: u64, field: &str) -> u64 {
    events(seen, node, "transport").map(|s| num(&s.v, field)).max().unwrap_or(0)
}

/// What a relay recorded: per connection, the bytes the far end sent.
type Recordings = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A relay on the path from one node to another's port. While recording it forwards both
/// ways and keeps every byte the far end sent on each connection; once `replay` is set it
/// stops forwarding and answers each new connection with the longest recording, verbatim.
struct Relay {
    port: u16,
    replay: Arc<AtomicBool>,
    recordings: Recordings,
    replayed: Arc<AtomicUsize>,
}

impl Relay {
    fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let replay = Arc::new(AtomicBool::new(false));
        let recordings: Recordings = Arc::default();
        let replayed = Arc::new(AtomicUsize::new(0));
        let (r, recs, done) = (replay.clone(), recordings.clone(), replayed.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut near) = conn else { continue };
                if r.load(Ordering::SeqCst) {
                    let longest =
                        recs.lock().unwrap().iter().map(|b| b.lock().unwrap().clone()).max_by_key(Vec::len);
                    let _ = near.write_all(&longest.unwrap_or_default());
                    // Read until the node hangs up on the replay.
                    let _ = near.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut sink = [0u8; 4096];
                    while matches!(near.read(&mut sink), Ok(n) if n > 0) {}
                    done.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let Ok(mut far) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let recording = Arc::new(Mutex::new(Vec::new()));
                recs.lock().unwrap().push(recording.clone());
                let (mut near2, mut far2) = (near.try_clone().unwrap(), far.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut near2, &mut far2);
                    let _ = far2.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = far.read(&mut buf) {
                        if n == 0 || near.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        recording.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = near.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Relay { port, replay, recordings, replayed }
    }
}

#[test]
fn a_session_recorded_on_the_path_and_replayed_after_a_restart_changes_nothing() {
    // n1 grants leases, n2 is the fenced storage, n3 the client; n2 dials n3 (the lower id
    // dials) through the relay, which records n3's side: its handshake answer and its writes.
    let mut cluster = Cluster::new("replay", 3, |_, _| lease_config(21, 0));
    let relay = Relay::start(cluster.ports[2]);
    let n2 = std::fs::read_to_string(&cluster.configs[1]).unwrap();
    let direct = format!("addr = \"127.0.0.1:{}\"", cluster.ports[2]);
    assert!(n2.contains(&direct));
    std::fs::write(&cluster.configs[1], n2.replace(&direct, &format!("addr = \"127.0.0.1:{}\"", relay.port)))
        .unwrap();
    for id in 1..=3 {
        cluster.start(id);
    }
    cluster.wait_for(Duration::from_secs(15), "n3's writes accepted through the relay", |seen| {
        (events(seen, 2, "accepted").filter(|s| num(&s.v, "from") == 3).count() >= 5).then_some(())
    });
    // The honest client and grantor go away; the recording holds n3's writes.
    cluster.kill(3);
    cluster.kill(1);
    std::thread::sleep(Duration::from_millis(300));
    // The handshake answer (about 170 bytes) and at least five writes.
    let recorded = relay.recordings.lock().unwrap().iter().map(|r| r.lock().unwrap().len()).max();
    assert!(recorded.is_some_and(|n| n > 250), "a session was recorded: {recorded:?} bytes");
    let last = events(&cluster.seen(), 2, "accepted").last().expect("writes accepted").v.clone();

    // Restart the storage; when it dials n3 again, the relay answers with the recording.
    relay.replay.store(true, Ordering::SeqCst);
    cluster.kill(2);
    let restarted = Instant::now();
    cluster.start(2);
    let restored = cluster.wait_for(Duration::from_secs(5), "the storage's restored state", |seen| {
        events(seen, 2, "restored").find(|s| s.at > restarted).map(|s| s.v["state"].clone())
    });
    assert_eq!(num(&restored, "value"), num(&last, "value"), "restored {restored} vs acknowledged {last}");
    let rejected = cluster.wait_for(Duration::from_secs(15), "the storage rejecting two replays", |seen| {
        let n = relay.replayed.load(Ordering::SeqCst);
        (n >= 2 && counter(seen, 2, "rejected") >= 2).then_some(counter(seen, 2, "rejected"))
    });
    let seen = cluster.seen();
    let accepted_after = events(&seen, 2, "accepted").filter(|s| s.at > restarted).count();
    assert_eq!(accepted_after, 0, "a replayed write was accepted ({rejected} replays rejected)");

    // The acknowledged value survives another restart.
    cluster.kill(2);
    let again = Instant::now();
    cluster.start(2);
    let restored =
        cluster.wait_for(Duration::from_secs(5), "the storage's state after another restart", |seen| {
            events(seen, 2, "restored").find(|s| s.at > again).map(|s| s.v["state"].clone())
        });
    assert_eq!(num(&restored, "value"), num(&last, "value"), "restored {restored} vs acknowledged {last}");
}

/// Open file descriptors and resident memory (KiB) of process `pid`.
fn fds_and_rss(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (fds, rss)
}

/// A connection to `port` on 127.0.0.1 from the loopback address `from`.
fn connect_from(from: std::net::Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&std::net::SocketAddr::from((from, 0)).into())?;
    socket.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())?;
    Ok(socket.into())
}

fn suspicions_of_live_nodes(seen: &[Seen], live: &[u64]) -> Vec<String> {
    seen.iter()
        .filter(|s| s.v["event"] == "suspect" && live.contains(&num(&s.v, "peer")))
        .map(|s| s.v.to_string())
        .collect()
}

#[test]
fn idle_stalled_and_garbage_connections_by_the_thousand_do_not_hurt_the_cluster() {
    let mut cluster = Cluster::new("slowloris", 3, |_, _| {
        "cluster = 22\nprotocol = \"heartbeat-fixed\"\nheartbeat_ms = 100\ntimeout_ms = 1000\n".into()
    });
    cluster.start(1);
    let log = cluster.start_logged(2);
    cluster.start(3);
    std::thread::sleep(Duration::from_millis(1500));
    let target = cluster.pid(2);
    let (base_fds, base_rss) = fds_and_rss(target);
    let port = cluster.ports[1];
    let attack_started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();

    // Idle connections (never a byte), and stalled ones (a length prefix claiming the largest
    // frame, a little of it, then nothing), as many as this process may open, from 40
    // loopback addresses (8 pending per address are allowed, 64 in all: both caps are hit).
    // (This process's own open-file limit bounds the attack, so it never exhausts the test.)
    let own_limit = palisade::actix::transport::open_file_limit().unwrap_or(1024) as usize;
    let idle = own_limit.saturating_sub(300).min(3000);
    let opener = {
        let held = held.clone();
        std::thread::spawn(move || {
            for i in 0..idle {
                let from = std::net::Ipv4Addr::new(127, 0, 1, 1 + (i % 40) as u8);
                if let Ok(mut s) = connect_from(from, port) {
                    if i % 5 == 0 {
                        let _ = s.write_all(&65_535u32.to_be_bytes());
                        let _ = s.write_all(&[0u8; 1000]);
                    }
                    held.lock().unwrap().push(s);
                }
            }
        })
    };
    // Garbage handshakes, as fast as the node closes them, from four threads.
    let floods: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut sent = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                        let _ = s.write_all(&[0, 0, 0, 40]);
                        let _ = s.write_all(&[0xAB; 40]);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                        let _ = s.read(&mut [0u8; 16]);
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    let (mut max_fds, mut max_rss) = (base_fds, base_rss);
    while attack_started.elapsed() < Duration::from_secs(8) {
        let (f, r) = fds_and_rss(target);
        (max_fds, max_rss) = (max_fds.max(f), max_rss.max(r));
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::SeqCst);
    opener.join().unwrap();
    let garbage: u64 = floods.into_iter().map(|t| t.join().unwrap()).sum();
    let opened = held.lock().unwrap().len();
    // The attacker keeps its idle connections open a while longer: the node reaps them.
    std::thread::sleep(Duration::from_secs(4));
    let (reaped_fds, _) = fds_and_rss(target);
    held.lock().unwrap().clear();
    std::thread::sleep(Duration::from_millis(500));

    let seen = cluster.seen();
    let wrong = suspicions_of_live_nodes(&seen, &[1, 2, 3]);
    let (rejected, refused, timed_out) =
        (counter(&seen, 2, "rejected"), counter(&seen, 2, "refused"), counter(&seen, 2, "timed_out"));
    let log_lines = std::fs::read_to_string(&log).unwrap_or_default().lines().count();
    eprintln!(
        "attack: {opened} idle/stalled + {garbage} garbage connections; node 2: fds {base_fds} -> max {max_fds} -> \
         {reaped_fds} after, RSS {base_rss} -> max {max_rss} KiB; rejected {rejected}, refused {refused}, \
         timed out {timed_out}; {log_lines} log lines"
    );
    assert!(wrong.is_empty(), "live nodes suspected during the attack: {wrong:?}");
    assert!(opened >= idle / 2, "the attack opened {opened} of {idle} connections");
    assert!(garbage > 100 && rejected > 100, "garbage handshakes sent {garbage}, rejected {rejected}");
    assert!(refused > 0 && timed_out > 0, "admission control evicted {refused}, reaped {timed_out}");
    // 64 pending handshakes at most (the default limit), plus a little slack for the
    // connections being accepted and closed at the moment of sampling.
    assert!(
        max_fds >= base_fds + 32,
        "the attack never filled the pending slots: fds {base_fds} -> {max_fds}"
    );
    assert!(max_fds <= base_fds + 64 + 16, "fds {base_fds} -> {max_fds}");
    assert!(reaped_fds <= base_fds + 8, "idle connections not reaped: fds {base_fds} -> {reaped_fds}");
    // Stalled frames: 64 pending connections, each buffering at most one 64 KiB frame (with
    // the buffer's slack, about 82 KiB each): about 5 MiB.
    assert!(max_rss <= base_rss + 16 * 1024, "RSS {base_rss} -> {max_rss} KiB");
    // Rejections are counted, not each logged: 10 lines per 10 s window, and a summary.
    assert!(log_lines <= 60, "{log_lines} log lines for {} rejections", rejected + refused + timed_out);
    // And the cluster stays whole after the attack.
    std::thread::sleep(Duration::from_secs(2));
    assert!(suspicions_of_live_nodes(&cluster.seen(), &[1, 2, 3]).is_empty());
}

#[test]
fn a_paused_peers_half_open_link_is_reaped_and_the_peer_rejoins() {
    let mut cluster = Cluster::new("halfopen", 3, |_, _| {
        "cluster = 23\nprotocol = \"heartbeat-fixed\"\nheartbeat_ms = 100\ntimeout_ms = 1000\n".into()
    });
    for id in 1..=3 {
        cluster.start(id);
    }
    std::thread::sleep(Duration::from_millis(1500));
    // A stopped process's kernel still acknowledges TCP (keepalive probes included): only
    // the link's idle timeout (10 s) tells its peers the session is dead.
    cluster.signal(3, "STOP");
    let stopped = Instant::now();
    cluster.wait_for(Duration::from_secs(20), "n1 and n2 closing their idle links to n3", |seen| {
        let reaped = [1, 2]
            .iter()
            .all(|&n| events(seen, n, "transport").any(|s| s.at > stopped && num(&s.v, "timed_out") >= 1));
        reaped.then_some(())
    });
    cluster.signal(3, "CONT");
    let resumed = Instant::now();
    cluster.wait_for(Duration::from_secs(15), "n1 and n2 trusting n3 again", |seen| {
        let back = [1u64, 2]
            .iter()
            .all(|&n| events(seen, n, "trust").any(|s| s.at > resumed && num(&s.v, "peer") == 3));
        back.then_some(())
    });
    // (n3 itself, waking from its pause, finds its peers' heartbeats overdue: the pause
    // hazard of a detector without a pause guard, not the transport's doing.)
    let seen = cluster.seen();
    let wrong: Vec<_> = seen
        .iter()
        .filter(|s| s.v["event"] == "suspect" && num(&s.v, "peer") != 3 && num(&s.v, "node") != 3)
        .map(|s| s.v.to_string())
        .collect();
    assert!(wrong.is_empty(), "live nodes suspected: {wrong:?}");
}

/// libfaketime, preloaded into a node to step its wall clock.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// True when libfaketime is installed and steps `date`; when `PALISADE_REQUIRE_FAKETIME` is
/// set (as `scripts/test.sh` does where it can install it) its absence fails the test.
fn faketime_works() -> bool {
    let now = |env: &[(&str, &str)]| -> Option<i64> {
        let out = std::process::Command::new("date").arg("+%s").envs(env.iter().copied()).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    let (real, fake) = (now(&[]), now(&[("LD_PRELOAD", LIBFAKETIME), ("FAKETIME", "-1h")]));
    let works = std::path::Path::new(LIBFAKETIME).exists()
        && matches!((real, fake), (Some(r), Some(f)) if (r - f - 3600).abs() < 60);
    if !works {
        assert!(
            std::env::var_os("PALISADE_REQUIRE_FAKETIME").is_none(),
            "faketime is required but does not work"
        );
        eprintln!("skipping: libfaketime is not installed (apt-get install faketime)");
    }
    works
}

#[test]
fn nodes_restarted_with_their_wall_clock_stepped_an_hour_rejoin_at_once() {
    if !faketime_works() {
        return;
    }
    let mut cluster = Cluster::new("wallstep", 3, |_, _| {
        "cluster = 24\nprotocol = \"heartbeat-fixed\"\nheartbeat_ms = 100\ntimeout_ms = 1000\n".into()
    });
    for id in 1..=3 {
        cluster.start(id);
    }
    std::thread::sleep(Duration::from_millis(1500));
    // n1 dials both others; n3 only accepts. Each is down long enough to be suspected, then
    // restarted with its wall clock an hour off (backwards for n1, forwards for n3): the
    // transport reads no wall clock, so nothing about an earlier incarnation can lock the new
    // one out, and its peers trust it again at once.
    for (id, step) in [(1usize, "-1h"), (3, "+1h")] {
        let others: Vec<u64> = (1..=3).filter(|&n| n != id as u64).collect();
        let killed = Instant::now();
        cluster.kill(id);
        cluster.wait_for(Duration::from_secs(5), &format!("n{id} suspected"), |seen| {
            let all = others.iter().all(|&o| {
                events(seen, o, "suspect").any(|s| s.at > killed && num(&s.v, "peer") == id as u64)
            });
            all.then_some(())
        });
        let restarted = Instant::now();
        cluster.start_with_env(id, &[("LD_PRELOAD", LIBFAKETIME), ("FAKETIME", step)]);
        cluster.wait_for(Duration::from_secs(5), &format!("n{id}'s peers trusting it again"), |seen| {
            let all = others.iter().all(|&o| {
                events(seen, o, "trust").any(|s| s.at > restarted && num(&s.v, "peer") == id as u64)
            });
            all.then_some(())
        });
        std::thread::sleep(Duration::from_secs(2));
        let seen = cluster.seen();
        // Its own view: whatever it thought while its sessions formed (on a loaded machine, a
        // second without a heartbeat is a suspicion), its last word on each live peer is
        // trust, i.e. it is not locked out.
        for &o in &others {
            let last = seen
                .iter()
                .filter(|s| s.at > restarted && num(&s.v, "node") == id as u64 && num(&s.v, "peer") == o)
                .rfind(|s| s.v["event"] == "suspect" || s.v["event"] == "trust");
            assert!(
                last.is_none_or(|s| s.v["event"] == "trust"),
                "the restarted n{id} still suspects its live peer n{o}: {:?}",
                last.map(|s| s.v.to_string())
            );
        }
        let heard = events(&seen, id as u64, "transport").map(|s| num(&s.v, "frames_in")).max().unwrap_or(0);
        assert!(heard > 0, "the restarted n{id} heard nothing");
    }
}

/// A member that reconnects in a loop and never closes what it opened holds at most two of
/// the node's file descriptors: its newest waiting session replaces the previous one, and the
/// link takes the newest over the one it serves.
#[test]
fn a_member_reconnecting_in_a_loop_holds_at_most_two_connections() {
    let mut cluster = Cluster::new("reconnect", 3, |_, _| {
        "cluster = 25\nprotocol = \"heartbeat-fixed\"\nheartbeat_ms = 100\ntimeout_ms = 1000\n".into()
    });
    // n1 is this test (it holds n1's key); n2 and n3 run.
    cluster.start(2);
    cluster.start(3);
    std::thread::sleep(Duration::from_millis(1000));
    let target = cluster.pid(2);
    let (base_fds, _) = fds_and_rss(target);
    let keys: palisade::actix::transport::Keys = (1..=3)
        .map(|id| (palisade::core::NodeId(id), common::key_of(&cluster, id).verifying_key()))
        .collect();
    let me = palisade::actix::transport::Identity::new(
        25,
        palisade::core::NodeId(1),
        &common::key_of(&cluster, 1),
    )
    .unwrap();
    let port = cluster.ports[1];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (me, keys) = (Arc::new(me), Arc::new(keys));
    let mut max_fds = base_fds;
    let held = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..300 {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            if let Ok(conn) =
                palisade::actix::transport::dial(stream, me.clone(), palisade::core::NodeId(2), keys.clone())
                    .await
            {
                held.push(conn);
            }
            max_fds = max_fds.max(fds_and_rss(target).0);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        held.len()
    });
    let (after, _) = fds_and_rss(target);
    eprintln!("300 sessions as n1, {held} held: node 2's fds {base_fds} -> max {max_fds} -> {after}");
    assert!(held >= 290, "the member's handshakes succeeded: {held}");
    // Its listener, n3's session, n1's served and waiting sessions, and a connection or two
    // being accepted at the moment of sampling.
    assert!(max_fds <= base_fds + 4, "fds {base_fds} -> max {max_fds}");
    assert!(after <= base_fds + 2, "fds {base_fds} -> {after} after the loop");
    assert!(suspicions_of_live_nodes(&cluster.seen(), &[2, 3]).is_empty());
}
