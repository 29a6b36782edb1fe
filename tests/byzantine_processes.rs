//! A Byzantine node among real processes: three honest `palisade node`s run Bracha's
//! broadcast (n = 4, f = 1, INITIALs signed with their real keys), and this test process
//! plays node 4 over real Noise sessions with node 4's real key. It tries forged handshakes
//! (another node's identity, another cluster, the wrong direction, garbage), which the honest
//! nodes reject, count and close; and it equivocates: one signed value to n1, another to n2
//! and n3. The honest nodes must catch it with proof (an `equivocation` event), never deliver
//! different values for its instance, and still deliver each other's.

mod common;

use common::{Cluster, key_of, num};
use futures::{SinkExt, StreamExt};
use palisade::actix::transport::noise::{Identity, Initiator};
use palisade::actix::transport::{Keys, answer};
use palisade::actix::wire::{Payload, length_codec};
use palisade::core::NodeId;
use palisade::core::quorum::Vote;
use palisade::core::quorum::bracha::BrachaMsg;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const CLUSTER: u64 = 12;

/// Connects to a node's port, waiting (up to 10 s) for the node to listen.
async fn connect(port: u16) -> tokio::net::TcpStream {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => return s,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("node on port {port} not listening: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Tries a handshake with node `to` as `me`, then waits for the node to close the connection.
async fn forged_handshake(port: u16, to: u32, me: &Identity, keys: &Keys) {
    let stream = connect(port).await;
    let mut wire = tokio_util::codec::Framed::new(stream, length_codec());
    let (init, m1) = Initiator::start(me, NodeId(to)).unwrap();
    wire.send(bytes::Bytes::from(m1)).await.unwrap();
    if let Some(Ok(m2)) = wire.next().await {
        match init.finish(me, &m2, keys) {
            Ok((m3, _)) => {
                let _ = wire.send(bytes::Bytes::from(m3)).await;
            }
            Err(_) => return, // another cluster's answer does not decrypt: hang up
        }
    }
    // The node closes it.
    let _ =
        tokio::time::timeout(Duration::from_secs(5), async { while let Some(Ok(_)) = wire.next().await {} })
            .await;
}

/// Node 4: answers the honest nodes' sessions on node 4's port, sends each the INITIAL
/// `plan` assigns it (once), and keeps every session alive until the test ends.
fn play_node_4(port: u16, me: Identity, keys: Keys, plan: BTreeMap<NodeId, BrachaMsg>) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let (me, keys) = (Arc::new(me), Arc::new(keys));
            let plan = std::rc::Rc::new(std::cell::RefCell::new(plan));
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let Ok(mut conn) = answer(stream, me.clone(), keys.clone()).await else { continue };
                let initial = plan.borrow_mut().remove(&conn.peer);
                tokio::task::spawn_local(async move {
                    if let Some(msg) = initial {
                        let _ = conn.feed(&Payload::Message(msg)).await;
                    }
                    loop {
                        if conn.feed(&Payload::<()>::Keepalive).await.is_err() || conn.flush().await.is_err()
                        {
                            return;
                        }
                        // Read (and ignore) whatever the node sends for a second.
                        let read = async { while let Some(Ok(_)) = conn.recv::<BrachaMsg>().await {} };
                        if tokio::time::timeout(Duration::from_secs(1), read).await.is_ok() {
                            return; // closed
                        }
                    }
                });
            }
        });
    });
}

#[test]
fn forged_handshakes_are_rejected_and_an_equivocating_node_is_caught_with_proof() {
    let mut cluster = Cluster::new("byzantine", 4, |_, _| {
        format!("cluster = {CLUSTER}\nprotocol = \"bracha\"\n\n[bracha]\nf = 1\nbroadcast = \"hello\"\n")
    });
    let me = key_of(&cluster, 4);
    let keys: Keys = (1..=4).map(|id| (NodeId(id), key_of(&cluster, id).verifying_key())).collect();
    // Equivocation about n4's first broadcast: n1 is told one value, n2 and n3 another, each
    // validly signed by n4.
    let initial =
        |value: &[u8]| BrachaMsg::Initial { initial: Vote::sign(&me, 1, 0, NodeId(4), value.to_vec()) };
    let plan = BTreeMap::from([
        (NodeId(1), initial(b"A: the value n1 is told")),
        (NodeId(2), initial(b"B: the value n2 and n3 are told")),
        (NodeId(3), initial(b"B: the value n2 and n3 are told")),
    ]);
    play_node_4(cluster.ports[3], Identity::new(CLUSTER, NodeId(4), &me).unwrap(), keys.clone(), plan);
    for id in 1..=3 {
        cluster.start(id);
    }

    // Forged handshakes to n1: n4's key claiming to be n2, n4 dialling (the lower id dials),
    // n4 in another cluster, and garbage.
    let n1_port = cluster.ports[0];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        forged_handshake(n1_port, 1, &Identity::new(CLUSTER, NodeId(2), &me).unwrap(), &keys).await;
        forged_handshake(n1_port, 1, &Identity::new(CLUSTER, NodeId(4), &me).unwrap(), &keys).await;
        forged_handshake(n1_port, 1, &Identity::new(CLUSTER + 1, NodeId(4), &me).unwrap(), &keys).await;
        let mut raw = connect(n1_port).await;
        tokio::io::AsyncWriteExt::write_all(&mut raw, &[0, 0, 0, 150]).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut raw, &[0xAB; 150]).await.unwrap();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut raw, &mut [0; 8]),
        )
        .await;
    });
    let rejected = cluster.wait_for(Duration::from_secs(5), "n1 counting 4 rejected handshakes", |seen| {
        seen.iter()
            .filter(|s| num(&s.v, "node") == 1 && s.v["event"] == "transport")
            .map(|s| num(&s.v, "rejected"))
            .max()
            .filter(|&r| r >= 4)
    });
    assert_eq!(rejected, 4, "the forged identity, the wrong dialler, the other cluster and the garbage");

    let caught = cluster.wait_for(Duration::from_secs(10), "every honest node holding proof", |seen| {
        let who: BTreeSet<u64> = seen
            .iter()
            .filter(|s| {
                s.v["event"] == "equivocation" && num(&s.v, "sender") == 4 && num(&s.v, "instance") == 1
            })
            .map(|s| num(&s.v, "node"))
            .collect();
        (who.len() == 3).then_some(who)
    });
    assert_eq!(caught, BTreeSet::from([1, 2, 3]));
    // The proof names n4 and carries its two signed values.
    let seen = cluster.seen();
    let proof = seen.iter().find(|s| s.v["event"] == "equivocation").unwrap();
    assert_eq!(num(&proof.v["evidence"]["first"], "voter"), 4, "{}", proof.v);
    assert_ne!(proof.v["evidence"]["first"]["value"], proof.v["evidence"]["second"]["value"]);

    // Honest deliveries: each other's broadcast ("hello", the first of each), and never two
    // values for n4's.
    cluster.wait_for(Duration::from_secs(10), "honest nodes delivering each other's broadcasts", |seen| {
        let got: BTreeSet<(u64, u64)> = seen
            .iter()
            .filter(|s| s.v["event"] == "delivered" && num(&s.v, "sender") <= 3 && num(&s.v, "instance") == 1)
            .map(|s| (num(&s.v, "node"), num(&s.v, "sender")))
            .collect();
        (got.len() == 9).then_some(())
    });
    let for_n4: BTreeMap<u64, String> = cluster
        .seen()
        .iter()
        .filter(|s| s.v["event"] == "delivered" && num(&s.v, "sender") == 4)
        .map(|s| (num(&s.v, "node"), s.v["value"].to_string()))
        .collect();
    let values: BTreeSet<&String> = for_n4.values().collect();
    assert!(values.len() <= 1, "agreement broken for the equivocator's instance: {for_n4:?}");
}
