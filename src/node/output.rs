//! Bounded, lossy output for `palisade node`: event lines and log lines never block the
//! thread that produces them (the node's actix arbiter, whose timers and heartbeats must
//! not wait for a reader that is not reading).
//!
//! Lines go through a bounded channel to a writer thread of their own, which writes them to
//! the sink (stdout, stderr). The producer only ever `try_send`s: when the channel is full the
//! line is dropped and counted. Once the writer has caught up (the channel is empty again),
//! it reports the lines dropped since its last report (at most once per `every`), and
//! [`Lossy::finish`] reports the rest at shutdown, or says that the sink never drained.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often the writer thread looks at its flags while idle.
const TICK: Duration = Duration::from_millis(100);

/// Lines dropped, as told to a [`Report`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Since the last report.
    pub since_last: u64,
    /// Since the start.
    pub total: u64,
    /// True for the report [`Lossy::finish`] asks for.
    pub at_exit: bool,
}

/// Called on the writer thread, once it has caught up, when lines were dropped since the
/// last report; what it returns is written to the sink.
pub type Report = Box<dyn FnMut(Dropped) -> Option<String> + Send>;

/// What [`Lossy::finish`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    /// Lines dropped because the channel was full (or the writer had stopped).
    pub dropped: u64,
    /// Lines accepted into the channel but not written by the deadline.
    pub unwritten: u64,
    /// False when the writer did not catch up by the deadline (the sink is not drained).
    pub drained: bool,
}

struct Shared {
    tx: SyncSender<Vec<u8>>,
    /// Lines accepted into the channel.
    sent: AtomicU64,
    /// Lines the writer has written to the sink.
    written: AtomicU64,
    /// Lines dropped: the channel was full.
    dropped: AtomicU64,
    /// Set by `finish`: report what is left and stop once caught up.
    closing: AtomicBool,
    /// Set by the writer thread when it stops.
    done: Mutex<bool>,
    stopped: Condvar,
}

/// A bounded, lossy line writer with its own thread. Clones share the channel.
#[derive(Clone)]
pub struct Lossy {
    shared: Arc<Shared>,
}

impl Lossy {
    /// Starts a writer thread called `name` writing to `sink`, with room for `capacity`
    /// lines; `report` says what to write when lines were dropped, at most once per `every`.
    pub fn spawn<W: Write + Send + 'static>(
        name: &str,
        sink: W,
        capacity: usize,
        every: Duration,
        report: Report,
    ) -> std::io::Result<Lossy> {
        let (tx, rx) = sync_channel(capacity.max(1));
        let shared = Arc::new(Shared {
            tx,
            sent: AtomicU64::new(0),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            done: Mutex::new(false),
            stopped: Condvar::new(),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || pump(rx, sink, &writer, capacity.max(1), every, report))?;
        Ok(Lossy { shared })
    }

    /// Queues `bytes` (one or more whole lines) for the writer, or drops and counts them if
    /// the channel is full or [`Lossy::finish`] has begun. Never blocks.
    pub fn send(&self, bytes: Vec<u8>) {
        // Once `finish` has begun, the writer may stop at any moment: a line queued now could
        // sit in a channel nobody reads, uncounted. Drop and count it instead.
        if self.shared.closing.load(Ordering::SeqCst) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.shared.tx.try_send(bytes) {
            Ok(()) => {
                self.shared.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Queues `line` and a newline (see [`Lossy::send`]).
    pub fn line(&self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.send(bytes);
    }

    /// Counts `n` lines as dropped that never reached this writer (a producer that fell
    /// behind upstream, say).
    pub fn count_dropped(&self, n: u64) {
        self.shared.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Lines written to the sink so far.
    #[cfg(test)]
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Asks the writer to write what is queued, report the drops not yet reported and stop;
    /// waits at most `within` for it (a sink that is not drained never lets it finish).
    /// Lines sent afterwards are dropped and counted.
    pub fn finish(&self, within: Duration) -> Finished {
        self.shared.closing.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + within;
        let mut done = self.shared.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            done = self.shared.stopped.wait_timeout(done, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        let drained = *done;
        drop(done);
        let sent = self.shared.sent.load(Ordering::SeqCst);
        let written = self.shared.written.load(Ordering::SeqCst);
        Finished { dropped: self.dropped(), unwritten: sent.saturating_sub(written), drained }
    }
}

/// The writer thread: writes what arrives; whenever the channel is empty again, reports new
/// drops (rate-limited); on `finish`, reports the rest once caught up and stops.
fn pump<W: Write>(
    rx: Receiver<Vec<u8>>,
    mut sink: W,
    shared: &Shared,
    batch: usize,
    every: Duration,
    mut report: Report,
) {
    let mut reported = 0u64;
    let mut last_report: Option<Instant> = None;
    let write = |sink: &mut W, bytes: &[u8]| {
        // A sink that fails (a closed pipe) loses the line: there is nobody to tell.
        let _ = sink.write_all(bytes);
        shared.written.fetch_add(1, Ordering::SeqCst);
    };
    loop {
        let mut caught_up = match rx.recv_timeout(TICK) {
            Ok(bytes) => {
                write(&mut sink, &bytes);
                false
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        // Whatever else is queued, a channel's worth at most before looking at the flags.
        if !caught_up {
            for _ in 0..batch {
                match rx.try_recv() {
                    Ok(bytes) => write(&mut sink, &bytes),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        caught_up = true;
                        break;
                    }
                }
            }
        }
        let _ = sink.flush();
        if !caught_up {
            continue;
        }
        let closing = shared.closing.load(Ordering::SeqCst);
        let dropped = shared.dropped.load(Ordering::SeqCst);
        let due = closing || last_report.is_none_or(|t| t.elapsed() >= every);
        if dropped > reported && due {
            let at_exit = closing;
            if let Some(text) = report(Dropped { since_last: dropped - reported, total: dropped, at_exit }) {
                let _ = sink.write_all(text.as_bytes());
                let _ = sink.flush();
            }
            reported = dropped;
            last_report = Some(Instant::now());
        }
        if closing {
            break;
        }
    }
    *shared.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
    shared.stopped.notify_all();
}

/// One log event's bytes, sent as one message when the formatter drops it.
pub struct LogLine<'a> {
    out: &'a Lossy,
    buf: Vec<u8>,
}

impl Write for LogLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.out.send(std::mem::take(&mut self.buf));
        }
        Ok(())
    }
}

impl Drop for LogLine<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lossy {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> LogLine<'a> {
        LogLine { out: self, buf: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that blocks every write until opened, like a pipe nobody reads.
    #[derive(Clone, Default)]
    struct Gated {
        open: Arc<(Mutex<bool>, Condvar)>,
        out: Arc<Mutex<Vec<u8>>>,
    }

    impl Gated {
        fn open(&self) {
            *self.open.0.lock().unwrap() = true;
            self.open.1.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8(self.out.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut open = self.open.0.lock().unwrap();
            while !*open {
                open = self.open.1.wait(open).unwrap();
            }
            self.out.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn reporting(what: &'static str) -> Report {
        Box::new(move |d: Dropped| {
            Some(format!(
                "{} {what} lines dropped ({} in all, at exit: {})\n",
                d.since_last, d.total, d.at_exit
            ))
        })
    }

    /// Runs `f` on another thread and fails the test if it takes longer than `within`
    /// (a blocking `send` would hang the test instead of failing it).
    fn within<T: Send + 'static>(within: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(within).expect("the producer was blocked")
    }

    #[test]
    fn a_blocked_sink_never_blocks_the_producer_and_drops_are_counted_and_reported() {
        let sink = Gated::default();
        let out = Lossy::spawn("test-blocked", sink.clone(), 16, Duration::ZERO, reporting("event")).unwrap();
        let producer = out.clone();
        let took = within(Duration::from_secs(20), move || {
            let start = Instant::now();
            for i in 0..10_000 {
                producer.line(&format!("line {i}"));
            }
            start.elapsed()
        });
        assert!(took < Duration::from_secs(5), "10,000 sends took {took:?}");
        // At most the channel's 16 lines and the one the writer holds got through.
        let dropped = out.dropped();
        assert!(dropped >= 10_000 - 17, "dropped {dropped}");
        // Still blocked at shutdown: finish gives up at its deadline and says so.
        let f = out.finish(Duration::from_millis(200));
        assert!(!f.drained);
        assert_eq!(f.dropped, dropped);
        assert_eq!(f.dropped + f.unwritten + out.written(), 10_000);
        // Once the reader drains, what was queued is written, in order, then the report.
        sink.open();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sink.text().contains("lines dropped") {
            assert!(Instant::now() < deadline, "no report: {}", sink.text());
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = sink.text();
        let lines: Vec<&str> = text.lines().collect();
        let kept = 10_000 - dropped as usize;
        assert_eq!(lines.len(), kept + 1, "{text}");
        let numbers: Vec<usize> =
            lines[..kept].iter().map(|l| l.strip_prefix("line ").unwrap().parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order: {numbers:?}");
        assert_eq!(lines[kept], format!("{dropped} event lines dropped ({dropped} in all, at exit: true)"));
    }

    #[test]
    fn drops_are_reported_once_the_writer_catches_up() {
        let sink = Gated::default();
        let out = Lossy::spawn("test-catch-up", sink.clone(), 4, Duration::ZERO, reporting("log")).unwrap();
        for i in 0..100 {
            out.line(&format!("line {i}"));
        }
        let dropped = out.dropped();
        assert!(dropped >= 95, "{dropped}");
        sink.open();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sink.text().contains("lines dropped") {
            assert!(Instant::now() < deadline, "no report: {}", sink.text());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            sink.text()
                .ends_with(&format!("{dropped} log lines dropped ({dropped} in all, at exit: false)\n"))
        );
        // Nothing more dropped: nothing more to report at exit.
        let f = out.finish(Duration::from_secs(10));
        assert_eq!(f, Finished { dropped, unwritten: 0, drained: true });
        assert_eq!(sink.text().matches("lines dropped").count(), 1);
    }

    #[test]
    fn nothing_is_lost_when_the_sink_keeps_up() {
        let sink = Gated::default();
        sink.open();
        let out =
            Lossy::spawn("test-keeps-up", sink.clone(), 5_000, Duration::ZERO, reporting("event")).unwrap();
        for i in 0..5_000 {
            out.line(&format!("line {i}"));
        }
        let f = out.finish(Duration::from_secs(10));
        assert_eq!(f, Finished { dropped: 0, unwritten: 0, drained: true });
        let want: String = (0..5_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(sink.text(), want, "every line, in order, and no report");
        // After finish, lines are dropped and counted, not blocked on.
        out.line("late");
        assert_eq!(out.dropped(), 1);
    }

    #[test]
    fn as_a_tracing_writer_each_log_event_is_one_line() {
        let sink = Gated::default();
        sink.open();
        let out =
            Lossy::spawn("test-tracing", sink.clone(), 1_000, Duration::ZERO, reporting("log")).unwrap();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(out.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..100 {
                tracing::info!(i, "hello");
            }
        });
        assert!(out.finish(Duration::from_secs(10)).drained);
        let text = sink.text();
        assert_eq!(text.lines().count(), 100, "{text}");
        assert!(text.lines().all(|l| l.contains("INFO") && l.contains("hello")), "{text}");
        assert!(text.lines().last().unwrap().ends_with("i=99"), "{text}");
    }
}
