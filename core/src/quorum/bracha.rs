//! Bracha's reliable broadcast (Bracha, Information and Computation 1987), with signed
//! initial messages so that an equivocating sender leaves evidence.
//!
//! The application broadcasts with [`BrachaCommand::Broadcast`]; every correct node then
//! reports [`BrachaEvent::Delivered`]. Each broadcast is an instance named by its sender and
//! the sender's sequence number (1, 2, ...), at most [`BrachaConfig::max_broadcasts`] per
//! member over the cluster's life: instances are never forgotten, which is what keeps
//! totality for a node that was away for any length of time, and what bounds the state a
//! peer can make a node hold (n × `max_broadcasts` instances).
//!
//! Model: asynchronous network with eventual delivery (messages are re-sent until the peer
//! says it delivered, so loss and partitions only delay); n ≥ 3f + 1 with at most f
//! Byzantine nodes, the sender possibly among them; links authenticate the sender. Correct
//! nodes may crash and recover: the protocol is safe under crash-recovery with stable
//! storage, because what a node signed, echoed, readied and delivered per instance
//! ([`BrachaDurable`]) is persisted before it is sent or acted on, and a restarted node only
//! ever repeats it.
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
use super::vote::{Keyring, Signer, Vote, VoteKeys};
use crate::node::NodeId;
use crate::protocol::{Init, Outbox, OutputFor, Protocol, RequestId};
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

/// An instance: its sender and the sender's sequence number (from 1).
pub type InstanceId = (NodeId, u64);

/// Parameters of [`Bracha`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BrachaConfig {
    /// The dissemination quorum system (n ≥ 3f + 1).
    pub system: QuorumSystem,
    /// The keys INITIALs are signed and checked with.
    pub keys: VoteKeys,
    /// Re-send this node's protocol messages this often, to every peer that has not said it
    /// delivered (reliable links over a lossy network).
    pub resend_every: Duration,
    /// Broadcasts each member may make over the cluster's life.
    pub max_broadcasts: u64,
}

impl BrachaConfig {
    crate::__config_setters! {
        system: QuorumSystem,
        keys: VoteKeys,
        resend_every: Duration,
        max_broadcasts: u64,
    }
}

/// Broadcasts per member by default: every instance is kept (and persisted whole), so this
/// bounds a node's state at n × 64 instances.
pub const MAX_BROADCASTS: u64 = 64;

impl BrachaConfig {
    /// n nodes tolerating f Byzantine, signing with this node's `key` and checking with the
    /// members' `keyring` (as `palisade keygen` writes them).
    pub fn new(
        n: usize,
        f: usize,
        keyring: Keyring,
        key: ed25519_dalek::SigningKey,
    ) -> Result<Self, super::QuorumError> {
        Self::with_keys(n, f, VoteKeys::Real { keyring, key: Box::new(key) })
    }

    /// n nodes tolerating f Byzantine with `keys`; [`VoteKeys::Ideal`] or [`VoteKeys::Test`]
    /// for simulations.
    pub fn with_keys(n: usize, f: usize, keys: VoteKeys) -> Result<Self, super::QuorumError> {
        Ok(BrachaConfig {
            system: QuorumSystem::new(QuorumKind::Dissemination, n, f)?,
            keys,
            resend_every: Duration::from_millis(500),
            max_broadcasts: MAX_BROADCASTS,
        })
    }
}

/// What an application asks of Bracha broadcast.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrachaCommand {
    /// Broadcast `value` (at most [`super::MAX_VOTE_VALUE`] bytes) to every member.
    Broadcast {
        /// The value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
}

/// The answer to a [`BrachaCommand`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BrachaReply {
    /// Signed, persisted and sent as this node's instance `instance`; its delivery is a
    /// [`BrachaEvent::Delivered`].
    Sent {
        /// The sequence number of this broadcast.
        instance: u64,
    },
    /// Refused: the value is longer than [`super::MAX_VOTE_VALUE`].
    TooLarge,
    /// Refused: this node has made [`BrachaConfig::max_broadcasts`] broadcasts.
    Exhausted,
}

/// Bracha messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrachaMsg {
    /// The sender's signed value (voter = sender, instance = its sequence number, round 0).
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
        /// The instance's sender.
        sender: NodeId,
        /// The sender's sequence number.
        instance: u64,
        /// The value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// "I delivered this instance: stop re-sending it to me."
    Delivered {
        /// The instance's sender.
        sender: NodeId,
        /// The sender's sequence number.
        instance: u64,
    },
}

impl BrachaMsg {
    /// The instance the message is about.
    pub fn instance(&self) -> InstanceId {
        match self {
            BrachaMsg::Initial { initial } | BrachaMsg::Echo { initial } => (initial.voter, initial.instance),
            BrachaMsg::Ready { sender, instance, .. } | BrachaMsg::Delivered { sender, instance } => {
                (*sender, *instance)
            }
        }
    }
}

/// What this node committed to in one instance: never anything else, across restarts.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitments {
    /// The sender's signed initial this node echoed (for its own instances: signed).
    pub echoed: Option<Vote>,
    /// The value this node sent READY for.
    pub readied: Option<Vec<u8>>,
    /// The value this node delivered.
    pub delivered: Option<Vec<u8>>,
}

/// The durable state of [`Bracha`]: its commitments per instance, persisted before each
/// INITIAL, ECHO, READY or delivery is acted on. Bounded: at most n × `max_broadcasts`
/// instances, each holding one signed initial and two values of at most
/// [`super::MAX_VOTE_VALUE`] bytes.
#[derive(Clone, Debug, Hash, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrachaDurable {
    /// Commitments by instance; instances with none are left out.
    pub instances: BTreeMap<InstanceId, Commitments>,
}

/// Bracha events.
#[derive(Clone, Debug, Hash, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BrachaEvent {
    /// Delivered `value` for `sender`'s broadcast number `instance`.
    Delivered {
        /// The sender.
        sender: NodeId,
        /// The sender's sequence number.
        instance: u64,
        /// The value.
        value: Vec<u8>,
    },
    /// `sender` signed two values for its broadcast number `instance`: proof attached.
    Equivocation {
        /// The sender.
        sender: NodeId,
        /// The sender's sequence number.
        instance: u64,
        /// Two conflicting signed initials.
        evidence: EquivocationEvidence,
    },
}

#[derive(Clone, Debug, Hash, Default)]
struct Instance {
    /// Verified initials, by value (at most two kept: enough to prove equivocation).
    initials: BTreeMap<Vec<u8>, Vote>,
    echoed: Option<Vote>,
    readied: Option<Vec<u8>>,
    delivered: Option<Vec<u8>>,
    echoes: BTreeMap<NodeId, Vec<u8>>,
    readies: BTreeMap<NodeId, Vec<u8>>,
    /// Peers that said they delivered: nothing more is re-sent to them.
    done: BTreeSet<NodeId>,
    evidence_sent: bool,
}

/// A Bracha broadcast participant (and sender of its own instances).
#[derive(Clone)]
pub struct Bracha {
    id: NodeId,
    peers: Vec<NodeId>,
    config: BrachaConfig,
    keyring: Keyring,
    /// What this node signs with, derived from the configuration once.
    signer: Signer,
    instances: BTreeMap<InstanceId, Instance>,
    /// This node's next broadcast's sequence number.
    next_seq: u64,
    next_resend: Instant,
    rejected: u64,
    /// Signed initials that failed verification, so a peer resending one costs a lookup,
    /// not another signature check. Bounded: cleared when full.
    bad_initials: BTreeSet<(NodeId, u64, Vec<u8>, Vec<u8>)>,
    verifications: u64,
    outbox: Outbox<BrachaMsg, BrachaEvent, BrachaDurable, BrachaReply>,
}

/// Invalid signed initials remembered per node before the set starts over.
pub const BAD_INITIALS_CACHE: usize = 1024;

/// The state, for the explorer's fingerprints: the configuration, the keyring and the
/// signer are left out, being the same in every state of one model.
impl std::hash::Hash for Bracha {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Bracha {
            id,
            peers,
            config: _,
            keyring: _,
            signer: _,
            instances,
            next_seq,
            next_resend,
            rejected,
            bad_initials,
            verifications,
            outbox,
        } = self;
        (id, peers, instances, next_seq, next_resend, rejected, bad_initials, verifications, outbox).hash(h);
    }
}

impl std::fmt::Debug for Bracha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bracha").field("id", &self.id).field("instances", &self.instances.len()).finish()
    }
}

impl Bracha {
    /// What this node delivered for `sender`'s broadcast number `instance`.
    pub fn delivered(&self, sender: NodeId, instance: u64) -> Option<&[u8]> {
        self.instances.get(&(sender, instance))?.delivered.as_deref()
    }

    /// Instances this node holds state for (at most n × `max_broadcasts`).
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// Signature verifications performed (each costs an ed25519 check).
    pub fn verifications(&self) -> u64 {
        self.verifications
    }

    /// Messages dropped as invalid (bad signatures, wrong senders, unknown instances).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Distinct senders counted for `value` as echoes and readies in an instance.
    pub fn counts(&self, instance: InstanceId, value: &[u8]) -> (usize, usize) {
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
            .map(|(&key, i)| {
                let c = Commitments {
                    echoed: i.echoed.clone(),
                    readied: i.readied.clone(),
                    delivered: i.delivered.clone(),
                };
                (key, c)
            })
            .collect();
        self.outbox.persist(BrachaDurable { instances });
    }

    /// Takes back the commitments persisted before a crash. Instances that cannot exist,
    /// and echoes whose initial does not belong to their instance, are ignored.
    fn restore(&mut self, durable: BrachaDurable) {
        for (key, c) in durable.instances {
            if !self.is_instance(key) {
                continue;
            }
            let inst = self.instances.entry(key).or_default();
            if let Some(initial) = c.echoed.filter(|v| (v.voter, v.instance) == key) {
                // Its own ECHO and READY count again: it sent them to itself before the
                // crash, and its peers do not send them back. (Found by review: a node that
                // crashed after READY stayed one READY short of delivering, forever.)
                inst.echoes.insert(self.id, initial.value.clone());
                inst.initials.insert(initial.value.clone(), initial.clone());
                inst.echoed = Some(initial);
            }
            if let Some(value) = &c.readied {
                inst.readies.insert(self.id, value.clone());
            }
            inst.readied = c.readied;
            inst.delivered = c.delivered;
            if key.0 == self.id && inst.echoed.is_some() {
                self.next_seq = self.next_seq.max(key.1.saturating_add(1));
            }
        }
    }

    /// Signs `value` as this node's next instance, persists it (a restarted node must never
    /// sign another value under the same number), and sends INITIAL and ECHO.
    fn broadcast_value(&mut self, value: Vec<u8>) -> BrachaReply {
        if value.len() > super::MAX_VOTE_VALUE {
            return BrachaReply::TooLarge;
        }
        let seq = self.next_seq;
        if seq > self.config.max_broadcasts {
            return BrachaReply::Exhausted;
        }
        self.next_seq = seq.saturating_add(1);
        let initial = Vote::sign_as(&self.signer, seq, 0, self.id, value);
        let inst = self.instances.entry((self.id, seq)).or_default();
        inst.initials.insert(initial.value.clone(), initial.clone());
        inst.echoed = Some(initial.clone());
        self.persist();
        self.broadcast(BrachaMsg::Initial { initial: initial.clone() });
        self.broadcast(BrachaMsg::Echo { initial });
        BrachaReply::Sent { instance: seq }
    }

    /// True when `key` can name an instance: a member's, numbered 1..=`max_broadcasts`.
    fn is_instance(&self, (sender, seq): InstanceId) -> bool {
        (1..=self.config.max_broadcasts).contains(&seq) && self.keyring.contains(sender)
    }

    fn broadcast(&mut self, msg: BrachaMsg) {
        for &p in &self.peers {
            self.outbox.send(p, msg.clone());
        }
        self.outbox.send(self.id, msg);
    }

    /// Checks a signed initial (once per distinct vote) and records it.
    fn accept_initial(&mut self, initial: &Vote) -> bool {
        let key = (initial.voter, initial.instance);
        // Only members' instances exist: checked before any state is created, so a peer
        // cannot make this node hold an entry per made-up voter id or number.
        if initial.round != 0 || initial.value.len() > super::MAX_VOTE_VALUE || !self.is_instance(key) {
            return false;
        }
        if let Some(known) = self.instances.get(&key).and_then(|i| i.initials.get(&initial.value))
            && known.signature == initial.signature
        {
            return true;
        }
        if !self.verify_initial(initial) {
            return false;
        }
        let inst = self.instances.entry(key).or_default();
        if inst.initials.contains_key(&initial.value) {
            return true;
        }
        if inst.initials.len() < 2 {
            inst.initials.insert(initial.value.clone(), initial.clone());
        }
        if inst.initials.len() == 2 && !inst.evidence_sent {
            inst.evidence_sent = true;
            let mut two = inst.initials.values().cloned();
            if let (Some(first), Some(second)) = (two.next(), two.next()) {
                self.outbox.event(BrachaEvent::Equivocation {
                    sender: key.0,
                    instance: key.1,
                    evidence: EquivocationEvidence { first, second },
                });
            }
        }
        true
    }

    /// Verifies a signed initial, remembering failures: an invalid vote a peer resends is
    /// refused without a second signature check.
    fn verify_initial(&mut self, initial: &Vote) -> bool {
        let key = (initial.voter, initial.instance, initial.value.clone(), initial.signature.clone());
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

    fn maybe_ready(&mut self, key: InstanceId) {
        let (n, f) = (self.config.system.n(), self.config.system.f());
        let echo_threshold = (n + f + 1).div_ceil(2);
        let Some(inst) = self.instances.get_mut(&key) else { return };
        // Tallied by reference; only a value that crosses a threshold is copied.
        let (ready, deliver) = {
            fn tally(m: &BTreeMap<NodeId, Vec<u8>>) -> BTreeMap<&[u8], usize> {
                let mut t: BTreeMap<&[u8], usize> = BTreeMap::new();
                for v in m.values() {
                    *t.entry(v.as_slice()).or_default() += 1;
                }
                t
            }
            let (echoes, readies) = (tally(&inst.echoes), tally(&inst.readies));
            let over = |t: &BTreeMap<&[u8], usize>, need: usize| {
                t.iter().find(|(_, c)| **c >= need).map(|(v, _)| v.to_vec())
            };
            let ready = if inst.readied.is_none() {
                over(&echoes, echo_threshold).or_else(|| over(&readies, f + 1))
            } else {
                None
            };
            let deliver = if inst.delivered.is_none() { over(&readies, 2 * f + 1) } else { None };
            (ready, deliver)
        };
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
        let (sender, instance) = key;
        if let Some(value) = ready {
            self.broadcast(BrachaMsg::Ready { sender, instance, value });
        }
        if let Some(value) = deliver {
            self.outbox.event(BrachaEvent::Delivered { sender, instance, value });
            self.broadcast(BrachaMsg::Delivered { sender, instance });
        }
    }

    /// What this node has to say in an instance: its INITIAL (its own instances), ECHO,
    /// READY, and that it delivered.
    fn said(&self, key: InstanceId, inst: &Instance) -> Vec<BrachaMsg> {
        let (sender, instance) = key;
        let mut msgs = Vec::new();
        if let Some(e) = &inst.echoed {
            if sender == self.id {
                msgs.push(BrachaMsg::Initial { initial: e.clone() });
            }
            msgs.push(BrachaMsg::Echo { initial: e.clone() });
        }
        if let Some(v) = &inst.readied {
            msgs.push(BrachaMsg::Ready { sender, instance, value: v.clone() });
        }
        if inst.delivered.is_some() {
            msgs.push(BrachaMsg::Delivered { sender, instance });
        }
        msgs
    }

    /// Re-sends what this node said in every instance to each peer that has not said it
    /// delivered that instance.
    fn resend(&mut self) {
        let mut out = Vec::new();
        for (&key, inst) in &self.instances {
            let to: Vec<NodeId> = self.peers.iter().copied().filter(|p| !inst.done.contains(p)).collect();
            if to.is_empty() {
                continue;
            }
            for msg in self.said(key, inst) {
                out.extend(to.iter().map(|&p| (p, msg.clone())));
            }
        }
        for (to, msg) in out {
            self.outbox.send(to, msg);
        }
    }
}

impl Protocol for Bracha {
    type Message = BrachaMsg;
    type Command = BrachaCommand;
    type Reply = BrachaReply;
    type Event = BrachaEvent;
    type Config = BrachaConfig;
    type Durable = BrachaDurable;

    fn new(init: Init<Self>) -> Self {
        let keyring = init.config.keys.keyring(init.members.iter().copied());
        let signer = init.config.keys.signer(init.id);
        let mut b = Bracha {
            id: init.id,
            peers: init.peers().collect(),
            keyring,
            signer,
            instances: BTreeMap::new(),
            next_seq: 1,
            bad_initials: BTreeSet::new(),
            verifications: 0,
            next_resend: init.now.mono + init.config.resend_every,
            rejected: 0,
            outbox: Outbox::new(),
            config: init.config,
        };
        if let Some(durable) = init.restored {
            b.restore(durable);
        }
        b
    }

    fn handle_message(&mut self, _now: Now, from: NodeId, msg: BrachaMsg) {
        let key = msg.instance();
        if !self.is_instance(key) {
            self.rejected += 1;
            return;
        }
        // A peer still talking about an instance this node delivered has not heard so, even
        // if it once said it delivered too: it may have restarted since, and re-sends until
        // told. One answer per message, so no amplification.
        if from != self.id
            && !matches!(msg, BrachaMsg::Delivered { .. })
            && self.instances.get(&key).is_some_and(|i| i.delivered.is_some())
        {
            self.outbox.send(from, BrachaMsg::Delivered { sender: key.0, instance: key.1 });
        }
        match msg {
            BrachaMsg::Initial { initial } => {
                // Only the sender itself may send its INITIAL.
                if from != initial.voter || !self.accept_initial(&initial) {
                    self.rejected += 1;
                    crate::log::debug!(node = %self.id, %from, "invalid INITIAL dropped");
                    return;
                }
                let inst = self.instances.entry(key).or_default();
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
                    crate::log::debug!(node = %self.id, %from, "ECHO with an invalid INITIAL dropped");
                    return;
                }
                let inst = self.instances.entry(key).or_default();
                inst.echoes.entry(from).or_insert(initial.value);
                self.maybe_ready(key);
            }
            BrachaMsg::Ready { value, .. } => {
                if value.len() > super::MAX_VOTE_VALUE {
                    self.rejected += 1;
                    return;
                }
                let inst = self.instances.entry(key).or_default();
                inst.readies.entry(from).or_insert(value);
                self.maybe_ready(key);
            }
            BrachaMsg::Delivered { .. } => {
                // Only known instances: a peer cannot make this node hold one by claiming it.
                if let Some(inst) = self.instances.get_mut(&key) {
                    inst.done.insert(from);
                }
            }
        }
    }

    fn handle_command(&mut self, _now: Now, req: RequestId, cmd: BrachaCommand) {
        let BrachaCommand::Broadcast { value } = cmd;
        let reply = self.broadcast_value(value);
        self.outbox.reply(req, reply);
    }

    fn handle_timeout(&mut self, now: Now) {
        if now.mono >= self.next_resend {
            self.resend();
            self.next_resend = now.mono + self.config.resend_every;
        }
    }

    fn poll_output(&mut self) -> Option<OutputFor<Self>> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_resend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Input, Output, drain, step};
    use crate::quorum::{MAX_VOTE_VALUE, test_key};
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
        let config = BrachaConfig::with_keys(4, 1, VoteKeys::Test(SEED)).expect("valid");
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
        assert_eq!(b.counts((NodeId(1), 1), b"A").0, 1);
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
                Output::Send { msg: BrachaMsg::Ready { sender: NodeId(1), instance: 1, value }, .. } => {
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
            feed(
                &mut n,
                from,
                BrachaMsg::Ready { sender: NodeId(1), instance: 1, value: b.to_vec() },
                &mut after,
            );
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
            feed(
                &mut n,
                from,
                BrachaMsg::Ready { sender: NodeId(1), instance: 1, value: a.to_vec() },
                &mut outs,
            );
        }
        assert!(outs.contains(&Output::Event(BrachaEvent::Delivered {
            sender: NodeId(1),
            instance: 1,
            value: a.to_vec()
        })));
        let mut after = Vec::new();
        let mut n = node(persisted(&outs), &mut after);
        for from in [1, 3, 4] {
            feed(
                &mut n,
                from,
                BrachaMsg::Ready { sender: NodeId(1), instance: 1, value: a.to_vec() },
                &mut after,
            );
        }
        assert_eq!(n.delivered(NodeId(1), 1), Some(a));
        let delivered =
            after.iter().filter(|o| matches!(o, Output::Event(BrachaEvent::Delivered { .. }))).count();
        assert_eq!(delivered, 0, "delivered again after a restart: {after:?}");
    }

    #[test]
    fn a_ready_for_an_instance_that_cannot_exist_is_rejected() {
        let mut outs = Vec::new();
        let mut n = node(None, &mut outs);
        // Numbers beyond `max_broadcasts` (2^32 + 1 once truncated to member 1's id), 0, and
        // a sender that is no member.
        for (sender, instance) in [(1, (1u64 << 32) + 1), (1, MAX_BROADCASTS + 1), (1, 0), (9, 1)] {
            let sender = NodeId(sender);
            feed(&mut n, 3, BrachaMsg::Ready { sender, instance, value: b"x".to_vec() }, &mut outs);
            assert!(!n.instances.contains_key(&(sender, instance)));
        }
        assert_eq!(n.rejected(), 4);
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
            feed(
                &mut n,
                from,
                BrachaMsg::Ready { sender: NodeId(1), instance: 1, value: a.to_vec() },
                &mut outs,
            );
        }
        // Every echo, ready or delivery is preceded by a persist that already records it.
        for (i, o) in outs.iter().enumerate() {
            let acted = match o {
                Output::Send { msg: BrachaMsg::Echo { initial }, .. } if initial.instance == 1 => "echo",
                Output::Send { msg: BrachaMsg::Ready { sender: NodeId(1), instance: 1, .. }, .. } => "ready",
                Output::Event(BrachaEvent::Delivered { sender: NodeId(1), instance: 1, .. }) => "delivery",
                _ => continue,
            };
            let restored = persisted(&outs[..i]);
            let mut replay = Vec::new();
            let n = node(restored, &mut replay);
            let knows = match acted {
                "echo" => n.instances.get(&(NodeId(1), 1)).is_some_and(|i| i.echoed.is_some()),
                "ready" => n.instances.get(&(NodeId(1), 1)).is_some_and(|i| i.readied.is_some()),
                _ => n.delivered(NodeId(1), 1).is_some(),
            };
            assert!(knows, "output {i} ({acted}) acted on before it was persisted: {outs:?}");
        }
    }

    /// Four nodes stepped by hand, every message delivered at once (node `i` at index
    /// `i - 1`); returns the replies to commands and the deliveries.
    fn cluster(max_broadcasts: u64) -> Vec<Bracha> {
        let members: Vec<NodeId> = (1..=4).map(NodeId).collect();
        let config = BrachaConfig {
            max_broadcasts,
            ..BrachaConfig::with_keys(4, 1, VoteKeys::Test(SEED)).expect("valid")
        };
        members
            .iter()
            .map(|&id| Bracha::new(Init::fresh(id, members.clone(), config.clone(), 1, now())))
            .collect()
    }

    /// Steps `input` at `node`, then delivers every message that causes, in order, that
    /// `pass(from, to)` lets through (node `i` is `nodes[i - 1]`; a node past the end is
    /// absent). `seen` is shown every output first.
    fn settle_with(
        nodes: &mut [Bracha],
        now: Now,
        node: NodeId,
        input: Input<Bracha>,
        pass: &dyn Fn(NodeId, NodeId) -> bool,
        seen: &mut dyn FnMut(NodeId, &OutputFor<Bracha>),
    ) {
        let mut queue = std::collections::VecDeque::new();
        step(&mut nodes[node.0 as usize - 1], now, input, |o| queue.push_back((node, o)));
        while let Some((at, out)) = queue.pop_front() {
            seen(at, &out);
            if let Output::Send { to, msg } = out
                && pass(at, to)
                && (to.0 as usize) <= nodes.len()
            {
                let input = Input::Message { from: at, msg };
                step(&mut nodes[to.0 as usize - 1], now, input, |o| queue.push_back((to, o)));
            }
        }
    }

    /// [`settle_with`] with every message delivered; returns the replies and events.
    fn settle(
        nodes: &mut [Bracha],
        node: NodeId,
        input: Input<Bracha>,
    ) -> (Vec<BrachaReply>, Vec<(NodeId, BrachaEvent)>) {
        let (mut replies, mut events) = (Vec::new(), Vec::new());
        settle_with(nodes, now(), node, input, &|_, _| true, &mut |at, o| match o {
            Output::Reply { reply, .. } => replies.push(reply.clone()),
            Output::Event(e) => events.push((at, e.clone())),
            _ => {}
        });
        (replies, events)
    }

    /// Every node's timer at `at`, and what follows.
    fn tick(nodes: &mut [Bracha], at: Now, seen: &mut dyn FnMut(NodeId, &OutputFor<Bracha>)) {
        for id in (1..=nodes.len() as u32).map(NodeId) {
            settle_with(nodes, at, id, Input::Timeout, &|_, _| true, seen);
        }
    }

    fn broadcast(value: &str) -> Input<Bracha> {
        Input::Command {
            req: RequestId(0),
            cmd: BrachaCommand::Broadcast { value: value.as_bytes().to_vec() },
        }
    }

    #[test]
    fn every_node_delivers_every_broadcast_once_and_resends_stop() {
        let mut nodes = cluster(2);
        let mut delivered = Vec::new();
        for (v, expect) in
            [("one", BrachaReply::Sent { instance: 1 }), ("two", BrachaReply::Sent { instance: 2 })]
        {
            let (replies, events) = settle(&mut nodes, NodeId(2), broadcast(v));
            assert_eq!(replies, vec![expect]);
            delivered.extend(events);
        }
        let (replies, _) = settle(&mut nodes, NodeId(2), broadcast("three"));
        assert_eq!(replies, vec![BrachaReply::Exhausted]);
        let (replies, _) = settle(&mut nodes, NodeId(3), broadcast(&"x".repeat(MAX_VOTE_VALUE + 1)));
        assert_eq!(replies, vec![BrachaReply::TooLarge]);
        for n in 1..=4 {
            for (instance, v) in [(1, "one"), (2, "two")] {
                let want =
                    BrachaEvent::Delivered { sender: NodeId(2), instance, value: v.as_bytes().to_vec() };
                let times = delivered.iter().filter(|(at, e)| *at == NodeId(n) && *e == want).count();
                assert_eq!(times, 1, "n{n} delivers {v} once");
            }
        }
        // Every peer said it delivered: a resend has nothing left to send.
        let later = Now::new(Instant::ZERO + Duration::from_secs(60), WallTime::UNIX_EPOCH);
        for node in &mut nodes {
            let mut sends = 0;
            step(node, later, Input::Timeout, |o| sends += usize::from(matches!(o, Output::Send { .. })));
            assert_eq!(sends, 0, "{node:?} still resends");
        }
    }

    #[test]
    fn a_restarted_sender_never_signs_another_value_under_a_used_number() {
        let mut outs = Vec::new();
        let mut n = node(None, &mut outs);
        let cmd = |v: &[u8]| Input::Command {
            req: RequestId(0),
            cmd: BrachaCommand::Broadcast { value: v.to_vec() },
        };
        step(&mut n, now(), cmd(b"x"), |o| outs.push(o));
        let first_send = outs.iter().position(|o| matches!(o, Output::Send { .. })).expect("sent");
        assert!(persisted(&outs[..first_send]).is_some(), "persisted before the INITIAL left: {outs:?}");
        let mut after = Vec::new();
        let mut n = node(persisted(&outs), &mut after);
        step(&mut n, now(), cmd(b"y"), |o| after.push(o));
        assert!(
            after.contains(&Output::Reply { req: RequestId(0), reply: BrachaReply::Sent { instance: 2 } })
        );
        // What it re-sends for number 1 is still x.
        let later = Now::new(n.poll_timeout().expect("a resend timer"), WallTime::UNIX_EPOCH);
        step(&mut n, later, Input::Timeout, |o| after.push(o));
        let initials: Vec<_> = after
            .iter()
            .filter_map(|o| match o {
                Output::Send { msg: BrachaMsg::Initial { initial }, .. } if initial.instance == 1 => {
                    Some(initial.value.clone())
                }
                _ => None,
            })
            .collect();
        assert!(!initials.is_empty() && initials.iter().all(|v| v == b"x"), "{initials:?}");
    }

    fn later(s: u64) -> Now {
        Now::new(Instant::ZERO + Duration::from_secs(s), WallTime::UNIX_EPOCH)
    }

    /// Found by review. n = 4, f = 1, node 4 Byzantine and silent. Node 1 broadcasts; node 2
    /// readies, crashes before delivering, restarts. Nodes 1 and 3 deliver and keep
    /// re-sending READY to it: it must count its own READY again and deliver.
    #[test]
    fn a_node_restarted_after_its_ready_still_delivers() {
        let mut nodes = cluster(MAX_BROADCASTS);
        nodes.truncate(3); // node 4 says nothing
        let crashed = std::cell::Cell::new(false);
        let mut durable = None;
        // Node 2 crashes once its READY is durable: nothing reaches it after that.
        settle_with(
            &mut nodes,
            now(),
            NodeId(1),
            broadcast("v"),
            &|_, to| !(to == NodeId(2) && crashed.get()),
            &mut |at, o| {
                if let Output::Persist(d) = o
                    && at == NodeId(2)
                    && !crashed.get()
                {
                    durable = Some(d.clone());
                    crashed.set(d.instances.values().any(|c| c.readied.is_some()));
                }
            },
        );
        assert!(crashed.get());
        assert!(nodes[0].delivered(NodeId(1), 1).is_some() && nodes[2].delivered(NodeId(1), 1).is_some());
        let d = durable.expect("persisted");
        assert!(
            d.instances[&(NodeId(1), 1)].readied.is_some()
                && d.instances[&(NodeId(1), 1)].delivered.is_none()
        );
        nodes[1] = Bracha::new(Init::restart(
            NodeId(2),
            (1..=4).map(NodeId).collect(),
            nodes[1].config.clone(),
            Some(d),
            2,
            now(),
        ));
        for t in 1..20 {
            tick(&mut nodes, later(t), &mut |_, _| {});
        }
        assert!(nodes[1].delivered(NodeId(1), 1).is_some(), "node 2 never delivers: totality broken");
    }

    /// Found by review. Node 2 delivers and tells the others; it restarts and re-sends
    /// everything: the others must tell it again that they delivered, so re-sends stop.
    #[test]
    fn re_sends_stop_after_a_restart() {
        let mut nodes = cluster(MAX_BROADCASTS);
        let mut last = None;
        settle_with(&mut nodes, now(), NodeId(1), broadcast("v"), &|_, _| true, &mut |at, o| match o {
            Output::Persist(d) if at == NodeId(2) => last = Some(d.clone()),
            _ => {}
        });
        nodes[1] = Bracha::new(Init::restart(
            NodeId(2),
            (1..=4).map(NodeId).collect(),
            nodes[1].config.clone(),
            last,
            2,
            now(),
        ));
        let mut sent_late = 0;
        for t in 1..20 {
            tick(&mut nodes, later(t), &mut |_, o| {
                sent_late += usize::from(t > 10 && matches!(o, Output::Send { .. }))
            });
        }
        assert_eq!(sent_late, 0, "re-sends never stop after a restart");
    }
}
