//! The simulator issue's ping-pong workload on turmoil 0.7.2: 5 hosts, each pinging the
//! other 4 every 10 ms over (simulated) UDP, every ping answered by a pong, 60 simulated
//! seconds, seed 42. turmoil's latency is min + (max - min)·Exp(5) (mean 20 ms for 0-100 ms),
//! and it has no independent per-message loss, so this run has none; see the README.
//!
//! Prints `delivered=<n> wall_s=<s> delivered_per_wall_s=<rate>` like palisade's bench.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use turmoil::net::UdpSocket;

const PORT: u16 = 9000;

fn main() {
    let delivered = Arc::new(AtomicU64::new(0));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::from_millis(100))
        .udp_capacity(4096)
        .rng_seed(42)
        .build();
    let names: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    for name in &names {
        let peers: Vec<String> = names.iter().filter(|n| *n != name).cloned().collect();
        let counter = delivered.clone();
        sim.host(name.as_str(), move || {
            let peers = peers.clone();
            let counter = counter.clone();
            async move {
                let sock = Arc::new(UdpSocket::bind((IpAddr::from([0, 0, 0, 0]), PORT)).await?);
                let targets: Vec<SocketAddr> = peers.iter().map(|p| SocketAddr::new(turmoil::lookup(p.as_str()), PORT)).collect();
                let rx = sock.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 16];
                    loop {
                        let Ok((n, from)) = rx.recv_from(&mut buf).await else { return };
                        counter.fetch_add(1, Ordering::Relaxed);
                        if n > 0 && buf[0] == 0 {
                            let mut pong = buf;
                            pong[0] = 1;
                            let _ = rx.send_to(&pong[..n], from).await;
                        }
                    }
                });
                let mut round = 0u64;
                loop {
                    let mut ping = [0u8; 9];
                    ping[1..].copy_from_slice(&round.to_le_bytes());
                    for &t in &targets {
                        sock.send_to(&ping, t).await?;
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
