//! Byzantine nodes: adversaries that replace a node's honest behaviour.
//!
//! An adversary wraps the real protocol running on its node: the honest core keeps
//! receiving and deciding what to send, and the adversary decides what actually goes out
//! (nothing, something late, something old, something different per recipient, or bytes
//! that are not a message at all). The transport still authenticates the sender, so an
//! adversary can lie about anything except who it is, as with signed or MAC'd links.
//!
//! Built in: [`Silent`], [`SelectiveDelay`], [`Replay`], [`Equivocate`], [`Garbage`].
//! Write your own by implementing [`Adversary`].

use palisade_core::codec::{Codec, DEFAULT_CODEC};
use palisade_core::{NodeId, Protocol, Rng};
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// What an adversary puts on the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<M> {
    /// Send a well-formed message, `delay` later than the network alone would deliver it.
    Send {
        /// Recipient.
        to: NodeId,
        /// The message.
        msg: M,
        /// Extra delay on top of the link's.
        delay: Duration,
    },
    /// Send raw bytes; the recipient's transport decodes them like any frame and drops them,
    /// counted, if they are not a valid message.
    SendBytes {
        /// Recipient.
        to: NodeId,
        /// The bytes.
        bytes: Vec<u8>,
        /// Extra delay on top of the link's.
        delay: Duration,
    },
}

/// What an adversary may look at when it decides.
pub struct AdversaryCtx<'a> {
    /// The Byzantine node.
    pub me: NodeId,
    /// Every member of the cluster.
    pub members: &'a [NodeId],
    /// Randomness (seeded from the run).
    pub rng: &'a mut Rng,
    /// True time since the start of the run.
    pub now: Duration,
}

/// A Byzantine behaviour for protocol `P`.
pub trait Adversary<P: Protocol> {
    /// A short name for traces and reports.
    fn name(&self) -> &'static str;

    /// The honest core wants to send `msg` to `to`; push what is really sent to `out`.
    fn on_send(
        &mut self,
        ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: P::Message,
        out: &mut Vec<Action<P::Message>>,
    );

    /// The node received `msg` from `from` (before its honest core handles it).
    fn on_receive(&mut self, ctx: &mut AdversaryCtx<'_>, from: NodeId, msg: &P::Message) {
        let _ = (ctx, from, msg);
    }
}

fn honest<M>(to: NodeId, msg: M) -> Action<M> {
    Action::Send { to, msg, delay: Duration::ZERO }
}

/// Sends nothing at all (a node that looks crashed but is not).
#[derive(Clone, Debug, Default)]
pub struct Silent;

impl<P: Protocol> Adversary<P> for Silent {
    fn name(&self) -> &'static str {
        "silent"
    }
    fn on_send(
        &mut self,
        _: &mut AdversaryCtx<'_>,
        _: NodeId,
        _: P::Message,
        _: &mut Vec<Action<P::Message>>,
    ) {
    }
}

/// Delays messages to some recipients only, so each sees a different picture of timing.
#[derive(Clone, Debug)]
pub struct SelectiveDelay {
    /// Recipients whose messages are delayed.
    pub targets: BTreeSet<NodeId>,
    /// Extra delay for them.
    pub delay: Duration,
}

impl<P: Protocol> Adversary<P> for SelectiveDelay {
    fn name(&self) -> &'static str {
        "selective-delay"
    }
    fn on_send(
        &mut self,
        _: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: P::Message,
        out: &mut Vec<Action<P::Message>>,
    ) {
        let delay = if self.targets.contains(&to) { self.delay } else { Duration::ZERO };
        out.push(Action::Send { to, msg, delay });
    }
}

/// Messages the replayer remembers: the most recent ones, bounded so memory stays flat.
pub const REPLAY_MEMORY: usize = 256;

/// Behaves honestly, but with probability `probability` per send also replays an old
/// message (one it sent or received earlier) to a random member.
#[derive(Clone, Debug)]
pub struct Replay<M> {
    /// Chance per honest send of an extra replayed message.
    pub probability: f64,
    seen: VecDeque<M>,
}

impl<M> Replay<M> {
    /// A replayer that replays with the given probability per send.
    pub fn new(probability: f64) -> Self {
        Replay { probability, seen: VecDeque::new() }
    }

    fn remember(&mut self, msg: M) {
        if self.seen.len() == REPLAY_MEMORY {
            self.seen.pop_front();
        }
        self.seen.push_back(msg);
    }
}

impl<P: Protocol> Adversary<P> for Replay<P::Message> {
    fn name(&self) -> &'static str {
        "replay"
    }
    fn on_send(
        &mut self,
        ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: P::Message,
        out: &mut Vec<Action<P::Message>>,
    ) {
        if ctx.rng.chance(self.probability) {
            let old = ctx.rng.below(self.seen.len() as u64) as usize;
            let target = ctx.rng.pick(ctx.members).copied();
            if let (Some(old), Some(target)) = (self.seen.get(old), target) {
                out.push(honest(target, old.clone()));
            }
        }
        self.remember(msg.clone());
        out.push(honest(to, msg));
    }
    fn on_receive(&mut self, _: &mut AdversaryCtx<'_>, _: NodeId, msg: &P::Message) {
        self.remember(msg.clone());
    }
}

/// Tries to turn `msg` into a different well-formed message by changing one byte of its
/// encoding; `None` if no mutation within a few tries decodes to something different.
pub fn mutate<M>(msg: &M, rng: &mut Rng) -> Option<M>
where
    M: serde::Serialize + serde::de::DeserializeOwned,
{
    let bytes = DEFAULT_CODEC.encode(msg).ok()?;
    if bytes.is_empty() {
        return None;
    }
    for _ in 0..16 {
        let mut b = bytes.clone();
        let i = rng.below(b.len() as u64) as usize;
        b[i] = b[i].wrapping_add(1 + rng.below(255) as u8);
        // The codec decodes only a value's own encoding, so anything that decodes from
        // the changed bytes is a different message.
        if let Ok(m) = DEFAULT_CODEC.decode::<M>(&b) {
            return Some(m);
        }
    }
    None
}

/// Makes the message a recipient in the split is told instead (`None`: the honest one).
pub type Forge<M> = Box<dyn FnMut(&M, NodeId, &mut Rng) -> Option<M>>;

/// Equivocation: recipients in `split` get a different (mutated but well-formed) message
/// from the one everybody else gets, or the output of a protocol-aware `forge` function.
pub struct Equivocate<M> {
    /// Recipients that are told something different.
    pub split: BTreeSet<NodeId>,
    forge: Forge<M>,
}

impl<M> Equivocate<M>
where
    M: serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    /// Tells `split` a byte-mutated version of each message (see [`mutate`]).
    pub fn mutating(split: BTreeSet<NodeId>) -> Self {
        Equivocate { split, forge: Box::new(|m, _, rng| mutate(m, rng)) }
    }

    /// Tells `split` whatever `forge` makes of each message (`None`: the honest message).
    pub fn forging(
        split: BTreeSet<NodeId>,
        forge: impl FnMut(&M, NodeId, &mut Rng) -> Option<M> + 'static,
    ) -> Self {
        Equivocate { split, forge: Box::new(forge) }
    }
}

impl<P: Protocol> Adversary<P> for Equivocate<P::Message> {
    fn name(&self) -> &'static str {
        "equivocate"
    }
    fn on_send(
        &mut self,
        ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: P::Message,
        out: &mut Vec<Action<P::Message>>,
    ) {
        let msg = if self.split.contains(&to) { (self.forge)(&msg, to, ctx.rng).unwrap_or(msg) } else { msg };
        out.push(honest(to, msg));
    }
}

/// Longest garbage frame sent, in bytes.
pub const GARBAGE_MAX_LEN: u64 = 64;

/// With probability `probability` per send, sends random bytes instead of the message.
#[derive(Clone, Debug)]
pub struct Garbage {
    /// Chance per send of garbage instead of the honest message.
    pub probability: f64,
}

impl<P: Protocol> Adversary<P> for Garbage {
    fn name(&self) -> &'static str {
        "garbage"
    }
    fn on_send(
        &mut self,
        ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: P::Message,
        out: &mut Vec<Action<P::Message>>,
    ) {
        if ctx.rng.chance(self.probability) {
            let len = ctx.rng.below(GARBAGE_MAX_LEN + 1) as usize;
            let bytes = (0..len).map(|_| ctx.rng.next_u64() as u8).collect();
            out.push(Action::SendBytes { to, bytes, delay: Duration::ZERO });
        } else {
            out.push(honest(to, msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Latency, LinkConfig, Network, SimConfig, Simulation};
    use palisade_core::protocol::{Init, Outbox, OutputFor};
    use palisade_core::{Instant, Now};
    use serde::{Deserialize, Serialize};

    /// Every 100 ms each node tells everyone (round, its value); receivers report what they heard.
    struct Announce {
        id: NodeId,
        peers: Vec<NodeId>,
        round: u64,
        next: Instant,
        outbox: Outbox<Said, Heard, ()>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Said {
        round: u64,
        value: u64,
    }

    #[derive(Clone, Debug, PartialEq, Serialize)]
    struct Heard {
        from: NodeId,
        round: u64,
        value: u64,
    }

    impl Protocol for Announce {
        type Message = Said;
        type Command = std::convert::Infallible;
        type Reply = palisade_core::NoReply;
        type Event = Heard;
        type Config = ();
        type Durable = ();
        fn new(init: Init<Self>) -> Self {
            Announce {
                id: init.id,
                peers: init.peers().collect(),
                round: 0,
                next: init.now.mono,
                outbox: Outbox::new(),
            }
        }
        fn handle_message(&mut self, _: Now, from: NodeId, m: Said) {
            self.outbox.event(Heard { from, round: m.round, value: m.value });
        }
        fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
            match c {}
        }
        fn handle_timeout(&mut self, now: Now) {
            if now.mono >= self.next {
                for &p in &self.peers {
                    self.outbox
                        .send(p, Said { round: self.round, value: u64::from(self.id.0) * 1000 + self.round });
                }
                self.round += 1;
                self.next = now.mono + Duration::from_millis(100);
            }
        }
        fn poll_output(&mut self) -> Option<OutputFor<Self>> {
            self.outbox.pop()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(self.next)
        }
    }

    fn sim(seed: u64) -> Simulation<Announce> {
        let mut cfg = SimConfig::new(seed, 3);
        cfg.network = Network::uniform(LinkConfig::with_latency(Latency::Constant(Duration::from_millis(5))));
        Simulation::new(cfg, ())
    }

    fn heard_from(s: &Simulation<Announce>, listener: u32, speaker: u32) -> Vec<(u64, u64)> {
        s.world()
            .history()
            .iter()
            .filter(|o| o.node == NodeId(listener) && o.event.from == NodeId(speaker))
            .map(|o| (o.event.round, o.event.value))
            .collect()
    }

    #[test]
    fn silent_node_sends_nothing_but_still_listens() {
        let mut s = sim(1);
        s.make_byzantine(NodeId(1), Silent);
        s.run_for(Duration::from_secs(1));
        assert!(heard_from(&s, 2, 1).is_empty());
        assert!(!heard_from(&s, 1, 2).is_empty(), "its honest core still hears others");
        assert!(s.world().byzantine().contains(&NodeId(1)) && s.world().is_honest(NodeId(2)));
    }

    #[test]
    fn a_huge_delay_does_not_panic() {
        // (Found by an outside review: `Duration::MAX` overflowed when added to the link's
        // delay, before delays were summed in saturating nanoseconds.)
        let huge = [
            Duration::MAX,
            Duration::from_nanos(u64::MAX),
            Duration::from_secs(u64::MAX / 1_000_000_000 + 1),
        ];
        for delay in huge {
            let mut s = sim(1);
            s.make_byzantine(NodeId(1), SelectiveDelay { targets: [NodeId(3)].into(), delay });
            let r = s.run_for(Duration::from_millis(100));
            assert!(r.violation.is_none(), "{:?}", r.violation);
            assert!(heard_from(&s, 3, 1).is_empty(), "a delay past the end of time never arrives");
        }
    }

    #[test]
    fn selective_delay_slows_only_its_targets() {
        let mut s = sim(1);
        s.make_byzantine(
            NodeId(1),
            SelectiveDelay { targets: [NodeId(3)].into(), delay: Duration::from_millis(500) },
        );
        s.run_for(Duration::from_millis(1_050));
        assert_eq!(heard_from(&s, 2, 1).len(), 11, "rounds 0..=10 arrive 5 ms after sending");
        assert_eq!(heard_from(&s, 3, 1).len(), 6, "only rounds 0..=5 arrive within 505 ms of sending");
    }

    #[test]
    fn equivocator_tells_different_peers_different_things() {
        let mut s = sim(2);
        s.make_byzantine(NodeId(1), Equivocate::mutating([NodeId(3)].into()));
        s.run_for(Duration::from_secs(1));
        let to2 = heard_from(&s, 2, 1);
        let to3 = heard_from(&s, 3, 1);
        assert!(to2.iter().all(|&(r, v)| v == 1000 + r), "n2 hears the honest values");
        assert!(to3.iter().zip(&to2).all(|(a, b)| a != b), "n3 hears something else every time: {to3:?}");
    }

    #[test]
    fn protocol_aware_forgery() {
        let mut s = sim(2);
        s.make_byzantine(
            NodeId(1),
            Equivocate::forging([NodeId(2)].into(), |m: &Said, _, _| {
                Some(Said { round: m.round, value: 666 })
            }),
        );
        s.run_for(Duration::from_millis(300));
        assert!(heard_from(&s, 2, 1).iter().all(|&(_, v)| v == 666));
        assert!(heard_from(&s, 3, 1).iter().all(|&(r, v)| v == 1000 + r));
    }

    #[test]
    fn replayer_resends_old_messages() {
        let mut s = sim(3);
        s.make_byzantine(NodeId(1), Replay::new(0.5));
        s.run_for(Duration::from_secs(2));
        let heard = heard_from(&s, 2, 1);
        let mut rounds: Vec<u64> = heard.iter().map(|&(r, _)| r).collect();
        let total = rounds.len();
        rounds.sort();
        rounds.dedup();
        assert!(
            total > rounds.len() + 5,
            "replays repeat rounds: {total} messages, {} distinct",
            rounds.len()
        );
        // Replayed messages it received from others arrive as if from n1: values not of the form 1000 + r.
        assert!(heard.iter().any(|&(r, v)| v != 1000 + r));
    }

    #[test]
    fn garbage_is_rejected_by_the_transport_or_decodes_as_a_forgery_and_never_panics() {
        let mut s = sim(4);
        s.make_byzantine(NodeId(1), Garbage { probability: 1.0 });
        let report = s.run_for(Duration::from_secs(2));
        assert!(report.rejected > 20, "{report:?}");
        // Whatever decoded was handed over like any other message; honest traffic flowed on.
        assert!(!heard_from(&s, 2, 3).is_empty());
    }

    #[test]
    fn a_custom_adversary_is_one_trait_impl() {
        /// Sends every message twice, the second time 50 ms late.
        struct Stutter;
        impl Adversary<Announce> for Stutter {
            fn name(&self) -> &'static str {
                "stutter"
            }
            fn on_send(
                &mut self,
                _: &mut AdversaryCtx<'_>,
                to: NodeId,
                msg: Said,
                out: &mut Vec<Action<Said>>,
            ) {
                out.push(Action::Send { to, msg: msg.clone(), delay: Duration::ZERO });
                out.push(Action::Send { to, msg, delay: Duration::from_millis(50) });
            }
        }
        let mut s = sim(5);
        s.make_byzantine(NodeId(1), Stutter);
        s.run_for(Duration::from_millis(1_000));
        // Rounds 0..=9 go out by 900 ms; both copies of each arrive by 955 ms.
        assert_eq!(heard_from(&s, 2, 1).len(), 2 * heard_from(&s, 2, 3).len());
    }
}
