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

/// Gives the lock up, trying until the node answers: the next leader, this replica or
/// another, loads under a newer token.
async fn resign(node: &NodeHandle<Locks>) {
    let release = || LockCommand::Release { name: LEADER.into() };
    while let Err(CallError::Timeout(_) | CallError::Overloaded(_)) =
        node.call(release(), Duration::from_secs(1)).await
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
            _ => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        match store.load(token, 1, settings.http).await {
            Ok(data) => *leadership.state.lock().await = Some(Leading { token, seq: 1, data }),
            // Refused (a newer leader loaded) or unanswered: give the lock up and start over.
            Err(StoreError::Fenced(why) | StoreError::Unknown(why)) => {
                tracing::warn!(token, "cannot load from the store: {why}");
                resign(&node).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        tracing::info!(token, "leading");
        // Lead until the lock lapses (a pause, a partition), or a request stopped leading
        // because the store refused a write or did not answer.
        loop {
            let ended = tokio::select! {
                e = events.recv() => match e {
                    Ok(e) => matches!(e.event, LockEvent::Lost { token: t, .. } if t == token),
                    Err(RecvError::Lagged(_)) => lease(&node).await != Some(token),
                    Err(RecvError::Closed) => return,
                },
                () = leadership.given_up.notified() => leadership.state.lock().await.is_none(),
            };
            if ended {
                break;
            }
        }
        tracing::info!(token, "no longer leading");
        let mut held = leadership.state.lock().await;
        if held.as_ref().is_some_and(|l| l.token == token) {
            *held = None;
        }
        drop(held);
        resign(&node).await;
    }
}
