//! Helpers for tests that run real `palisade node` processes on loopback: keys from the
//! real `keygen`, configs on disk, JSON events collected from every process's stdout, and
//! a guard that kills every process it started, pass or fail.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago, for a node process to bind: never one this
/// process handed out before (tests run in parallel, and a port released for one node could
/// be found free again by another test before the node binds it), and below Linux's
/// ephemeral range (32768 and up by default), so no process's outgoing connection takes it
/// in the meantime. The search starts at a place chosen by the process id.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    const LO: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let mut handed = HANDED_OUT.lock().unwrap();
    let start = std::process::id().wrapping_mul(2_654_435_761) % SPAN;
    (0..SPAN)
        .map(|k| (LO + (start + k) % SPAN) as u16)
        .find(|&p| !handed.contains(&p) && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .inspect(|&p| handed.push(p))
        .expect("a free loopback port between 20000 and 32000")
}

/// The `palisade` binary under test.
pub fn palisade() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

/// The binary of example `name`, built by `cargo test` (which builds every example before
/// running tests) next to this test's own binary.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite (`cargo test`) or `cargo build --example {name}` first",
        path.display()
    );
    path
}

/// One JSON event line from a node, with when the test saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When the line arrived.
    pub at: Instant,
    /// The parsed line.
    pub v: serde_json::Value,
}

/// A set of node processes. Dropping it kills them all (SIGKILL, after SIGCONT so a
/// stopped process dies too) and removes the directory.
pub struct Cluster {
    /// Working directory (keys, configs, data).
    pub dir: PathBuf,
    /// Per node (index = id - 1): its config file.
    pub configs: Vec<PathBuf>,
    /// Per node: the loopback port it listens on.
    pub ports: Vec<u16>,
    /// Per node: the running process, if any.
    pub procs: Vec<Option<Child>>,
    /// Every event line seen so far, from every process.
    pub events: Arc<Mutex<Vec<Seen>>>,
    /// Read ends of stdout pipes that nobody reads, held so the pipes stay open.
    pub held: Vec<ChildStdout>,
    /// The node program and the arguments before `--json-events --config FILE`.
    program: (PathBuf, Vec<String>),
}

impl Cluster {
    /// Keys and free loopback ports for `n` nodes; `config(id, listen_port, peers_toml)`
    /// returns the body of each node's TOML (without the peers, which are appended).
    pub fn new(name: &str, n: usize, config: impl Fn(usize, &Path) -> String) -> Cluster {
        let dir = std::env::temp_dir().join(format!("palisade-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut publics = Vec::new();
        for id in 1..=n {
            let out = palisade().args(["keygen", "--out"]).arg(dir.join(format!("k{id}"))).output().unwrap();
            assert!(out.status.success(), "keygen: {}", String::from_utf8_lossy(&out.stderr));
            publics.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
        }
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut configs = Vec::new();
        for id in 1..=n {
            let mut cfg = format!(
                "id = {id}\nlisten = \"127.0.0.1:{}\"\ndata_dir = {:?}\nkey_file = {:?}\n",
                ports[id - 1],
                dir.join(format!("data{id}")),
                dir.join(format!("k{id}/node.key")),
            );
            cfg += &config(id, &dir);
            for m in (1..=n).filter(|&m| m != id) {
                cfg += &format!(
                    "\n[[peers]]\nid = {m}\naddr = \"127.0.0.1:{}\"\npublic_key = \"{}\"\n",
                    ports[m - 1],
                    publics[m - 1]
                );
            }
            let path = dir.join(format!("n{id}.toml"));
            std::fs::write(&path, cfg).unwrap();
            configs.push(path);
        }
        Cluster {
            dir,
            configs,
            ports,
            procs: (0..n).map(|_| None).collect(),
            events: Arc::default(),
            held: Vec::new(),
            program: (PathBuf::from(env!("CARGO_BIN_EXE_palisade")), vec!["node".to_string()]),
        }
    }

    /// Runs `program` (with `args` before `--json-events --config FILE`) as every node
    /// instead of `palisade node`: an application's own node binary.
    pub fn running(mut self, program: PathBuf, args: &[&str]) -> Cluster {
        self.program = (program, args.iter().map(|a| a.to_string()).collect());
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program.0);
        cmd.args(&self.program.1);
        cmd
    }

    /// Starts node `id` (again, after a kill) with `--json-events`.
    pub fn start(&mut self, id: usize) {
        self.start_with(id, Stdio::null());
    }

    /// [`Cluster::start`], with the node's log (stderr) appended to `DIR/n{id}.log`.
    pub fn start_logged(&mut self, id: usize) -> PathBuf {
        self.start_logged_with(id, &[])
    }

    /// [`Cluster::start_logged`] with `extra` arguments for this node only.
    pub fn start_logged_with(&mut self, id: usize, extra: &[&str]) -> PathBuf {
        let path = self.dir.join(format!("n{id}.log"));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let mut cmd = self.command();
        cmd.args(extra);
        self.spawn(id, cmd, Stdio::from(log));
        path
    }

    /// [`Cluster::start`] with extra environment variables (`LD_PRELOAD` of libfaketime, say:
    /// the process itself, not a wrapper's child, so killing it kills the node).
    pub fn start_with_env(&mut self, id: usize, env: &[(&str, &str)]) {
        let mut cmd = self.command();
        cmd.envs(env.iter().copied());
        self.spawn(id, cmd, Stdio::null());
    }

    fn start_with(&mut self, id: usize, stderr: Stdio) {
        self.spawn(id, self.command(), stderr);
    }

    fn spawn(&mut self, id: usize, mut cmd: Command, stderr: Stdio) {
        let mut child = cmd
            .args(["--json-events", "--config"])
            .arg(&self.configs[id - 1])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let sink = self.events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(Seen { at: Instant::now(), v });
                }
            }
        });
        self.procs[id - 1] = Some(child);
    }

    /// Starts node `id` with `--json-events` on a stdout pipe that is never read: the read
    /// end is held open, so once the pipe's buffer is full the node's writes to it would
    /// block. Its stderr goes to the returned file.
    pub fn start_undrained(&mut self, id: usize) -> PathBuf {
        let log = self.dir.join(format!("n{id}.stderr"));
        let mut child = self
            .command()
            .args(["--json-events", "--config"])
            .arg(&self.configs[id - 1])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.held.push(child.stdout.take().unwrap());
        self.procs[id - 1] = Some(child);
        log
    }

    /// Sends `signal` (e.g. "STOP", "CONT") to node `id`.
    pub fn signal(&self, id: usize, signal: &str) {
        let pid = self.procs[id - 1].as_ref().expect("running").id();
        let ok = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
        assert!(ok.success(), "kill -{signal} {pid}");
    }

    /// SIGKILLs node `id` and reaps it.
    pub fn kill(&mut self, id: usize) {
        if let Some(mut c) = self.procs[id - 1].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits up to `within` for node `id` to exit on its own; its exit status if it did.
    pub fn wait_exit(&mut self, id: usize, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.procs[id - 1].as_mut()?.try_wait().ok().flatten() {
                self.procs[id - 1] = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The process id of node `id`.
    pub fn pid(&self, id: usize) -> u32 {
        self.procs[id - 1].as_ref().expect("running").id()
    }

    /// Every event seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.events.lock().unwrap().clone()
    }

    /// Waits up to `within` for `found` to return something from the events seen.
    pub fn wait_for<T>(
        &self,
        within: Duration,
        what: &str,
        mut found: impl FnMut(&[Seen]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(t) = found(&self.seen()) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; nodes exited: {:?}; events:\n{:#?}",
                self.exited(),
                self.tail(40)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The nodes started and not yet reaped whose process has exited, for failure messages:
    /// `/proc` shows an exited child as a zombie (`Z`) until it is reaped (Linux).
    pub fn exited(&self) -> Vec<String> {
        let mut exited = Vec::new();
        for (i, c) in self.procs.iter().enumerate() {
            let Some(c) = c else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", c.id())).unwrap_or_default();
            // The state follows the command name, which is in parentheses and may hold spaces.
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
            if matches!(state, None | Some("Z" | "X")) {
                exited.push(format!("n{} (pid {})", i + 1, c.id()));
            }
        }
        exited
    }

    /// The last `n` events, for failure messages.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let all = self.seen();
        all[all.len().saturating_sub(n)..].iter().map(|s| s.v.to_string()).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.procs.iter_mut().flatten() {
            let _ = Command::new("kill").arg("-CONT").arg(c.id().to_string()).stderr(Stdio::null()).status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An event's field as u64 (0 if absent).
pub fn num(v: &serde_json::Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or(0)
}

/// The events named `event` from node `node`.
pub fn events<'a>(seen: &'a [Seen], node: u64, event: &'a str) -> impl Iterator<Item = &'a Seen> + 'a {
    seen.iter().filter(move |s| num(&s.v, "node") == node && s.v["event"] == event)
}

/// A lock-service node's config: n1 grants, n2 is the fenced storage, clients write every
/// 100 ms, `write_delay_ms` after deciding to.
pub fn lease_config(cluster: u64, write_delay_ms: u64) -> String {
    format!(
        "cluster = {cluster}\nprotocol = \"lease\"\n\n[lease]\ngrantor = 1\nstorage = 2\nterm_ms = 1000\n\
         max_drift_ppm = 10000\nwrite_every_ms = 100\nwrite_delay_ms = {write_delay_ms}\njeopardy_grace_ms = 500\n\
         request_timeout_ms = 200\n"
    )
}

/// Node `id`'s ed25519 key, as `palisade keygen` wrote it for `cluster`.
pub fn key_of(cluster: &Cluster, id: u32) -> ed25519_dalek::SigningKey {
    palisade::actix::keys::load_signing_key(&cluster.dir.join(format!("k{id}/node.key"))).unwrap()
}
