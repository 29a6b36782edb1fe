//! A Byzantine node that speaks the protocol: [`Fuzz`] sends well-typed but arbitrary
//! messages of the protocol's own `Message` type, generated structurally through serde and
//! biased toward boundary values (0, 1, MAX, MAX-1, one past what an honest message said,
//! another field's value, empty and 64-element collections, members' and non-members' ids,
//! byte strings with a bit flipped). Most are
//! an honest message (its own, or one it received) with a few fields changed, so they get
//! past the first `match` and reach the deep handler code; some are drawn from scratch.
//!
//! It needs nothing from the protocol beyond what [`palisade_core::Protocol`] already
//! requires of its `Message` (`Serialize + DeserializeOwned`): point it at any protocol with
//! [`crate::Simulation::make_byzantine`]. Malformed bytes are [`crate::byzantine::Garbage`]'s
//! job; this one is for what decodes.
//!
//! ```
//! use palisade_sim::fuzz::Fuzz;
//! # use palisade_core::detector::{Heartbeat, HeartbeatConfig, PhiAccrual};
//! # use palisade_sim::{SimConfig, Simulation};
//! # use palisade_core::NodeId;
//! let mut sim = Simulation::<Heartbeat<PhiAccrual>>::new(SimConfig::new(7, 4), HeartbeatConfig::default());
//! let fuzz = Fuzz::new();
//! let stats = fuzz.stats();
//! sim.make_byzantine(NodeId(4), fuzz);
//! sim.run_for(std::time::Duration::from_secs(5));
//! assert!(stats.sent() > 0);
//! ```

pub mod generate;
pub mod shape;

/// Why a message could not be recorded as a [`shape::Shape`] or generated (a custom
/// `Serialize` reported an error, the type's `Deserialize` refused what was drawn, or it
/// asked for something untyped).
#[derive(Debug)]
pub struct FuzzError(String);

impl std::fmt::Display for FuzzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FuzzError {}

impl serde::ser::Error for FuzzError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        FuzzError(msg.to_string())
    }
}

impl serde::de::Error for FuzzError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        FuzzError(msg.to_string())
    }
}

use crate::byzantine::{Action, Adversary, AdversaryCtx};
use generate::{Source, generate};
use palisade_core::{NodeId, Protocol};
use serde::Serialize;
use shape::{Shape, shape_of};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Honest messages remembered as templates.
pub const TEMPLATES: usize = 64;

/// What a [`Fuzz`] adversary did, readable while and after the run.
#[derive(Clone, Debug, Default)]
pub struct FuzzStats {
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl FuzzStats {
    /// Generated messages sent.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Generation attempts the message type refused (its `Deserialize` validated and said
    /// no); nothing was sent for those.
    pub fn refused(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// Sends well-typed arbitrary messages of the protocol's `Message` type: see the
/// [module documentation](self).
#[derive(Debug)]
pub struct Fuzz {
    /// Chance per honest send that a generated message goes instead. Default 0.5.
    pub replace: f64,
    /// Chance per honest send of one more generated message, to a random member (itself
    /// included). Default 0.5.
    pub extra: f64,
    /// Chance per leaf of keeping the template's value. Default 0.8.
    pub keep: f64,
    /// Chance of drawing a message from scratch instead of from a template. Default 0.1.
    pub from_scratch: f64,
    templates: VecDeque<Shape>,
    stats: FuzzStats,
}

impl Default for Fuzz {
    fn default() -> Self {
        Fuzz::new()
    }
}

impl Fuzz {
    /// The defaults above.
    pub fn new() -> Self {
        Fuzz {
            replace: 0.5,
            extra: 0.5,
            keep: 0.8,
            from_scratch: 0.1,
            templates: VecDeque::new(),
            stats: FuzzStats::default(),
        }
    }

    /// A handle on this adversary's counters.
    pub fn stats(&self) -> FuzzStats {
        self.stats.clone()
    }

    fn remember<M: Serialize>(&mut self, msg: &M) {
        if let Ok(s) = shape_of(msg) {
            if self.templates.len() >= TEMPLATES {
                self.templates.pop_front();
            }
            self.templates.push_back(s);
        }
    }

    /// One generated message, or `None` if the type refused a few attempts in a row.
    fn draw<M: serde::de::DeserializeOwned>(&mut self, ctx: &mut AdversaryCtx<'_>) -> Option<M> {
        for _ in 0..4 {
            let template = if self.templates.is_empty() || ctx.rng.chance(self.from_scratch) {
                None
            } else {
                self.templates.get(ctx.rng.below(self.templates.len() as u64) as usize)
            };
            let mut src = Source { rng: ctx.rng, members: ctx.members, keep: self.keep };
            match generate::<M>(&mut src, template) {
                Ok(m) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    return Some(m);
                }
                Err(_) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        None
    }
}

impl Fuzz {
    /// The same adversary, with `fix` applied to every generated message before it is
    /// sent, given the Byzantine node's id: typically re-signing what the node may sign
    /// with its own key, so generated content gets past signature checks and reaches the
    /// code behind them (a Byzantine node holds its own key; it cannot forge others').
    pub fn with_fixup<M>(self, fix: impl FnMut(&mut M, NodeId) + 'static) -> FuzzFixed<M> {
        FuzzFixed { fuzz: self, fix: Box::new(fix) }
    }

    fn send<M>(
        &mut self,
        ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: M,
        out: &mut Vec<Action<M>>,
        mut fix: impl FnMut(&mut M, NodeId),
    ) where
        M: Serialize + serde::de::DeserializeOwned,
    {
        self.remember(&msg);
        let me = ctx.me;
        let send = |to, msg| Action::Send { to, msg, delay: Duration::ZERO };
        if ctx.rng.chance(self.replace) {
            if let Some(mut m) = self.draw::<M>(ctx) {
                fix(&mut m, me);
                out.push(send(to, m));
            }
        } else {
            out.push(send(to, msg));
        }
        if ctx.rng.chance(self.extra) {
            let target = ctx.rng.pick(ctx.members).copied();
            if let (Some(target), Some(mut m)) = (target, self.draw::<M>(ctx)) {
                fix(&mut m, me);
                out.push(send(target, m));
            }
        }
    }
}

impl<P: Protocol> Adversary<P> for Fuzz {
    fn name(&self) -> &'static str {
        "fuzz"
    }

    fn on_send(
        &mut self,
        ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: P::Message,
        out: &mut Vec<Action<P::Message>>,
    ) {
        self.send(ctx, to, msg, out, |_, _| {});
    }

    fn on_receive(&mut self, _: &mut AdversaryCtx<'_>, _: NodeId, msg: &P::Message) {
        self.remember(msg);
    }
}

/// A fix-up applied to each generated message, given the Byzantine node's id.
pub type Fixup<M> = Box<dyn FnMut(&mut M, NodeId)>;

/// A [`Fuzz`] adversary whose generated messages pass through a fix-up (see
/// [`Fuzz::with_fixup`]).
pub struct FuzzFixed<M> {
    fuzz: Fuzz,
    fix: Fixup<M>,
}

impl<M> FuzzFixed<M> {
    /// A handle on the adversary's counters.
    pub fn stats(&self) -> FuzzStats {
        self.fuzz.stats()
    }
}

impl<M> std::fmt::Debug for FuzzFixed<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuzzFixed").field("fuzz", &self.fuzz).finish_non_exhaustive()
    }
}

impl<P: Protocol> Adversary<P> for FuzzFixed<P::Message> {
    fn name(&self) -> &'static str {
        "fuzz"
    }

    fn on_send(
        &mut self,
        ctx: &mut AdversaryCtx<'_>,
        to: NodeId,
        msg: P::Message,
        out: &mut Vec<Action<P::Message>>,
    ) {
        let fix = &mut self.fix;
        self.fuzz.send(ctx, to, msg, out, |m, me| fix(m, me));
    }

    fn on_receive(&mut self, _: &mut AdversaryCtx<'_>, _: NodeId, msg: &P::Message) {
        self.fuzz.remember(msg);
    }
}

#[cfg(test)]
mod tests;
