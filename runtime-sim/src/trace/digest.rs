//! A message's digest: its canonical encoding hashed in one pass, without encoding it.
//!
//! The simulator digests every message it sends, and every event and reply it records.
//! The encoding hashed is the default codec's, bincode 2 with fixed-width integers
//! (little-endian integers, `u64` lengths, `u32` variant indices), whichever codec the
//! build sends with (a build with only `postcard` hashes the same bytes: the digest only has
//! to tell values apart; a bandwidth-limited link still charges the codec's own length). A
//! serializer of its own writes those bytes straight into the hash's words, with none of an
//! encoder's error handling between them. Tests hold it to bincode's bytes for every kind
//! of serde value.

use super::{LONG_TAIL, SHORT_WRITE, TraceHash};
use serde::Serialize;
use serde::ser;

/// A message's digest: [`TraceHash::write`] of its bincode encoding (see the module's
/// documentation), from a fresh hash. Any change to the message changes the digest (up to
/// the hash's 64 bits), so a trace that mixes in the digest covers the payload as the
/// encoding itself would.
#[inline]
pub fn digest<M: Serialize>(msg: &M) -> u64 {
    words_of(msg).finish()
}

/// The words of `msg`'s encoding, not yet finished (their `len` is the encoding's length).
#[inline]
pub(super) fn words_of<M: Serialize>(msg: &M) -> Words {
    let mut words = Words::default();
    // Serializing fails where the codec's encoding fails (a sequence of unknown length,
    // a serde error of the type's own); the digest then covers the bytes before the
    // failure, the same in every run.
    let _ = msg.serialize(&mut words);
    words
}

/// The digest of raw bytes (an adversary's frame), as [`digest`] is of a message.
pub fn digest_bytes(bytes: &[u8]) -> u64 {
    let mut hash = TraceHash::default();
    hash.write(bytes);
    hash.0
}

/// [`TraceHash::write`] of a byte string that arrives in pieces: bytes are gathered into
/// 64-bit words, and a word is mixed in once a byte after it arrives (the last word of the
/// string is mixed differently, so it waits until the string ends).
#[derive(Default)]
pub(super) struct Words {
    hash: TraceHash,
    /// The bytes not yet mixed in, little-endian: `fill` of them, at most 8.
    pending: u64,
    fill: usize,
    /// Bytes so far.
    pub(super) len: usize,
}

impl Words {
    /// Appends up to 8 bytes given as the low `n` bytes of `word` (the rest zero).
    #[inline]
    fn push(&mut self, word: u64, n: usize) {
        // fill <= 8, so the shift is at most 64, inside 128 bits (the mask, which changes
        // nothing, lets the compiler see it and drop the overflow checks release builds
        // keep: this runs for every field of every message), and fill + n <= 16. A word
        // becomes full and is mixed in only once a byte after it arrives.
        let bytes = u128::from(self.pending) | (u128::from(word) << (8 * (self.fill & 15)));
        let fill = self.fill.wrapping_add(n);
        if fill > 8 {
            self.hash.write_u64(bytes as u64);
            self.pending = (bytes >> 64) as u64;
            self.fill = fill - 8;
        } else {
            self.pending = bytes as u64;
            self.fill = fill;
        }
        self.len = self.len.wrapping_add(n);
    }

    /// Appends `bytes`.
    pub(super) fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.push(u64::from_le_bytes(w), c.len());
        }
    }

    /// Appends a length as the codec writes one: a `u64`.
    fn len_prefix(&mut self, len: usize) {
        self.push(len as u64, 8);
    }

    /// The hash state after [`TraceHash::write`] of every byte appended.
    #[inline]
    pub(super) fn finish(mut self) -> u64 {
        if self.len <= 8 {
            self.hash.mix(self.pending, SHORT_WRITE[self.len]);
        } else {
            if self.fill == 8 {
                self.hash.write_u64(self.pending);
                self.pending = 0;
            }
            self.hash.mix(self.pending ^ (self.len as u64).rotate_right(8), LONG_TAIL);
        }
        self.hash.0
    }
}

/// Serializing stopped, where the codec's encoder fails too. Nobody reads why (the digest
/// covers the bytes before the failure), so it carries nothing, and a result fits in a
/// register.
#[derive(Debug)]
pub(super) struct Unencodable;

impl std::fmt::Display for Unencodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value the codec cannot encode")
    }
}

impl std::error::Error for Unencodable {}

impl ser::Error for Unencodable {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unencodable
    }
}

type Done = Result<(), Unencodable>;

/// Fixed-width little-endian integers, as the codec writes them.
macro_rules! ints {
    ($($method:ident: $t:ty => $bytes:expr),* $(,)?) => {$(
        #[inline]
        fn $method(self, v: $t) -> Done {
            self.push(v as u64 & (u64::MAX >> (64 - 8 * $bytes)), $bytes);
            Ok(())
        }
    )*};
}

impl ser::Serializer for &mut Words {
    type Ok = ();
    type Error = Unencodable;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    ints! {
        serialize_u8: u8 => 1,
        serialize_u16: u16 => 2,
        serialize_u32: u32 => 4,
        serialize_u64: u64 => 8,
        serialize_i8: i8 => 1,
        serialize_i16: i16 => 2,
        serialize_i32: i32 => 4,
        serialize_i64: i64 => 8,
    }

    #[inline]
    fn serialize_bool(self, v: bool) -> Done {
        self.serialize_u8(u8::from(v))
    }
    #[inline]
    fn serialize_u128(self, v: u128) -> Done {
        self.write(&v.to_le_bytes());
        Ok(())
    }
    #[inline]
    fn serialize_i128(self, v: i128) -> Done {
        self.write(&v.to_le_bytes());
        Ok(())
    }
    #[inline]
    fn serialize_f32(self, v: f32) -> Done {
        self.serialize_u32(v.to_bits())
    }
    #[inline]
    fn serialize_f64(self, v: f64) -> Done {
        self.serialize_u64(v.to_bits())
    }
    #[inline]
    fn serialize_char(self, v: char) -> Done {
        // As UTF-8, one to four bytes.
        self.write(v.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }
    #[inline]
    fn serialize_str(self, v: &str) -> Done {
        self.serialize_bytes(v.as_bytes())
    }
    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Done {
        self.len_prefix(v.len());
        self.write(v);
        Ok(())
    }
    #[inline]
    fn serialize_none(self) -> Done {
        self.serialize_u8(0)
    }
    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        self.serialize_u8(1)?;
        value.serialize(self)
    }
    #[inline]
    fn serialize_unit(self) -> Done {
        Ok(())
    }
    #[inline]
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        Ok(())
    }
    #[inline]
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Done {
        self.serialize_u32(index)
    }
    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Done {
        self.serialize_u32(index)?;
        value.serialize(self)
    }
    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, Unencodable> {
        // The codec needs a sequence's length up front.
        let len = len.ok_or(Unencodable)?;
        self.len_prefix(len);
        Ok(self)
    }
    #[inline]
    fn serialize_tuple(self, _: usize) -> Result<Self, Unencodable> {
        Ok(self)
    }
    #[inline]
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Unencodable> {
        Ok(self)
    }
    #[inline]
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Unencodable> {
        self.serialize_u32(index)?;
        Ok(self)
    }
    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Self, Unencodable> {
        // The codec needs a map's length up front.
        let len = len.ok_or(Unencodable)?;
        self.len_prefix(len);
        Ok(self)
    }
    #[inline]
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Unencodable> {
        Ok(self)
    }
    #[inline]
    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Unencodable> {
        self.serialize_u32(index)?;
        Ok(self)
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Every compound's elements, fields, keys and values are written one after another.
macro_rules! compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {$(
        impl ser::$trait for &mut Words {
            type Ok = ();
            type Error = Unencodable;
            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
                value.serialize(&mut **self)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )*};
}

compound! {
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
}

impl ser::SerializeMap for &mut Words {
    type Ok = ();
    type Error = Unencodable;
    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        key.serialize(&mut **self)
    }
    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        Ok(())
    }
}

/// Struct fields are written without their names.
macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for &mut Words {
            type Ok = ();
            type Error = Unencodable;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, value: &T) -> Done {
                value.serialize(&mut **self)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(all(test, feature = "bincode"))]
mod tests {
    use super::*;
    use palisade_core::codec::{Bincode, Codec};
    use serde::Serializer;
    use std::collections::BTreeMap;

    /// The digest must be the hash of exactly the codec's bytes.
    fn same_as_the_codec<T: Serialize + std::fmt::Debug>(value: &T) {
        let bytes = Bincode.encode(value).expect("encodable");
        assert_eq!(words_of(value).len, bytes.len(), "{value:?}");
        assert_eq!(digest(value), digest_bytes(&bytes), "{value:?}");
    }

    #[derive(Serialize, Debug)]
    struct Unit;

    #[derive(Serialize, Debug)]
    struct Newtype(u16);

    #[derive(Serialize, Debug)]
    struct Tuple(i8, char, Option<u64>);

    #[derive(Serialize, Debug)]
    struct Fields {
        a: bool,
        b: Vec<i32>,
        c: String,
        #[serde(with = "serde_bytes")]
        d: Vec<u8>,
        e: BTreeMap<u8, (f32, f64)>,
    }

    #[derive(Serialize, Debug)]
    enum Kinds {
        Bare,
        Wrapped(i64),
        Several(u8, Unit, Newtype),
        Named { x: i128, y: u128, z: () },
    }

    #[test]
    fn the_digest_hashes_the_codec_s_bytes_for_every_kind_of_value() {
        same_as_the_codec(&());
        same_as_the_codec(&Unit);
        same_as_the_codec(&Newtype(0xBEEF));
        for c in ['a', 'é', '€', '😀'] {
            same_as_the_codec(&Tuple(-3, c, Some(u64::MAX)));
        }
        same_as_the_codec(&Tuple(127, 'z', None));
        same_as_the_codec(&Kinds::Bare);
        same_as_the_codec(&Kinds::Wrapped(i64::MIN));
        same_as_the_codec(&Kinds::Several(9, Unit, Newtype(1)));
        same_as_the_codec(&Kinds::Named { x: -1, y: u128::MAX - 5, z: () });
        let mut rng = palisade_core::Rng::from_seed(3);
        for n in [0usize, 1, 3, 7, 8, 9, 16, 17, 100] {
            let value = Fields {
                a: n % 2 == 0,
                b: (0..n).map(|_| rng.next_u64() as i32).collect(),
                c: "ü".repeat(n),
                d: (0..n).map(|_| rng.next_u64() as u8).collect(),
                e: (0..n as u8).map(|k| (k, (rng.unit_f64() as f32, -rng.unit_f64()))).collect(),
            };
            same_as_the_codec(&value);
            same_as_the_codec(&vec![value.c.clone(); n % 5]);
        }
        for _ in 0..1000 {
            let x = rng.next_u64();
            same_as_the_codec(&(x as u8, x as i16, x as u32, x as i64, x as f64, x as u128 * 3));
        }
    }

    /// A value whose sequence has no length up front, as `collect_seq` of a filter gives.
    #[derive(Debug)]
    struct Unsized;

    impl Serialize for Unsized {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq((0..4u8).filter(|x| x % 2 == 0))
        }
    }

    #[test]
    fn a_value_the_codec_cannot_encode_still_has_a_stable_digest() {
        assert!(Bincode.encode(&Unsized).is_err());
        assert_eq!(digest(&(7u32, Unsized)), digest(&(7u32, Unsized)));
        assert_eq!(digest(&(7u32, Unsized)), digest(&7u32), "only the bytes before the failure");
    }

    #[test]
    fn bytes_in_any_pieces_hash_as_one_write() {
        let mut rng = palisade_core::Rng::from_seed(11);
        for len in (0..=40).chain([63, 64, 65, 200]) {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let mut whole = TraceHash::default();
            whole.write(&bytes);
            for _ in 0..50 {
                // The same bytes in random pieces, empty ones too.
                let mut words = Words::default();
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let n = (rng.below(20) as usize).min(rest.len());
                    words.write(&rest[..n]);
                    rest = &rest[n..];
                }
                assert_eq!(words.len, bytes.len());
                assert_eq!(words.finish(), whole.0, "{len} bytes");
            }
        }
    }
}
