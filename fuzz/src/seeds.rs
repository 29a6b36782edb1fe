//! Writes the committed seed corpus: one valid encoding of each kind of message per target,
//! and for the frame target, a real dialler's first and last handshake messages with their
//! length prefixes (so the fuzzer starts from well-formed ones). `cargo run --bin seeds` from `fuzz/`.

use palisade_actix::transport::noise::{Identity, Initiator, Responder};
use palisade_core::codec::{Bincode, Codec, Postcard};
use palisade_core::quorum::test_key;
use palisade_core::{NodeId, Protocol};
use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

/// Records every message one simulated run of `P` sends, as seeds for `target`. In each
/// round, `command(round, node)` may hand a node an application command.
fn from_run<P: Protocol>(
    target: &str,
    config: P::Config,
    nodes: u32,
    command: impl Fn(u64, NodeId) -> Option<P::Command>,
) {
    use palisade_core::protocol::{Init, Input, Output, step};
    use palisade_core::{Instant, Now, WallTime};
    let members: Vec<NodeId> = (1..=nodes).map(NodeId).collect();
    let mut seen = std::collections::BTreeSet::new();
    let now0 = Now::new(Instant::ZERO, WallTime::UNIX_EPOCH);
    let mut ps: Vec<P> =
        members.iter().map(|&id| P::new(Init::fresh(id, members.clone(), config.clone(), 1, now0))).collect();
    // Drive every node by timeouts and deliver what they send, for a few rounds.
    let mut inbox: Vec<(NodeId, NodeId, P::Message)> = Vec::new();
    for round in 0..200u64 {
        let now = Now::new(
            Instant::from_nanos(round * 50_000_000),
            WallTime::from_unix_nanos(round as i64 * 50_000_000),
        );
        let mut out = Vec::new();
        for (i, p) in ps.iter_mut().enumerate() {
            let from = NodeId(i as u32 + 1);
            step(p, now, Input::Timeout, |o| out.push((from, o)));
            if let Some(cmd) = command(round, from) {
                let req = palisade_core::protocol::RequestId(round);
                step(p, now, Input::Command { req, cmd }, |o| out.push((from, o)));
            }
        }
        for (from, to, msg) in inbox.drain(..) {
            if let Some(p) = ps.get_mut(to.0 as usize - 1) {
                step(p, now, Input::Message { from, msg }, |o| out.push((to, o)));
            }
        }
        for (from, o) in out {
            if let Output::Send { to, msg } = o {
                let bytes = Bincode.encode(&msg).expect("encodes");
                if seen.len() < 12 && seen.insert(bytes.clone()) {
                    write(target, &format!("seed-{}", seen.len()), &bytes);
                    // The same message in the other codec, so both decoders start from
                    // valid inputs.
                    let postcard = Postcard.encode(&msg).expect("encodes");
                    write(target, &format!("postcard-seed-{}", seen.len()), &postcard);
                }
                inbox.push((from, to, msg));
            }
        }
    }
    assert!(!seen.is_empty(), "{target}: the run sent nothing");
}

fn main() {
    use palisade_core::abd::{Abd, AbdConfig, Command as AbdCommand};
    use palisade_core::clock::{SkewConfig, SkewMonitor};
    use palisade_core::detector::swim::{Swim, SwimConfig};
    use palisade_core::detector::{Heartbeat, HeartbeatConfig, PhiAccrual};
    use palisade_core::lease::election::{Election, ElectionCommand};
    use palisade_core::lease::{LeaseCommand, LeaseConfig, SingleGrantorLockService};
    use palisade_core::lock::{LockCommand, LockConfig, Locks};
    use palisade_core::quorum::bracha::{Bracha, BrachaCommand, BrachaConfig};
    use palisade_core::quorum::register::{Register, RegisterCommand, RegisterConfig};
    use palisade_core::quorum::{QuorumKind, QuorumSystem, VoteKeys};
    use std::time::Duration;

    from_run::<Heartbeat<PhiAccrual>>("heartbeat_msg", HeartbeatConfig::default(), 3, |_, _| None);
    from_run::<Swim>("swim_msg", SwimConfig::default(), 4, |_, _| None);
    // Clients n3 and n4 ask for the lease, then write every round (grantor n1, storage n2).
    from_run::<SingleGrantorLockService>("lease_msg", LeaseConfig::default(), 4, |round, node| {
        match (node.0, round) {
            (3 | 4, 0) => Some(LeaseCommand::Acquire),
            (3 | 4, _) => Some(LeaseCommand::Write { value: round, after: Duration::ZERO }),
            _ => None,
        }
    });
    // Every candidate asks to write every round; the leader's writes go to storage n4.
    let election = LeaseConfig::default().resource(NodeId(4));
    from_run::<Election>("election_msg", election, 4, |round, node| {
        (node.0 != 4).then_some(ElectionCommand::Write { value: round, after: Duration::ZERO })
    });
    from_run::<SkewMonitor>("skew_msg", SkewConfig::default(), 3, |_, _| None);
    let bracha = BrachaConfig::with_keys(4, 1, VoteKeys::Test(9)).expect("valid");
    // Every node broadcasts once, at the start.
    from_run::<Bracha>("bracha_msg", bracha, 4, |round, node| {
        (round == 0).then(|| BrachaCommand::Broadcast { value: format!("from {node}").into_bytes() })
    });
    let system = QuorumSystem::new(QuorumKind::Dissemination, 4, 1).expect("valid");
    let register = RegisterConfig::new(system, VoteKeys::Test(9));
    // Client n5 writes, n6 reads, every other round.
    from_run::<Register>("register_msg", register, 6, |round, node| match node.0 {
        5 if round % 2 == 0 => Some(RegisterCommand::Write { value: format!("v{round}").into_bytes() }),
        6 if round % 2 == 1 => Some(RegisterCommand::Read),
        _ => None,
    });
    // Every node asks for lock "a" in round 0 and releases it in round 3.
    from_run::<Locks>("lock_msg", LockConfig::default(), 5, |round, _| match round {
        0 => Some(LockCommand::Acquire { name: "a".into(), within: Duration::from_secs(5) }),
        3 => Some(LockCommand::Release { name: "a".into() }),
        _ => None,
    });
    // Replica n1 writes and n2 reads, every other round.
    from_run::<Abd>("abd_msg", AbdConfig::default(), 3, |round, node| match node.0 {
        1 if round % 2 == 0 => Some(AbdCommand::Write { value: round }),
        2 if round % 2 == 1 => Some(AbdCommand::Read),
        _ => None,
    });

    // A handshake between nodes 1 and 2 of cluster 7, the dialler's side recorded, each
    // message behind its 4-byte length.
    let keys = (1..=3).map(|n| (NodeId(n), test_key(7, NodeId(n)).verifying_key())).collect();
    let (dialer, listener) = (
        Identity::new(7, NodeId(1), &test_key(7, NodeId(1))).expect("identity"),
        Identity::new(7, NodeId(2), &test_key(7, NodeId(2))).expect("identity"),
    );
    let (init, m1) = Initiator::start(&dialer, NodeId(2)).expect("starts");
    let (_, m2) = Responder::start(&listener, &m1).expect("answers");
    let (m3, _) = init.finish(&dialer, &m2, &keys).expect("finishes");
    let framed = |m: &[u8]| [&(m.len() as u32).to_be_bytes()[..], m].concat();
    write("frame", "seed-msg1", &framed(&m1));
    write("frame", "stream", &[framed(&m1), framed(&m3)].concat());
    println!("seed corpus written under fuzz/corpus");
}
