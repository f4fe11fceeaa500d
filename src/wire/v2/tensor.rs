//! Tensors: the V2 datatypes, typed element storage, and their JSON and little-endian
//! binary forms.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A V2 datatype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    #[serde(rename = "BOOL")]
    Bool,
    #[serde(rename = "UINT8")]
    U8,
    #[serde(rename = "UINT16")]
    U16,
    #[serde(rename = "UINT32")]
    U32,
    #[serde(rename = "UINT64")]
    U64,
    #[serde(rename = "INT8")]
    I8,
    #[serde(rename = "INT16")]
    I16,
    #[serde(rename = "INT32")]
    I32,
    #[serde(rename = "INT64")]
    I64,
    #[serde(rename = "FP16")]
    F16,
    #[serde(rename = "FP32")]
    F32,
    #[serde(rename = "FP64")]
    F64,
    #[serde(rename = "BYTES")]
    Bytes,
}

impl DataType {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::U8 => "UINT8",
            DataType::U16 => "UINT16",
            DataType::U32 => "UINT32",
            DataType::U64 => "UINT64",
            DataType::I8 => "INT8",
            DataType::I16 => "INT16",
            DataType::I32 => "INT32",
            DataType::I64 => "INT64",
            DataType::F16 => "FP16",
            DataType::F32 => "FP32",
            DataType::F64 => "FP64",
            DataType::Bytes => "BYTES",
        }
    }
    /// Element size in the binary encoding; `None` for BYTES (length-prefixed).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            DataType::Bool | DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 | DataType::F16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::U64 | DataType::I64 | DataType::F64 => 8,
            DataType::Bytes => return None,
        })
    }
}

/// Typed, flat (row-major) tensor contents.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<half::f16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<Vec<u8>>),
}

macro_rules! each_variant {
    ($value:expr, $v:ident => $body:expr) => {
        match $value {
            TensorData::Bool($v) => $body,
            TensorData::U8($v) => $body,
            TensorData::U16($v) => $body,
            TensorData::U32($v) => $body,
            TensorData::U64($v) => $body,
            TensorData::I8($v) => $body,
            TensorData::I16($v) => $body,
            TensorData::I32($v) => $body,
            TensorData::I64($v) => $body,
            TensorData::F16($v) => $body,
            TensorData::F32($v) => $body,
            TensorData::F64($v) => $body,
            TensorData::Bytes($v) => $body,
        }
    };
}

impl TensorData {
    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn datatype(&self) -> DataType {
        match self {
            TensorData::Bool(_) => DataType::Bool,
            TensorData::U8(_) => DataType::U8,
            TensorData::U16(_) => DataType::U16,
            TensorData::U32(_) => DataType::U32,
            TensorData::U64(_) => DataType::U64,
            TensorData::I8(_) => DataType::I8,
            TensorData::I16(_) => DataType::I16,
            TensorData::I32(_) => DataType::I32,
            TensorData::I64(_) => DataType::I64,
            TensorData::F16(_) => DataType::F16,
            TensorData::F32(_) => DataType::F32,
            TensorData::F64(_) => DataType::F64,
            TensorData::Bytes(_) => DataType::Bytes,
        }
    }

    /// Element `i` as f64 (BYTES and out-of-range give `None`); used for argmax and logs.
    pub fn get_f64(&self, i: usize) -> Option<f64> {
        match self {
            TensorData::Bool(v) => v.get(i).map(|b| f64::from(u8::from(*b))),
            TensorData::U8(v) => v.get(i).map(|x| f64::from(*x)),
            TensorData::U16(v) => v.get(i).map(|x| f64::from(*x)),
            TensorData::U32(v) => v.get(i).map(|x| f64::from(*x)),
            TensorData::U64(v) => v.get(i).map(|x| *x as f64),
            TensorData::I8(v) => v.get(i).map(|x| f64::from(*x)),
            TensorData::I16(v) => v.get(i).map(|x| f64::from(*x)),
            TensorData::I32(v) => v.get(i).map(|x| f64::from(*x)),
            TensorData::I64(v) => v.get(i).map(|x| *x as f64),
            TensorData::F16(v) => v.get(i).map(|x| x.to_f64()),
            TensorData::F32(v) => v.get(i).map(|x| f64::from(*x)),
            TensorData::F64(v) => v.get(i).copied(),
            TensorData::Bytes(_) => None,
        }
    }

    /// JSON array of the flat data (non-finite floats become `null`, as JSON has no NaN).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Little-endian binary encoding (Triton binary tensor extension).
    pub fn to_binary(&self, out: &mut Vec<u8>) {
        match self {
            TensorData::Bool(v) => out.extend(v.iter().map(|b| u8::from(*b))),
            TensorData::U8(v) => out.extend_from_slice(v),
            TensorData::I8(v) => out.extend(v.iter().map(|x| x.to_le_bytes()[0])),
            TensorData::U16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::U32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::U64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::I16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::I32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::I64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::F16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::F64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Bytes(v) => v.iter().for_each(|b| {
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                out.extend_from_slice(b);
            }),
        }
    }

    /// Decode `n` elements of `dt` from little-endian bytes; errors name what was expected.
    pub fn from_binary(dt: DataType, bytes: &[u8], n: usize) -> Result<Self, String> {
        fn fixed<const W: usize, T>(bytes: &[u8], n: usize, f: impl Fn([u8; W]) -> T) -> Result<Vec<T>, String> {
            if bytes.len() != n * W {
                return Err(format!(
                    "binary data has {} bytes, shape needs {} elements × {W} bytes = {}",
                    bytes.len(),
                    n,
                    n * W
                ));
            }
            Ok(bytes
                .chunks_exact(W)
                .map(|c| {
                    let mut a = [0u8; W];
                    a.copy_from_slice(c);
                    f(a)
                })
                .collect())
        }
        Ok(match dt {
            DataType::Bool => TensorData::Bool(fixed::<1, _>(bytes, n, |a| a[0] != 0)?),
            DataType::U8 => TensorData::U8(fixed::<1, _>(bytes, n, |a| a[0])?),
            DataType::I8 => TensorData::I8(fixed::<1, _>(bytes, n, i8::from_le_bytes)?),
            DataType::U16 => TensorData::U16(fixed(bytes, n, u16::from_le_bytes)?),
            DataType::I16 => TensorData::I16(fixed(bytes, n, i16::from_le_bytes)?),
            DataType::F16 => TensorData::F16(fixed(bytes, n, half::f16::from_le_bytes)?),
            DataType::U32 => TensorData::U32(fixed(bytes, n, u32::from_le_bytes)?),
            DataType::I32 => TensorData::I32(fixed(bytes, n, i32::from_le_bytes)?),
            DataType::F32 => TensorData::F32(fixed(bytes, n, f32::from_le_bytes)?),
            DataType::U64 => TensorData::U64(fixed(bytes, n, u64::from_le_bytes)?),
            DataType::I64 => TensorData::I64(fixed(bytes, n, i64::from_le_bytes)?),
            DataType::F64 => TensorData::F64(fixed(bytes, n, f64::from_le_bytes)?),
            DataType::Bytes => {
                let mut items = Vec::with_capacity(n.min(1 << 16));
                let mut rest = bytes;
                while !rest.is_empty() {
                    if rest.len() < 4 {
                        return Err("truncated BYTES element length prefix".into());
                    }
                    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    rest = &rest[4..];
                    if rest.len() < len {
                        return Err(format!(
                            "BYTES element of {len} bytes runs past the end of its binary data"
                        ));
                    }
                    items.push(rest[..len].to_vec());
                    rest = &rest[len..];
                }
                if items.len() != n {
                    return Err(format!(
                        "binary data holds {} BYTES elements, shape needs {n}",
                        items.len()
                    ));
                }
                TensorData::Bytes(items)
            }
        })
    }

    /// Parse a flat list of JSON scalars as `dt` (each converted by [`Element`]).
    pub(crate) fn from_json(dt: DataType, flat: &[&Value]) -> Result<Self, String> {
        fn each<T: Element>(flat: &[&Value], what: &str) -> Result<Vec<T>, String> {
            flat.iter()
                .enumerate()
                .map(|(i, v)| {
                    Scalar::of(v)
                        .and_then(T::of_scalar)
                        .ok_or_else(|| format!("data[{i}]: expected {what}, got {v}"))
                })
                .collect()
        }
        Ok(match dt {
            DataType::Bool => TensorData::Bool(each(flat, "true or false")?),
            DataType::U8 => TensorData::U8(each(flat, "an integer in 0..=255")?),
            DataType::U16 => TensorData::U16(each(flat, "an integer in UINT16 range")?),
            DataType::U32 => TensorData::U32(each(flat, "an integer in UINT32 range")?),
            DataType::U64 => TensorData::U64(each(flat, "a non-negative integer")?),
            DataType::I8 => TensorData::I8(each(flat, "an integer in INT8 range")?),
            DataType::I16 => TensorData::I16(each(flat, "an integer in INT16 range")?),
            DataType::I32 => TensorData::I32(each(flat, "an integer in INT32 range")?),
            DataType::I64 => TensorData::I64(each(flat, "an integer in INT64 range")?),
            DataType::F16 => TensorData::F16(each(flat, "a number")?),
            DataType::F32 => TensorData::F32(each(flat, "a number")?),
            DataType::F64 => TensorData::F64(each(flat, "a number")?),
            DataType::Bytes => TensorData::Bytes(each(flat, "a string")?),
        })
    }
}

/// One JSON scalar as the parser saw it: what a `Value` holds, or what a typed decoder's
/// visitor is handed (non-negative integers as `U`, negative ones as `I`, the rest `F`).
pub(crate) enum Scalar<'s> {
    U(u64),
    I(i64),
    F(f64),
    S(&'s str),
    B(bool),
}

impl<'s> Scalar<'s> {
    /// A `Value`'s scalar (`None` for null, arrays and objects).
    pub(crate) fn of(v: &'s Value) -> Option<Scalar<'s>> {
        Some(match v {
            Value::Bool(b) => Scalar::B(*b),
            Value::String(s) => Scalar::S(s),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Scalar::U(u),
                (None, Some(i)) => Scalar::I(i),
                (None, None) => Scalar::F(n.as_f64()?),
            },
            _ => return None,
        })
    }
}

/// A tensor element type and how a JSON scalar converts to it (`None`: it does not). The
/// one rule for JSON tensor data, whichever decoder read the scalar.
pub(crate) trait Element: Sized {
    fn of_scalar(s: Scalar<'_>) -> Option<Self>;
}

fn float(s: Scalar<'_>) -> Option<f64> {
    match s {
        Scalar::U(u) => Some(u as f64),
        Scalar::I(i) => Some(i as f64),
        Scalar::F(f) => Some(f),
        // JSON has no NaN/Inf literals; accept the strings numpy/Triton clients write.
        Scalar::S("NaN" | "nan") => Some(f64::NAN),
        Scalar::S("Infinity" | "inf") => Some(f64::INFINITY),
        Scalar::S("-Infinity" | "-inf") => Some(f64::NEG_INFINITY),
        Scalar::S(_) | Scalar::B(_) => None,
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl Element for $t {
            fn of_scalar(s: Scalar<'_>) -> Option<Self> {
                match s {
                    Scalar::U(u) => <$t>::try_from(u).ok(),
                    Scalar::I(i) => <$t>::try_from(i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
integers!(u8, u16, u32, u64, i8, i16, i32, i64);

impl Element for bool {
    fn of_scalar(s: Scalar<'_>) -> Option<Self> {
        match s {
            Scalar::B(b) => Some(b),
            Scalar::U(0) => Some(false),
            Scalar::U(1) => Some(true),
            _ => None,
        }
    }
}

impl Element for f64 {
    fn of_scalar(s: Scalar<'_>) -> Option<Self> {
        float(s)
    }
}

impl Element for f32 {
    fn of_scalar(s: Scalar<'_>) -> Option<Self> {
        float(s).map(|x| x as f32)
    }
}

impl Element for half::f16 {
    fn of_scalar(s: Scalar<'_>) -> Option<Self> {
        float(s).map(half::f16::from_f64)
    }
}

impl Element for Vec<u8> {
    fn of_scalar(s: Scalar<'_>) -> Option<Self> {
        match s {
            Scalar::S(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}

/// A named tensor with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn datatype(&self) -> DataType {
        self.data.datatype()
    }
}

/// The flat data as a JSON array, written straight to the serializer (no `Value` per
/// element): integers and booleans as such, floats in their shortest round-trip form
/// (FP32 as FP32, FP16 widened), non-finite floats as `null` (JSON has no NaN), BYTES as
/// strings (invalid UTF-8 replaced).
impl Serialize for TensorData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        fn floats<S: serde::Serializer, T: Copy>(
            s: S,
            v: &[T],
            finite: impl Fn(T) -> bool,
            put: impl Fn(&mut S::SerializeSeq, T) -> Result<(), S::Error>,
        ) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(v.len()))?;
            for &x in v {
                if finite(x) {
                    put(&mut seq, x)?
                } else {
                    seq.serialize_element(&())?
                }
            }
            seq.end()
        }
        match self {
            TensorData::Bool(v) => v.serialize(s),
            TensorData::U8(v) => v.serialize(s),
            TensorData::U16(v) => v.serialize(s),
            TensorData::U32(v) => v.serialize(s),
            TensorData::U64(v) => v.serialize(s),
            TensorData::I8(v) => v.serialize(s),
            TensorData::I16(v) => v.serialize(s),
            TensorData::I32(v) => v.serialize(s),
            TensorData::I64(v) => v.serialize(s),
            TensorData::F16(v) => floats(s, v, |x| x.is_finite(), |q, x| q.serialize_element(&x.to_f64())),
            TensorData::F32(v) => floats(s, v, f32::is_finite, |q, x| q.serialize_element(&x)),
            TensorData::F64(v) => floats(s, v, f64::is_finite, |q, x| q.serialize_element(&x)),
            TensorData::Bytes(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for b in v {
                    seq.serialize_element(&String::from_utf8_lossy(b))?;
                }
                seq.end()
            }
        }
    }
}

/// A tensor in V2 JSON form: `{"name", "datatype", "shape", "data"}`, serialized from the
/// tensor itself (the response body and the prediction log share it).
#[derive(Debug, Clone, Copy)]
pub struct TensorJson<'a>(pub &'a Tensor);

impl Serialize for TensorJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let t = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("name", &t.name)?;
        m.serialize_entry("datatype", t.datatype().name())?;
        m.serialize_entry("shape", &t.shape)?;
        m.serialize_entry("data", &t.data)?;
        m.end()
    }
}
