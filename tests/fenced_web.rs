//! `examples/fenced_web`: three replicas of an HTTP key-value service, their leader elected
//! by palisade's majority locks and fenced at a store, run as real processes and driven by
//! real HTTP clients. The leader is SIGSTOPped past its lease with a write on its way to the
//! store; a new leader must serve writes, the old leader's late write must be refused by
//! token, and the whole history of client operations must be linearizable.

mod common;

use common::{Cluster, example, free_port};
use palisade::core::history::models::Kv;
use palisade::core::history::{Budget, Event, EventKind, Value, Verdict, check_by_key, pair};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A TCP relay in front of the store for one replica: the network between them. Held, it
/// keeps what the replica sends (a write delayed in the network, DDIA figure 8-5) and
/// records it; released, it delivers it. It connects to the store only when it has
/// something to deliver, so the store never sees a connection stay silent.
struct Relay {
    addr: SocketAddr,
    held: Arc<AtomicBool>,
    /// What arrived from the replica while held, as text.
    caught: Arc<Mutex<String>>,
}

impl Relay {
    fn start(store: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (held, caught) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(String::new())));
        let (h, c) = (held.clone(), caught.clone());
        std::thread::spawn(move || {
            for from in listener.incoming().flatten() {
                let (h, c) = (h.clone(), c.clone());
                std::thread::spawn(move || forward(from, store, &h, &c));
            }
        });
        Relay { addr, held, caught }
    }
}

/// Delivers what `from` sends to a new connection to `store` (and the answers back),
/// holding bytes that arrive while `held` is set until it is cleared.
fn forward(mut from: TcpStream, store: SocketAddr, held: &AtomicBool, caught: &Mutex<String>) {
    let mut buf = [0u8; 16 * 1024];
    let mut to: Option<TcpStream> = None;
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if held.load(Ordering::SeqCst) {
            caught.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            while held.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if to.is_none() {
            let Ok(t) = TcpStream::connect(store) else { break };
            let (mut back, mut client) = (t.try_clone().unwrap(), from.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut back, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
            });
            to = Some(t);
        }
        if to.as_mut().is_some_and(|t| t.write_all(&buf[..n]).is_err()) {
            break;
        }
    }
    if let Some(t) = to {
        let _ = t.shutdown(std::net::Shutdown::Write);
    }
}

/// The store process; killed on drop.
struct Store(Child);

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every client's invocations and outcomes, in the order they happened.
#[derive(Clone)]
struct History {
    start: Instant,
    events: Arc<Mutex<Vec<Event>>>,
}

impl History {
    fn record(&self, process: u64, kind: EventKind, f: &str, key: &str, value: Value) {
        let mut events = self.events.lock().unwrap();
        let time = self.start.elapsed().as_nanos() as u64;
        let line = events.len() + 1;
        events.push(Event { process, kind, f: f.into(), key: Some(key.into()), value, time, line });
    }
}

/// What a client learnt of one request (after following redirects).
#[derive(Debug, PartialEq)]
enum Answer {
    Ok(Option<String>),
    /// 409 (the store refused) or 503 (not leading): it did not take effect.
    Refused(u16, String),
    /// No answer, or 504: it may have taken effect.
    Unknown(String),
}

fn request(agent: &ureq::Agent, method: &str, mut url: String, body: &str) -> Answer {
    for _ in 0..4 {
        let req = agent.request(method, &url);
        let result = if method == "PUT" { req.send_string(body) } else { req.call() };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                return match code {
                    404 if method == "GET" => Answer::Ok(None),
                    409 | 503 => Answer::Refused(code, text),
                    _ => Answer::Unknown(format!("{code} {text}")),
                };
            }
            Err(e) => return Answer::Unknown(e.to_string()),
        };
        match resp.status() {
            307 => url = resp.header("location").unwrap_or_default().to_string(),
            200 => return Answer::Ok(Some(resp.into_string().unwrap_or_default())),
            code => return Answer::Unknown(format!("status {code}")),
        }
    }
    Answer::Refused(503, "too many redirects".into())
}

/// One operation, recorded: a get or a put of `key` through replica `via`.
fn operate(h: &History, agent: &ureq::Agent, process: u64, via: u16, put: Option<&str>, key: &str) -> Answer {
    let (f, arg) = match put {
        Some(v) => ("put", Value::Str(v.into())),
        None => ("get", Value::Nil),
    };
    h.record(process, EventKind::Invoke, f, key, arg.clone());
    let url = format!("http://127.0.0.1:{via}/kv/{key}");
    let answer = request(agent, if put.is_some() { "PUT" } else { "GET" }, url, put.unwrap_or(""));
    match &answer {
        Answer::Ok(v) if put.is_none() => {
            h.record(process, EventKind::Ok, f, key, v.clone().map_or(Value::Nil, Value::Str))
        }
        Answer::Ok(_) => h.record(process, EventKind::Ok, f, key, arg),
        Answer::Refused(..) => h.record(process, EventKind::Fail, f, key, arg),
        Answer::Unknown(_) => h.record(process, EventKind::Info, f, key, arg),
    }
    answer
}

/// Clients doing random gets and puts of a few keys through random replicas until stopped.
struct Workload {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<(u64, u64)>>,
}

impl Workload {
    fn start(h: &History, https: &[u16], first_process: u64, seed: u64) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..3)
            .map(|c| {
                let (h, https, stop) = (h.clone(), https.to_vec(), stop.clone());
                std::thread::spawn(move || {
                    let agent =
                        ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).redirects(0).build();
                    let mut x = seed.wrapping_mul(31).wrapping_add(c) | 1;
                    let mut next = move || {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x
                    };
                    let (mut process, mut n, mut ok) = (first_process + c, 0, 0);
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let key = ["a", "b", "c"][(next() % 3) as usize];
                        let via = https[(next() % 3) as usize];
                        let value = format!("w{process}-{n}");
                        let put = (next() % 2 == 0).then_some(value.as_str());
                        match operate(&h, &agent, process, via, put, key) {
                            Answer::Ok(_) => ok += 1,
                            // A client whose operation's outcome is unknown is gone; a new
                            // one takes its place (as Jepsen's processes do).
                            Answer::Unknown(_) => process += 100,
                            Answer::Refused(..) => std::thread::sleep(Duration::from_millis(20)),
                        }
                    }
                    (n, ok)
                })
            })
            .collect();
        Workload { stop, threads }
    }

    /// Stops the clients; (operations, successes).
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        self.threads.into_iter().map(|t| t.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

fn healthz(port: u16) -> Option<String> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_millis(500)).build();
    agent.get(&format!("http://127.0.0.1:{port}/healthz")).call().ok()?.into_string().ok()
}

/// The last lines of every replica's log, for failure messages.
fn logs(cluster: &Cluster) -> String {
    (1..=3)
        .map(|id| {
            let text = std::fs::read_to_string(cluster.dir.join(format!("n{id}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            format!("--- replica {id}\n{}\n", lines[lines.len().saturating_sub(25)..].join("\n"))
        })
        .chain(std::iter::once(format!("--- events\n{}", cluster.tail(30).join("\n"))))
        .collect()
}

fn wait_until<T>(cluster: &Cluster, within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", logs(cluster));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_paused_leaders_late_write_is_refused_and_the_history_is_linearizable() {
    let store_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let relays: Vec<Relay> = (0..3).map(|_| Relay::start(store_addr)).collect();
    let https: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let metrics: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut cluster = Cluster::new("fenced-web", 3, |id, _| {
        format!(
            "cluster = 41\n\n[protocol]\nterm_ms = 1500\nretry_ms = 100\nmax_drift_ppm = 1000\n\n\
             [app]\nhttp = \"127.0.0.1:{}\"\nstore = \"{}\"\nstore_timeout_ms = 60000\n",
            https[id - 1],
            relays[id - 1].addr
        )
    })
    .running(example("fenced_web"), &[]);
    let data = cluster.dir.join("store.json");
    let _store = Store(
        Command::new(example("fenced_web"))
            .args(["store", "--listen", &store_addr.to_string(), "--data"])
            .arg(&data)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for id in 1..=3 {
        let m = format!("127.0.0.1:{}", metrics[id - 1]);
        cluster.start_logged_with(id, &["--metrics", &m]);
    }
    let leader_of = |skip: Option<usize>| {
        (1..=3).filter(|&id| Some(id) != skip).find(|&id| healthz(https[id - 1]).as_deref() == Some("leader"))
    };
    let old = wait_until(&cluster, Duration::from_secs(60), "a first leader", || leader_of(None));

    let h = History { start: Instant::now(), events: Arc::default() };
    let before = Workload::start(&h, &https, 1, 1);
    std::thread::sleep(Duration::from_secs(2));
    let (ops_before, ok_before) = before.stop();

    // The leader's write leaves for the store and is held in the network; the leader is
    // paused past its lease while it is.
    relays[old - 1].held.store(true, Ordering::SeqCst);
    let late = {
        let (h, port) = (h.clone(), https[old - 1]);
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(90)).redirects(0).build();
            operate(&h, &agent, 9_000, port, Some("late"), "fenced")
        })
    };
    wait_until(&cluster, Duration::from_secs(10), "the late write to reach the network", || {
        relays[old - 1].caught.lock().unwrap().contains("/kv/fenced?").then_some(())
    });
    cluster.signal(old, "STOP");
    let during = Workload::start(&h, &https, 1_000, 2);
    let new = wait_until(&cluster, Duration::from_secs(60), "a new leader", || leader_of(Some(old)));
    assert_ne!(new, old);
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).redirects(0).build();
    let served = operate(&h, &agent, 9_001, https[new - 1], Some("new"), "fenced");
    assert_eq!(served, Answer::Ok(Some(String::new())), "the new leader serves writes");

    // The old leader wakes, and its write arrives after its successor's.
    cluster.signal(old, "CONT");
    relays[old - 1].held.store(false, Ordering::SeqCst);
    let answer = late.join().unwrap();
    let Answer::Refused(409, why) = &answer else {
        panic!("the late write was not refused by token: {answer:?}\n{}", logs(&cluster))
    };
    // Refused for its token (a newer one has loaded), not as a replay under the current one.
    assert!(why.contains("fenced: stale"), "{why}");
    std::thread::sleep(Duration::from_secs(2));
    let (ops_during, ok_during) = during.stop();
    let read = operate(&h, &agent, 9_002, https[old - 1], None, "fenced");
    assert_eq!(read, Answer::Ok(Some("new".into())), "the late write did not overwrite the new one");

    // The new leader is paused in turn, with nothing in flight, and a read sent to it while
    // it sleeps; a third leader writes. Woken, the paused one must not answer from memory:
    // its lease view says it no longer leads (503), or it has already stepped down (and
    // redirects to the newest value).
    cluster.signal(new, "STOP");
    let stale = {
        let (h, port) = (h.clone(), https[new - 1]);
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(90)).redirects(0).build();
            operate(&h, &agent, 9_003, port, None, "fenced")
        })
    };
    let third = wait_until(&cluster, Duration::from_secs(60), "a third leader", || leader_of(Some(new)));
    let wrote = operate(&h, &agent, 9_004, https[third - 1], Some("newer"), "fenced");
    assert_eq!(wrote, Answer::Ok(Some(String::new())), "the third leader serves writes");
    cluster.signal(new, "CONT");
    let answer = stale.join().unwrap();
    assert!(
        matches!(&answer, Answer::Refused(503, _)) || answer == Answer::Ok(Some("newer".into())),
        "a deposed leader answered a read from memory: {answer:?}"
    );

    // Every client operation, old leader's and new's, in one linearizable order.
    let events = h.events.lock().unwrap().clone();
    let ops = pair(&events).unwrap();
    let verdict = check_by_key(&Kv, &ops, |op| op.input.key.clone(), Budget::default());
    assert!(
        matches!(verdict, Verdict::Linearizable { .. }),
        "{verdict:?}\n{}",
        palisade::history::to_jsonl(&events)
    );
    assert!(
        ok_before >= 10 && ok_during >= 10,
        "too few operations succeeded: {ok_before}/{ops_before} before, {ok_during}/{ops_during} during and after the pause"
    );
    eprintln!(
        "{} operations: {ok_before}/{ops_before} ok before the pause, {ok_during}/{ops_during} during and after",
        ops.len()
    );

    // The new leader's metrics count its acquisition.
    let text = ureq::get(&format!("http://127.0.0.1:{}/metrics", metrics[new - 1]))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(text.contains("palisade_events_total{event=\"acquired\"}"), "{text}");
    // Some replica's gauges say it holds the lock, with lease left.
    let gauge = |text: &str, name: &str| {
        text.lines().find_map(|l| l.strip_prefix(&format!("{name}{{name=\"leader\"}} "))?.parse::<f64>().ok())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (held, left) = loop {
        let scraped = metrics.iter().find_map(|port| {
            let text =
                ureq::get(&format!("http://127.0.0.1:{port}/metrics")).call().ok()?.into_string().ok()?;
            let held = gauge(&text, "palisade_lock_held").filter(|&h| h == 1.0)?;
            Some((held, gauge(&text, "palisade_lock_lease_seconds")))
        });
        match scraped {
            Some(found) => break found,
            None if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => panic!("no replica's palisade_lock_held{{name=\"leader\"}} reads 1"),
        }
    };
    assert_eq!(held, 1.0);
    assert!(left.is_some_and(|s| s > 0.0), "palisade_lock_lease_seconds: {left:?}");
}
