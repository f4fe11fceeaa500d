//! V2 over gRPC (KServe/Triton `inference.GRPCInferenceService`): the generated messages
//! and service (`inference`, from `proto/inference_v2.proto` by `tools/grpc-codegen`, no
//! protoc needed to build) and the conversions between them and the gateway's own
//! `InferRequest`/`InferResponse`, so HTTP and gRPC share one pipeline.
//!
//! Tensor contents travel either typed (`InferTensorContents`, one repeated field per
//! element type) or raw (`raw_input_contents`/`raw_output_contents`: one little-endian,
//! row-major byte string per tensor, BYTES elements length-prefixed — the same layout as
//! the HTTP binary extension, so `TensorData::{from_binary, to_binary}` do both). The
//! answer uses the form the request used; FP16 and BF16 have no typed field and always
//! travel raw.

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]
pub mod inference;

use serde_json::{Map, Value};

use super::v2::{DataType, InferRequest, InferResponse, InvalidRequest, Tensor, TensorData, bad, element_count};
use inference::infer_parameter::ParameterChoice;
use inference::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
use inference::model_infer_response::InferOutputTensor;
use inference::{InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse};

/// A gRPC request as the gateway's request: contents validated against shape and
/// datatype exactly as the HTTP body is. Also says whether the inputs were raw.
pub fn request_from_proto(p: ModelInferRequest) -> Result<(InferRequest, bool), InvalidRequest> {
    let raw = !p.raw_input_contents.is_empty();
    if raw && p.raw_input_contents.len() != p.inputs.len() {
        return Err(bad(format!(
            "raw_input_contents has {} entries for {} inputs (one per input, in order)",
            p.raw_input_contents.len(),
            p.inputs.len()
        )));
    }
    let mut inputs = Vec::with_capacity(p.inputs.len());
    for (i, input) in p.inputs.into_iter().enumerate() {
        if inputs.iter().any(|t: &Tensor| t.name == input.name) {
            return Err(bad(format!("input '{}' appears twice", input.name)));
        }
        let dt = super::v2::input_datatype(&input.name, &input.datatype)?;
        let n = element_count(&input.name, &input.shape)?;
        if raw && input.contents.is_some() {
            return Err(bad(format!(
                "input '{}': has typed contents while the request uses raw_input_contents",
                input.name
            )));
        }
        let bytes = raw.then(|| p.raw_input_contents[i].as_slice());
        let data =
            decode_data(dt, n, bytes, input.contents).map_err(|e| bad(format!("input '{}': {e}", input.name)))?;
        inputs.push(Tensor {
            shape: input.shape.iter().map(|&d| d as usize).collect(),
            name: input.name,
            data,
        });
    }
    let mut outputs: Vec<(String, bool)> = Vec::with_capacity(p.outputs.len());
    for o in p.outputs {
        if outputs.iter().any(|(n, _)| *n == o.name) {
            return Err(bad(format!("output '{}' is requested more than once", o.name)));
        }
        outputs.push((o.name, raw));
    }
    if p.id.len() > super::v2::MAX_ID_LEN {
        return Err(bad(format!(
            "request id is {} bytes; at most {}",
            p.id.len(),
            super::v2::MAX_ID_LEN
        )));
    }
    let req = InferRequest {
        id: (!p.id.is_empty()).then_some(p.id),
        parameters: params_to_json(p.parameters),
        inputs,
        outputs,
        binary_output_default: raw,
    };
    Ok((req, raw))
}

/// The gateway's request as a gRPC request (raw or typed contents).
pub fn request_to_proto(model: &str, version: Option<&str>, req: &InferRequest, raw: bool) -> ModelInferRequest {
    let raw = raw || req.inputs.iter().any(|t| needs_raw(t.datatype()));
    let mut p = ModelInferRequest {
        model_name: model.to_string(),
        model_version: version.unwrap_or_default().to_string(),
        id: req.id.clone().unwrap_or_default(),
        parameters: params_from_json(&req.parameters),
        outputs: req
            .outputs
            .iter()
            .map(|(name, _)| InferRequestedOutputTensor {
                name: name.clone(),
                parameters: Default::default(),
            })
            .collect(),
        ..Default::default()
    };
    for t in &req.inputs {
        let (name, datatype, shape, contents) = encode_tensor(t, raw.then_some(&mut p.raw_input_contents));
        p.inputs.push(InferInputTensor {
            name,
            datatype,
            shape,
            parameters: Default::default(),
            contents,
        });
    }
    p
}

/// The gateway's answer as a gRPC answer: the requested outputs (all when none were
/// named), raw when `raw` or when an output has no typed field.
pub fn response_to_proto(
    resp: &InferResponse,
    requested: &[(String, bool)],
    raw: bool,
) -> Result<ModelInferResponse, InvalidRequest> {
    let selected: Vec<&Tensor> = super::v2::select_outputs(resp, requested, raw)?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let raw = raw || selected.iter().any(|t| needs_raw(t.datatype()));
    let mut p = ModelInferResponse {
        model_name: resp.model_name.clone(),
        model_version: resp.model_version.clone(),
        id: resp.id.clone().unwrap_or_default(),
        ..Default::default()
    };
    for t in selected {
        let (name, datatype, shape, contents) = encode_tensor(t, raw.then_some(&mut p.raw_output_contents));
        p.outputs.push(InferOutputTensor {
            name,
            datatype,
            shape,
            parameters: Default::default(),
            contents,
        });
    }
    Ok(p)
}

/// A gRPC answer as the gateway's answer (an upstream's, or a client's view of mlctl's).
pub fn response_from_proto(p: ModelInferResponse) -> Result<InferResponse, InvalidRequest> {
    let raw = !p.raw_output_contents.is_empty();
    if raw && p.raw_output_contents.len() != p.outputs.len() {
        return Err(bad(format!(
            "raw_output_contents has {} entries for {} outputs",
            p.raw_output_contents.len(),
            p.outputs.len()
        )));
    }
    let mut outputs = Vec::with_capacity(p.outputs.len());
    for (i, o) in p.outputs.into_iter().enumerate() {
        let dt = DataType::parse(&o.datatype)
            .ok_or_else(|| bad(format!("output '{}': unknown datatype {:?}", o.name, o.datatype)))?;
        let n = element_count(&o.name, &o.shape)?;
        let bytes = raw.then(|| p.raw_output_contents[i].as_slice());
        let data = decode_data(dt, n, bytes, o.contents).map_err(|e| bad(format!("output '{}': {e}", o.name)))?;
        outputs.push(Tensor {
            shape: o.shape.iter().map(|&d| d as usize).collect(),
            name: o.name,
            data,
        });
    }
    Ok(InferResponse {
        model_name: p.model_name,
        model_version: p.model_version,
        id: (!p.id.is_empty()).then_some(p.id),
        outputs,
    })
}

/// A tensor's name, datatype, shape and typed contents; with `raw`, its bytes are appended
/// there instead and the contents are `None`.
fn encode_tensor(
    t: &Tensor,
    raw: Option<&mut Vec<Vec<u8>>>,
) -> (String, String, Vec<i64>, Option<InferTensorContents>) {
    let contents = match raw {
        Some(raw) => {
            let mut bytes = Vec::new();
            t.data.to_binary(&mut bytes);
            raw.push(bytes);
            None
        }
        None => Some(to_contents(&t.data)),
    };
    let shape = t.shape.iter().map(|&d| d as i64).collect();
    (t.name.clone(), t.datatype().name().to_string(), shape, contents)
}

/// An HTTP status as the gRPC code a V2 client expects (the gRPC HTTP mapping: 400 →
/// INVALID_ARGUMENT, 401 → UNAUTHENTICATED, 404 → NOT_FOUND, 503 → UNAVAILABLE, …).
pub fn code_of_status(status: u16) -> tonic::Code {
    use tonic::Code;
    match status {
        400 | 413 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 | 504 => Code::DeadlineExceeded,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        502 | 503 => Code::Unavailable,
        500 => Code::Internal,
        _ => Code::Unknown,
    }
}

/// A gRPC code as the HTTP status it is reported as (the reverse of `code_of_status`).
pub fn status_of_code(code: tonic::Code) -> u16 {
    use tonic::Code;
    match code {
        Code::Ok => 200,
        Code::InvalidArgument | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Cancelled => 499,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        _ => 500,
    }
}

/// `n` elements of `dt` from the tensor's raw bytes when the message is raw, else from its
/// typed contents (absent contents: none given).
fn decode_data(
    dt: DataType,
    n: usize,
    raw: Option<&[u8]>,
    contents: Option<InferTensorContents>,
) -> Result<TensorData, String> {
    match raw {
        Some(bytes) => TensorData::from_binary(dt, bytes, n),
        None => from_contents(dt, contents.unwrap_or_default(), n),
    }
}

/// FP16 has no typed contents field.
fn needs_raw(dt: DataType) -> bool {
    dt == DataType::F16
}

/// Typed contents → elements of `dt`, exactly `n` of them, each in its type's range.
fn from_contents(dt: DataType, c: InferTensorContents, n: usize) -> Result<TensorData, String> {
    fn exact<T>(v: Vec<T>, n: usize, field: &str) -> Result<Vec<T>, String> {
        if v.len() == n {
            Ok(v)
        } else {
            Err(format!("shape needs {n} elements, {field} has {}", v.len()))
        }
    }
    fn narrow<S: Copy + std::fmt::Display, T: TryFrom<S>>(
        v: Vec<S>,
        n: usize,
        field: &str,
        ty: &str,
    ) -> Result<Vec<T>, String> {
        exact(v, n, field)?
            .into_iter()
            .enumerate()
            .map(|(i, x)| T::try_from(x).map_err(|_| format!("{field}[{i}] = {x} is out of {ty} range")))
            .collect()
    }
    Ok(match dt {
        DataType::Bool => TensorData::Bool(exact(c.bool_contents, n, "bool_contents")?),
        DataType::I8 => TensorData::I8(narrow(c.int_contents, n, "int_contents", "INT8")?),
        DataType::I16 => TensorData::I16(narrow(c.int_contents, n, "int_contents", "INT16")?),
        DataType::I32 => TensorData::I32(exact(c.int_contents, n, "int_contents")?),
        DataType::I64 => TensorData::I64(exact(c.int64_contents, n, "int64_contents")?),
        DataType::U8 => TensorData::U8(narrow(c.uint_contents, n, "uint_contents", "UINT8")?),
        DataType::U16 => TensorData::U16(narrow(c.uint_contents, n, "uint_contents", "UINT16")?),
        DataType::U32 => TensorData::U32(exact(c.uint_contents, n, "uint_contents")?),
        DataType::U64 => TensorData::U64(exact(c.uint64_contents, n, "uint64_contents")?),
        DataType::F32 => TensorData::F32(exact(c.fp32_contents, n, "fp32_contents")?),
        DataType::F64 => TensorData::F64(exact(c.fp64_contents, n, "fp64_contents")?),
        DataType::Bytes => TensorData::Bytes(exact(c.bytes_contents, n, "bytes_contents")?),
        DataType::F16 => return Err("FP16 has no typed contents; send it in raw_input_contents".into()),
    })
}

fn to_contents(d: &TensorData) -> InferTensorContents {
    let mut c = InferTensorContents::default();
    match d {
        TensorData::Bool(v) => c.bool_contents = v.clone(),
        TensorData::I8(v) => c.int_contents = v.iter().map(|&x| x.into()).collect(),
        TensorData::I16(v) => c.int_contents = v.iter().map(|&x| x.into()).collect(),
        TensorData::I32(v) => c.int_contents = v.clone(),
        TensorData::I64(v) => c.int64_contents = v.clone(),
        TensorData::U8(v) => c.uint_contents = v.iter().map(|&x| x.into()).collect(),
        TensorData::U16(v) => c.uint_contents = v.iter().map(|&x| x.into()).collect(),
        TensorData::U32(v) => c.uint_contents = v.clone(),
        TensorData::U64(v) => c.uint64_contents = v.clone(),
        TensorData::F32(v) => c.fp32_contents = v.clone(),
        TensorData::F64(v) => c.fp64_contents = v.clone(),
        TensorData::Bytes(v) => c.bytes_contents = v.clone(),
        // Callers send FP16 raw (`needs_raw`).
        TensorData::F16(_) => {}
    }
    c
}

fn params_to_json(p: std::collections::HashMap<String, InferParameter>) -> Map<String, Value> {
    p.into_iter()
        .filter_map(|(k, v)| {
            let v = match v.parameter_choice? {
                ParameterChoice::BoolParam(b) => Value::Bool(b),
                ParameterChoice::Int64Param(i) => Value::from(i),
                ParameterChoice::StringParam(s) => Value::String(s),
                ParameterChoice::DoubleParam(d) => Value::from(d),
                ParameterChoice::Uint64Param(u) => Value::from(u),
            };
            Some((k, v))
        })
        .collect()
}

fn params_from_json(p: &Map<String, Value>) -> std::collections::HashMap<String, InferParameter> {
    p.iter()
        .filter_map(|(k, v)| {
            let choice = match v {
                Value::Bool(b) => ParameterChoice::BoolParam(*b),
                Value::String(s) => ParameterChoice::StringParam(s.clone()),
                Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => ParameterChoice::Int64Param(i),
                    (None, Some(u), _) => ParameterChoice::Uint64Param(u),
                    (None, None, Some(f)) => ParameterChoice::DoubleParam(f),
                    _ => return None,
                },
                // Nested values have no gRPC parameter form; they are not sent.
                _ => return None,
            };
            Some((
                k.clone(),
                InferParameter {
                    parameter_choice: Some(choice),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tensor(name: &str, shape: Vec<usize>, data: TensorData) -> Tensor {
        Tensor {
            name: name.into(),
            shape,
            data,
        }
    }

    fn every_type() -> Vec<Tensor> {
        vec![
            tensor("b", vec![2], TensorData::Bool(vec![true, false])),
            tensor("i8", vec![2], TensorData::I8(vec![-128, 127])),
            tensor("i16", vec![1, 2], TensorData::I16(vec![-300, 300])),
            tensor("i32", vec![2], TensorData::I32(vec![i32::MIN, 7])),
            tensor("i64", vec![2], TensorData::I64(vec![i64::MIN, i64::MAX])),
            tensor("u8", vec![2], TensorData::U8(vec![0, 255])),
            tensor("u16", vec![2], TensorData::U16(vec![0, 65535])),
            tensor("u32", vec![2], TensorData::U32(vec![0, u32::MAX])),
            tensor("u64", vec![2], TensorData::U64(vec![0, u64::MAX])),
            tensor("f32", vec![2, 1], TensorData::F32(vec![1.5, -0.25])),
            tensor("f64", vec![2], TensorData::F64(vec![1e-300, 2.0])),
            tensor("s", vec![2], TensorData::Bytes(vec![b"ab".to_vec(), vec![]])),
        ]
    }

    #[test]
    fn every_datatype_round_trips_typed_and_raw() {
        for raw in [false, true] {
            let mut params = Map::new();
            params.insert("routing_key".into(), Value::from("user-1"));
            params.insert("n".into(), Value::from(3));
            let req = InferRequest {
                id: Some("r1".into()),
                parameters: params,
                inputs: every_type(),
                outputs: vec![("y".into(), raw)],
                binary_output_default: raw,
            };
            let p = request_to_proto("m", Some("2"), &req, raw);
            assert_eq!(p.raw_input_contents.is_empty(), !raw);
            assert_eq!((p.model_name.as_str(), p.model_version.as_str()), ("m", "2"));
            let (back, was_raw) = request_from_proto(p).unwrap();
            assert_eq!(was_raw, raw);
            assert_eq!(back.inputs, req.inputs);
            assert_eq!(back.parameters, req.parameters);
            assert_eq!(back.id.as_deref(), Some("r1"));
            assert_eq!(back.outputs, vec![("y".to_string(), raw)]);

            let resp = InferResponse {
                model_name: "m".into(),
                model_version: "2".into(),
                id: None,
                outputs: every_type(),
            };
            let p = response_to_proto(&resp, &[], raw).unwrap();
            assert_eq!(p.raw_output_contents.len(), if raw { 12 } else { 0 });
            assert_eq!(response_from_proto(p).unwrap().outputs, resp.outputs);
        }
    }

    #[test]
    fn fp16_always_travels_raw() {
        let resp = InferResponse {
            model_name: "m".into(),
            model_version: "1".into(),
            id: None,
            outputs: vec![tensor("h", vec![1], TensorData::F16(vec![half::f16::from_f32(0.5)]))],
        };
        let p = response_to_proto(&resp, &[], false).unwrap();
        assert_eq!(p.raw_output_contents.len(), 1);
        assert_eq!(response_from_proto(p).unwrap().outputs, resp.outputs);
    }

    fn input(name: &str, dt: &str, shape: Vec<i64>, contents: InferTensorContents) -> InferInputTensor {
        InferInputTensor {
            name: name.into(),
            datatype: dt.into(),
            shape,
            parameters: Default::default(),
            contents: Some(contents),
        }
    }

    #[test]
    fn invalid_requests_say_what_is_wrong() {
        let fp32 = |v: Vec<f32>| InferTensorContents {
            fp32_contents: v,
            ..Default::default()
        };
        let cases: Vec<(ModelInferRequest, &str)> = vec![
            (
                ModelInferRequest {
                    inputs: vec![input("x", "FP32", vec![1, 3], fp32(vec![1.0]))],
                    ..Default::default()
                },
                "input 'x': shape needs 3 elements, fp32_contents has 1",
            ),
            (
                ModelInferRequest {
                    inputs: vec![input("x", "FP23", vec![1], fp32(vec![1.0]))],
                    ..Default::default()
                },
                "unknown datatype",
            ),
            (
                ModelInferRequest {
                    inputs: vec![input(
                        "x",
                        "INT8",
                        vec![1],
                        InferTensorContents {
                            int_contents: vec![300],
                            ..Default::default()
                        },
                    )],
                    ..Default::default()
                },
                "int_contents[0] = 300 is out of INT8 range",
            ),
            (
                ModelInferRequest {
                    inputs: vec![input("x", "FP32", vec![-1], fp32(vec![]))],
                    ..Default::default()
                },
                "negative dimension",
            ),
            (
                ModelInferRequest {
                    inputs: vec![input("x", "FP32", vec![1], fp32(vec![1.0]))],
                    raw_input_contents: vec![vec![0; 4], vec![0; 4]],
                    ..Default::default()
                },
                "raw_input_contents has 2 entries for 1 inputs",
            ),
            (
                ModelInferRequest {
                    inputs: vec![InferInputTensor {
                        name: "x".into(),
                        datatype: "FP32".into(),
                        shape: vec![2],
                        ..Default::default()
                    }],
                    raw_input_contents: vec![vec![0; 4]],
                    ..Default::default()
                },
                "binary data has 4 bytes, shape needs 2 elements",
            ),
        ];
        for (req, want) in cases {
            let e = request_from_proto(req).unwrap_err().0;
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }

    #[test]
    fn statuses_and_codes_map_both_ways() {
        for status in [400, 401, 403, 404, 409, 429, 500, 501, 503, 504] {
            assert_eq!(status_of_code(code_of_status(status)), status, "{status}");
        }
        assert_eq!(code_of_status(413), tonic::Code::InvalidArgument);
        assert_eq!(status_of_code(tonic::Code::Ok), 200);
        assert_eq!(status_of_code(tonic::Code::from(99)), 500);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any message bytes at all: decoding either fails or yields a request that
        /// converts without panicking.
        #[test]
        fn arbitrary_messages_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            use prost::Message;
            if let Ok(p) = ModelInferRequest::decode(bytes.as_slice()) {
                let _ = request_from_proto(p);
            }
            if let Ok(p) = ModelInferResponse::decode(bytes.as_slice()) {
                let _ = response_from_proto(p);
            }
        }
    }
}
