//! A tensor's JSON `data` as typed elements. The JSON part of a request or an answer is
//! decoded with each tensor's `data` kept as raw text ([`WireTensorIn`]); once the
//! tensor's datatype is known, the text is decoded straight into a `Vec` of that type
//! ([`typed`]), with no `serde_json::Value` per element. Anything that path does not
//! accept (a wrong element, a count that does not fit the shape, nesting deeper than 64)
//! is decoded again through `Value`s ([`by_value`]), which is what names the error, so
//! answers and refusals are exactly those of the `Value` decoder. Both convert a scalar by
//! the one rule, `tensor::Element`.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::tensor::{Element, Scalar};
use super::{DataType, InvalidRequest, TensorData, bad};

/// Deepest nesting of `data` arrays accepted.
const MAX_DEPTH: usize = 64;

/// One tensor of a request's `inputs` or an answer's `outputs`, `data` left undecoded.
#[derive(Debug, Deserialize)]
pub(crate) struct WireTensorIn<'a> {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
}

/// A tensor's JSON `data` (flat or nested row-major) as `n` elements of `dt`, the count its
/// `shape` needs; `role` ("input" or "output") and `name` begin each error.
pub(crate) fn json_data(
    role: &str,
    name: &str,
    shape: &[i64],
    dt: DataType,
    n: usize,
    raw: &RawValue,
) -> Result<TensorData, InvalidRequest> {
    match typed(dt, raw.get(), n) {
        Some(data) => Ok(data),
        None => {
            let value: Value =
                serde_json::from_str(raw.get()).map_err(|e| bad(format!("{role} '{name}': malformed data: {e}")))?;
            by_value(role, name, shape, dt, n, &value)
        }
    }
}

/// The `Value` decoder: flatten, count, convert (the reference the typed path matches).
pub(crate) fn by_value(
    role: &str,
    name: &str,
    shape: &[i64],
    dt: DataType,
    n: usize,
    value: &Value,
) -> Result<TensorData, InvalidRequest> {
    let mut flat = Vec::new();
    flatten(value, &mut flat, 0)?;
    if flat.len() != n {
        return Err(bad(format!(
            "{role} '{name}': shape {shape:?} needs {n} elements, data has {}",
            flat.len()
        )));
    }
    TensorData::from_json(dt, &flat).map_err(|e| bad(format!("{role} '{name}': {e}")))
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) -> Result<(), InvalidRequest> {
    if depth > MAX_DEPTH {
        return Err(bad(format!("data nests deeper than {MAX_DEPTH} levels")));
    }
    match v {
        Value::Array(items) => {
            for item in items {
                flatten(item, out, depth + 1)?;
            }
            Ok(())
        }
        other => {
            out.push(other);
            Ok(())
        }
    }
}

/// `n` elements of `dt` from the raw JSON `text`, or `None` when the text is anything but
/// (possibly nested) arrays of exactly `n` convertible scalars at most 64 deep.
pub(crate) fn typed(dt: DataType, text: &str, n: usize) -> Option<TensorData> {
    fn decode<T: Element>(text: &str, n: usize) -> Option<Vec<T>> {
        // Every element takes at least one byte of text: a declared count cannot reserve
        // more than the body could hold.
        let mut out = Vec::with_capacity(n.min(text.len()));
        let mut de = serde_json::Deserializer::from_str(text);
        Flat {
            out: &mut out,
            n,
            depth: 0,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        (out.len() == n).then_some(out)
    }
    Some(match dt {
        DataType::Bool => TensorData::Bool(decode(text, n)?),
        DataType::U8 => TensorData::U8(decode(text, n)?),
        DataType::U16 => TensorData::U16(decode(text, n)?),
        DataType::U32 => TensorData::U32(decode(text, n)?),
        DataType::U64 => TensorData::U64(decode(text, n)?),
        DataType::I8 => TensorData::I8(decode(text, n)?),
        DataType::I16 => TensorData::I16(decode(text, n)?),
        DataType::I32 => TensorData::I32(decode(text, n)?),
        DataType::I64 => TensorData::I64(decode(text, n)?),
        DataType::F16 => TensorData::F16(decode(text, n)?),
        DataType::F32 => TensorData::F32(decode(text, n)?),
        DataType::F64 => TensorData::F64(decode(text, n)?),
        DataType::Bytes => TensorData::Bytes(decode(text, n)?),
    })
}

/// Appends the scalars of one JSON value (arrays flattened) to `out`; stops at the first
/// element that does not convert, past `n` elements, or past `MAX_DEPTH`.
struct Flat<'v, T> {
    out: &'v mut Vec<T>,
    n: usize,
    depth: usize,
}

impl<T: Element> Flat<'_, T> {
    fn push<E: de::Error>(self, s: Scalar<'_>) -> Result<(), E> {
        if self.out.len() == self.n {
            return Err(E::custom("more elements than the shape needs"));
        }
        let v = T::of_scalar(s).ok_or_else(|| E::custom("element does not convert"))?;
        self.out.push(v);
        Ok(())
    }
}

impl<'de, T: Element> DeserializeSeed<'de> for Flat<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Element> Visitor<'de> for Flat<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tensor data")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.push(Scalar::U(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.push(Scalar::I(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.push(Scalar::F(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.push(Scalar::B(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.push(Scalar::S(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("nested too deep"));
        }
        while seq
            .next_element_seed(Flat {
                out: &mut *self.out,
                n: self.n,
                depth: self.depth + 1,
            })?
            .is_some()
        {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TYPES: [DataType; 13] = [
        DataType::Bool,
        DataType::U8,
        DataType::U16,
        DataType::U32,
        DataType::U64,
        DataType::I8,
        DataType::I16,
        DataType::I32,
        DataType::I64,
        DataType::F16,
        DataType::F32,
        DataType::F64,
        DataType::Bytes,
    ];

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::from),
            (0u64..3).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-300i64..300).prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            prop_oneof![Just("NaN"), Just("inf"), Just("-Infinity"), Just("x"), Just("é\n\"")].prop_map(Value::from),
            Just(Value::Null),
            Just(serde_json::json!({"a": 1})),
        ]
    }

    fn data() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 40, 6, |inner| {
            prop::collection::vec(inner, 0..6).prop_map(Value::Array)
        })
    }

    /// The typed path and the `Value` path agree: the same elements bit for bit (NaN as
    /// NaN), or the typed path declines and the `Value` path names an error.
    fn agree(dt: DataType, v: &Value, n: usize) -> Result<(), TestCaseError> {
        let text = serde_json::to_string(v).unwrap();
        let raw = RawValue::from_string(text.clone()).unwrap();
        // The reference decodes what the text parses to (serde_json's float parsing is not
        // an exact round trip of every f64 it prints).
        let v: Value = serde_json::from_str(&text).unwrap();
        let reference = by_value("input", "x", &[n as i64], dt, n, &v);
        let got = json_data("input", "x", &[n as i64], dt, n, &raw);
        match (&reference, typed(dt, &text, n)) {
            (Ok(want), Some(fast)) => prop_assert!(same(want, &fast), "{dt:?} {text}: {want:?} vs {fast:?}"),
            (Ok(want), None) => prop_assert!(false, "{dt:?} {text}: typed path declined {want:?}"),
            (Err(_), Some(fast)) => prop_assert!(false, "{dt:?} {text}: typed path took {fast:?}"),
            (Err(_), None) => {}
        }
        match (&reference, &got) {
            (Ok(a), Ok(b)) => prop_assert!(same(a, b)),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            _ => prop_assert!(false, "{dt:?} {text}: {reference:?} vs {got:?}"),
        }
        Ok(())
    }

    /// Equal elements, NaN equal to NaN (debug forms compare every element and its type).
    fn same(a: &TensorData, b: &TensorData) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn typed_data_decodes_as_the_value_decoder(v in data(), t in 0usize..13, extra in -1i64..2) {
            let dt = TYPES[t];
            let mut flat = Vec::new();
            let count = match flatten(&v, &mut flat, 0) { Ok(()) => flat.len(), Err(_) => 0 };
            // Mostly the right count, sometimes one off either way.
            let n = (count as i64 + extra).max(0) as usize;
            agree(dt, &v, n)?;
        }
    }

    #[test]
    fn every_type_decodes_nested_rows_and_refuses_like_the_value_decoder() {
        let cases = [
            (DataType::F32, "[[1.5, 2], [-3, \"NaN\"]]", 4),
            (DataType::I8, "[[1, -128], [127, 0]]", 4),
            (DataType::I8, "[1, 128]", 2),
            (DataType::U16, "[65535, -1]", 2),
            (DataType::Bool, "[true, 0, 1, false]", 4),
            (DataType::Bool, "[2]", 1),
            (DataType::Bytes, "[\"a\", \"\\u00e9\"]", 2),
            (DataType::F64, "[1, [2, [3]]]", 3),
            (DataType::F64, "[1, 2, 3]", 2),
            (DataType::F64, "[1, 2]", 3),
            (DataType::F64, "1.25", 1),
            (DataType::I64, "[1.5]", 1),
            (DataType::F32, "[null]", 1),
            (DataType::F32, "[{\"a\": 1}]", 1),
        ];
        for (dt, text, n) in cases {
            let v: Value = serde_json::from_str(text).unwrap();
            agree(dt, &v, n).unwrap();
        }
        let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
        let v: Value = serde_json::from_str(&deep).unwrap();
        assert_eq!(typed(DataType::F32, &deep, 1), None);
        let e = by_value("input", "x", &[1], DataType::F32, 1, &v).unwrap_err();
        assert_eq!(e.0, "data nests deeper than 64 levels");
        let ok = format!("{}1{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(typed(DataType::F32, &ok, 1), Some(TensorData::F32(vec![1.0])));
    }
}
