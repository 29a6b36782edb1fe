//! The application API from other threads: two lock-service clients run as actix nodes (with
//! a grantor and a storage node, all over real TCP), and one ordinary thread per client asks
//! its `LeaseView` for a token before writing to a shared `FencedCell`. Leases are short, and
//! each client's application asks for the lease and hands it back after 300 ms (commands
//! through `NodeHandle::call`), so the clients take turns. Checked: both threads get to write;
//! what the threads saw of the two leases never overlaps in time (one holder at a time, as
//! the application sees it); and the cell never goes back to an older token.

use palisade::actix::lease::{LeaseView, start_lock_client};
use palisade::actix::{NodeConfig, Peer, start};
use palisade::core::NodeId;
use palisade::core::fencing::FencingToken;
use palisade::core::lease::{LeaseCommand, LeaseConfig, LeaseReply, SingleGrantorLockService};
use palisade::core::quorum::test_key;
use palisade::core::sync::FencedCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Per token a thread saw: the first and last instant it saw it valid.
type Seen = BTreeMap<FencingToken, (Instant, Instant)>;

fn app_thread(view: LeaseView, cell: Arc<FencedCell<u64>>, me: u64, run_for: Duration) -> (Seen, u64, u64) {
    let (mut seen, mut written, mut refused) = (Seen::new(), 0, 0);
    let end = Instant::now() + run_for;
    while Instant::now() < end {
        if let Some(token) = view.token_now() {
            let at = Instant::now();
            seen.entry(token).and_modify(|s| s.1 = at).or_insert((at, at));
            match cell.write(token, me) {
                Ok(()) => written += 1,
                Err(_) => refused += 1,
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    (seen, written, refused)
}

#[test]
fn application_threads_act_only_under_a_lease_and_never_at_once() {
    let dir = std::env::temp_dir().join(format!("palisade-lease-api-{}", std::process::id()));
    let lease = LeaseConfig::default()
        .grantor(NodeId(1))
        .resource(NodeId(2))
        .term(Duration::from_millis(500))
        .max_drift_ppm(10_000)
        .renew_after(Duration::from_millis(150))
        .jeopardy_grace(Duration::from_millis(300))
        .request_timeout(Duration::from_millis(100));
    let cell = Arc::new(FencedCell::new(0u64));
    let run_for = Duration::from_secs(4);
    let results = actix::System::new().block_on(async {
        let listeners: Vec<_> = (0..4).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let mut nodes = Vec::new();
        let mut views = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let id = NodeId(i as u32 + 1);
            let peers = (1..=4u32)
                .filter(|&p| p != id.0)
                .map(|p| {
                    (
                        NodeId(p),
                        Peer { addr: addrs[p as usize - 1], key: test_key(5, NodeId(p)).verifying_key() },
                    )
                })
                .collect();
            let config = NodeConfig::<SingleGrantorLockService>::new(
                5,
                id,
                test_key(5, id),
                lease.clone(),
                dir.join(id.to_string()),
            )
            .peers(peers)
            .seed(u64::from(id.0));
            if id.0 >= 3 {
                let (node, view) = start_lock_client(config, listener).unwrap();
                // The application's turns: want the lease, and once it is held for 300 ms
                // give it back, then want it again 100 ms later.
                let app = node.clone();
                actix::spawn(async move {
                    let call = |cmd| app.call(cmd, Duration::from_secs(1));
                    while call(LeaseCommand::Acquire).await.is_ok() {
                        loop {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            match call(LeaseCommand::View).await {
                                Ok(LeaseReply::Holding { .. }) => break,
                                Ok(_) => {}
                                Err(_) => return,
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        if call(LeaseCommand::Release).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                });
                nodes.push(node);
                views.push(view);
            } else {
                nodes.push(start(config, listener).unwrap());
            }
        }
        // Ordinary threads, outside actix, use the views.
        let threads: Vec<_> = views
            .into_iter()
            .enumerate()
            .map(|(k, view)| {
                let cell = cell.clone();
                std::thread::spawn(move || app_thread(view, cell, k as u64 + 3, run_for))
            })
            .collect();
        tokio::time::sleep(run_for + Duration::from_millis(200)).await;
        for n in &nodes {
            n.stop().await;
        }
        threads.into_iter().map(|t| t.join().unwrap()).collect::<Vec<_>>()
    });
    let _ = std::fs::remove_dir_all(&dir);
    for (k, (seen, written, _)) in results.iter().enumerate() {
        assert!(*written > 0 && !seen.is_empty(), "client n{} never wrote under a lease", k + 3);
    }
    // One holder at a time, as the threads saw it.
    let (a, b) = (&results[0].0, &results[1].0);
    for (ta, &(a0, a1)) in a {
        for (tb, &(b0, b1)) in b {
            assert!(
                a1 < b0 || b1 < a0,
                "n3's lease {ta:?} ({a0:?}..{a1:?}) overlaps n4's {tb:?} ({b0:?}..{b1:?})"
            );
        }
    }
    // Turns were taken, and the cell holds the newest token anyone wrote with.
    assert!(a.len() + b.len() >= 3, "expected several turns: {a:?} {b:?}");
    let newest = a.keys().chain(b.keys()).max().copied().unwrap();
    assert_eq!(cell.read().0, newest);
}
