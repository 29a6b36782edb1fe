//! `palisade cluster`: a local cluster of real node processes, and real faults against it.
//!
//! `up` generates keys and configurations under a directory and starts one `palisade node`
//! process per node, node i listening on 127.0.0.(10+i) so a firewall can tell them apart.
//! Each node's JSON events go to `DIR/nI.events`, its log to `DIR/nI.log`, its pid to
//! `DIR/nI.pid`. `up` waits until every node listens, then prints every event as it arrives
//! until interrupted, and stops the nodes on the way out; with `--detach` it returns once
//! they listen and `down` stops them.
//!
//! `up` only ever deletes a directory it made: it writes `DIR/.palisade-cluster` into a
//! directory it creates (or finds empty), and refuses a non-empty one without that marker.
//! Over a previous cluster's directory it first stops that cluster's processes and removes
//! its firewall table. A pid from a pid file is signalled only if `/proc/PID/cmdline` is
//! the palisade binary with the arguments that started that node (or proxy), so a stale pid
//! now used by another process is left alone.
//!
//! `fault` acts on the running processes: `pause`/`resume` (SIGSTOP/SIGCONT), `kill`
//! (SIGKILL), `restart`, and, where nftables is usable (root), `partition A B` (both
//! directions cut), `loss N PERCENT` (random loss of traffic to and from a node) and `heal`.
//! The rules match the nodes' addresses and the cluster's TCP ports (`DIR/cluster.ports`),
//! so other traffic on those loopback addresses is untouched. With `up --delay-proxy`,
//! every connection runs through a userspace relay and `delay A B MS` holds the pair's
//! traffic for MS milliseconds each way (no netem here).

use super::exit::{Failure, parse_duration};
use rand_core::{OsRng, TryRngCore};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The file `up` writes into a cluster directory: only a directory holding it is cleared.
pub const MARKER: &str = ".palisade-cluster";

/// How long `up` waits for the proxy and every node to listen.
const START_WITHIN: Duration = Duration::from_secs(10);

/// `palisade cluster` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ClusterCmd {
    /// Generate keys and configs, start N node processes on loopback.
    Up(UpArgs),
    /// Stop every node of the cluster and remove its firewall rules.
    Down {
        /// The cluster's directory.
        #[arg(long, default_value = "palisade-cluster")]
        dir: PathBuf,
        /// Print `{"stopped": DIR}` on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The delay proxy `up --delay-proxy` starts (not for direct use).
    #[command(hide = true)]
    Proxy {
        /// The cluster's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Nodes.
        #[arg(long, value_parser = clap::value_parser!(u32).range(2..=200))]
        nodes: u32,
        /// The nodes' port.
        #[arg(long)]
        port: u16,
    },
    /// Inject a fault into a running cluster.
    Fault {
        /// The cluster's directory.
        #[arg(long, default_value = "palisade-cluster")]
        dir: PathBuf,
        /// Print the fault injected as one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// The fault.
        #[command(subcommand)]
        fault: FaultCmd,
    },
}

/// Arguments of `palisade cluster up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Number of nodes (2 to 200).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=200))]
    nodes: u32,
    /// heartbeat-phi, heartbeat-fixed, swim, swim-plain, lease (node 1 grants, node 2
    /// stores), election (the last node stores), skew or bracha (f = (n - 1) / 3).
    #[arg(long)]
    protocol: String,
    /// Where keys, configs, data, events and logs go: created, or empty, or a previous
    /// cluster's (whose processes are stopped and whose files are replaced).
    #[arg(long, default_value = "palisade-cluster")]
    dir: PathBuf,
    /// The port every node listens on (each on its own 127.0.0.x address); the delay proxy
    /// also uses the next nodes - 1 ports.
    #[arg(long, default_value_t = 7400)]
    port: u16,
    /// Heartbeat interval (heartbeat protocols, swim, skew), e.g. 200ms.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    heartbeat: Duration,
    /// Timeout (heartbeat-fixed) or acceptable pause (heartbeat-phi), e.g. 1s.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
    /// Return once every node listens instead of printing their events.
    #[arg(long)]
    detach: bool,
    /// Describe the started cluster as one JSON object on stdout (before the events, which
    /// are JSON lines already) instead of a line on stderr.
    #[arg(long)]
    json: bool,
    /// Route every connection through a userspace delay proxy (for `fault delay`).
    #[arg(long)]
    delay_proxy: bool,
}

/// Faults.
#[derive(clap::Subcommand, Debug)]
pub enum FaultCmd {
    /// Freeze a node's process (SIGSTOP): a GC pause, a VM suspend.
    Pause {
        /// The node.
        node: u32,
    },
    /// Resume a paused node (SIGCONT).
    Resume {
        /// The node.
        node: u32,
    },
    /// Kill a node's process (SIGKILL).
    Kill {
        /// The node.
        node: u32,
    },
    /// Start a killed node again from its durable state (kills it first if it runs).
    Restart {
        /// The node.
        node: u32,
    },
    /// Cut both directions between two nodes (nftables; needs root).
    Partition {
        /// One side.
        a: u32,
        /// The other side.
        b: u32,
    },
    /// Drop a random share of the traffic to and from a node (nftables; needs root).
    Loss {
        /// The node.
        node: u32,
        /// Percent of packets dropped, 1 to 100.
        #[arg(value_parser = clap::value_parser!(u32).range(1..=100))]
        percent: u32,
    },
    /// Hold the traffic between two nodes for DELAY each way, e.g. 500ms (needs
    /// `up --delay-proxy`; 0s removes the delay).
    Delay {
        /// One node.
        a: u32,
        /// The other.
        b: u32,
        /// How long each message waits, e.g. 500ms or 1.5s.
        #[arg(value_parser = parse_duration)]
        delay: Duration,
    },
    /// Remove every partition, loss rule and delay.
    Heal,
}

/// A fault as `cluster fault --json` prints it.
fn describe(fault: &FaultCmd) -> serde_json::Value {
    use serde_json::json;
    match fault {
        FaultCmd::Pause { node } => json!({ "fault": "pause", "node": node }),
        FaultCmd::Resume { node } => json!({ "fault": "resume", "node": node }),
        FaultCmd::Kill { node } => json!({ "fault": "kill", "node": node }),
        FaultCmd::Restart { node } => json!({ "fault": "restart", "node": node }),
        FaultCmd::Partition { a, b } => json!({ "fault": "partition", "a": a, "b": b }),
        FaultCmd::Loss { node, percent } => json!({ "fault": "loss", "node": node, "percent": percent }),
        FaultCmd::Delay { a, b, delay } => {
            json!({ "fault": "delay", "a": a, "b": b, "delay_ms": delay.as_millis() as u64 })
        }
        FaultCmd::Heal => json!({ "fault": "heal" }),
    }
}

/// Node `i`'s address: 127.0.0.(10+i) (nodes are at most 200).
pub fn node_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 10)).saturating_add(i))
}

fn pid_file(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("n{i}.pid"))
}

fn nodes_in(dir: &Path) -> Vec<u32> {
    (1..=200).filter(|&i| dir.join(format!("n{i}.toml")).exists()).collect()
}

/// The last port a cluster of `nodes` on `port` uses: `port` itself, or with the delay
/// proxy `port + nodes - 1` (pair a < b's relay listens on `port + a`). Refuses port 0 and
/// ranges that would run past 65535.
pub fn last_port(port: u16, nodes: u32, proxy: bool) -> Result<u16, String> {
    if port == 0 {
        return Err("--port 0: the nodes need a fixed port their peers can dial".into());
    }
    if !proxy {
        return Ok(port);
    }
    let last = u32::from(port) + nodes.saturating_sub(1);
    u16::try_from(last).map_err(|_| {
        format!(
            "--port {port} with {nodes} nodes and the delay proxy needs ports {port} to {last}, past 65535: pick a port of at most {}",
            u32::from(u16::MAX) + 1 - nodes.max(1)
        )
    })
}

/// The arguments `up` starts node `i` with (and finds it again by).
fn node_args(dir: &Path, i: u32) -> Vec<String> {
    let config = dir.join(format!("n{i}.toml")).display().to_string();
    vec!["node".into(), "--json-events".into(), "--config".into(), config]
}

/// The arguments the delay proxy is found by (it is started with `--nodes` and `--port` too).
fn proxy_args(dir: &Path) -> Vec<String> {
    vec!["cluster".into(), "proxy".into(), "--dir".into(), dir.display().to_string()]
}

/// Runs `palisade cluster`.
pub fn run(cmd: ClusterCmd) -> ExitCode {
    let result = match cmd {
        ClusterCmd::Up(args) => up(args),
        ClusterCmd::Down { dir, json } => down(&dir).map(|(code, dir)| {
            if json {
                outln!("{}", serde_json::json!({ "stopped": dir }));
            }
            code
        }),
        ClusterCmd::Fault { dir, json, fault } => {
            let what = describe(&fault);
            self::fault(&dir, fault).inspect(|_| {
                if json {
                    outln!("{what}");
                }
            })
        }
        ClusterCmd::Proxy { dir, nodes, port } => last_port(port, nodes, true)
            .map_err(Failure::Usage)
            .and_then(|_| super::proxy::run(&dir, nodes, port).map_err(Failure::Runtime))
            .map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(Failure::exit)
}

fn up(args: UpArgs) -> Result<ExitCode, Failure> {
    let usage = |m: &str| Err(Failure::Usage(m.to_owned()));
    let (heartbeat_ms, timeout_ms) = (args.heartbeat.as_millis(), args.timeout.as_millis());
    if heartbeat_ms == 0 || timeout_ms == 0 {
        return usage("--heartbeat and --timeout must be at least 1ms");
    }
    let protocol = match args.protocol.as_str() {
        "heartbeat-phi" => format!("protocol = \"heartbeat-phi\"\nheartbeat_ms = {heartbeat_ms}\nacceptable_pause_ms = {timeout_ms}\n"),
        "heartbeat-fixed" => format!("protocol = \"heartbeat-fixed\"\nheartbeat_ms = {heartbeat_ms}\ntimeout_ms = {timeout_ms}\n"),
        "swim" | "swim-plain" => format!("protocol = \"{}\"\nheartbeat_ms = {heartbeat_ms}\n", args.protocol),
        "bracha" if args.nodes >= 4 => format!("protocol = \"bracha\"\n\n[bracha]\nf = {}\nbroadcast = \"hello\"\n", (args.nodes - 1) / 3),
        "bracha" => return usage("--protocol bracha needs at least 4 nodes (n ≥ 3f + 1 with f ≥ 1)"),
        "lease" if args.nodes >= 3 => "protocol = \"lease\"\n\n[lease]\ngrantor = 1\nstorage = 2\nterm_ms = 2000\nmax_drift_ppm = 10000\nwrite_every_ms = 200\nwrite_delay_ms = 100\nhold_for_ms = 5000\njeopardy_grace_ms = 1000\nrequest_timeout_ms = 300\n".to_string(),
        "lease" => return usage("--protocol lease needs at least 3 nodes (grantor, storage, a client)"),
        "election" if args.nodes >= 4 => format!("protocol = \"election\"\n\n[lease]\nstorage = {}\nterm_ms = 2000\nmax_drift_ppm = 10000\nwrite_every_ms = 200\nrequest_timeout_ms = 300\n", args.nodes),
        "election" => return usage("--protocol election needs at least 4 nodes (3 acceptors and the storage, the last node)"),
        "skew" => format!("protocol = \"skew\"\nheartbeat_ms = {heartbeat_ms}\n"),
        other => {
            return usage(&format!(
                "--protocol `{other}` is not one of heartbeat-phi, heartbeat-fixed, swim, swim-plain, lease, election, skew, bracha"
            ));
        }
    };
    let last = last_port(args.port, args.nodes, args.delay_proxy).map_err(Failure::Usage)?;
    let dir = prepare_dir(&args.dir)?;
    check_free(args.nodes, args.port, args.delay_proxy)?;
    let mut id = [0u8; 8];
    OsRng.try_fill_bytes(&mut id).map_err(|e| format!("no randomness from the operating system: {e}"))?;
    // A random cluster id (48 bits: short table names, exact in JSON), so two clusters'
    // frames and firewall tables never mix.
    let cluster = (u64::from_le_bytes(id) >> 16).max(1);
    let mut publics = Vec::new();
    for i in 1..=args.nodes {
        let keys = dir.join(format!("k{i}"));
        std::fs::create_dir_all(&keys).map_err(|e| format!("cannot create {}: {e}", keys.display()))?;
        publics.push(super::keygen::generate(&keys)?);
    }
    for i in 1..=args.nodes {
        let mut cfg = format!(
            "cluster = {cluster}\nid = {i}\nlisten = \"{}:{}\"\ndata_dir = {:?}\nkey_file = {:?}\n{protocol}",
            node_ip(i),
            args.port,
            dir.join(format!("data{i}")),
            dir.join(format!("k{i}/node.key")),
        );
        for j in (1..=args.nodes).filter(|&j| j != i) {
            // Node i dials the higher ids; with the proxy, through the pair's relay.
            let addr = if args.delay_proxy && i < j {
                super::proxy::proxied(i, j, args.port).ok_or("proxy port out of range")?
            } else {
                SocketAddr::new(IpAddr::V4(node_ip(j)), args.port)
            };
            cfg += &format!(
                "\n[[peers]]\nid = {j}\naddr = \"{addr}\"\npublic_key = \"{}\"\n",
                publics[j as usize - 1]
            );
        }
        std::fs::write(dir.join(format!("n{i}.toml")), cfg)
            .map_err(|e| format!("cannot write config: {e}"))?;
    }
    std::fs::write(dir.join("cluster.id"), format!("{cluster}\n")).map_err(|e| e.to_string())?;
    let ports = if last == args.port { args.port.to_string() } else { format!("{}-{last}", args.port) };
    std::fs::write(dir.join("cluster.ports"), format!("{ports}\n")).map_err(|e| e.to_string())?;
    let started = if args.delay_proxy {
        std::fs::create_dir_all(dir.join("delay")).map_err(|e| e.to_string())?;
        let mut proxy = proxy_args(&dir);
        proxy.extend(["--nodes".into(), args.nodes.to_string(), "--port".into(), args.port.to_string()]);
        start_process(&dir, "proxy", &proxy)?;
        // Nodes dial the proxy: it must listen first (its last relay is bound last).
        let last_relay =
            super::proxy::proxied(args.nodes - 1, args.nodes, args.port).ok_or("proxy port out of range")?;
        await_listening(&dir, "proxy", last_relay, || proxy_running(&dir).is_some())
    } else {
        Ok(())
    };
    let started = started.and_then(|()| {
        for i in 1..=args.nodes {
            spawn(&dir, i)?;
        }
        await_nodes(&dir, args.nodes, args.port)
    });
    if let Err(why) = started {
        stop(&dir);
        return Err(Failure::Runtime(format!(
            "the cluster in {} did not start: {why}; stopped it",
            dir.display()
        )));
    }
    if args.json {
        let nodes: Vec<_> = (1..=args.nodes)
            .map(|i| {
                serde_json::json!({
                    "id": i,
                    "addr": SocketAddr::new(IpAddr::V4(node_ip(i)), args.port),
                    "pid": running(&dir, i),
                    "events": dir.join(format!("n{i}.events")),
                    "log": dir.join(format!("n{i}.log")),
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "dir": dir,
                "protocol": args.protocol,
                "cluster": cluster,
                "port": args.port,
                "delay_proxy": args.delay_proxy,
                "nodes": nodes,
            })
        );
    } else {
        errln!(
            "palisade cluster: {} {} nodes on {}..{} port {} in {}",
            args.nodes,
            args.protocol,
            node_ip(1),
            node_ip(args.nodes),
            args.port,
            dir.display()
        );
    }
    if args.detach {
        return Ok(ExitCode::SUCCESS);
    }
    follow(&dir);
    down(&dir).map(|(code, _)| code)
}

/// Makes `dir` ready for a new cluster and returns its canonical path. A missing directory
/// is created and an empty one taken; one holding [`MARKER`] is a previous cluster's: its
/// processes are stopped, its firewall table removed and its files deleted. Any other
/// directory is refused, and nothing in it touched.
fn prepare_dir(dir: &Path) -> Result<PathBuf, Failure> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Err(e) => return Err(Failure::Runtime(format!("--dir {}: {e}", dir.display()))),
        Ok(meta) if !meta.is_dir() => {
            return Err(Failure::Usage(format!("--dir {} is not a directory", dir.display())));
        }
        Ok(_) => {}
    }
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if entries.next().is_some() {
        let ours = std::fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file());
        if !ours {
            return Err(Failure::Usage(format!(
                "--dir {} is not empty and was not made by `palisade cluster up` (no {MARKER} in it): \
                 refusing to delete anything in it; name a new or empty directory",
                dir.display()
            )));
        }
        let stopped = stop(&dir);
        if stopped > 0 {
            errln!(
                "palisade cluster: stopped {stopped} processes of the previous cluster in {}",
                dir.display()
            );
        }
        clear(&dir)?;
    }
    std::fs::write(
        dir.join(MARKER),
        "made by `palisade cluster up`, which deletes everything in this directory when it starts a new cluster here\n",
    )
    .map_err(|e| format!("cannot write {}: {e}", dir.join(MARKER).display()))?;
    Ok(dir)
}

/// Deletes everything in `dir` but the marker (symbolic links themselves, not their targets).
fn clear(dir: &Path) -> Result<(), String> {
    let fail = |path: &Path, e: std::io::Error| format!("cannot remove {}: {e}", path.display());
    for entry in std::fs::read_dir(dir).map_err(|e| fail(dir, e))? {
        let entry = entry.map_err(|e| fail(dir, e))?;
        if entry.file_name() == MARKER {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().map_err(|e| fail(&path, e))?.is_dir();
        let removed = if is_dir { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|e| fail(&path, e))?;
    }
    Ok(())
}

/// Checks that nothing listens where the cluster will: every node's address and port, and
/// with the proxy every relay's.
fn check_free(nodes: u32, port: u16, proxy: bool) -> Result<(), String> {
    let mut addrs: Vec<SocketAddr> =
        (1..=nodes).map(|i| SocketAddr::new(IpAddr::V4(node_ip(i)), port)).collect();
    if proxy {
        for b in 2..=nodes {
            for a in 1..b {
                addrs.push(super::proxy::proxied(a, b, port).ok_or("proxy port out of range")?);
            }
        }
    }
    for addr in addrs {
        TcpListener::bind(addr).map_err(|e| format!("{addr} is taken ({e}): pick another --port"))?;
    }
    Ok(())
}

/// Waits until something accepts connections on `addr` while `still_up()` holds, at most
/// [`START_WITHIN`]; otherwise says why, naming `name`'s log file.
fn await_listening(
    dir: &Path,
    name: &str,
    addr: SocketAddr,
    still_up: impl Fn() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + START_WITHIN;
    loop {
        if !still_up() {
            return Err(exited(dir, name));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(not_listening(dir, name, addr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until every node listens on its address with its process alive, at most
/// [`START_WITHIN`] in all; otherwise names each node that did not, and its log file.
fn await_nodes(dir: &Path, nodes: u32, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_WITHIN;
    let addr = |i: u32| SocketAddr::new(IpAddr::V4(node_ip(i)), port);
    let mut waiting: Vec<u32> = (1..=nodes).collect();
    let mut gone = Vec::new();
    loop {
        waiting.retain(|&i| {
            if running(dir, i).is_none() {
                gone.push(i);
                return false;
            }
            TcpStream::connect_timeout(&addr(i), Duration::from_millis(100)).is_err()
        });
        if waiting.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // A node that listened but failed right after (unreadable durable state, say) is gone
    // a moment later.
    std::thread::sleep(Duration::from_millis(200));
    for i in 1..=nodes {
        if !gone.contains(&i) && !waiting.contains(&i) && running(dir, i).is_none() {
            gone.push(i);
        }
    }
    gone.sort_unstable();
    let mut why: Vec<String> = gone.iter().map(|&i| exited(dir, &format!("n{i}"))).collect();
    why.extend(waiting.iter().map(|&i| not_listening(dir, &format!("n{i}"), addr(i))));
    if why.is_empty() { Ok(()) } else { Err(why.join("; ")) }
}

fn exited(dir: &Path, name: &str) -> String {
    let log = dir.join(format!("{name}.log"));
    let last = std::fs::read_to_string(&log).ok().and_then(|text| {
        let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim().to_string();
        Some(line.chars().take(200).collect::<String>())
    });
    match last {
        Some(line) => format!("{name} exited (`{line}`; see {})", log.display()),
        None => format!("{name} exited (see {})", log.display()),
    }
}

fn not_listening(dir: &Path, name: &str, addr: SocketAddr) -> String {
    let log = dir.join(format!("{name}.log"));
    format!("{name} is not listening on {addr} after {} s (see {})", START_WITHIN.as_secs(), log.display())
}

/// Starts node `i`'s process, appending to its events and log files; records its pid.
fn spawn(dir: &Path, i: u32) -> Result<u32, String> {
    start_process(dir, &format!("n{i}"), &node_args(dir, i))
}

/// Starts `palisade ARGS` as `name`: stdout to `name.events`, stderr to `name.log`, pid in
/// `name.pid`.
fn start_process(dir: &Path, name: &str, args: &[String]) -> Result<u32, String> {
    let append = |name: String| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(&name))
            .map_err(|e| format!("cannot open {name}: {e}"))
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the palisade binary: {e}"))?;
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(append(format!("{name}.events"))?)
        .stderr(append(format!("{name}.log"))?)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    std::fs::write(dir.join(format!("{name}.pid")), format!("{}\n", child.id()))
        .map_err(|e| e.to_string())?;
    // Just after the exec the new process's arguments are not readable yet: wait until it
    // can be recognised (or has exited), so the identity checks that follow are not fooled.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !is_ours(child.id(), args) && Instant::now() < deadline {
        if child.try_wait().map_or(true, |status| status.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(child.id())
}

/// The pid of node `i` (of the cluster in `dir`, a canonical path) if that process is
/// alive and is the node `up` started (see [`verified`]).
fn running(dir: &Path, i: u32) -> Option<u32> {
    verified(&pid_file(dir, i), &node_args(dir, i))
}

/// The pid of the cluster's delay proxy, if it runs (see [`verified`]).
fn proxy_running(dir: &Path) -> Option<u32> {
    verified(&dir.join("proxy.pid"), &proxy_args(dir))
}

/// The pid in `file` if that process is alive (not a zombie) and is one we started: a
/// palisade binary whose arguments include `args`, in order. A pid that now belongs to
/// another process (the pid file is stale and the number reused) gives `None`.
fn verified(file: &Path, args: &[String]) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    is_ours(pid, args).then_some(pid)
}

fn is_ours(pid: u32, args: &[String]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let argv: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    // A palisade binary: named so, or named as this one is.
    let exe = argv.first().and_then(|a| Path::new(std::ffi::OsStr::from_bytes(a)).file_name());
    let this = std::env::current_exe().ok();
    let this = this.as_deref().and_then(Path::file_name);
    if !exe.is_some_and(|name| name.as_bytes().starts_with(b"palisade") || Some(name) == this) {
        return false;
    }
    let want: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    if want.is_empty() || !argv.windows(want.len()).any(|w| w == want.as_slice()) {
        return false;
    }
    alive(pid)
}

/// True while process `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
    state.is_some_and(|s| s != "Z" && s != "X")
}

fn signal(pid: u32, sig: &str) -> Result<(), String> {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| e.to_string())?;
    if ok.success() { Ok(()) } else { Err(format!("kill -{sig} {pid} failed")) }
}

/// Prints every node's new event lines until interrupted (SIGINT or SIGTERM).
fn follow(dir: &Path) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
        if let Ok(rt) = rt {
            rt.block_on(async {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {}
                }
            });
        }
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    // Per node: its events file, kept open and read from where the last read stopped, and
    // the tail of an incomplete line.
    let mut files: Vec<(PathBuf, Option<std::fs::File>, Vec<u8>)> =
        nodes_in(dir).into_iter().map(|i| (dir.join(format!("n{i}.events")), None, Vec::new())).collect();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        for (path, file, pending) in &mut files {
            if file.is_none() {
                *file = std::fs::File::open(&*path).ok();
            }
            if let Some(f) = file.as_mut() {
                let _ = std::io::Read::read_to_end(f, pending);
                let complete = pending.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                if !super::exit::try_write(&String::from_utf8_lossy(&pending[..complete])) {
                    // Nobody reads the events any more: stop the cluster rather than run on.
                    return;
                }
                pending.drain(..complete);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops the cluster in `dir`; returns the status and the directory's canonical path.
fn down(dir: &Path) -> Result<(ExitCode, PathBuf), Failure> {
    let no_cluster = || Failure::Usage(format!("no cluster in {}", dir.display()));
    let dir = dir.canonicalize().map_err(|_| no_cluster())?;
    if nodes_in(&dir).is_empty() {
        return Err(no_cluster());
    }
    stop(&dir);
    Ok((ExitCode::SUCCESS, dir))
}

/// Stops the processes of the cluster in `dir` (canonical) that are still ours (SIGCONT,
/// then SIGKILL), waits for them to go, removes the pid files and the cluster's firewall
/// table. Returns how many processes it stopped.
fn stop(dir: &Path) -> usize {
    let mut pids = Vec::new();
    for i in nodes_in(dir) {
        if let Some(pid) = running(dir, i) {
            let _ = signal(pid, "CONT");
            let _ = signal(pid, "KILL");
            pids.push(pid);
        }
        let _ = std::fs::remove_file(pid_file(dir, i));
    }
    if let Some(pid) = proxy_running(dir) {
        let _ = signal(pid, "KILL");
        pids.push(pid);
    }
    let _ = std::fs::remove_file(dir.join("proxy.pid"));
    // Their ports are free once they are gone.
    let deadline = Instant::now() + Duration::from_secs(3);
    while pids.iter().any(|&pid| alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    delete_table(dir);
    pids.len()
}

/// Removes the cluster's nftables table, if there is one (none when no fault was injected,
/// or without root).
fn delete_table(dir: &Path) {
    if let Some(table) = nft_table(dir) {
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &table])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn nft_table(dir: &Path) -> Option<String> {
    let id: u64 = std::fs::read_to_string(dir.join("cluster.id")).ok()?.trim().parse().ok()?;
    Some(format!("palisade_{id}"))
}

/// The cluster's TCP ports as nftables writes them (`7400`, or `7400-7404` with the proxy).
fn nft_ports(dir: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(dir.join("cluster.ports")).map_err(|_| {
        format!("{} has no cluster.ports (made by an older palisade): run `cluster up` again", dir.display())
    })?;
    let text = text.trim();
    let valid = match text.split_once('-') {
        Some((a, b)) => a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok(),
        None => text.parse::<u16>().is_ok(),
    };
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{}/cluster.ports is not a port range", dir.display()))
    }
}

/// Runs one nft command (the table and chain are created on first use).
fn nft(dir: &Path, rules: &[String]) -> Result<(), String> {
    let table = nft_table(dir).ok_or_else(|| format!("no cluster in {}", dir.display()))?;
    let mut script = format!(
        "add table inet {table}\nadd chain inet {table} out {{ type filter hook output priority 0; policy accept; }}\n"
    );
    for r in rules {
        script += &format!("add rule inet {table} out {r}\n");
    }
    let mut child =
        Command::new("nft").args(["-f", "-"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(
            |e| format!("nftables is not usable here (nft: {e}); partitions and loss need it, as root"),
        )?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(script.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "nft refused the rules (root needed): {}",
            err.lines().next().unwrap_or("").trim()
        ));
    }
    Ok(())
}

fn fault(dir: &Path, fault: FaultCmd) -> Result<ExitCode, Failure> {
    let no_cluster = || Failure::Usage(format!("no cluster in {}", dir.display()));
    let dir = &dir.canonicalize().map_err(|_| no_cluster())?;
    let nodes = nodes_in(dir);
    if nodes.is_empty() {
        return Err(no_cluster());
    }
    let member = |i: u32| {
        if nodes.contains(&i) {
            Ok(i)
        } else {
            Err(Failure::Usage(format!("node {i} is not in the cluster (1..={})", nodes.len())))
        }
    };
    let live =
        |i: u32| running(dir, member(i)?).ok_or_else(|| Failure::Runtime(format!("node {i} is not running")));
    let ip = |i: u32| IpAddr::V4(node_ip(i));
    match fault {
        FaultCmd::Pause { node } => signal(live(node)?, "STOP")?,
        FaultCmd::Resume { node } => signal(live(node)?, "CONT")?,
        FaultCmd::Kill { node } => signal(live(node)?, "KILL")?,
        FaultCmd::Restart { node } => {
            member(node)?;
            if let Some(pid) = running(dir, node) {
                let _ = signal(pid, "CONT");
                signal(pid, "KILL")?;
                // Wait for the port to be free.
                for _ in 0..50 {
                    if running(dir, node).is_none() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            spawn(dir, node)?;
        }
        FaultCmd::Partition { a, b } => {
            let (a, b) = (ip(member(a)?), ip(member(b)?));
            let ports = nft_ports(dir)?;
            // The cluster's connections only: to a cluster port, or from one.
            let mut rules = Vec::new();
            for (from, to) in [(a, b), (b, a)] {
                rules.push(format!("ip saddr {from} ip daddr {to} tcp dport {ports} drop"));
                rules.push(format!("ip saddr {from} ip daddr {to} tcp sport {ports} drop"));
            }
            nft(dir, &rules)?;
        }
        FaultCmd::Loss { node, percent } => {
            let n = ip(member(node)?);
            let p = percent.min(100);
            let ports = nft_ports(dir)?;
            // Each of the cluster's packets to or from the node matches one rule (one draw).
            let lose = format!("numgen random mod 100 < {p} drop");
            let mut rules = Vec::new();
            for end in ["saddr", "daddr"] {
                rules.push(format!("ip {end} {n} tcp dport {ports} {lose}"));
                rules.push(format!("ip {end} {n} tcp sport {ports} tcp dport != {ports} {lose}"));
            }
            nft(dir, &rules)?;
        }
        FaultCmd::Delay { a, b, delay } => {
            let (a, b) = (member(a)?, member(b)?);
            if a == b {
                return Err(Failure::Usage("delay needs two different nodes".into()));
            }
            let ms = delay.as_millis();
            if proxy_running(dir).is_none() {
                return Err("no delay proxy runs: start the cluster with `cluster up --delay-proxy`".into());
            }
            std::fs::write(super::proxy::delay_file(dir, a, b), format!("{ms}\n"))
                .map_err(|e| e.to_string())?;
        }
        FaultCmd::Heal => {
            if let Ok(entries) = std::fs::read_dir(dir.join("delay")) {
                for e in entries.flatten() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
            delete_table(dir);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("palisade-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    }

    #[test]
    fn port_ranges_that_would_pass_65535_are_refused() {
        assert_eq!(last_port(7400, 200, false), Ok(7400));
        assert_eq!(last_port(7400, 5, true), Ok(7404));
        assert_eq!(last_port(65533, 3, true), Ok(65535));
        assert!(last_port(65534, 3, true).unwrap_err().contains("at most 65533"));
        assert_eq!(last_port(65535, 2, false), Ok(65535));
        assert!(last_port(0, 2, false).is_err());
        assert_eq!(
            super::super::proxy::proxied(2, 3, 65533),
            Some(SocketAddr::from(([127, 0, 0, 13], 65535)))
        );
        assert_eq!(super::super::proxy::proxied(3, 4, 65533), None);
    }

    #[test]
    fn a_pid_of_another_process_is_never_taken_for_a_node() {
        let dir = temp_dir("identity");
        // This test process is alive, and even a binary named palisade-*, but not node 1.
        std::fs::write(pid_file(&dir, 1), format!("{}\n", std::process::id())).unwrap();
        assert_eq!(running(&dir, 1), None);
        // A pid file naming no process, or not a pid at all.
        std::fs::write(pid_file(&dir, 2), "4294967295\n").unwrap();
        assert_eq!(running(&dir, 2), None);
        std::fs::write(pid_file(&dir, 3), "1; rm -rf /\n").unwrap();
        assert_eq!(running(&dir, 3), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_node_that_exited_at_start_is_named_with_its_log() {
        let dir = temp_dir("exited");
        std::fs::write(dir.join("n1.toml"), "").unwrap();
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        std::fs::write(pid_file(&dir, 1), format!("{}\n", gone.id())).unwrap();
        std::fs::write(dir.join("n1.log"), "starting\npalisade: listen 127.0.0.11:1: denied\n\n").unwrap();
        let why = await_nodes(&dir, 1, 1).unwrap_err();
        assert_eq!(
            why,
            format!("n1 exited (`palisade: listen 127.0.0.11:1: denied`; see {}/n1.log)", dir.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_a_marked_directory_is_cleared() {
        let dir = temp_dir("marker");
        std::fs::write(dir.join("precious"), "keep").unwrap();
        let Err(Failure::Usage(err)) = prepare_dir(&dir) else { panic!("a usage error") };
        assert!(
            err.contains("not made by `palisade cluster up`") && err.contains(&dir.display().to_string())
        );
        assert_eq!(std::fs::read_to_string(dir.join("precious")).unwrap(), "keep");
        // Marked: cleared (a symbolic link inside is removed, not followed), marker kept.
        std::fs::write(dir.join(MARKER), "").unwrap();
        let outside = temp_dir("marker-outside");
        std::fs::write(outside.join("kept"), "").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        std::fs::create_dir_all(dir.join("data1/sub")).unwrap();
        assert_eq!(prepare_dir(&dir).unwrap(), dir);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from(MARKER)]);
        assert!(outside.join("kept").exists());
        // Missing: created and marked; a file: refused.
        let fresh = dir.join("fresh");
        prepare_dir(&fresh).unwrap();
        assert!(fresh.join(MARKER).is_file());
        assert!(
            matches!(prepare_dir(&dir.join(MARKER)), Err(Failure::Usage(e)) if e.contains("not a directory"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
