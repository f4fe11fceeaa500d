//! Run one V2 request on one loaded version: in-process ONNX (at most
//! `--inference-threads` at once; on the blocking pool, or inline when the model is cheap)
//! or a call to the upstream server.

use std::sync::Arc;

use axum::http::StatusCode;
use bytes::Bytes;

use super::runtime::upstream::UpstreamError;
use super::runtime::{LoadedVersion, Runtime};
use crate::wire::v2::{InferRequest, InferResponse};

/// The outcome of running one request on one version.
pub enum Answer {
    Ok(InferResponse),
    Failed(StatusCode, String),
}

pub async fn run_version(
    permits: &Arc<tokio::sync::Semaphore>,
    v: &LoadedVersion,
    req: InferRequest,
    raw: Bytes,
    header_len: Option<&str>,
) -> Answer {
    match &v.runtime {
        #[cfg(feature = "onnx")]
        Runtime::Onnx(m) => {
            let inputs = match m.check_inputs(req.inputs) {
                Ok(i) => i,
                Err(msg) => return Answer::Failed(StatusCode::BAD_REQUEST, msg),
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return Answer::Failed(StatusCode::SERVICE_UNAVAILABLE, "gateway is shutting down".into());
            };
            let joined = if m.runs_inline(&inputs) {
                let out = m.run(inputs);
                drop(permit);
                Ok(out)
            } else {
                let m = m.clone();
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    m.run(inputs)
                })
                .await
            };
            match joined {
                Ok(Ok(outputs)) => Answer::Ok(InferResponse {
                    model_name: v.model.clone(),
                    model_version: v.version.clone(),
                    id: req.id,
                    outputs,
                }),
                Ok(Err(e)) => Answer::Failed(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                Err(e) => Answer::Failed(StatusCode::INTERNAL_SERVER_ERROR, format!("inference task failed: {e}")),
            }
        }
        Runtime::Upstream(u) => match u.infer(&req, raw, header_len).await {
            Ok(mut resp) => {
                resp.model_name = v.model.clone();
                resp.model_version = v.version.clone();
                resp.id = req.id;
                Answer::Ok(resp)
            }
            Err(UpstreamError { status, message }) => {
                Answer::Failed(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
            }
        },
    }
}
