//! The actix transport on real TCP: hostile handshakes and frames are rejected, counted and
//! close their connections without stopping the node; a recorded session replayed verbatim
//! gets nothing through; a member's session gets through.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use palisade::actix::transport::noise::{Identity, Initiator};
use palisade::actix::wire::{Payload, length_codec, pack};
use palisade::actix::{NodeConfig, Peer, start};
use palisade::core::NodeId;
use palisade::core::codec::{Codec, DEFAULT_CODEC};
use palisade::core::detector::{FixedTimeout, Heartbeat, HeartbeatConfig, HeartbeatMsg};
use palisade::core::quorum::test_key;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::Framed;

/// Each test runs its own cluster: tests run in parallel in this process, and a node dialling
/// a port another test freed (the hostile test's peers live at a closed port) must fail the
/// handshake there instead of joining that test's cluster and adding a connection to it.
const HOSTILE: u64 = 770;
const ONE_CONNECTION: u64 = 780;
const FLOOD: u64 = 790;
const BARRIER: u64 = 800;

type Wire = Framed<tokio::net::TcpStream, tokio_util::codec::LengthDelimitedCodec>;

/// Dials `addr` as `me` (expecting node 2 there) and runs the handshake by hand, recording
/// every frame this side sends. Returns the connection, the recording and the session's
/// sealer; `None` if the node closed the connection during the handshake.
async fn handshake_as(
    addr: SocketAddr,
    me: &Identity,
    keys: &BTreeMap<NodeId, ed25519_dalek::VerifyingKey>,
) -> Option<(Wire, Vec<Bytes>, palisade::actix::transport::noise::Sealer)> {
    let mut wire = Framed::new(tokio::net::TcpStream::connect(addr).await.ok()?, length_codec());
    let (init, m1) = Initiator::start(me, NodeId(2)).ok()?;
    wire.send(Bytes::from(m1.clone())).await.ok()?;
    let m2 = wire.next().await?.ok()?;
    let (m3, session) = init.finish(me, &m2, keys).ok()?;
    wire.send(Bytes::from(m3.clone())).await.ok()?;
    Some((wire, vec![Bytes::from(m1), Bytes::from(m3)], session.split().0))
}

/// A port bound but never listened on: a connection to it is refused for as long as the
/// returned socket lives (a freed port could be taken by another test's node).
fn refusing_port() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

/// A real session with node 2 of `cluster` at `addr`, as node 1 (with node 1's key).
async fn dial_node_2_as_node_1(cluster: u64, addr: SocketAddr) -> palisade::actix::transport::Connection {
    let me = Identity::new(cluster, NodeId(1), &test_key(cluster, NodeId(1))).unwrap();
    let keys: BTreeMap<_, _> =
        (1..=3).map(|n| (NodeId(n), test_key(cluster, NodeId(n)).verifying_key())).collect();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    palisade::actix::transport::dial(stream, std::sync::Arc::new(me), NodeId(2), std::sync::Arc::new(keys))
        .await
        .unwrap()
}

/// True once the node has closed `wire` (reads end or fail within 5 s; the node's own
/// frames on a session are skipped).
async fn closed_by_node(wire: &mut Wire) -> bool {
    let ended = async { while let Some(Ok(_)) = wire.next().await {} };
    tokio::time::timeout(Duration::from_secs(5), ended).await.is_ok()
}

#[test]
fn hostile_handshakes_and_frames_are_rejected_counted_and_survived() {
    const CLUSTER: u64 = HOSTILE;
    let dir = std::env::temp_dir().join(format!("palisade-transport-{}", std::process::id()));
    let system = actix::System::new();
    let (rejected, accepted, closed, running) = system.block_on(async {
        // Node 2, with peers 1 (this test) and 3 (nobody: its port refuses connections).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (_refusing, nobody) = refusing_port();
        let peers: BTreeMap<NodeId, Peer> = [1, 3]
            .into_iter()
            .map(|p| (NodeId(p), Peer { addr: nobody, key: test_key(CLUSTER, NodeId(p)).verifying_key() }))
            .collect();
        let config = NodeConfig::<Heartbeat<FixedTimeout>>::new(
            CLUSTER,
            NodeId(2),
            test_key(CLUSTER, NodeId(2)),
            HeartbeatConfig::default(),
            dir.join("n2"),
        )
        .peers(peers)
        .seed(1);
        let node = start(config, listener).unwrap();
        let keys: BTreeMap<_, _> =
            (1..=3).map(|n| (NodeId(n), test_key(CLUSTER, NodeId(n)).verifying_key())).collect();
        let hb = |seq| DEFAULT_CODEC.encode(&Payload::Message(HeartbeatMsg { incarnation: 0, seq })).unwrap();
        let mut closed = Vec::new();

        // The member's own session: one heartbeat gets through.
        let n1 = Identity::new(CLUSTER, NodeId(1), &test_key(CLUSTER, NodeId(1))).unwrap();
        let (mut wire, mut recording, mut sealer) = handshake_as(addr, &n1, &keys).await.expect("member");
        let frame = sealer.seal(&pack([hb(1)])[0]).unwrap();
        recording.push(frame.clone());
        wire.send(frame).await.unwrap();
        // Then a forged frame on the same session (bytes nobody can seal): the node closes it.
        wire.send(Bytes::from(vec![0xAB; 40])).await.unwrap();
        closed.push(("forged frame", closed_by_node(&mut wire).await));

        // The recording, replayed verbatim on a new connection: the node answers the first
        // message with a fresh ephemeral key, so the recorded third message fails.
        let mut replay = Framed::new(tokio::net::TcpStream::connect(addr).await.unwrap(), length_codec());
        replay.send(recording[0].clone()).await.unwrap();
        let _ = replay.next().await;
        for f in &recording[1..] {
            let _ = replay.send(f.clone()).await;
        }
        closed.push(("replayed session", closed_by_node(&mut replay).await));

        // Handshakes that must fail: a stranger, node 3's key claiming to be node 1, another
        // cluster, and node 3 (a member, but the lower id dials).
        let attempts = [
            ("stranger", Identity::new(CLUSTER, NodeId(9), &test_key(CLUSTER, NodeId(9))).unwrap()),
            ("impostor", Identity::new(CLUSTER, NodeId(1), &test_key(CLUSTER, NodeId(3))).unwrap()),
            (
                "other cluster",
                Identity::new(CLUSTER + 1, NodeId(1), &test_key(CLUSTER + 1, NodeId(1))).unwrap(),
            ),
            ("wrong dialer", Identity::new(CLUSTER, NodeId(3), &test_key(CLUSTER, NodeId(3))).unwrap()),
        ];
        for (what, id) in &attempts {
            let mut keys = keys.clone();
            keys.insert(NodeId(9), test_key(CLUSTER, NodeId(9)).verifying_key());
            let outcome = match handshake_as(addr, id, &keys).await {
                None => true, // refused during the handshake
                Some((mut wire, _, _)) => closed_by_node(&mut wire).await,
            };
            closed.push((what, outcome));
        }

        // Garbage, and a length prefix claiming 4 GiB: refused before buffering.
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(&[0, 0, 0, 20]).await.unwrap();
        raw.write_all(&[0xCD; 20]).await.unwrap();
        raw.write_all(&[0, 0, 0, 20]).await.unwrap();
        raw.write_all(&[0xCD; 20]).await.unwrap();
        let mut raw = Framed::new(raw, length_codec());
        closed.push(("garbage", closed_by_node(&mut raw).await));
        let mut big = tokio::net::TcpStream::connect(addr).await.unwrap();
        big.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        big.write_all(&[0u8; 32]).await.unwrap();
        let mut big = Framed::new(big, length_codec());
        closed.push(("oversized", closed_by_node(&mut big).await));

        let stats = node.stats();
        let out = (stats.counts().rejected, stats.counts().frames_in, closed, node.is_running());
        node.stop().await;
        out
    });
    let _ = std::fs::remove_dir_all(&dir);
    for (what, closed) in &closed {
        assert!(closed, "the node kept the {what} connection open");
    }
    assert_eq!(accepted, 1, "exactly the member's one heartbeat got through");
    assert_eq!(rejected, 8, "forged frame, replay, 4 bad handshakes, garbage, oversized prefix");
    assert!(running, "nothing stopped the node");
}

/// Heartbeat nodes 1..=3 on loopback in the current actix system, all but `skip` (whose
/// port nobody listens on: the test plays that node). Returns the running nodes and every
/// node's address.
fn heartbeat_nodes(
    cluster: u64,
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
                let key = test_key(cluster, NodeId(p)).verifying_key();
                (NodeId(p), Peer { addr: addrs[p as usize - 1], key })
            })
            .collect();
        let cfg = NodeConfig::<Heartbeat<FixedTimeout>>::new(
            cluster,
            id,
            test_key(cluster, id),
            config.clone(),
            dir.join(id.to_string()),
        )
        .peers(peers)
        .seed(1);
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
        let config = HeartbeatConfig::default().interval(Duration::from_millis(50));
        let (nodes, addrs) = heartbeat_nodes(ONE_CONNECTION, &dir, config, None);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let ports: Vec<u16> = addrs.iter().map(|a| a.port()).collect();
        let out = (
            connections_to(&ports),
            nodes.iter().map(|n| n.stats().counts().connects).collect::<Vec<_>>(),
            nodes.iter().map(|n| n.stats().counts().frames_in).collect::<Vec<_>>(),
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
/// mailbox that never empties starves an actor's `run_later`): node 2 is flooded by "node 1"
/// (this test, with node 1's key, over a real session) as fast as TCP allows for 3 s, while
/// node 3 watches node 2's heartbeats with a 500 ms timeout. Node 3 must never suspect node
/// 2, and node 2 must never suspect node 3.
#[test]
fn a_flooded_node_keeps_its_timers() {
    use palisade::core::detector::HeartbeatEvent;
    let dir = std::env::temp_dir().join(format!("palisade-flood-{}", std::process::id()));
    let (suspicions, flooded, delivered) = actix::System::new().block_on(async {
        let config = HeartbeatConfig::default().interval(Duration::from_millis(50)).detector(
            palisade::core::detector::FixedTimeoutConfig::default().timeout(Duration::from_millis(500)),
        );
        // Node 1 is this test.
        let (nodes, addrs) = heartbeat_nodes(FLOOD, &dir, config, Some(1));
        let mut events: Vec<_> = nodes.iter().map(|n| n.subscribe()).collect();
        tokio::time::sleep(Duration::from_millis(700)).await;
        // The flood comes from another thread with its own runtime, as from another process.
        let target = addrs[1];
        let flooder = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let mut conn = dial_node_2_as_node_1(FLOOD, target).await;
                let started = std::time::Instant::now();
                for seq in 0..200_000u64 {
                    let msg = Payload::Message(HeartbeatMsg { incarnation: 0, seq });
                    if conn.feed(&msg).await.is_err() || started.elapsed() > Duration::from_secs(3) {
                        break;
                    }
                }
                let _ = conn.flush().await;
            });
        });
        let started = std::time::Instant::now();
        while !flooder.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let flooded = started.elapsed();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let delivered = nodes[0].stats().counts().frames_in;
        let mut suspicions = Vec::new();
        for (k, rx) in events.iter_mut().enumerate() {
            while let Ok(e) = rx.try_recv() {
                if let HeartbeatEvent::Suspect { peer } = e.event
                    && peer != NodeId(1)
                {
                    suspicions.push((k + 2, peer));
                }
            }
        }
        for n in &nodes {
            n.stop().await;
        }
        (suspicions, flooded, delivered)
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(delivered > 5_000, "the flood reached node 2: {delivered} frames in {flooded:?}");
    assert!(suspicions.is_empty(), "a flooded node's timers starved: {suspicions:?}");
}

/// Counts the messages it has handled, and announces each count only once it is durable.
struct Durable {
    n: u64,
    outbox: palisade::core::protocol::Outbox<u64, u64, u64>,
}

impl palisade::core::Protocol for Durable {
    type Message = u64;
    type Command = ();
    type Reply = palisade::core::NoReply;
    type Event = u64;
    type Config = ();
    type Durable = u64;

    fn new(init: palisade::core::protocol::Init<Self>) -> Self {
        Durable { n: init.restored.unwrap_or(0), outbox: palisade::core::protocol::Outbox::new() }
    }
    fn handle_message(&mut self, _: palisade::core::Now, _: NodeId, _: u64) {
        self.n += 1;
        self.outbox.persist(self.n);
        self.outbox.event(self.n);
    }
    fn handle_command(&mut self, _: palisade::core::Now, _req: palisade::core::RequestId, _: ()) {}
    fn handle_timeout(&mut self, _: palisade::core::Now) {}
    fn poll_output(&mut self) -> Option<palisade::core::protocol::OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<palisade::core::Instant> {
        None
    }
}

/// The persist barrier holds when a peer's messages arrive many to a frame: every event
/// the node emits after a `Persist` finds that state already in the state file, and the
/// messages are handled in order, none lost.
#[test]
fn batched_messages_never_overtake_a_pending_persist() {
    const CLUSTER: u64 = BARRIER;
    let dir = std::env::temp_dir().join(format!("palisade-barrier-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.join("n2").join("state.bin");
    let (seen, stale) = actix::System::new().block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (_refusing, nobody) = refusing_port();
        let peers =
            [(NodeId(1), Peer { addr: nobody, key: test_key(CLUSTER, NodeId(1)).verifying_key() })].into();
        let config =
            NodeConfig::<Durable>::new(CLUSTER, NodeId(2), test_key(CLUSTER, NodeId(2)), (), dir.join("n2"))
                .peers(peers)
                .seed(1);
        let node = start(config, listener).unwrap();
        let mut events = node.subscribe();
        // 300 messages from "node 1", fed without flushing: they leave in a few large frames.
        let mut conn = dial_node_2_as_node_1(CLUSTER, addr).await;
        let frames: Vec<Bytes> =
            pack((0..300u64).map(|i| DEFAULT_CODEC.encode(&Payload::Message(i)).unwrap()))
                .into_iter()
                .map(|plain| conn.sealer.seal(&plain).unwrap())
                .collect();
        assert_eq!(frames.len(), 1, "300 small messages fit one frame");
        for f in frames {
            conn.writer.send(f).await.unwrap();
        }
        let (mut seen, mut stale) = (Vec::new(), Vec::new());
        while seen.len() < 300 {
            let e = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
            let on_disk: u64 = DEFAULT_CODEC.decode(&std::fs::read(&state).unwrap()).unwrap();
            if on_disk < e.event {
                stale.push((e.event, on_disk));
            }
            seen.push(e.event);
        }
        node.stop().await;
        (seen, stale)
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(seen, (1..=300).collect::<Vec<_>>(), "every message handled, in order");
    assert!(stale.is_empty(), "events acted on before their state was durable: {stale:?}");
}
