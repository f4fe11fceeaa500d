//! In-process ONNX runtime on tract: the model is parsed, rewritten for scikit-learn
//! exports (see `onnx_rewrite`), typed, optimised once at load, then run with at most
//! `--inference-threads` inferences in flight: on tokio's blocking pool, or — for a model
//! whose runs take a few microseconds — right on the request's task (`runs_inline`), which
//! saves two thread hand-offs per request (most of a small model's cost).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::onnx_rewrite;
use crate::error::{Error, Result};
use crate::wire::v2::{DataType, Tensor as V2Tensor, TensorData, TensorMetadata};

type Plan = Arc<TypedRunnableModel>;
type State = TypedSimpleState;

/// At most this many idle run states are kept per model (more only while more runs are
/// in flight at once; `--inference-threads` bounds that).
const POOLED_STATES: usize = 64;

/// A loaded, optimised ONNX model.
pub struct OnnxModel {
    plan: Plan,
    /// Idle run states, reused so that a run does not build the plan's value table and op
    /// states again (`None`: the model has ops that keep state between runs, such as a
    /// scan, so every run starts from a fresh state as `SimplePlan::run` does).
    states: Option<Mutex<Vec<State>>>,
    inputs: Vec<(TensorMetadata, DatumType)>,
    outputs: Vec<TensorMetadata>,
    pub notes: Vec<String>,
    /// Moving average of one run's wall time in µs (f64 bits; infinite until measured).
    typical_us: AtomicU64,
}

/// A run expected to take less than this (and small enough input) stays on the request's
/// task: tokio's guidance is that a task should not hold its worker more than 10–100 µs.
pub const INLINE_BELOW: Duration = Duration::from_micros(50);
/// Inputs with more elements than this always go to the blocking pool (a large batch of a
/// cheap model is not cheap).
pub const INLINE_MAX_ELEMENTS: usize = 4096;

fn v2_type(dt: DatumType) -> Option<DataType> {
    Some(match dt {
        DatumType::Bool => DataType::Bool,
        DatumType::U8 => DataType::U8,
        DatumType::U16 => DataType::U16,
        DatumType::U32 => DataType::U32,
        DatumType::U64 => DataType::U64,
        DatumType::I8 => DataType::I8,
        DatumType::I16 => DataType::I16,
        DatumType::I32 => DataType::I32,
        DatumType::I64 => DataType::I64,
        DatumType::F16 => DataType::F16,
        DatumType::F32 => DataType::F32,
        DatumType::F64 => DataType::F64,
        DatumType::String => DataType::Bytes,
        _ => return None,
    })
}

fn model_err(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Model(format!("{context}: {e}"))
}

fn shape_of(fact: &TypedFact) -> Vec<i64> {
    fact.shape.iter().map(|d| d.to_i64().unwrap_or(-1)).collect()
}

impl OnnxModel {
    /// Parse, rewrite, type and optimise `bytes`. Errors name the unsupported operator
    /// or say plainly that the bytes are not an ONNX model.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let framework = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_output_types(true);
        let mut proto = framework
            .proto_model_for_read(&mut &*bytes)
            .map_err(|e| Error::Model(format!("not an ONNX model (protobuf decode failed: {e})")))?;
        if proto.graph.as_ref().is_none_or(|g| g.node.is_empty()) {
            return Err(Error::Model("not an ONNX model (no graph nodes)".into()));
        }
        onnx_rewrite::check_sizes(&proto)?;
        let log = onnx_rewrite::rewrite(&mut proto)?;
        onnx_rewrite::check_supported(&proto, &|op| framework.op_register.0.contains_key(op))?;
        let mut model = framework
            .model_for_proto_model(&proto)
            .map_err(|e| model_err("ONNX graph could not be parsed", format!("{e:#}")))?;
        // Unknown dimensions (scikit-learn's `None` batch axis) become a symbol so the
        // model is optimised once for any batch size.
        let batch = model.symbols.sym("N");
        for ix in 0..model.inputs.len() {
            let fact = model.input_fact(ix).map_err(|e| model_err("input", e))?.clone();
            let Some(dt) = fact.datum_type() else {
                continue;
            };
            let Some(rank) = fact.shape.rank().concretize() else {
                continue;
            };
            let dims: TVec<TDim> = (0..rank as usize)
                .map(|d| match fact.shape.dim(d).and_then(|f| f.concretize()) {
                    Some(dim) => dim,
                    None if d == 0 => batch.clone().into(),
                    None => model.symbols.sym(&format!("d{ix}_{d}")).into(),
                })
                .collect();
            model
                .set_input_fact(ix, InferenceFact::dt_shape(dt, dims))
                .map_err(|e| model_err("input fact", e))?;
        }
        let typed = model
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| model_err("ONNX model could not be typed", format!("{e:#}")))?;
        let facts_in: Vec<(String, TypedFact)> = typed
            .input_outlets()
            .map_err(|e| model_err("inputs", e))?
            .iter()
            .map(|o| (typed.node(o.node).name.clone(), typed.outlet_fact(*o).cloned()))
            .map(|(n, f)| f.map(|f| (n, f)))
            .collect::<TractResult<_>>()
            .map_err(|e| model_err("inputs", e))?;
        let output_names: Vec<String> = typed
            .output_outlets()
            .map_err(|e| model_err("outputs", e))?
            .iter()
            .map(|o| {
                typed
                    .outlet_label(*o)
                    .map(str::to_string)
                    .unwrap_or_else(|| typed.node(o.node).name.clone())
            })
            .collect();
        let facts_out: Vec<TypedFact> = typed
            .output_outlets()
            .map_err(|e| model_err("outputs", e))?
            .iter()
            .map(|o| typed.outlet_fact(*o).cloned())
            .collect::<TractResult<_>>()
            .map_err(|e| model_err("outputs", e))?;
        let mut inputs = Vec::new();
        for (name, fact) in facts_in {
            let dt = v2_type(fact.datum_type).ok_or_else(|| {
                Error::Model(format!(
                    "input '{name}': datatype {:?} cannot be served over V2",
                    fact.datum_type
                ))
            })?;
            inputs.push((
                TensorMetadata {
                    name,
                    datatype: dt.name().into(),
                    shape: shape_of(&fact),
                },
                fact.datum_type,
            ));
        }
        let mut outputs = Vec::new();
        for (name, fact) in output_names.into_iter().zip(facts_out) {
            let dt = v2_type(fact.datum_type).ok_or_else(|| {
                Error::Model(format!(
                    "output '{name}': datatype {:?} cannot be served over V2",
                    fact.datum_type
                ))
            })?;
            outputs.push(TensorMetadata {
                name,
                datatype: dt.name().into(),
                shape: shape_of(&fact),
            });
        }
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| model_err("ONNX model could not be optimised", format!("{e:#}")))?;
        let first = plan
            .spawn()
            .map_err(|e| model_err("ONNX model could not be prepared", format!("{e:#}")))?;
        let stateless = first.op_states.iter().all(Option::is_none);
        Ok(OnnxModel {
            states: stateless.then(|| Mutex::new(vec![first])),
            plan,
            inputs,
            outputs,
            notes: log.notes,
            typical_us: AtomicU64::new(f64::INFINITY.to_bits()),
        })
    }

    /// Whether runs reuse pooled states (the model has no op that keeps state between runs).
    pub fn pools_states(&self) -> bool {
        self.states.is_some()
    }

    pub fn inputs(&self) -> Vec<TensorMetadata> {
        self.inputs.iter().map(|(m, _)| m.clone()).collect()
    }

    pub fn outputs(&self) -> Vec<TensorMetadata> {
        self.outputs.clone()
    }

    /// Check the request's inputs against the model's (names, datatypes, ranks, fixed
    /// dimensions) and order them as the model wants. Errors are client errors (400).
    pub fn check_inputs(&self, given: Vec<V2Tensor>) -> std::result::Result<Vec<V2Tensor>, String> {
        let mut given = given;
        let mut ordered = Vec::with_capacity(self.inputs.len());
        for (meta, _) in &self.inputs {
            let pos = given
                .iter()
                .position(|t| t.name == meta.name)
                .ok_or_else(|| format!("missing input '{}' ({} {:?})", meta.name, meta.datatype, meta.shape))?;
            let t = given.swap_remove(pos);
            if t.datatype().name() != meta.datatype {
                return Err(format!(
                    "input '{}': expected datatype {}, got {}",
                    meta.name,
                    meta.datatype,
                    t.datatype().name()
                ));
            }
            let fits = t.shape.len() == meta.shape.len()
                && t.shape.iter().zip(&meta.shape).all(|(&g, &m)| m < 0 || g as i64 == m);
            if !fits {
                return Err(format!(
                    "input '{}': expected shape {:?} (-1 = any), got {:?}",
                    meta.name, meta.shape, t.shape
                ));
            }
            ordered.push(t);
        }
        if let Some(extra) = given.first() {
            let known: Vec<&str> = self.inputs.iter().map(|(m, _)| m.name.as_str()).collect();
            return Err(format!(
                "unknown input '{}' (model inputs: {})",
                extra.name,
                known.join(", ")
            ));
        }
        Ok(ordered)
    }

    /// Whether a run on `inputs` is cheap enough to do on the request's task: the model's
    /// runs have been measured (the first always goes to the blocking pool) and typically
    /// take under `INLINE_BELOW`, and the input is small.
    pub fn runs_inline(&self, inputs: &[V2Tensor]) -> bool {
        self.cheap_under(inputs, INLINE_BELOW)
    }

    /// `runs_inline` with another limit than `INLINE_BELOW`.
    pub fn cheap_under(&self, inputs: &[V2Tensor], limit: Duration) -> bool {
        let elements: usize = inputs.iter().map(|t| t.data.len()).sum();
        self.typical_run().is_some_and(|t| t < limit) && elements <= INLINE_MAX_ELEMENTS
    }

    /// The moving average of a run's duration; `None` before the first run.
    pub fn typical_run(&self) -> Option<Duration> {
        let us = f64::from_bits(self.typical_us.load(Ordering::Relaxed));
        us.is_finite().then(|| Duration::from_secs_f64(us.max(0.0) / 1e6))
    }

    /// Run the model on already-checked inputs (blocking unless `runs_inline` said it is
    /// cheap). Each run updates the moving average of its duration (weight 1/16; racing
    /// updates may drop one sample, which a moving average does not mind).
    pub fn run(&self, inputs: Vec<V2Tensor>) -> Result<Vec<V2Tensor>> {
        let started = Instant::now();
        let tvalues: TVec<TValue> = inputs.into_iter().map(to_tract).collect::<Result<_>>()?;
        let results = self
            .run_plan(tvalues)
            .map_err(|e| model_err("inference failed", format!("{e:#}")))?;
        let took = started.elapsed().as_secs_f64() * 1e6;
        let before = f64::from_bits(self.typical_us.load(Ordering::Relaxed));
        let after = if before.is_finite() {
            before + (took - before) / 16.0
        } else {
            took
        };
        self.typical_us.store(after.to_bits(), Ordering::Relaxed);
        results
            .into_iter()
            .zip(&self.outputs)
            .map(|(v, meta)| from_tract(&meta.name, &v))
            .collect()
    }

    /// One run of the plan on a pooled state. A state goes back to the pool only after a
    /// successful run, which ends with tract's `reset_turn` (values and resolved symbols
    /// cleared); a failed run may leave them set, so its state is dropped.
    fn run_plan(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let Some(pool) = &self.states else {
            return self.plan.run(inputs);
        };
        let lock = || pool.lock().unwrap_or_else(PoisonError::into_inner);
        let pooled = lock().pop();
        let mut state = match pooled {
            Some(s) => s,
            None => self.plan.spawn()?,
        };
        let out = state.run(inputs)?;
        let mut idle = lock();
        if idle.len() < POOLED_STATES {
            idle.push(state);
        }
        Ok(out)
    }
}

/// A plain tensor of `T`s: the data copied once into tract's aligned storage.
fn plain<T: Datum + Copy>(shape: &[usize], v: &[T]) -> Result<TValue> {
    Tensor::from_shape(shape, v)
        .map(Tensor::into_tvalue)
        .map_err(|e| Error::Model(format!("tensor shape: {e}")))
}

fn array<T: Datum>(shape: &[usize], v: Vec<T>) -> Result<TValue> {
    let arr = tract_ndarray::ArrayD::from_shape_vec(tract_ndarray::IxDyn(shape), v)
        .map_err(|e| Error::Model(format!("tensor shape: {e}")))?;
    Ok(Tensor::from(arr).into_tvalue())
}

fn to_tract(t: V2Tensor) -> Result<TValue> {
    let s = &t.shape;
    match t.data {
        TensorData::Bool(v) => plain(s, &v),
        TensorData::U8(v) => plain(s, &v),
        TensorData::U16(v) => plain(s, &v),
        TensorData::U32(v) => plain(s, &v),
        TensorData::U64(v) => plain(s, &v),
        TensorData::I8(v) => plain(s, &v),
        TensorData::I16(v) => plain(s, &v),
        TensorData::I32(v) => plain(s, &v),
        TensorData::I64(v) => plain(s, &v),
        TensorData::F16(v) => plain(s, &v),
        TensorData::F32(v) => plain(s, &v),
        TensorData::F64(v) => plain(s, &v),
        TensorData::Bytes(v) => array(
            s,
            v.into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect::<Vec<String>>(),
        ),
    }
}

/// A tensor's elements in order (tract keeps them contiguous, so this is one copy).
fn collect<T: Datum + Clone>(v: &tract_onnx::prelude::Tensor) -> Result<Vec<T>> {
    v.try_as_plain_ram()
        .and_then(|p| p.as_slice::<T>().map(<[T]>::to_vec))
        .map_err(|e| model_err("output", e))
}

fn from_tract(name: &str, v: &tract_onnx::prelude::Tensor) -> Result<V2Tensor> {
    let data = match v.datum_type() {
        DatumType::Bool => TensorData::Bool(collect(v)?),
        DatumType::U8 => TensorData::U8(collect(v)?),
        DatumType::U16 => TensorData::U16(collect(v)?),
        DatumType::U32 => TensorData::U32(collect(v)?),
        DatumType::U64 => TensorData::U64(collect(v)?),
        DatumType::I8 => TensorData::I8(collect(v)?),
        DatumType::I16 => TensorData::I16(collect(v)?),
        DatumType::I32 => TensorData::I32(collect(v)?),
        DatumType::I64 => TensorData::I64(collect(v)?),
        DatumType::F16 => TensorData::F16(collect::<half::f16>(v)?),
        DatumType::F32 => TensorData::F32(collect(v)?),
        DatumType::F64 => TensorData::F64(collect(v)?),
        DatumType::String => TensorData::Bytes(collect::<String>(v)?.into_iter().map(String::into_bytes).collect()),
        other => {
            return Err(Error::Model(format!(
                "output '{name}': datatype {other:?} cannot be served over V2"
            )));
        }
    };
    Ok(V2Tensor {
        name: name.to_string(),
        shape: v.shape().to_vec(),
        data,
    })
}
