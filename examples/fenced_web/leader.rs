//! Leadership: the replica that holds the lock named [`LEADER`] leads, from the moment it
//! has fenced every earlier leader at the store until its lease lapses or it gives the lock
//! up.

use crate::Settings;
use crate::replica::{Leadership, Leading};
use crate::store::{Client, StoreError};
use palisade::actix::{CallError, NodeHandle};
use palisade::core::lock::{LockCommand, LockEvent, LockReply, Locks};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The lock whose holder leads.
pub const LEADER: &str = "leader";

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
            // Refused (a newer leader loaded) or unanswered: give the lock up and start over.
            Err(StoreError::Fenced(why) | StoreError::Unknown(why)) => {
                tracing::warn!(token, "cannot load from the store: {why}");
                resign(&node).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        tracing::info!(token, "leading");
        // Lead until the lock lapses (a pause, a partition) or is given up.
        loop {
            let ended = match events.recv().await {
                Ok(e) => {
                    matches!(e.event, LockEvent::Lost { token: t, .. } | LockEvent::Released { token: t, .. } if t == token)
                }
                Err(RecvError::Lagged(_)) => lease(&node).await != Some(token),
                Err(RecvError::Closed) => return,
            };
            if ended {
                break;
            }
        }
        tracing::info!(token, "no longer leading");
        let mut held = leadership.lock().await;
        if held.as_ref().is_some_and(|l| l.token == token) {
            *held = None;
        }
    }
}
