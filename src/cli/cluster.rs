//! `palisade cluster`: a local cluster of real node processes, and real faults against it.
//!
//! `up` generates keys and configurations under a directory and starts one `palisade node`
//! process per node, node i listening on 127.0.0.(10+i) so a firewall can tell them apart.
//! Each node's JSON events go to `DIR/nI.events`, its log to `DIR/nI.log`, its pid to
//! `DIR/nI.pid`. `up` then prints every event as it arrives until interrupted, and stops the
//! nodes on the way out; with `--detach` it returns at once and `down` stops them.
//!
//! `fault` acts on the running processes: `pause`/`resume` (SIGSTOP/SIGCONT), `kill`
//! (SIGKILL), `restart`, and, where nftables is usable (root), `partition A B` (both
//! directions cut), `loss N PERCENT` (random loss of traffic to and from a node) and `heal`.
//! With `up --delay-proxy`, every connection runs through a userspace relay and
//! `delay A B MS` holds the pair's traffic for MS milliseconds each way (no netem here).

use crate::usage_error;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

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
    },
    /// The delay proxy `up --delay-proxy` starts (not for direct use).
    #[command(hide = true)]
    Proxy {
        /// The cluster's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Nodes.
        #[arg(long)]
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
    /// Where keys, configs, data, events and logs go (replaced if it holds a stopped cluster).
    #[arg(long, default_value = "palisade-cluster")]
    dir: PathBuf,
    /// The port every node listens on (each on its own 127.0.0.x address).
    #[arg(long, default_value_t = 7400)]
    port: u16,
    /// Heartbeat interval (heartbeat protocols).
    #[arg(long, default_value_t = 200)]
    heartbeat_ms: u64,
    /// Timeout (heartbeat-fixed) or acceptable pause (heartbeat-phi).
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Return once the nodes are started instead of printing their events.
    #[arg(long)]
    detach: bool,
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
    /// Hold the traffic between two nodes for MS milliseconds each way (needs
    /// `up --delay-proxy`; 0 removes the delay).
    Delay {
        /// One node.
        a: u32,
        /// The other.
        b: u32,
        /// Milliseconds.
        ms: u64,
    },
    /// Remove every partition, loss rule and delay.
    Heal,
}

/// Node `i`'s address.
pub fn node_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 10 + i as u8)
}

fn pid_file(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("n{i}.pid"))
}

fn nodes_in(dir: &Path) -> Vec<u32> {
    (1..=200).filter(|&i| dir.join(format!("n{i}.toml")).exists()).collect()
}

/// Runs `palisade cluster`.
pub fn run(cmd: ClusterCmd) -> ExitCode {
    let result = match cmd {
        ClusterCmd::Up(args) => up(args),
        ClusterCmd::Down { dir } => down(&dir),
        ClusterCmd::Fault { dir, fault } => self::fault(&dir, fault),
        ClusterCmd::Proxy { dir, nodes, port } => {
            super::proxy::run(&dir, nodes, port).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => usage_error(e),
    }
}

fn up(args: UpArgs) -> Result<ExitCode, String> {
    let dir = &args.dir;
    if nodes_in(dir).iter().any(|&i| running(dir, i).is_some()) {
        return Err(format!(
            "a cluster is running in {}: `palisade cluster down --dir {0}` first",
            dir.display()
        ));
    }
    let protocol = match args.protocol.as_str() {
        "heartbeat-phi" => format!("protocol = \"heartbeat-phi\"\nheartbeat_ms = {}\nacceptable_pause_ms = {}\n", args.heartbeat_ms, args.timeout_ms),
        "heartbeat-fixed" => format!("protocol = \"heartbeat-fixed\"\nheartbeat_ms = {}\ntimeout_ms = {}\n", args.heartbeat_ms, args.timeout_ms),
        "swim" | "swim-plain" => format!("protocol = \"{}\"\nheartbeat_ms = {}\n", args.protocol, args.heartbeat_ms),
        "bracha" if args.nodes >= 4 => format!("protocol = \"bracha\"\n\n[bracha]\nf = {}\n", (args.nodes - 1) / 3),
        "bracha" => return Err("--protocol bracha needs at least 4 nodes (n ≥ 3f + 1 with f ≥ 1)".into()),
        "lease" if args.nodes >= 3 => "protocol = \"lease\"\n\n[lease]\ngrantor = 1\nstorage = 2\nterm_ms = 2000\nmax_drift_ppm = 10000\nwrite_every_ms = 200\nwrite_delay_ms = 100\nhold_for_ms = 5000\njeopardy_grace_ms = 1000\nrequest_timeout_ms = 300\n".to_string(),
        "lease" => return Err("--protocol lease needs at least 3 nodes (grantor, storage, a client)".into()),
        "election" if args.nodes >= 4 => format!("protocol = \"election\"\n\n[lease]\nstorage = {}\nterm_ms = 2000\nmax_drift_ppm = 10000\nwrite_every_ms = 200\nrequest_timeout_ms = 300\n", args.nodes),
        "election" => return Err("--protocol election needs at least 4 nodes (3 acceptors and the storage, the last node)".into()),
        "skew" => format!("protocol = \"skew\"\nheartbeat_ms = {}\n", args.heartbeat_ms),
        other => {
            return Err(format!(
                "--protocol `{other}` is not one of heartbeat-phi, heartbeat-fixed, swim, swim-plain, lease, election, skew, bracha"
            ));
        }
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let cluster: u64 = std::process::id().into();
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
                super::proxy::proxied(i, j, args.port)
            } else {
                std::net::SocketAddr::new(IpAddr::V4(node_ip(j)), args.port)
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
    if args.delay_proxy {
        std::fs::create_dir_all(dir.join("delay")).map_err(|e| e.to_string())?;
        let nodes = args.nodes.to_string();
        let port = args.port.to_string();
        let dir_arg = dir.display().to_string();
        let proxy = ["cluster", "proxy", "--dir", &dir_arg, "--nodes", &nodes, "--port", &port];
        start_process(&dir, "proxy", &proxy)?;
        // Let it bind before nodes dial it.
        std::thread::sleep(Duration::from_millis(200));
    }
    for i in 1..=args.nodes {
        spawn(&dir, i)?;
    }
    eprintln!(
        "palisade cluster: {} {} nodes on {}..{} port {} in {}",
        args.nodes,
        args.protocol,
        node_ip(1),
        node_ip(args.nodes),
        args.port,
        dir.display()
    );
    if args.detach {
        return Ok(ExitCode::SUCCESS);
    }
    follow(&dir);
    down(&dir)
}

/// Starts node `i`'s process, appending to its events and log files; records its pid.
fn spawn(dir: &Path, i: u32) -> Result<u32, String> {
    let config = dir.join(format!("n{i}.toml")).display().to_string();
    start_process(dir, &format!("n{i}"), &["node", "--json-events", "--config", &config])
}

/// Starts `palisade ARGS` as `name`: stdout to `name.events`, stderr to `name.log`, pid in
/// `name.pid`.
fn start_process(dir: &Path, name: &str, args: &[&str]) -> Result<u32, String> {
    let append = |name: String| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(&name))
            .map_err(|e| format!("cannot open {name}: {e}"))
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the palisade binary: {e}"))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(append(format!("{name}.events"))?)
        .stderr(append(format!("{name}.log"))?)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    std::fs::write(dir.join(format!("{name}.pid")), format!("{}\n", child.id()))
        .map_err(|e| e.to_string())?;
    Ok(child.id())
}

/// The pid of node `i` if its process is alive (not a zombie).
fn running(dir: &Path, i: u32) -> Option<u32> {
    alive(&pid_file(dir, i))
}

/// The pid in `file` if that process is alive (not a zombie).
fn alive(file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit(')').next()?.split_whitespace().next()?;
    (state != "Z" && state != "X").then_some(pid)
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
                print!("{}", String::from_utf8_lossy(&pending[..complete]));
                pending.drain(..complete);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn down(dir: &Path) -> Result<ExitCode, String> {
    let nodes = nodes_in(dir);
    if nodes.is_empty() {
        return Err(format!("no cluster in {}", dir.display()));
    }
    for i in nodes {
        if let Some(pid) = running(dir, i) {
            let _ = signal(pid, "CONT");
            let _ = signal(pid, "KILL");
        }
        let _ = std::fs::remove_file(pid_file(dir, i));
    }
    if let Some(pid) = alive(&dir.join("proxy.pid")) {
        let _ = signal(pid, "KILL");
    }
    let _ = std::fs::remove_file(dir.join("proxy.pid"));
    if let Some(table) = nft_table(dir) {
        // Absent table (no faults injected, or not root): nothing to remove.
        let _ = Command::new("nft").args(["delete", "table", "inet", &table]).stderr(Stdio::null()).status();
    }
    Ok(ExitCode::SUCCESS)
}

fn nft_table(dir: &Path) -> Option<String> {
    let id = std::fs::read_to_string(dir.join("cluster.id")).ok()?;
    Some(format!("palisade_{}", id.trim()))
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

fn fault(dir: &Path, fault: FaultCmd) -> Result<ExitCode, String> {
    let nodes = nodes_in(dir);
    if nodes.is_empty() {
        return Err(format!("no cluster in {}", dir.display()));
    }
    let member = |i: u32| {
        if nodes.contains(&i) {
            Ok(i)
        } else {
            Err(format!("node {i} is not in the cluster (1..={})", nodes.len()))
        }
    };
    let live = |i: u32| running(dir, member(i)?).ok_or_else(|| format!("node {i} is not running"));
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
            spawn(&dir.canonicalize().map_err(|e| e.to_string())?, node)?;
        }
        FaultCmd::Partition { a, b } => {
            let (a, b) = (ip(member(a)?), ip(member(b)?));
            nft(
                dir,
                &[format!("ip saddr {a} ip daddr {b} drop"), format!("ip saddr {b} ip daddr {a} drop")],
            )?;
        }
        FaultCmd::Loss { node, percent } => {
            let n = ip(member(node)?);
            let p = percent.min(100);
            nft(
                dir,
                &[
                    format!("ip daddr {n} numgen random mod 100 < {p} drop"),
                    format!("ip saddr {n} numgen random mod 100 < {p} drop"),
                ],
            )?;
        }
        FaultCmd::Delay { a, b, ms } => {
            let (a, b) = (member(a)?, member(b)?);
            if a == b {
                return Err("delay needs two different nodes".into());
            }
            if alive(&dir.join("proxy.pid")).is_none() {
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
            if let Some(table) = nft_table(dir) {
                let _ = Command::new("nft")
                    .args(["delete", "table", "inet", &table])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
