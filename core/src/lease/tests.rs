use super::*;
use crate::protocol::{Input, Output, step};
use crate::time::WallTime;

fn at(ms: u64) -> Now {
    Now::new(Instant::ZERO + Duration::from_millis(ms), WallTime::UNIX_EPOCH)
}

fn config() -> LeaseConfig {
    LeaseConfig { term: Duration::from_secs(10), max_drift_ppm: 200, ..LeaseConfig::default() }
}

fn node(id: u32, cfg: &LeaseConfig, restored: Option<LeaseDurable>, now: Now) -> LockService {
    let members = vec![NodeId(1), NodeId(2), NodeId(3), NodeId(4)];
    LockService::new(Init::restart(NodeId(id), members, cfg.clone(), restored, u64::from(id), now))
}

type Out = OutputFor<LockService>;

fn feed(n: &mut LockService, now: Now, input: Input<LockService>) -> Vec<Out> {
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

/// A client acquires, then everything it sends or receives is up to the test.
fn acquired(cfg: &LeaseConfig) -> (LockService, LockService, FencingToken) {
    let mut grantor = node(1, cfg, None, at(0));
    let mut client = node(3, cfg, None, at(0));
    // Run the client's timers until it asks (its first request is spread over a second).
    let (now, out) = loop {
        let now = Now::new(client.poll_timeout().unwrap(), WallTime::UNIX_EPOCH);
        let out = feed(&mut client, now, Input::Timeout);
        if !sends(&out).is_empty() {
            break (now, out);
        }
    };
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
    let write = |t: u64| LeaseMsg::Write { token: FencingToken(t), value: t };
    let out = feed(&mut r, at(1), Input::Message { from: NodeId(4), msg: write(34) });
    let durable =
        out.iter().find_map(|o| if let Output::Persist(d) = o { Some(d.clone()) } else { None }).unwrap();
    assert_eq!(durable.accepted, FencingToken(34));
    let mut r = node(2, &cfg, Some(durable), at(100));
    let out = feed(&mut r, at(101), Input::Message { from: NodeId(3), msg: write(33) });
    assert_eq!(
        events(&out),
        vec![LeaseEvent::Rejected { from: NodeId(3), token: FencingToken(33), highest: FencingToken(34) }]
    );
    // Without fencing the same write is accepted: the hazard.
    let mut unfenced = node(2, &LeaseConfig { fencing: false, ..cfg.clone() }, None, at(0));
    feed(&mut unfenced, at(1), Input::Message { from: NodeId(4), msg: write(34) });
    let out = feed(&mut unfenced, at(2), Input::Message { from: NodeId(3), msg: write(33) });
    assert!(matches!(events(&out)[..], [LeaseEvent::Accepted { .. }]));
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
