//! Three heartbeat nodes on real TCP (loopback) with phi accrual detection; after three
//! seconds node 3 is stopped and the others report when they suspect it.
//!
//! `cargo run --example heartbeat_cluster`

use palisade::actix::{NodeConfig, Peer, start};
use palisade::core::NodeId;
use palisade::core::detector::{Heartbeat, HeartbeatConfig, PhiAccrual, PhiConfig};
use palisade::core::quorum::test_key;
use std::collections::BTreeMap;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = HeartbeatConfig::<PhiAccrual>::default().interval(Duration::from_millis(100)).detector(
        PhiConfig::default()
            .first_heartbeat_estimate(Duration::from_millis(100))
            .acceptable_heartbeat_pause(Duration::from_millis(500))
            .min_std_deviation(Duration::from_millis(50)),
    );
    let data = std::env::temp_dir().join(format!("palisade-example-{}", std::process::id()));
    actix::System::new().block_on(async move {
        let ids = [NodeId(1), NodeId(2), NodeId(3)];
        let listeners = ids.map(|_| std::net::TcpListener::bind("127.0.0.1:0"));
        let mut bound = Vec::new();
        for l in listeners {
            bound.push(l?);
        }
        let mut addrs = BTreeMap::new();
        for (&id, l) in ids.iter().zip(&bound) {
            addrs.insert(id, l.local_addr()?);
        }
        let mut nodes = Vec::new();
        for (&id, listener) in ids.iter().zip(bound) {
            let peers = addrs
                .iter()
                .filter(|(p, _)| **p != id)
                .map(|(&p, &addr)| (p, Peer { addr, key: test_key(1, p).verifying_key() }))
                .collect();
            let cfg = NodeConfig::<Heartbeat<PhiAccrual>>::new(
                1,
                id,
                test_key(1, id),
                config.clone(),
                data.join(id.to_string()),
            )
            .peers(peers)
            .seed(u64::from(id.0));
            let node = start(cfg, listener)?;
            println!("{id} listening on {}", node.addr);
            let mut events = node.subscribe();
            actix::spawn(async move {
                while let Ok(e) = events.recv().await {
                    println!("{} at wall {:?}: {:?}", e.node, e.wall, e.event);
                }
            });
            nodes.push(node);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        println!("stopping n3");
        nodes[2].stop().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        for n in &nodes {
            n.stop().await;
        }
        let _ = std::fs::remove_dir_all(&data);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
