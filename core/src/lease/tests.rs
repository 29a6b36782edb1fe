use super::*;
use crate::fencing::StaleToken;
use crate::protocol::{Input, Output, step};
use crate::time::WallTime;

fn at(ms: u64) -> Now {
    Now::new(Instant::ZERO + Duration::from_millis(ms), WallTime::UNIX_EPOCH)
}

fn config() -> LeaseConfig {
    LeaseConfig { term: Duration::from_secs(10), max_drift_ppm: 200, ..LeaseConfig::default() }
}

fn node(id: u32, cfg: &LeaseConfig, restored: Option<LeaseDurable>, now: Now) -> SingleGrantorLockService {
    let members = vec![NodeId(1), NodeId(2), NodeId(3), NodeId(4)];
    SingleGrantorLockService::new(Init::restart(
        NodeId(id),
        members,
        cfg.clone(),
        restored,
        u64::from(id),
        now,
    ))
}

type Out = OutputFor<SingleGrantorLockService>;

fn feed(n: &mut SingleGrantorLockService, now: Now, input: Input<SingleGrantorLockService>) -> Vec<Out> {
    let mut out = Vec::new();
    step(n, now, input, |o| out.push(o));
    out
}

fn sends(out: &[Out]) -> Vec<(NodeId, LeaseMsg)> {
    out.iter()
        .filter_map(|o| if let Output::Send { to, msg } = o { Some((*to, msg.clone())) } else { None })
        .collect()
}

fn events(out: &[Out]) -> Vec<LeaseEvent> {
    out.iter().filter_map(|o| if let Output::Event(e) = o { Some(e.clone()) } else { None }).collect()
}

fn persisted(out: &[Out]) -> Option<LeaseDurable> {
    out.iter().find_map(|o| if let Output::Persist(d) = o { Some(d.clone()) } else { None })
}

#[test]
fn holder_lease_is_shortened_by_the_drift_bound() {
    let c = config();
    // 10 s · (1 - 2e-4) / (1 + 2e-4) - 1 ms = 9.996000799... s - 1 ms.
    let want = Duration::from_secs_f64(10.0 * (1.0 - 2e-4) / (1.0 + 2e-4)) - Duration::from_millis(1);
    assert!(c.holder_lease().abs_diff(want) < Duration::from_nanos(2), "{:?}", c.holder_lease());
    // Safe iff L_holder / (1 - ρ) ≤ L / (1 + ρ).
    let rho = 2e-4;
    assert!(c.holder_lease().as_secs_f64() / (1.0 - rho) <= c.term.as_secs_f64() / (1.0 + rho));
}

fn call(n: &mut SingleGrantorLockService, now: Now, req: u64, cmd: LeaseCommand) -> (Vec<Out>, LeaseReply) {
    let out = feed(n, now, Input::Command { req: crate::protocol::RequestId(req), cmd });
    let reply = out
        .iter()
        .find_map(|o| match o {
            Output::Reply { req: r, reply } if r.0 == req => Some(reply.clone()),
            _ => None,
        })
        .expect("every command is answered");
    (out, reply)
}

/// A client acquires, then everything it sends or receives is up to the test.
fn acquired(cfg: &LeaseConfig) -> (SingleGrantorLockService, SingleGrantorLockService, FencingToken) {
    let mut grantor = node(1, cfg, None, at(0));
    let mut client = node(3, cfg, None, at(0));
    assert_eq!(client.poll_timeout(), None, "a client asks for nothing until told to");
    let now = at(100);
    let (out, reply) = call(&mut client, now, 1, LeaseCommand::Acquire);
    assert_eq!(reply, LeaseReply::Asking);
    let Ok([(to, acquire)]) = <[_; 1]>::try_from(sends(&out)) else { panic!("{out:?}") };
    assert_eq!(to, NodeId(1));
    let out = feed(&mut grantor, now, Input::Message { from: NodeId(3), msg: acquire });
    assert!(
        matches!(out[0], Output::Persist(LeaseDurable { issued, .. }) if issued == FencingToken(1)),
        "persist first: {out:?}"
    );
    let Ok([(_, granted)]) = <[_; 1]>::try_from(sends(&out)) else { panic!("{out:?}") };
    let out = feed(&mut client, now, Input::Message { from: NodeId(1), msg: granted });
    assert_eq!(events(&out), vec![LeaseEvent::Acquired { token: FencingToken(1) }]);
    (grantor, client, FencingToken(1))
}

#[test]
fn an_unrenewed_lease_goes_to_jeopardy_then_expires() {
    let cfg = LeaseConfig { jeopardy_grace: Duration::from_secs(5), ..config() };
    let (_grantor, mut client, token) = acquired(&cfg);
    let start = match client.role() {
        Role::Holder(h) => match h.phase() {
            HolderPhase::Holding { valid_until, .. } => valid_until,
            p => panic!("{p:?}"),
        },
        _ => unreachable!(),
    };
    assert!(client.holds(start.saturating_sub(Duration::from_millis(1))).is_some());
    assert_eq!(client.holds(start), None, "not trusted from the conservative deadline on");
    // The grantor is unreachable: drive the client's timers and drop what it sends.
    let mut seen = Vec::new();
    let mut now = Instant::ZERO;
    while now < start + Duration::from_secs(6) {
        now = client.poll_timeout().unwrap();
        seen.extend(events(&feed(&mut client, Now::new(now, WallTime::UNIX_EPOCH), Input::Timeout)));
    }
    assert!(seen.contains(&LeaseEvent::Jeopardy { token }), "{seen:?}");
    assert!(seen.contains(&LeaseEvent::Expired { token }), "{seen:?}");
}

#[test]
fn a_restarted_grantor_waits_a_term_and_never_reissues_a_token() {
    let cfg = config();
    let (grantor, _client, token) = acquired(&cfg);
    let issued = match grantor.role() {
        Role::Grantor(_) => grantor.durable.clone(),
        _ => unreachable!(),
    };
    // Crash and restart at 2 s: another client asks at once and is turned away.
    let mut g = node(1, &cfg, Some(issued), at(2_000));
    let out = feed(&mut g, at(2_500), Input::Message { from: NodeId(4), msg: LeaseMsg::Acquire { req: 1 } });
    assert_eq!(sends(&out), vec![(NodeId(4), LeaseMsg::Busy { req: 1 })]);
    let out = feed(&mut g, at(11_999), Input::Message { from: NodeId(4), msg: LeaseMsg::Acquire { req: 2 } });
    assert_eq!(sends(&out), vec![(NodeId(4), LeaseMsg::Busy { req: 2 })]);
    // A full term after the restart it grants, with a larger token.
    let out = feed(&mut g, at(12_000), Input::Message { from: NodeId(4), msg: LeaseMsg::Acquire { req: 3 } });
    let granted = sends(&out);
    assert!(matches!(granted[..], [(_, LeaseMsg::Granted { token: t, .. })] if t > token), "{granted:?}");
}

#[test]
fn the_storage_rejects_a_stale_token_and_keeps_its_highest_across_a_restart() {
    let cfg = config();
    let mut r = node(2, &cfg, None, at(0));
    let write = |t: u64| LeaseMsg::Write { token: FencingToken(t), seq: 1, value: t };
    let out = feed(&mut r, at(1), Input::Message { from: NodeId(4), msg: write(34) });
    let durable = persisted(&out).unwrap();
    assert_eq!((durable.accepted, durable.accepted_seq), (FencingToken(34), 1));
    let mut r = node(2, &cfg, Some(durable), at(100));
    let out = feed(&mut r, at(101), Input::Message { from: NodeId(3), msg: write(33) });
    let why = Fenced::StaleToken(StaleToken { token: FencingToken(33), highest: FencingToken(34) });
    assert_eq!(
        events(&out),
        vec![LeaseEvent::Rejected { from: NodeId(3), token: FencingToken(33), seq: 1, why }]
    );
    assert_eq!(
        sends(&out),
        vec![(NodeId(3), LeaseMsg::WriteRejected { token: FencingToken(33), seq: 1, why })]
    );
    // Without fencing the same write is accepted: the hazard.
    let mut unfenced = node(
        2,
        &LeaseConfig { hazards: crate::hazard::Hazards::NONE.unfenced(), ..cfg.clone() },
        None,
        at(0),
    );
    feed(&mut unfenced, at(1), Input::Message { from: NodeId(4), msg: write(34) });
    let out = feed(&mut unfenced, at(2), Input::Message { from: NodeId(3), msg: write(33) });
    assert!(matches!(events(&out)[..], [LeaseEvent::Accepted { .. }]));
}

#[test]
fn a_replayed_write_under_the_current_token_is_rejected_and_never_rolls_the_value_back() {
    // The attack: a captured Write(token 4, older value) replayed to the storage after the
    // newer value was acknowledged under the same token.
    let cfg = config();
    let (old, new) = (0x01d, 0x0e3);
    let write = |seq: u64, value: u64| LeaseMsg::Write { token: FencingToken(4), seq, value };
    let msg = |m: LeaseMsg| Input::Message { from: NodeId(3), msg: m };
    let mut r = node(2, &cfg, None, at(0));
    assert!(matches!(events(&feed(&mut r, at(1), msg(write(1, old))))[..], [LeaseEvent::Accepted { .. }]));
    let out = feed(&mut r, at(2), msg(write(2, new)));
    assert_eq!(sends(&out), vec![(NodeId(3), LeaseMsg::WriteAck { token: FencingToken(4), seq: 2 })]);
    let durable = persisted(&out).unwrap();
    assert_eq!((durable.accepted, durable.accepted_seq, durable.value), (FencingToken(4), 2, new));
    // The replay (an older seq) and a duplicate (the same seq) are refused, and nothing is
    // persisted, so the acknowledged value stays.
    for (seq, value) in [(1, old), (2, old)] {
        let out = feed(&mut r, at(3), msg(write(seq, value)));
        let why = Fenced::StaleSeq { token: FencingToken(4), seq, last: 2 };
        assert_eq!(
            events(&out),
            vec![LeaseEvent::Rejected { from: NodeId(3), token: FencingToken(4), seq, why }]
        );
        assert_eq!(
            sends(&out),
            vec![(NodeId(3), LeaseMsg::WriteRejected { token: FencingToken(4), seq, why })]
        );
        assert_eq!(persisted(&out), None);
        assert_eq!(r.durable.value, new);
    }
    // After a restart from what was persisted, the same replay is still refused.
    let mut r = node(2, &cfg, Some(durable), at(100));
    assert!(
        matches!(&r.role, Role::Resource(f) if (f.highest(), f.highest_seq()) == (FencingToken(4), 2)),
        "{:?}",
        r.role
    );
    let out = feed(&mut r, at(101), msg(write(1, old)));
    assert!(
        matches!(events(&out)[..], [LeaseEvent::Rejected { why: Fenced::StaleSeq { last: 2, .. }, .. }]),
        "{out:?}"
    );
    assert_eq!((persisted(&out), r.durable.value), (None, new));
    // The holder's next write goes in, and a newer token is admitted with any seq.
    let out = feed(&mut r, at(102), msg(write(3, 0x3)));
    assert_eq!(persisted(&out).map(|d| (d.accepted_seq, d.value)), Some((3, 0x3)));
    let out = feed(
        &mut r,
        at(103),
        Input::Message {
            from: NodeId(4),
            msg: LeaseMsg::Write { token: FencingToken(5), seq: 9, value: 0x5 },
        },
    );
    assert_eq!(persisted(&out).map(|d| (d.accepted, d.accepted_seq)), Some((FencingToken(5), 9)));
}

/// Tells `client` to write `n` values, 10 ms apart from 200 ms on, each leaving `after` its
/// command; runs its timers until all have gone to the storage; returns them and the time.
fn writes_sent(client: &mut SingleGrantorLockService, n: u64, after: Duration) -> (Vec<LeaseMsg>, Now) {
    let mut writes = Vec::new();
    let mut now = at(200);
    for k in 0..n {
        now = at(200 + 10 * k);
        let (out, reply) = call(client, now, 100 + k, LeaseCommand::Write { value: 0x30 + k, after });
        assert!(matches!(reply, LeaseReply::Writing { seq, .. } if seq == k + 1), "{reply:?}");
        writes.extend(sends(&out).into_iter().filter(|(to, _)| *to == NodeId(2)).map(|(_, m)| m));
    }
    while (writes.len() as u64) < n {
        now = Now::new(client.poll_timeout().unwrap(), WallTime::UNIX_EPOCH);
        let out = feed(client, now, Input::Timeout);
        writes.extend(sends(&out).into_iter().filter(|(to, _)| *to == NodeId(2)).map(|(_, m)| m));
    }
    (writes, now)
}

#[test]
fn the_holders_consecutive_writes_are_numbered_from_1_and_all_admitted() {
    let cfg = config();
    let (_grantor, mut client, token) = acquired(&cfg);
    let (writes, now) = writes_sent(&mut client, 3, Duration::ZERO);
    let seqs: Vec<_> = writes
        .iter()
        .map(|m| match *m {
            LeaseMsg::Write { token: t, seq, .. } if t == token => seq,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    let mut r = node(2, &cfg, None, at(0));
    for (m, seq) in writes.into_iter().zip(1..) {
        let out = feed(&mut r, now, Input::Message { from: NodeId(3), msg: m });
        assert!(matches!(events(&out)[..], [LeaseEvent::Accepted { seq: s, .. }] if s == seq), "{out:?}");
    }
}

#[test]
fn a_delayed_write_overtaken_by_a_later_one_is_rejected() {
    // Writes are numbered when decided: if the network delivers write 2 first, write 1 is
    // refused when it lands. That is fencing working, not a lost write.
    let cfg = config();
    let (_grantor, mut client, token) = acquired(&cfg);
    let (writes, now) = writes_sent(&mut client, 2, Duration::from_millis(300));
    assert!(
        matches!(writes[..], [LeaseMsg::Write { seq: 1, .. }, LeaseMsg::Write { seq: 2, .. }]),
        "{writes:?}"
    );
    let mut r = node(2, &cfg, None, at(0));
    let second = feed(&mut r, now, Input::Message { from: NodeId(3), msg: writes[1].clone() });
    assert!(matches!(events(&second)[..], [LeaseEvent::Accepted { seq: 2, .. }]), "{second:?}");
    let first = feed(&mut r, now, Input::Message { from: NodeId(3), msg: writes[0].clone() });
    let why = Fenced::StaleSeq { token, seq: 1, last: 2 };
    assert_eq!(events(&first), vec![LeaseEvent::Rejected { from: NodeId(3), token, seq: 1, why }]);
}

/// An election of acceptors n1-n3 and storage n4 in which n1 has just won its first term;
/// returns n1 and the term's token.
fn elected(cfg: &LeaseConfig) -> (crate::lease::election::Election, FencingToken) {
    use crate::lease::election::{Election, ElectionEvent, ElectionMsg};
    let members: Vec<NodeId> = (1..=4).map(NodeId).collect();
    let start = |id: u32| {
        Election::new(Init::restart(NodeId(id), members.clone(), cfg.clone(), None, id.into(), at(0)))
    };
    let mut acceptors: Vec<Election> = (1..=3).map(start).collect();
    let drive = |n: &mut Election, now: Now, input| {
        let mut out = Vec::new();
        step(n, now, input, |o| out.push(o));
        out
    };
    loop {
        let now = Now::new(acceptors[0].poll_timeout().unwrap(), WallTime::UNIX_EPOCH);
        let asks: Vec<_> = drive(&mut acceptors[0], now, Input::Timeout)
            .into_iter()
            .filter_map(|o| match o {
                Output::Send { to, msg: msg @ ElectionMsg::Ask { .. } } => Some((to, msg)),
                _ => None,
            })
            .collect();
        if asks.is_empty() {
            continue;
        }
        for (to, msg) in asks {
            let replies =
                drive(&mut acceptors[to.0 as usize - 1], now, Input::Message { from: NodeId(1), msg });
            for o in replies {
                if let Output::Send { msg: reply @ ElectionMsg::Promised { .. }, .. } = o {
                    for o in drive(&mut acceptors[0], now, Input::Message { from: to, msg: reply }) {
                        if let Output::Event(ElectionEvent::Elected { term }) = o {
                            let n1 = acceptors.swap_remove(0);
                            assert_eq!(n1.leads(now.mono), Some(FencingToken::new(term as u32, 0)));
                            return (n1, FencingToken::new(term as u32, 0));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_leader_numbers_its_writes_under_its_terms_token_and_the_storage_refuses_replays_across_a_restart() {
    use crate::lease::election::{Election, ElectionDurable, ElectionEvent, ElectionMsg};
    let cfg = LeaseConfig { resource: NodeId(4), ..config() };
    let (mut leader, token) = elected(&cfg);
    let mut writes = Vec::new();
    let now = Now::new(leader.poll_timeout().unwrap(), WallTime::UNIX_EPOCH);
    for k in 1..=3 {
        let cmd = crate::lease::election::ElectionCommand::Write { value: k, after: Duration::ZERO };
        step(&mut leader, now, Input::Command { req: crate::protocol::RequestId(k), cmd }, |o| {
            if let Output::Send { to: NodeId(4), msg: ElectionMsg::Write { token: t, seq, value } } = o {
                writes.push((t, seq, value));
            }
        });
    }
    assert_eq!(
        writes.iter().map(|&(t, seq, _)| (t, seq)).collect::<Vec<_>>(),
        [(token, 1), (token, 2), (token, 3)]
    );
    let members: Vec<NodeId> = (1..=4).map(NodeId).collect();
    let storage = |restored: Option<ElectionDurable>| {
        Election::new(Init::restart(NodeId(4), members.clone(), cfg.clone(), restored, 4, at(0)))
    };
    let write = |(token, seq, value)| Input::Message {
        from: NodeId(1),
        msg: ElectionMsg::Write { token, seq, value },
    };
    let mut s = storage(None);
    let mut durable = None;
    let mut seen = Vec::new();
    for &w in &writes {
        step(&mut s, at(1), write(w), |o| match o {
            Output::Persist(d) => durable = Some(d),
            Output::Event(e) => seen.push(e),
            _ => {}
        });
    }
    let accepted = |seq| ElectionEvent::Accepted { from: NodeId(1), token, seq, value: seq };
    assert_eq!(seen, [accepted(1), accepted(2), accepted(3)]);
    let durable = durable.unwrap();
    assert_eq!((durable.accepted, durable.accepted_seq), (token, 3));
    // Restarted from what it persisted, the storage refuses write 2 replayed.
    let mut s = storage(Some(durable));
    let mut out = Vec::new();
    step(&mut s, at(2), write(writes[1]), |o| out.push(o));
    let why = Fenced::StaleSeq { token, seq: 2, last: 3 };
    assert_eq!(out, [Output::Event(ElectionEvent::Rejected { from: NodeId(1), token, seq: 2, why })]);
}

#[test]
fn a_busy_grantor_turns_a_second_client_away_until_the_lease_ends() {
    let cfg = config();
    let (mut grantor, _client, _) = acquired(&cfg);
    let out =
        feed(&mut grantor, at(5_000), Input::Message { from: NodeId(4), msg: LeaseMsg::Acquire { req: 9 } });
    assert_eq!(sends(&out), vec![(NodeId(4), LeaseMsg::Busy { req: 9 })]);
    // The grantor's own term has passed (10 s after the grant, which came within the
    // first second): the next client gets it.
    let out = feed(
        &mut grantor,
        at(11_100),
        Input::Message { from: NodeId(4), msg: LeaseMsg::Acquire { req: 10 } },
    );
    assert!(matches!(sends(&out)[..], [(_, LeaseMsg::Granted { token: FencingToken(2), .. })]));
}

#[test]
fn a_refusal_claiming_the_last_term_does_not_overflow_the_next_candidacy() {
    // Found by the handler-driving fuzz target: a peer's Refused { highest: u64::MAX } made
    // the next campaign compute u64::MAX + 1. The candidate now stays a follower instead.
    use crate::lease::election::{Election, ElectionMsg};
    let cfg = LeaseConfig { resource: NodeId(6), ..config() };
    let members: Vec<NodeId> = (1..=6).map(NodeId).collect();
    let mut n = Election::new(Init::fresh(NodeId(1), members, cfg, 1, at(0)));
    let mut now = at(0);
    let msg = ElectionMsg::Refused { round: 0, highest: u64::MAX };
    step(&mut n, now, Input::Message { from: NodeId(2), msg }, |_| {});
    while now.mono < Instant::ZERO + Duration::from_secs(60) {
        now = Now::new(n.poll_timeout().unwrap_or(now.mono + Duration::from_secs(1)), WallTime::UNIX_EPOCH);
        let mut asked = false;
        step(&mut n, now, Input::Timeout, |o| {
            asked |= matches!(o, Output::Send { msg: ElectionMsg::Ask { .. }, .. })
        });
        assert!(!asked, "no term is left to ask in");
    }
}

#[test]
fn a_leader_that_resigns_frees_every_acceptor_and_stands_again_only_when_asked() {
    use crate::lease::election::{ElectionCommand, ElectionEvent, ElectionMsg, ElectionReply};
    use crate::protocol::RequestId;
    let cfg = LeaseConfig { resource: NodeId(4), ..LeaseConfig::default() };
    let (mut n1, token) = elected(&cfg);
    let mut t = n1.poll_timeout().unwrap();
    let call = |n: &mut crate::lease::election::Election, at: crate::time::Instant, req: u64, cmd| {
        let mut out = Vec::new();
        step(n, Now::new(at, WallTime::UNIX_EPOCH), Input::Command { req: RequestId(req), cmd }, |o| {
            out.push(o)
        });
        out
    };
    // The lease view.
    let out = call(&mut n1, t, 1, ElectionCommand::View);
    assert!(
        matches!(&out[..], [Output::Reply { reply: ElectionReply::Leading { token: k, .. }, .. }] if *k == token),
        "{out:?}"
    );
    // Resign: a Release of the term to every acceptor, an event, the reply; then no lease.
    let term = u64::from(token.epoch());
    let out = call(&mut n1, t, 2, ElectionCommand::Resign);
    for a in 1..=3 {
        assert!(out.contains(&Output::Send { to: NodeId(a), msg: ElectionMsg::Release { term } }), "{out:?}");
    }
    assert!(out.contains(&Output::Event(ElectionEvent::Resigned { term })), "{out:?}");
    assert!(
        out.contains(&Output::Reply {
            req: RequestId(2),
            reply: ElectionReply::Resigned { term: Some(term) }
        })
    );
    assert_eq!(n1.leads(t), None);
    // It stands no more: its timers send no Ask for ten terms.
    let end = t + cfg.term * 10;
    while let Some(next) = n1.poll_timeout().filter(|&d| d < end) {
        t = next;
        let mut out = Vec::new();
        step(&mut n1, Now::new(t, WallTime::UNIX_EPOCH), Input::Timeout, |o| out.push(o));
        assert!(
            !out.iter().any(|o| matches!(o, Output::Send { msg: ElectionMsg::Ask { .. }, .. })),
            "{out:?}"
        );
    }
    // Until the application asks it to.
    let out = call(&mut n1, t, 3, ElectionCommand::Campaign);
    assert_eq!(out, vec![Output::Reply { req: RequestId(3), reply: ElectionReply::Campaigning }]);
    let mut out = Vec::new();
    step(&mut n1, Now::new(t, WallTime::UNIX_EPOCH), Input::Timeout, |o| out.push(o));
    assert!(out.iter().any(|o| matches!(o, Output::Send { msg: ElectionMsg::Ask { .. }, .. })), "{out:?}");
}

#[test]
fn a_client_is_driven_by_commands_view_write_release_and_after_a_restart_wants_nothing() {
    let cfg = config();
    let (_grantor, mut client, token) = acquired(&cfg);
    let now = at(200);
    let (_, view) = call(&mut client, now, 10, LeaseCommand::View);
    assert!(matches!(view, LeaseReply::Holding { token: t, .. } if t == token), "{view:?}");
    let (_, again) = call(&mut client, now, 11, LeaseCommand::Acquire);
    assert_eq!(again, view, "acquiring a held lease answers with the lease");
    // Release: the grantor hears of it; no lease, no writes, no more requests.
    let (out, reply) = call(&mut client, now, 12, LeaseCommand::Release);
    assert_eq!(reply, LeaseReply::Released { token });
    assert_eq!(sends(&out), vec![(NodeId(1), LeaseMsg::Release { token })]);
    assert_eq!(events(&out), vec![LeaseEvent::Released { token }]);
    let write = LeaseCommand::Write { value: 1, after: Duration::ZERO };
    let (out, reply) = call(&mut client, now, 13, write.clone());
    assert_eq!((reply, sends(&out)), (LeaseReply::NotHolding, vec![]));
    assert_eq!(call(&mut client, now, 14, LeaseCommand::Release).1, LeaseReply::NotHolding);
    assert_eq!(client.poll_timeout(), None, "a released client asks for nothing");
    // The grantor and the storage take no commands.
    let mut grantor = node(1, &cfg, None, at(0));
    assert_eq!(call(&mut grantor, now, 15, LeaseCommand::Acquire).1, LeaseReply::NotAClient);
    // A restarted client holds nothing and asks for nothing until told to.
    let mut restarted = node(3, &cfg, None, at(300));
    assert_eq!(restarted.poll_timeout(), None);
    assert_eq!(call(&mut restarted, at(300), 16, write).1, LeaseReply::NotHolding);
}

#[test]
fn a_write_checked_under_the_lease_still_leaves_after_the_lease_ends_and_fencing_must_stop_it() {
    // DDIA example 8-1: the check and the write are `after` apart; nothing re-checks.
    let cfg = config();
    let (_grantor, mut client, token) = acquired(&cfg);
    let until = match client.lease() {
        Some((_, until)) => until,
        None => panic!("holds"),
    };
    let check = Now::new(until.saturating_sub(Duration::from_millis(1)), WallTime::UNIX_EPOCH);
    let after = Duration::from_secs(5);
    let (out, reply) = call(&mut client, check, 1, LeaseCommand::Write { value: 7, after });
    assert_eq!(reply, LeaseReply::Writing { token, seq: 1 });
    assert!(sends(&out).is_empty(), "{out:?}");
    let mut sent = Vec::new();
    let mut now = check;
    while now.mono < check.mono + after {
        now = Now::new(client.poll_timeout().unwrap(), WallTime::UNIX_EPOCH);
        sent.extend(sends(&feed(&mut client, now, Input::Timeout)));
    }
    assert_eq!(client.holds(now.mono), None);
    assert!(sent.contains(&(NodeId(2), LeaseMsg::Write { token, seq: 1, value: 7 })), "{sent:?}");
}

fn msg_to(out: &[Out], to: NodeId) -> Vec<LeaseMsg> {
    sends(out).into_iter().filter(|(t, _)| *t == to).map(|(_, m)| m).collect()
}

#[test]
fn a_grant_that_arrives_after_the_application_released_is_handed_back() {
    // Found in review: Release while asking used to drop the grant on its way, and the
    // grantor kept a lease nobody held for a whole term, turning everyone else away.
    let cfg = config();
    let mut grantor = node(1, &cfg, None, at(0));
    let mut c3 = node(3, &cfg, None, at(0));
    let mut c4 = node(4, &cfg, None, at(0));
    let (out, _) = call(&mut c3, at(100), 1, LeaseCommand::Acquire);
    let acquire = msg_to(&out, NodeId(1)).pop().unwrap();
    let out = feed(&mut grantor, at(101), Input::Message { from: NodeId(3), msg: acquire });
    let granted = msg_to(&out, NodeId(3)).pop().unwrap();
    assert_eq!(call(&mut c3, at(102), 2, LeaseCommand::Release).1, LeaseReply::NotHolding);
    assert!(!c3.ignores_reply(&granted), "the grant must still be handled, to be handed back");
    let out = feed(&mut c3, at(103), Input::Message { from: NodeId(1), msg: granted });
    let back = msg_to(&out, NodeId(1)).pop().expect("handed back");
    assert!(events(&out).is_empty(), "{out:?}");
    assert_eq!(c3.holds(at(103).mono), None);
    assert_eq!(c3.poll_timeout(), None);
    let _ = feed(&mut grantor, at(104), Input::Message { from: NodeId(3), msg: back });
    let (out, _) = call(&mut c4, at(200), 1, LeaseCommand::Acquire);
    let acquire = msg_to(&out, NodeId(1)).pop().unwrap();
    let out = feed(&mut grantor, at(200), Input::Message { from: NodeId(4), msg: acquire });
    assert!(matches!(msg_to(&out, NodeId(4))[..], [LeaseMsg::Granted { .. }]), "{out:?}");
}

#[test]
fn a_lease_renewed_out_of_jeopardy_is_announced_as_acquired_again() {
    // Found in review: Acquire in jeopardy answers Asking, and the application waits for
    // Acquired; a renewal that succeeded after the lapse used to say nothing.
    let cfg = LeaseConfig { jeopardy_grace: Duration::from_secs(5), ..config() };
    let (mut grantor, mut client, token) = acquired(&cfg);
    // Renewals reach the grantor; its answers are lost until the client is in jeopardy.
    let mut now;
    loop {
        now = client.poll_timeout().unwrap();
        let out = feed(&mut client, Now::new(now, WallTime::UNIX_EPOCH), Input::Timeout);
        for m in msg_to(&out, NodeId(1)) {
            let _lost = feed(
                &mut grantor,
                Now::new(now, WallTime::UNIX_EPOCH),
                Input::Message { from: NodeId(3), msg: m },
            );
        }
        if events(&out).contains(&LeaseEvent::Jeopardy { token }) {
            break;
        }
    }
    let (_, reply) = call(&mut client, Now::new(now, WallTime::UNIX_EPOCH), 50, LeaseCommand::Acquire);
    assert_eq!(reply, LeaseReply::Asking);
    let renew = loop {
        now = client.poll_timeout().unwrap();
        let out = feed(&mut client, Now::new(now, WallTime::UNIX_EPOCH), Input::Timeout);
        if let Some(m) = msg_to(&out, NodeId(1)).pop() {
            break m;
        }
    };
    let n = Now::new(now, WallTime::UNIX_EPOCH);
    let answer =
        msg_to(&feed(&mut grantor, n, Input::Message { from: NodeId(3), msg: renew }), NodeId(3)).pop();
    let answer = answer.expect("the grantor answers");
    assert!(matches!(answer, LeaseMsg::Renewed { .. }), "{answer:?}");
    let out = feed(&mut client, n, Input::Message { from: NodeId(1), msg: answer });
    assert_eq!(client.holds(now), Some(token));
    assert_eq!(events(&out), vec![LeaseEvent::Acquired { token }]);
}

#[test]
fn a_zero_request_timeout_retries_at_most_once_per_microsecond() {
    // Found in review: with request_timeout 0 the first timeout after Acquire re-armed its
    // timer at `now` and never returned.
    let cfg = LeaseConfig { request_timeout: Duration::ZERO, ..config() };
    let mut client = node(3, &cfg, None, at(0));
    let _ = call(&mut client, at(100), 1, LeaseCommand::Acquire);
    let out = feed(&mut client, at(100), Input::Timeout);
    assert!(out.len() <= 2, "{out:?}");
    assert!(client.poll_timeout().is_some_and(|t| t > at(100).mono));
}
