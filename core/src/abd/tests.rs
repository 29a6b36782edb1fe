use super::*;
use crate::check::Observation;
use crate::hazard::Hazards;
use crate::protocol::{Input, Output, step};
use crate::time::WallTime;
use std::collections::VecDeque;

fn at(ms: u64) -> Now {
    Now::new(Instant::from_nanos(ms * 1_000_000), WallTime::UNIX_EPOCH)
}

/// A hand-driven cluster: messages wait in `net` until a test delivers (or drops) them.
struct Cluster {
    config: AbdConfig,
    members: Vec<NodeId>,
    nodes: BTreeMap<NodeId, Abd>,
    durable: BTreeMap<NodeId, AbdDurable>,
    net: VecDeque<(NodeId, NodeId, AbdMsg)>,
    events: Vec<Observation<AbdEvent>>,
    replies: Vec<(NodeId, RequestId, AbdReply)>,
    now_ms: u64,
}

impl Cluster {
    fn new(n: u32, config: AbdConfig) -> Self {
        let members: Vec<NodeId> = (1..=n).map(NodeId).collect();
        let mut c = Cluster {
            config,
            members: members.clone(),
            nodes: BTreeMap::new(),
            durable: BTreeMap::new(),
            net: VecDeque::new(),
            events: Vec::new(),
            replies: Vec::new(),
            now_ms: 0,
        };
        for id in members {
            c.start(id);
        }
        c
    }

    fn start(&mut self, id: NodeId) {
        let restored = self.durable.get(&id).cloned();
        let init = Init::restart(id, self.members.clone(), self.config.clone(), restored, 7, at(self.now_ms));
        let mut node = Abd::new(init);
        let mut outs = Vec::new();
        crate::protocol::drain(&mut node, |o| outs.push(o));
        self.nodes.insert(id, node);
        self.absorb(id, outs);
    }

    fn absorb(&mut self, id: NodeId, outs: Vec<OutputFor<Abd>>) {
        for o in outs {
            match o {
                Output::Send { to, msg } => self.net.push_back((id, to, msg)),
                Output::Event(event) => {
                    self.events.push(Observation { at: Duration::from_millis(self.now_ms), node: id, event })
                }
                Output::Reply { req, reply } => self.replies.push((id, req, reply)),
                Output::Persist(d) => {
                    self.durable.insert(id, d);
                }
            }
        }
    }

    fn input(&mut self, id: NodeId, input: Input<Abd>) {
        self.now_ms += 1;
        let node = self.nodes.get_mut(&id).expect("running");
        let mut outs = Vec::new();
        step(node, at(self.now_ms), input, |o| outs.push(o));
        self.absorb(id, outs);
    }

    /// Gives `id` a command under request id `req`.
    fn command(&mut self, id: NodeId, req: u64, cmd: Command) {
        self.input(id, Input::Command { req: crate::RequestId(req), cmd });
    }

    /// Delivers every queued message that `pass` accepts (in order, including the ones
    /// they cause), and drops the rest.
    fn deliver(&mut self, mut pass: impl FnMut(NodeId, NodeId, &AbdMsg) -> bool) {
        while let Some((from, to, msg)) = self.net.pop_front() {
            if pass(from, to, &msg) && self.nodes.contains_key(&to) {
                self.input(to, Input::Message { from, msg });
            }
        }
    }

    fn deliver_all(&mut self) {
        self.deliver(|_, _, _| true);
    }

    fn returned(&self, node: NodeId, req: u64) -> Option<Option<u64>> {
        self.events.iter().find_map(|o| match o.event {
            AbdEvent::Returned { req: r, value, .. } if o.node == node && r == req => Some(value),
            _ => None,
        })
    }
}

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

#[test]
fn every_command_gets_one_reply_with_its_outcome() {
    let mut c = Cluster::new(3, AbdConfig::default());
    c.command(N1, 7, Command::Write { value: 5 });
    c.command(N1, 8, Command::Read);
    c.deliver_all();
    c.command(N2, 9, Command::Read);
    c.deliver_all();
    assert_eq!(
        c.replies,
        vec![
            (N1, RequestId(8), AbdReply::Rejected(Rejection::Busy)),
            (N1, RequestId(7), AbdReply::Done(Some(5))),
            (N2, RequestId(9), AbdReply::Done(Some(5))),
        ]
    );
}

#[test]
fn a_write_then_a_read_returns_it() {
    let mut c = Cluster::new(3, AbdConfig::default());
    c.command(N1, 1, Command::Read);
    c.deliver_all();
    assert_eq!(c.returned(N1, 1), Some(None), "nothing written yet");
    c.command(N1, 2, Command::Write { value: 5 });
    c.deliver_all();
    assert_eq!(c.returned(N1, 2), Some(Some(5)));
    c.command(N2, 1, Command::Read);
    c.deliver_all();
    assert_eq!(c.returned(N2, 1), Some(Some(5)));
    assert_eq!(c.nodes[&N1].stored().0, Ts { counter: 1, writer: N1 });
    assert!(checks::linearizable(&c.events).is_ok());
    // The second write goes above the first, whoever writes it.
    c.command(N3, 1, Command::Write { value: 6 });
    c.deliver_all();
    assert_eq!(c.nodes[&N2].stored(), (Ts { counter: 2, writer: N3 }, Some(6)));
}

/// n1's write has stored 5 only at n1 (its messages to n2 and n3 are lost) when n2 and then
/// n3 read: n2's read quorum {n2, n1} sees 5; n3's read quorum {n3, n2} sees it only if n2's
/// read wrote it back.
fn reads_during_a_partial_write(write_back: bool) -> Cluster {
    let hazards = if write_back { Hazards::NONE } else { Hazards::NONE.no_write_back() };
    let mut c = Cluster::new(3, AbdConfig { hazards, ..AbdConfig::default() });
    c.command(N1, 1, Command::Write { value: 5 });
    // Phase 1 completes (n1 and n2 answer); the store reaches only n1's own replica.
    c.deliver(|_, _, m| !matches!(m, AbdMsg::Store { .. }));
    assert_eq!(c.nodes[&N1].stored().1, Some(5));
    assert_eq!(c.nodes[&N2].stored().1, None);
    assert_eq!(c.returned(N1, 1), None, "one store ack of three: the write is in flight");
    c.command(N2, 1, Command::Read);
    c.deliver(|from, to, _| (from, to) == (N2, N1) || (from, to) == (N1, N2));
    c.command(N3, 1, Command::Read);
    c.deliver(|from, to, _| (from, to) == (N3, N2) || (from, to) == (N2, N3));
    c
}

#[test]
fn a_read_concurrent_with_a_write_is_atomic_with_write_back() {
    let c = reads_during_a_partial_write(true);
    assert_eq!(c.returned(N2, 1), Some(Some(5)), "n2 saw the write in progress");
    assert_eq!(c.nodes[&N2].stored().1, Some(5), "and wrote it back");
    assert_eq!(c.returned(N3, 1), Some(Some(5)), "so the later read sees it too");
    assert!(checks::linearizable(&c.events).is_ok());
}

#[test]
fn without_write_back_a_later_read_returns_an_older_value() {
    let c = reads_during_a_partial_write(false);
    assert_eq!(c.returned(N2, 1), Some(Some(5)));
    assert_eq!(c.returned(N3, 1), Some(None), "new/old inversion");
    let v = checks::linearizable(&c.events).unwrap_err();
    assert_eq!(v.checker, checks::LINEARIZABLE);
    assert!(v.message.contains("n2 read -> 5") && v.message.contains("n3 read -> nil"), "{v}");
}

#[test]
fn a_phase_is_resent_to_the_replicas_that_have_not_answered() {
    let mut c = Cluster::new(3, AbdConfig { retry: Duration::from_millis(100), hazards: Hazards::NONE });
    c.command(N1, 1, Command::Write { value: 9 });
    assert_eq!(c.net.len(), 2, "queries to n2 and n3");
    c.deliver(|_, _, _| false); // all lost
    assert_eq!(c.nodes[&N1].poll_timeout(), Some(at(101).mono));
    c.now_ms = 50;
    c.input(N1, Input::Timeout); // early: nothing
    assert!(c.net.is_empty());
    c.now_ms = 101;
    c.input(N1, Input::Timeout);
    assert_eq!(c.net.len(), 2, "re-sent to both");
    // n2 answers; n3's copy is lost. A majority has answered: on to the store phase.
    c.deliver(|from, to, _| from == N2 || to == N2);
    assert_eq!(c.returned(N1, 1), Some(Some(9)));
    // Nothing left to resend once the write returned.
    assert_eq!(c.nodes[&N1].poll_timeout(), None);
}

#[test]
fn resends_go_only_to_replicas_that_have_not_answered() {
    let mut c = Cluster::new(5, AbdConfig::default());
    c.command(N1, 1, Command::Read);
    c.deliver(|_, to, _| to == N1 || to == N2); // n2 answers, the rest lost
    c.now_ms = 200;
    c.input(N1, Input::Timeout);
    let to: BTreeSet<NodeId> = c.net.iter().map(|(_, to, _)| *to).collect();
    assert_eq!(to, [NodeId(3), NodeId(4), NodeId(5)].into());
}

#[test]
fn a_restarted_replica_keeps_its_stored_value_and_a_new_epoch() {
    let mut c = Cluster::new(3, AbdConfig::default());
    c.command(N1, 1, Command::Write { value: 4 });
    c.deliver_all();
    assert_eq!(c.durable[&N2].value, Some(4), "persisted before the ack");
    let epoch = c.nodes[&N2].epoch();
    c.nodes.remove(&N2);
    c.start(N2);
    assert_eq!(c.nodes[&N2].stored(), (Ts { counter: 1, writer: N1 }, Some(4)));
    assert_eq!(c.nodes[&N2].epoch(), epoch + 1);
    assert_eq!(c.durable[&N2].epoch, epoch + 1, "the new epoch is durable at once");
    c.command(N2, 1, Command::Read);
    c.deliver_all();
    assert_eq!(c.returned(N2, 1), Some(Some(4)));
}

#[test]
fn a_store_is_persisted_before_it_is_acknowledged() {
    let mut c = Cluster::new(3, AbdConfig::default());
    let node = c.nodes.get_mut(&N2).unwrap();
    let store = AbdMsg::Store {
        phase: PhaseId { epoch: 1, seq: 1 },
        ts: Ts { counter: 1, writer: N1 },
        value: Some(3),
    };
    let mut outs = Vec::new();
    step(node, at(1), Input::Message { from: N1, msg: store.clone() }, |o| outs.push(o));
    assert!(
        matches!(outs.as_slice(), [Output::Persist(d), Output::Send { msg: AbdMsg::StoreAck { .. }, .. }] if d.value == Some(3))
    );
    // An older or equal store is acknowledged without changing anything.
    outs.clear();
    step(node, at(2), Input::Message { from: N1, msg: store }, |o| outs.push(o));
    assert!(matches!(outs.as_slice(), [Output::Send { msg: AbdMsg::StoreAck { .. }, .. }]));
}

#[test]
fn duplicate_stale_and_foreign_replies_are_ignored() {
    let mut c = Cluster::new(5, AbdConfig::default());
    c.command(N1, 1, Command::Read);
    let stale = c.net.iter().find_map(|(_, _, m)| match m {
        AbdMsg::Query { phase } => Some(*phase),
        _ => None,
    });
    let stale = stale.expect("a query");
    c.deliver_all();
    assert_eq!(c.returned(N1, 1), Some(None));
    c.command(N1, 2, Command::Write { value: 8 });
    c.net.clear();
    let reply = |phase| AbdMsg::QueryReply { phase, ts: Ts { counter: 50, writer: N2 }, value: Some(1) };
    // A stale reply (the read's phase), n2's reply three times, and a non-member's reply:
    // n1 (itself) and n2 are two of the three answers a majority of five needs.
    c.input(N1, Input::Message { from: N3, msg: reply(stale) });
    // The read used seqs 1 (query) and 2 (write-back); the write's query is 3.
    let current = PhaseId { seq: stale.seq + 2, ..stale };
    for _ in 0..3 {
        c.input(
            N1,
            Input::Message {
                from: N2,
                msg: AbdMsg::QueryReply { phase: current, ts: Ts::default(), value: None },
            },
        );
    }
    c.input(N1, Input::Message { from: NodeId(9), msg: reply(current) });
    assert!(c.net.is_empty(), "still in phase 1: {:?}", c.net);
    // The third distinct answer completes it; the timestamp ignores the stale 50.
    c.input(
        N1,
        Input::Message {
            from: N3,
            msg: AbdMsg::QueryReply { phase: current, ts: Ts::default(), value: None },
        },
    );
    let ts = c.net.iter().find_map(|(_, _, m)| match m {
        AbdMsg::Store { ts, .. } => Some(*ts),
        _ => None,
    });
    assert_eq!(ts, Some(Ts { counter: 1, writer: N1 }));
    // Duplicate store acks from one replica count once.
    let phase = match c.net[0].2 {
        AbdMsg::Store { phase, .. } => phase,
        _ => unreachable!(),
    };
    c.net.clear();
    for _ in 0..3 {
        c.input(N1, Input::Message { from: N4, msg: AbdMsg::StoreAck { phase } });
    }
    assert_eq!(c.returned(N1, 2), None, "n1 and n4 are two acks of three");
    c.input(N1, Input::Message { from: N3, msg: AbdMsg::StoreAck { phase } });
    assert_eq!(c.returned(N1, 2), Some(Some(8)));
}

const N4: NodeId = NodeId(4);

#[test]
fn a_restarted_coordinator_never_matches_a_reply_from_before_the_restart() {
    let mut c = Cluster::new(3, AbdConfig::default());
    c.command(N1, 1, Command::Read);
    let before: Vec<_> = c.net.drain(..).collect();
    c.nodes.remove(&N1);
    c.start(N1);
    c.command(N1, 1, Command::Write { value: 7 });
    c.net.clear();
    // Replies to the pre-restart query, with a huge timestamp, arrive now.
    for (_, to, m) in before {
        if let AbdMsg::Query { phase } = m {
            let msg = AbdMsg::QueryReply { phase, ts: Ts { counter: 1000, writer: N2 }, value: Some(1) };
            c.input(N1, Input::Message { from: to, msg });
        }
    }
    assert!(c.net.is_empty(), "the stale replies completed nothing");
    assert!(c.events.iter().all(|o| !matches!(o.event, AbdEvent::Returned { .. })));
    // The pre-restart read is pending forever: an unknown outcome, which is linearizable.
    assert!(checks::linearizable(&c.events).is_ok());
}

#[test]
fn a_second_command_while_one_is_in_flight_is_rejected() {
    let mut c = Cluster::new(3, AbdConfig::default());
    c.command(N1, 1, Command::Read);
    c.command(N1, 2, Command::Write { value: 1 });
    assert!(matches!(c.events.last().unwrap().event, AbdEvent::Rejected { req: 2, reason: Rejection::Busy }));
    c.deliver_all();
    assert_eq!(c.returned(N1, 1), Some(None));
}

#[test]
fn a_write_above_a_replica_at_the_largest_counter_fails_without_storing() {
    let mut c = Cluster::new(3, AbdConfig::default());
    let top =
        AbdMsg::Store { phase: PhaseId::default(), ts: Ts { counter: u64::MAX, writer: N3 }, value: Some(1) };
    c.input(N2, Input::Message { from: N3, msg: top });
    c.net.clear();
    c.command(N1, 1, Command::Write { value: 2 });
    c.deliver_all();
    assert!(c.events.iter().any(|o| matches!(o.event, AbdEvent::Failed { req: 1, .. })));
    assert_eq!(c.nodes[&N1].stored().1, None, "nothing stored");
}

mod history {
    use super::*;

    fn obs(ms: u64, node: u32, event: AbdEvent) -> Observation<AbdEvent> {
        Observation { at: Duration::from_millis(ms), node: NodeId(node), event }
    }
    fn inv(ms: u64, node: u32, req: u64, op: OpKind, value: Option<u64>) -> Observation<AbdEvent> {
        obs(ms, node, AbdEvent::Invoked { req, op, value })
    }
    fn ret(ms: u64, node: u32, req: u64, op: OpKind, value: Option<u64>) -> Observation<AbdEvent> {
        obs(ms, node, AbdEvent::Returned { req, op, value })
    }

    #[test]
    fn a_stale_read_is_not_linearizable() {
        use OpKind::*;
        let h = [
            inv(0, 1, 1, Write, Some(1)),
            ret(10, 1, 1, Write, Some(1)),
            inv(20, 1, 2, Write, Some(2)),
            ret(30, 1, 2, Write, Some(2)),
            inv(40, 2, 1, Read, None),
            ret(50, 2, 1, Read, Some(1)), // 2 was written before the read began
        ];
        let v = checks::linearizable(&h).unwrap_err();
        assert_eq!(v.checker, checks::LINEARIZABLE);
        assert!(v.message.contains("n2 read -> 1"), "{v}");
        // The same read overlapping the second write is fine.
        let mut ok = h.clone();
        ok[4] = inv(25, 2, 1, Read, None);
        ok.sort_by_key(|o| o.at);
        assert!(checks::linearizable(&ok).is_ok());
    }

    #[test]
    fn an_operation_cut_short_by_a_restart_has_an_unknown_outcome() {
        use OpKind::*;
        // n1's write of 3 never returned (n1 restarted, and reused request id 1); n2 read 3
        // later, so the write took effect; n1's later read of 3 is paired with its own
        // invocation.
        let h = [
            inv(0, 1, 1, Write, Some(3)),
            inv(100, 1, 1, Read, None),
            ret(110, 1, 1, Read, Some(3)),
            inv(120, 2, 1, Read, None),
            ret(130, 2, 1, Read, Some(3)),
        ];
        let events = checks::history(&h);
        let ops = crate::history::pair(&events).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].outcome, crate::history::Outcome::Info);
        assert!(checks::linearizable(&h).is_ok());
        // A read of a value nobody invoked a write of is not.
        let mut bad = h.to_vec();
        bad[4] = ret(130, 2, 1, Read, Some(4));
        assert!(checks::linearizable(&bad).is_err());
    }

    #[test]
    fn rejected_and_failed_operations_are_recorded_as_never_invoked_and_failed() {
        use OpKind::*;
        let h = [
            inv(0, 1, 1, Write, Some(3)),
            obs(1, 1, AbdEvent::Rejected { req: 2, reason: Rejection::Busy }),
            obs(2, 1, AbdEvent::Failed { req: 1, op: Write, value: Some(3) }),
            inv(3, 2, 1, Read, None),
            ret(4, 2, 1, Read, Some(3)),
        ];
        let events = checks::history(&h);
        assert_eq!(events.len(), 4);
        assert_eq!(events[1].kind, crate::history::EventKind::Fail);
        // A failed write took no effect: reading its value is a violation.
        assert!(checks::linearizable(&h).is_err());
    }
}
