//! Leadership: the replica that holds the lock named [`LEADER`] leads, from the moment it
//! has fenced every earlier leader at the store until its lease lapses or it gives the lock
//! up.

use crate::Settings;
use crate::store::{Client, StoreError};
use palisade::actix::{CallError, NodeHandle};
use palisade::core::lock::{LockCommand, LockEvent, LockReply, Locks};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The lock whose holder leads.
pub const LEADER: &str = "leader";

/// What the leader has: its fencing token, the number of its latest request to the store
/// under that token, and the data as the store holds it.
pub struct Leading {
    /// The lock's fencing token.
    pub token: u64,
    /// Requests to the store under `token` so far (the store refuses one not above).
    pub seq: u64,
    /// The data.
    pub data: BTreeMap<String, String>,
}

/// This replica's leadership, `None` while it does not lead. Requests hold the lock while
/// they use it, so writes reach the store one at a time, in order.
pub type Leadership = Arc<tokio::sync::Mutex<Option<Leading>>>;

/// The token under which this node holds [`LEADER`] now, judged on its clock: a replica
/// checks this before it serves a read from memory or sends a write.
pub async fn lease(node: &NodeHandle<Locks>) -> Option<u64> {
    match node.call(LockCommand::View { name: LEADER.into() }, Duration::from_secs(1)).await {
        Ok(LockReply::Holds { token, .. }) => Some(token),
        _ => None,
    }
}

/// Gives the lock up (after the store refused or left a write's outcome unknown): the next
/// leader, this replica or another, loads under a newer token.
pub async fn resign(node: &NodeHandle<Locks>) {
    let _ = node.call(LockCommand::Release { name: LEADER.into() }, Duration::from_secs(1)).await;
}

/// Runs for as long as the node does: acquire [`LEADER`], load the data from the store
/// under its token (which fences off every earlier leader's late writes), lead until the
/// lock is lost or released, and start over.
pub async fn lead(node: NodeHandle<Locks>, leadership: Leadership, settings: Settings) {
    let store = Client::new(settings.store, settings.store_timeout);
    let mut events = node.subscribe();
    loop {
        let acquire = LockCommand::Acquire { name: LEADER.into(), within: Duration::from_secs(10) };
        let token = match node.call(acquire, Duration::from_secs(11)).await {
            Ok(LockReply::Acquired { token, .. }) => token,
            Err(CallError::Stopped) => return,
            _ => continue,
        };
        match store.load(token, 1, settings.http).await {
            Ok(data) => *leadership.lock().await = Some(Leading { token, seq: 1, data }),
            Err(StoreError::Fenced(why) | StoreError::Unknown(why)) => {
                tracing::warn!(token, "cannot load from the store: {why}");
                resign(&node).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        tracing::info!(token, "leading");
        loop {
            match events.recv().await {
                Ok(e) => match e.event {
                    LockEvent::Lost { token: t, .. } | LockEvent::Released { token: t, .. } if t == token => {
                        break;
                    }
                    _ => {}
                },
                Err(RecvError::Lagged(_)) if lease(&node).await == Some(token) => {}
                Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return,
            }
        }
        tracing::info!(token, "no longer leading");
        let mut held = leadership.lock().await;
        if held.as_ref().is_some_and(|l| l.token == token) {
            *held = None;
        }
    }
}
