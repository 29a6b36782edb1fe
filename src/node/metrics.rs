//! `--metrics ADDR`: the node's metrics in the Prometheus text format at `GET /metrics`, and
//! `GET /healthz` (200 while the node runs, 503 once it has stopped).
//!
//! The runtime records through the `metrics` facade: `palisade_events_total{event}` (every
//! protocol event, suspicions and elections included, by kind) and
//! `palisade_persist_seconds` (how long each `Persist` took to become durable), and the
//! protocol's own gauges (`Protocol::gauges`: whether it holds a lease or leads, and for how
//! long). The
//! transport's counters are read at each scrape: `palisade_frames_in_total`,
//! `palisade_frames_out_total`, `palisade_rejected_total`, `palisade_refused_total`,
//! `palisade_timed_out_total`, `palisade_connects_total` and `palisade_dropped_total{why}`.
//!
//! The endpoint is unauthenticated, so it holds little: at most [`MAX_CONNECTIONS`] at once
//! (a new one closes the oldest), [`MAX_REQUEST`] bytes of request, [`REQUEST_TIMEOUT`] to
//! send it; one response per connection.

use crate::actix::TransportStats;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Connections served at once; more are closed unanswered.
pub const MAX_CONNECTIONS: usize = 16;
/// The longest request head read.
pub const MAX_REQUEST: usize = 4096;
/// How long a client has to send its request and read the response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the recorder folds recorded samples into its summaries.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use (a process has one).
pub fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().map_err(|e| e.to_string())).clone()
}

/// Copies the transport's counters into the recorder.
pub fn record_transport(stats: &TransportStats) {
    let c = stats.counts();
    metrics::counter!("palisade_frames_in_total").absolute(c.frames_in);
    metrics::counter!("palisade_frames_out_total").absolute(c.frames_out);
    metrics::counter!("palisade_rejected_total").absolute(c.rejected);
    metrics::counter!("palisade_refused_total").absolute(c.refused);
    metrics::counter!("palisade_timed_out_total").absolute(c.timed_out);
    metrics::counter!("palisade_connects_total").absolute(c.connects);
    metrics::counter!("palisade_dropped_total", "why" => "queue_full").absolute(c.dropped_queue_full);
    metrics::counter!("palisade_dropped_total", "why" => "link_down").absolute(c.dropped_link_down);
    metrics::counter!("palisade_dropped_total", "why" => "unknown_peer").absolute(c.dropped_unknown_peer);
}

/// What the endpoint needs from the node: a refresh before each scrape, and whether it runs.
pub struct Source {
    /// The recorder to render.
    pub handle: PrometheusHandle,
    /// Called before rendering (copies counters kept elsewhere into the recorder).
    pub refresh: Box<dyn Fn()>,
    /// True while the node runs.
    pub healthy: Box<dyn Fn() -> bool>,
}

/// Serves `/metrics` and `/healthz` on `listener` until the task is dropped. When
/// [`MAX_CONNECTIONS`] are open, a new connection closes the oldest: a client that holds
/// connections open without finishing its request delays others by one round of
/// connections at most, instead of shutting them out (a health check connects and asks at
/// once, so it is the newest when it is answered).
pub async fn serve(listener: tokio::net::TcpListener, source: Source) {
    let source = Rc::new(source);
    let mut open: std::collections::VecDeque<tokio::task::JoinHandle<()>> = Default::default();
    let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors, say: back off instead of spinning.
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            // The recorder keeps histogram samples until upkeep folds them in: without it a
            // node nobody scrapes would grow.
            _ = upkeep.tick() => {
                source.handle.run_upkeep();
                continue;
            }
        };
        open.retain(|task| !task.is_finished());
        if open.len() >= MAX_CONNECTIONS
            && let Some(oldest) = open.pop_front()
        {
            oldest.abort();
            tracing::debug!("metrics endpoint: {MAX_CONNECTIONS} connections open; the oldest closed");
        }
        let source = source.clone();
        open.push_back(actix::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &source)).await;
        }));
    }
}

/// Reads one request head and writes one response.
async fn answer(mut stream: tokio::net::TcpStream, source: &Source) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_REQUEST {
            return respond(&mut stream, "431 Request Header Fields Too Large", "request too large\n").await;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = std::str::from_utf8(line).unwrap_or_default().split(' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    match (method, path) {
        ("GET", "/metrics") => {
            (source.refresh)();
            respond(&mut stream, "200 OK", &source.handle.render()).await
        }
        ("GET", "/healthz") if (source.healthy)() => respond(&mut stream, "200 OK", "ok\n").await,
        ("GET", "/healthz") => respond(&mut stream, "503 Service Unavailable", "stopped\n").await,
        ("GET", _) => respond(&mut stream, "404 Not Found", "try /metrics or /healthz\n").await,
        _ if parts.next().is_some_and(|v| v.starts_with("HTTP/")) => {
            respond(&mut stream, "405 Method Not Allowed", "GET only\n").await
        }
        _ => respond(&mut stream, "400 Bad Request", "not an HTTP request\n").await,
    }
}

async fn respond(stream: &mut tokio::net::TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
