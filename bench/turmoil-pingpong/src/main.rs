//! The simulator issue's ping-pong workload on turmoil 0.7.2: 5 hosts, each pinging the
//! other 4 every 10 ms over (simulated) UDP, every ping answered by a pong, 60 simulated
//! seconds, seed 42. turmoil's latency is min + (max - min)·Exp(5) (mean 20 ms for 0-100 ms),
//! and it has no independent per-message loss, so this run has none; see the README.
//!
//! With `--workload palisade`, palisade's workload instead: turmoil has neither independent
//! loss nor a uniform latency, so the application makes them as a turmoil user would: the
//! sender drops 1% of messages by a seeded draw, and sends each other one from a task that
//! first sleeps a uniform 0-100 ms, over links with no latency of their own.
//!
//! Prints `delivered=<n> wall_s=<s> delivered_per_wall_s=<rate>` like palisade's bench.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use turmoil::net::UdpSocket;

const PORT: u16 = 9000;

/// A seeded draw (splitmix64) shared by a host's tasks.
fn draw(state: &AtomicU64) -> u64 {
    let mut z = state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Sends `bytes` to `to`: directly on turmoil's workload; on palisade's, lost with
/// probability 1% or sent after a uniform 0-100 ms from a task of its own.
async fn send(sock: &Arc<UdpSocket>, rng: &Arc<AtomicU64>, emulate: bool, bytes: &[u8], to: SocketAddr) {
    if !emulate {
        let _ = sock.send_to(bytes, to).await;
        return;
    }
    let r = draw(rng);
    if r % 100 == 0 {
        return;
    }
    let delay = Duration::from_nanos((r >> 8) % 100_000_000);
    let (sock, bytes) = (sock.clone(), bytes.to_vec());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = sock.send_to(&bytes, to).await;
    });
}

fn main() {
    let emulate =
        std::env::args().collect::<Vec<_>>().windows(2).any(|w| w[0] == "--workload" && w[1] == "palisade");
    let delivered = Arc::new(AtomicU64::new(0));
    let max_latency = if emulate { Duration::ZERO } else { Duration::from_millis(100) };
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::ZERO)
        .max_message_latency(max_latency)
        .udp_capacity(4096)
        .rng_seed(42)
        .build();
    let names: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let peers: Vec<String> = names.iter().filter(|n| *n != name).cloned().collect();
        let counter = delivered.clone();
        sim.host(name.as_str(), move || {
            let peers = peers.clone();
            let counter = counter.clone();
            let rng = Arc::new(AtomicU64::new(42 + i as u64));
            async move {
                let sock = Arc::new(UdpSocket::bind((IpAddr::from([0, 0, 0, 0]), PORT)).await?);
                let targets: Vec<SocketAddr> =
                    peers.iter().map(|p| SocketAddr::new(turmoil::lookup(p.as_str()), PORT)).collect();
                let (rx, rx_rng) = (sock.clone(), rng.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 16];
                    loop {
                        let Ok((n, from)) = rx.recv_from(&mut buf).await else { return };
                        counter.fetch_add(1, Ordering::Relaxed);
                        if n > 0 && buf[0] == 0 {
                            let mut pong = buf;
                            pong[0] = 1;
                            send(&rx, &rx_rng, emulate, &pong[..n], from).await;
                        }
                    }
                });
                let mut round = 0u64;
                loop {
                    let mut ping = [0u8; 9];
                    ping[1..].copy_from_slice(&round.to_le_bytes());
                    for &t in &targets {
                        send(&sock, &rng, emulate, &ping, t).await;
                    }
                    round += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
    }
    sim.client("driver", async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    });
    let start = std::time::Instant::now();
    sim.run().expect("simulation failed");
    let wall = start.elapsed().as_secs_f64();
    let n = delivered.load(Ordering::Relaxed);
    println!("delivered={n} wall_s={wall:.3} delivered_per_wall_s={:.0}", n as f64 / wall);
}
