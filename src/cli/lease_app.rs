//! The application `palisade node` runs on a lock-service client or an election candidate:
//! DDIA's demonstration workload, driven through the protocol's commands from outside it.
//! Every `write_every` it asks to write (the write leaving `write_delay` after the lease
//! check, DDIA example 8-1); a lock-service client also asks for the lease at start and,
//! with `hold_for`, releases it after holding it that long and asks again after a back-off,
//! so clients take turns.

use crate::actix::NodeHandle;
use crate::core::lease::SingleGrantorLockService;
use crate::core::lease::election::{Election, ElectionCommand};
use crate::core::lease::{LeaseCommand, LeaseReply};
use crate::core::{NodeId, Rng};
use std::time::Duration;

/// The workload's settings, from the `[lease]` table.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// This node.
    pub id: NodeId,
    /// Ask to write this often.
    pub write_every: Duration,
    /// The processing between a write's lease check and its leaving.
    pub write_delay: Duration,
    /// A client releases its lease after holding it this long, counted from the first write
    /// it made under the lease's token (`None`: keeps it).
    pub hold_for: Option<Duration>,
    /// A client's back-off after releasing is 1-3 times this.
    pub request_timeout: Duration,
}

/// How long a call may wait for its reply: the node answers at once unless it is stopping.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

impl Workload {
    /// The value of write `k`: unique to this node.
    fn value(&self, k: u64) -> u64 {
        (u64::from(self.id.0) << 32) | (k & 0xffff_ffff)
    }

    /// Runs a lock-service client's workload until the node stops.
    pub async fn lock_client(self, node: NodeHandle<SingleGrantorLockService>) {
        let mut rng = Rng::from_seed(u64::from(self.id.0) ^ wall_nanos());
        if node.call(LeaseCommand::Acquire, CALL_TIMEOUT).await.is_err() {
            return;
        }
        let mut held_since: Option<(crate::core::fencing::FencingToken, tokio::time::Instant)> = None;
        let mut tick = tokio::time::interval(self.write_every);
        // After a back-off, carry on from now rather than make up the missed ticks at once.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for k in 1.. {
            tick.tick().await;
            let cmd = LeaseCommand::Write { value: self.value(k), after: self.write_delay };
            let token = match node.call(cmd, CALL_TIMEOUT).await {
                Ok(LeaseReply::Writing { token, .. }) => Some(token),
                Ok(_) => None,
                Err(_) => return,
            };
            let now = tokio::time::Instant::now();
            held_since = match (token, held_since) {
                (Some(t), Some((held, since))) if t == held => Some((held, since)),
                (Some(t), _) => Some((t, now)),
                (None, _) => None,
            };
            let Some(hold_for) = self.hold_for else { continue };
            if held_since.is_some_and(|(_, since)| now >= since + hold_for) {
                held_since = None;
                if node.call(LeaseCommand::Release, CALL_TIMEOUT).await.is_err() {
                    return;
                }
                let back_off = rng.duration_between(self.request_timeout, self.request_timeout * 3);
                tokio::time::sleep(back_off).await;
                if node.call(LeaseCommand::Acquire, CALL_TIMEOUT).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Runs an election candidate's workload until the node stops: a leader writes.
    pub async fn candidate(self, node: NodeHandle<Election>) {
        let mut tick = tokio::time::interval(self.write_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for k in 1.. {
            tick.tick().await;
            let cmd = ElectionCommand::Write { value: self.value(k), after: self.write_delay };
            if node.call(cmd, CALL_TIMEOUT).await.is_err() {
                return;
            }
        }
    }
}

/// Nanoseconds of the wall clock, to seed the back-off (any value will do).
fn wall_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
