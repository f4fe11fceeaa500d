//! Open Inference Protocol (KServe V2) request/response types, validation, and the
//! binary tensor data extension (`Inference-Header-Content-Length`, `binary_data_size`,
//! `binary_data`, `binary_data_output`) used by default by the official Triton clients.
//!
//! Reference: <https://github.com/kserve/open-inference-protocol> (REST) and Triton's
//! `binary_data.md`. Tensor data in JSON may be flat or nested row-major arrays; binary
//! data is little-endian, BYTES elements carry a 4-byte little-endian length prefix.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod json_data;
mod response;
mod tensor;
use json_data::{WireTensorIn, json_data};
pub(crate) use response::select_outputs;
pub use response::{EncodedResponse, InferResponse, encode_response, output_json, parse_response};
pub use tensor::{DataType, Tensor, TensorData, TensorJson};

pub const HEADER_CONTENT_LENGTH: &str = "inference-header-content-length";

/// Longest request id (the V2 `id`, `x-request-id`) and routing key accepted: they are
/// echoed in a header and written to every log record.
pub const MAX_ID_LEN: usize = 256;

/// Wire form of one request input (JSON part).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// Wire form of a requested output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireRequestedOutput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
}

/// Wire form of an inference request (JSON part).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    pub inputs: Vec<WireInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<WireRequestedOutput>>,
}

/// The fields of an inference request as decoded (each input's `data` left as raw text
/// until its datatype is known; see `json_data`).
#[derive(Deserialize)]
struct RequestIn<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(borrow)]
    inputs: Vec<WireTensorIn<'a>>,
    #[serde(default)]
    outputs: Option<Vec<WireRequestedOutput>>,
}

/// The JSON body of `req` (what the gateway forwards upstream after rewriting a
/// request's inputs, e.g. an input assembled from a feature view).
pub fn request_json(req: &InferRequest) -> Vec<u8> {
    let wire = WireRequest {
        id: req.id.clone(),
        parameters: (!req.parameters.is_empty()).then(|| req.parameters.clone()),
        inputs: req
            .inputs
            .iter()
            .map(|t| WireInput {
                name: t.name.clone(),
                shape: t.shape.iter().map(|d| *d as i64).collect(),
                datatype: t.datatype().name().to_string(),
                parameters: None,
                data: Some(t.data.to_json()),
            })
            .collect(),
        outputs: (!req.outputs.is_empty()).then(|| {
            req.outputs
                .iter()
                .map(|(name, _)| WireRequestedOutput {
                    name: name.clone(),
                    parameters: None,
                })
                .collect()
        }),
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// A decoded, validated inference request.
#[derive(Debug, Clone)]
pub struct InferRequest {
    pub id: Option<String>,
    pub parameters: Map<String, Value>,
    pub inputs: Vec<Tensor>,
    /// Output names asked for (empty: all), each with "send as binary".
    pub outputs: Vec<(String, bool)>,
    /// `binary_data_output` request parameter: every output in binary.
    pub binary_output_default: bool,
}

/// Why a request is invalid (maps to HTTP 400).
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRequest(pub String);

impl std::fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> InvalidRequest {
    InvalidRequest(msg.into())
}

/// Most elements a single tensor may declare (guards `shape` products against overflow
/// and absurd allocations before any data is read).
const MAX_ELEMENTS: u64 = 1 << 32;

/// An input's datatype, or why it is not one.
pub(crate) fn input_datatype(name: &str, datatype: &str) -> Result<DataType, InvalidRequest> {
    DataType::parse(datatype).ok_or_else(|| {
        bad(format!(
            "input '{name}': unknown datatype {datatype:?} (expected BOOL, INT8..INT64, UINT8..UINT64, FP16, FP32, FP64 or BYTES)"
        ))
    })
}

pub(crate) fn element_count(name: &str, shape: &[i64]) -> Result<usize, InvalidRequest> {
    let mut n: u64 = 1;
    for &d in shape {
        if d < 0 {
            return Err(bad(format!("input '{name}': shape {shape:?} has a negative dimension")));
        }
        n = n
            .checked_mul(d as u64)
            .filter(|n| *n <= MAX_ELEMENTS)
            .ok_or_else(|| bad(format!("input '{name}': shape {shape:?} is too large")))?;
    }
    Ok(n as usize)
}

fn param_bool(p: &Option<Map<String, Value>>, key: &str) -> bool {
    p.as_ref()
        .and_then(|m| m.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The `Inference-Header-Content-Length` of a request's or an answer's headers (`None`
/// when absent or not visible ASCII).
pub fn binary_header_len(headers: &hyper::HeaderMap) -> Option<&str> {
    headers.get(HEADER_CONTENT_LENGTH).and_then(|v| v.to_str().ok())
}

/// The headers that describe a V2 body sent upstream: with a binary part, its JSON
/// header's length and `application/octet-stream`; without, `application/json`. (A length
/// that is not a header value cannot come from [`binary_header_len`]; it would be sent as
/// JSON.)
pub fn body_headers(header_len: Option<&str>) -> hyper::HeaderMap {
    use hyper::header::{CONTENT_TYPE, HeaderValue};
    let mut h = hyper::HeaderMap::with_capacity(2);
    match header_len.and_then(|v| HeaderValue::from_str(v).ok()) {
        Some(v) => {
            h.insert(HEADER_CONTENT_LENGTH, v);
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        }
        None => {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
    }
    h
}

/// Split a body into its JSON header and binary tail given the optional
/// `Inference-Header-Content-Length` value.
pub fn split_body<'a>(body: &'a [u8], header_len: Option<&str>) -> Result<(&'a [u8], &'a [u8]), InvalidRequest> {
    match header_len {
        None => Ok((body, &[])),
        Some(s) => {
            let n: usize = s.trim().parse().map_err(|_| {
                bad(format!(
                    "Inference-Header-Content-Length: expected a byte count, got {s:?}"
                ))
            })?;
            if n > body.len() {
                return Err(bad(format!(
                    "Inference-Header-Content-Length {n} exceeds the body length {}",
                    body.len()
                )));
            }
            Ok(body.split_at(n))
        }
    }
}

/// Decode and validate a V2 request body (JSON, optionally followed by binary tensors).
pub fn parse_request(body: &[u8], header_len: Option<&str>) -> Result<InferRequest, InvalidRequest> {
    let (json, mut binary) = split_body(body, header_len)?;
    let wire: RequestIn =
        serde_json::from_slice(json).map_err(|e| bad(format!("malformed inference request JSON: {e}")))?;
    // No inputs is valid here: a version with a feature view takes its fields from the
    // parameters. The gateway refuses an empty request once it knows the version.
    let mut inputs = Vec::with_capacity(wire.inputs.len());
    let mut seen = std::collections::HashSet::new();
    for input in &wire.inputs {
        if !seen.insert(input.name.as_str()) {
            return Err(bad(format!("input '{}' appears twice", input.name)));
        }
        let dt = input_datatype(&input.name, &input.datatype)?;
        let n = element_count(&input.name, &input.shape)?;
        let binary_size = input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| bad(format!("input '{}': binary_data_size must be a byte count", input.name)))
            })
            .transpose()?;
        let data = match (binary_size, &input.data) {
            (Some(_), Some(_)) => {
                return Err(bad(format!(
                    "input '{}': has both binary_data_size and JSON data",
                    input.name
                )));
            }
            (Some(size), None) => {
                let size = size as usize;
                if size > binary.len() {
                    return Err(bad(format!(
                        "input '{}': binary_data_size {size} runs past the end of the body ({} bytes left)",
                        input.name,
                        binary.len()
                    )));
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                TensorData::from_binary(dt, mine, n).map_err(|e| bad(format!("input '{}': {e}", input.name)))?
            }
            (None, Some(raw)) => json_data("input", &input.name, &input.shape, dt, n, raw)?,
            (None, None) => return Err(bad(format!("input '{}': has no data", input.name))),
        };
        inputs.push(Tensor {
            name: input.name.clone(),
            shape: input.shape.iter().map(|&d| d as usize).collect(),
            data,
        });
    }
    if !binary.is_empty() {
        return Err(bad(format!(
            "{} bytes of binary data are not claimed by any input's binary_data_size",
            binary.len()
        )));
    }
    let binary_output_default = param_bool(&wire.parameters, "binary_data_output");
    let mut outputs: Vec<(String, bool)> = Vec::new();
    for o in wire.outputs.unwrap_or_default() {
        // Each output at most once: a repeated name would repeat the tensor in the answer.
        if outputs.iter().any(|(n, _)| *n == o.name) {
            return Err(bad(format!("output '{}' is requested more than once", o.name)));
        }
        let binary = o
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data"))
            .and_then(Value::as_bool)
            .unwrap_or(binary_output_default);
        outputs.push((o.name, binary));
    }
    if let Some(id) = &wire.id
        && id.len() > MAX_ID_LEN
    {
        return Err(bad(format!("request id is {} bytes; at most {MAX_ID_LEN}", id.len())));
    }
    Ok(InferRequest {
        id: wire.id,
        parameters: wire.parameters.unwrap_or_default(),
        inputs,
        outputs,
        binary_output_default,
    })
}

/// Tensor metadata as in the model metadata response (`-1` marks a dynamic dimension).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
}

/// A model metadata response (`GET /v2/models/{m}[/versions/{v}]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelMetadata {
    pub name: String,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub inputs: Vec<TensorMetadata>,
    #[serde(default)]
    pub outputs: Vec<TensorMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// Decode one tensor in V2 JSON form (`{name, datatype, shape, data}`) as the request
/// parser would (same checks); `None` when it is not a valid tensor. Reads fixtures and
/// the tensors of the prediction log.
pub fn tensor_from_json(v: &Value) -> Option<Tensor> {
    let body = serde_json::json!({"inputs": [v]});
    parse_request(body.to_string().as_bytes(), None)
        .ok()
        .and_then(|r| r.inputs.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_headers_name_the_binary_part_or_json() {
        let h = body_headers(Some("42"));
        assert_eq!(binary_header_len(&h), Some("42"));
        assert_eq!(h["content-type"], "application/octet-stream");
        let h = body_headers(None);
        assert_eq!(binary_header_len(&h), None);
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn nested_and_flat_json_data_decode_identically() {
        let flat = br#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}"#;
        let nested = br#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}"#;
        let a = parse_request(flat, None).unwrap();
        let b = parse_request(nested, None).unwrap();
        assert_eq!(a.inputs, b.inputs);
        assert_eq!(a.inputs[0].data, TensorData::F32(vec![1.0, 2.0, 3.0, 4.0]));
    }

    #[test]
    fn shape_data_mismatch_is_named() {
        let body = br#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4]}]}"#;
        let e = parse_request(body, None).unwrap_err();
        assert_eq!(e.0, "input 'x': shape [2, 3] needs 6 elements, data has 4");
    }

    #[test]
    fn out_of_range_integer_is_rejected_with_position() {
        let body = br#"{"inputs":[{"name":"x","shape":[2],"datatype":"UINT8","data":[1,300]}]}"#;
        let e = parse_request(body, None).unwrap_err();
        assert!(e.0.contains("data[1]") && e.0.contains("300"), "{}", e.0);
    }

    #[test]
    fn binary_round_trip_for_every_datatype() {
        let cases = vec![
            TensorData::Bool(vec![true, false]),
            TensorData::U8(vec![1, 255]),
            TensorData::U16(vec![1, 65535]),
            TensorData::U32(vec![1, u32::MAX]),
            TensorData::U64(vec![1, u64::MAX]),
            TensorData::I8(vec![-1, 127]),
            TensorData::I16(vec![-1, 300]),
            TensorData::I32(vec![-1, i32::MIN]),
            TensorData::I64(vec![-1, i64::MAX]),
            TensorData::F16(vec![half::f16::from_f32(1.5), half::f16::from_f32(-2.0)]),
            TensorData::F32(vec![1.5, -2.25]),
            TensorData::F64(vec![1e300, -0.5]),
            TensorData::Bytes(vec![b"ab".to_vec(), vec![]]),
        ];
        for d in cases {
            let mut bytes = Vec::new();
            d.to_binary(&mut bytes);
            let back = TensorData::from_binary(d.datatype(), &bytes, 2).unwrap();
            assert_eq!(back, d);
        }
    }

    #[test]
    fn binary_request_with_header_length_decodes() {
        let json = br#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}],"parameters":{"binary_data_output":true}}"#;
        let mut body = json.to_vec();
        body.extend_from_slice(&1.5f32.to_le_bytes());
        body.extend_from_slice(&2.5f32.to_le_bytes());
        let r = parse_request(&body, Some(&json.len().to_string())).unwrap();
        assert_eq!(r.inputs[0].data, TensorData::F32(vec![1.5, 2.5]));
        assert!(r.binary_output_default);
        let short = parse_request(&body[..body.len() - 1], Some(&json.len().to_string()));
        assert!(short.unwrap_err().0.contains("runs past the end"));
    }

    #[test]
    fn response_binary_encoding_round_trips() {
        let resp = InferResponse {
            model_name: "m".into(),
            model_version: "1".into(),
            id: Some("r1".into()),
            outputs: vec![
                Tensor {
                    name: "label".into(),
                    shape: vec![2],
                    data: TensorData::I64(vec![0, 1]),
                },
                Tensor {
                    name: "p".into(),
                    shape: vec![2, 2],
                    data: TensorData::F32(vec![0.1, 0.9, 0.8, 0.2]),
                },
            ],
        };
        let enc = encode_response(&resp, &[("p".into(), true), ("label".into(), false)], false).unwrap();
        let hl = enc.header_len.unwrap().to_string();
        let back = parse_response(&enc.body, Some(&hl)).unwrap();
        assert_eq!(back.outputs[0], resp.outputs[1]);
        assert_eq!(back.outputs[1], resp.outputs[0]);
        assert_eq!(back.id.as_deref(), Some("r1"));
        let e = encode_response(&resp, &[("nope".into(), false)], false).unwrap_err();
        assert!(e.0.contains("'nope'"));
    }

    #[test]
    fn response_labels_are_lenient_and_outputs_required() {
        let r = parse_response(
            br#"{"model_name":7,"id":"a","outputs":[{"name":"y","shape":[2],"datatype":"FP64","data":[0.5,1]}]}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            (r.model_name.as_str(), r.model_version.as_str(), r.id.as_deref()),
            ("", "", Some("a"))
        );
        assert_eq!(r.outputs[0].data, TensorData::F64(vec![0.5, 1.0]));
        for (body, says) in [
            (&br#"{"model_name":"m"}"#[..], "no outputs array"),
            (br#"{"outputs":null}"#, "no outputs array"),
            (
                br#"{"outputs":[{"name":"y","shape":[3],"datatype":"FP64","data":[1]}]}"#,
                "needs 3 elements",
            ),
            (
                br#"{"outputs":[{"name":"y","shape":[1],"datatype":"FP64"}]}"#,
                "has no data",
            ),
            (br#"{"outputs":5}"#, "malformed inference response JSON"),
        ] {
            let e = parse_response(body, None).unwrap_err();
            assert!(e.0.contains(says), "{}: {}", String::from_utf8_lossy(body), e.0);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_response_body_is_an_answer_or_an_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                                                      json in "\\{\"outputs\":\\[\\{\"name\":\"y\",\"shape\":\\[[0-9,-]{0,6}\\],\"datatype\":\"(FP32|INT8|BYTES|BOOL)\",\"data\":\\[[0-9,.\"-]{0,12}\\]\\}\\]\\}") {
            let _ = parse_response(&body, None);
            let _ = parse_response(&body, Some("3"));
            let _ = parse_response(json.as_bytes(), None);
        }
    }
}
