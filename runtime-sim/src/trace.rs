//! The record of a run: every event, a hash that identifies identical runs, and an
//! optional JSON-lines export.

use palisade_core::NodeId;
use serde::Serialize;
use std::io::Write;

mod digest;

pub use digest::{digest, digest_bytes};

/// Why a message was not delivered.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// Lost on the link.
    Loss,
    /// The recipient was down when the message arrived.
    RecipientDown,
    /// The recipient is not a member of the simulated cluster.
    UnknownRecipient,
    /// A partition cut the link (at send or at arrival).
    Partition,
    /// The link's transmit queue was full.
    Congestion,
    /// The bytes did not decode as a message (an adversary's garbage).
    Undecodable,
}

/// One event of a run, as traced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TraceKind {
    /// A node sent a message that will arrive at `deliver_ns`.
    Send {
        /// Sender.
        from: NodeId,
        /// Recipient.
        to: NodeId,
        /// True time of arrival.
        deliver_ns: u64,
    },
    /// The network duplicated a message; this copy arrives at `deliver_ns`.
    Duplicate {
        /// Sender.
        from: NodeId,
        /// Recipient.
        to: NodeId,
        /// True time of arrival of the copy.
        deliver_ns: u64,
    },
    /// A message was not delivered.
    Drop {
        /// Sender.
        from: NodeId,
        /// Intended recipient.
        to: NodeId,
        /// Why.
        reason: DropReason,
    },
    /// A message reached its recipient's protocol.
    Deliver {
        /// Sender.
        from: NodeId,
        /// Recipient.
        to: NodeId,
    },
    /// A node's timeout fired; `mono_ns` is the node's own monotonic reading.
    Timeout {
        /// The node.
        node: NodeId,
        /// Its monotonic clock reading.
        mono_ns: u64,
    },
    /// A node emitted an application event.
    Event {
        /// The node.
        node: NodeId,
    },
    /// A node made its state durable.
    Persist {
        /// The node.
        node: NodeId,
    },
    /// The local application gave a node a command.
    Command {
        /// The node.
        node: NodeId,
        /// The command's request id.
        req: u64,
    },
    /// A node answered a command (the reply is the line's `event`).
    Reply {
        /// The node.
        node: NodeId,
        /// The request answered.
        req: u64,
    },
    /// A node crashed in the middle of a persist; that state was never made durable.
    TornWrite {
        /// The node.
        node: NodeId,
    },
    /// A node crashed; its volatile state is gone.
    Crash {
        /// The node.
        node: NodeId,
    },
    /// A node restarted from its last persisted state.
    Restart {
        /// The node.
        node: NodeId,
    },
    /// A message reached a paused node and waits in its inbox.
    Hold {
        /// Sender.
        from: NodeId,
        /// The paused recipient.
        to: NodeId,
    },
    /// A node paused until `until_ns`.
    Pause {
        /// The node.
        node: NodeId,
        /// True time it resumes.
        until_ns: u64,
    },
    /// A paused node resumed.
    Resume {
        /// The node.
        node: NodeId,
    },
    /// A partition started; `cut` links are now cut.
    Partition {
        /// Number of directed links cut.
        cut: u64,
    },
    /// Every partition healed.
    Heal,
    /// Every link degraded (loss, latency or congestion burst).
    Degrade,
    /// Links restored to their configuration.
    RestoreLinks,
    /// Every link started duplicating `percent` % of messages.
    DuplicateBurst {
        /// Share of messages delivered twice, in percent.
        percent: u64,
    },
    /// Links duplicate only as configured again.
    DuplicateBurstEnd,
    /// A node is Byzantine for the whole run: `adversary` speaks for it.
    Byzantine {
        /// The node.
        node: NodeId,
        /// The adversary's name.
        adversary: &'static str,
    },
    /// A node's clock at the start of the run: its drift and its wall clock's error.
    Clock {
        /// The node.
        node: NodeId,
        /// Drift in ppm.
        ppm: i64,
        /// Wall clock error against true wall time, in ns (positive: ahead).
        offset_ns: i64,
    },
    /// A node's wall clock stepped; it is now `offset_ns` from true wall time.
    WallStep {
        /// The node.
        node: NodeId,
        /// The wall clock's new offset from true time.
        offset_ns: i64,
    },
    /// A node's monotonic clock drift changed.
    Drift {
        /// The node.
        node: NodeId,
        /// The new drift in ppm.
        ppm: i64,
    },
}

impl TraceKind {
    #[inline(always)]
    fn tag(&self) -> u8 {
        match self {
            TraceKind::Send { .. } => 1,
            TraceKind::Drop { .. } => 2,
            TraceKind::Deliver { .. } => 3,
            TraceKind::Timeout { .. } => 4,
            TraceKind::Event { .. } => 5,
            TraceKind::Persist { .. } => 6,
            TraceKind::Crash { .. } => 7,
            TraceKind::Restart { .. } => 8,
            TraceKind::Duplicate { .. } => 9,
            TraceKind::Hold { .. } => 10,
            TraceKind::Pause { .. } => 11,
            TraceKind::Resume { .. } => 12,
            TraceKind::Partition { .. } => 13,
            TraceKind::Heal => 14,
            TraceKind::WallStep { .. } => 15,
            TraceKind::Drift { .. } => 16,
            TraceKind::Degrade => 17,
            TraceKind::RestoreLinks => 18,
            TraceKind::TornWrite { .. } => 19,
            TraceKind::Command { .. } => 20,
            TraceKind::Clock { .. } => 21,
            TraceKind::Byzantine { .. } => 22,
            TraceKind::DuplicateBurst { .. } => 23,
            TraceKind::DuplicateBurstEnd => 24,
            TraceKind::Reply { .. } => 25,
        }
    }

    /// The kind's node ids and its 64-bit field, if it has one (whether it does follows
    /// from the tag, so a header is read back unambiguously). Inlined where the kind is
    /// known, so the match folds away instead of costing an indirect jump per event.
    #[inline(always)]
    fn nodes_and_extra(&self) -> (u32, u32, Option<u64>) {
        match *self {
            TraceKind::Send { from, to, deliver_ns } | TraceKind::Duplicate { from, to, deliver_ns } => {
                (from.0, to.0, Some(deliver_ns))
            }
            TraceKind::Drop { from, to, reason } => (from.0, to.0, Some(reason as u64)),
            TraceKind::Deliver { from, to } | TraceKind::Hold { from, to } => (from.0, to.0, None),
            TraceKind::Pause { node, until_ns } => (node.0, 0, Some(until_ns)),
            TraceKind::Partition { cut } => (0, 0, Some(cut)),
            TraceKind::Heal | TraceKind::Degrade | TraceKind::RestoreLinks | TraceKind::DuplicateBurstEnd => {
                (0, 0, None)
            }
            TraceKind::DuplicateBurst { percent } => (0, 0, Some(percent)),
            TraceKind::WallStep { node, offset_ns } => (node.0, 0, Some(offset_ns as u64)),
            TraceKind::Clock { node, ppm, offset_ns } => (node.0, ppm as u32, Some(offset_ns as u64)),
            TraceKind::Drift { node, ppm } => (node.0, 0, Some(ppm as u64)),
            TraceKind::Timeout { node, mono_ns } => (node.0, 0, Some(mono_ns)),
            TraceKind::Command { node, req } | TraceKind::Reply { node, req } => (node.0, 0, Some(req)),
            TraceKind::Event { node }
            | TraceKind::Persist { node }
            | TraceKind::Crash { node }
            | TraceKind::Restart { node }
            | TraceKind::Resume { node }
            | TraceKind::TornWrite { node }
            | TraceKind::Byzantine { node, .. } => (node.0, 0, None),
        }
    }
}

/// The hash's multiplier for a write of 0 to 8 bytes, by length: odd constants (so each
/// mix is a bijection of the state), the last the golden-ratio one every full word uses.
/// [`LONG_TAIL`] is a tenth, for the last word of a longer write.
const SHORT_WRITE: [u64; 9] = [
    0x5ed3_4fe5_3a09_6533,
    0x6018_366c_f658_f7a7,
    0x3170_17a6_2057_38d1,
    0x0b35_10b0_b46e_e1db,
    0x2308_24d2_15ce_b3a1,
    0xcfaf_0010_3f58_4ad5,
    0x81a0_d5b3_ffc6_e35d,
    0x6694_f229_359b_1549,
    0x9E37_79B9_7F4A_7C15,
];

/// The multiplier for the last word of a write longer than 8 bytes (its remaining bytes
/// and its length): one no short write uses, so a long write's ending cannot be written
/// as a short write of its own.
const LONG_TAIL: u64 = 0xd6e8_feb8_6659_fd93;

/// A 64-bit word-at-a-time hash of the trace: portable and stable across Rust versions
/// (unlike std's hashers), and cheap enough to run on every simulated event. Equal hashes
/// identify identical runs with high probability (a 64-bit hash, not a proof); it is not
/// a defence against an adversary choosing collisions.
#[derive(Clone, Debug)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(0xcbf2_9ce4_8422_2325)
    }
}

impl TraceHash {
    /// Mixes one 64-bit word into the hash.
    #[inline]
    pub fn write_u64(&mut self, word: u64) {
        self.mix(word, SHORT_WRITE[8]);
    }

    /// Mixes `word` in with the odd multiplier `k`.
    #[inline]
    fn mix(&mut self, word: u64, k: u64) {
        let h = (self.0 ^ word).wrapping_mul(k);
        self.0 = h ^ (h >> 29);
    }

    /// Mixes `bytes` (and their length) into the hash, eight bytes at a time.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        if bytes.len() <= 8 {
            // The common case (one integer from the streaming encoder): one mix. The usual
            // widths are read directly: a copy of a variable length is a call to memcpy.
            // The length picks the multiplier rather than being folded into the word: an
            // 8-byte word uses all 64 bits, so a length folded into it would let some
            // 8-byte write equal a shorter one in every state; this way writes of different
            // lengths can meet only in a state chosen for them.
            let (word, k) = match *bytes {
                [a, b, c, d, e, f, g, h] => (u64::from_le_bytes([a, b, c, d, e, f, g, h]), SHORT_WRITE[8]),
                [a, b, c, d] => (u64::from(u32::from_le_bytes([a, b, c, d])), SHORT_WRITE[4]),
                [a] => (u64::from(a), SHORT_WRITE[1]),
                _ => {
                    let mut w = [0u8; 8];
                    w[..bytes.len()].copy_from_slice(bytes);
                    (u64::from_le_bytes(w), SHORT_WRITE[bytes.len()])
                }
            };
            self.mix(word, k);
            return;
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        // The last word: the 0 to 7 remaining bytes, with the whole length turned so its
        // low byte lands in the byte they leave free (two writes with as many full words
        // differ in that byte if they differ in length), under a multiplier of its own.
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(w) ^ (bytes.len() as u64).rotate_right(8), LONG_TAIL);
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

/// The trace of one run: a hash of every event and, optionally, a JSON-lines export.
pub struct Trace {
    hash: TraceHash,
    export: Option<Export>,
    /// When a test sets it, the digest each message-carrying event mixed in, by event
    /// index: lets the simulator's tests check that every such event hashes the message
    /// it carries.
    #[cfg(test)]
    pub(crate) mixed: Option<Vec<(u64, u64)>>,
}

/// A trace export stages lines in memory and writes them out this many bytes at a time.
pub const STAGE_BYTES: usize = 64 * 1024;

/// A JSON-lines export: lines staged in memory, then written to the writer it owns, or
/// drained by the caller into a writer it lends ([`Trace::drain_to`]).
struct Export {
    staged: Vec<u8>,
    /// `None` when the caller drains the lines.
    sink: Option<Box<dyn Sink>>,
    /// The first write error; nothing more is written after it.
    error: Option<std::io::Error>,
}

impl Export {
    fn new(sink: Option<Box<dyn Sink>>) -> Self {
        Export { staged: Vec::with_capacity(STAGE_BYTES), sink, error: None }
    }

    fn write_line(&mut self, line: &impl Serialize) {
        if self.error.is_some() {
            return;
        }
        match serde_json::to_writer(&mut self.staged, line) {
            Ok(()) => self.staged.push(b'\n'),
            Err(e) => self.error = Some(std::io::Error::other(e)),
        }
        if self.staged.len() >= STAGE_BYTES
            && let Some(sink) = self.sink.as_mut()
        {
            Self::write_out(&mut self.staged, &mut self.error, &mut **sink);
        }
    }

    fn write_out(staged: &mut Vec<u8>, error: &mut Option<std::io::Error>, out: &mut dyn Write) {
        if error.is_none()
            && let Err(e) = out.write_all(staged)
        {
            *error = Some(e);
        }
        staged.clear();
    }

    /// Writes out what is staged and flushes the owned writer; the first error, if any.
    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(sink) = self.sink.as_mut() {
            Self::write_out(&mut self.staged, &mut self.error, &mut **sink);
            if self.error.is_none()
                && let Err(e) = sink.flush()
            {
                self.error = Some(e);
            }
        }
        self.error.take().map_or(Ok(()), Err)
    }
}

/// An owned writer gets what is staged even when the simulation is dropped without
/// `finish_trace` (or unwinds from a panic); errors then have nobody to go to.
impl Drop for Export {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("hash", &self.hash).field("exporting", &self.export.is_some()).finish()
    }
}

#[derive(Serialize)]
struct Line<'a, M: Serialize, E: Serialize> {
    i: u64,
    t_ns: u64,
    #[serde(flatten)]
    kind: &'a TraceKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<&'a M>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a E>,
}

#[derive(Serialize)]
struct RawLine<'a> {
    i: u64,
    t_ns: u64,
    #[serde(flatten)]
    kind: &'a TraceKind,
    bytes_hex: String,
}

/// A trace export's writer, which can be handed back as its own type.
trait Sink: Write {
    fn as_any(&self) -> &dyn std::any::Any;
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

impl<W: Write + 'static> Sink for W {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Trace {
    /// A trace that only hashes.
    pub fn new() -> Self {
        Trace {
            hash: TraceHash::default(),
            export: None,
            #[cfg(test)]
            mixed: None,
        }
    }

    /// Also writes every event as one JSON object per line to `sink`, which it owns.
    pub fn export_to(&mut self, sink: impl Write + 'static) {
        self.export = Some(Export::new(Some(Box::new(sink))));
    }

    /// Also stages every event as one JSON line, for the simulation to drain with
    /// [`Self::drain_to`] into a writer it lends.
    pub(crate) fn export_staged(&mut self) {
        self.export = Some(Export::new(None));
    }

    /// Bytes of staged lines not yet drained.
    pub(crate) fn staged_len(&self) -> usize {
        self.export.as_ref().map_or(0, |x| x.staged.len())
    }

    /// Writes a staged export's lines to `out`. A write error is kept and returned by
    /// [`Self::finish`]; nothing more is written after it.
    pub(crate) fn drain_to(&mut self, out: &mut dyn Write) {
        if let Some(x) = self.export.as_mut().filter(|x| x.sink.is_none()) {
            Export::write_out(&mut x.staged, &mut x.error, out);
        }
    }

    /// Flushes the export and hands its writer back, if it is a `W` (a `Vec<u8>`, a file):
    /// the way to read a trace exported to memory once the run is over.
    pub fn take_export<W: Write + 'static>(&mut self) -> Option<W> {
        // (Through the box, to the writer inside: a `Box<dyn Sink>` is a writer too.)
        if !(**self.export.as_ref()?.sink.as_ref()?).as_any().is::<W>() {
            return None;
        }
        let mut export = self.export.take()?;
        let _ = export.finish();
        export.sink.take()?.into_any().downcast::<W>().ok().map(|w| *w)
    }

    /// Records one event and the message or event it carries, if any, hashed as its
    /// [`digest`].
    pub fn record<M: Serialize, E: Serialize>(
        &mut self,
        index: u64,
        at_ns: u64,
        kind: &TraceKind,
        msg: Option<&M>,
        event: Option<&E>,
    ) {
        self.record_header(at_ns, kind);
        // The payload as one word, its digest, which covers its length: a payload whose
        // encoding does not mark its own end (a field skipped when zero, say) cannot then
        // pass for the next event's header.
        match (msg, event) {
            (Some(m), _) => self.hash.write_u64(digest(m)),
            (_, Some(e)) => self.hash.write_u64(digest(e)),
            _ => {}
        }
        if let Some(x) = self.export.as_mut() {
            x.write_line(&Line { i: index, t_ns: at_ns, kind, msg, event });
        }
    }

    /// Records one event carrying a message whose [`digest`] was taken when it was sent:
    /// the one word is mixed in instead of the message's encoding, so a message sent,
    /// held and delivered is encoded once, not at every event that carries it.
    #[inline(always)]
    pub fn record_digested<M: Serialize>(
        &mut self,
        index: u64,
        at_ns: u64,
        kind: &TraceKind,
        digest: u64,
        msg: &M,
    ) {
        self.record_header(at_ns, kind);
        self.hash.write_u64(digest);
        #[cfg(test)]
        if let Some(mixed) = self.mixed.as_mut() {
            mixed.push((index, digest));
        }
        if let Some(x) = self.export.as_mut() {
            x.write_line(&Line { i: index, t_ns: at_ns, kind, msg: Some(msg), event: None::<&()> });
        }
    }

    /// Records one event carrying raw bytes (an adversary's frame) instead of a message;
    /// `digest` is [`digest_bytes`] of them, taken when they were sent.
    pub fn record_bytes(&mut self, index: u64, at_ns: u64, kind: &TraceKind, digest: u64, bytes: &[u8]) {
        self.record_header(at_ns, kind);
        self.hash.write_u64(digest);
        #[cfg(test)]
        if let Some(mixed) = self.mixed.as_mut() {
            mixed.push((index, digest));
        }
        if let Some(x) = self.export.as_mut() {
            x.write_line(&RawLine { i: index, t_ns: at_ns, kind, bytes_hex: hex(bytes) });
        }
    }

    #[inline(always)]
    fn record_header(&mut self, at_ns: u64, kind: &TraceKind) {
        // Two or three words per event keep the hash's dependency chain short. The event's
        // index is left out: every event's words end where the next one's begin (the tag
        // says whether the extra word follows; a payload is one digest word, its length
        // included), so the chain fixes each event's position. The second node id, and a
        // clock's ppm, keep only their low 24 bits in the hash; the trace itself is exact.
        let (a, b, extra) = kind.nodes_and_extra();
        self.hash.write_u64(at_ns);
        self.hash.write_u64(u64::from(kind.tag()) | (u64::from(a) << 8) | (u64::from(b) << 40));
        if let Some(extra) = extra {
            self.hash.write_u64(extra);
        }
    }

    /// Writes `line` to the export only, unhashed: an annotation about the run (such as the
    /// violation that ended it) rather than an event of it.
    pub fn annotate(&mut self, line: &impl Serialize) {
        if let Some(x) = self.export.as_mut() {
            x.write_line(line);
        }
    }

    /// True when a JSON export is attached.
    pub fn is_exporting(&self) -> bool {
        self.export.is_some()
    }

    /// The hash of every event recorded so far.
    pub fn hash(&self) -> u64 {
        self.hash.finish()
    }

    /// Writes out and flushes an owned export; returns the first write error, if any
    /// occurred. A staged export's lines stay staged until drained.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.export.as_mut().map_or(Ok(()), Export::finish)
    }

    /// Ends a staged export: its remaining lines go to `out`, which is flushed. Returns
    /// the first write error, if any occurred.
    pub(crate) fn end_staged_export(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        self.drain_to(out);
        let result = self.finish().and_then(|()| out.flush());
        self.export = None;
        result
    }
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::codec::{Codec, DEFAULT_CODEC};

    #[test]
    fn a_digest_changes_with_any_byte_of_the_payload_and_only_then() {
        let base: Vec<u8> = (0..100).collect();
        assert_eq!(digest(&base), digest(&base.clone()));
        if cfg!(feature = "bincode") {
            assert_eq!(digest::words_of(&base).len, DEFAULT_CODEC.encode(&base).unwrap().len());
        }
        let mut seen = std::collections::BTreeSet::new();
        seen.insert(digest(&base));
        for i in 0..base.len() {
            for bit in [1u8, 0x80] {
                let mut changed = base.clone();
                changed[i] ^= bit;
                assert!(seen.insert(digest(&changed)), "byte {i} bit {bit:#x}");
                assert_ne!(digest_bytes(&changed), digest_bytes(&base), "byte {i} bit {bit:#x}");
            }
        }
        // Zero bytes of every length, and a short write against the 8-byte write that a
        // length folded into the word would make equal to it.
        let zeros: std::collections::BTreeSet<u64> = (0..=17).map(|n| digest_bytes(&vec![0; n])).collect();
        assert_eq!(zeros.len(), 18);
        assert_ne!(digest_bytes(&[1, 2, 3, 4, 5, 6, 7]), digest_bytes(&[1, 2, 3, 4, 5, 6, 7, 0x78]));
        assert_ne!(digest_bytes(&[1, 2, 3, 4, 5, 6, 7]), digest_bytes(&[1, 2, 3, 4, 5, 6, 7, 0]));
        // A shorter or longer payload, and the same bytes split differently between fields.
        assert!(seen.insert(digest(&base[..99].to_vec())));
        assert!(seen.insert(digest(&(base[..50].to_vec(), base[50..].to_vec()))));
        // A long write against the short writes that spell out its words, in any state:
        // its last word is mixed under a multiplier no short write uses.
        let long: Vec<u8> = (1..=16).collect();
        for start in [0u64, 1, 0x9E37_79B9_7F4A_7C15, u64::MAX] {
            let (mut one, mut parts) = (TraceHash(start), TraceHash(start));
            one.write(&long);
            parts.write(&long[..8]);
            parts.write(&long[8..]);
            parts.write(&(16u64 << 56).to_le_bytes());
            assert_ne!(one.finish(), parts.finish(), "state {start:#x}");
            let mut tail = TraceHash(start);
            tail.write(&long[..8]);
            tail.write(&long[8..]);
            tail.write(&16u64.rotate_right(8).to_le_bytes());
            assert_ne!(one.finish(), tail.finish(), "state {start:#x}");
        }
    }

    /// An event type whose encoding does not mark its end: fields skipped when zero, as a
    /// protocol might do to keep its JSON export short.
    #[derive(Serialize, Debug)]
    struct Sparse {
        a: u64,
        #[serde(skip_serializing_if = "is_zero")]
        b: u64,
        #[serde(skip_serializing_if = "is_zero")]
        c: u64,
        #[serde(skip_serializing_if = "is_zero")]
        d: u64,
    }

    fn is_zero(x: &u64) -> bool {
        *x == 0
    }

    #[test]
    fn an_event_s_payload_cannot_pass_for_the_next_event() {
        // Found by an outside review: with the payload streamed into the chain and no
        // index, one event whose payload spells out the next event's header and payload
        // hashed like the two events.
        let event = |n| TraceKind::Event { node: NodeId(n) };
        let header = 5 | (2 << 8); // the header word of an Event of node 2
        let rest = |t: &mut Trace, i: u64| {
            t.record(i, 900, &TraceKind::Timeout { node: NodeId(3), mono_ns: 900 }, None::<&()>, None::<&()>);
            t.record(i + 1, 950, &TraceKind::Crash { node: NodeId(1) }, None::<&()>, None::<&()>);
        };
        let mut one = Trace::new();
        one.record(0, 10, &event(1), None::<&()>, Some(&Sparse { a: 42, b: 20, c: header, d: 77 }));
        rest(&mut one, 1);
        let mut two = Trace::new();
        two.record(0, 10, &event(1), None::<&()>, Some(&Sparse { a: 42, b: 0, c: 0, d: 0 }));
        two.record(1, 20, &event(2), None::<&()>, Some(&Sparse { a: 77, b: 0, c: 0, d: 0 }));
        rest(&mut two, 2);
        assert_ne!(one.hash(), two.hash(), "three events and four hash alike");
    }

    #[test]
    fn a_trace_hash_covers_the_digest_the_header_and_the_order() {
        let hash = |events: &[(u64, TraceKind, u64)]| {
            let mut t = Trace::new();
            for (i, (at, kind, d)) in events.iter().enumerate() {
                t.record_digested(i as u64, *at, kind, *d, &());
            }
            t.hash()
        };
        let send = TraceKind::Send { from: NodeId(1), to: NodeId(2), deliver_ns: 7 };
        let deliver = TraceKind::Deliver { from: NodeId(1), to: NodeId(2) };
        let base = [(0, send.clone(), 5), (7, deliver.clone(), 5)];
        assert_eq!(hash(&base), hash(&base.clone()));
        for other in [
            [(0, send.clone(), 5), (7, deliver.clone(), 6)],
            [(0, send.clone(), 5), (8, deliver.clone(), 5)],
            [
                (0, TraceKind::Send { from: NodeId(1), to: NodeId(3), deliver_ns: 7 }, 5),
                (7, deliver.clone(), 5),
            ],
            [(7, deliver.clone(), 5), (0, send.clone(), 5)],
        ] {
            assert_ne!(hash(&base), hash(&other), "{other:?}");
        }
    }
}
