//! Regression tests for SWIM driven one member at a time: incarnation arithmetic, the
//! durable incarnation, push-pull anti-entropy and the buddy system.

use super::*;
use crate::protocol::{Input, Output, step};
use crate::time::WallTime;

type Out = OutputFor<Swim>;

fn at(ms: u64) -> Now {
    Now::new(Instant::ZERO + Duration::from_millis(ms), WallTime::UNIX_EPOCH)
}

fn ids(n: u32) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

/// Member `id` of `1..=n`, built (fresh, or from `restored`) at `ms`, and its first outputs.
fn start(id: u32, n: u32, restored: Option<<Swim as Protocol>::Durable>, ms: u64) -> (Swim, Vec<Out>) {
    let init = Init::restart(NodeId(id), ids(n), SwimConfig::default(), restored, 7, at(ms));
    let mut swim = Swim::new(init);
    let mut out = Vec::new();
    crate::protocol::drain(&mut swim, |o| out.push(o));
    (swim, out)
}

fn feed(swim: &mut Swim, ms: u64, from: u32, msg: SwimMsg) -> Vec<Out> {
    let mut out = Vec::new();
    step(swim, at(ms), Input::Message { from: NodeId(from), msg }, |o| out.push(o));
    out
}

fn ping(updates: Vec<Update>) -> SwimMsg {
    SwimMsg::Ping { seq: 0, updates }
}

fn suspect(node: u32, incarnation: u64, from: u32) -> Update {
    Update { node: NodeId(node), incarnation, state: MemberState::Suspect { from: NodeId(from) } }
}

fn updates_of(msg: &SwimMsg) -> &[Update] {
    match msg {
        SwimMsg::Ping { updates, .. }
        | SwimMsg::Ack { updates, .. }
        | SwimMsg::PingReq { updates, .. }
        | SwimMsg::Nack { updates, .. } => updates,
        _ => &[],
    }
}

fn refutations(out: &[Out]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(SwimEvent::Refuted { incarnation }) => Some(*incarnation),
            _ => None,
        })
        .collect()
}

#[test]
fn incarnation_at_u64_max_does_not_wrap() {
    let (mut n1, _) = start(1, 3, None, 0);
    // Refuting an accusation at u64::MAX - 1 still works: the member moves to u64::MAX.
    let out = feed(&mut n1, 10, 2, ping(vec![suspect(1, u64::MAX - 1, 2)]));
    assert_eq!(n1.incarnation(), u64::MAX);
    assert_eq!(refutations(&out), vec![u64::MAX]);
    // An accusation at u64::MAX cannot be outbid: no panic, no wrap to 0, no refutation.
    for state in [MemberState::Suspect { from: NodeId(2) }, MemberState::Dead { from: NodeId(2) }] {
        let u = Update { node: NodeId(1), incarnation: u64::MAX, state };
        let out = feed(&mut n1, 20, 2, ping(vec![u]));
        assert_eq!(n1.incarnation(), u64::MAX, "the incarnation wrapped");
        assert!(refutations(&out).is_empty(), "{out:?}");
    }
    // Leaving at u64::MAX does not overflow either.
    let mut out = Vec::new();
    step(&mut n1, at(30), Input::Command { req: crate::RequestId(1), cmd: SwimCommand::Leave }, |o| {
        out.push(o)
    });
    assert_eq!(n1.incarnation(), u64::MAX);
}

#[test]
fn restarted_member_comes_back_above_every_incarnation_it_used() {
    let (mut n1, first) = start(1, 3, None, 0);
    let mut persisted = first.iter().rev().find_map(|o| match o {
        Output::Persist(d) => Some(d.clone()),
        _ => None,
    });
    // Accused at 4, it refutes at 5: the new incarnation is durable before anything carries it.
    let out = feed(&mut n1, 10, 2, ping(vec![suspect(1, 4, 2)]));
    assert_eq!(n1.incarnation(), 5);
    let barrier = out.iter().position(|o| matches!(o, Output::Persist(_)));
    let carried = out.iter().position(|o| match o {
        Output::Send { msg, .. } => updates_of(msg).iter().any(|u| u.node == NodeId(1) && u.incarnation == 5),
        _ => false,
    });
    assert!(carried.is_some(), "the refutation rides on the ack: {out:?}");
    assert!(barrier.is_some_and(|b| Some(b) < carried), "no persist before the refutation went out: {out:?}");
    for o in &out {
        if let Output::Persist(d) = o {
            persisted = Some(d.clone());
        }
    }
    // After a crash, it comes back strictly above 5, so its Alive beats Dead/Suspect at 5.
    let (n1, _) = start(1, 3, persisted, 0);
    assert!(n1.incarnation() > 5, "restarted at incarnation {}", n1.incarnation());
}

#[test]
fn every_ping_to_a_suspect_carries_the_suspicion() {
    let (mut n1, _) = start(1, 4, None, 0);
    // n2 tells n1 that n3 is suspected.
    feed(&mut n1, 1, 2, ping(vec![suspect(3, 0, 2)]));
    assert!(matches!(n1.state_of(NodeId(3)), Some(MemberState::Suspect { .. })));
    // Plenty of traffic with n2 uses up the piggyback retransmissions of that suspicion.
    for ms in 2..30 {
        feed(&mut n1, ms, 2, ping(Vec::new()));
    }
    // Probe rounds: n1 pings everyone in turn, n3 included, while it still suspects n3.
    let mut pings_to_3 = 0;
    for ms in (100..6_000).step_by(50) {
        let suspected = matches!(n1.state_of(NodeId(3)), Some(MemberState::Suspect { .. }));
        let mut out = Vec::new();
        step(&mut n1, at(ms), Input::Timeout, |o| out.push(o));
        for o in &out {
            if let Output::Send { to: NodeId(3), msg: msg @ SwimMsg::Ping { .. } } = o {
                assert!(suspected);
                pings_to_3 += 1;
                assert!(
                    updates_of(msg)
                        .iter()
                        .any(|u| u.node == NodeId(3) && matches!(u.state, MemberState::Suspect { .. })),
                    "a ping to suspected n3 at {ms} ms does not tell it: {msg:?}"
                );
            }
        }
    }
    assert!(pings_to_3 > 0, "n1 never probed n3");
}

fn dead(node: u32, incarnation: u64, from: u32) -> Update {
    Update { node: NodeId(node), incarnation, state: MemberState::Dead { from: NodeId(from) } }
}

fn alive(node: u32, incarnation: u64) -> Update {
    Update { node: NodeId(node), incarnation, state: MemberState::Alive }
}

fn sent_to(out: &[Out], to: u32) -> Vec<&SwimMsg> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to: t, msg } if *t == NodeId(to) => Some(msg),
            _ => None,
        })
        .collect()
}

#[test]
fn push_pull_tells_a_member_it_is_dead_and_it_refutes() {
    let (mut n1, _) = start(1, 3, None, 0);
    // n2's table says n1 died at incarnation 3 and n3 is suspected.
    let out = feed(&mut n1, 10, 2, SwimMsg::PushPull { members: vec![dead(1, 3, 2), suspect(3, 0, 2)] });
    assert_eq!(n1.incarnation(), 4);
    assert!(matches!(n1.state_of(NodeId(3)), Some(MemberState::Suspect { .. })));
    // Persisted before the reply, which carries the refutation and n1's whole table.
    let barrier = out.iter().position(|o| matches!(o, Output::Persist(SwimDurable { incarnation: 4 })));
    let reply = out.iter().position(|o| matches!(o, Output::Send { msg: SwimMsg::PushPullReply { .. }, .. }));
    assert!(barrier.is_some() && barrier < reply, "{out:?}");
    let Some(SwimMsg::PushPullReply { members }) = sent_to(&out, 2).into_iter().next() else {
        panic!("no reply: {out:?}")
    };
    assert_eq!(members.len(), 3);
    assert!(members.contains(&alive(1, 4)), "{members:?}");
    // n2 merges the reply: n1 is alive again at 4.
    let (mut n2, _) = start(2, 3, None, 0);
    feed(&mut n2, 5, 3, ping(vec![dead(1, 3, 3)]));
    assert!(matches!(n2.state_of(NodeId(1)), Some(MemberState::Dead { .. })));
    let out = feed(&mut n2, 20, 1, SwimMsg::PushPullReply { members: members.clone() });
    assert_eq!(n2.state_of(NodeId(1)), Some(MemberState::Alive));
    assert!(out.iter().any(|o| matches!(o, Output::Event(SwimEvent::Alive { peer: NodeId(1) }))));
}

#[test]
fn push_pull_ignores_strangers_and_reads_at_most_the_membership() {
    let (mut n1, _) = start(1, 3, None, 0);
    // From a member outside the configuration: no merge, no reply.
    let out = feed(&mut n1, 10, 9, SwimMsg::PushPull { members: vec![dead(2, 5, 9)] });
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(n1.state_of(NodeId(2)), Some(MemberState::Alive));
    // A huge table: entries about non-members are ignored, and only the first three
    // (the size of the membership) are read at all.
    let mut table: Vec<Update> = (100..10_100).map(|n| alive(n, 0)).collect();
    table.insert(3, dead(2, 5, 3));
    let out = feed(&mut n1, 20, 3, SwimMsg::PushPullReply { members: table });
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(n1.state_of(NodeId(100)), None);
    assert_eq!(n1.state_of(NodeId(2)), Some(MemberState::Alive), "read past the membership's size");
}

#[test]
fn push_pull_runs_every_interval_with_a_live_member() {
    let (mut n1, _) = start(1, 4, None, 0);
    let interval = SwimConfig::default().push_pull_interval;
    let mut syncs = Vec::new();
    let mut ms = 0;
    while ms <= 3 * interval.as_millis() as u64 {
        // Keep everyone alive: answer every ping.
        let mut out = Vec::new();
        step(&mut n1, at(ms), Input::Timeout, |o| out.push(o));
        for o in out {
            if let Output::Send { to, msg } = o {
                match msg {
                    SwimMsg::Ping { seq, .. } => {
                        feed(&mut n1, ms, to.0, SwimMsg::Ack { seq, updates: Vec::new() });
                    }
                    SwimMsg::PushPull { members } => {
                        assert_eq!(members.len(), 4);
                        syncs.push((ms, to));
                    }
                    _ => {}
                }
            }
        }
        ms += 10;
    }
    assert!(syncs.len() == 3 || syncs.len() == 4, "{syncs:?}");
    assert!(syncs.iter().all(|&(_, to)| to != NodeId(1)));
    for w in syncs.windows(2) {
        assert_eq!(w[1].0 - w[0].0, interval.as_millis() as u64, "{syncs:?}");
    }
    assert_eq!(push_pull_interval(interval, 32), interval);
    assert_eq!(push_pull_interval(interval, 33), interval * 2);
    assert_eq!(push_pull_interval(interval, 1000), interval * 6);
}

// bincode's fixed-width integers make the larger encoding; postcard's varints are smaller.
#[cfg(feature = "bincode")]
#[test]
fn a_full_table_fits_the_codec_limit() {
    use crate::codec::{Bincode, Codec, MAX_DECODE_BYTES};
    let members: Vec<Update> = (0..MAX_TABLE_ENTRIES as u32)
        .map(|n| Update {
            node: NodeId(n),
            incarnation: u64::MAX,
            state: MemberState::Dead { from: NodeId(n) },
        })
        .collect();
    let bytes = Bincode.encode(&SwimMsg::PushPull { members }).expect("encodes");
    assert!(bytes.len() <= MAX_DECODE_BYTES, "{} bytes", bytes.len());
}

#[test]
fn a_stale_accusation_is_answered_with_the_current_incarnation() {
    let (mut n1, _) = start(1, 3, None, 0);
    feed(&mut n1, 10, 2, ping(vec![suspect(1, 0, 2)]));
    assert_eq!(n1.incarnation(), 1);
    // Drain the refutation's retransmissions.
    for ms in 11..40 {
        feed(&mut n1, ms, 2, ping(Vec::new()));
    }
    // n3 missed it and still suspects n1 at 0: its next ping says so, and the ack answers.
    let out = feed(&mut n1, 50, 3, ping(vec![suspect(1, 0, 3)]));
    assert_eq!(n1.incarnation(), 1, "a stale accusation needs no new incarnation");
    let acks = sent_to(&out, 3);
    assert!(updates_of(acks[0]).contains(&alive(1, 1)), "{out:?}");
}

#[test]
fn higher_incarnation_wins_and_dead_beats_suspect_beats_alive() {
    let (mut n1, _) = start(1, 3, None, 0);
    // Equal incarnation: Suspect beats Alive, Alive does not undo it, Dead beats Suspect.
    feed(&mut n1, 10, 2, ping(vec![suspect(3, 2, 2)]));
    feed(&mut n1, 11, 2, ping(vec![alive(3, 2)]));
    assert!(matches!(n1.state_of(NodeId(3)), Some(MemberState::Suspect { .. })));
    feed(&mut n1, 12, 2, ping(vec![dead(3, 2, 2), suspect(3, 2, 2), alive(3, 2)]));
    assert!(matches!(n1.state_of(NodeId(3)), Some(MemberState::Dead { .. })));
    // A higher incarnation wins over death: suspected again, then alive.
    feed(&mut n1, 13, 2, ping(vec![suspect(3, 3, 2)]));
    assert!(matches!(n1.state_of(NodeId(3)), Some(MemberState::Suspect { .. })));
    feed(&mut n1, 14, 2, ping(vec![alive(3, 4)]));
    assert_eq!(n1.state_of(NodeId(3)), Some(MemberState::Alive));
    // Lower incarnations change nothing.
    feed(&mut n1, 15, 2, ping(vec![dead(3, 3, 2)]));
    assert_eq!(n1.state_of(NodeId(3)), Some(MemberState::Alive));
    // Updates about members outside the configuration are ignored.
    feed(&mut n1, 16, 2, ping(vec![alive(77, 0)]));
    assert_eq!(n1.state_of(NodeId(77)), None);
}

#[test]
fn an_unrefutable_accusation_is_reported() {
    let (mut n1, _) = start(1, 3, None, 0);
    let out = feed(&mut n1, 10, 2, ping(vec![dead(1, u64::MAX, 2)]));
    assert_eq!(n1.incarnation(), 0, "kept, neither wrapped nor raised");
    assert!(out.iter().any(|o| matches!(o, Output::Event(SwimEvent::Unrefutable { incarnation: u64::MAX }))));
    // It still refutes ordinary accusations.
    feed(&mut n1, 20, 2, ping(vec![suspect(1, 0, 2)]));
    assert_eq!(n1.incarnation(), 1);
}

#[test]
fn the_member_list_shows_what_this_member_believes() {
    let (mut n1, _) = start(1, 3, None, 0);
    feed(&mut n1, 10, 2, ping(vec![suspect(3, 2, 2)]));
    let mut out = Vec::new();
    step(&mut n1, at(20), Input::Command { req: crate::RequestId(7), cmd: SwimCommand::Members }, |o| {
        out.push(o)
    });
    let Some(Output::Reply { req, reply: SwimReply::Members(list) }) = out.pop() else { panic!("{out:?}") };
    assert_eq!(req, crate::RequestId(7));
    let states: Vec<(u32, MemberState)> = list.iter().map(|u| (u.node.0, u.state)).collect();
    assert_eq!(states[0], (1, MemberState::Alive));
    assert!(states.contains(&(3, MemberState::Suspect { from: NodeId(2) })), "{states:?}");
    // Leaving is answered, and the list then shows this member as left.
    let mut out = Vec::new();
    step(&mut n1, at(30), Input::Command { req: crate::RequestId(8), cmd: SwimCommand::Leave }, |o| {
        out.push(o)
    });
    assert!(out.contains(&Output::Reply { req: crate::RequestId(8), reply: SwimReply::Left }), "{out:?}");
    let mut out = Vec::new();
    step(&mut n1, at(40), Input::Command { req: crate::RequestId(9), cmd: SwimCommand::Members }, |o| {
        out.push(o)
    });
    let Some(Output::Reply { reply: SwimReply::Members(list), .. }) = out.pop() else { panic!("{out:?}") };
    assert_eq!(list[0].state, MemberState::Left, "{list:?}");
}
