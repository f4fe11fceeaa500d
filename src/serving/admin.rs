//! `/admin/v1` API, behind the bearer token (`POST /v1/outcomes` is in `outcomes.rs`).
//!
//! - `POST /admin/v1/blobs` (body: ONNX bytes) → `{sha256, size}`
//! - `POST /admin/v1/models/{m}/versions` `{version, onnx_sha256}` or
//!   `{version, upstream_url, timeout_ms?}` → loads the version, then registers it
//! - `PUT  /admin/v1/models/{m}/route` `{version, reason?}` → routes 100% to `version`
//! - `GET  /admin/v1/models` → every model: versions, live version, readiness
//! - `GET  /admin/v1/models/{m}/events` → the audit log
//! - `POST /admin/v1/models/{m}/rollouts`, `…/{promote|pause|resume|rollback}`,
//!   `GET …/rollout` → the rollout controller

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::api::{
    ArmFigures, BlobStored, EventList, ModelEntry, ModelList, RolloutStatus, RouteSet, VersionEntry, VersionRegistered,
};
use super::http::{ADMIN_BODY, Limit, authed_body, authed_json, check_token, error, json_body, read_body, reject};
use super::loading::load_isolated;
use super::runtime::{LoadedVersion, Runtime};
use super::state::{AppState, ModelRoute};
use crate::error::Error;
use crate::rollout::controller::{self, Command};
use crate::rollout::strategy::RolloutSpec;
use crate::store::{Registered, VersionRecord, VersionSource};

/// The actor recorded for changes made with the admin token.
pub const ADMIN_ACTOR: &str = "admin";

fn state_error(e: Error) -> Response {
    match e {
        Error::Usage(m) => error(StatusCode::CONFLICT, m),
        e @ Error::Conflict(_) => error(StatusCode::CONFLICT, e.to_string()),
        Error::Model(m) => error(StatusCode::UNPROCESSABLE_ENTITY, m),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

pub async fn upload_blob(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return reject(body, r).await;
    }
    let bytes = match read_body(
        &headers,
        body,
        Limit {
            bytes: st.config.max_blob,
            flag: "--max-blob",
        },
        st.config.body_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let size = bytes.len();
    match st.with_store(move |s| s.put_blob(&bytes)).await {
        Ok(sha256) => (
            StatusCode::CREATED,
            axum::Json(BlobStored {
                sha256,
                size: size as u64,
            }),
        )
            .into_response(),
        Err(e) => state_error(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterVersion {
    pub version: String,
    #[serde(default)]
    pub onnx_sha256: Option<String>,
    #[serde(default)]
    pub upstream_url: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The feature view (TOML text) that assembles the model's input.
    #[serde(default)]
    pub features: Option<String>,
}

pub async fn register_version(
    State(st): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let req: RegisterVersion = match authed_json(&st.token, &headers, body, ADMIN_BODY, st.config.body_timeout).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !crate::wire::valid_name(&model) || !crate::wire::valid_name(&req.version) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("model and version names are {}", crate::wire::NAME_RULE),
        );
    }
    let source = match (&req.onnx_sha256, &req.upstream_url) {
        (Some(sha), None) if !crate::store::is_sha256(sha) => {
            return error(
                StatusCode::BAD_REQUEST,
                "onnx_sha256 must be 64 hex digits (the reply of POST /admin/v1/blobs)",
            );
        }
        (Some(sha), None) => VersionSource::Onnx {
            blob_sha256: sha.to_ascii_lowercase(),
        },
        (None, Some(url)) => {
            if let Err(e) = super::runtime::upstream::model_url(url, &model) {
                return error(StatusCode::BAD_REQUEST, e);
            }
            VersionSource::Upstream {
                url: url.clone(),
                timeout_ms: req
                    .timeout_ms
                    .unwrap_or(st.config.default_upstream_timeout.as_millis() as u64)
                    .max(1),
            }
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "give exactly one of onnx_sha256 and upstream_url",
            );
        }
    };
    if let Some(text) = &req.features {
        let view = match crate::features::view::parse_view_text("feature view", text) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        };
        for t in view.tables() {
            match st.features.has_table(t).await {
                Ok(true) => {}
                Ok(false) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "feature view: table {t:?} is not in the feature store ({}); load it first: mlctl features load {t} --from FILE --key ID",
                            st.features.describe()
                        ),
                    );
                }
                Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, format!("feature store: {e}")),
            }
        }
    }
    let rec = VersionRecord {
        model: model.clone(),
        version: req.version.clone(),
        source: source.clone(),
        features: req.features.clone(),
        created_at: String::new(),
    };
    // Load first, holding no lock (a slow or failing model never blocks a rollback): a
    // version that cannot serve is never registered.
    let loaded = match load_isolated(&st, rec).await {
        Ok(v) => Arc::new(v),
        Err(Error::Io { path, source }) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("blob {}: {source} (upload it first)", path.display()),
            );
        }
        Err(e) => return state_error(e),
    };
    if let Runtime::Upstream(u) = &loaded.runtime
        && !u.ready().await
    {
        return error(
            StatusCode::BAD_GATEWAY,
            format!("upstream {} is not ready (GET …/ready did not answer 200)", u.model_url),
        );
    }
    let _guard = st.admin_lock.lock().await;
    let (m, v, src, view) = (model.clone(), req.version.clone(), source.clone(), req.features.clone());
    let registered = match st
        .with_store(move |s| s.register_version(&m, &v, &src, view.as_deref(), ADMIN_ACTOR))
        .await
    {
        Ok(r) => r,
        Err(e) => return state_error(e),
    };
    let mut table = (**st.routes.load()).clone();
    let route = table
        .models
        .entry(model.clone())
        .or_insert_with(|| ModelRoute::new(String::new()));
    if registered == Registered::Created || !route.versions.contains_key(&req.version) {
        route.versions.insert(req.version.clone(), loaded.clone());
        st.publish(table);
    }
    st.load_failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&(model.clone(), req.version.clone()));
    let status = if registered == Registered::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        axum::Json(VersionRegistered {
            model,
            version: req.version,
            runtime: loaded.runtime.kind().to_string(),
            created: registered == Registered::Created,
            inputs: loaded.inputs.clone(),
            outputs: loaded.outputs.clone(),
            notes: loaded.notes.clone(),
        }),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRoute {
    pub version: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// Switch even when the inputs or outputs differ from the live version's.
    #[serde(default)]
    pub allow_signature_change: bool,
}

/// How `to`'s inputs or outputs differ from `from`'s, when both are known (in-process
/// models; an upstream's signature is the upstream's business). Traffic sent for one
/// signature to a model with another fails or, worse, is silently misread.
pub fn signature_change(from: &LoadedVersion, to: &LoadedVersion) -> Option<String> {
    let known = |v: &LoadedVersion| !v.inputs.is_empty() || !v.outputs.is_empty();
    if !known(from) || !known(to) || (from.inputs == to.inputs && from.outputs == to.outputs) {
        return None;
    }
    let sig = |ts: &[crate::wire::v2::TensorMetadata]| {
        ts.iter()
            .map(|t| format!("{} {} {:?}", t.name, t.datatype, t.shape))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "version {} has another signature than the live version {}: inputs [{}] → [{}], outputs [{}] → [{}]; \
         clients would break (pass --allow-signature-change if they are ready)",
        to.version,
        from.version,
        sig(&from.inputs),
        sig(&to.inputs),
        sig(&from.outputs),
        sig(&to.outputs)
    ))
}

pub async fn set_route(
    State(st): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let req: SetRoute = match authed_json(&st.token, &headers, body, ADMIN_BODY, st.config.body_timeout).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let _guard = st.admin_lock.lock().await;
    let Some(target) = st
        .routes
        .load()
        .models
        .get(&model)
        .and_then(|r| r.versions.get(&req.version).cloned())
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("model '{model}' has no loaded version '{}'", req.version),
        );
    };
    let (live, active) = {
        let table = st.routes.load();
        let route = table.models.get(&model);
        (
            route.and_then(|r| r.live.clone()),
            route.and_then(|r| r.rollout.as_ref()).is_some_and(|r| r.phase.active()),
        )
    };
    // Already live and nothing else routed: no change, no audit event.
    if !active && live.as_ref().is_some_and(|l| l.version == req.version) {
        return axum::Json(RouteSet {
            model,
            live_version: req.version.clone(),
            previous_version: Some(req.version),
            swap_us: 0,
            unchanged: true,
        })
        .into_response();
    }
    if let Some(live) = &live
        && !req.allow_signature_change
        && let Some(diff) = signature_change(live, &target)
    {
        return error(StatusCode::CONFLICT, diff);
    }
    let (m, v, reason) = (model.clone(), req.version.clone(), req.reason.clone());
    // Replicas: only if the deployment is still the one this replica routes by.
    let expect = st.replica.as_ref().map(|_| st.expected(&model));
    let dep = match st
        .with_store(move |s| s.set_live_if(&m, &v, ADMIN_ACTOR, reason.as_deref(), expect.as_ref()))
        .await
    {
        Ok(d) => d,
        Err(e) => return state_error(st.after_conflict(e)),
    };
    // Committed: now swap the route table.
    let mut table = (**st.routes.load()).clone();
    let previous = table
        .models
        .get(&model)
        .and_then(|r| r.live.as_ref().map(|l| l.version.clone()));
    if let Some(route) = table.models.get_mut(&model) {
        route.apply(&dep);
        route.live = Some(target);
    }
    st.publish(table);
    let swap_us = started.elapsed().as_micros() as u64;
    axum::Json(RouteSet {
        model,
        live_version: req.version,
        previous_version: previous,
        swap_us,
        unchanged: false,
    })
    .into_response()
}

pub async fn list_models(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return r.into_response();
    }
    let listed = st.with_store(|s| Ok((s.versions(None)?, s.deployments()?))).await;
    let (versions, deployments) = match listed {
        Ok(x) => x,
        Err(e) => return state_error(e),
    };
    let failures = st
        .load_failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let table = st.routes.load();
    let mut models: Vec<ModelEntry> = Vec::new();
    let mut names: Vec<&String> = versions.iter().map(|v| &v.model).collect();
    names.dedup();
    for name in names {
        let dep = deployments.iter().find(|d| &d.model == name);
        let vs: Vec<VersionEntry> = versions
            .iter()
            .filter(|v| &v.model == name)
            .map(|v| {
                let loaded = table
                    .models
                    .get(name)
                    .is_some_and(|r| r.versions.contains_key(&v.version));
                let (runtime, source) = match &v.source {
                    VersionSource::Onnx { blob_sha256 } => {
                        ("onnx", format!("sha256:{}", &blob_sha256[..blob_sha256.len().min(12)]))
                    }
                    VersionSource::Upstream { url, .. } => ("upstream", url.clone()),
                };
                VersionEntry {
                    version: v.version.clone(),
                    runtime: runtime.to_string(),
                    source,
                    created_at: v.created_at.clone(),
                    loaded,
                    live: dep.is_some_and(|d| d.live_version == v.version),
                    load_error: failures.get(&(name.clone(), v.version.clone())).cloned(),
                }
            })
            .collect();
        models.push(ModelEntry {
            model: name.clone(),
            live_version: dep.map(|d| d.live_version.clone()),
            strategy: dep.map(|d| d.strategy.clone()),
            state: dep.map(|d| d.state.clone()),
            updated_at: dep.map(|d| d.updated_at.clone()),
            versions: vs,
        });
    }
    axum::Json(ModelList { models }).into_response()
}

pub async fn model_events(State(st): State<Arc<AppState>>, Path(model): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return r.into_response();
    }
    match st.with_store(move |s| s.events(&model)).await {
        Ok(mut events) => {
            events
                .iter_mut()
                .for_each(|e| super::notify::redact_event(&mut e.detail));
            axum::Json(EventList { events }).into_response()
        }
        Err(e) => state_error(e),
    }
}

pub async fn notify_status(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return r.into_response();
    }
    match st.notifier.status().await {
        Ok(targets) => axum::Json(super::api::NotifyStatus { targets }).into_response(),
        Err(e) => state_error(e),
    }
}

pub async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.encode(),
    )
        .into_response()
}

fn rollout_error(e: Error) -> Response {
    match e {
        Error::Usage(m) => error(StatusCode::CONFLICT, m),
        e @ Error::Conflict(_) => error(StatusCode::CONFLICT, e.to_string()),
        // A gate refused (pre-rollout): the client exits 1, like any failed gate.
        Error::GateFailed(m) => error(StatusCode::PRECONDITION_FAILED, m),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

/// A rollout command's JSON body (an empty body is `{}`).
async fn command_json<T: serde::de::DeserializeOwned>(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, Response> {
    let bytes = authed_body(&st.token, headers, body, ADMIN_BODY, st.config.body_timeout).await?;
    let bytes = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        bytes::Bytes::from_static(b"{}")
    } else {
        bytes
    };
    json_body(&bytes).map_err(IntoResponse::into_response)
}

/// `POST /admin/v1/models/{m}/rollouts` with a `RolloutSpec`.
pub async fn start_rollout(
    State(st): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let spec: RolloutSpec = match command_json(&st, &headers, body).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !spec.allow_signature_change {
        let table = st.routes.load();
        if let Some(route) = table.models.get(&model)
            && let Some(live) = &route.live
        {
            let arms = spec
                .weights
                .iter()
                .map(|(v, _)| v)
                .chain(std::iter::once(&spec.candidate));
            for v in arms {
                if let Some(diff) = route.versions.get(v).and_then(|to| signature_change(live, to)) {
                    return error(StatusCode::CONFLICT, diff);
                }
            }
        }
    }
    match controller::start(&*st, &model, spec, ADMIN_ACTOR).await {
        Ok(t) => (StatusCode::CREATED, axum::Json(t)).into_response(),
        Err(e) => rollout_error(e),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /admin/v1/models/{m}/{promote|pause|resume|rollback}`.
pub async fn rollout_command(
    State(st): State<Arc<AppState>>,
    Path((model, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let b: CommandBody = match command_json(&st, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let cmd = match action.as_str() {
        "promote" => Command::Promote { to: b.to },
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "approve" => Command::Approve,
        "rollback" => Command::Rollback {
            to: b.to,
            reason: b.reason,
        },
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no such action '{other}' (promote, pause, resume, approve, rollback)"),
            );
        }
    };
    match controller::command(&*st, &model, cmd, ADMIN_ACTOR).await {
        Ok(t) => axum::Json(t).into_response(),
        Err(e) => rollout_error(e),
    }
}

/// `GET /admin/v1/models/{m}/rollout`: state, weights, the latest guard evaluation and
/// the current step's per-arm figures.
pub async fn rollout_status(
    State(st): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return r.into_response();
    }
    let table = st.routes.load();
    let Some(route) = table.models.get(&model) else {
        return error(StatusCode::NOT_FOUND, format!("unknown model '{model}'"));
    };
    let route_model = model.clone();
    let rollout = route.rollout.as_deref().cloned();
    let window = rollout.as_ref().map(|r| st.rollouts.window(&model, r.step_id));
    let arms: Vec<ArmFigures> = window
        .as_ref()
        .map(|w| {
            let mut names: Vec<&String> = w.arms.keys().collect();
            names.sort();
            names
                .into_iter()
                .map(|name| {
                    let a = &w.arms[name];
                    ArmFigures {
                        version: name.clone(),
                        requests: a.requests,
                        errors: a.errors,
                        p50_ms: (!a.latency_us.is_empty()).then(|| a.latency_us.value_at_quantile(0.5) as f64 / 1000.0),
                        p99_ms: a.p99_ms(),
                        compared: a.compared,
                        agreement: (a.compared > 0).then(|| a.agreed as f64 / a.compared as f64),
                        top_disagreements: a.disagreements.clone(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let rollout = rollout.map(|mut r| {
        // Webhook URLs may carry their secret (Slack's do): shown redacted.
        r.spec.notify = r.spec.notify.iter().map(|u| super::notify::redact(u)).collect();
        r
    });
    axum::Json(RolloutStatus {
        model,
        live_version: route.live.as_ref().map(|v| v.version.clone()),
        weights: rollout.as_ref().map(|r| r.weights()),
        evaluation: st.rollouts.evaluation(&route_model),
        rollout,
        arms,
        shadow_dropped: window.as_ref().map(|w| w.shadow_dropped).unwrap_or(0),
    })
    .into_response()
}
