//! Commands and replies on actix: `NodeHandle::call` returns the protocol's own answer to
//! the command, over a real three-node ABD register on loopback; it fails with a clear
//! error when the node stops or when nothing answers in time.

use palisade::actix::{CallError, NodeConfig, NodeHandle, Peer, start};
use palisade::core::NodeId;
use palisade::core::abd::{Abd, AbdConfig, AbdReply, Command, Rejection};
use palisade::core::quorum::test_key;
use std::time::Duration;

const CLUSTER: u64 = 810;
const PATIENCE: Duration = Duration::from_secs(10);

fn abd_nodes(dir: &std::path::Path) -> Vec<NodeHandle<Abd>> {
    let listeners: Vec<_> = (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let id = NodeId(i as u32 + 1);
            let peers = (1..=3u32)
                .filter(|&p| p != id.0)
                .map(|p| {
                    let key = test_key(CLUSTER, NodeId(p)).verifying_key();
                    (NodeId(p), Peer { addr: addrs[p as usize - 1], key })
                })
                .collect();
            let config = NodeConfig::<Abd>::new(
                CLUSTER,
                id,
                test_key(CLUSTER, id),
                AbdConfig::default(),
                dir.join(id.to_string()),
            )
            .peers(peers)
            .seed(1);
            start(config, listener).unwrap()
        })
        .collect()
}

#[test]
fn a_call_returns_the_protocols_answer_and_fails_clearly_without_one() {
    let dir = std::env::temp_dir().join(format!("palisade-calls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let outcome = actix::System::new().block_on(async {
        let nodes = abd_nodes(&dir);
        let empty = nodes[1].call(Command::Read, PATIENCE).await;
        let written = nodes[0].call(Command::Write { value: 42 }, PATIENCE).await;
        let read =
            [nodes[1].call(Command::Read, PATIENCE).await, nodes[2].call(Command::Read, PATIENCE).await];
        // Two at once on one node: the register takes one operation at a time.
        let (first, second) = tokio::join!(
            nodes[2].call(Command::Write { value: 7 }, PATIENCE),
            nodes[2].call(Command::Read, PATIENCE)
        );
        // With both peers gone no majority answers: the call times out.
        nodes[1].stop().await;
        nodes[2].stop().await;
        let stranded = nodes[0].call(Command::Read, Duration::from_millis(300)).await;
        nodes[0].stop().await;
        let stopped = nodes[0].call(Command::Read, PATIENCE).await;
        (empty, written, read, first, second, stranded, stopped)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (empty, written, read, first, second, stranded, stopped) = outcome;
    assert_eq!(empty, Ok(AbdReply::Done(None)), "nothing written yet");
    assert_eq!(written, Ok(AbdReply::Done(Some(42))));
    assert_eq!(read, [Ok(AbdReply::Done(Some(42))), Ok(AbdReply::Done(Some(42)))]);
    assert_eq!(first, Ok(AbdReply::Done(Some(7))));
    assert_eq!(second, Ok(AbdReply::Rejected(Rejection::Busy)), "each call got its own reply");
    assert_eq!(stranded, Err(CallError::Timeout(Duration::from_millis(300))));
    assert_eq!(stopped, Err(CallError::Stopped));
}
