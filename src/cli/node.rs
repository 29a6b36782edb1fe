//! `palisade node --config node.toml`: run one node of a cluster on actix.
//!
//! ```toml
//! cluster = 1
//! id = 1
//! listen = "127.0.0.1:7001"
//! data_dir = "data/n1"
//! key_file = "keys/n1/node.key"      # as written by `palisade keygen`
//! protocol = "heartbeat-phi"         # heartbeat-phi, heartbeat-fixed, swim, swim-plain,
//!                                    # lease, election, locks, skew or bracha
//! heartbeat_ms = 1000                # optional; SWIM's probe interval too
//! timeout_ms = 5000                  # optional, heartbeat-fixed
//! acceptable_pause_ms = 3000         # optional, heartbeat-phi
//!
//! [bracha]                           # protocol = "bracha": reliable broadcast, INITIALs
//! f = 1                              # signed with the node's key; n = members ≥ 3f + 1
//! broadcast = "hello"                # optional: broadcast this once each time it starts
//!
//! [lease]                            # protocol = "lease": the lock service, fenced storage
//! grantor = 1                        # and clients (every other node); all optional but
//! storage = 2                        # grantor and storage. protocol = "election": leader
//!                                    # election by majority leases (storage only needed)
//! term_ms = 10000
//! max_drift_ppm = 200
//! jeopardy_grace_ms = 45000
//! request_timeout_ms = 1000
//! write_every_ms = 200               # the node's demonstration application, through the
//! write_delay_ms = 0                 # protocol's commands: ask to write this often, the
//! hold_for_ms = 3000                 # write leaving this long after its lease check; a
//!                                    # lease client releases after holding this long (omit:
//!                                    # keeps it) and asks again after a back-off
//!
//! [locks]                           # protocol = "locks": an acceptor of the named locks
//! term_ms = 10000                    # (all optional; see `LockConfig`). A node with an
//! max_drift_ppm = 200                # application that acquires locks runs through
//!                                    # `crate::node::run_with` instead.
//!
//! [[peers]]
//! id = 2
//! addr = "127.0.0.1:7002"
//! public_key = "…64 hex digits…"
//! ```

use super::exit::usage_error;
use super::lease_app::Workload;
use crate::core::NodeId;
use crate::core::clock::{SkewConfig, SkewMonitor};
use crate::core::detector::swim::{Swim, SwimConfig};
use crate::core::detector::{FixedTimeout, Heartbeat, HeartbeatConfig, PhiAccrual};
use crate::core::lease::election::Election;
use crate::core::lease::{LeaseConfig, SingleGrantorLockService};
use crate::core::lock::{LockConfig, Locks};
use crate::core::quorum::Keyring;
use crate::core::quorum::bracha::{Bracha, BrachaCommand, BrachaConfig};
use crate::node::{Membership, PeerEntry, Reporting, read_toml, serve, serve_with};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `palisade node`.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// The node's configuration file (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Print one JSON object per protocol event on standard output.
    #[arg(long)]
    json_events: bool,
    /// Serve Prometheus metrics at `/metrics` and a health check at `/healthz` here.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// Log lines as `text` or `json`.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
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
    /// locks: the named locks' parameters.
    locks: Option<LockConfig>,
    #[serde(default)]
    peers: Vec<PeerEntry>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct BrachaFile {
    /// Byzantine nodes tolerated; the cluster needs n ≥ 3f + 1.
    f: usize,
    /// A value the node's application broadcasts each time the node starts.
    broadcast: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LeaseFile {
    /// lease: the grantor (election: unused).
    grantor: Option<u32>,
    storage: u32,
    term_ms: Option<u64>,
    max_drift_ppm: Option<u32>,
    jeopardy_grace_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    /// The application's: ask to write this often (default 200 ms).
    write_every_ms: Option<u64>,
    /// The application's: processing between a write's lease check and its leaving.
    write_delay_ms: Option<u64>,
    /// The application's: a lease client releases after holding this long.
    hold_for_ms: Option<u64>,
}

impl LeaseFile {
    /// The protocol's configuration and, for node `id`, the demonstration application's
    /// settings, once the table's durations are checked (zero would make a timer fire
    /// forever at the same instant).
    fn parts(&self, id: u32) -> Result<(LeaseConfig, Workload), &'static str> {
        for (value, problem) in [
            (self.term_ms, "lease.term_ms must be at least 1"),
            (self.request_timeout_ms, "lease.request_timeout_ms must be at least 1"),
            (self.write_every_ms, "lease.write_every_ms must be at least 1"),
        ] {
            if value == Some(0) {
                return Err(problem);
            }
        }
        let ms = Duration::from_millis;
        let d = LeaseConfig::default();
        let term = self.term_ms.map_or(d.term, ms);
        let config = LeaseConfig::default()
            .grantor(NodeId(self.grantor.unwrap_or(0)))
            .resource(NodeId(self.storage))
            .term(term)
            .max_drift_ppm(self.max_drift_ppm.unwrap_or(d.max_drift_ppm))
            .renew_after(term / 3)
            .jeopardy_grace(self.jeopardy_grace_ms.map_or(d.jeopardy_grace, ms))
            .request_timeout(self.request_timeout_ms.map_or(d.request_timeout, ms));
        let workload = Workload {
            id: NodeId(id),
            write_every: ms(self.write_every_ms.unwrap_or(200)),
            write_delay: ms(self.write_delay_ms.unwrap_or(0)),
            hold_for: self.hold_for_ms.map(ms),
            request_timeout: config.request_timeout,
        };
        Ok((config, workload))
    }
}

/// Runs `palisade node`: [`crate::node`] with the built-in protocols' configuration.
pub fn run(args: NodeArgs) -> ExitCode {
    crate::node::with_logging(args.log_format == "json", || configure(args))
}

fn configure(args: NodeArgs) -> ExitCode {
    // A file that cannot be read is a runtime failure; one that is not a valid
    // configuration, a usage error.
    if let Err(e) = std::fs::metadata(&args.config) {
        return super::exit::runtime_error(format!("cannot read {}: {e}", args.config.display()));
    }
    let file: FileConfig = match read_toml(&args.config) {
        Ok(f) => f,
        Err(e) => return usage_error(e),
    };
    let membership = Membership {
        cluster: file.cluster,
        id: file.id,
        listen: file.listen,
        data_dir: file.data_dir.clone(),
        key_file: file.key_file.clone(),
        peers: file.peers.clone(),
    };
    let resolved = match membership.resolve() {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let (key, peers) = (&resolved.key, &resolved.peers);
    let reporting = Reporting {
        json_events: args.json_events,
        metrics: args.metrics,
        log_json: args.log_format == "json",
    };
    let interval = Duration::from_millis(file.heartbeat_ms.unwrap_or(1000).max(1));
    match file.protocol.as_str() {
        "heartbeat-phi" => {
            let mut c = HeartbeatConfig::<PhiAccrual>::default().interval(interval);
            c.detector.first_heartbeat_estimate = interval;
            if let Some(ms) = file.acceptable_pause_ms {
                c.detector.acceptable_heartbeat_pause = Duration::from_millis(ms);
            }
            serve::<Heartbeat<PhiAccrual>>(&membership, resolved, c, &reporting)
        }
        "heartbeat-fixed" => {
            let mut c = HeartbeatConfig::<FixedTimeout>::default().interval(interval);
            if let Some(ms) = file.timeout_ms {
                c.detector.timeout = Duration::from_millis(ms);
            }
            serve::<Heartbeat<FixedTimeout>>(&membership, resolved, c, &reporting)
        }
        "lease" => {
            let Some(lease) = &file.lease else {
                return usage_error("protocol `lease` needs a [lease] table with grantor and storage");
            };
            let (c, workload) = match lease.parts(file.id) {
                Ok(parts) => parts,
                Err(e) => return usage_error(e),
            };
            let known = |n: NodeId| n.0 == file.id || peers.contains_key(&n);
            if lease.grantor.is_none() || !known(c.grantor) || !known(c.resource) || c.grantor == c.resource {
                return usage_error("lease.grantor and lease.storage must be two different members");
            }
            let client = file.id != c.grantor.0 && file.id != c.resource.0;
            serve_with::<SingleGrantorLockService>(&membership, resolved, c, &reporting, move |node| {
                if client {
                    actix::spawn(workload.lock_client(node));
                }
                Ok(())
            })
        }
        "election" => {
            // Majority-lease leader election: every member but the storage is an acceptor
            // and candidate; the leader's writes go to the storage, fenced by term.
            let Some(lease) = &file.lease else {
                return usage_error("protocol `election` needs a [lease] table with storage");
            };
            let (c, workload) = match lease.parts(file.id) {
                Ok(parts) => parts,
                Err(e) => return usage_error(e),
            };
            if !(c.resource.0 == file.id || peers.contains_key(&c.resource)) {
                return usage_error("lease.storage must be a member");
            }
            let candidate = file.id != c.resource.0;
            serve_with::<Election>(&membership, resolved, c, &reporting, move |node| {
                if candidate {
                    actix::spawn(workload.candidate(node));
                }
                Ok(())
            })
        }
        "locks" => {
            // Named locks granted by a majority: this process is an acceptor for every name.
            let c = file.locks.clone().unwrap_or_default();
            serve::<Locks>(&membership, resolved, c, &reporting)
        }
        "skew" => {
            // The skew monitor: fences this node (event `fenced`) while its wall clock is
            // too far from its peers'; heartbeat_ms is the probe interval.
            let c = SkewConfig::default().interval(interval);
            serve::<SkewMonitor>(&membership, resolved, c, &reporting)
        }
        "swim" | "swim-plain" => {
            // SWIM with Lifeguard (or without): one probe per heartbeat_ms, the whole
            // configured membership known from the start.
            let lifeguard = file.protocol == "swim";
            let base = if lifeguard { SwimConfig::default() } else { SwimConfig::plain() };
            let c = base.probe_interval(interval).probe_timeout(interval / 2);
            serve::<Swim>(&membership, resolved, c, &reporting)
        }
        "bracha" => {
            let Some(b) = &file.bracha else {
                return usage_error("protocol `bracha` needs a [bracha] table with f");
            };
            let n = peers.len() + 1;
            let mut keyring = Keyring::new();
            keyring.insert(NodeId(file.id), key.verifying_key());
            for (&id, p) in peers {
                keyring.insert(id, p.key);
            }
            let config = match BrachaConfig::new(n, b.f, keyring, key.clone()) {
                Ok(c) => c,
                Err(e) => return usage_error(format!("bracha.f: {e}")),
            };
            let value = b.broadcast.clone().map(String::into_bytes);
            if value.as_ref().is_some_and(|v| v.len() > crate::core::quorum::MAX_VOTE_VALUE) {
                return usage_error(format!(
                    "bracha.broadcast: longer than {} bytes",
                    crate::core::quorum::MAX_VOTE_VALUE
                ));
            }
            serve_with::<Bracha>(&membership, resolved, config, &reporting, move |node| {
                if let Some(value) = value {
                    // The application's one broadcast, answered once signed and persisted.
                    actix::spawn(async move {
                        let cmd = BrachaCommand::Broadcast { value };
                        match node.call(cmd, std::time::Duration::from_secs(10)).await {
                            Ok(reply) => tracing::info!(?reply, "broadcast"),
                            Err(e) => tracing::error!(%e, "broadcast not made"),
                        }
                    });
                }
                Ok(())
            })
        }
        other => usage_error(format!(
            "protocol `{other}` is not one of heartbeat-phi, heartbeat-fixed, swim, swim-plain, lease, election, locks, skew, bracha"
        )),
    }
}
