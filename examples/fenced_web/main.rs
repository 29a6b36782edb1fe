//! A key-value service over HTTP, replicated three ways, whose leader is elected by a
//! majority and fenced at the store: the design of DDIA figure 8-5, end to end on real
//! processes.
//!
//! - **Replicas** (`fenced_web --config rN.toml`) are nodes of [`Locks`], palisade's named
//!   locks granted by a majority. The replica holding the lock named `leader` leads: it
//!   loads the data from the store under its lock's fencing token, serves reads from memory
//!   while its lease is valid, and writes through to the store under its token. The others
//!   redirect clients to it (`307`).
//! - **The store** (`fenced_web store --listen ADDR --data FILE`) keeps the data on disk
//!   (fsynced) and refuses any request under a token below the highest it has seen, with
//!   palisade's [`palisade::core::fencing::FencedResource`]. A leader deposed while it was
//!   paused, whose late write reaches the store after its successor loaded, is refused.
//!
//! Where palisade shows up: [`main`] (startup), [`leader`] (the lock through
//! [`palisade::actix::lock::NamedLock`]; also the store loads and logging of the leadership
//! loop), the two lease checks in [`replica`], and [`store::Store::admit`] and
//! `FencedResource::restore` (the fencing check). Counted as lines that are neither blank
//! nor comments, that is 60 lines: `leader.rs` 41, `main` 9, `admit` 3, `restore` 1, the
//! lease checks 6.
//! `tests/fenced_web.rs` runs the store and three replicas, SIGSTOPs the leader past its
//! lease, and checks the whole history of client operations with the linearizability
//! checker.
//!
//! The store trusts whoever reaches it: anyone who can send it a request can fence every
//! replica out (a token of `u64::MAX`), point followers' redirects elsewhere, or write. Run
//! it on loopback or a private network; a real deployment authenticates the replicas
//! (mutual TLS, or a shared secret) and names them by id, not by the address they send.
//! The service holds at most [`replica::MAX_KEYS`] keys of [`replica::MAX_VALUE`] bytes.
//!
//! ```text
//! cargo run --release -- keygen --out keys/r1            # r2, r3 too
//! cargo run --release --example fenced_web -- store --listen 127.0.0.1:8090 --data store.json
//! cargo run --release --example fenced_web -- --config r1.toml --metrics 127.0.0.1:9101
//! curl -L -X PUT --data-binary v1 http://127.0.0.1:8081/kv/a; curl -L http://127.0.0.1:8082/kv/a
//! ```
//!
//! with `r1.toml` (r2, r3 alike):
//!
//! ```toml
//! cluster = 5
//! id = 1
//! listen = "127.0.0.1:7201"
//! data_dir = "data/r1"
//! key_file = "keys/r1/node.key"
//!
//! [protocol]           # the named locks (LockConfig; every field optional)
//! term_ms = 3000
//!
//! [app]
//! http = "127.0.0.1:8081"
//! store = "127.0.0.1:8090"
//!
//! [[peers]]
//! id = 2
//! addr = "127.0.0.1:7202"
//! public_key = "…keys/r2/node.pub…"
//! ```

mod leader;
mod replica;
mod store;

use palisade::actix::lock::NamedLock;
use palisade::core::lock::Locks;
use serde::Deserialize;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// The `[app]` table of a replica's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where this replica serves HTTP.
    pub http: SocketAddr,
    /// The store.
    pub store: SocketAddr,
    /// How long to wait for the store before the outcome of a write is unknown.
    #[serde(
        default = "default_store_timeout",
        with = "palisade::core::time::millis",
        rename = "store_timeout_ms"
    )]
    pub store_timeout: Duration,
}

fn default_store_timeout() -> Duration {
    Duration::from_secs(10)
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("store") {
        return store::main(std::env::args().skip(2));
    }
    palisade::node::run_with::<Locks, Settings>(|node, settings| {
        let (leading, lock) = (replica::Leadership::default(), NamedLock::new(node, leader::LEADER));
        palisade::actix::actix::spawn(leader::lead(lock.clone(), leading.clone(), settings.clone()));
        replica::serve(lock, leading, settings)
    })
}
