//! Real processes: three `palisade node`s on loopback with heartbeat detection. One is
//! killed; the others report it suspected within the configured bound. Every process the
//! test starts is killed when it ends, pass or fail.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kills every child on drop, so a failing assertion leaves no process behind.
struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn palisade() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

#[test]
fn a_killed_node_is_suspected_by_the_others_within_the_bound() {
    let dir = std::env::temp_dir().join(format!("palisade-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Keys from the real `keygen`; ports picked by the OS.
    let mut publics = Vec::new();
    for n in 1..=3 {
        let out = palisade().args(["keygen", "--out"]).arg(dir.join(format!("k{n}"))).output().unwrap();
        assert!(out.status.success());
        publics.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    let ports: Vec<u16> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
        .collect();
    let mut children = Cluster(Vec::new());
    let lines: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    for n in 1..=3usize {
        let mut cfg = format!(
            "cluster = 9\nid = {n}\nlisten = \"127.0.0.1:{}\"\ndata_dir = {:?}\nkey_file = {:?}\n\
             protocol = \"heartbeat-fixed\"\nheartbeat_ms = 100\ntimeout_ms = 1000\n",
            ports[n - 1],
            dir.join(format!("data{n}")),
            dir.join(format!("k{n}/node.key")),
        );
        for m in (1..=3usize).filter(|&m| m != n) {
            cfg += &format!(
                "\n[[peers]]\nid = {m}\naddr = \"127.0.0.1:{}\"\npublic_key = \"{}\"\n",
                ports[m - 1],
                publics[m - 1]
            );
        }
        let path = dir.join(format!("n{n}.toml"));
        std::fs::write(&path, cfg).unwrap();
        let mut child = palisade()
            .args(["node", "--json-events", "--config"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        children.0.push(child);
    }
    // Let them find each other, then check nobody was suspected.
    std::thread::sleep(Duration::from_secs(3));
    let suspects = |lines: &[(Instant, String)], peer: u32| -> Vec<(Instant, u64)> {
        lines
            .iter()
            .filter_map(|(at, l)| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["event"] == "suspect" && v["peer"] == peer).then(|| (*at, v["node"].as_u64().unwrap_or(0)))
            })
            .collect()
    };
    for p in 1..=3 {
        assert!(suspects(&lines.lock().unwrap(), p).is_empty(), "live node n{p} suspected");
    }
    // Kill node 3 (SIGKILL): the others must suspect it within timeout + slack.
    let killed_at = Instant::now();
    children.0[2].kill().unwrap();
    let bound = Duration::from_millis(1000 + 2000);
    let deadline = killed_at + bound + Duration::from_secs(2);
    loop {
        let found = suspects(&lines.lock().unwrap(), 3);
        let observers: std::collections::BTreeSet<u64> = found.iter().map(|&(_, n)| n).collect();
        if observers.len() == 2 {
            for (at, n) in found {
                assert!(
                    at.duration_since(killed_at) <= bound,
                    "n{n} took {:?}",
                    at.duration_since(killed_at)
                );
            }
            break;
        }
        assert!(Instant::now() < deadline, "not suspected in time: {:?}", lines.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(children);
    let _ = std::fs::remove_dir_all(&dir);
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
