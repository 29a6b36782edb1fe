//! A Byzantine node among real processes: three honest `palisade node`s run Bracha's
//! broadcast (n = 4, f = 1, INITIALs signed with their real keys), and this test process
//! plays node 4 over raw TCP with node 4's real key. It sends forged frames (another node's
//! identity, another cluster, a replay, garbage), which the honest nodes reject and count,
//! and it equivocates: one signed value to n1, another to n2 and n3. The honest nodes must
//! catch it with proof (an `equivocation` event), never deliver different values for its
//! instance, and still deliver each other's.

mod common;

use common::{Cluster, num};
use palisade::actix::frame::{Frame, FrameHeader, Payload};
use palisade::core::NodeId;
use palisade::core::quorum::Vote;
use palisade::core::quorum::bracha::BrachaMsg;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

const CLUSTER: u64 = 12;

fn key_of(cluster: &Cluster, id: u32) -> ed25519_dalek::SigningKey {
    let hex = std::fs::read_to_string(cluster.dir.join(format!("k{id}/node.key"))).unwrap();
    let hex = hex.trim();
    let bytes: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    ed25519_dalek::SigningKey::from_bytes(&bytes.try_into().unwrap())
}

/// Writes frames, each behind its 4-byte length (the nodes' framing), on a fresh
/// connection to `to`.
fn send_frames(cluster: &Cluster, to: usize, frames: &[Vec<u8>]) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", cluster.ports[to - 1])).unwrap();
    for f in frames {
        stream.write_all(&(f.len() as u32).to_be_bytes()).unwrap();
        stream.write_all(f).unwrap();
    }
    stream.flush().unwrap();
    // Keep it open a moment so the reader sees every frame before the close.
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn forged_frames_are_rejected_and_an_equivocating_node_is_caught_with_proof() {
    let mut cluster = Cluster::new("byzantine", 4, |_, _| {
        format!("cluster = {CLUSTER}\nprotocol = \"bracha\"\n\n[bracha]\nf = 1\n")
    });
    for id in 1..=3 {
        cluster.start(id);
    }
    std::thread::sleep(Duration::from_millis(800));
    let me = key_of(&cluster, 4);
    let epoch = 1_000;
    let header =
        |to: u32, seq: u64| FrameHeader { cluster: CLUSTER, from: NodeId(4), to: NodeId(to), epoch, seq };
    let signed = |to: u32, seq: u64, value: &[u8]| {
        let initial = Vote::sign(&me, 4, 0, NodeId(4), value.to_vec());
        Frame::seal(&header(to, seq), &Payload::Message(BrachaMsg::Initial { initial }), &me).unwrap()
    };

    // Forgeries to n1: claiming to be n2 (signed with n4's key), for another cluster, and
    // garbage; then, after a valid frame, a replay of it.
    let as_n2 = Frame::seal(
        &FrameHeader { from: NodeId(2), ..header(1, 0) },
        &Payload::Message(BrachaMsg::Ready { instance: 2, value: b"x".to_vec() }),
        &me,
    )
    .unwrap();
    let other_cluster = Frame::seal(
        &FrameHeader { cluster: CLUSTER + 1, ..header(1, 0) },
        &Payload::Message(BrachaMsg::Ready { instance: 4, value: b"x".to_vec() }),
        &me,
    )
    .unwrap();
    let garbage = vec![0xAB; 150];
    let first = signed(1, 1, b"A: the value n1 is told");
    send_frames(&cluster, 1, &[as_n2, other_cluster, garbage, first.clone(), first]);
    let rejected = cluster.wait_for(Duration::from_secs(5), "n1 counting 4 rejected frames", |seen| {
        seen.iter()
            .filter(|s| num(&s.v, "node") == 1 && s.v["event"] == "transport")
            .map(|s| num(&s.v, "rejected"))
            .max()
            .filter(|&r| r >= 4)
    });
    assert_eq!(rejected, 4, "the forged identity, the other cluster, the garbage and the replay");

    // Equivocation: n2 and n3 are told another value, validly signed.
    for to in [2u32, 3] {
        send_frames(&cluster, to as usize, &[signed(to, 1, b"B: the value n2 and n3 are told")]);
    }
    let caught = cluster.wait_for(Duration::from_secs(10), "every honest node holding proof", |seen| {
        let who: BTreeSet<u64> = seen
            .iter()
            .filter(|s| s.v["event"] == "equivocation" && num(&s.v, "instance") == 4)
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

    // Honest deliveries: each other's instances, and never two values for n4's.
    cluster.wait_for(Duration::from_secs(10), "honest nodes delivering instances 1-3", |seen| {
        let got: BTreeSet<(u64, u64)> = seen
            .iter()
            .filter(|s| s.v["event"] == "delivered" && num(&s.v, "instance") <= 3)
            .map(|s| (num(&s.v, "node"), num(&s.v, "instance")))
            .collect();
        (got.len() == 9).then_some(())
    });
    let for_n4: BTreeMap<u64, String> = cluster
        .seen()
        .iter()
        .filter(|s| s.v["event"] == "delivered" && num(&s.v, "instance") == 4)
        .map(|s| (num(&s.v, "node"), s.v["value"].to_string()))
        .collect();
    let values: BTreeSet<&String> = for_n4.values().collect();
    assert!(values.len() <= 1, "agreement broken for the equivocator's instance: {for_n4:?}");
}
