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

/// One HTTP/1.1 exchange with the metrics endpoint: what it answered (empty if it closed
/// without answering).
fn http(addr: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The value of the first sample of `metric` (name and labels exactly as rendered).
fn sample(body: &str, metric: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(metric)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn metrics_health_json_logs_and_event_schema_of_a_node_process() {
    let mut c = beacons("own-node-metrics");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    c.start_logged_with(1, &["--metrics", &addr]);
    let log = c.start_logged_with(2, &["--log-format", "json"]);
    let patience = Duration::from_secs(20);
    c.wait_for(patience, "n1 hearing n2", |_| (heard(&c, 1, 2) >= 3).then_some(()));

    // The persist count can lag the events counted above: read at once, it was below 3 once
    // under load. Scrape until it reaches 3 (the bound is unchanged) or patience runs out.
    let scrape = || http(&addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let deadline = std::time::Instant::now() + patience;
    let mut metrics = scrape();
    while sample(&metrics, "palisade_persist_seconds_count").unwrap_or(0.0) < 3.0
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
        metrics = scrape();
    }
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    let heard_n = sample(&metrics, "palisade_events_total{event=\"heard\"}").expect("heard counted");
    assert!(heard_n >= 3.0, "{metrics}");
    assert!(sample(&metrics, "palisade_frames_in_total").unwrap_or(0.0) >= 3.0, "{metrics}");
    assert!(sample(&metrics, "palisade_persist_seconds_count").unwrap_or(0.0) >= 3.0, "{metrics}");
    assert_eq!(sample(&metrics, "palisade_rejected_total"), Some(0.0), "{metrics}");
    assert!(http(&addr, b"GET /healthz HTTP/1.1\r\n\r\n").ends_with("\r\n\r\nok\n"));
    assert!(http(&addr, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(http(&addr, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    assert!(http(&addr, b"\x16\x03\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(http(&addr, &[b'a'; 8192]).starts_with("HTTP/1.1 431"));
    // Connections that never finish their request cannot shut a health check out: at the
    // cap, a new connection closes the oldest.
    let mut idle: Vec<_> = (0..palisade::node::metrics::MAX_CONNECTIONS)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(http(&addr, b"GET /healthz HTTP/1.1\r\n\r\n").ends_with("ok\n"), "answered at the cap");
    let oldest = &mut idle[0];
    oldest.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        std::io::Read::read(oldest, &mut buf).unwrap_or(0),
        0,
        "the oldest idle connection was closed"
    );
    drop(idle);

    // Event lines carry the schema version and the node's wall clock.
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let line = events(&c.seen(), 1, "heard").next().unwrap().v.clone();
    assert_eq!(line["schema"], 1, "{line}");
    assert!(num(&line, "wall_ms").abs_diff(now_ms) < 60_000, "{line}");
    // --log-format json: every log line is a JSON object; notable events are at INFO.
    c.signal(2, "TERM");
    assert_eq!(c.wait_exit(2, Duration::from_secs(10)).and_then(|s| s.code()), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO" && l["fields"]["event"] == "heard"),
        "no INFO line for a heard event in {text}"
    );
}
