//! What travels on a connection once its session is established: length-delimited frames
//! (4-byte big-endian length, at most [`MAX_FRAME_LEN`] bytes, refused before any buffer is
//! reserved when larger), each one AEAD seal (see [`crate::transport::noise`]) of one or more
//! records: a 4-byte little-endian length and an encoded [`Payload`]. A link packs whatever
//! its queue holds into as few frames as fit, so under load one seal covers many messages.
//!
//! ```text
//! | len u32 BE | seal( | rec len u32 LE | Payload | rec len u32 LE | Payload | ... ) + tag 16 |
//! ```

pub use crate::transport::noise::{MAX_FRAME_LEN, MAX_PLAINTEXT};
use tokio_util::codec::LengthDelimitedCodec;

/// What a frame carries.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Payload<M> {
    /// A protocol message.
    Message(M),
    /// Nothing: sent when a link has been quiet for a while, so the peer can tell a quiet
    /// link from a dead one.
    Keepalive,
}

/// Bytes before each record: its length.
pub const RECORD_HEADER: usize = 4;
/// Largest encoded payload one record carries.
pub const MAX_RECORD: usize = MAX_PLAINTEXT - RECORD_HEADER;

/// Packs encoded payloads (each at most [`MAX_RECORD`] bytes; longer ones are skipped, the
/// caller checks) into frame plaintexts of at most [`MAX_PLAINTEXT`] bytes, in order.
pub fn pack(payloads: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for p in payloads {
        if p.len() > MAX_RECORD {
            continue;
        }
        let fits = frames.last().is_some_and(|f| f.len() + RECORD_HEADER + p.len() <= MAX_PLAINTEXT);
        if !fits {
            frames.push(Vec::with_capacity(RECORD_HEADER + p.len()));
        }
        let frame = frames.last_mut().expect("a frame was just pushed");
        frame.extend_from_slice(&(p.len() as u32).to_le_bytes());
        frame.extend_from_slice(&p);
    }
    frames
}

/// A frame's plaintext that is not a sequence of whole records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame of {len} bytes is not a sequence of records (broken at byte {at})")]
pub struct BadRecords {
    /// The plaintext's length.
    pub len: usize,
    /// Where the first bad record starts.
    pub at: usize,
}

/// The records of a frame's plaintext: at least one, each whole, nothing left over.
pub fn records(plain: &[u8]) -> Result<Vec<&[u8]>, BadRecords> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < plain.len() {
        let bad = BadRecords { len: plain.len(), at };
        let head = plain.get(at..at + RECORD_HEADER).ok_or(bad.clone())?;
        let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let body = plain.get(at + RECORD_HEADER..).and_then(|rest| rest.get(..n)).ok_or(bad)?;
        out.push(body);
        at += RECORD_HEADER + n;
    }
    if out.is_empty() {
        return Err(BadRecords { len: 0, at: 0 });
    }
    Ok(out)
}

/// The length-delimited framing used on every connection: 4-byte big-endian length, at most
/// [`MAX_FRAME_LEN`].
pub fn length_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().length_field_length(4).max_frame_length(MAX_FRAME_LEN).new_codec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    #[test]
    fn packed_records_come_back_in_order_and_frames_stay_under_the_limit() {
        let payloads: Vec<Vec<u8>> = (0..200u32).map(|i| vec![i as u8; (i as usize * 997) % 5000]).collect();
        let frames = pack(payloads.clone());
        assert!(frames.len() > 1, "200 payloads of up to 5 KB need several frames");
        assert!(frames.iter().all(|f| f.len() <= MAX_PLAINTEXT));
        let back: Vec<Vec<u8>> =
            frames.iter().flat_map(|f| records(f).unwrap()).map(<[u8]>::to_vec).collect();
        assert_eq!(back, payloads);
        let one = pack([vec![1u8; MAX_RECORD]]);
        assert_eq!(one[0].len(), MAX_PLAINTEXT, "the largest record fills a frame exactly");
    }

    #[test]
    fn malformed_record_sequences_are_refused() {
        let good = pack([vec![1u8, 2, 3], vec![4]]).remove(0);
        assert!(records(&[]).is_err(), "no record at all");
        for cut in (1..good.len()).filter(|&c| c != RECORD_HEADER + 3) {
            assert!(records(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(records(&good[..RECORD_HEADER + 3]).unwrap(), vec![&[1u8, 2, 3][..]], "a record boundary");
        let mut long = good.clone();
        long.push(0);
        assert!(records(&long).is_err(), "a trailing byte");
        let huge = [u32::MAX.to_le_bytes().as_slice(), &[0u8; 8]].concat();
        assert!(records(&huge).is_err(), "a length beyond the frame");
    }

    #[test]
    fn oversized_length_prefix_is_refused_before_buffering() {
        let mut codec = length_codec();
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).is_err());
        assert!(buf.capacity() < 1024, "no buffer of the claimed size was reserved");
        let mut buf = BytesMut::from(&((MAX_FRAME_LEN + 1) as u32).to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).is_err(), "one byte over the Noise limit");
    }
}
