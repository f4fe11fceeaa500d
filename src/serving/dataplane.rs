//! V2 data plane handlers over HTTP: health, server and model metadata, readiness,
//! inference. Handlers stay thin: extract, call `pipeline`, map the result to a response.
//! The gRPC front end (`grpc`) shares the metadata and readiness helpers here.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::http::{ApiError, content_length, error, read_body, reject};
use super::pipeline::{self, Inference, lookup};
use super::runtime::upstream::UpstreamError;
use super::runtime::{LoadedVersion, Runtime};
use super::state::{AppState, LogFailurePolicy};
use crate::wire::v2::{self, HEADER_CONTENT_LENGTH};
use crate::wire::{REQUEST_ID_HEADER, VARIANT_HEADER};

/// The V2 extensions the gateway implements.
pub const EXTENSIONS: [&str; 2] = ["binary_tensor_data", "model_repository_routing"];

pub async fn server_metadata() -> Response {
    axum::Json(json!({
        "name": "mlctl",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": EXTENSIONS,
    }))
    .into_response()
}

pub async fn live() -> Response {
    axum::Json(json!({"live": true})).into_response()
}

/// Ready once listening (every registered version was loaded before the bind). A log that
/// cannot be written is reported under `degraded`; with `--on-log-failure refuse` a failing
/// prediction log makes the gateway not ready (503).
pub async fn ready(State(st): State<Arc<AppState>>) -> Response {
    let degraded: Vec<String> = [st.prediction_log.failure(), st.outcome_log.failure()]
        .into_iter()
        .flatten()
        .collect();
    let refusing = refusing(&st);
    let status = if refusing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(json!({"ready": !refusing, "degraded": degraded}))).into_response()
}

/// Under `--on-log-failure refuse` with a failing prediction log: not ready.
pub fn refusing(st: &AppState) -> bool {
    st.config.on_log_failure == LogFailurePolicy::Refuse && st.prediction_log.failure().is_some()
}

async fn metadata_of(st: &AppState, v: &LoadedVersion) -> Response {
    match metadata(st, v).await {
        Ok(meta) => axum::Json(meta).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A version's V2 model metadata (the upstream's, for a proxied version, under the
/// gateway's model name and versions).
pub async fn metadata(st: &AppState, v: &LoadedVersion) -> Result<serde_json::Value, ApiError> {
    let versions: Vec<String> = st
        .routes
        .load()
        .models
        .get(&v.model)
        .map(|r| r.versions.keys().cloned().collect())
        .unwrap_or_default();
    match &v.runtime {
        #[cfg(feature = "onnx")]
        Runtime::Onnx(_) => Ok(json!({
            "name": v.model,
            "versions": versions,
            "platform": "onnx_tract",
            "inputs": v.inputs,
            "outputs": v.outputs,
            "parameters": {"version": v.version},
        })),
        Runtime::Upstream(u) => match u.metadata().await {
            Ok(mut meta) => {
                meta["name"] = json!(v.model);
                meta["versions"] = json!(versions);
                meta["parameters"] = json!({"version": v.version, "upstream": u.model_url});
                Ok(meta)
            }
            Err(UpstreamError { status, message }) => Err(ApiError {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                message,
            }),
        },
    }
}

pub async fn model_metadata(State(st): State<Arc<AppState>>, Path(model): Path<String>) -> Response {
    match lookup(&st, &model, None) {
        Ok(v) => metadata_of(&st, &v).await,
        Err(r) => r.into_response(),
    }
}

pub async fn version_metadata(
    State(st): State<Arc<AppState>>,
    Path((model, version)): Path<(String, String)>,
) -> Response {
    match lookup(&st, &model, Some(&version)) {
        Ok(v) => metadata_of(&st, &v).await,
        Err(r) => r.into_response(),
    }
}

/// In-process versions are ready once loaded; a proxied one when its upstream says so.
pub async fn is_ready(v: &LoadedVersion) -> bool {
    match &v.runtime {
        #[cfg(feature = "onnx")]
        Runtime::Onnx(_) => true,
        Runtime::Upstream(u) => u.ready().await,
    }
}

async fn ready_of(v: &LoadedVersion) -> Response {
    let ready = is_ready(v).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"name": v.model, "version": v.version, "ready": ready})),
    )
        .into_response()
}

pub async fn model_ready(State(st): State<Arc<AppState>>, Path(model): Path<String>) -> Response {
    match lookup(&st, &model, None) {
        Ok(v) => ready_of(&v).await,
        Err(r) => r.into_response(),
    }
}

pub async fn version_ready(
    State(st): State<Arc<AppState>>,
    Path((model, version)): Path<(String, String)>,
) -> Response {
    match lookup(&st, &model, Some(&version)) {
        Ok(v) => ready_of(&v).await,
        Err(r) => r.into_response(),
    }
}

pub async fn infer_live(
    State(st): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_core(st, model, None, headers, body).await
}

pub async fn infer_version(
    State(st): State<Arc<AppState>>,
    Path((model, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_core(st, model, Some(version), headers, body).await
}

async fn infer_core(
    st: Arc<AppState>,
    model: String,
    version: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let ts = chrono::Utc::now();
    let admitted = match pipeline::admit(&st, &model, version.as_deref(), &headers, content_length(&headers)) {
        Ok(a) => a,
        Err(r) => return reject(body, r).await,
    };
    let raw = match read_body(&headers, body, st.config.body_limit(), st.config.body_timeout).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let header_len = v2::binary_header_len(&headers).map(str::to_string);
    let req = match v2::parse_request(&raw, header_len.as_deref()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.0),
    };
    let inference = Inference {
        model,
        version,
        headers: &headers,
        req,
        raw,
        header_len,
        started,
        ts,
    };
    let served = match pipeline::run(&st, admitted, inference, v2::encode_response).await {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let mut response = match served.answer {
        Ok(enc) => {
            let mut r = Response::new(Body::from(enc.body));
            let h = r.headers_mut();
            match enc.header_len {
                Some(n) => {
                    h.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    );
                    h.insert(HEADER_CONTENT_LENGTH, HeaderValue::from(n));
                }
                None => {
                    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
            }
            r
        }
        Err(msg) => error(served.status, msg),
    };
    if let Ok(v) = HeaderValue::from_str(&served.version) {
        response.headers_mut().insert(VARIANT_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&served.request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}
