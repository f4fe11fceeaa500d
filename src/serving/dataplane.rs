//! V2 data plane handlers: health, server and model metadata, readiness, inference.
//! Handlers stay thin: extract, call `infer_core`, map the result to a response.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::http::{ApiError, api_error, check_token, content_length, error, read_body, reject, unavailable};
use super::infer::{Answer, run_version};
use super::metrics::{RequestLabels, VersionLabels};
use super::router;
use super::runtime::upstream::UpstreamError;
use super::runtime::{LoadedVersion, Runtime};
use super::state::{AppState, LogFailurePolicy, ShadowJob};
use crate::rollout::scores::scores;
use crate::wire::log::{PredictionRecord, day_of, loggable, timestamp};
use crate::wire::v2::{self, HEADER_CONTENT_LENGTH};
use crate::wire::{KEY_HEADER, REQUEST_ID_HEADER, VARIANT_HEADER};

pub async fn server_metadata() -> Response {
    axum::Json(json!({
        "name": "mlctl",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data", "model_repository_routing"],
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
    let refusing = st.config.on_log_failure == LogFailurePolicy::Refuse && st.prediction_log.failure().is_some();
    let status = if refusing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(json!({"ready": !refusing, "degraded": degraded}))).into_response()
}

fn lookup(st: &AppState, model: &str, version: Option<&str>) -> Result<Arc<LoadedVersion>, ApiError> {
    let table = st.routes.load();
    let Some(route) = table.models.get(model) else {
        return Err(api_error(StatusCode::NOT_FOUND, format!("unknown model '{model}'")));
    };
    match version {
        Some(v) => route.versions.get(v).cloned().ok_or_else(|| {
            let failed = st
                .load_failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&(model.to_string(), v.to_string()))
                .cloned();
            match failed {
                Some(why) => api_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("model '{model}' version '{v}' failed to load: {why}"),
                ),
                None => api_error(
                    StatusCode::NOT_FOUND,
                    format!("unknown version '{v}' of model '{model}'"),
                ),
            }
        }),
        None => route.live.clone().ok_or_else(|| {
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("model '{model}' has no live version (deploy one)"),
            )
        }),
    }
}

async fn metadata_of(st: &AppState, v: &LoadedVersion) -> Response {
    let versions: Vec<String> = st
        .routes
        .load()
        .models
        .get(&v.model)
        .map(|r| r.versions.keys().cloned().collect())
        .unwrap_or_default();
    match &v.runtime {
        #[cfg(feature = "onnx")]
        Runtime::Onnx(_) => axum::Json(json!({
            "name": v.model,
            "versions": versions,
            "platform": "onnx_tract",
            "inputs": v.inputs,
            "outputs": v.outputs,
            "parameters": {"version": v.version},
        }))
        .into_response(),
        Runtime::Upstream(u) => match u.metadata().await {
            Ok(mut meta) => {
                meta["name"] = json!(v.model);
                meta["versions"] = json!(versions);
                meta["parameters"] = json!({"version": v.version, "upstream": u.model_url});
                axum::Json(meta).into_response()
            }
            Err(UpstreamError { status, message }) => {
                error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
            }
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

async fn ready_of(v: &LoadedVersion) -> Response {
    let ready = match &v.runtime {
        #[cfg(feature = "onnx")]
        Runtime::Onnx(_) => true,
        Runtime::Upstream(u) => u.ready().await,
    };
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
    if st.config.require_token_for_inference
        && let Err(r) = check_token(&st.token, &headers)
    {
        return reject(body, r).await;
    }
    // One consistent view of the routes for the whole request.
    let table = st.routes.load_full();
    let Some(route) = table.models.get(&model) else {
        return reject(body, error(StatusCode::NOT_FOUND, format!("unknown model '{model}'"))).await;
    };
    let explicit = match &version {
        Some(_) => match lookup(&st, &model, version.as_deref()) {
            Ok(v) => Some(v),
            Err(r) => return reject(body, r).await,
        },
        None if route.live.is_none() && route.arms.is_empty() => {
            let msg = format!("model '{model}' has no live version (deploy one)");
            return reject(body, error(StatusCode::SERVICE_UNAVAILABLE, msg)).await;
        }
        None => None,
    };
    if st.config.on_log_failure == LogFailurePolicy::Refuse
        && let Some(why) = st.prediction_log.failure()
    {
        let msg = format!("the prediction log cannot be written ({why}); refusing (--on-log-failure refuse)");
        let r = unavailable(msg, 5);
        return reject(body, r).await;
    }
    // Charge the request's size (declared, else the largest allowed) against the in-flight
    // budget for as long as it is served.
    let declared = content_length(&headers)
        .unwrap_or(st.config.max_body)
        .min(st.config.max_body);
    let Ok(_inflight) = st
        .inflight_kib
        .clone()
        .try_acquire_many_owned(declared.div_ceil(1024).max(1) as u32)
    else {
        let r = unavailable(
            "the gateway is at its in-flight request limit (--max-inflight-bytes); retry shortly",
            1,
        );
        return reject(body, r).await;
    };
    let mut raw = match read_body(&headers, body, st.config.body_limit(), st.config.body_timeout).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let mut header_len = headers
        .get(HEADER_CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut req = match v2::parse_request(&raw, header_len.as_deref()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.0),
    };
    let request_id = req
        .id
        .clone()
        .or_else(|| {
            headers
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>()));
    if request_id.len() > v2::MAX_ID_LEN {
        return error(
            StatusCode::BAD_REQUEST,
            format!("x-request-id is {} bytes; at most {}", request_id.len(), v2::MAX_ID_LEN),
        );
    }
    let explicit_key = router::explicit_key(headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()), &req.parameters);
    if let Some(k) = explicit_key.as_ref().filter(|k| k.len() > v2::MAX_ID_LEN) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("routing key is {} bytes; at most {}", k.len(), v2::MAX_ID_LEN),
        );
    }
    let key = explicit_key
        .clone()
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 8]>()));
    let bucket = router::bucket(&route.salt, &key);
    let matched = explicit.is_none().then(|| route.match_headers(&headers)).flatten();
    let (target, role): (Arc<LoadedVersion>, String) = match (explicit, matched) {
        (Some(v), _) => (v, "explicit".into()),
        (None, Some(v)) => (v, crate::wire::log::ROLE_MATCHED.into()),
        (None, None) => match route.select(bucket) {
            Some((v, role)) => (v, role.to_string()),
            None => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("model '{model}' has no live version"),
                );
            }
        },
    };
    let step = if version.is_none() { route.active_step() } else { None };
    let shadow = match (&version, &route.shadow, step) {
        (None, Some(sh), Some(step_id)) if rand::random::<f64>() * 100.0 < sh.mirror_pct => {
            Some((sh.clone(), step_id, req.clone(), raw.clone()))
        }
        _ => None,
    };
    let assembly = match super::features::assemble(&st, &target, &mut req, &mut raw, &mut header_len).await {
        Ok(a) => a,
        Err((status, msg)) => return error(status, msg),
    };
    if req.inputs.is_empty() {
        return error(StatusCode::BAD_REQUEST, "request has no inputs");
    }
    let requested = req.outputs.clone();
    let binary_default = req.binary_output_default;
    let logged_inputs = (st.config.log_inputs > 0.0 && rand::random::<f64>() < st.config.log_inputs)
        .then(|| loggable(&req.inputs))
        .flatten();

    // Monitors reading inputs see the same sample the log does.
    let monitor_inputs = (logged_inputs.is_some() && st.monitors.wants_inputs(&model)).then(|| req.inputs.clone());
    let in_flight = st.metrics.track_in_flight();
    let answer = run_version(&st.infer_permits, &target, req, raw, header_len.as_deref()).await;
    drop(in_flight);

    let mut primary_outputs: Option<Vec<v2::Tensor>> = None;
    let (mut response, status, outputs, err_msg) = match answer {
        Answer::Ok(resp) => match v2::encode_response(&resp, &requested, binary_default) {
            Ok(enc) => {
                let outputs = loggable(&resp.outputs);
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
                st.monitors
                    .observe(&model, &target.version, &resp.outputs, monitor_inputs.as_deref());
                primary_outputs = Some(resp.outputs);
                (r, StatusCode::OK, Some(outputs), None)
            }
            Err(e) => (
                error(StatusCode::BAD_REQUEST, e.0.clone()),
                StatusCode::BAD_REQUEST,
                None,
                Some(e.0),
            ),
        },
        Answer::Failed(status, msg) => (error(status, msg.clone()), status, None, Some(msg)),
    };
    if let Ok(v) = HeaderValue::from_str(&target.version) {
        response.headers_mut().insert(VARIANT_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let latency = started.elapsed();
    let is_matched = role == crate::wire::log::ROLE_MATCHED;
    if let Some(step_id) = step.filter(|_| !is_matched || route.count_matched) {
        let scores = match (&primary_outputs, route.track_scores) {
            (Some(outs), true) => scores(outs),
            _ => Vec::new(),
        };
        let rid = route.track_outcomes.then_some(request_id.as_str());
        let micros = latency.as_micros() as u64;
        st.rollouts.stats.record(
            &model,
            step_id,
            &target.version,
            status.is_success(),
            micros,
            &scores,
            rid,
        );
        if is_matched {
            st.rollouts.stats.record_matched(&model, step_id, &target.version);
        }
    }
    if let (Some((sh, step_id, sreq, sraw)), Some(primary)) = (shadow, primary_outputs) {
        let job = ShadowJob {
            model: model.clone(),
            version: sh.version.clone(),
            step_id,
            request: sreq,
            raw: sraw,
            header_len: header_len.clone(),
            request_id: request_id.clone(),
            bucket,
            primary,
            tolerance: sh.tolerance,
        };
        if st.shadow_tx.try_send(job).is_err() {
            st.metrics.shadow_dropped.inc();
            st.rollouts.stats.record_dropped(&model, step_id);
        }
    }
    let labels = RequestLabels {
        model: model.clone(),
        version: target.version.clone(),
        role: role.clone(),
        status: status.as_u16().to_string(),
    };
    st.metrics.requests.get_or_create(&labels).inc();
    if !status.is_success() {
        st.metrics.errors.get_or_create(&labels).inc();
    }
    st.metrics
        .latency
        .get_or_create(&VersionLabels {
            model: model.clone(),
            version: target.version.clone(),
            role: role.clone(),
        })
        .observe(latency.as_secs_f64());
    let record = PredictionRecord {
        ts: timestamp(&ts).into(),
        request_id: request_id.as_str().into(),
        model: model.as_str().into(),
        version: target.version.as_str().into(),
        role: role.as_str().into(),
        key: explicit_key.as_deref().map(Into::into),
        bucket,
        latency_us: latency.as_micros() as u64,
        status: status.as_u16(),
        // Some(None): answered, but too large to log.
        outputs_omitted: matches!(outputs, Some(None)),
        outputs: outputs.flatten().unwrap_or(serde_json::Value::Null),
        inputs: logged_inputs,
        error: err_msg.as_deref().map(Into::into),
        features: assembly.logged,
        feature_flags: assembly.flags,
    };
    st.predictions.append(day_of(&ts), &record).await;
    response
}
