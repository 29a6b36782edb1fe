//! Running one node of a cluster as a process: what `palisade node` does, for any protocol,
//! from an application's own `main`.
//!
//! [`run`] reads `--config FILE` (and [`Reporting`]'s flags) from the command line, loads
//! the node's key and its peers' public keys, starts the protocol on actix, writes logs to
//! stderr (filtered by `RUST_LOG`, default `info`; notable events at INFO, as text or with
//! `--log-format json` as JSON), with `--json-events` one JSON object per event to stdout,
//! with `--metrics ADDR` Prometheus metrics and a health check over HTTP ([`metrics`]), and
//! stops cleanly on SIGINT or SIGTERM. Bad arguments or configuration end the process with
//! one line on stderr and status 2.
//!
//! Every line on stdout is a JSON object with `schema` ([`EVENT_SCHEMA`]), `node`, `event`
//! and `t_ms` (milliseconds since the process started); all but `output_dropped` also carry
//! `wall_ms` (the node's wall clock, Unix milliseconds). A protocol event that does not
//! serialize as a JSON object is printed as it serializes, without these fields: give
//! events a `#[serde(tag = "event")]` enum, as the built-in protocols do.
//!
//! [`run_with`] also hands the running node's handle to the application, to `call` it.
//!
//! ```toml
//! cluster = 1
//! id = 1
//! listen = "127.0.0.1:7001"
//! data_dir = "data/n1"
//! key_file = "keys/n1/node.key"      # as written by `palisade keygen`
//!
//! [protocol]                         # the protocol's own Config, through serde
//! interval_ms = 500
//!
//! [[peers]]
//! id = 2
//! addr = "127.0.0.1:7002"
//! public_key = "…64 hex digits: keys/n2/node.pub…"
//! ```
//!
//! ```no_run
//! # use palisade::core::protocol::Protocol;
//! # fn demo<MyProtocol: Protocol>() -> std::process::ExitCode
//! # where MyProtocol::Config: serde::de::DeserializeOwned {
//! // fn main() -> std::process::ExitCode {
//!     palisade::node::run::<MyProtocol>()
//! // }
//! # }
//! ```

pub mod metrics;
pub mod output;

use crate::actix::{NodeConfig, NodeHandle, Peer, keys, start};
use crate::core::{NodeId, Protocol};
use output::{Dropped, Lossy};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The version of the JSON event lines' layout; it changes when a field changes meaning or
/// goes away.
pub const EVENT_SCHEMA: u32 = 1;

/// How a node process reports what it does, beyond its stderr log.
#[derive(Clone, Debug, Default)]
pub struct Reporting {
    /// `--json-events`: one JSON object per event on stdout.
    pub json_events: bool,
    /// `--metrics ADDR`: serve `/metrics` and `/healthz` there.
    pub metrics: Option<SocketAddr>,
    /// `--log-format json`: log lines as JSON objects (default: text).
    pub log_json: bool,
}

impl Reporting {
    /// Takes `arg` (and its value from `rest`) if it is one of the reporting flags:
    /// `Ok(true)` when taken, `Ok(false)` when it is not one of them.
    pub fn take_flag(&mut self, arg: &str, rest: &mut impl Iterator<Item = String>) -> Result<bool, String> {
        match arg {
            "--json-events" => self.json_events = true,
            "--metrics" => {
                let addr = rest.next().ok_or("--metrics needs an address such as 127.0.0.1:9100")?;
                let addr = addr
                    .parse()
                    .map_err(|_| format!("--metrics {addr}: not an address such as 127.0.0.1:9100"))?;
                self.metrics = Some(addr);
            }
            "--log-format" => match rest.next().as_deref() {
                Some("json") => self.log_json = true,
                Some("text") => self.log_json = false,
                other => return Err(format!("--log-format {}: text or json", other.unwrap_or("(missing)"))),
            },
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Lines of events the stdout writer holds before it drops (`--json-events`).
const EVENT_QUEUE: usize = 1024;
/// Log lines the stderr writer holds before it drops.
const LOG_QUEUE: usize = 4096;
/// At most one report of dropped lines per writer this often.
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// How long shutdown waits for the writers to write what they hold.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

/// Prints `palisade: MSG` on stderr and returns exit status 2: how bad arguments and bad
/// configuration end a process.
pub fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    // (Not `eprintln!`, which panics if stderr is a closed pipe.)
    let _ = writeln!(std::io::stderr(), "palisade: {msg}");
    ExitCode::from(2)
}

/// Prints `palisade: MSG` on stderr and returns exit status 3: how a failure at run time
/// (a port in use, a file that cannot be read, a node that will not start) ends a process.
pub fn runtime_error(msg: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "palisade: {msg}");
    ExitCode::from(3)
}

/// One `[[peers]]` entry of a configuration file.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// The peer's node id.
    pub id: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its public key, 64 hex digits (its `node.pub`).
    pub public_key: String,
}

/// Who a node is and who its peers are, as its configuration file says.
#[derive(Debug, Clone)]
pub struct Membership {
    /// The cluster id (sessions with other clusters fail their handshake).
    pub cluster: u64,
    /// This node's id.
    pub id: u32,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Where its durable state lives.
    pub data_dir: PathBuf,
    /// Its secret key file (`palisade keygen`'s `node.key`).
    pub key_file: PathBuf,
    /// Every other member.
    pub peers: Vec<PeerEntry>,
}

/// The node's key and its peers, checked.
pub struct Resolved {
    /// This node's signing key.
    pub key: ed25519_dalek::SigningKey,
    /// Every other member, by id.
    pub peers: BTreeMap<NodeId, Peer>,
}

impl Membership {
    /// Loads the key (warning when group or others can read it) and checks the peers: every
    /// key valid and used by one member only, every id once and not this node's.
    pub fn resolve(&self) -> Result<Resolved, String> {
        let key = keys::load_signing_key(&self.key_file).map_err(|e| format!("key_file {e}"))?;
        if let Some(mode) = keys::exposed_mode(&self.key_file) {
            let how = if mode & 0o044 != 0 { "readable" } else { "writable" };
            tracing::warn!(
                "key_file {} is {how} by group or others (mode {mode:04o}): `chmod 600 {0}`",
                self.key_file.display()
            );
        }
        let mut peers = BTreeMap::new();
        for (i, p) in self.peers.iter().enumerate() {
            let pk = keys::parse_verifying_key(&p.public_key, &format!("peers[{i}].public_key"))
                .map_err(|e| e.to_string())?;
            // One key, one member: a key shared by two entries (or with this node) would let
            // either speak as the other.
            if pk == key.verifying_key() || peers.values().any(|q: &Peer| q.key == pk) {
                return Err(format!("peers[{i}].public_key repeats another member's key"));
            }
            if p.id == self.id || peers.insert(NodeId(p.id), Peer { addr: p.addr, key: pk }).is_some() {
                return Err(format!("peers[{i}].id {} repeats a node id", p.id));
            }
        }
        Ok(Resolved { key, peers })
    }
}

/// A configuration file for [`run`]: the membership fields, the protocol's own
/// configuration in a `[protocol]` table, and the application's in an `[app]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct NodeFile<C, A> {
    cluster: u64,
    id: u32,
    listen: SocketAddr,
    data_dir: PathBuf,
    key_file: PathBuf,
    protocol: C,
    app: A,
    #[serde(default)]
    peers: Vec<PeerEntry>,
}

/// The `[app]` table of a node run by [`run`], which has no application: it must be absent
/// (or empty).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct NoApp {}

/// Reads a TOML file into `T`; the error is one line naming the file.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| toml_error(path, &e))
}

/// A TOML error as one line naming the file.
fn toml_error(path: &Path, e: &toml::de::Error) -> String {
    format!("{}: {}", path.display(), e.message().lines().next().unwrap_or("invalid"))
}

/// [`read_toml`] for a node file, with an absent `[app]` table read as an empty one.
fn read_toml_with_app<C: DeserializeOwned, A: DeserializeOwned>(
    path: &Path,
) -> Result<NodeFile<C, A>, String> {
    let mut table: toml::Table = read_toml(path)?;
    table.entry("app").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    table.try_into().map_err(|e| toml_error(path, &e))
}

/// Runs one node of protocol `P` as this process: `--config FILE [--json-events]
/// [--metrics ADDR] [--log-format text|json]` from the command line, the configuration's
/// `[protocol]` table as `P::Config`. Returns the exit status for `main` (0 after SIGINT or
/// SIGTERM, 2 for bad arguments or configuration, 3 when the node cannot start or run: a
/// port in use, a data directory that cannot be written).
pub fn run<P: Protocol>() -> ExitCode
where
    P::Config: DeserializeOwned,
{
    run_with::<P, NoApp>(|_, _| Ok(()))
}

/// [`run`] for a node with an application of its own: the configuration file's `[app]`
/// table is read as `A` (an absent table reads as an empty one), and `app` gets it with the
/// running node's [`NodeHandle`] on the node's actix system once the node has started.
/// `app` spawns its own tasks there (`actix::spawn`, or an actix-web server), which `call`
/// the node and read its events. An `Err` from `app` (a port in use, say) stops the node
/// and the process exits with status 3 after printing it.
pub fn run_with<P: Protocol, A: DeserializeOwned + 'static>(
    app: impl FnOnce(NodeHandle<P>, A) -> Result<(), String> + 'static,
) -> ExitCode
where
    P::Config: DeserializeOwned,
{
    let mut args = std::env::args().skip(1);
    let (mut config, mut reporting) = (None, Reporting::default());
    while let Some(a) = args.next() {
        match reporting.take_flag(&a, &mut args) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => return usage_error(e),
        }
        match a.as_str() {
            "--config" => match args.next() {
                Some(path) => config = Some(PathBuf::from(path)),
                None => return usage_error("--config needs a file"),
            },
            other => {
                return usage_error(format!(
                    "unexpected argument `{other}`; usage: --config FILE [--json-events] [--metrics ADDR] [--log-format text|json]"
                ));
            }
        }
    }
    let Some(config) = config else {
        return usage_error("--config FILE is required");
    };
    // A file that cannot be read is a runtime failure; one that is not a valid
    // configuration, a usage error.
    if let Err(e) = std::fs::metadata(&config) {
        return runtime_error(format!("cannot read {}: {e}", config.display()));
    }
    with_logging(reporting.log_json, || {
        let file: NodeFile<P::Config, A> = match read_toml_with_app(&config) {
            Ok(f) => f,
            Err(e) => return usage_error(e),
        };
        let membership = Membership {
            cluster: file.cluster,
            id: file.id,
            listen: file.listen,
            data_dir: file.data_dir,
            key_file: file.key_file,
            peers: file.peers,
        };
        match membership.resolve() {
            Ok(resolved) => {
                let settings = file.app;
                serve_with::<P>(&membership, resolved, file.protocol, &reporting, move |node| {
                    app(node, settings)
                })
            }
            Err(e) => usage_error(e),
        }
    })
}

/// Runs `body` with logs going to stderr through a bounded, lossy writer on a thread of its
/// own ([`output::Lossy`]), filtered by `RUST_LOG` (default `info`), as text or (`json`)
/// one JSON object per line, and gives what was logged a moment to be written before
/// returning `body`'s status.
pub fn with_logging(json: bool, body: impl FnOnce() -> ExitCode) -> ExitCode {
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
            return ExitCode::from(3);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(log.clone());
    let _ = if json { builder.json().try_init() } else { builder.with_ansi(ansi).try_init() };
    let code = body();
    // Whatever was logged (a warning before a usage error, say) gets its chance to be
    // written; a stderr nobody reads cannot hold the exit up for longer than this.
    log.finish(FLUSH_AT_EXIT);
    code
}

/// Starts protocol `P` for `membership` (its key and peers `resolved`) with `protocol` as
/// its configuration and runs it until SIGINT or SIGTERM. With `json_events`, every event
/// is a JSON object on stdout (through a bounded, lossy writer: a reader that does not keep
/// up loses lines, counted and reported, never the node's time), with the transport's
/// counters whenever they change; with `metrics`, the [`metrics`] endpoint listens there.
pub fn serve<P: Protocol>(
    membership: &Membership,
    resolved: Resolved,
    protocol: P::Config,
    reporting: &Reporting,
) -> ExitCode {
    serve_with::<P>(membership, resolved, protocol, reporting, |_| Ok(()))
}

/// [`serve`], handing the running node's handle to `app` as [`run_with`] does.
pub fn serve_with<P: Protocol>(
    membership: &Membership,
    resolved: Resolved,
    protocol: P::Config,
    reporting: &Reporting,
    app: impl FnOnce(NodeHandle<P>) -> Result<(), String> + 'static,
) -> ExitCode {
    let Resolved { key, peers } = resolved;
    let json = reporting.json_events;
    let metrics_at = match reporting.metrics.map(std::net::TcpListener::bind).transpose() {
        Ok(l) => l,
        Err(e) => {
            return runtime_error(format!(
                "--metrics {}: {e}",
                reporting.metrics.unwrap_or(membership.listen)
            ));
        }
    };
    let recorder = match metrics_at.as_ref().map(|_| metrics::recorder()).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("palisade: cannot install the metrics recorder: {e}");
            return ExitCode::from(3);
        }
    };
    // (The data directory is checked by `start`: created, written, fsynced, removed.)
    let listener = match std::net::TcpListener::bind(membership.listen) {
        Ok(l) => l,
        Err(e) => return runtime_error(format!("listen {}: {e}", membership.listen)),
    };
    let started = std::time::Instant::now();
    let events_out = if json {
        let id = membership.id;
        let report = move |d: Dropped| {
            // The total at exit is reported below, whether stdout drained or not.
            if d.at_exit {
                return None;
            }
            tracing::warn!("{} event lines dropped: stdout not drained ({} in all)", d.since_last, d.total);
            let line = serde_json::json!({
                "schema": EVENT_SCHEMA, "node": id, "event": "output_dropped", "lines": d.since_last, "total": d.total,
                "t_ms": started.elapsed().as_millis() as u64,
            });
            Some(format!("{line}\n"))
        };
        match Lossy::spawn("palisade-events", std::io::stdout(), EVENT_QUEUE, REPORT_EVERY, Box::new(report))
        {
            Ok(out) => Some(out),
            Err(e) => {
                eprintln!("palisade: cannot start the event writer thread: {e}");
                return ExitCode::from(3);
            }
        }
    } else {
        None
    };
    let config = NodeConfig::<P>::new(
        membership.cluster,
        NodeId(membership.id),
        key,
        protocol,
        membership.data_dir.clone(),
    )
    .peers(peers)
    .seed(u64::from(membership.id));
    let system = actix::System::new();
    let out = events_out.clone();
    let code = system.block_on(async move {
        let node: NodeHandle<P> = match start(config, listener) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("palisade: {e}");
                return ExitCode::from(3);
            }
        };
        if let Some(out) = out {
            print_events(&node, out, started);
        }
        if let Err(e) = app(node.clone()) {
            eprintln!("palisade: {e}");
            node.stop().await;
            return ExitCode::from(3);
        }
        if let (Some(listener), Some(handle)) = (metrics_at, recorder) {
            let listener = match listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(listener))
            {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("palisade: metrics endpoint: {e}");
                    node.stop().await;
                    return ExitCode::from(3);
                }
            };
            let (scraped, running) = (node.clone(), node.clone());
            let source = metrics::Source {
                handle,
                refresh: Box::new(move || metrics::record_transport(scraped.stats())),
                healthy: Box::new(move || running.is_running()),
            };
            actix::spawn(metrics::serve(listener, source));
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

/// Writes the node's restored state, its events and its transport counters (whenever they
/// change) to `out`, one JSON object per line, from tasks on the current actix system.
fn print_events<P: Protocol>(node: &NodeHandle<P>, out: Lossy, started: std::time::Instant) {
    let mut events = node.subscribe();
    if let Some(state) = &node.restored {
        let wall_ms = node.clock().now().wall.as_unix_millis();
        let line = serde_json::json!({
            "schema": EVENT_SCHEMA, "node": node.id.0, "event": "restored", "state": state, "wall_ms": wall_ms,
            "t_ms": 0,
        });
        out.line(&line.to_string());
    }
    let events_out = out.clone();
    actix::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) => {
                    let mut v = serde_json::to_value(&e.event).unwrap_or_default();
                    if let Some(m) = v.as_object_mut() {
                        m.insert("schema".into(), EVENT_SCHEMA.into());
                        m.insert("node".into(), e.node.0.into());
                        m.insert("wall_ms".into(), e.wall.as_unix_millis().into());
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
    // Transport counters, whenever they change: rejected handshakes and frames, refused and
    // timed-out connections are how an operator (or a test) sees forged, replayed,
    // malformed or merely hostile traffic.
    let stats = node.clone();
    actix::spawn(async move {
        let mut last = None;
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let s = stats.stats().counts();
            let now = (s.frames_in, s.rejected, s.dropped_queue_full);
            let closed = (s.refused, s.timed_out, s.connects);
            if last != Some((now.1, now.2, closed)) {
                last = Some((now.1, now.2, closed));
                let line = serde_json::json!({
                    "schema": EVENT_SCHEMA, "node": stats.id.0, "event": "transport", "frames_in": now.0,
                    "rejected": now.1, "wall_ms": stats.clock().now().wall.as_unix_millis(),
                    "dropped_queue_full": now.2, "refused": closed.0, "timed_out": closed.1,
                    "connects": closed.2, "t_ms": started.elapsed().as_millis() as u64,
                });
                out.line(&line.to_string());
            }
        }
    });
}
