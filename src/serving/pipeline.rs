//! One inference, whichever front end it came through (HTTP in `dataplane`, gRPC in
//! `grpc`): admission (token, route, log policy, in-flight budget), routing (explicit
//! version, header match, sticky bucket), feature assembly, the model, shadowing, rollout
//! evidence, metrics and the prediction log. The front ends only decode the request and
//! encode the answer (`encode` is theirs), so both protocols count, route and log alike.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use super::http::{ApiError, check_token, error, unavailable};
use super::infer::{Answer, run_version};
use super::router;
use super::runtime::LoadedVersion;
use super::state::{AppState, LogFailurePolicy, RouteTable, ShadowJob};
use crate::rollout::scores::scores;
use crate::wire::KEY_HEADER;
use crate::wire::log::{LogTensors, PredictionRecord, day_of, loggable, timestamp};
use crate::wire::v2::{self, InferRequest, InferResponse, InvalidRequest};

/// A request refused before it reached a model (not logged, not counted).
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
    /// 503s that say when to retry.
    pub retry_after: Option<u32>,
}

impl Rejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<ApiError> for Rejection {
    fn from(e: ApiError) -> Self {
        Rejection::new(e.status, e.message)
    }
}

impl From<InvalidRequest> for Rejection {
    fn from(e: InvalidRequest) -> Self {
        Rejection::new(StatusCode::BAD_REQUEST, e.0)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self.retry_after {
            Some(secs) => unavailable(self.message, secs),
            None if self.status == StatusCode::UNAUTHORIZED => ApiError {
                status: self.status,
                message: self.message,
            }
            .into_response(),
            None => error(self.status, self.message),
        }
    }
}

/// The version a model name (and optional version) resolves to for metadata and
/// readiness: the named version, else the live one.
pub fn lookup(st: &AppState, model: &str, version: Option<&str>) -> Result<Arc<LoadedVersion>, ApiError> {
    let table = st.routes.load();
    let Some(route) = table.models.get(model) else {
        return Err(super::http::api_error(
            StatusCode::NOT_FOUND,
            format!("unknown model '{model}'"),
        ));
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
                Some(why) => super::http::api_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("model '{model}' version '{v}' failed to load: {why}"),
                ),
                None => super::http::api_error(
                    StatusCode::NOT_FOUND,
                    format!("unknown version '{v}' of model '{model}'"),
                ),
            }
        }),
        None => route.live.clone().ok_or_else(|| {
            super::http::api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("model '{model}' has no live version (deploy one)"),
            )
        }),
    }
}

/// A request let in: the route table it is served by, the version it named, and its
/// share of the in-flight budget (held until the answer is built).
pub struct Admitted {
    table: Arc<RouteTable>,
    explicit: Option<Arc<LoadedVersion>>,
    _inflight: OwnedSemaphorePermit,
}

/// Let a request in, before its body is read: the token when inference needs one, a known
/// model with something to serve, a writable log under `--on-log-failure refuse`, and room
/// in the in-flight budget for `declared` bytes (the largest allowed when unknown).
pub fn admit(
    st: &AppState,
    model: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    declared: Option<usize>,
) -> Result<Admitted, Rejection> {
    if st.config.require_token_for_inference {
        check_token(&st.token, headers)?;
    }
    // One consistent view of the routes for the whole request.
    let table = st.routes.load_full();
    let Some(route) = table.models.get(model) else {
        return Err(Rejection::new(
            StatusCode::NOT_FOUND,
            format!("unknown model '{model}'"),
        ));
    };
    let explicit = match version {
        Some(_) => Some(lookup(st, model, version)?),
        None if route.live.is_none() && route.arms.is_empty() => {
            let msg = format!("model '{model}' has no live version (deploy one)");
            return Err(Rejection::new(StatusCode::SERVICE_UNAVAILABLE, msg));
        }
        None => None,
    };
    if st.config.on_log_failure == LogFailurePolicy::Refuse
        && let Some(why) = st.prediction_log.failure()
    {
        return Err(Rejection {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the prediction log cannot be written ({why}); refusing (--on-log-failure refuse)"),
            retry_after: Some(5),
        });
    }
    let declared = declared.unwrap_or(st.config.max_body).min(st.config.max_body);
    let Ok(inflight) = st
        .inflight_kib
        .clone()
        .try_acquire_many_owned(declared.div_ceil(1024).max(1) as u32)
    else {
        return Err(Rejection {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the gateway is at its in-flight request limit (--max-inflight-bytes); retry shortly".into(),
            retry_after: Some(1),
        });
    };
    Ok(Admitted {
        table,
        explicit,
        _inflight: inflight,
    })
}

/// A decoded request and where it came from.
pub struct Inference<'a> {
    pub model: String,
    /// The version named in the path or message (`None`: route it).
    pub version: Option<String>,
    /// HTTP headers or gRPC metadata: routing key, request id, header-match routes.
    pub headers: &'a HeaderMap,
    pub req: InferRequest,
    /// The request as the HTTP body it came in (forwarded as is to an HTTP upstream);
    /// empty when it came another way (it is then encoded only if an upstream needs it).
    pub raw: Bytes,
    pub header_len: Option<String>,
    pub started: Instant,
    pub ts: chrono::DateTime<chrono::Utc>,
}

/// What was served: the status, the encoded answer (or the error message), the version
/// that answered and the request id.
pub struct Served<E> {
    pub status: StatusCode,
    pub answer: Result<E, String>,
    pub version: String,
    pub request_id: String,
}

/// Serve one admitted request. `encode` turns the model's answer into the front end's
/// form (its error is the client's: an output that does not exist).
pub async fn run<E>(
    st: &Arc<AppState>,
    admitted: Admitted,
    inference: Inference<'_>,
    encode: impl FnOnce(&InferResponse, &[(String, bool)], bool) -> Result<E, InvalidRequest>,
) -> Result<Served<E>, Rejection> {
    let Inference {
        model,
        version,
        headers,
        mut req,
        mut raw,
        mut header_len,
        started,
        ts,
    } = inference;
    let Some(route) = admitted.table.models.get(&model) else {
        return Err(Rejection::new(
            StatusCode::NOT_FOUND,
            format!("unknown model '{model}'"),
        ));
    };
    let request_id = req
        .id
        .clone()
        .or_else(|| {
            headers
                .get(crate::wire::REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>()));
    if request_id.len() > v2::MAX_ID_LEN {
        return Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("x-request-id is {} bytes; at most {}", request_id.len(), v2::MAX_ID_LEN),
        ));
    }
    let explicit_key = router::explicit_key(headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()), &req.parameters);
    if let Some(k) = explicit_key.as_ref().filter(|k| k.len() > v2::MAX_ID_LEN) {
        return Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("routing key is {} bytes; at most {}", k.len(), v2::MAX_ID_LEN),
        ));
    }
    let bucket = match &explicit_key {
        Some(key) => router::bucket(&route.salt, key),
        None => router::random_bucket(),
    };
    let matched = admitted
        .explicit
        .is_none()
        .then(|| route.match_headers(headers))
        .flatten();
    let (target, role): (Arc<LoadedVersion>, String) = match (admitted.explicit.clone(), matched) {
        (Some(v), _) => (v, "explicit".into()),
        (None, Some(v)) => (v, crate::wire::log::ROLE_MATCHED.into()),
        (None, None) => match route.select(bucket) {
            Some((v, role)) => (v, role.to_string()),
            None => {
                return Err(Rejection::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("model '{model}' has no live version"),
                ));
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
    let assembly = super::features::assemble(st, &target, &mut req, &mut raw, &mut header_len)
        .await
        .map_err(|(status, msg)| Rejection::new(status, msg))?;
    if req.inputs.is_empty() {
        return Err(Rejection::new(StatusCode::BAD_REQUEST, "request has no inputs"));
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
    let (encoded, status) = match answer {
        Answer::Ok(resp) => match encode(&resp, &requested, binary_default) {
            Ok(enc) => {
                st.monitors
                    .observe(&model, &target.version, &resp.outputs, monitor_inputs.as_deref());
                primary_outputs = Some(resp.outputs);
                (Ok(enc), StatusCode::OK)
            }
            Err(e) => (Err(e.0), StatusCode::BAD_REQUEST),
        },
        Answer::Failed(status, msg) => (Err(msg), status),
    };
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
    if let (Some((sh, step_id, sreq, sraw)), Some(primary)) = (shadow, primary_outputs.clone()) {
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
    st.metrics.observe_request(
        &target.metrics,
        (&model, &target.version, &role),
        status.as_u16(),
        latency.as_secs_f64(),
    );
    let err_msg = encoded.as_ref().err().cloned();
    let logged_outputs = match &primary_outputs {
        Some(outs) => LogTensors::of(outs),
        None => Some(LogTensors::Null),
    };
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
        // Answered, but too large to log: null, and said so.
        outputs_omitted: logged_outputs.is_none(),
        outputs: logged_outputs.unwrap_or_default(),
        inputs: logged_inputs,
        error: err_msg.as_deref().map(Into::into),
        features: assembly.logged,
        feature_flags: assembly.flags,
    };
    st.predictions.append(day_of(&ts), &record).await;
    Ok(Served {
        status,
        answer: encoded,
        version: target.version.clone(),
        request_id,
    })
}
