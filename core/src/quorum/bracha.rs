//! Bracha's reliable broadcast (Bracha, Information and Computation 1987), with signed
//! initial messages so that an equivocating sender leaves evidence.
//!
//! Model: asynchronous network with eventual delivery (messages are re-sent until the end,
//! so loss and partitions only delay); n ≥ 3f + 1 with at most f Byzantine nodes, the sender
//! possibly among them; links authenticate the sender. Correct nodes may crash and recover:
//! the protocol is safe under crash-recovery with stable storage, because what a node
//! echoed, readied and delivered per instance ([`BrachaDurable`]) is persisted before the
//! ECHO, READY or delivery is acted on, and a restarted node only ever repeats it.
//! Guarantees: agreement (no two correct nodes deliver different values for one instance);
//! validity (a correct sender's value is delivered by every correct node); integrity (at most
//! one delivery per instance); totality (if one correct node delivers, all do); evidence (a
//! sender that signs two values for one instance is caught, with proof).
//! Checkers: the `bracha` scenario's.
//!
//! Thresholds: echo on the first valid INITIAL; READY on ⌈(n + f + 1)/2⌉ matching ECHOs or
//! f + 1 matching READYs; deliver on 2f + 1 READYs. Each sender's first ECHO and first READY
//! per instance count; later ones never count again.

use super::collector::EquivocationEvidence;
use super::system::{QuorumKind, QuorumSystem};
use super::vote::{Keyring, Vote, test_key, test_keyring};
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol};
use crate::time::{Instant, Now};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The system model Bracha broadcast assumes with `f` Byzantine nodes: safe when
/// asynchronous, live after GST (partially synchronous), any
/// network misbehaviour (messages are re-sent), honest nodes that crash and recover with
/// what they persisted (every ECHO and READY is persisted before it is sent).
pub const fn model(f: u32) -> crate::model::SystemModel {
    use crate::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
    SystemModel {
        timing: Timing::PartiallySynchronous,
        nodes: NodeFaults::Byzantine { f, recovery: true },
        clocks: ClockModel::monotonic(200),
        network: NetworkModel::UNRELIABLE,
        max_down: None,
    }
}

/// The keys INITIAL messages are signed and checked with.
#[derive(Clone, Debug)]
pub enum VoteKeys {
    /// Every node's [`test_key`] from this cluster seed (simulations and tests).
    Test(u64),
    /// Real keys: every member's public key, and this node's signing key.
    Real {
        /// Every member's public key.
        keyring: Keyring,
        /// This node's key.
        key: Box<ed25519_dalek::SigningKey>,
    },
}

/// Parameters of [`Bracha`].
#[derive(Clone, Debug)]
pub struct BrachaConfig {
    /// The dissemination quorum system (n ≥ 3f + 1).
    pub system: QuorumSystem,
    /// The signing keys.
    pub keys: VoteKeys,
    /// Whether each node broadcasts its own value (instance = its id) at start.
    pub broadcast: bool,
    /// Re-send this node's protocol messages this often (reliable links over a lossy net).
    pub resend_every: Duration,
    /// How long after it starts a node sends its own INITIAL (zero: at once). Lets a
    /// simulation put faults in the middle of the broadcast.
    pub start_after: Duration,
}

impl BrachaConfig {
    /// n nodes tolerating f Byzantine, every node broadcasting, with test keys from
    /// `cluster_seed` (use [`BrachaConfig::with_keys`] for real ones).
    pub fn new(n: usize, f: usize, cluster_seed: u64) -> Result<Self, super::QuorumError> {
        Ok(BrachaConfig {
            system: QuorumSystem::new(QuorumKind::Dissemination, n, f)?,
            keys: VoteKeys::Test(cluster_seed),
            broadcast: true,
            resend_every: Duration::from_millis(500),
            start_after: Duration::ZERO,
        })
    }

    /// The same with real keys: the members' public keys and this node's signing key.
    pub fn with_keys(self, keyring: Keyring, key: ed25519_dalek::SigningKey) -> Self {
        BrachaConfig { keys: VoteKeys::Real { keyring, key: Box::new(key) }, ..self }
    }
}

/// Bracha messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrachaMsg {
    /// The sender's signed value (instance = the sender's id, round 0).
    Initial {
        /// The signed value.
        initial: Vote,
    },
    /// "I received this from the sender": carries the sender's signature.
    Echo {
        /// The sender's signed value.
        initial: Vote,
    },
    /// "Enough nodes echoed this value."
    Ready {
        /// The instance.
        instance: u64,
        /// The value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
}

/// What this node committed to in one instance: never anything else, across restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitments {
    /// The sender's signed initial this node echoed.
    pub echoed: Option<Vote>,
    /// The value this node sent READY for.
    pub readied: Option<Vec<u8>>,
    /// The value this node delivered.
    pub delivered: Option<Vec<u8>>,
}

/// The durable state of [`Bracha`]: its commitments per instance, persisted before each
/// ECHO, READY or delivery is acted on. Bounded: instances are members' ids (at most n), each
/// holding one signed initial and two values of at most [`super::MAX_VOTE_VALUE`] bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrachaDurable {
    /// Commitments by instance; instances with none are left out.
    pub instances: BTreeMap<u64, Commitments>,
}

/// Bracha events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BrachaEvent {
    /// Delivered `value` for `instance`.
    Delivered {
        /// The instance (the sender's id).
        instance: u64,
        /// The value.
        value: Vec<u8>,
    },
    /// The sender of `instance` signed two values: proof attached.
    Equivocation {
        /// The instance.
        instance: u64,
        /// Two conflicting signed initials.
        evidence: EquivocationEvidence,
    },
}

#[derive(Clone, Debug, Default)]
struct Instance {
    /// Verified initials, by value (at most two kept: enough to prove equivocation).
    initials: BTreeMap<Vec<u8>, Vote>,
    echoed: Option<Vote>,
    readied: Option<Vec<u8>>,
    delivered: Option<Vec<u8>>,
    echoes: BTreeMap<NodeId, Vec<u8>>,
    readies: BTreeMap<NodeId, Vec<u8>>,
    evidence_sent: bool,
}

/// A Bracha broadcast participant (and sender of its own instance).
pub struct Bracha {
    id: NodeId,
    peers: Vec<NodeId>,
    config: BrachaConfig,
    keyring: Keyring,
    instances: BTreeMap<u64, Instance>,
    next_resend: Instant,
    /// When to send this node's own INITIAL, if it has not yet.
    initial_at: Option<Instant>,
    rejected: u64,
    /// Signed initials that failed verification, so a peer resending one costs a lookup,
    /// not another signature check. Bounded: cleared when full.
    bad_initials: BTreeSet<(u64, Vec<u8>, Vec<u8>)>,
    verifications: u64,
    outbox: Outbox<BrachaMsg, BrachaEvent, BrachaDurable>,
}

/// Invalid signed initials remembered per node before the set starts over.
pub const BAD_INITIALS_CACHE: usize = 1024;

impl std::fmt::Debug for Bracha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bracha").field("id", &self.id).field("instances", &self.instances.len()).finish()
    }
}

/// The value a node broadcasts: its id, spelled out.
pub fn value_of(node: NodeId) -> Vec<u8> {
    format!("value from {node}").into_bytes()
}

impl Bracha {
    /// What this node delivered for `instance`.
    pub fn delivered(&self, instance: u64) -> Option<&[u8]> {
        self.instances.get(&instance)?.delivered.as_deref()
    }

    /// Instances this node holds state for (at most one per member).
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// Signature verifications performed (each costs an ed25519 check).
    pub fn verifications(&self) -> u64 {
        self.verifications
    }

    /// Messages dropped as invalid (bad signatures, wrong senders).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Distinct senders counted for `value` as echoes and readies in `instance`.
    pub fn counts(&self, instance: u64, value: &[u8]) -> (usize, usize) {
        let Some(i) = self.instances.get(&instance) else { return (0, 0) };
        let c = |m: &BTreeMap<NodeId, Vec<u8>>| m.values().filter(|v| v.as_slice() == value).count();
        (c(&i.echoes), c(&i.readies))
    }

    /// Queues a durability barrier with every commitment made so far: call it after
    /// recording a commitment and before the output that acts on it.
    fn persist(&mut self) {
        let instances = self
            .instances
            .iter()
            .filter(|(_, i)| i.echoed.is_some() || i.readied.is_some() || i.delivered.is_some())
            .map(|(&instance, i)| {
                let c = Commitments {
                    echoed: i.echoed.clone(),
                    readied: i.readied.clone(),
                    delivered: i.delivered.clone(),
                };
                (instance, c)
            })
            .collect();
        self.outbox.persist(BrachaDurable { instances });
    }

    /// Takes back the commitments persisted before a crash. Instances that are not members'
    /// ids, and echoes whose initial does not belong to their instance, are ignored.
    fn restore(&mut self, durable: BrachaDurable) {
        for (instance, c) in durable.instances {
            if !self.is_instance(instance) {
                continue;
            }
            let inst = self.instances.entry(instance).or_default();
            if let Some(initial) = c.echoed.filter(|v| v.instance == instance) {
                inst.initials.insert(initial.value.clone(), initial.clone());
                inst.echoed = Some(initial);
            }
            inst.readied = c.readied;
            inst.delivered = c.delivered;
        }
    }

    /// Signs and sends this node's own INITIAL (instance = its id, value [`value_of`]).
    fn send_initial(&mut self) {
        self.initial_at = None;
        let instance = self.id.0 as u64;
        let key = match &self.config.keys {
            VoteKeys::Test(seed) => test_key(*seed, self.id),
            VoteKeys::Real { key, .. } => (**key).clone(),
        };
        let initial = Vote::sign(&key, instance, 0, self.id, value_of(self.id));
        self.accept_initial(&initial);
        self.broadcast(BrachaMsg::Initial { initial });
    }

    /// True when `instance` is a member's id (each member broadcasts in its own instance).
    fn is_instance(&self, instance: u64) -> bool {
        u32::try_from(instance).is_ok_and(|id| self.keyring.contains(NodeId(id)))
    }

    fn broadcast(&mut self, msg: BrachaMsg) {
        for &p in &self.peers {
            self.outbox.send(p, msg.clone());
        }
        self.outbox.send(self.id, msg);
    }

    /// Checks a signed initial for `instance` (once per distinct vote) and records it.
    fn accept_initial(&mut self, initial: &Vote) -> bool {
        let instance = initial.instance;
        // Only members' instances exist: checked before any state is created, so a peer
        // cannot make this node hold an entry per made-up voter id.
        if initial.voter.0 as u64 != instance || initial.round != 0 || !self.is_instance(instance) {
            return false;
        }
        if let Some(known) = self.instances.get(&instance).and_then(|i| i.initials.get(&initial.value)) {
            if known.signature == initial.signature {
                return true;
            }
        }
        if !self.verify_initial(initial) {
            return false;
        }
        let inst = self.instances.entry(instance).or_default();
        if inst.initials.contains_key(&initial.value) {
            return true;
        }
        let inst = self.instances.entry(instance).or_default();
        if inst.initials.len() < 2 {
            inst.initials.insert(initial.value.clone(), initial.clone());
        }
        if inst.initials.len() == 2 && !inst.evidence_sent {
            inst.evidence_sent = true;
            let mut two = inst.initials.values().cloned();
            let (first, second) = (two.next(), two.next());
            if let (Some(first), Some(second)) = (first, second) {
                self.outbox.event(BrachaEvent::Equivocation {
                    instance,
                    evidence: EquivocationEvidence { first, second },
                });
            }
        }
        true
    }

    /// Verifies a signed initial, remembering failures: an invalid vote a peer resends is
    /// refused without a second signature check.
    fn verify_initial(&mut self, initial: &Vote) -> bool {
        let key = (initial.instance, initial.value.clone(), initial.signature.clone());
        if self.bad_initials.contains(&key) {
            return false;
        }
        self.verifications += 1;
        if self.keyring.verify(initial).is_ok() {
            return true;
        }
        if self.bad_initials.len() >= BAD_INITIALS_CACHE {
            self.bad_initials.clear();
        }
        self.bad_initials.insert(key);
        false
    }

    fn maybe_ready(&mut self, instance: u64) {
        let (n, f) = (self.config.system.n(), self.config.system.f());
        let echo_threshold = (n + f + 1).div_ceil(2);
        let Some(inst) = self.instances.get_mut(&instance) else { return };
        let mut ready = None;
        let mut deliver = None;
        if inst.readied.is_none() {
            let mut tally: BTreeMap<&Vec<u8>, usize> = BTreeMap::new();
            for v in inst.echoes.values() {
                *tally.entry(v).or_default() += 1;
            }
            let mut rtally: BTreeMap<&Vec<u8>, usize> = BTreeMap::new();
            for v in inst.readies.values() {
                *rtally.entry(v).or_default() += 1;
            }
            ready = tally
                .iter()
                .find(|(_, c)| **c >= echo_threshold)
                .or_else(|| rtally.iter().find(|(_, c)| **c > f))
                .map(|(v, _)| (*v).clone());
        }
        if inst.delivered.is_none() {
            let mut rtally: BTreeMap<&Vec<u8>, usize> = BTreeMap::new();
            for v in inst.readies.values() {
                *rtally.entry(v).or_default() += 1;
            }
            deliver = rtally.iter().find(|(_, c)| **c > 2 * f).map(|(v, _)| (*v).clone());
        }
        if ready.is_none() && deliver.is_none() {
            return;
        }
        if let Some(value) = &ready {
            inst.readied = Some(value.clone());
        }
        if let Some(value) = &deliver {
            inst.delivered = Some(value.clone());
        }
        // Durable before this node says READY or hands the value over.
        self.persist();
        if let Some(value) = ready {
            self.broadcast(BrachaMsg::Ready { instance, value });
        }
        if let Some(value) = deliver {
            self.outbox.event(BrachaEvent::Delivered { instance, value });
        }
    }

    fn resend(&mut self) {
        let mine = self.id.0 as u64;
        let mut msgs = Vec::new();
        for (&instance, inst) in &self.instances {
            if instance == mine && self.config.broadcast {
                if let Some(v) = inst.initials.values().next() {
                    msgs.push(BrachaMsg::Initial { initial: v.clone() });
                }
            }
            if let Some(e) = &inst.echoed {
                msgs.push(BrachaMsg::Echo { initial: e.clone() });
            }
            if let Some(v) = &inst.readied {
                msgs.push(BrachaMsg::Ready { instance, value: v.clone() });
            }
        }
        for m in msgs {
            self.broadcast(m);
        }
    }
}

impl Protocol for Bracha {
    type Message = BrachaMsg;
    type Command = std::convert::Infallible;
    type Reply = crate::protocol::NoReply;
    type Event = BrachaEvent;
    type Config = BrachaConfig;
    type Durable = BrachaDurable;

    fn new(init: Init<Self>) -> Self {
        let keyring = match &init.config.keys {
            VoteKeys::Test(seed) => test_keyring(*seed, init.members.iter().copied()),
            VoteKeys::Real { keyring, .. } => keyring.clone(),
        };
        let mut b = Bracha {
            id: init.id,
            peers: init.peers().collect(),
            keyring,
            instances: BTreeMap::new(),
            bad_initials: BTreeSet::new(),
            verifications: 0,
            next_resend: init.now.mono + init.config.resend_every,
            initial_at: None,
            rejected: 0,
            outbox: Outbox::new(),
            config: init.config,
        };
        if let Some(durable) = init.restored {
            b.restore(durable);
        }
        if b.config.broadcast && b.config.start_after.is_zero() {
            b.send_initial();
        } else if b.config.broadcast {
            b.initial_at = Some(init.now.mono + b.config.start_after);
        }
        b
    }

    fn handle_message(&mut self, _now: Now, from: NodeId, msg: BrachaMsg) {
        match msg {
            BrachaMsg::Initial { initial } => {
                // Only the sender itself may send its INITIAL.
                if from != initial.voter || !self.accept_initial(&initial) {
                    self.rejected += 1;
                    tracing::debug!(node = %self.id, %from, "invalid INITIAL dropped");
                    return;
                }
                let inst = self.instances.entry(initial.instance).or_default();
                if inst.echoed.is_none() {
                    inst.echoed = Some(initial.clone());
                    // Durable before this node says ECHO: it never echoes another value.
                    self.persist();
                    self.broadcast(BrachaMsg::Echo { initial });
                }
            }
            BrachaMsg::Echo { initial } => {
                if !self.accept_initial(&initial) {
                    self.rejected += 1;
                    tracing::debug!(node = %self.id, %from, "ECHO with an invalid INITIAL dropped");
                    return;
                }
                let instance = initial.instance;
                let inst = self.instances.entry(instance).or_default();
                inst.echoes.entry(from).or_insert(initial.value);
                self.maybe_ready(instance);
            }
            BrachaMsg::Ready { instance, value } => {
                // `is_instance`, not `instance as u32`: a truncating cast let a peer create an
                // instance for every 2^32-th number.
                if value.len() > super::MAX_VOTE_VALUE || !self.is_instance(instance) {
                    self.rejected += 1;
                    return;
                }
                let inst = self.instances.entry(instance).or_default();
                inst.readies.entry(from).or_insert(value);
                self.maybe_ready(instance);
            }
        }
    }

    fn handle_command(&mut self, _now: Now, _req: crate::protocol::RequestId, cmd: Self::Command) {
        match cmd {}
    }

    fn handle_timeout(&mut self, now: Now) {
        if self.initial_at.is_some_and(|at| now.mono >= at) {
            self.send_initial();
        }
        if now.mono >= self.next_resend {
            self.resend();
            self.next_resend = now.mono + self.config.resend_every;
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.initial_at.map_or(self.next_resend, |at| at.min(self.next_resend)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Input, Output, drain, step};
    use crate::time::WallTime;

    const SEED: u64 = 11;
    type Durable = <Bracha as Protocol>::Durable;

    fn now() -> Now {
        Now::new(Instant::ZERO, WallTime::UNIX_EPOCH)
    }

    /// Node 2 of n = 4, f = 1, started from `durable` (what it last persisted); its outputs
    /// from construction go to `outs`.
    fn node(durable: Option<Durable>, outs: &mut Vec<OutputFor<Bracha>>) -> Bracha {
        let members: Vec<NodeId> = (1..=4).map(NodeId).collect();
        let config = BrachaConfig::new(4, 1, SEED).expect("valid");
        let mut b = Bracha::new(Init::restart(NodeId(2), members, config, durable, 5, now()));
        drain(&mut b, |o| outs.push(o));
        b
    }

    fn feed(b: &mut Bracha, from: u32, msg: BrachaMsg, outs: &mut Vec<OutputFor<Bracha>>) {
        step(b, now(), Input::Message { from: NodeId(from), msg }, |o| outs.push(o));
    }

    /// Node 1's signed initial for `value`: an equivocating node 1 signs two.
    fn initial(value: &[u8]) -> Vote {
        Vote::sign(&test_key(SEED, NodeId(1)), 1, 0, NodeId(1), value.to_vec())
    }

    #[test]
    fn made_up_instances_create_no_state() {
        // Found by review: an ECHO whose initial names a non-member voter (and instance)
        // created an instance entry before any check; a million of them held a million.
        let mut outs = Vec::new();
        let mut b = node(None, &mut outs);
        let before = b.verifications();
        for voter in 5..2_005u32 {
            let mut forged = initial(b"A");
            forged.voter = NodeId(voter);
            forged.instance = u64::from(voter);
            feed(&mut b, 1, BrachaMsg::Echo { initial: forged.clone() }, &mut outs);
            feed(&mut b, 3, BrachaMsg::Initial { initial: forged }, &mut outs);
        }
        assert!(b.instances.len() <= 4, "{} instances", b.instances.len());
        assert_eq!(b.verifications(), before, "non-members are refused before any signature check");
    }

    #[test]
    fn a_resent_invalid_vote_costs_one_signature_check() {
        let mut outs = Vec::new();
        let mut b = node(None, &mut outs);
        let mut forged = initial(b"A");
        forged.signature[0] ^= 1;
        let before = b.verifications();
        for from in [1, 3, 4, 1, 3, 4, 1, 3, 4, 1] {
            feed(&mut b, from, BrachaMsg::Echo { initial: forged.clone() }, &mut outs);
        }
        assert_eq!(
            b.verifications() - before,
            1,
            "the same bad vote is checked once, then refused from memory"
        );
        // A valid vote for the same instance still counts.
        feed(&mut b, 3, BrachaMsg::Echo { initial: initial(b"A") }, &mut outs);
        assert_eq!(b.verifications() - before, 2);
        assert_eq!(b.counts(1, b"A").0, 1);
    }

    /// The last state persisted in `outs`, as the runtime would restore it after a crash.
    fn persisted(outs: &[OutputFor<Bracha>]) -> Option<Durable> {
        outs.iter().rev().find_map(|o| match o {
            Output::Persist(d) => Some(d.clone()),
            _ => None,
        })
    }

    /// What node 2 said about instance 1 in `outs`: ("echo" | "ready", value).
    fn said(outs: &[OutputFor<Bracha>]) -> Vec<(&'static str, String)> {
        let mut v: Vec<_> = outs
            .iter()
            .filter_map(|o| match o {
                Output::Send { msg: BrachaMsg::Echo { initial }, .. } if initial.instance == 1 => {
                    Some(("echo", String::from_utf8_lossy(&initial.value).into_owned()))
                }
                Output::Send { msg: BrachaMsg::Ready { instance: 1, value }, .. } => {
                    Some(("ready", String::from_utf8_lossy(value).into_owned()))
                }
                _ => None,
            })
            .collect();
        v.dedup();
        v
    }

    #[test]
    fn a_restarted_node_never_echoes_or_readies_another_value() {
        let (a, b) = (b"value A".as_slice(), b"value B".as_slice());
        let mut outs = Vec::new();
        let mut n = node(None, &mut outs);
        feed(&mut n, 1, BrachaMsg::Initial { initial: initial(a) }, &mut outs);
        for from in [3, 4] {
            feed(&mut n, from, BrachaMsg::Echo { initial: initial(a) }, &mut outs);
        }
        feed(&mut n, 2, BrachaMsg::Echo { initial: initial(a) }, &mut outs); // its own
        assert_eq!(said(&outs), vec![("echo", "value A".to_string()), ("ready", "value A".to_string())]);
        // It crashes and restarts from what it persisted; the equivocating sender now tells it
        // B, and B's READYs (enough to amplify) come in.
        let mut after = Vec::new();
        let mut n = node(persisted(&outs), &mut after);
        feed(&mut n, 1, BrachaMsg::Initial { initial: initial(b) }, &mut after);
        for from in [1, 3] {
            feed(&mut n, from, BrachaMsg::Ready { instance: 1, value: b.to_vec() }, &mut after);
        }
        step(&mut n, now(), Input::Timeout, |o| after.push(o)); // not yet time to resend
        let resend_at = Now::new(n.poll_timeout().expect("a resend timer"), WallTime::UNIX_EPOCH);
        step(&mut n, resend_at, Input::Timeout, |o| after.push(o));
        assert_eq!(said(&after), vec![("echo", "value A".to_string()), ("ready", "value A".to_string())]);
    }

    #[test]
    fn a_restarted_node_never_delivers_an_instance_twice() {
        let a = b"value A".as_slice();
        let mut outs = Vec::new();
        let mut n = node(None, &mut outs);
        for from in [1, 3, 4] {
            feed(&mut n, from, BrachaMsg::Ready { instance: 1, value: a.to_vec() }, &mut outs);
        }
        assert!(outs.contains(&Output::Event(BrachaEvent::Delivered { instance: 1, value: a.to_vec() })));
        let mut after = Vec::new();
        let mut n = node(persisted(&outs), &mut after);
        for from in [1, 3, 4] {
            feed(&mut n, from, BrachaMsg::Ready { instance: 1, value: a.to_vec() }, &mut after);
        }
        assert_eq!(n.delivered(1), Some(a));
        let delivered =
            after.iter().filter(|o| matches!(o, Output::Event(BrachaEvent::Delivered { .. }))).count();
        assert_eq!(delivered, 0, "delivered again after a restart: {after:?}");
    }

    #[test]
    fn a_ready_for_an_instance_that_is_no_member_is_rejected() {
        let mut outs = Vec::new();
        let mut n = node(None, &mut outs);
        // 2^32 + 1 truncates to member 1's id.
        for instance in [(1u64 << 32) + 1, 99] {
            feed(&mut n, 3, BrachaMsg::Ready { instance, value: b"x".to_vec() }, &mut outs);
            assert!(!n.instances.contains_key(&instance));
        }
        assert_eq!(n.rejected(), 2);
    }

    #[test]
    fn echo_ready_and_delivery_are_persisted_before_they_are_acted_on() {
        let a = b"value A".as_slice();
        let mut outs = Vec::new();
        let mut n = node(None, &mut outs);
        feed(&mut n, 1, BrachaMsg::Initial { initial: initial(a) }, &mut outs);
        for from in [2, 3, 4] {
            feed(&mut n, from, BrachaMsg::Echo { initial: initial(a) }, &mut outs);
        }
        for from in [1, 2, 3] {
            feed(&mut n, from, BrachaMsg::Ready { instance: 1, value: a.to_vec() }, &mut outs);
        }
        // Every echo, ready or delivery is preceded by a persist that already records it.
        for (i, o) in outs.iter().enumerate() {
            let acted = match o {
                Output::Send { msg: BrachaMsg::Echo { initial }, .. } if initial.instance == 1 => "echo",
                Output::Send { msg: BrachaMsg::Ready { instance: 1, .. }, .. } => "ready",
                Output::Event(BrachaEvent::Delivered { instance: 1, .. }) => "delivery",
                _ => continue,
            };
            let restored = persisted(&outs[..i]);
            let mut replay = Vec::new();
            let n = node(restored, &mut replay);
            let knows = match acted {
                "echo" => n.instances.get(&1).is_some_and(|i| i.echoed.is_some()),
                "ready" => n.instances.get(&1).is_some_and(|i| i.readied.is_some()),
                _ => n.delivered(1).is_some(),
            };
            assert!(knows, "output {i} ({acted}) acted on before it was persisted: {outs:?}");
        }
    }
}
