//! V2 responses: encoding an answer (JSON, or the binary tensor data extension when an
//! output asks for it) and decoding an upstream's answer into tensors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    DataType, InvalidRequest, Tensor, TensorData, TensorJson, WireTensorIn, bad, element_count, json_data, split_body,
};

/// An inference response before encoding.
#[derive(Debug, Clone)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: String,
    pub id: Option<String>,
    pub outputs: Vec<Tensor>,
}

#[derive(Debug)]
/// Encoded response: body bytes and, when any output is binary, the JSON header length.
pub struct EncodedResponse {
    pub body: Vec<u8>,
    pub header_len: Option<usize>,
}

/// JSON form of one output tensor (also what the prediction log records).
pub fn output_json(t: &Tensor) -> Value {
    serde_json::to_value(TensorJson(t)).unwrap_or(Value::Null)
}

/// The response document, serialized straight from the tensors.
#[derive(Serialize)]
struct ResponseDoc<'a> {
    model_name: &'a str,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<OutputDoc<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutputDoc<'a> {
    Json(TensorJson<'a>),
    Binary {
        name: &'a str,
        datatype: &'static str,
        shape: &'a [usize],
        parameters: BinarySize,
    },
}

#[derive(Serialize)]
struct BinarySize {
    binary_data_size: usize,
}

/// The requested outputs in the order asked, each with its "send as binary" flag; all of
/// them (flagged `binary_default`) when none were named. Naming one the model does not
/// have is the client's error.
pub(crate) fn select_outputs<'a>(
    resp: &'a InferResponse,
    requested: &[(String, bool)],
    binary_default: bool,
) -> Result<Vec<(&'a Tensor, bool)>, InvalidRequest> {
    if requested.is_empty() {
        return Ok(resp.outputs.iter().map(|t| (t, binary_default)).collect());
    }
    requested
        .iter()
        .map(|(name, binary)| {
            resp.outputs
                .iter()
                .find(|t| &t.name == name)
                .map(|t| (t, *binary))
                .ok_or_else(|| {
                    let known: Vec<&str> = resp.outputs.iter().map(|t| t.name.as_str()).collect();
                    bad(format!(
                        "requested output '{name}' does not exist (model outputs: {})",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// Select the requested outputs (all when none requested) and encode the response.
pub fn encode_response(
    resp: &InferResponse,
    requested: &[(String, bool)],
    binary_default: bool,
) -> Result<EncodedResponse, InvalidRequest> {
    let selected = select_outputs(resp, requested, binary_default)?;
    let mut tail = Vec::new();
    let mut outs = Vec::with_capacity(selected.len());
    let mut any_binary = false;
    for (t, binary) in selected {
        if binary {
            any_binary = true;
            let start = tail.len();
            t.data.to_binary(&mut tail);
            outs.push(OutputDoc::Binary {
                name: &t.name,
                datatype: t.datatype().name(),
                shape: &t.shape,
                parameters: BinarySize {
                    binary_data_size: tail.len() - start,
                },
            });
        } else {
            outs.push(OutputDoc::Json(TensorJson(t)));
        }
    }
    let doc = ResponseDoc {
        model_name: &resp.model_name,
        model_version: &resp.model_version,
        id: resp.id.as_deref(),
        outputs: outs,
    };
    // Serialising strings, numbers and sequences into a Vec cannot fail.
    let mut body = serde_json::to_vec(&doc).unwrap_or_default();
    if any_binary {
        let header_len = body.len();
        body.extend_from_slice(&tail);
        Ok(EncodedResponse {
            body,
            header_len: Some(header_len),
        })
    } else {
        Ok(EncodedResponse { body, header_len: None })
    }
}

/// Decode a response body (JSON + optional binary tail) back into tensors: used by the
/// CLI client and by the upstream runtime to log what an upstream answered.
pub fn parse_response(body: &[u8], header_len: Option<&str>) -> Result<InferResponse, InvalidRequest> {
    let (json, mut binary) = split_body(body, header_len)?;
    // Straight into the typed form (no `Value` tree, no copy of each output); the labels
    // stay lenient: a field that is not a string reads as absent.
    let v: WireResponse =
        serde_json::from_slice(json).map_err(|e| bad(format!("malformed inference response JSON: {e}")))?;
    let outputs = v.outputs.ok_or_else(|| bad("response has no outputs array"))?;
    let mut tensors = Vec::with_capacity(outputs.len());
    for wire in outputs {
        let dt = DataType::parse(&wire.datatype)
            .ok_or_else(|| bad(format!("output '{}': unknown datatype {:?}", wire.name, wire.datatype)))?;
        let n = element_count(&wire.name, &wire.shape)?;
        let size = wire
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
            .and_then(Value::as_u64);
        let data = match (size, &wire.data) {
            (Some(size), _) => {
                let size = size as usize;
                if size > binary.len() {
                    return Err(bad(format!("output '{}': binary data truncated", wire.name)));
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                TensorData::from_binary(dt, mine, n).map_err(|e| bad(format!("output '{}': {e}", wire.name)))?
            }
            (None, Some(raw)) => json_data("output", &wire.name, &wire.shape, dt, n, raw)?,
            (None, None) => return Err(bad(format!("output '{}': has no data", wire.name))),
        };
        tensors.push(Tensor {
            name: wire.name,
            shape: wire.shape.iter().map(|&d| d as usize).collect(),
            data,
        });
    }
    let s = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    Ok(InferResponse {
        model_name: s(v.model_name).unwrap_or_default(),
        model_version: s(v.model_version).unwrap_or_default(),
        id: s(v.id),
        outputs: tensors,
    })
}

/// The fields of an inference response that the gateway reads.
#[derive(Deserialize)]
struct WireResponse<'a> {
    #[serde(default)]
    model_name: Option<Value>,
    #[serde(default)]
    model_version: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    #[serde(borrow)]
    outputs: Option<Vec<WireTensorIn<'a>>>,
}
