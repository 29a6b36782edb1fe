//! The production transport against plain tokio, side by side in one run: two nodes on
//! loopback exchange pings and pongs (a 64-byte payload) through palisade's actix runtime
//! (actors, Noise sessions: every frame sealed with ChaCha20-Poly1305, length-delimited
//! frames, bincode, bounded queues), and through a bare tokio client and server with the
//! same framing and encoding and nothing else: no authentication, no encryption. Both sides
//! of both variants batch alike: whatever has arrived is answered, then written with one
//! flush (palisade's links pack it into as few sealed frames as fit). Throughput keeps 64 pings in flight; latency keeps one.
//! Every variant runs on one tokio current-thread runtime (one actix arbiter), alternating,
//! five times; the table gives medians.
//!
//! `cargo run --release --example transport_bench` (`-- --quick` for a short run)

use bytes::{Bytes, BytesMut};
use futures::{FutureExt, SinkExt, StreamExt};
use palisade::actix::{NodeConfig, NodeHandle, Peer, start};
use palisade::core::codec::{Codec, DEFAULT_CODEC};
use palisade::core::protocol::{Init, NoReply, Outbox, OutputFor, Protocol, RequestId};
use palisade::core::quorum::test_key;
use palisade::core::{Instant, NodeId, Now};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::codec::Framed;

/// Bench messages.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Msg {
    /// Please answer.
    Ping {
        /// Sequence number.
        seq: u64,
        /// Payload.
        pad: Vec<u8>,
    },
    /// The answer.
    Pong {
        /// The ping answered.
        seq: u64,
    },
}

/// Start a run of `count` pings with `window` in flight.
#[derive(Debug)]
pub struct Run {
    count: u64,
    window: u64,
}

/// A finished run: every round trip, in ns.
#[derive(Clone, Debug, Serialize)]
pub struct Finished {
    rtts_ns: Vec<u64>,
}

/// Node 1 pings node 2; node 2 answers.
pub struct Echo {
    id: NodeId,
    count: u64,
    window: u64,
    next: u64,
    sent_at: BTreeMap<u64, Instant>,
    rtts: Vec<u64>,
    outbox: Outbox<Msg, Finished, ()>,
}

const PAD: usize = 64;

impl Echo {
    fn ping(&mut self, now: Now) {
        let seq = self.next;
        self.next += 1;
        self.sent_at.insert(seq, now.mono);
        self.outbox.send(NodeId(2), Msg::Ping { seq, pad: vec![7; PAD] });
    }
}

impl Protocol for Echo {
    type Message = Msg;
    type Command = Run;
    type Reply = NoReply;
    type Event = Finished;
    type Config = ();
    type Durable = ();

    fn new(init: Init<Self>) -> Self {
        Echo {
            id: init.id,
            count: 0,
            window: 0,
            next: 0,
            sent_at: BTreeMap::new(),
            rtts: Vec::new(),
            outbox: Outbox::new(),
        }
    }
    fn handle_message(&mut self, now: Now, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ping { seq, .. } => self.outbox.send(from, Msg::Pong { seq }),
            Msg::Pong { seq } => {
                if let Some(at) = self.sent_at.remove(&seq) {
                    self.rtts.push(now.mono.saturating_duration_since(at).as_nanos() as u64);
                }
                if self.next < self.count {
                    self.ping(now);
                } else if self.sent_at.is_empty() && self.rtts.len() as u64 == self.count {
                    self.outbox.event(Finished { rtts_ns: std::mem::take(&mut self.rtts) });
                }
            }
        }
    }
    fn handle_command(&mut self, now: Now, _req: RequestId, run: Run) {
        if self.id != NodeId(1) {
            return;
        }
        (self.count, self.window, self.next) = (run.count, run.window, 0);
        self.rtts = Vec::with_capacity(run.count as usize);
        for _ in 0..self.window.min(self.count) {
            self.ping(now);
        }
    }
    fn handle_timeout(&mut self, _now: Now) {}
    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Two palisade nodes; returns the round trips of one run of each shape.
async fn palisade_nodes(runs: &[(u64, u64)]) -> Vec<(Duration, Vec<u64>)> {
    let dir = std::env::temp_dir().join(format!("palisade-tbench-{}", std::process::id()));
    let listeners: Vec<_> =
        (0..2).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().expect("addr")).collect();
    let mut nodes: Vec<NodeHandle<Echo>> = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (id, peer) = (NodeId(i as u32 + 1), NodeId(2 - i as u32));
        let peers =
            BTreeMap::from([(peer, Peer { addr: addrs[1 - i], key: test_key(3, peer).verifying_key() })]);
        let config = NodeConfig::<Echo>::new(3, id, test_key(3, id), (), dir.join(id.to_string()))
            .peers(peers)
            .seed(1);
        nodes.push(start(config, listener).expect("node starts"));
    }
    let mut out = Vec::new();
    // A first short run connects the links.
    for &(count, window) in std::iter::once(&(100, 1)).chain(runs) {
        let mut events = nodes[0].subscribe();
        let started = std::time::Instant::now();
        nodes[0].command(Run { count, window }).await.expect("command");
        let done = events.recv().await.expect("finished").event;
        out.push((started.elapsed(), done.rtts_ns));
    }
    for n in &nodes {
        n.stop().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    out.remove(0);
    out
}

fn frame(msg: &Msg) -> Bytes {
    Bytes::from(DEFAULT_CODEC.encode(msg).expect("encodes"))
}

fn unframe(b: &BytesMut) -> Option<Msg> {
    DEFAULT_CODEC.decode(b).ok()
}

/// A bare tokio client and server with the same framing; returns the same as
/// [`palisade_nodes`].
async fn plain_tokio(runs: &[(u64, u64)]) -> Vec<(Duration, Vec<u64>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::task::spawn_local(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut framed = Framed::new(stream, palisade::actix::wire::length_codec());
        // Answer everything that has arrived, then flush once: the same batching palisade's
        // links do, so neither side is charged a write per message the other is spared.
        while let Some(Ok(first)) = framed.next().await {
            let mut arrived = vec![first];
            while let Some(Some(Ok(b))) = framed.next().now_or_never() {
                arrived.push(b);
            }
            for bytes in arrived {
                if let Some(Msg::Ping { seq, .. }) = unframe(&bytes)
                    && framed.feed(frame(&Msg::Pong { seq })).await.is_err()
                {
                    return;
                }
            }
            if SinkExt::<Bytes>::flush(&mut framed).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut framed = Framed::new(stream, palisade::actix::wire::length_codec());
    let mut out = Vec::new();
    for &(count, window) in std::iter::once(&(100, 1)).chain(runs) {
        let started = std::time::Instant::now();
        let mut sent_at = BTreeMap::new();
        let mut rtts = Vec::with_capacity(count as usize);
        let mut next = 0;
        while next < window.min(count) {
            sent_at.insert(next, std::time::Instant::now());
            framed.feed(frame(&Msg::Ping { seq: next, pad: vec![7; PAD] })).await.expect("send");
            next += 1;
        }
        SinkExt::<Bytes>::flush(&mut framed).await.expect("flush");
        while (rtts.len() as u64) < count {
            let mut arrived = vec![framed.next().await.expect("open").expect("read")];
            while let Some(Some(Ok(b))) = framed.next().now_or_never() {
                arrived.push(b);
            }
            for bytes in arrived {
                if let Some(Msg::Pong { seq }) = unframe(&bytes) {
                    if let Some(at) = sent_at.remove(&seq) {
                        rtts.push(at.elapsed().as_nanos() as u64);
                    }
                    if next < count {
                        sent_at.insert(next, std::time::Instant::now());
                        framed.feed(frame(&Msg::Ping { seq: next, pad: vec![7; PAD] })).await.expect("send");
                        next += 1;
                    }
                }
            }
            SinkExt::<Bytes>::flush(&mut framed).await.expect("flush");
        }
        out.push((started.elapsed(), rtts));
    }
    drop(framed);
    let _ = server.await;
    out.remove(0);
    out
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (throughput_n, latency_n, repeats) = if quick { (20_000, 2_000, 3) } else { (200_000, 20_000, 5) };
    let runs = [(throughput_n, 64), (latency_n, 1)];
    let variants = ["plain tokio", "palisade (Noise sessions)"];
    // Per variant: throughput msgs/s, p50 µs, p99 µs, per repeat.
    let mut results: Vec<[Vec<f64>; 3]> = variants.iter().map(|_| [vec![], vec![], vec![]]).collect();
    let system = actix::System::new();
    for _ in 0..repeats {
        for (v, _) in variants.iter().enumerate() {
            let got = system.block_on(async {
                match v {
                    0 => plain_tokio(&runs).await,
                    _ => palisade_nodes(&runs).await,
                }
            });
            let (elapsed, _) = &got[0];
            // Pings and pongs both cross the transport: count both.
            results[v][0].push(2.0 * throughput_n as f64 / elapsed.as_secs_f64());
            let mut lat = got[1].1.clone();
            lat.sort_unstable();
            results[v][1].push(percentile(&lat, 0.5));
            results[v][2].push(percentile(&lat, 0.99));
        }
    }
    println!(
        "{repeats} alternating repeats, medians; throughput: {throughput_n} pings with 64 in flight \
         (messages = pings + pongs); latency: {latency_n} round trips one at a time"
    );
    println!("| transport | messages/s | vs plain tokio | round trip p50 µs | p99 µs |");
    println!("|---|---|---|---|---|");
    let base = median(results[0][0].clone());
    let mut medians = Vec::new();
    for (v, name) in variants.iter().enumerate() {
        let tput = median(results[v][0].clone());
        let (p50, p99) = (median(results[v][1].clone()), median(results[v][2].clone()));
        medians.push((tput, p50, p99));
        println!("| {name} | {tput:.0} | {:.2} | {p50:.1} | {p99:.1} |", tput / base);
    }
    let noise = medians[1];
    println!(
        "goal: palisade with authenticated, encrypted sessions at least 50% of plain tokio: {:.0}% ({})",
        100.0 * noise.0 / base,
        if noise.0 >= 0.5 * base { "met" } else { "NOT met" }
    );
    println!("round trip p50: +{:.1} µs over plain tokio", noise.1 - medians[0].1);
}
