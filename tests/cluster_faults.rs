//! `palisade cluster up` and `palisade cluster fault` against real processes: three
//! heartbeat nodes on 127.0.0.11-13, every connection through the delay proxy. A paused
//! node is suspected and trusted again on resume; a killed node is suspected and, restarted,
//! trusted again; a sudden delay between two nodes makes them suspect each other until the
//! delayed heartbeats arrive; and with nftables (as root) a partition between two nodes
//! makes exactly those two suspect each other, random loss of a node's packets makes the
//! others suspect it, and healing restores trust. Without nftables that part says it skips
//! and why
//! (scripts/test.sh sets PALISADE_REQUIRE_NFT=1 where it can run, so CI cannot skip it).
//! The partition's rules match the cluster's ports: other connections between the same
//! two addresses still get through.
//! The cluster is brought down, and its firewall table removed, however the test ends.
//!
//! `cluster up` over a previous cluster's directory stops that cluster and removes its
//! firewall table first (the new nodes are not partitioned by the old rules), and a pid
//! file naming some other process never gets that process signalled.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn palisade(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade")).args(args).arg("--dir").arg(dir).output().unwrap();
    assert!(out.status.success(), "palisade {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn fault(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["cluster", "fault", "--dir"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Brings the cluster down on drop.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["cluster", "down", "--dir"])
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// (node, event, peer) of every event line so far.
fn events(dir: &Path) -> Vec<(u64, String, u64)> {
    (1..=3)
        .flat_map(|i| {
            std::fs::read_to_string(dir.join(format!("n{i}.events")))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l).ok()?;
            Some((v["node"].as_u64()?, v["event"].as_str()?.to_string(), v["peer"].as_u64().unwrap_or(0)))
        })
        .collect()
}

/// Waits until every (node, event, peer) in `want` has appeared more often than it had in
/// `before`.
fn wait_for(
    dir: &Path,
    before: &[(u64, String, u64)],
    want: &[(u64, &str, u64)],
    within: Duration,
    what: &str,
) {
    let deadline = Instant::now() + within;
    loop {
        let now = events(dir);
        let count = |evs: &[(u64, String, u64)], w: &(u64, &str, u64)| {
            evs.iter().filter(|e| e.0 == w.0 && e.1 == w.1 && e.2 == w.2).count()
        };
        if want.iter().all(|w| count(&now, w) > count(before, w)) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; events: {now:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Injects the fault `args` and waits for every event in `want` to appear again.
fn inject(dir: &Path, args: &[&str], want: &[(u64, &str, u64)], within: Duration, what: &str) {
    let before = events(dir);
    let out = fault(dir, args);
    assert!(out.status.success(), "fault {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    wait_for(dir, &before, want, within, what);
}

fn nft_usable() -> Result<(), String> {
    let uid = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
    });
    if uid.as_deref() != Some("0") {
        return Err("not running as root".into());
    }
    match Command::new("nft").args(["list", "tables"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("nft fails: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("nft not installed ({e})")),
    }
}

#[test]
fn pauses_kills_restarts_and_partitions_of_real_processes() {
    let dir = std::env::temp_dir().join(format!("palisade-cluster-faults-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let _down = Down(dir.clone());
    palisade(
        &dir,
        &[
            "cluster",
            "up",
            "--nodes",
            "3",
            "--protocol",
            "heartbeat-fixed",
            "--heartbeat",
            "100ms",
            "--timeout",
            "800ms",
            "--port",
            &port,
            "--detach",
            "--delay-proxy",
        ],
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        events(&dir).iter().all(|e| e.1 != "suspect"),
        "nobody suspected while all run: {:?}",
        events(&dir)
    );
    let within = Duration::from_secs(5);

    // Pause (SIGSTOP) and resume node 2.
    inject(
        &dir,
        &["pause", "2"],
        &[(1, "suspect", 2), (3, "suspect", 2)],
        within,
        "n2 suspected while paused",
    );
    inject(&dir, &["resume", "2"], &[(1, "trust", 2), (3, "trust", 2)], within, "n2 trusted after resuming");

    // Kill node 3, then restart it from its data directory.
    inject(
        &dir,
        &["kill", "3"],
        &[(1, "suspect", 3), (2, "suspect", 3)],
        within,
        "n3 suspected after SIGKILL",
    );
    inject(
        &dir,
        &["restart", "3"],
        &[(1, "trust", 3), (2, "trust", 3)],
        within,
        "n3 trusted after restarting",
    );

    // Delay (the userspace proxy every connection runs through): a sudden 1.5 s delay
    // between n1 and n3 looks like silence to an 800 ms timeout, until the delayed
    // heartbeats arrive and trust returns while the delay lasts.
    let before = events(&dir);
    inject(
        &dir,
        &["delay", "1", "3", "1500ms"],
        &[(1, "suspect", 3), (3, "suspect", 1)],
        within,
        "suspicion after the delay step",
    );
    wait_for(&dir, &before, &[(1, "trust", 3), (3, "trust", 1)], within, "trust while the delay lasts");
    assert!(fault(&dir, &["heal"]).status.success());
    std::thread::sleep(Duration::from_secs(2));

    // A fault naming a node that is not there is a one-line error, exit 2.
    let bad = fault(&dir, &["pause", "9"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).trim().lines().count(), 1);

    // Partition n1 from n3 with nftables.
    if let Err(why) = nft_usable() {
        assert!(std::env::var_os("PALISADE_REQUIRE_NFT").is_none(), "PALISADE_REQUIRE_NFT is set but {why}");
        eprintln!("SKIPPED the partition part: {why} (nftables partitions need root and the nft tool)");
        return;
    }
    std::thread::sleep(Duration::from_secs(1));
    let before = events(&dir);
    inject(
        &dir,
        &["partition", "1", "3"],
        &[(1, "suspect", 3), (3, "suspect", 1)],
        within,
        "n1 and n3 suspecting each other",
    );
    std::thread::sleep(Duration::from_millis(500));
    // The rules match the cluster's ports, not just the addresses: other traffic between
    // n1's and n3's addresses still flows, the cluster's does not.
    let other = std::net::TcpListener::bind("127.0.0.13:0").unwrap();
    assert!(connects([127, 0, 0, 11], other.local_addr().unwrap()), "unrelated traffic cut by the partition");
    let port: u16 = port.parse().unwrap();
    assert!(!connects([127, 0, 0, 11], ([127, 0, 0, 13], port).into()), "n1 still reaches n3's port");
    let during = events(&dir);
    let suspicions = |evs: &[(u64, String, u64)], pair: (u64, u64)| {
        evs.iter().filter(|e| e.1 == "suspect" && (e.0, e.2) == pair).count()
    };
    for observer in 1..=3 {
        for peer in (1..=3).filter(|&p| p != observer) {
            let cut = matches!((observer, peer), (1, 3) | (3, 1));
            let grew = suspicions(&during, (observer, peer)) > suspicions(&before, (observer, peer));
            assert_eq!(grew, cut, "n{observer} suspecting n{peer} during the n1-n3 partition: {during:?}");
        }
    }
    inject(
        &dir,
        &["heal"],
        &[(1, "trust", 3), (3, "trust", 1)],
        Duration::from_secs(10),
        "trust after healing",
    );

    // Random loss of 80% of node 2's packets: TCP retransmits, heartbeats arrive far too
    // late, and both others suspect it; healing restores trust.
    inject(
        &dir,
        &["loss", "2", "80"],
        &[(1, "suspect", 2), (3, "suspect", 2)],
        Duration::from_secs(10),
        "n2 suspected under loss",
    );
    // Under 80% loss TCP still gets some heartbeats through, so trust may already have
    // come back (and gone again) before the heal: what must hold after healing is that
    // both others end up trusting n2 and stay so.
    assert!(fault(&dir, &["heal"]).status.success());
    wait_trusted(&dir, &[(1, 2), (3, 2)], Duration::from_secs(15), "n2 trusted after healing the loss");
}

/// Waits until, for every (observer, peer) in `pairs`, the observer's last suspect/trust
/// event about the peer is `trust` and stays so for two seconds.
fn wait_trusted(dir: &Path, pairs: &[(u64, u64)], within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    let trusted = |evs: &[(u64, String, u64)]| {
        pairs.iter().all(|&(o, p)| {
            evs.iter()
                .rev()
                .find(|e| e.0 == o && e.2 == p && (e.1 == "suspect" || e.1 == "trust"))
                .is_none_or(|e| e.1 == "trust")
        })
    };
    let mut since: Option<Instant> = None;
    loop {
        let now = events(dir);
        if trusted(&now) {
            let start = *since.get_or_insert_with(Instant::now);
            if start.elapsed() >= Duration::from_secs(2) {
                return;
            }
        } else {
            since = None;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; events: {now:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a TCP connection from `from` (a loopback address) to `to` completes within 2 s.
fn connects(from: impl Into<Ipv4Addr>, to: SocketAddr) -> bool {
    let from = from.into();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        matches!(tokio::time::timeout(Duration::from_secs(2), socket.connect(to)).await, Ok(Ok(_)))
    })
}

/// Kills the process on drop.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pids(dir: &Path, nodes: u32) -> Vec<u32> {
    (1..=nodes)
        .map(|i| std::fs::read_to_string(dir.join(format!("n{i}.pid"))).unwrap().trim().parse().unwrap())
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !matches!(s.rsplit(')').next().unwrap().split_whitespace().next(), Some("Z" | "X")))
}

#[test]
fn up_again_replaces_the_previous_cluster_and_a_stale_pid_is_never_signalled() {
    let dir = std::env::temp_dir().join(format!("palisade-cluster-again-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let _down = Down(dir.clone());
    let up = [
        "cluster",
        "up",
        "--nodes",
        "2",
        "--protocol",
        "heartbeat-fixed",
        "--heartbeat",
        "100ms",
        "--timeout",
        "800ms",
        "--port",
        &port,
        "--detach",
    ];
    palisade(&dir, &up);
    assert!(dir.join(".palisade-cluster").is_file(), "up marks the directory it made");

    // A pid file naming another process (a stale pid, reused): faults and `down` leave it
    // alone.
    let other = Reap(Command::new("sleep").arg("60").spawn().unwrap());
    let real = std::fs::read_to_string(dir.join("n1.pid")).unwrap();
    std::fs::write(dir.join("n1.pid"), format!("{}\n", other.0.id())).unwrap();
    for f in ["kill", "pause"] {
        let out = fault(&dir, &[f, "1"]);
        assert_eq!(out.status.code(), Some(3), "fault {f} 1 with a stale pid (a runtime failure): {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("node 1 is not running"), "{out:?}");
    }
    assert!(alive(other.0.id()), "the unrelated process was signalled");
    std::fs::write(dir.join("n1.pid"), real).unwrap();

    // With nftables: a partition, then `up` again over the same directory.
    let nft = nft_usable();
    if let Err(why) = &nft {
        assert!(std::env::var_os("PALISADE_REQUIRE_NFT").is_none(), "PALISADE_REQUIRE_NFT is set but {why}");
        eprintln!("SKIPPED the firewall part: {why}");
    }
    let table = format!("palisade_{}", std::fs::read_to_string(dir.join("cluster.id")).unwrap().trim());
    let tables =
        || String::from_utf8(Command::new("nft").args(["list", "tables"]).output().unwrap().stdout).unwrap();
    if nft.is_ok() {
        inject(
            &dir,
            &["partition", "1", "2"],
            &[(1, "suspect", 2), (2, "suspect", 1)],
            Duration::from_secs(5),
            "the partition",
        );
        assert!(tables().contains(&table));
    }
    let old = pids(&dir, 2);
    palisade(&dir, &up);
    for pid in old {
        assert!(!alive(pid), "the previous cluster's process {pid} still runs");
    }
    if nft.is_ok() {
        assert!(!tables().contains(&table), "the previous cluster's table is left: {}", tables());
    }
    // The new nodes find each other and nobody is suspected.
    std::thread::sleep(Duration::from_secs(3));
    let evs = events(&dir);
    assert!(evs.iter().any(|e| e.1 == "transport"), "the new nodes run: {evs:?}");
    assert!(evs.iter().all(|e| e.1 != "suspect"), "the new cluster is partitioned: {evs:?}");
}
