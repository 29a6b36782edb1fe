//! A message's shape: its value as a typed tree, recorded through serde, so the generator
//! can keep most of an honest message and change a few leaves.

use super::FuzzError;
use serde::ser::{self, Serialize};

/// One node of a recorded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// `bool`.
    Bool(bool),
    /// Any unsigned integer, widened.
    Unsigned(u128),
    /// Any signed integer, widened.
    Signed(i128),
    /// `f32` or `f64`, widened.
    Float(f64),
    /// `char`.
    Char(char),
    /// A string.
    Str(String),
    /// A byte string (`serde_bytes`).
    Bytes(Vec<u8>),
    /// `None`.
    None,
    /// `Some(..)`.
    Some(Box<Shape>),
    /// `()`, a unit struct, or a unit variant's body.
    Unit,
    /// A sequence, tuple, struct or variant body: its elements or fields in order.
    Seq(Vec<Shape>),
    /// A map's entries.
    Map(Vec<(Shape, Shape)>),
    /// An enum variant: its index and body.
    Variant(u32, Box<Shape>),
}

/// Records `value`'s shape.
pub fn shape_of<T: Serialize + ?Sized>(value: &T) -> Result<Shape, FuzzError> {
    value.serialize(Recorder)
}

struct Recorder;

/// Collects the elements of a compound value.
pub struct Compound {
    items: Vec<Shape>,
    variant: Option<u32>,
}

impl Compound {
    fn finish(self) -> Shape {
        let seq = Shape::Seq(self.items);
        match self.variant {
            Some(i) => Shape::Variant(i, Box::new(seq)),
            None => seq,
        }
    }
}

/// Collects a map's entries.
pub struct MapCompound {
    entries: Vec<(Shape, Shape)>,
    key: Option<Shape>,
}

macro_rules! unsigned {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<Shape, FuzzError> {
            Ok(Shape::Unsigned(u128::from(v)))
        }
    )*};
}

macro_rules! signed {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<Shape, FuzzError> {
            Ok(Shape::Signed(i128::from(v)))
        }
    )*};
}

impl ser::Serializer for Recorder {
    type Ok = Shape;
    type Error = FuzzError;
    type SerializeSeq = Compound;
    type SerializeTuple = Compound;
    type SerializeTupleStruct = Compound;
    type SerializeTupleVariant = Compound;
    type SerializeMap = MapCompound;
    type SerializeStruct = Compound;
    type SerializeStructVariant = Compound;

    fn serialize_bool(self, v: bool) -> Result<Shape, FuzzError> {
        Ok(Shape::Bool(v))
    }
    unsigned!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);
    signed!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128);
    fn serialize_f32(self, v: f32) -> Result<Shape, FuzzError> {
        Ok(Shape::Float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Shape, FuzzError> {
        Ok(Shape::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Shape, FuzzError> {
        Ok(Shape::Char(v))
    }
    fn serialize_str(self, v: &str) -> Result<Shape, FuzzError> {
        Ok(Shape::Str(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Shape, FuzzError> {
        Ok(Shape::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Shape, FuzzError> {
        Ok(Shape::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Shape, FuzzError> {
        Ok(Shape::Some(Box::new(v.serialize(Recorder)?)))
    }
    fn serialize_unit(self) -> Result<Shape, FuzzError> {
        Ok(Shape::Unit)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Shape, FuzzError> {
        Ok(Shape::Unit)
    }
    fn serialize_unit_variant(self, _: &'static str, i: u32, _: &'static str) -> Result<Shape, FuzzError> {
        Ok(Shape::Variant(i, Box::new(Shape::Unit)))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Shape, FuzzError> {
        v.serialize(Recorder)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        v: &T,
    ) -> Result<Shape, FuzzError> {
        Ok(Shape::Variant(i, Box::new(v.serialize(Recorder)?)))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound, FuzzError> {
        Ok(Compound { items: Vec::with_capacity(len.unwrap_or(0).min(64)), variant: None })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound, FuzzError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound, FuzzError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound, FuzzError> {
        Ok(Compound { items: Vec::new(), variant: Some(i) })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapCompound, FuzzError> {
        Ok(MapCompound { entries: Vec::new(), key: None })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound, FuzzError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound, FuzzError> {
        self.serialize_tuple_variant(name, i, variant, len)
    }
}

macro_rules! compound {
    ($($tr:ident :: $f:ident $(, $key:ident)?);*) => {$(
        impl ser::$tr for Compound {
            type Ok = Shape;
            type Error = FuzzError;
            fn $f<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? v: &T) -> Result<(), FuzzError> {
                $(let _ = $key;)?
                self.items.push(v.serialize(Recorder)?);
                Ok(())
            }
            fn end(self) -> Result<Shape, FuzzError> {
                Ok(self.finish())
            }
        }
    )*};
}

compound!(
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
    SerializeTupleVariant::serialize_field;
    SerializeStruct::serialize_field, key;
    SerializeStructVariant::serialize_field, key
);

impl ser::SerializeMap for MapCompound {
    type Ok = Shape;
    type Error = FuzzError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), FuzzError> {
        self.key = Some(k.serialize(Recorder)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), FuzzError> {
        let key = self.key.take().ok_or_else(|| FuzzError("map value without a key".into()))?;
        self.entries.push((key, v.serialize(Recorder)?));
        Ok(())
    }
    fn end(self) -> Result<Shape, FuzzError> {
        Ok(Shape::Map(self.entries))
    }
}
