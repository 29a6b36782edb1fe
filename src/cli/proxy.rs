//! The delay proxy of `palisade cluster up --delay-proxy`: this kernel has no netem, so
//! delay between two nodes comes from a userspace relay on the connection the lower id
//! dials. For each pair a < b it listens on b's address at port `port + a` and forwards to
//! b's real port, connecting from a's address (so nftables rules about a and b still match
//! both legs). Each direction's bytes are held for the pair's current delay, in order; the
//! delay of pair a-b is the number of milliseconds in `DIR/delay/a-b` (absent: none),
//! re-read every 100 ms, so `palisade cluster fault delay` changes it on a live cluster.

use super::cluster::node_ip;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;

/// Current delay per pair (a < b).
type Delays = Arc<Mutex<BTreeMap<(u32, u32), Duration>>>;

/// The file holding pair (a, b)'s delay.
pub fn delay_file(dir: &Path, a: u32, b: u32) -> PathBuf {
    let (a, b) = (a.min(b), a.max(b));
    dir.join("delay").join(format!("{a}-{b}"))
}

/// The address node `a` dials to reach node `b` through the proxy (a < b); `None` if
/// `port + a` is past 65535 (`cluster::last_port` refuses such clusters up front).
pub fn proxied(a: u32, b: u32, port: u16) -> Option<SocketAddr> {
    let port = port.checked_add(u16::try_from(a).ok()?)?;
    Some(SocketAddr::new(IpAddr::V4(node_ip(b)), port))
}

/// Runs the proxy for `nodes` nodes listening on `port` until killed.
pub fn run(dir: &Path, nodes: u32, port: u16) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let dir = dir.to_path_buf();
    rt.block_on(async move {
        let delays: Delays = Arc::default();
        let mut tasks = tokio::task::JoinSet::new();
        for a in 1..=nodes {
            for b in a + 1..=nodes {
                let addr = proxied(a, b, port).ok_or_else(|| format!("port {port} + {a} is past 65535"))?;
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("proxy for n{a}->n{b} cannot listen on {addr}: {e}"))?;
                let target = SocketAddr::new(IpAddr::V4(node_ip(b)), port);
                tasks.spawn(relay(listener, node_ip(a).into(), target, (a, b), delays.clone()));
            }
        }
        loop {
            reload(&dir, &delays);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Reads the delays that are set: one file per delayed pair, so a large cluster with few
/// delays costs a directory listing, not a read per pair.
fn reload(dir: &Path, delays: &Delays) {
    let mut fresh = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("delay")).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let pair = name.to_str().and_then(|n| n.split_once('-'));
        let pair = pair.and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
        let ms = std::fs::read_to_string(entry.path()).ok().and_then(|s| s.trim().parse::<u64>().ok());
        if let (Some(pair), Some(ms)) = (pair, ms) {
            fresh.insert(pair, Duration::from_millis(ms));
        }
    }
    *delays.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
}

async fn relay(listener: TcpListener, from: IpAddr, target: SocketAddr, pair: (u32, u32), delays: Delays) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else { continue };
        let delays = delays.clone();
        tokio::spawn(async move {
            let outbound = async {
                let socket = TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(from, 0))?;
                socket.connect(target).await
            };
            let Ok(outbound) = outbound.await else { return };
            let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            let delay =
                move || delays.lock().map(|d| d.get(&pair).copied().unwrap_or_default()).unwrap_or_default();
            tokio::join!(pump(ri, wo, delay.clone()), pump(ro, wi, delay));
        });
    }
}

/// Copies one direction, each chunk held until `delay()` after it was read, in order.
async fn pump(
    mut read: tokio::net::tcp::OwnedReadHalf,
    mut write: tokio::net::tcp::OwnedWriteHalf,
    delay: impl Fn() -> Duration,
) {
    let (tx, mut rx) = mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(4096);
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if write.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let due = tokio::time::Instant::now() + delay();
                    if tx.send((due, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::join!(reader, writer);
}
