//! The client side: acquire when the application asks, renew before the conservative local
//! deadline, jeopardy, release when asked, and writes that carry the token and their number
//! under it.

use super::writes::{Decision, DelayedWrites, Write};
use super::{LeaseCommand, LeaseConfig, LeaseEvent, LeaseMsg, LeaseReply};
use crate::fencing::FencingToken;
use crate::node::NodeId;
use crate::protocol::Outbox;
use crate::rng::Rng;
use crate::time::Instant;
use crate::timer::Timers;
use std::time::Duration;

/// Where a client is with its lease.
#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq)]
pub enum HolderPhase {
    /// Not holding; waiting to ask (again) if the application wants the lease.
    Idle,
    /// Asked for the lease with request `req`, sent at `sent` (local clock).
    Acquiring {
        /// Request id.
        req: u64,
        /// When it was sent.
        sent: Instant,
    },
    /// Holding `token` until `valid_until` (local clock, conservative).
    Holding {
        /// The token.
        token: FencingToken,
        /// When this client stops trusting the lease.
        valid_until: Instant,
    },
    /// The lease lapsed unrenewed at `since`; not acting, still trying to renew.
    Jeopardy {
        /// The token.
        token: FencingToken,
        /// When the lease lapsed.
        since: Instant,
    },
}

#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Acquire, retry, renew or give up, depending on the phase.
    Lease,
    /// Send the write decided at a [`LeaseCommand::Write`] (its `after` later).
    Write(u64),
}

/// A lock-service client.
#[derive(Clone, Debug, Hash)]
pub struct Holder {
    id: NodeId,
    phase: HolderPhase,
    /// Whether the application wants the lease: from [`LeaseCommand::Acquire`] to
    /// [`LeaseCommand::Release`] (a restarted client wants nothing until asked again).
    wants: bool,
    next_req: u64,
    /// An outstanding renewal: request id and when it was sent.
    renewing: Option<(u64, Instant)>,
    /// When the lease was last (re)started: renewals are due `renew_after` later.
    renew_base: Instant,
    pending: DelayedWrites,
    timers: Timers<Timer>,
    rng: Rng,
}

/// A client names only itself: its phase, writes and timers hold tokens, request ids and
/// local times.
/// Every field is listed, so one added later must be looked at here.
impl crate::rename::Rename for Holder {
    fn rename(&mut self, map: &crate::rename::Renaming) {
        let Holder {
            id,
            phase: _,
            wants: _,
            next_req: _,
            renewing: _,
            renew_base: _,
            pending: _,
            timers: _,
            rng: _,
        } = self;
        id.rename(map);
    }
}

impl Holder {
    /// A client that holds nothing and asks for nothing until [`LeaseCommand::Acquire`].
    pub fn new(id: NodeId, now: Instant, seed: u64) -> Self {
        Holder {
            id,
            phase: HolderPhase::Idle,
            wants: false,
            next_req: 0,
            renewing: None,
            renew_base: now,
            pending: DelayedWrites::default(),
            timers: Timers::new(),
            rng: Rng::from_seed(seed),
        }
    }

    /// The phase.
    pub fn phase(&self) -> HolderPhase {
        self.phase
    }

    /// The token of a lease this client trusts at local time `now`.
    pub fn holds(&self, now: Instant) -> Option<FencingToken> {
        match self.phase {
            HolderPhase::Holding { token, valid_until, .. } if now < valid_until => Some(token),
            _ => None,
        }
    }

    /// The lease this client holds and the local time it stops trusting it, whatever the
    /// time now: what a runtime publishes to application threads.
    pub fn lease(&self) -> Option<(FencingToken, Instant)> {
        match self.phase {
            HolderPhase::Holding { token, valid_until, .. } => Some((token, valid_until)),
            _ => None,
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    fn acquire(
        &mut self,
        now: Instant,
        config: &LeaseConfig,
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable, LeaseReply>,
    ) {
        // The timer starts before the request leaves: `sent` is taken now.
        let req = self.req();
        self.phase = HolderPhase::Acquiring { req, sent: now };
        out.send(config.grantor, LeaseMsg::Acquire { req });
        // Never at `now`: a zero timeout would re-fire within this very tick.
        self.timers.set(Timer::Lease, (now + config.request_timeout).max(now + Duration::from_micros(1)));
    }

    fn renew(
        &mut self,
        now: Instant,
        token: FencingToken,
        config: &LeaseConfig,
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable, LeaseReply>,
    ) {
        let req = self.req();
        self.renewing = Some((req, now));
        out.send(config.grantor, LeaseMsg::Renew { req, token });
    }

    fn lease_deadline(&self, config: &LeaseConfig) -> Instant {
        match self.phase {
            HolderPhase::Holding { valid_until, .. } => {
                let renew = self.renew_base + config.renew_after;
                let retry = self.renewing.map_or(renew, |(_, sent)| sent + config.request_timeout);
                renew.max(retry).min(valid_until)
            }
            HolderPhase::Jeopardy { since, .. } => {
                let retry = self.renewing.map_or(since, |(_, sent)| sent + config.request_timeout);
                retry.min(since + config.jeopardy_grace)
            }
            _ => self.timers.get(Timer::Lease).unwrap_or(self.renew_base),
        }
    }

    pub(super) fn tick(
        &mut self,
        now: Instant,
        config: &LeaseConfig,
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable, LeaseReply>,
    ) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Lease => self.on_lease_timer(now, config, out),
                Timer::Write(key) => {
                    if let Some(Write { token, seq, value }) = self.pending.take(key) {
                        out.send(config.resource, LeaseMsg::Write { token, seq, value });
                    }
                }
            }
        }
    }

    fn on_lease_timer(
        &mut self,
        now: Instant,
        config: &LeaseConfig,
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable, LeaseReply>,
    ) {
        match self.phase {
            HolderPhase::Idle | HolderPhase::Acquiring { .. } => {
                if self.wants {
                    self.acquire(now, config, out);
                } else {
                    self.phase = HolderPhase::Idle;
                }
                return;
            }
            HolderPhase::Holding { token, valid_until } => {
                if now >= valid_until {
                    self.phase = HolderPhase::Jeopardy { token, since: valid_until };
                    out.event(LeaseEvent::Jeopardy { token });
                    self.renew(now, token, config, out);
                } else if now >= self.renew_base + config.renew_after
                    && self.renewing.is_none_or(|(_, sent)| now >= sent + config.request_timeout)
                {
                    self.renew(now, token, config, out);
                }
            }
            HolderPhase::Jeopardy { token, since } => {
                if now >= since + config.jeopardy_grace {
                    self.phase = HolderPhase::Idle;
                    self.renewing = None;
                    out.event(LeaseEvent::Expired { token });
                    if self.wants {
                        self.acquire(now, config, out);
                    }
                    return;
                }
                if self.renewing.is_none_or(|(_, sent)| now >= sent + config.request_timeout) {
                    self.renew(now, token, config, out);
                }
            }
        }
        let next = self.lease_deadline(config).max(now + Duration::from_micros(1));
        self.timers.set(Timer::Lease, next);
    }

    /// Answers the application's `cmd` at local time `now`.
    pub(super) fn command(
        &mut self,
        now: Instant,
        cmd: LeaseCommand,
        config: &LeaseConfig,
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable, LeaseReply>,
    ) -> LeaseReply {
        let holding = |h: &Self| {
            let valid = h.lease().filter(|&(_, until)| now < until);
            valid.map_or(LeaseReply::NotHolding, |(token, until)| LeaseReply::Holding { token, until })
        };
        match cmd {
            LeaseCommand::View => holding(self),
            LeaseCommand::Acquire => {
                self.wants = true;
                match self.phase {
                    HolderPhase::Idle => {
                        self.acquire(now, config, out);
                        LeaseReply::Asking
                    }
                    HolderPhase::Acquiring { .. } | HolderPhase::Jeopardy { .. } => LeaseReply::Asking,
                    HolderPhase::Holding { .. } => match holding(self) {
                        LeaseReply::NotHolding => LeaseReply::Asking,
                        held => held,
                    },
                }
            }
            LeaseCommand::Release => {
                self.wants = false;
                self.renewing = None;
                if let HolderPhase::Acquiring { .. } = self.phase {
                    // Keep waiting for the outstanding answer (the timer ends the wait): a
                    // grant already on its way is handed straight back.
                    return LeaseReply::NotHolding;
                }
                let phase = std::mem::replace(&mut self.phase, HolderPhase::Idle);
                self.timers.cancel(Timer::Lease);
                match phase {
                    HolderPhase::Holding { token, .. } | HolderPhase::Jeopardy { token, .. } => {
                        out.event(LeaseEvent::Released { token });
                        out.send(config.grantor, LeaseMsg::Release { token });
                        LeaseReply::Released { token }
                    }
                    HolderPhase::Idle | HolderPhase::Acquiring { .. } => LeaseReply::NotHolding,
                }
            }
            LeaseCommand::Write { value, after } => {
                // DDIA example 8-1: check the lease, then do the work. The write leaves
                // `after` later without checking again.
                let Some(token) = self.holds(now) else { return LeaseReply::NotHolding };
                match self.pending.decide(token, value, after) {
                    Decision::Now(Write { token, seq, value }) => {
                        out.send(config.resource, LeaseMsg::Write { token, seq, value });
                        LeaseReply::Writing { token, seq }
                    }
                    Decision::Later(Write { token, seq, .. }, key) => {
                        self.timers.set(Timer::Write(key), now + after);
                        LeaseReply::Writing { token, seq }
                    }
                    Decision::Full => LeaseReply::Busy,
                }
            }
        }
    }

    /// True when this client ignores `reply` now and for the rest of this incarnation: an
    /// answer to a request it has already issued and no longer waits for (request ids only
    /// grow within an incarnation; they start again after a restart).
    pub(super) fn ignores_reply(&self, reply: &LeaseMsg) -> bool {
        let acquiring = |r: u64| matches!(self.phase, HolderPhase::Acquiring { req, .. } if req == r);
        let renewing = |r: u64| self.renewing.is_some_and(|(req, _)| req == r);
        match *reply {
            LeaseMsg::Granted { req, .. } => req <= self.next_req && !acquiring(req),
            LeaseMsg::Busy { req } => req <= self.next_req && !acquiring(req) && !renewing(req),
            LeaseMsg::Renewed { req, .. } => req <= self.next_req && !renewing(req),
            _ => false,
        }
    }

    pub(super) fn handle(
        &mut self,
        now: Instant,
        from: NodeId,
        msg: LeaseMsg,
        config: &LeaseConfig,
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable, LeaseReply>,
    ) {
        if from != config.grantor && from != config.resource {
            crate::log::debug!(node = %self.id, %from, "client ignores a message from a non-server");
            return;
        }
        match msg {
            LeaseMsg::Granted { req, token } => {
                let HolderPhase::Acquiring { req: want, sent } = self.phase else { return };
                if req != want {
                    return;
                }
                if !self.wants {
                    // Released while asking: give the grant back at once.
                    self.phase = HolderPhase::Idle;
                    self.timers.cancel(Timer::Lease);
                    out.send(config.grantor, LeaseMsg::Release { token });
                    return;
                }
                // The lease runs from when the request was sent, on this clock, shortened for drift.
                let valid_until = sent + config.holder_lease();
                debug_assert!(
                    valid_until <= sent + config.term,
                    "a holder never trusts longer than the term"
                );
                self.phase = HolderPhase::Holding { token, valid_until };
                self.renew_base = sent;
                self.renewing = None;
                out.event(LeaseEvent::Acquired { token });
                let next = self.lease_deadline(config);
                self.timers.set(Timer::Lease, next);
            }
            LeaseMsg::Busy { req } => {
                if matches!(self.phase, HolderPhase::Acquiring { req: want, .. } if want == req) {
                    self.phase = HolderPhase::Idle;
                    let back_off =
                        self.rng.duration_between(config.request_timeout / 2, config.request_timeout * 2);
                    self.timers.set(Timer::Lease, now + back_off);
                } else if self.renewing.is_some_and(|(r, _)| r == req) {
                    // The grantor no longer knows our lease: stop trusting it at once.
                    if let HolderPhase::Holding { token, .. } | HolderPhase::Jeopardy { token, .. } =
                        self.phase
                    {
                        self.phase = HolderPhase::Idle;
                        self.renewing = None;
                        out.event(LeaseEvent::Expired { token });
                        if self.wants {
                            self.timers.set(Timer::Lease, now + config.request_timeout);
                        } else {
                            self.timers.cancel(Timer::Lease);
                        }
                    }
                }
            }
            LeaseMsg::Renewed { req, token } => {
                let Some((_, sent)) = self.renewing.filter(|&(r, _)| r == req) else { return };
                match self.phase {
                    HolderPhase::Holding { token: t, .. } | HolderPhase::Jeopardy { token: t, .. }
                        if t == token =>
                    {
                        let valid_until = sent + config.holder_lease();
                        if matches!(self.phase, HolderPhase::Jeopardy { .. }) {
                            // Out of jeopardy: the application hears it holds the lease again.
                            out.event(LeaseEvent::Acquired { token });
                        }
                        self.phase = HolderPhase::Holding { token, valid_until };
                        self.renew_base = sent;
                        self.renewing = None;
                        let next = self.lease_deadline(config);
                        self.timers.set(Timer::Lease, next);
                    }
                    _ => {}
                }
            }
            LeaseMsg::WriteAck { .. } | LeaseMsg::WriteRejected { .. } => {}
            #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
            other => crate::log::debug!(node = %self.id, ?other, "client ignores a message not meant for it"),
        }
    }
}
