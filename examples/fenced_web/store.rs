//! The store: the data on disk, behind a fencing check. `fenced_web store --listen ADDR
//! --data FILE` serves
//!
//! - `POST /load?token=T&seq=S&leader=ADDR`: admits (T, S), records ADDR as the leader's
//!   HTTP address and answers the data as JSON;
//! - `PUT /kv/KEY?token=T&seq=S` with the value as the body: admits (T, S), then stores it;
//! - `GET /leader`: the HTTP address of the replica that loaded last;
//!
//! and answers `409` with the reason to a request it does not admit. It writes its state
//! (data, highest token and number) to FILE and fsyncs it before it answers.

use actix_web::{App, HttpResponse, HttpServer, web};
use palisade::core::fencing::{Fenced, FencedResource, FencingToken};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

/// What the store keeps on disk.
#[derive(Default, Serialize, Deserialize)]
struct Saved {
    token: u64,
    seq: u64,
    leader: Option<String>,
    data: BTreeMap<String, String>,
}

/// The store's state.
pub struct Store {
    fence: FencedResource,
    saved: Saved,
    file: PathBuf,
}

impl Store {
    /// The fencing check: admits request `seq` under `token` iff it is above every request
    /// admitted so far (token first), remembering it.
    fn admit(&mut self, token: u64, seq: u64) -> Result<(), Fenced> {
        self.fence.admit(FencingToken(token), seq)
    }

    /// Writes the state to a temporary file, fsyncs it, renames it over the file and
    /// fsyncs the directory. A store that cannot do so exits: it must not answer.
    fn save(&mut self) {
        (self.saved.token, self.saved.seq) = (self.fence.highest().0, self.fence.highest_seq());
        let write = || -> std::io::Result<()> {
            let mut tmp = self.file.clone().into_os_string();
            tmp.push(".tmp");
            let mut f = std::fs::File::create(&tmp)?;
            serde_json::to_writer(&mut f, &self.saved)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.file)?;
            std::fs::File::open(
                self.file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")),
            )?
            .sync_all()
        };
        if let Err(e) = write() {
            eprintln!("fenced_web store: cannot save {}: {e}", self.file.display());
            std::process::exit(1);
        }
    }
}

/// A request's place in the fencing order.
#[derive(Deserialize)]
struct Fence {
    token: u64,
    seq: u64,
    leader: Option<String>,
}

type Shared = web::Data<Mutex<Store>>;

fn refused(why: Fenced) -> HttpResponse {
    HttpResponse::Conflict().body(format!("fenced: {why}"))
}

async fn load(store: Shared, q: web::Query<Fence>) -> HttpResponse {
    let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(why) = s.admit(q.token, q.seq) {
        return refused(why);
    }
    s.saved.leader = q.leader.clone();
    s.save();
    HttpResponse::Ok().json(&s.saved.data)
}

async fn put(store: Shared, key: web::Path<String>, q: web::Query<Fence>, value: String) -> HttpResponse {
    let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(why) = s.admit(q.token, q.seq) {
        return refused(why);
    }
    s.saved.data.insert(key.into_inner(), value);
    s.save();
    HttpResponse::Ok().finish()
}

async fn leader(store: Shared) -> HttpResponse {
    match store.lock().unwrap_or_else(|p| p.into_inner()).saved.leader.clone() {
        Some(addr) => HttpResponse::Ok().body(addr),
        None => HttpResponse::NotFound().body("no leader has loaded yet"),
    }
}

/// `store --listen ADDR --data FILE`.
pub fn main(mut args: impl Iterator<Item = String>) -> ExitCode {
    let (mut listen, mut file) = (None, None);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--listen", Some(v)) => match v.parse::<SocketAddr>() {
                Ok(addr) => listen = Some(addr),
                Err(e) => return usage(&format!("--listen {v}: {e}")),
            },
            ("--data", Some(v)) => file = Some(PathBuf::from(v)),
            _ => return usage(&format!("unexpected argument `{a}`")),
        }
    }
    let (Some(listen), Some(file)) = (listen, file) else { return usage("--listen and --data are required") };
    let saved: Saved = match std::fs::read(&file) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => return usage(&format!("{}: {e}", file.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
        Err(e) => return usage(&format!("{}: {e}", file.display())),
    };
    let fence = FencedResource::restore(FencingToken(saved.token), saved.seq);
    let store = web::Data::new(Mutex::new(Store { fence, saved, file }));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(store.clone())
            .route("/load", web::post().to(load))
            .route("/kv/{key}", web::put().to(put))
            .route("/leader", web::get().to(leader))
    })
    .workers(1)
    .shutdown_timeout(1);
    let run = match server.bind(listen) {
        Ok(s) => s.run(),
        Err(e) => {
            eprintln!("fenced_web store: listen {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    match actix_web::rt::System::new().block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fenced_web store: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("fenced_web store: {msg}; usage: store --listen ADDR --data FILE");
    ExitCode::from(2)
}

/// The largest answer a replica reads from the store: all the data, as JSON (a byte of a
/// value takes at most six, `\u0000`).
const MAX_ANSWER: usize = crate::replica::MAX_KEYS * (crate::replica::MAX_VALUE * 6 + 200);

/// Why a request to the store did not succeed.
pub enum StoreError {
    /// The store refused it (the reason): it did not take effect.
    Fenced(String),
    /// No answer, or a malformed one: it may or may not have taken effect.
    Unknown(String),
}

/// A replica's client of the store.
#[derive(Clone)]
pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
}

impl Client {
    /// A client of the store at `addr`, waiting at most `timeout` for each answer.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Client {
        Client { addr, timeout }
    }

    async fn send(&self, req: awc::ClientRequest, body: String) -> Result<web::Bytes, StoreError> {
        let unknown = |e: &dyn std::fmt::Display| StoreError::Unknown(e.to_string());
        let mut resp = req.send_body(body).await.map_err(|e| unknown(&e))?;
        let bytes = resp.body().limit(MAX_ANSWER).await.map_err(|e| unknown(&e))?;
        match resp.status().as_u16() {
            200 => Ok(bytes),
            409 => Err(StoreError::Fenced(String::from_utf8_lossy(&bytes).into_owned())),
            s => Err(StoreError::Unknown(format!("status {s}"))),
        }
    }

    fn request(&self, method: awc::http::Method, path: &str) -> awc::ClientRequest {
        // One connection per request: the client is not shared between threads.
        awc::Client::builder()
            .timeout(self.timeout)
            .finish()
            .request(method, format!("http://{}{path}", self.addr))
    }

    /// Loads the data under `token` (request `seq`), recording `http` as the leader.
    pub async fn load(
        &self,
        token: u64,
        seq: u64,
        http: SocketAddr,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let req =
            self.request(awc::http::Method::POST, &format!("/load?token={token}&seq={seq}&leader={http}"));
        let bytes = self.send(req, String::new()).await?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Unknown(e.to_string()))
    }

    /// Stores `value` at `key` under `token` (request `seq`).
    pub async fn put(&self, key: &str, value: String, token: u64, seq: u64) -> Result<(), StoreError> {
        // Keys are checked by the replica (`replica::valid_key`): they need no escaping.
        let path = format!("/kv/{key}?token={token}&seq={seq}");
        self.send(self.request(awc::http::Method::PUT, &path), value).await.map(drop)
    }

    /// The HTTP address of the replica that loaded last, if any.
    pub async fn leader(&self) -> Option<String> {
        let bytes = self.send(self.request(awc::http::Method::GET, "/leader"), String::new()).await.ok()?;
        String::from_utf8(bytes.to_vec()).ok()
    }
}
