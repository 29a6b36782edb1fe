//! `palisade node --config node.toml`: run one node of a cluster on actix.
//!
//! ```toml
//! cluster = 1
//! id = 1
//! listen = "127.0.0.1:7001"
//! data_dir = "data/n1"
//! key_file = "keys/n1/node.key"      # as written by `palisade keygen`
//! protocol = "heartbeat-phi"         # heartbeat-phi, heartbeat-fixed, swim, swim-plain,
//!                                    # lease, election, skew or bracha
//! heartbeat_ms = 1000                # optional; SWIM's probe interval too
//! timeout_ms = 5000                  # optional, heartbeat-fixed
//! acceptable_pause_ms = 3000         # optional, heartbeat-phi
//!
//! [bracha]                           # protocol = "bracha": reliable broadcast, INITIALs
//! f = 1                              # signed with the node's key; n = members ≥ 3f + 1
//!
//! [lease]                            # protocol = "lease": the lock service, fenced storage
//! grantor = 1                        # and clients (every other node); all optional but
//! storage = 2                        # grantor and storage. protocol = "election": leader
//!                                    # election by majority leases (storage only needed)
//! term_ms = 10000
//! max_drift_ppm = 200
//! write_every_ms = 200
//! write_delay_ms = 0
//! hold_for_ms = 3000                 # clients release after holding this long (omit: keep)
//! jeopardy_grace_ms = 45000
//! request_timeout_ms = 1000
//!
//! [[peers]]
//! id = 2
//! addr = "127.0.0.1:7002"
//! public_key = "…64 hex digits…"
//! ```

use super::output::{Dropped, Lossy};
use crate::usage_error;
use palisade::actix::{NodeConfig, NodeHandle, Peer, TransportStats, start};
use palisade::core::NodeId;
use palisade::core::Protocol;
use palisade::core::clock::{SkewConfig, SkewMonitor};
use palisade::core::detector::swim::{Swim, SwimConfig};
use palisade::core::detector::{FixedTimeout, Heartbeat, HeartbeatConfig, PhiAccrual};
use palisade::core::lease::election::Election;
use palisade::core::lease::{LeaseConfig, LockService};
use palisade::core::quorum::Keyring;
use palisade::core::quorum::bracha::{Bracha, BrachaConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Arguments of `palisade node`.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// The node's configuration file (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Print one JSON object per protocol event on standard output.
    #[arg(long)]
    json_events: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    cluster: u64,
    id: u32,
    listen: SocketAddr,
    data_dir: PathBuf,
    key_file: PathBuf,
    protocol: String,
    heartbeat_ms: Option<u64>,
    /// heartbeat-fixed: the timeout.
    timeout_ms: Option<u64>,
    /// heartbeat-phi: the acceptable pause.
    acceptable_pause_ms: Option<u64>,
    /// lease: the lock service's parameters.
    lease: Option<LeaseFile>,
    /// bracha: the fault bound.
    bracha: Option<BrachaFile>,
    #[serde(default)]
    peers: Vec<PeerConfig>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct BrachaFile {
    /// Byzantine nodes tolerated; the cluster needs n ≥ 3f + 1.
    f: usize,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LeaseFile {
    /// lease: the grantor (election: unused).
    grantor: Option<u32>,
    storage: u32,
    term_ms: Option<u64>,
    max_drift_ppm: Option<u32>,
    write_every_ms: Option<u64>,
    write_delay_ms: Option<u64>,
    hold_for_ms: Option<u64>,
    jeopardy_grace_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
}

impl LeaseFile {
    fn config(&self) -> LeaseConfig {
        let ms = Duration::from_millis;
        let d = LeaseConfig::default();
        let term = self.term_ms.map_or(d.term, ms);
        LeaseConfig {
            grantor: NodeId(self.grantor.unwrap_or(0)),
            resource: NodeId(self.storage),
            term,
            max_drift_ppm: self.max_drift_ppm.unwrap_or(d.max_drift_ppm),
            renew_after: term / 3,
            jeopardy_grace: self.jeopardy_grace_ms.map_or(d.jeopardy_grace, ms),
            request_timeout: self.request_timeout_ms.map_or(d.request_timeout, ms),
            write_every: self.write_every_ms.map_or(d.write_every, ms),
            write_delay: self.write_delay_ms.map_or(d.write_delay, ms),
            hold_for: self.hold_for_ms.map(ms),
            ..d
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PeerConfig {
    id: u32,
    addr: SocketAddr,
    public_key: String,
}

fn unhex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let s = s.trim();
    if s.len() != 2 * N || !s.is_ascii() {
        return Err(format!("{what} must be {} hex digits", 2 * N));
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| format!("{what} is not hex"))?;
    }
    Ok(out)
}

/// Lines of events the stdout writer holds before it drops (`--json-events`).
const EVENT_QUEUE: usize = 1024;
/// Log lines the stderr writer holds before it drops.
const LOG_QUEUE: usize = 4096;
/// At most one report of dropped lines per writer this often.
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// How long shutdown waits for the writers to write what they hold.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

/// Runs `palisade node`. Logs (with cluster, node and peer spans) go to stderr, filtered
/// by `RUST_LOG` (default `info`); events go to stdout with `--json-events`. Both go through
/// bounded, lossy writers on threads of their own ([`super::output`]): a reader that does not
/// keep up loses lines (counted and reported), never the node's time.
pub fn run(args: NodeArgs) -> ExitCode {
    let report = |d: Dropped| {
        Some(format!(
            "palisade: {} log lines dropped: stderr not drained ({} in all)\n",
            d.since_last, d.total
        ))
    };
    let log = match Lossy::spawn("palisade-log", std::io::stderr(), LOG_QUEUE, REPORT_EVERY, Box::new(report))
    {
        Ok(log) => log,
        Err(e) => {
            eprintln!("palisade: cannot start the log writer thread: {e}");
            return ExitCode::from(1);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(log.clone()).try_init();
    let code = configure(args);
    // Whatever was logged (a warning before a usage error, say) gets its chance to be
    // written; a stderr nobody reads cannot hold the exit up for longer than this.
    log.finish(FLUSH_AT_EXIT);
    code
}

fn configure(args: NodeArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.config) {
        Ok(t) => t,
        Err(e) => return usage_error(format!("cannot read {}: {e}", args.config.display())),
    };
    let file: FileConfig = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            let msg = e.message().to_string();
            return usage_error(format!(
                "{}: {}",
                args.config.display(),
                msg.lines().next().unwrap_or("invalid")
            ));
        }
    };
    let key = match std::fs::read_to_string(&file.key_file) {
        Err(e) => return usage_error(format!("key_file {}: {e}", file.key_file.display())),
        Ok(k) => match unhex::<32>(&k, "key_file") {
            Ok(b) => ed25519_dalek::SigningKey::from_bytes(&b),
            Err(e) => return usage_error(e),
        },
    };
    warn_if_exposed(&file.key_file);
    let mut peers = BTreeMap::new();
    for (i, p) in file.peers.iter().enumerate() {
        let bytes = match unhex::<32>(&p.public_key, &format!("peers[{i}].public_key")) {
            Ok(b) => b,
            Err(e) => return usage_error(e),
        };
        let Ok(pk) = ed25519_dalek::VerifyingKey::from_bytes(&bytes) else {
            return usage_error(format!("peers[{i}].public_key is not a valid ed25519 key"));
        };
        // One key, one member: a key shared by two entries (or with this node) would let
        // either speak as the other.
        if pk == key.verifying_key() || peers.values().any(|q: &Peer| q.key == pk) {
            return usage_error(format!("peers[{i}].public_key repeats another member's key"));
        }
        if p.id == file.id || peers.insert(NodeId(p.id), Peer { addr: p.addr, key: pk }).is_some() {
            return usage_error(format!("peers[{i}].id {} repeats a node id", p.id));
        }
    }
    let interval = Duration::from_millis(file.heartbeat_ms.unwrap_or(1000).max(1));
    match file.protocol.as_str() {
        "heartbeat-phi" => {
            let mut c = HeartbeatConfig::<PhiAccrual> { interval, ..HeartbeatConfig::default() };
            c.detector.first_heartbeat_estimate = interval;
            if let Some(ms) = file.acceptable_pause_ms {
                c.detector.acceptable_heartbeat_pause = Duration::from_millis(ms);
            }
            serve::<Heartbeat<PhiAccrual>>(file, key, peers, c, args.json_events)
        }
        "heartbeat-fixed" => {
            let mut c = HeartbeatConfig::<FixedTimeout> { interval, ..HeartbeatConfig::default() };
            if let Some(ms) = file.timeout_ms {
                c.detector.timeout = Duration::from_millis(ms);
            }
            serve::<Heartbeat<FixedTimeout>>(file, key, peers, c, args.json_events)
        }
        "lease" => {
            let Some(lease) = &file.lease else {
                return usage_error("protocol `lease` needs a [lease] table with grantor and storage");
            };
            let c = lease.config();
            let known = |n: NodeId| n.0 == file.id || peers.contains_key(&n);
            if lease.grantor.is_none() || !known(c.grantor) || !known(c.resource) || c.grantor == c.resource {
                return usage_error("lease.grantor and lease.storage must be two different members");
            }
            serve::<LockService>(file, key, peers, c, args.json_events)
        }
        "election" => {
            // Majority-lease leader election: every member but the storage is an acceptor
            // and candidate; the leader's writes go to the storage, fenced by term.
            let Some(lease) = &file.lease else {
                return usage_error("protocol `election` needs a [lease] table with storage");
            };
            let c = lease.config();
            if !(c.resource.0 == file.id || peers.contains_key(&c.resource)) {
                return usage_error("lease.storage must be a member");
            }
            serve::<Election>(file, key, peers, c, args.json_events)
        }
        "skew" => {
            // The skew monitor: fences this node (event `fenced`) while its wall clock is
            // too far from its peers'; heartbeat_ms is the probe interval.
            let c = SkewConfig { interval, ..SkewConfig::default() };
            serve::<SkewMonitor>(file, key, peers, c, args.json_events)
        }
        "swim" | "swim-plain" => {
            // SWIM with Lifeguard (or without): one probe per heartbeat_ms, the whole
            // configured membership known from the start.
            let lifeguard = file.protocol == "swim";
            let base = if lifeguard { SwimConfig::default() } else { SwimConfig::plain() };
            let c = SwimConfig { probe_interval: interval, probe_timeout: interval / 2, ..base };
            serve::<Swim>(file, key, peers, c, args.json_events)
        }
        "bracha" => {
            let Some(b) = &file.bracha else {
                return usage_error("protocol `bracha` needs a [bracha] table with f");
            };
            let n = peers.len() + 1;
            let config = match BrachaConfig::new(n, b.f, 0) {
                Ok(c) => c,
                Err(e) => return usage_error(format!("bracha.f: {e}")),
            };
            let mut keyring = Keyring::new();
            keyring.insert(NodeId(file.id), key.verifying_key());
            for (&id, p) in &peers {
                keyring.insert(id, p.key);
            }
            let config = config.with_keys(keyring, key.clone());
            serve::<Bracha>(file, key, peers, config, args.json_events)
        }
        other => usage_error(format!(
            "protocol `{other}` is not one of heartbeat-phi, heartbeat-fixed, swim, swim-plain, lease, election, skew, bracha"
        )),
    }
}

/// Warns (one log line naming the file) when a secret key file is open to group or others.
fn warn_if_exposed(key_file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(key_file) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                let how = if mode & 0o044 != 0 { "readable" } else { "writable" };
                tracing::warn!(
                    "key_file {} is {how} by group or others (mode {mode:04o}): `chmod 600 {0}`",
                    key_file.display()
                );
            }
        }
    }
}

fn serve<P: Protocol>(
    file: FileConfig,
    key: ed25519_dalek::SigningKey,
    peers: BTreeMap<NodeId, Peer>,
    protocol: P::Config,
    json: bool,
) -> ExitCode
where
    P::Command: Send,
{
    // (The data directory is checked by `start`: created, written, fsynced, removed.)
    let listener = match std::net::TcpListener::bind(file.listen) {
        Ok(l) => l,
        Err(e) => return usage_error(format!("listen {}: {e}", file.listen)),
    };
    let started = std::time::Instant::now();
    let events_out = if json {
        let id = file.id;
        let report = move |d: Dropped| {
            // The total at exit is reported by `serve` below, whether stdout drained or not.
            if d.at_exit {
                return None;
            }
            tracing::warn!("{} event lines dropped: stdout not drained ({} in all)", d.since_last, d.total);
            let line = serde_json::json!({
                "node": id, "event": "output_dropped", "lines": d.since_last, "total": d.total,
                "t_ms": started.elapsed().as_millis() as u64,
            });
            Some(format!("{line}\n"))
        };
        match Lossy::spawn("palisade-events", std::io::stdout(), EVENT_QUEUE, REPORT_EVERY, Box::new(report))
        {
            Ok(out) => Some(out),
            Err(e) => {
                eprintln!("palisade: cannot start the event writer thread: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let config = NodeConfig::<P> {
        cluster: file.cluster,
        id: NodeId(file.id),
        peers,
        key,
        protocol,
        data_dir: file.data_dir,
        seed: u64::from(file.id),
        limits: Default::default(),
    };
    let system = actix::System::new();
    let out = events_out.clone();
    let code = system.block_on(async move {
        let node: NodeHandle<P> = match start(config, listener) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("palisade: {e}");
                return ExitCode::from(2);
            }
        };
        let mut events = node.subscribe();
        if let Some(out) = out {
            if let Some(state) = &node.restored {
                let line =
                    serde_json::json!({ "node": node.id.0, "event": "restored", "state": state, "t_ms": 0 });
                out.line(&line.to_string());
            }
            let events_out = out.clone();
            actix::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(e) => {
                            let mut v = serde_json::to_value(&e.event).unwrap_or_default();
                            if let Some(m) = v.as_object_mut() {
                                m.insert("node".into(), e.node.0.into());
                                m.insert("t_ms".into(), (started.elapsed().as_millis() as u64).into());
                            }
                            events_out.line(&v.to_string());
                        }
                        // Events the node published faster than this task took them.
                        Err(RecvError::Lagged(n)) => events_out.count_dropped(n),
                        Err(RecvError::Closed) => break,
                    }
                }
            });
            // Transport counters, whenever they change: rejected handshakes and frames,
            // refused and timed-out connections are how an operator (or a test) sees forged,
            // replayed, malformed or merely hostile traffic.
            let stats = node.clone();
            actix::spawn(async move {
                let mut last = None;
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let s = stats.stats();
                    let get = TransportStats::get;
                    let now = (get(&s.frames_in), get(&s.rejected), get(&s.dropped_queue_full));
                    let closed = (get(&s.refused), get(&s.timed_out), get(&s.connects));
                    if last != Some((now.1, now.2, closed)) {
                        last = Some((now.1, now.2, closed));
                        let line = serde_json::json!({
                            "node": stats.id.0, "event": "transport", "frames_in": now.0, "rejected": now.1,
                            "dropped_queue_full": now.2, "refused": closed.0, "timed_out": closed.1,
                            "connects": closed.2, "t_ms": started.elapsed().as_millis() as u64,
                        });
                        out.line(&line.to_string());
                    }
                }
            });
        }
        // SIGINT or SIGTERM: stop the node cleanly.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
        node.stop().await;
        ExitCode::SUCCESS
    });
    if let Some(out) = events_out {
        let f = out.finish(FLUSH_AT_EXIT);
        if !f.drained {
            tracing::warn!(
                "{} event lines dropped, {} more not written at exit: stdout not drained",
                f.dropped,
                f.unwritten
            );
        } else if f.dropped > 0 {
            tracing::warn!("{} event lines dropped in all: stdout was not always drained", f.dropped);
        }
    }
    code
}
