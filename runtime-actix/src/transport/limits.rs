//! What one node lets the network hold: the limits behind admission control, and the
//! deadlines that keep a peer from holding a connection it does not use.

use std::time::Duration;

/// The transport's limits. The defaults suit a cluster on a LAN or loopback; every field is
/// a bound an unauthenticated or misbehaving peer runs into.
///
/// File descriptors the network can take from a node: one listener, at most
/// [`Limits::max_pending`] connections still in their handshake, and at most two per peer
/// (the current session and one replacing it). [`Limits::fd_budget`] adds them up; a node
/// refuses to start when its open-file limit does not leave room for them and its storage.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Connections that have not finished their handshake, over all sources. Beyond this a
    /// new connection is closed at once (and counted).
    pub max_pending: usize,
    /// The same, per source address.
    pub max_pending_per_ip: usize,
    /// A connection must finish its handshake within this, or it is closed.
    pub handshake_timeout: Duration,
    /// An authenticated link on which nothing (not even a keepalive) arrives for this long is
    /// closed; the lower id then dials again.
    pub idle_timeout: Duration,
    /// A link that has sent nothing for this long sends a keepalive frame.
    pub keepalive: Duration,
    /// Dialling gives up after this.
    pub connect_timeout: Duration,
    /// A write that the peer does not take within this closes the link (its frames are
    /// counted as dropped), so a stalled reader cannot hold the node's send queue.
    pub write_timeout: Duration,
}

impl Limits {
    palisade_core::__config_setters! {
        max_pending: usize,
        max_pending_per_ip: usize,
        handshake_timeout: Duration,
        idle_timeout: Duration,
        keepalive: Duration,
        connect_timeout: Duration,
        write_timeout: Duration,
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pending: 64,
            max_pending_per_ip: 8,
            handshake_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(3),
            write_timeout: Duration::from_secs(5),
        }
    }
}

/// File descriptors a node keeps free for its own storage and logs, beyond the network's.
pub const FD_RESERVE: u64 = 32;

impl Limits {
    /// The most file descriptors the transport holds for `peers` peers.
    pub fn fd_budget(&self, peers: usize) -> u64 {
        1 + self.max_pending as u64 + 2 * peers as u64
    }
}

/// The soft limit on open files of this process, where the platform tells (Linux).
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_listener_pending_and_two_per_peer() {
        assert_eq!(Limits::default().fd_budget(4), 1 + 64 + 8);
    }

    #[test]
    fn this_process_has_an_open_file_limit_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_file_limit().is_some_and(|n| n >= 64));
        }
    }
}
