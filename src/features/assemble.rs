//! Assembling a model's input on the request path from a feature view: request fields
//! and entity ids from the request, lookups from the online store, in the view's order.
//!
//! Three steps, so the store (in memory or over the network) sits between them:
//! [`read_request`] finds the request fields and entity ids (400 on a malformed request),
//! [`Rows::wanted`] lists the (table, entity) rows to fetch, and [`Rows::finish`] builds
//! the `[N, features]` tensor with the point-in-time rules of `pit.rs` applied to "now":
//! a value older than `max_age` is missing (or served, flagged, with `on_stale = "serve"`),
//! a missing value takes the view's default (counted), and a table the store could not
//! read fails the request (503) or takes the defaults (`on_store_error = "default"`,
//! counted and flagged).
//!
//! Request forms: one row as `parameters` (`{"parameters": {"restaurant_id": "r42",
//! "hour": 13}, "inputs": []}`), N rows as V2 inputs named after the fields with shape
//! `[N]` (BYTES or integers for ids); a parameter alongside N-row inputs applies to every
//! row. A request that already carries the view's input tensor is passed through as is.

use serde_json::{Map, Value};

use super::online::Fetched;
use super::view::{DataType, OnStale, OnStoreError, Source, View};
use crate::wire::v2::{InferRequest, Tensor, TensorData};

/// Why a request could not be assembled, with the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum AssembleError {
    /// 400: the request lacks a field or has one of the wrong type.
    BadRequest(String),
    /// 422: a lookup found no value and the view has no default for it.
    Missing(String),
    /// 503: the store could not be read and the view says `on_store_error = "fail"`.
    StoreDown(String),
}

impl std::fmt::Display for AssembleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssembleError::BadRequest(m) | AssembleError::Missing(m) | AssembleError::StoreDown(m) => f.write_str(m),
        }
    }
}

/// Something the gateway counts: a lookup that took its default or served a stale value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub table: String,
    pub feature: String,
    /// `unknown_entity`, `stale` (defaulted), `stale_served`, or `store_error`.
    pub reason: &'static str,
}

/// One request field's values, per row.
enum Field {
    Numbers(Vec<f64>),
    Ids(Vec<String>),
}

/// The request's side of the assembly: row count and each feature's request values.
pub struct Rows {
    pub n: usize,
    /// Per view feature: numbers (request feature) or entity ids (lookup).
    fields: Vec<Field>,
}

/// The assembled input and what to log and count.
#[derive(Debug)]
pub struct Assembled {
    pub tensor: Tensor,
    /// Feature name → value (one row) or values (N rows); lookup keys included (ids).
    pub logged: Map<String, Value>,
    pub counted: Vec<Counted>,
    /// For the log record: `store_error:<table>`, `stale:<feature>`.
    pub flags: Vec<String>,
}

fn one_row(i: usize, n: usize) -> usize {
    if n == 1 { 0 } else { i }
}

/// Does the request carry the view's input tensor itself (no assembly)?
pub fn passes_through(view: &View, req: &InferRequest) -> bool {
    req.inputs.iter().any(|t| t.name == view.input)
}

/// Read the request fields and entity ids the view needs from `req` (see the module doc).
pub fn read_request(view: &View, req: &InferRequest) -> Result<Rows, AssembleError> {
    let bad = |m: String| AssembleError::BadRequest(m);
    let field_name = |f: &super::view::Feature| match &f.source {
        Source::Request => f.name.clone(),
        Source::Lookup { key, .. } => key.clone(),
    };
    // N: the first dimension shared by every input named after a field.
    let mut n: Option<usize> = None;
    for f in &view.features {
        let name = field_name(f);
        if let Some(t) = req.inputs.iter().find(|t| t.name == name) {
            let rows = match t.shape.as_slice() {
                [r] | [r, 1] => *r,
                s => {
                    return Err(bad(format!(
                        "input {name:?}: shape {s:?}; a view field is [N] (or [N, 1])"
                    )));
                }
            };
            match n {
                Some(m) if m != rows => {
                    return Err(bad(format!("input {name:?} has {rows} rows, other fields have {m}")));
                }
                _ => n = Some(rows),
            }
        }
    }
    let n = n.unwrap_or(1);
    if n == 0 {
        return Err(bad("the request has 0 rows".into()));
    }
    let mut fields = Vec::with_capacity(view.features.len());
    for f in &view.features {
        let name = field_name(f);
        let is_id = matches!(f.source, Source::Lookup { .. });
        let field = if let Some(t) = req.inputs.iter().find(|t| t.name == name) {
            if is_id {
                let ids: Option<Vec<String>> = match &t.data {
                    TensorData::Bytes(v) => v.iter().map(|b| String::from_utf8(b.clone()).ok()).collect(),
                    TensorData::F16(_) | TensorData::F32(_) | TensorData::F64(_) => None,
                    d => (0..d.len()).map(|i| d.get_f64(i).map(|x| format!("{x}"))).collect(),
                };
                Field::Ids(ids.ok_or_else(|| bad(format!("input {name:?}: entity ids are BYTES (UTF-8) or integers")))?)
            } else {
                let xs: Option<Vec<f64>> = (0..t.data.len()).map(|i| t.data.get_f64(i)).collect();
                Field::Numbers(xs.ok_or_else(|| bad(format!("input {name:?}: expected numbers")))?)
            }
        } else if let Some(p) = req.parameters.get(&name) {
            if is_id {
                let id = match p {
                    Value::String(s) => s.clone(),
                    Value::Number(x) => x.to_string(),
                    _ => return Err(bad(format!("parameter {name:?}: an entity id is a string or a number"))),
                };
                Field::Ids(vec![id])
            } else {
                let x = match p {
                    Value::Number(x) => x.as_f64().unwrap_or(f64::NAN),
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    _ => return Err(bad(format!("parameter {name:?}: expected a number"))),
                };
                Field::Numbers(vec![x])
            }
        } else {
            let what = if is_id {
                format!("the entity id for feature {:?}", f.name)
            } else {
                "a request feature".to_string()
            };
            return Err(bad(format!(
                "the request has no parameter or input {name:?} ({what} of the model's feature view)"
            )));
        };
        fields.push(field);
    }
    Ok(Rows { n, fields })
}

/// Where `table.column` sits among the columns `Rows::wanted` lists for `table` (distinct,
/// in the view's order): a property of the view, found without the request's rows.
fn column_slot(view: &View, table: &str, column: &str) -> usize {
    let mut seen: Vec<&str> = Vec::new();
    for f in &view.features {
        if let Source::Lookup {
            table: t, column: c, ..
        } = &f.source
            && t == table
            && !seen.contains(&c.as_str())
        {
            if c == column {
                return seen.len();
            }
            seen.push(c);
        }
    }
    0
}

impl Rows {
    /// The rows to fetch: per table, the distinct entities and the columns the view reads.
    pub fn wanted<'v>(&self, view: &'v View) -> Vec<(&'v str, Vec<&'v str>, Vec<String>)> {
        let mut out: Vec<(&str, Vec<&str>, Vec<String>)> = Vec::new();
        for (f, field) in view.features.iter().zip(&self.fields) {
            let (Source::Lookup { table, column, .. }, Field::Ids(ids)) = (&f.source, field) else {
                continue;
            };
            let i = match out.iter().position(|(t, _, _)| *t == table.as_str()) {
                Some(i) => i,
                None => {
                    out.push((table.as_str(), Vec::new(), Vec::new()));
                    out.len() - 1
                }
            };
            let (_, cols, ents) = &mut out[i];
            if !cols.contains(&column.as_str()) {
                cols.push(column.as_str());
            }
            for id in ids {
                if !ents.contains(id) {
                    ents.push(id.clone());
                }
            }
        }
        out
    }

    /// Build the model input from the fetched rows at time `now_us`.
    pub fn finish(self, view: &View, fetched: &Fetched, now_us: i64) -> Result<Assembled, AssembleError> {
        let n = self.n;
        let k = view.features.len();
        let mut data = vec![0f64; n * k];
        let mut logged = Map::new();
        let mut counted = Vec::new();
        let mut flags = Vec::new();
        for (j, (f, field)) in view.features.iter().zip(&self.fields).enumerate() {
            match (&f.source, field) {
                (Source::Request, Field::Numbers(xs)) => {
                    for i in 0..n {
                        let x = xs[one_row(i, xs.len())];
                        if !x.is_finite() {
                            return Err(AssembleError::BadRequest(format!(
                                "feature {:?}: {x} is not a finite number",
                                f.name
                            )));
                        }
                        data[i * k + j] = x;
                    }
                }
                (
                    Source::Lookup {
                        table,
                        column,
                        key,
                        default,
                        max_age,
                    },
                    Field::Ids(ids),
                ) => {
                    let col = column_slot(view, table, column);
                    let max_age_us = max_age.map(|d| d.as_micros().min(i64::MAX as u128) as i64);
                    let mut count = |reason: &'static str| {
                        counted.push(Counted {
                            table: table.clone(),
                            feature: f.name.clone(),
                            reason,
                        })
                    };
                    let failed = fetched.failed.get(table.as_str());
                    if let Some(why) = failed {
                        if view.on_store_error == OnStoreError::Fail {
                            return Err(AssembleError::StoreDown(format!(
                                "feature store: table {table:?} cannot be read ({why}); the view says on_store_error = \"fail\""
                            )));
                        }
                        flags.push(format!("store_error:{table}"));
                    }
                    for i in 0..n {
                        let id = &ids[one_row(i, ids.len())];
                        let slot = if failed.is_some() {
                            count("store_error");
                            None
                        } else {
                            let s = fetched.get(table, id).and_then(|row| row.get(col).copied().flatten());
                            match s {
                                None => {
                                    count("unknown_entity");
                                    None
                                }
                                Some(s) if max_age_us.is_some_and(|a| now_us - s.ts_us > a) => {
                                    if view.on_stale == OnStale::Serve {
                                        count("stale_served");
                                        flags.push(format!("stale:{}", f.name));
                                        Some(s.value)
                                    } else {
                                        count("stale");
                                        None
                                    }
                                }
                                Some(s) => Some(s.value),
                            }
                        };
                        data[i * k + j] = match slot.or(*default) {
                            Some(v) => v,
                            None => {
                                return Err(AssembleError::Missing(format!(
                                    "feature {:?}: no value of {table}.{column} for {key} {id:?} and the view sets no default",
                                    f.name
                                )));
                            }
                        };
                    }
                    let idv: Vec<Value> = ids.iter().map(|s| Value::String(s.clone())).collect();
                    logged.insert(key.clone(), squeeze(idv));
                }
                _ => unreachable!("read_request pairs request features with numbers and lookups with ids"),
            }
            let col: Vec<Value> = (0..n).map(|i| float(data[i * k + j])).collect();
            logged.insert(f.name.clone(), squeeze(col));
        }
        flags.dedup();
        let tensor = Tensor {
            name: view.input.clone(),
            shape: vec![n, k],
            data: match view.datatype {
                DataType::Fp32 => TensorData::F32(data.iter().map(|x| *x as f32).collect()),
                DataType::Fp64 => TensorData::F64(data),
            },
        };
        Ok(Assembled {
            tensor,
            logged,
            counted,
            flags,
        })
    }
}

fn float(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// One row: the value; N rows: the array.
fn squeeze(mut v: Vec<Value>) -> Value {
    if v.len() == 1 {
        v.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(v)
    }
}

/// Replace the request's field inputs with the assembled tensor (other inputs stay).
pub fn apply(view: &View, req: &mut InferRequest, tensor: Tensor) {
    let consumed: Vec<&str> = view
        .features
        .iter()
        .map(|f| match &f.source {
            Source::Request => f.name.as_str(),
            Source::Lookup { key, .. } => key.as_str(),
        })
        .collect();
    req.inputs.retain(|t| !consumed.contains(&t.name.as_str()));
    req.inputs.insert(0, tensor);
}

#[cfg(test)]
mod tests {
    use super::super::online::Slot;
    use super::super::view::parse_view_text;
    use super::*;
    use serde_json::json;

    const VIEW: &str = r#"
input = "x"
[[feature]]
name = "hour"
from = "request"
[[feature]]
name = "prep_7d"
from = "restaurant_stats.avg_prep_7d"
key = "restaurant_id"
default = -1.0
max_age = "1h"
"#;

    fn request(parameters: Value, inputs: Vec<Tensor>) -> InferRequest {
        InferRequest {
            id: None,
            parameters: parameters.as_object().cloned().unwrap_or_default(),
            inputs,
            outputs: Vec::new(),
            binary_output_default: false,
        }
    }

    fn fetched(rows: &[(&str, i64, f64)]) -> Fetched {
        let mut f = Fetched::default();
        for (e, ts, v) in rows {
            f.insert("restaurant_stats", e, vec![Some(Slot { ts_us: *ts, value: *v })]);
        }
        f
    }

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn one_row_from_parameters_and_n_rows_from_inputs() {
        let view = parse_view_text("v.toml", VIEW).unwrap();
        let now = 10 * HOUR;
        let f = fetched(&[("r1", now - 10, 4.5), ("r2", now - 2 * HOUR, 9.0)]);
        let rows = read_request(&view, &request(json!({"restaurant_id": "r1", "hour": 13}), vec![])).unwrap();
        assert_eq!(
            rows.wanted(&view),
            vec![("restaurant_stats", vec!["avg_prep_7d"], vec!["r1".to_string()])]
        );
        let a = rows.finish(&view, &f, now).unwrap();
        assert_eq!(a.tensor.shape, vec![1, 2]);
        assert_eq!(a.tensor.data, TensorData::F32(vec![13.0, 4.5]));
        assert_eq!(
            Value::Object(a.logged),
            json!({"hour": 13.0, "restaurant_id": "r1", "prep_7d": 4.5})
        );
        // Three rows: ids as BYTES, hours as a tensor; r2 is stale, r9 unknown → default.
        let ids = Tensor {
            name: "restaurant_id".into(),
            shape: vec![3],
            data: TensorData::Bytes(vec![b"r1".to_vec(), b"r2".to_vec(), b"r9".to_vec()]),
        };
        let hours = Tensor {
            name: "hour".into(),
            shape: vec![3],
            data: TensorData::I64(vec![1, 2, 3]),
        };
        let mut req = request(json!({}), vec![ids, hours]);
        let a = read_request(&view, &req).unwrap().finish(&view, &f, now).unwrap();
        assert_eq!(a.tensor.data, TensorData::F32(vec![1.0, 4.5, 2.0, -1.0, 3.0, -1.0]));
        let reasons: Vec<&str> = a.counted.iter().map(|c| c.reason).collect();
        assert_eq!(reasons, vec!["stale", "unknown_entity"]);
        apply(&view, &mut req, a.tensor);
        assert_eq!(req.inputs.len(), 1);
        assert_eq!(req.inputs[0].name, "x");
    }

    #[test]
    fn faults_follow_the_view() {
        let mut view = parse_view_text("v.toml", VIEW).unwrap();
        let req = request(json!({"restaurant_id": 42, "hour": 1}), vec![]);
        let mut down = Fetched::default();
        down.failed
            .insert("restaurant_stats".into(), "connection refused".into());
        let e = read_request(&view, &req).unwrap().finish(&view, &down, 0).unwrap_err();
        assert!(
            matches!(e, AssembleError::StoreDown(ref m) if m.contains("connection refused")),
            "{e:?}"
        );
        view.on_store_error = OnStoreError::Default;
        let a = read_request(&view, &req).unwrap().finish(&view, &down, 0).unwrap();
        assert_eq!(a.tensor.data, TensorData::F32(vec![1.0, -1.0]));
        assert_eq!(a.flags, vec!["store_error:restaurant_stats".to_string()]);
        // Stale served with a flag.
        view.on_stale = OnStale::Serve;
        let f = fetched(&[("42", 0, 7.0)]);
        let a = read_request(&view, &req).unwrap().finish(&view, &f, 2 * HOUR).unwrap();
        assert_eq!(a.tensor.data, TensorData::F32(vec![1.0, 7.0]));
        assert_eq!(a.flags, vec!["stale:prep_7d".to_string()]);
        // No default: 422 naming the feature and the entity.
        let v2 = parse_view_text("v.toml", &VIEW.replace("default = -1.0\n", "")).unwrap();
        let e = read_request(&v2, &req)
            .unwrap()
            .finish(&v2, &Fetched::default(), 0)
            .unwrap_err();
        assert!(
            matches!(e, AssembleError::Missing(ref m) if m.contains("\"42\"")),
            "{e:?}"
        );
        // Malformed requests: 400 naming the field.
        for (p, want) in [
            (json!({"hour": 1}), "restaurant_id"),
            (json!({"restaurant_id": "a", "hour": "x"}), "parameter \"hour\""),
            (json!({"restaurant_id": [1], "hour": 1}), "entity id"),
        ] {
            let e = read_request(&view, &request(p, vec![])).err().unwrap();
            assert!(
                matches!(e, AssembleError::BadRequest(ref m) if m.contains(want)),
                "{e:?}"
            );
        }
    }
}
