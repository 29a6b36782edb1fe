//! The grantor (lock server): one lease at a time, strictly increasing tokens, the full
//! term on its own clock, and a full term of silence after a restart.

use super::{LeaseConfig, LeaseEvent, LeaseMsg};
use crate::fencing::{FencingToken, TokenIssuer};
use crate::node::NodeId;
use crate::time::Instant;

/// The grantor's state.
#[derive(Clone, Debug, Hash)]
pub struct Grantor {
    issuer: TokenIssuer,
    /// The current lease: holder, token, and when it ends on this clock.
    current: Option<(NodeId, FencingToken, Instant)>,
    /// After a restart, grant nothing before this (a lease granted before the crash may
    /// still be believed by its holder).
    quiet_until: Instant,
}

impl crate::rename::Rename for Grantor {
    fn rename(&mut self, map: &crate::rename::Renaming) {
        // Every field listed, so one added later must be looked at here.
        let Grantor { issuer: _, current, quiet_until: _ } = self;
        current.rename(map);
    }
}

/// What handling one message produced.
#[derive(Debug, Default)]
pub(super) struct Reply {
    /// Persist this highest token before acting on the rest.
    pub persist: Option<FencingToken>,
    pub msg: Option<LeaseMsg>,
    pub events: Vec<LeaseEvent>,
}

impl Grantor {
    /// A grantor that has issued up to `issued`. After a crash (`restarted`) it waits one
    /// full term from `now` before granting.
    pub fn restore(issued: FencingToken, now: Instant, restarted: bool, config: &LeaseConfig) -> Self {
        let quiet_until = if restarted { now + config.term } else { now };
        Grantor { issuer: TokenIssuer::restore(issued), current: None, quiet_until }
    }

    /// The current holder and token, if the lease has not ended at `now`.
    pub fn holder(&self, now: Instant) -> Option<(NodeId, FencingToken)> {
        self.current.filter(|&(_, _, end)| now < end).map(|(h, t, _)| (h, t))
    }

    // Without the `tracing` feature the last arm is empty, and clippy would fold the release
    // check into a guard that sends stale releases to it.
    #[cfg_attr(not(feature = "tracing"), allow(clippy::collapsible_match))]
    pub(super) fn handle(
        &mut self,
        now: Instant,
        from: NodeId,
        msg: LeaseMsg,
        config: &LeaseConfig,
    ) -> Reply {
        let mut reply = Reply::default();
        match msg {
            LeaseMsg::Acquire { req } => {
                if now < self.quiet_until {
                    reply.msg = Some(LeaseMsg::Busy { req });
                    return reply;
                }
                match self.holder(now) {
                    Some((h, _)) if h != from => reply.msg = Some(LeaseMsg::Busy { req }),
                    // Free, or its own lease again: a holder that asks again has restarted
                    // (or lost the grant), so it gets a new token, and the sequence numbers it
                    // starts again from 1 are not refused as replays of its earlier writes.
                    _ => {
                        let token = self.issuer.issue();
                        self.current = Some((from, token, now + config.term));
                        reply.persist = Some(token);
                        reply.events.push(LeaseEvent::Granted { holder: from, token });
                        reply.msg = Some(LeaseMsg::Granted { req, token });
                    }
                }
            }
            LeaseMsg::Renew { req, token } => match self.holder(now) {
                Some((h, t)) if h == from && t == token => {
                    self.current = Some((h, t, now + config.term));
                    reply.msg = Some(LeaseMsg::Renewed { req, token });
                }
                _ => reply.msg = Some(LeaseMsg::Busy { req }),
            },
            LeaseMsg::Release { token } => {
                if self.current.is_some_and(|(h, t, _)| h == from && t == token) {
                    self.current = None;
                }
            }
            #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
            other => crate::log::debug!(%from, ?other, "grantor ignores a message not meant for it"),
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_that_asks_again_gets_a_newer_token_and_others_stay_busy() {
        let config = LeaseConfig::default();
        let now = Instant::from_nanos(1_000_000_000);
        let mut g = Grantor::restore(FencingToken::default(), now, false, &config);
        let granted = |r: &Reply| match r.msg {
            Some(LeaseMsg::Granted { token, .. }) => Some(token),
            _ => None,
        };
        let first = granted(&g.handle(now, NodeId(3), LeaseMsg::Acquire { req: 1 }, &config)).unwrap();
        let busy = g.handle(now, NodeId(4), LeaseMsg::Acquire { req: 1 }, &config);
        assert!(matches!(busy.msg, Some(LeaseMsg::Busy { .. })), "another client waits");
        // n3 restarted within its term and asks again: a new token, persisted before use.
        let again = g.handle(now, NodeId(3), LeaseMsg::Acquire { req: 2 }, &config);
        let second = granted(&again).unwrap();
        assert!(second > first, "{second:?} must supersede {first:?}");
        assert_eq!(again.persist, Some(second));
        assert_eq!(g.holder(now), Some((NodeId(3), second)));
    }
}
