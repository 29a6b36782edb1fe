//! The actix transport on real TCP: hostile bytes are rejected and counted, and never stop
//! the node; a properly signed frame from a member gets through.

use futures::SinkExt;
use palisade::actix::frame::{Frame, FrameHeader, Payload, length_codec};
use palisade::actix::{NodeConfig, Peer, TransportStats, start};
use palisade::core::NodeId;
use palisade::core::detector::{FixedTimeout, Heartbeat, HeartbeatConfig, HeartbeatMsg};
use palisade::core::quorum::test_key;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedWrite;

const CLUSTER: u64 = 77;

#[test]
fn hostile_frames_are_rejected_counted_and_survived() {
    let dir = std::env::temp_dir().join(format!("palisade-transport-{}", std::process::id()));
    let system = actix::System::new();
    let (rejected, accepted, running) = system.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Node 1 with one peer, node 2, that never runs: we play node 2 (and strangers).
        let peer_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let peers: BTreeMap<NodeId, Peer> =
            [(NodeId(2), Peer { addr: peer_addr, key: test_key(CLUSTER, NodeId(2)).verifying_key() })].into();
        let config = NodeConfig::<Heartbeat<FixedTimeout>> {
            cluster: CLUSTER,
            id: NodeId(1),
            peers,
            key: test_key(CLUSTER, NodeId(1)),
            protocol: HeartbeatConfig::default(),
            data_dir: dir.join("n1"),
            seed: 1,
            auth: palisade::actix::Auth::Signed,
        };
        let node = start(config, listener).unwrap();
        let msg = Payload::Message(HeartbeatMsg { incarnation: 0, seq: 0 });
        let header = |from: u32, seq: u64| FrameHeader {
            cluster: CLUSTER,
            from: NodeId(from),
            to: NodeId(1),
            epoch: 1,
            seq,
        };
        let good = |seq| Frame::seal(&header(2, seq), &msg, &test_key(CLUSTER, NodeId(2))).unwrap();
        let mut flipped = good(10);
        flipped[40] ^= 1;
        let hostile: Vec<Vec<u8>> = vec![
            Frame::seal(&header(9, 0), &msg, &test_key(CLUSTER, NodeId(9))).unwrap(), // unknown node
            Frame::seal(&header(2, 0), &msg, &test_key(CLUSTER, NodeId(3))).unwrap(), // wrong key
            flipped,                                                                  // flipped bit
            good(0)[..50].to_vec(),                                                   // truncated
            [good(11), vec![0]].concat(),                                             // trailing byte
            Frame::seal(&FrameHeader { cluster: 5, ..header(2, 12) }, &msg, &test_key(CLUSTER, NodeId(2)))
                .unwrap(),
            Frame::seal(&FrameHeader { to: NodeId(3), ..header(2, 13) }, &msg, &test_key(CLUSTER, NodeId(2)))
                .unwrap(),
        ];
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut sink = FramedWrite::new(stream, length_codec());
        sink.send(bytes::Bytes::from(good(20))).await.unwrap(); // accepted
        sink.send(bytes::Bytes::from(good(20))).await.unwrap(); // replay
        for frame in hostile {
            sink.send(bytes::Bytes::from(frame)).await.unwrap();
        }
        // A length prefix claiming 4 GiB on a second connection: refused before buffering.
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        raw.write_all(&[0u8; 32]).await.unwrap();
        // Wait (at most 10 s, on a busy machine) for the node to have read everything.
        let stats = node.stats();
        for _ in 0..200 {
            if TransportStats::get(&stats.rejected) >= 9 && TransportStats::get(&stats.frames_in) >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out =
            (TransportStats::get(&stats.rejected), TransportStats::get(&stats.frames_in), node.is_running());
        node.stop().await;
        out
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(accepted, 1, "exactly the one good frame got through");
    assert_eq!(rejected, 9, "replay, 7 hostile frames and the oversized prefix");
    assert!(running, "nothing stopped the node");
}

/// Heartbeat nodes 1..=3 on loopback in the current actix system, all but `skip` (whose
/// port nobody listens on: the test plays that node). Returns the running nodes and every
/// node's address.
fn heartbeat_nodes(
    dir: &std::path::Path,
    config: HeartbeatConfig<FixedTimeout>,
    skip: Option<u32>,
) -> (Vec<palisade::actix::NodeHandle<Heartbeat<FixedTimeout>>>, Vec<std::net::SocketAddr>) {
    let listeners: Vec<_> = (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut nodes = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let id = NodeId(i as u32 + 1);
        if skip == Some(id.0) {
            continue;
        }
        let peers = (1..=3u32)
            .filter(|&p| p != id.0)
            .map(|p| {
                let key = test_key(CLUSTER, NodeId(p)).verifying_key();
                (NodeId(p), Peer { addr: addrs[p as usize - 1], key })
            })
            .collect();
        let cfg = NodeConfig::<Heartbeat<FixedTimeout>> {
            cluster: CLUSTER,
            id,
            peers,
            key: test_key(CLUSTER, id),
            protocol: config.clone(),
            data_dir: dir.join(id.to_string()),
            seed: 1,
            auth: palisade::actix::Auth::Signed,
        };
        nodes.push(start(cfg, listener).unwrap());
    }
    (nodes, addrs)
}

/// Established TCP connections (counted once, by their listening end) whose local port is
/// one of `ports`, from /proc/net/tcp.
fn connections_to(ports: &[u16]) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port =
                f.get(1).and_then(|a| a.split(':').nth(1)).and_then(|p| u16::from_str_radix(p, 16).ok());
            f.get(3) == Some(&"01") && local_port.is_some_and(|p| ports.contains(&p))
        })
        .count()
}

#[test]
fn each_pair_of_nodes_shares_exactly_one_connection() {
    let dir = std::env::temp_dir().join(format!("palisade-one-conn-{}", std::process::id()));
    let (connections, connects, heard) = actix::System::new().block_on(async {
        let config = HeartbeatConfig { interval: Duration::from_millis(50), ..HeartbeatConfig::default() };
        let (nodes, addrs) = heartbeat_nodes(&dir, config, None);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let ports: Vec<u16> = addrs.iter().map(|a| a.port()).collect();
        let out = (
            connections_to(&ports),
            nodes.iter().map(|n| TransportStats::get(&n.stats().connects)).collect::<Vec<_>>(),
            nodes.iter().map(|n| TransportStats::get(&n.stats().frames_in)).collect::<Vec<_>>(),
        );
        for n in &nodes {
            n.stop().await;
        }
        out
    });
    let _ = std::fs::remove_dir_all(&dir);
    // n1 dials n2 and n3, n2 dials n3: three connections, each accepted by a listener.
    assert_eq!(connections, 3, "one TCP connection per pair of nodes");
    assert_eq!(connects, vec![2, 2, 2], "each node connected once to each peer (dialled or handed over)");
    assert!(heard.iter().all(|&h| h > 20), "every node hears both peers over those connections: {heard:?}");
}

/// A flood of valid frames must not starve the node's own timer (actix issue #520: a
/// mailbox that never empties starves an actor's `run_later`): node 1 is flooded by "node 2"
/// (this test, with node 2's key) as fast as TCP allows for 3 s, while node 3 watches node
/// 1's heartbeats with a 500 ms timeout. Node 3 must never suspect node 1, and node 1 must
/// never suspect node 3.
#[test]
fn a_flooded_node_keeps_its_timers() {
    use palisade::core::detector::HeartbeatEvent;
    let dir = std::env::temp_dir().join(format!("palisade-flood-{}", std::process::id()));
    let (suspicions, flooded, delivered) = actix::System::new().block_on(async {
        let config = HeartbeatConfig {
            interval: Duration::from_millis(50),
            detector: palisade::core::detector::FixedTimeoutConfig { timeout: Duration::from_millis(500) },
            pause_guard: None,
        };
        // Node 2 is this test.
        let (nodes, addrs) = heartbeat_nodes(&dir, config, Some(2));
        let mut events: Vec<_> = nodes.iter().map(|n| n.subscribe()).collect();
        tokio::time::sleep(Duration::from_millis(700)).await;
        // The flood comes from another thread with its own runtime, as from another process.
        let target = addrs[0];
        let flooder = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            // Node 2's heartbeats, signed here (signing on the nodes' thread would itself
            // stall them), then written as fast as TCP takes them.
            let key = test_key(CLUSTER, NodeId(2));
            let frames: Vec<bytes::Bytes> = (0..60_000u64)
                .map(|seq| {
                    let header =
                        FrameHeader { cluster: CLUSTER, from: NodeId(2), to: NodeId(1), epoch: 9, seq };
                    let msg = Payload::Message(HeartbeatMsg { incarnation: 0, seq });
                    bytes::Bytes::from(Frame::seal(&header, &msg, &key).unwrap())
                })
                .collect();
            rt.block_on(async move {
                let stream = tokio::net::TcpStream::connect(target).await.unwrap();
                let mut sink = FramedWrite::new(stream, length_codec());
                let started = std::time::Instant::now();
                for f in frames {
                    if sink.feed(f).await.is_err() || started.elapsed() > Duration::from_secs(3) {
                        break;
                    }
                }
                let _ = futures::SinkExt::<bytes::Bytes>::flush(&mut sink).await;
            });
        });
        let started = std::time::Instant::now();
        while !flooder.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let flooded = started.elapsed();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let delivered = TransportStats::get(&nodes[0].stats().frames_in);
        let mut suspicions = Vec::new();
        for (k, rx) in events.iter_mut().enumerate() {
            while let Ok(e) = rx.try_recv() {
                if let HeartbeatEvent::Suspect { peer } = e.event {
                    if peer != NodeId(2) {
                        suspicions.push((if k == 0 { 1 } else { 3 }, peer));
                    }
                }
            }
        }
        for n in &nodes {
            n.stop().await;
        }
        (suspicions, flooded, delivered)
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(delivered > 5_000, "the flood reached node 1: {delivered} frames in {flooded:?}");
    assert!(suspicions.is_empty(), "a flooded node's timers starved: {suspicions:?}");
}
