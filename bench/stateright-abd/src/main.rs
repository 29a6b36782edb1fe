//! `palisade explore abd` and `abd-no-write-back`, the same model in stateright: three
//! replicas (actors 0-2), a writer client beside replica 0 that writes twice and a reader
//! client beside replica 1 that reads twice, each operation after the last returned; the
//! coordinating replica answers itself at once and needs one more reply per phase (a
//! majority of three); messages are delivered in any order, never lost or duplicated;
//! every state is checked for linearizability. Runs single-threaded breadth-first, as
//! palisade's explorer does, and prints one JSON line.
//!
//! Usage: stateright-abd [abd|abd-no-write-back] [TARGET_STATES]: with a target, the search
//! stops once it has generated about that many states (stateright's `target_state_count`).

use stateright::actor::register::RegisterMsg::{self, Get, GetOk, Internal, Put, PutOk};
use stateright::actor::{Actor, ActorModel, Id, Network, Out};
use stateright::semantics::LinearizabilityTester;
use stateright::semantics::register::Register;
use stateright::util::HashableHashMap;
use stateright::{Checker, Expectation, Model};
use std::borrow::Cow;
use std::time::Instant;

type Ts = (u64, Id);
type Value = char;

#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
enum Abd {
    Query(u64),
    QueryReply(u64, Ts, Value),
    Store(u64, Ts, Value),
    StoreAck(u64),
}

#[derive(Clone, Debug, Eq, Hash, PartialEq)]
enum Phase {
    Query { req: u64, client: Id, write: Option<Value>, replies: HashableHashMap<Id, (Ts, Value)> },
    Store { req: u64, client: Id, read: Option<Value>, acks: u8 },
}

#[derive(Clone, Debug, Eq, Hash, PartialEq)]
enum State {
    Replica { ts: Ts, value: Value, phase: Option<Phase> },
    Client { done: u8 },
}

type Msg = RegisterMsg<u64, Value, Abd>;

#[derive(Clone)]
enum Node {
    Replica { peers: Vec<Id>, write_back: bool },
    /// Sends `ops` operations to `replica`, one after another: writes of 'A', 'B', ... or reads.
    Client { replica: Id, writes: bool, ops: u8 },
}

fn request(id: Id, n: u8, writes: bool) -> Msg {
    let req = usize::from(id) as u64 * 100 + u64::from(n);
    if writes { Put(req, (b'A' + n) as char) } else { Get(req) }
}

impl Actor for Node {
    type Msg = Msg;
    type State = State;
    type Timer = ();
    type Random = ();
    type Storage = ();

    fn on_start(&self, id: Id, _: &Option<()>, o: &mut Out<Self>) -> State {
        match self {
            Node::Replica { .. } => State::Replica { ts: (0, Id::from(0)), value: '\0', phase: None },
            Node::Client { replica, writes, .. } => {
                o.send(*replica, request(id, 0, *writes));
                State::Client { done: 0 }
            }
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<State>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match (self, state.to_mut()) {
            (Node::Client { replica, writes, ops }, State::Client { done }) => {
                if matches!(msg, PutOk(_) | GetOk(..)) {
                    *done += 1;
                    if *done < *ops {
                        o.send(*replica, request(id, *done, *writes));
                    }
                }
            }
            (Node::Replica { peers, write_back }, State::Replica { ts, value, phase }) => {
                let majority = (peers.len() + 1) / 2 + 1;
                match msg {
                    Put(req, _) | Get(req) if phase.is_none() => {
                        let write = if let Put(_, v) = msg { Some(v) } else { None };
                        let mut replies = HashableHashMap::default();
                        replies.insert(id, (*ts, *value));
                        *phase = Some(Phase::Query { req, client: src, write, replies });
                        o.broadcast(peers, &Internal(Abd::Query(req)));
                    }
                    Internal(Abd::Query(req)) => o.send(src, Internal(Abd::QueryReply(req, *ts, *value))),
                    Internal(Abd::Store(req, t, v)) => {
                        if t > *ts {
                            (*ts, *value) = (t, v);
                        }
                        o.send(src, Internal(Abd::StoreAck(req)));
                    }
                    Internal(Abd::QueryReply(r, t, v)) => {
                        let Some(Phase::Query { req, client, write, replies }) = phase else { return };
                        if r != *req {
                            return;
                        }
                        replies.insert(src, (t, v));
                        if replies.len() < majority {
                            return;
                        }
                        let (max_ts, max_value) = *replies.values().max_by_key(|(t, _)| *t).expect("a majority");
                        let (req, client) = (*req, *client);
                        let (store_ts, store_value, read) = match write {
                            Some(w) => ((max_ts.0 + 1, id), *w, None),
                            None if *write_back => (max_ts, max_value, Some(max_value)),
                            None => {
                                *phase = None;
                                o.send(client, GetOk(req, max_value));
                                return;
                            }
                        };
                        if store_ts > *ts {
                            (*ts, *value) = (store_ts, store_value);
                        }
                        *phase = Some(Phase::Store { req, client, read, acks: 1 });
                        o.broadcast(peers, &Internal(Abd::Store(req, store_ts, store_value)));
                    }
                    Internal(Abd::StoreAck(r)) => {
                        let Some(Phase::Store { req, client, read, acks }) = phase else { return };
                        if r != *req {
                            return;
                        }
                        *acks += 1;
                        if usize::from(*acks) >= majority {
                            let reply = match read {
                                Some(v) => GetOk(*req, *v),
                                None => PutOk(*req),
                            };
                            o.send(*client, reply);
                            *phase = None;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "abd".to_string());
    let write_back = match name.as_str() {
        "abd" => true,
        "abd-no-write-back" => false,
        other => {
            eprintln!("stateright-abd: unknown model `{other}` (abd or abd-no-write-back)");
            std::process::exit(2);
        }
    };
    let servers: Vec<Id> = (0..3).map(Id::from).collect();
    let peers = |i: usize| servers.iter().copied().filter(|&s| s != Id::from(i)).collect::<Vec<_>>();
    let model = ActorModel::new((), LinearizabilityTester::new(Register('\0')))
        .actors((0..3).map(|i| Node::Replica { peers: peers(i), write_back }))
        .actor(Node::Client { replica: Id::from(0), writes: true, ops: 2 })
        .actor(Node::Client { replica: Id::from(1), writes: false, ops: 2 })
        .init_network(Network::new_unordered_nonduplicating([]))
        .property(Expectation::Always, "linearizable", |_, s| s.history.serialized_history().is_some())
        .record_msg_in(RegisterMsg::record_returns)
        .record_msg_out(RegisterMsg::record_invocations);
    let started = Instant::now();
    let mut builder = model.checker().threads(1);
    if let Some(target) = std::env::args().nth(2) {
        match target.parse() {
            Ok(n) => builder = builder.target_state_count(n),
            Err(_) => {
                eprintln!("stateright-abd: TARGET_STATES must be a number, not `{target}`");
                std::process::exit(2);
            }
        }
    }
    let checker = builder.spawn_bfs().join();
    let wall = started.elapsed();
    let unique = checker.unique_state_count();
    let cex = checker.discovery("linearizable").map(|p| p.into_actions().len());
    println!(
        "{{\"tool\":\"stateright 0.31.0\",\"scenario\":\"{name}\",\"states\":{unique},\"generated\":{},\"complete\":{},\"max_depth\":{},\"wall_ns\":{},\"states_per_sec\":{:.0},\"counterexample_steps\":{}}}",
        checker.state_count(),
        checker.is_done() && std::env::args().nth(2).is_none(),
        checker.max_depth(),
        wall.as_nanos(),
        unique as f64 / wall.as_secs_f64().max(1e-9),
        cex.map_or("null".to_string(), |n| n.to_string()),
    );
}
