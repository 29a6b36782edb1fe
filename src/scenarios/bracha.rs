//! The `bracha` scenarios: reliable broadcast with Byzantine nodes, within the bound and
//! beyond it.

use super::{Outcome, RunSpec, Scenario};
use palisade_core::protocol::RequestId;
use palisade_core::quorum::bracha::{
    Bracha, BrachaCommand, BrachaConfig, BrachaEvent, BrachaMsg, BrachaReply, InstanceId,
};
use palisade_core::quorum::{Signer, Vote, VoteKeys};
use palisade_core::{NodeId, Violation};
use palisade_sim::byzantine::{Action, Adversary, AdversaryCtx, Garbage, Replay, SelectiveDelay, Silent};
use palisade_sim::{Latency, LinkConfig, Network, SimConfig, Simulation, WithinAfterGst, World};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Cluster seed for the test keys.
pub const CLUSTER: u64 = 0xb4ac4a;

/// The value `node` broadcasts the `k`-th time its application asks.
pub fn value_of(node: NodeId, k: u64) -> Vec<u8> {
    format!("value {k} from {node}").into_bytes()
}

/// The equivocating value a Byzantine sender tells the other half about its `k`-th.
pub fn other_value(node: NodeId, k: u64) -> Vec<u8> {
    format!("LIE {k} from {node}").into_bytes()
}

/// Broadcasts each node's application asks for.
pub const BROADCASTS: u64 = 3;
/// When every node's application asks for its first broadcast (after the nemesis has
/// started, at 1 s, so faults land in the middle of them).
pub const START_AFTER: Duration = Duration::from_secs(5);
/// Between one node's broadcasts.
pub const BROADCAST_EVERY: Duration = Duration::from_secs(10);

/// A Byzantine node that tells `group_b` a different story for each liar's instance: a
/// liar's own INITIAL and ECHO carry a second signed value, and READYs name it. With an
/// INITIAL it also sends a premature READY (each group its own value), so thresholds that
/// trust a single READY deliver at once. Colluding adversaries share keys and one plan
/// (the same liars, the same split), so any of them can sign as any liar and all of them
/// back every lie.
pub struct SplitBrain {
    /// The instances lied about (their senders).
    pub liars: Vec<NodeId>,
    /// Nodes told the second value.
    pub group_b: BTreeSet<NodeId>,
    /// Per liar's instance, the two signed initials, made once: (the truth, the lie).
    signed: BTreeMap<InstanceId, (Vote, Vote)>,
    /// Each liar's signer: colluders share them, and hold no one else's.
    signers: BTreeMap<NodeId, Signer>,
}

impl SplitBrain {
    /// `liar` tells `group_b` one value and everyone else another.
    pub fn new(liar: NodeId, group_b: BTreeSet<NodeId>, keys: &VoteKeys) -> Self {
        Self::colluding(vec![liar], group_b, keys)
    }

    /// Every one of `liars` equivocates about its own instance along the same split, and
    /// the node running this backs all of their lies.
    pub fn colluding(liars: Vec<NodeId>, group_b: BTreeSet<NodeId>, keys: &VoteKeys) -> Self {
        let signers = liars.iter().map(|&l| (l, keys.signer(l))).collect();
        SplitBrain { liars, group_b, signed: BTreeMap::new(), signers }
    }

    fn lies_about(&self, (sender, _): InstanceId) -> bool {
        self.liars.contains(&sender)
    }
}

impl Adversary<Bracha> for SplitBrain {
    fn name(&self) -> &'static str {
        "split-brain"
    }
    fn on_send(
        &mut self,
        _ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: BrachaMsg,
        out: &mut Vec<Action<BrachaMsg>>,
    ) {
        let id = msg.instance();
        if !self.lies_about(id) || matches!(msg, BrachaMsg::Delivered { .. }) {
            out.push(Action::Send { to, msg, delay: Duration::ZERO });
            return;
        }
        // A liar's k-th broadcast is its instance k: liars are never crashed or paused, so
        // none of their application's requests is lost.
        let (liar, k) = id;
        let Some(key) = self.signers.get(&liar) else { return };
        let (truth, lie) = self
            .signed
            .entry(id)
            .or_insert_with(|| {
                (
                    Vote::sign_as(key, k, 0, liar, value_of(liar, k)),
                    Vote::sign_as(key, k, 0, liar, other_value(liar, k)),
                )
            })
            .clone();
        let in_b = self.group_b.contains(&to);
        if matches!(&msg, BrachaMsg::Initial { .. }) {
            let value = if in_b { other_value(liar, k) } else { value_of(liar, k) };
            let ready = BrachaMsg::Ready { sender: liar, instance: k, value };
            out.push(Action::Send { to, msg: ready, delay: Duration::ZERO });
        }
        // Each group always hears its own value, whatever the liar's own state machine has
        // learnt meanwhile (it picks up the lie from group B's echoes and would otherwise
        // resend that to everyone, quietly ending the equivocation).
        let told = if in_b { lie } else { truth };
        let msg = match msg {
            BrachaMsg::Initial { .. } => BrachaMsg::Initial { initial: told },
            BrachaMsg::Echo { .. } => BrachaMsg::Echo { initial: told },
            BrachaMsg::Ready { .. } if in_b => {
                BrachaMsg::Ready { sender: liar, instance: k, value: other_value(liar, k) }
            }
            other => other,
        };
        out.push(Action::Send { to, msg, delay: Duration::ZERO });
    }
}

/// A run: n nodes, the first `byzantine` of them adversaries. Node 1 always lies about its
/// own broadcast to the upper half of the correct nodes. Beyond the bound the further
/// Byzantine nodes collude with it; within it, by seed, n2 is a second equivocator sharing
/// n1's plan (seeds ≡ 4 mod 5), or silent, replaying, delaying or sending garbage.
pub fn simulation(seed: u64, n: u32, f: usize, byzantine: u32) -> Simulation<Bracha> {
    simulation_with_keys(seed, n, f, byzantine, super::vote_keys(seed, CLUSTER))
}

/// [`simulation`] signing with `keys` instead of the seed's choice ([`super::vote_keys`]).
pub fn simulation_with_keys(
    seed: u64,
    n: u32,
    f: usize,
    byzantine: u32,
    keys: VoteKeys,
) -> Simulation<Bracha> {
    let (mut sim, sent) = simulation_without_checkers(seed, n, f, &keys);
    let correct: Vec<NodeId> = (byzantine + 1..=n).map(NodeId).collect();
    let group_b: BTreeSet<NodeId> = correct[correct.len() / 2..].iter().copied().collect();
    let liar = NodeId(1);
    // Within the bound, every fifth seed has two equivocators sharing one plan: n1 and n2
    // each lie about their own instance along the same split and back each other's lies.
    let pair = byzantine >= 2 && byzantine as usize <= f && seed % 5 == 4;
    let liars = if pair { vec![liar, NodeId(2)] } else { vec![liar] };
    sim.make_byzantine(liar, SplitBrain::colluding(liars.clone(), group_b.clone(), &keys));
    for b in 2..=byzantine {
        let node = NodeId(b);
        if byzantine as usize > f || pair {
            // Beyond the bound the extra adversaries collude with the liar; within it, the
            // paired equivocator does.
            sim.make_byzantine(node, SplitBrain::colluding(liars.clone(), group_b.clone(), &keys));
        } else {
            match seed % 5 {
                0 => sim.make_byzantine(node, Silent),
                1 => sim.make_byzantine(node, Replay::new(0.5)),
                2 => sim.make_byzantine(
                    node,
                    SelectiveDelay { targets: group_b.clone(), delay: Duration::from_secs(2) },
                ),
                _ => sim.make_byzantine(node, Garbage { probability: 0.5 }),
            };
        }
    }
    add_checkers(&mut sim, sent, &keys, byzantine as usize <= f, true);
    sim
}

/// A run with the first `f` nodes replaced by [`palisade_sim::fuzz::Fuzz`] adversaries,
/// which speak the protocol with generated messages, and every checker of
/// [`simulation`] within the bound except the equivocation evidence (a fuzzer cannot sign
/// two values, so there may be none to find).
pub fn fuzz_simulation(seed: u64, n: u32, f: usize) -> Simulation<Bracha> {
    fuzz_simulation_with_keys(seed, n, f, super::vote_keys(seed, CLUSTER))
}

/// [`fuzz_simulation`] signing with `keys` instead of the seed's choice.
pub fn fuzz_simulation_with_keys(seed: u64, n: u32, f: usize, keys: VoteKeys) -> Simulation<Bracha> {
    let (mut sim, sent) = simulation_without_checkers(seed, n, f, &keys);
    for b in 1..=f as u32 {
        let key = keys.signer(NodeId(b));
        // A Byzantine node holds its own key: a generated initial it claims as its own is
        // signed, so hostile but valid content (any value, any instance) reaches the code
        // behind the signature check. Others' votes stay as generated.
        let fuzz = palisade_sim::fuzz::Fuzz::new().with_fixup(move |m: &mut BrachaMsg, me: NodeId| {
            if let BrachaMsg::Initial { initial } | BrachaMsg::Echo { initial } = m
                && initial.voter == me
            {
                // Mostly numbers that exist, so the signed content gets past that check.
                let instance = 1 + initial.instance % (2 * BROADCASTS);
                *initial = Vote::sign_as(&key, instance, initial.round, me, initial.value.clone());
            }
        });
        sim.make_byzantine(NodeId(b), fuzz);
    }
    add_checkers(&mut sim, sent, &keys, true, false);
    sim
}

/// What each request asked to broadcast: (node, value) by request id.
type Requests = BTreeMap<RequestId, (NodeId, Vec<u8>)>;

/// The network, the configuration and every node's application asking for [`BROADCASTS`]
/// broadcasts, [`BROADCAST_EVERY`] apart from [`START_AFTER`]; and what was asked.
fn simulation_without_checkers(
    seed: u64,
    n: u32,
    f: usize,
    keys: &VoteKeys,
) -> (Simulation<Bracha>, Requests) {
    let mut sc = SimConfig::new(seed, n);
    sc.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(30),
    )));
    let config = BrachaConfig::with_keys(n as usize, f, keys.clone()).expect("valid configuration");
    let mut sim = Simulation::new(sc, config);
    let mut asked = Requests::new();
    for k in 1..=BROADCASTS {
        let at = START_AFTER + BROADCAST_EVERY * (k as u32 - 1);
        for node in (1..=n).map(NodeId) {
            let value = value_of(node, k);
            let req = sim.call_at(node, at, BrachaCommand::Broadcast { value: value.clone() });
            asked.insert(req, (node, value));
        }
    }
    (sim, asked)
}

/// Each broadcast's value by instance, from the `Sent` replies to the requests `asked`
/// (a request that reached a crashed node has none).
#[derive(Default)]
struct SentValues {
    seen: usize,
    by_instance: BTreeMap<InstanceId, Vec<u8>>,
}

impl SentValues {
    fn update(&mut self, w: &World<Bracha>, asked: &Requests) {
        for o in &w.replies()[self.seen..] {
            if let (BrachaReply::Sent { instance }, Some((node, value))) =
                (&o.event.reply, asked.get(&o.event.req))
            {
                self.by_instance.insert((*node, *instance), value.clone());
            }
        }
        self.seen = w.replies().len();
    }
}

fn add_checkers(
    sim: &mut Simulation<Bracha>,
    asked: Requests,
    keys: &VoteKeys,
    within_bound: bool,
    expect_evidence: bool,
) {
    // Safety after every event: agreement, integrity, validity for correct senders.
    let mut seen = 0;
    let mut delivered: BTreeMap<InstanceId, (NodeId, Vec<u8>)> = BTreeMap::new();
    let mut per_node: BTreeSet<(NodeId, InstanceId)> = BTreeSet::new();
    let mut sent = SentValues::default();
    let asked = std::sync::Arc::new(asked);
    let asked_too = asked.clone();
    sim.add_checker(move |w: &World<Bracha>| {
        sent.update(w, &asked);
        for o in &w.history()[seen..] {
            if !w.is_honest(o.node) {
                continue;
            }
            if let BrachaEvent::Delivered { sender, instance, value } = &o.event {
                let id = (*sender, *instance);
                if !per_node.insert((o.node, id)) {
                    return Err(Violation::new(
                        "bracha::integrity",
                        format!("{} delivered {sender}'s instance {instance} twice", o.node),
                    ));
                }
                if w.is_honest(*sender) && sent.by_instance.get(&id) != Some(value) {
                    return Err(Violation::new(
                        "bracha::validity",
                        format!(
                            "{} delivered {:?} as {sender}'s instance {instance}, which {sender} never sent",
                            o.node,
                            String::from_utf8_lossy(value)
                        ),
                    ));
                }
                match delivered.get(&id) {
                    Some((other, v)) if v != value => {
                        return Err(Violation::new(
                            "bracha::agreement",
                            format!(
                                "{} delivered {:?} for {sender}'s instance {instance}, {other} delivered {:?}",
                                o.node,
                                String::from_utf8_lossy(value),
                                String::from_utf8_lossy(v)
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        delivered.insert(id, (o.node, value.clone()));
                    }
                }
            }
        }
        seen = w.history().len();
        Ok(())
    });
    if !within_bound {
        return;
    }
    // Liveness after GST: every correct node delivers every correct sender's value, and a
    // correct node holds checkable evidence against the equivocating sender.
    let ring = keys.keyring((1..=16).map(NodeId));
    let (mut scanned, mut evidence) = (0, false);
    let mut sent = SentValues::default();
    sim.add_checker(WithinAfterGst::new("bracha::delivery_and_evidence", Duration::from_secs(10), move |w: &World<Bracha>| {
        // Scan only what is new: the checker runs after every event.
        for o in &w.history()[scanned..] {
            evidence |= w.is_honest(o.node)
                && matches!(&o.event, BrachaEvent::Equivocation { evidence, .. } if evidence.culprit() == NodeId(1) && evidence.verify(&ring).is_ok());
        }
        scanned = w.history().len();
        sent.update(w, &asked_too);
        let honest: Vec<NodeId> = w.ids().filter(|&n| w.is_honest(n)).collect();
        let all_delivered = honest.iter().all(|&n| {
            let node = w.node(n);
            sent.by_instance.iter().filter(|((s, _), _)| w.is_honest(*s)).all(|(&(s, i), v)| {
                node.is_some_and(|b| b.delivered(s, i) == Some(v.as_slice()))
            })
        });
        (evidence || !expect_evidence) && all_delivered
    }));
}

fn run(n: u32, f: usize, byzantine: u32, mut spec: RunSpec) -> Outcome {
    let mut sim = simulation(spec.seed, n, f, byzantine);
    let targets: Vec<NodeId> = (byzantine + 1..=n).map(NodeId).collect();
    let schedule = spec.prepare(&mut sim, &targets);
    let report = sim.run_for(spec.duration);
    let _ = sim.finish_trace();
    let w = sim.world();
    let liar_values: BTreeSet<String> = w
        .history()
        .iter()
        .filter(|o| w.is_honest(o.node))
        .filter_map(|o| match &o.event {
            BrachaEvent::Delivered { sender: NodeId(1), value, .. } => {
                Some(String::from_utf8_lossy(value).into_owned())
            }
            _ => None,
        })
        .collect();
    let evidence = w.history().iter().filter(|o| matches!(o.event, BrachaEvent::Equivocation { .. })).count();
    let delivered = w
        .history()
        .iter()
        .filter(|o| w.is_honest(o.node) && matches!(o.event, BrachaEvent::Delivered { .. }))
        .count();
    let story = vec![
        format!(
            "n = {n}, f = {f}, Byzantine nodes {byzantine} (n1 equivocates about each of its broadcasts); every \
             node's application asks for {BROADCASTS} broadcasts"
        ),
        format!("deliveries by correct nodes: {delivered}"),
        format!(
            "correct nodes delivered for n1's instances: {liar_values:?}; equivocation evidence raised {evidence} time(s)"
        ),
    ];
    Outcome { report, story, schedule }
}

/// The Bracha scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "bracha",
            about: "Bracha reliable broadcast, n = 4, f = 1: an equivocating sender under the nemesis; agreement, \
                    validity, integrity, totality and evidence hold",
            default_duration: Duration::from_secs(60),
            default_nemesis: Some("pause=6,partition=4,loss=4"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::quorum::bracha::model(1),
            run: |spec| run(4, 1, 1, spec),
        },
        Scenario {
            name: "bracha-7",
            about: "Bracha with n = 7, f = 2: an equivocating sender plus, by seed, a second equivocator sharing its \
                    plan (each lies about its own broadcast and backs the other's) or a silent, replaying, delaying \
                    or garbage node, under the nemesis",
            default_duration: Duration::from_secs(60),
            default_nemesis: Some("pause=6,partition=4,loss=4"),
            default_outside_model: None,
            hazard: false,
            records_history: false,
            model: palisade_core::quorum::bracha::model(2),
            run: |spec| run(7, 2, 2, spec),
        },
        Scenario {
            name: "bracha-crash-quorums",
            about: "the same broadcast with thresholds for crash faults only (f = 0) and one equivocating \
                    sender: correct nodes deliver different values",
            default_duration: Duration::from_secs(60),
            default_nemesis: Some("pause=6,partition=4,loss=4"),
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::quorum::bracha::model(1),
            run: |spec| run(4, 0, 1, spec),
        },
        Scenario {
            name: "bracha-beyond",
            about: "n = 4 configured for f = 1 but with 2 colluding Byzantine nodes: correct nodes deliver different \
                    values; the checker must see it",
            default_duration: Duration::from_secs(30),
            default_nemesis: None,
            default_outside_model: None,
            hazard: true,
            records_history: false,
            model: palisade_core::quorum::bracha::model(1),
            run: |spec| run(4, 1, 2, spec),
        },
    ]
}

/// A model of Bracha broadcast for the explorer, n = 4, f = 1, every node correct: n1's
/// application broadcasts one value (`BrachaCommand::Broadcast`, at a point the explorer
/// chooses); messages arrive in any order within `max_delay` of true time, and `drops` may
/// be lost; re-sends every 500 ms within `horizon`. Checked in every state: no correct node
/// delivers a value n1 did not broadcast (validity, which with one value also gives
/// agreement); at the end of every path, every node delivered (totality), when no message is
/// lost or the re-sends had time to repair it. Too large to exhaust without partial-order
/// reduction (some sixty all-to-all messages; breadth-first holds 2.9 GB at half a million
/// states, depth 12): `palisade explore bracha-correct` searches it depth-first within a bound,
/// and the tests walk random paths through it.
pub fn explorer_setup(horizon: Duration, drops: u32) -> palisade_sim::explore::Setup<Bracha> {
    use palisade_sim::explore::{Bounds, Setup};
    const VALUE: &[u8] = b"v";
    let config = BrachaConfig::with_keys(4, 1, VoteKeys::Test(CLUSTER)).expect("n = 4 tolerates f = 1");
    let delivered = |w: &World<Bracha>| -> Vec<(NodeId, Vec<u8>)> {
        w.ids().filter_map(|n| Some((n, w.node(n)?.delivered(NodeId(1), 1)?.to_vec()))).collect()
    };
    Setup {
        nodes: 4,
        config,
        model: palisade_core::quorum::bracha::model(1),
        bounds: Bounds::default()
            .horizon(horizon)
            .max_delay(Some(Duration::from_millis(50)))
            .drops(drops)
            .crashes(0)
            .duplicates(0),
        workload: Box::new(|node, issued, _| {
            (node == NodeId(1) && issued == 0).then(|| BrachaCommand::Broadcast { value: VALUE.to_vec() })
        }),
        invariants: vec![Box::new(move |w: &World<Bracha>| {
            for (n, v) in delivered(w) {
                if v != VALUE {
                    return Err(Violation::new(
                        "bracha::validity",
                        format!(
                            "{n} delivered {:?} as n1's instance 1, which n1 never sent",
                            String::from_utf8_lossy(&v)
                        ),
                    ));
                }
            }
            Ok(())
        })],
        history_invariants: vec![],
        at_end: vec![Box::new(move |w: &World<Bracha>| {
            let got = delivered(w);
            if got.len() == 4 {
                Ok(())
            } else {
                Err(Violation::new(
                    "bracha::totality",
                    format!(
                        "at the end only {:?} delivered n1's instance 1",
                        got.iter().map(|(n, _)| *n).collect::<Vec<_>>()
                    ),
                ))
            }
        })],
        obsolete: None,
        symmetry: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Bracha driven by a command in the explorer: 200 random paths to their end (over every
    /// start of the clocks, and any one message lost), each keeps validity in every state
    /// and ends with every node delivered.
    #[test]
    fn a_broadcast_by_command_is_delivered_everywhere_on_every_walked_path() {
        use palisade_sim::explore::{Scheduler, walk};
        let setup = explorer_setup(Duration::from_millis(600), 1);
        for seed in 1..=200 {
            let w = walk(&setup, Scheduler::Random, seed, 0, 10_000);
            assert!(w.finished, "seed {seed}: the path did not end");
            assert!(w.counterexample.is_none(), "seed {seed}: {:?}", w.counterexample);
        }
    }

    /// The totality check can fail: with three messages lost and no time to re-send, some
    /// random paths through the model end with a node that never delivered; and none of
    /// the paths breaks validity.
    #[test]
    fn losses_without_time_to_resend_leave_a_node_undelivered() {
        use palisade_sim::explore::{Scheduler, walk};
        let setup = explorer_setup(Duration::from_millis(100), 3);
        let walks: Vec<_> = (1..=200).map(|seed| walk(&setup, Scheduler::Random, seed, 0, 10_000)).collect();
        assert!(walks.iter().all(|w| w.finished));
        let failed: Vec<_> = walks.iter().filter_map(|w| w.counterexample.as_ref()).collect();
        assert!(!failed.is_empty(), "no path of 200 left a node undelivered");
        assert!(failed.iter().all(|c| c.violation.checker == "bracha::totality"), "{failed:?}");
        assert!(failed.len() < 200, "every path failed: the losses are not what fails them");
        // Each replays in the timed simulator (timers, losses and signatures included): the
        // same nodes end undelivered where the path ends.
        for c in failed {
            let r = palisade_sim::explore::replay_in_simulator(&setup, &c.path, |_| {}).expect("replays");
            let (step, v) = r.model.clone().expect("totality fails on the simulator's states too");
            assert_eq!(
                (step, v.checker, &v.message),
                (c.path.len(), "bracha::totality", &c.violation.message)
            );
            assert!(r.report.dropped >= 1, "{:?}", r.report);
        }
    }
}
