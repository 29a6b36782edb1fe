//! Rejections, counted always and logged sparingly: a flood of bad connections must not
//! become a flood of log lines (which cost the node disk, and its peers' patience when the
//! log writer stalls it). At most [`LOG_BURST`] lines per [`LOG_WINDOW`]; the next line
//! after a quiet spell says how many went unlogged.

use super::TransportStats;
use std::cell::Cell;
use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines logged per window at most.
pub const LOG_BURST: u32 = 10;
/// The window.
pub const LOG_WINDOW: Duration = Duration::from_secs(10);

/// What was rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// A connection refused by admission control before any handshake.
    Refused,
    /// A handshake that failed authentication (or broke off).
    Handshake,
    /// A handshake that missed its deadline, or a link that went idle.
    TimedOut,
    /// A frame that failed authentication or decoding on an established link.
    Frame,
}

/// Counts and logs one node's rejections (shared by its tasks, on one thread).
#[derive(Debug)]
pub struct Reporter {
    stats: Arc<TransportStats>,
    window: Cell<Option<Instant>>,
    logged: Cell<u32>,
    unlogged: Cell<u64>,
}

impl Reporter {
    /// A reporter counting into `stats`.
    pub fn new(stats: Arc<TransportStats>) -> Self {
        Reporter { stats, window: Cell::new(None), logged: Cell::new(0), unlogged: Cell::new(0) }
    }

    /// Counts one rejection and logs it if the window allows.
    pub fn reject(&self, what: Rejection, remote: SocketAddr, error: &dyn Display) {
        let s = &self.stats;
        TransportStats::bump(match what {
            Rejection::Refused => &s.refused,
            Rejection::Handshake | Rejection::Frame => &s.rejected,
            Rejection::TimedOut => &s.timed_out,
        });
        if self.may_log(Instant::now()) {
            tracing::warn!(%remote, kind = ?what, %error, "connection closed");
        }
    }

    fn may_log(&self, now: Instant) -> bool {
        let fresh = self.window.get().is_none_or(|start| now.duration_since(start) >= LOG_WINDOW);
        if fresh {
            self.window.set(Some(now));
            self.logged.set(0);
            let unlogged = self.unlogged.replace(0);
            if unlogged > 0 {
                tracing::warn!(unlogged, "rejections not logged in the last window (all counted)");
            }
        }
        if self.logged.get() < LOG_BURST {
            self.logged.set(self.logged.get() + 1);
            true
        } else {
            self.unlogged.set(self.unlogged.get() + 1);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_is_counted_but_only_a_burst_per_window_is_logged() {
        let stats = Arc::new(TransportStats::default());
        let r = Reporter::new(stats.clone());
        let t0 = Instant::now();
        let logged = (0..1000).filter(|_| r.may_log(t0)).count();
        assert_eq!(logged, LOG_BURST as usize);
        assert_eq!(r.unlogged.get(), 1000 - u64::from(LOG_BURST));
        assert!(r.may_log(t0 + LOG_WINDOW), "a new window logs again");
        assert_eq!(r.unlogged.get(), 0, "and reports what the last one did not");
        let remote: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for what in [Rejection::Refused, Rejection::Handshake, Rejection::Frame, Rejection::TimedOut] {
            r.reject(what, remote, &"x");
        }
        let c = stats.counts();
        assert_eq!((c.refused, c.rejected, c.timed_out), (1, 2, 1));
    }
}
