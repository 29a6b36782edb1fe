//! Leadership: the replica that holds the lock named [`LEADER`] leads, from the moment it
//! has fenced every earlier leader at the store until its lease lapses or it gives the lock
//! up.

use crate::Settings;
use crate::replica::{Leadership, Leading};
use crate::store::{Client, StoreError};
use palisade::actix::CallError;
use palisade::actix::lock::{AcquireError, NamedLock};
use std::time::Duration;

/// The lock whose holder leads.
pub const LEADER: &str = "leader";

/// Runs for as long as the node does: acquire [`LEADER`], load the data from the store
/// under its token (which fences off every earlier leader's late writes), lead until the
/// lock is lost or a request gives leadership up, release, and start over.
pub async fn lead(lock: NamedLock, leadership: Leadership, settings: Settings) {
    let store = Client::new(settings.store, settings.store_timeout);
    loop {
        let token = match lock.acquire(Duration::from_secs(10)).await {
            Ok(token) => token,
            Err(AcquireError::Call(CallError::Stopped)) => return,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        match store.load(token, 1, settings.http).await {
            Ok(data) => *leadership.state.lock().await = Some(Leading { token, seq: 1, data }),
            // Refused (a newer leader loaded) or unanswered: give the lock up and start over.
            Err(StoreError::Fenced(why) | StoreError::Unknown(why)) => {
                tracing::warn!(token, "cannot load from the store: {why}");
                lock.release().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        tracing::info!(token, "leading");
        // Lead until the lock lapses (a pause, a partition), or a request stopped leading
        // because the store refused a write or did not answer.
        tokio::select! {
            () = lock.lost(token) => {}
            () = leadership.until_given_up() => {}
        }
        tracing::info!(token, "no longer leading");
        let mut held = leadership.state.lock().await;
        if held.as_ref().is_some_and(|l| l.token == token) {
            *held = None;
        }
        drop(held);
        lock.release().await;
    }
}
