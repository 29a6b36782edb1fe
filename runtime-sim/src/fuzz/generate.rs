//! Well-typed arbitrary values of any `Deserialize` type, drawn from an RNG through serde:
//! the type asks for a `u64`, a variant of an enum with `n` variants, a sequence, and the
//! generator answers, biased toward the values that break code (0, 1, MAX, MAX-1, one past
//! what an honest message said, another node's id). Given a template (an honest message's
//! [`Shape`]), each leaf keeps the template's value with probability `keep`, so most
//! generated messages are an honest message with a few fields changed.
//!
//! Works for any type whose `Deserialize` asks for typed values (every derived one, and
//! everything bincode can decode); `deserialize_any` is refused.

use super::FuzzError;
use super::shape::Shape;
use palisade_core::{NodeId, Rng};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

/// Deeper than this, sequences are empty and options `None`, so recursive types end.
const MAX_DEPTH: u32 = 12;

/// Where generated values come from.
pub struct Source<'r> {
    /// Randomness.
    pub rng: &'r mut Rng,
    /// The cluster's members (for node ids).
    pub members: &'r [NodeId],
    /// Chance that a leaf keeps the template's value.
    pub keep: f64,
}

/// Generates one `T`, following `template` where it fits. Integers may also take another
/// field's value from the template (an instance number as a voter id, a counter as an
/// index), which is how fields that must agree are made to agree, or nearly.
pub fn generate<'de, T: de::Deserialize<'de>>(
    src: &mut Source<'_>,
    template: Option<&Shape>,
) -> Result<T, FuzzError> {
    let mut pool = Vec::new();
    if let Some(t) = template {
        integers(t, &mut pool);
    }
    T::deserialize(Gen { src, tpl: template, node_id: false, depth: 0, pool: &pool })
}

/// Every non-negative integer in `shape` (up to 64 of them).
fn integers(shape: &Shape, out: &mut Vec<u128>) {
    if out.len() >= 64 {
        return;
    }
    match shape {
        Shape::Unsigned(v) => out.push(*v),
        Shape::Signed(v) if *v >= 0 => out.push(*v as u128),
        Shape::Some(inner) | Shape::Variant(_, inner) => integers(inner, out),
        Shape::Seq(items) => items.iter().for_each(|i| integers(i, out)),
        Shape::Map(entries) => entries.iter().for_each(|(k, v)| {
            integers(k, out);
            integers(v, out)
        }),
        _ => {}
    }
}

struct Gen<'s, 'r, 't> {
    src: &'s mut Source<'r>,
    tpl: Option<&'t Shape>,
    /// The value is a `NodeId`'s inner integer.
    node_id: bool,
    depth: u32,
    /// The template's integers, for copying one field into another.
    pool: &'t [u128],
}

impl<'s, 'r, 't> Gen<'s, 'r, 't> {
    fn keep(&mut self) -> bool {
        self.src.rng.chance(self.src.keep)
    }

    fn child<'c>(&'c mut self, tpl: Option<&'t Shape>) -> Gen<'c, 'r, 't> {
        Gen { src: self.src, tpl, node_id: false, depth: self.depth + 1, pool: self.pool }
    }

    /// An unsigned value in `[0, max]`.
    fn unsigned(&mut self, max: u128) -> u128 {
        let tpl = match self.tpl {
            Some(Shape::Unsigned(v)) => Some(*v),
            _ => None,
        };
        if let Some(v) = tpl
            && self.keep()
        {
            return v.min(max);
        }
        let rng = &mut *self.src.rng;
        // Another field's value, as it is or one off.
        if !self.pool.is_empty() && rng.chance(0.15) {
            let v = self.pool[rng.below(self.pool.len() as u64) as usize];
            let v = match rng.below(3) {
                0 => v,
                1 => v.saturating_add(1),
                _ => v.saturating_sub(1),
            };
            return v.min(max);
        }
        if self.node_id {
            let n = self.src.members.len() as u128;
            return match rng.below(8) {
                0 => 0,
                1 => max,
                2 => (n + 1).min(max),
                // A non-member anywhere in the id space.
                3 => (n + 1 + u128::from(rng.next_u64())).min(max),
                _ => self.src.members.get(rng.below(n as u64) as usize).map_or(1, |m| u128::from(m.0)),
            };
        }
        let v = tpl.unwrap_or(0);
        let wide = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) & max;
        let drawn = match rng.below(14) {
            0 => 0,
            1 => 1,
            2 => 2,
            3 => max,
            4 => max - 1,
            5 => max / 2,
            6 => max / 2 + 1,
            7 => v.saturating_add(1),
            8 => v.saturating_sub(1),
            9 => v.saturating_add(u128::from(rng.below(1000))),
            10 => v.saturating_mul(2),
            11 => u128::from(rng.below(16)),
            _ => wide,
        };
        drawn.min(max)
    }

    /// A signed value in `[min, max]`.
    fn signed(&mut self, min: i128, max: i128) -> i128 {
        let tpl = match self.tpl {
            Some(Shape::Signed(v)) => Some(*v),
            _ => None,
        };
        if let Some(v) = tpl
            && self.keep()
        {
            return v.clamp(min, max);
        }
        let rng = &mut *self.src.rng;
        let v = tpl.unwrap_or(0);
        let drawn = match rng.below(12) {
            0 => 0,
            1 => 1,
            2 => -1,
            3 => max,
            4 => min,
            5 => max - 1,
            6 => min + 1,
            7 => v.saturating_add(1),
            8 => v.saturating_sub(1),
            9 => v.saturating_neg(),
            10 => v.saturating_add(rng.below(2_000_000_001) as i128 - 1_000_000_000),
            _ => (rng.next_u64() as i64) as i128,
        };
        drawn.clamp(min, max)
    }

    fn float(&mut self) -> f64 {
        if let Some(Shape::Float(v)) = self.tpl
            && self.keep()
        {
            return *v;
        }
        match self.src.rng.below(10) {
            0 => 0.0,
            1 => -0.0,
            2 => 1.0,
            3 => f64::NAN,
            4 => f64::INFINITY,
            5 => f64::NEG_INFINITY,
            6 => f64::MAX,
            7 => f64::MIN_POSITIVE,
            8 => -1.0,
            _ => self.src.rng.unit_f64() * 1e6,
        }
    }

    /// How many elements a variable-length sequence gets.
    fn length(&mut self, template: usize) -> usize {
        if self.depth >= MAX_DEPTH {
            return 0;
        }
        if self.tpl.is_some() && self.keep() {
            return template;
        }
        match self.src.rng.below(10) {
            0 => 0,
            1 => 1,
            2 => template + 1,
            3 => template.saturating_sub(1),
            4 => 64,
            _ => self.src.rng.below(9) as usize,
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        if let Some(Shape::Bytes(b)) = self.tpl {
            if self.keep() {
                return b.clone();
            }
            if !b.is_empty() && self.src.rng.chance(0.5) {
                // One byte flipped: well-formed, wrong (a signature that does not verify).
                let mut b = b.clone();
                let i = self.src.rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << self.src.rng.below(8);
                return b;
            }
        }
        let len = *self.src.rng.pick(&[0usize, 1, 31, 32, 33, 63, 64, 65, 128]).unwrap_or(&0);
        (0..len).map(|_| self.src.rng.next_u64() as u8).collect()
    }

    fn string(&mut self) -> String {
        if let Some(Shape::Str(s)) = self.tpl
            && self.keep()
        {
            return s.clone();
        }
        let len = *self.src.rng.pick(&[0usize, 1, 8, 255]).unwrap_or(&0);
        (0..len).map(|_| char::from(b'a' + self.src.rng.below(26) as u8)).collect()
    }

    fn items(&self) -> &'t [Shape] {
        match self.tpl {
            Some(Shape::Seq(items)) => items,
            _ => &[],
        }
    }
}

macro_rules! unsigned {
    ($($f:ident $visit:ident $t:ty),*) => {$(
        fn $f<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
            let v = self.unsigned(<$t>::MAX as u128);
            visitor.$visit(v as $t)
        }
    )*};
}

macro_rules! signed {
    ($($f:ident $visit:ident $t:ty),*) => {$(
        fn $f<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
            let v = self.signed(<$t>::MIN as i128, <$t>::MAX as i128);
            visitor.$visit(v as $t)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Gen<'_, '_, '_> {
    type Error = FuzzError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, FuzzError> {
        Err(FuzzError("the generator needs typed requests (deserialize_any)".into()))
    }
    fn deserialize_bool<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let tpl = self.tpl;
        let v = match tpl {
            Some(Shape::Bool(b)) if self.keep() => *b,
            _ => self.src.rng.chance(0.5),
        };
        visitor.visit_bool(v)
    }
    unsigned!(deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_u128 visit_u128 u128);
    signed!(deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16, deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64, deserialize_i128 visit_i128 i128);
    fn deserialize_f32<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let v = self.float();
        visitor.visit_f32(v as f32)
    }
    fn deserialize_f64<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let v = self.float();
        visitor.visit_f64(v)
    }
    fn deserialize_char<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let tpl = self.tpl;
        let v = match tpl {
            Some(Shape::Char(c)) if self.keep() => *c,
            _ => *self.src.rng.pick(&['a', '\0', '\u{10FFFF}', 'é']).unwrap_or(&'a'),
        };
        visitor.visit_char(v)
    }
    fn deserialize_str<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let s = self.string();
        visitor.visit_string(s)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FuzzError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let b = self.bytes();
        visitor.visit_byte_buf(b)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FuzzError> {
        self.deserialize_bytes(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let inner = match self.tpl {
            Some(Shape::Some(inner)) => Some(&**inner),
            _ => None,
        };
        let tpl = self.tpl;
        let some = match tpl {
            Some(Shape::None) if self.keep() => false,
            Some(Shape::Some(_)) if self.keep() => true,
            _ => self.depth < MAX_DEPTH && self.src.rng.chance(0.5),
        };
        if some { visitor.visit_some(self.child(inner)) } else { visitor.visit_none() }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FuzzError> {
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, FuzzError> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FuzzError> {
        visitor.visit_newtype_struct(Gen { node_id: name == "NodeId", ..self })
    }
    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let items = self.items();
        let len = self.length(items.len());
        visitor.visit_seq(SeqGen { inner: self, items, len, at: 0 })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, FuzzError> {
        let items = self.items();
        visitor.visit_seq(SeqGen { inner: self, items, len, at: 0 })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, FuzzError> {
        self.deserialize_tuple(len, visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, FuzzError> {
        let entries: &[(Shape, Shape)] = match self.tpl {
            Some(Shape::Map(e)) => e,
            _ => &[],
        };
        let len = self.length(entries.len());
        visitor.visit_map(MapGen { inner: self, entries, len, at: 0 })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FuzzError> {
        self.deserialize_tuple(fields.len(), visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FuzzError> {
        let tpl = self.tpl;
        let (index, body) = match tpl {
            Some(Shape::Variant(i, body)) if self.keep() => (*i, Some(&**body)),
            _ => (self.src.rng.below(variants.len() as u64) as u32, None),
        };
        visitor.visit_enum(EnumGen { inner: self, index, body })
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, FuzzError> {
        Err(FuzzError("the generator needs typed requests (identifier)".into()))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, FuzzError> {
        Err(FuzzError("the generator needs typed requests (ignored_any)".into()))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

struct SeqGen<'s, 'r, 't> {
    inner: Gen<'s, 'r, 't>,
    items: &'t [Shape],
    len: usize,
    at: usize,
}

impl<'de> de::SeqAccess<'de> for SeqGen<'_, '_, '_> {
    type Error = FuzzError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, FuzzError> {
        if self.at >= self.len {
            return Ok(None);
        }
        // Elements past the template's end follow its elements cyclically.
        let tpl = (!self.items.is_empty()).then(|| &self.items[self.at % self.items.len()]);
        self.at += 1;
        seed.deserialize(self.inner.child(tpl)).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.at)
    }
}

struct MapGen<'s, 'r, 't> {
    inner: Gen<'s, 'r, 't>,
    entries: &'t [(Shape, Shape)],
    len: usize,
    at: usize,
}

impl<'de> de::MapAccess<'de> for MapGen<'_, '_, '_> {
    type Error = FuzzError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, FuzzError> {
        if self.at >= self.len {
            return Ok(None);
        }
        let tpl = (!self.entries.is_empty()).then(|| &self.entries[self.at % self.entries.len()].0);
        seed.deserialize(self.inner.child(tpl)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, FuzzError> {
        let tpl = (!self.entries.is_empty()).then(|| &self.entries[self.at % self.entries.len()].1);
        self.at += 1;
        seed.deserialize(self.inner.child(tpl))
    }
}

struct EnumGen<'s, 'r, 't> {
    inner: Gen<'s, 'r, 't>,
    index: u32,
    body: Option<&'t Shape>,
}

impl<'de, 's, 'r, 't> de::EnumAccess<'de> for EnumGen<'s, 'r, 't> {
    type Error = FuzzError;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), FuzzError> {
        let de: de::value::U32Deserializer<FuzzError> = self.index.into_deserializer();
        Ok((seed.deserialize(de)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for EnumGen<'_, '_, '_> {
    type Error = FuzzError;
    fn unit_variant(self) -> Result<(), FuzzError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(mut self, seed: T) -> Result<T::Value, FuzzError> {
        seed.deserialize(self.inner.child(self.body))
    }
    fn tuple_variant<V: Visitor<'de>>(mut self, len: usize, visitor: V) -> Result<V::Value, FuzzError> {
        de::Deserializer::deserialize_tuple(self.inner.child(self.body), len, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        mut self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FuzzError> {
        de::Deserializer::deserialize_tuple(self.inner.child(self.body), fields.len(), visitor)
    }
}
