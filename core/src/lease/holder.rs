//! The client side: acquire, renew before the conservative local deadline, jeopardy, and
//! writes that carry the token and their number under it.

use super::writes::{Decision, DelayedWrites, Write};
use super::{LeaseConfig, LeaseEvent, LeaseMsg};
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
    /// Not holding; waiting to ask again.
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
        /// When it was acquired (for `hold_for`).
        since: Instant,
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
    /// Check the lease and maybe write.
    Work,
    /// Send the write decided at a check (`write_delay` later).
    Write(u64),
}

/// A lock-service client.
#[derive(Clone, Debug, Hash)]
pub struct Holder {
    id: NodeId,
    phase: HolderPhase,
    next_req: u64,
    /// An outstanding renewal: request id and when it was sent.
    renewing: Option<(u64, Instant)>,
    /// When the lease was last (re)started: renewals are due `renew_after` later.
    renew_base: Instant,
    pending: DelayedWrites,
    writes: u64,
    timers: Timers<Timer>,
    rng: Rng,
}

impl Holder {
    /// A client that will start asking for the lease shortly after `now`.
    pub fn new(id: NodeId, now: Instant, seed: u64, config: &LeaseConfig) -> Self {
        let mut rng = Rng::from_seed(seed);
        let mut timers = Timers::new();
        // Spread first requests so clients do not arrive in lockstep.
        timers.set(Timer::Lease, now + rng.duration_between(Duration::ZERO, config.request_timeout));
        timers.set(Timer::Work, now + config.write_every);
        Holder {
            id,
            phase: HolderPhase::Idle,
            next_req: 0,
            renewing: None,
            renew_base: now,
            pending: DelayedWrites::default(),
            writes: 0,
            timers,
            rng,
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
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable>,
    ) {
        // The timer starts before the request leaves: `sent` is taken now.
        let req = self.req();
        self.phase = HolderPhase::Acquiring { req, sent: now };
        out.send(config.grantor, LeaseMsg::Acquire { req });
        self.timers.set(Timer::Lease, now + config.request_timeout);
    }

    fn renew(
        &mut self,
        now: Instant,
        token: FencingToken,
        config: &LeaseConfig,
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable>,
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
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable>,
    ) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Lease => self.on_lease_timer(now, config, out),
                Timer::Work => {
                    // DDIA example 8-1: check the lease, then do the work. The write leaves
                    // `write_delay` later without checking again.
                    if let Some(token) = self.holds(now) {
                        self.writes += 1;
                        let value = (u64::from(self.id.0) << 32) | self.writes;
                        match self.pending.decide(value, token, value, config.write_delay) {
                            Decision::Now(Write { token, seq, value }) => {
                                out.send(config.resource, LeaseMsg::Write { token, seq, value })
                            }
                            Decision::Later(key) => {
                                self.timers.set(Timer::Write(key), now + config.write_delay)
                            }
                            Decision::Full => {}
                        }
                    }
                    self.timers.set(Timer::Work, now + config.write_every);
                }
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
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable>,
    ) {
        match self.phase {
            HolderPhase::Idle | HolderPhase::Acquiring { .. } => self.acquire(now, config, out),
            HolderPhase::Holding { token, valid_until, since } => {
                if now >= valid_until {
                    self.phase = HolderPhase::Jeopardy { token, since: valid_until };
                    out.event(LeaseEvent::Jeopardy { token });
                    self.renew(now, token, config, out);
                } else if config.hold_for.is_some_and(|h| now >= since + h) {
                    self.phase = HolderPhase::Idle;
                    self.renewing = None;
                    out.event(LeaseEvent::Released { token });
                    out.send(config.grantor, LeaseMsg::Release { token });
                    let back_off =
                        self.rng.duration_between(config.request_timeout, config.request_timeout * 3);
                    self.timers.set(Timer::Lease, now + back_off);
                    return;
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
                    self.acquire(now, config, out);
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
        out: &mut Outbox<LeaseMsg, LeaseEvent, super::LeaseDurable>,
    ) {
        if from != config.grantor && from != config.resource {
            tracing::debug!(node = %self.id, %from, "client ignores a message from a non-server");
            return;
        }
        match msg {
            LeaseMsg::Granted { req, token } => {
                let HolderPhase::Acquiring { req: want, sent } = self.phase else { return };
                if req != want {
                    return;
                }
                // The lease runs from when the request was sent, on this clock, shortened for drift.
                let valid_until = sent + config.holder_lease();
                debug_assert!(
                    valid_until <= sent + config.term,
                    "a holder never trusts longer than the term"
                );
                self.phase = HolderPhase::Holding { token, valid_until, since: now };
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
                        self.timers.set(Timer::Lease, now + config.request_timeout);
                    }
                }
            }
            LeaseMsg::Renewed { req, token } => {
                let Some((_, sent)) = self.renewing.filter(|&(r, _)| r == req) else { return };
                match self.phase {
                    HolderPhase::Holding { token: t, since, .. }
                    | HolderPhase::Jeopardy { token: t, since }
                        if t == token =>
                    {
                        let valid_until = sent + config.holder_lease();
                        let since = if let HolderPhase::Holding { since, .. } = self.phase {
                            since
                        } else {
                            since.min(now)
                        };
                        self.phase = HolderPhase::Holding { token, valid_until, since };
                        self.renew_base = sent;
                        self.renewing = None;
                        let next = self.lease_deadline(config);
                        self.timers.set(Timer::Lease, next);
                    }
                    _ => {}
                }
            }
            LeaseMsg::WriteAck { .. } | LeaseMsg::WriteRejected { .. } => {}
            other => tracing::debug!(node = %self.id, ?other, "client ignores a message not meant for it"),
        }
    }
}
