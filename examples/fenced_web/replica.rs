//! A replica's HTTP side: `GET /kv/KEY` and `PUT /kv/KEY` (the value as the body), served
//! by the leader and redirected (`307`) by the others; `GET /healthz`.
//!
//! The leader answers `200` when done, `404` for a key never written; `503` when it finds
//! it no longer leads, and `409` when the store refused its write (neither took effect);
//! `504` when the store did not answer (the write may have taken effect).

use crate::Settings;
use crate::store::{Client, StoreError};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use palisade::actix::lock::NamedLock;
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// This replica's leadership, shared by the requests and the leadership loop.
#[derive(Default)]
pub struct Shared {
    /// `None` while this replica does not lead. Requests hold the lock while they use it,
    /// so writes reach the store one at a time, in order.
    pub state: tokio::sync::Mutex<Option<Leading>>,
    /// A request that stopped leading (the store refused its write, or did not answer)
    /// tells the leadership loop, which gives the lock up.
    pub given_up: tokio::sync::Notify,
}

impl Shared {
    /// Resolves once a request has stopped leading.
    pub async fn until_given_up(&self) {
        while self.state.lock().await.is_some() {
            self.given_up.notified().await;
        }
    }
}

/// [`Shared`], as every part of the replica holds it.
pub type Leadership = Arc<Shared>;

/// What every request handler shares.
struct Replica {
    lock: NamedLock,
    leadership: Leadership,
    store: Client,
    http: std::net::SocketAddr,
}

type Data = web::Data<Replica>;

/// Keys of 1 to 64 letters, digits, `-` and `_`.
pub fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Largest value accepted, in bytes.
pub const MAX_VALUE: usize = 16 * 1024;

/// Most keys the service holds; a put of a new key beyond them is refused (`507`).
pub const MAX_KEYS: usize = 1024;

/// Sends the client to the replica that loaded last, if that is another one.
async fn redirect(r: &Replica, req: &HttpRequest) -> HttpResponse {
    match r.store.leader().await {
        Some(addr) if addr != r.http.to_string() => HttpResponse::TemporaryRedirect()
            .insert_header(("location", format!("http://{addr}{}", req.uri())))
            .finish(),
        _ => HttpResponse::ServiceUnavailable().body("no leader right now; retry"),
    }
}

async fn get(r: Data, req: HttpRequest, key: web::Path<String>) -> HttpResponse {
    let leading = r.leadership.state.lock().await;
    let Some(l) = leading.as_ref() else {
        drop(leading);
        return redirect(&r, &req).await;
    };
    let value = l.data.get(key.as_str()).cloned();
    // The value read is the latest if this replica still leads once it has read it: no
    // other leader can have loaded (and so written) while its lease is valid.
    if r.lock.held().await != Some(l.token) {
        return HttpResponse::ServiceUnavailable().body("no longer leading");
    }
    match value {
        Some(v) => HttpResponse::Ok().body(v),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn put(r: Data, req: HttpRequest, key: web::Path<String>, value: String) -> HttpResponse {
    if !valid_key(&key) {
        return HttpResponse::BadRequest().body("keys are 1 to 64 of [A-Za-z0-9_-]");
    }
    let mut leading = r.leadership.state.lock().await;
    let Some(l) = leading.as_mut() else {
        drop(leading);
        return redirect(&r, &req).await;
    };
    if r.lock.held().await != Some(l.token) {
        return HttpResponse::ServiceUnavailable().body("no longer leading");
    }
    if l.data.len() >= MAX_KEYS && !l.data.contains_key(key.as_str()) {
        return HttpResponse::InsufficientStorage().body(format!("at most {MAX_KEYS} keys"));
    }
    l.seq += 1;
    tracing::info!(key = %key, token = l.token, seq = l.seq, "writing to the store");
    let outcome = r.store.put(&key, value.clone(), l.token, l.seq).await;
    let response = match outcome {
        Ok(()) => {
            l.data.insert(key.into_inner(), value);
            return HttpResponse::Ok().finish();
        }
        Err(StoreError::Fenced(why)) => HttpResponse::Conflict().body(why),
        Err(StoreError::Unknown(why)) => HttpResponse::GatewayTimeout().body(why),
    };
    // Deposed, or unsure what the store holds: stop leading and let the next leader (maybe
    // this replica, under a newer token) load afresh.
    *leading = None;
    r.leadership.given_up.notify_one();
    response
}

async fn healthz(r: Data) -> HttpResponse {
    if !r.lock.node().is_running() {
        return HttpResponse::ServiceUnavailable().body("node stopped");
    }
    let role = if r.leadership.state.lock().await.is_some() { "leader" } else { "follower" };
    HttpResponse::Ok().body(role)
}

/// Starts the HTTP server on the node's actix system.
pub fn serve(lock: NamedLock, leadership: Leadership, settings: Settings) -> Result<(), String> {
    let store = Client::new(settings.store, settings.store_timeout);
    let replica = web::Data::new(Replica { lock, leadership, store, http: settings.http });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(replica.clone())
            .app_data(web::PayloadConfig::new(MAX_VALUE))
            .route("/kv/{key}", web::get().to(get))
            .route("/kv/{key}", web::put().to(put))
            .route("/healthz", web::get().to(healthz))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(settings.http)
    .map_err(|e| format!("http {}: {e}", settings.http))?;
    palisade::actix::actix::spawn(server.run());
    Ok(())
}
