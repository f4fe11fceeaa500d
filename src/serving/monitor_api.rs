//! The monitors' admin API (bearer token): add, list, remove, and a monitor's finished
//! windows. A monitor is stored (and audited) before it starts watching.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::api::{MonitorAdded, MonitorInfo, MonitorList, MonitorWindows};
use super::http::{Limit, authed_json, check_token, error};
use super::monitor::{LiveMonitor, alert_states, window_bytes, window_rows};
use super::state::AppState;
use crate::drift::monitor::MonitorSpec;
use crate::error::Error;
use crate::store::monitors::MonitorRecord;

/// A monitor's spec carries its baseline profile: up to 16 MiB.
const MONITOR_BODY: Limit = Limit {
    bytes: 16 << 20,
    flag: "monitor specs: 16 MiB",
};

pub fn info(m: &LiveMonitor) -> MonitorInfo {
    MonitorInfo {
        id: m.id,
        model: m.spec.model.clone(),
        columns: m.spec.monitored().iter().map(|c| c.name.clone()).collect(),
        method: format!("{:?}", m.spec.method).to_lowercase(),
        window_ms: m.spec.window_ms,
        consecutive: m.spec.consecutive,
        retention_ms: m.spec.retention_ms,
        notify: m.spec.notify.iter().map(|u| super::notify::redact(u)).collect(),
        firing: alert_states(m).into_iter().map(|(v, a)| (v, a.firing)).collect(),
        window_rows: window_rows(m),
        window_bytes: window_bytes(m) as u64,
    }
}

pub async fn add(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let spec: MonitorSpec = match authed_json(&st.token, &headers, body, MONITOR_BODY, st.config.body_timeout).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !crate::wire::valid_name(&spec.model) {
        return error(StatusCode::BAD_REQUEST, format!("model: {}", crate::wire::NAME_RULE));
    }
    if let Err(e) = spec.validate() {
        return error(StatusCode::BAD_REQUEST, e.to_string());
    }
    for url in &spec.notify {
        if let Err(e) = super::notify::check_url("notify", url) {
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    }
    let value = serde_json::to_value(&spec).unwrap_or_default();
    let model = spec.model.clone();
    let _guard = st.admin_lock.lock().await;
    let (m, v) = (model.clone(), value.clone());
    let id = match st
        .with_store(move |s| s.add_monitor(&m, &v, super::admin::ADMIN_ACTOR))
        .await
    {
        Ok(id) => id,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let rec = MonitorRecord {
        id,
        model: model.clone(),
        spec: value,
        state: serde_json::Value::Null,
        created_at: String::new(),
    };
    let columns = spec.monitored().iter().map(|c| c.name.clone()).collect();
    let mut all = st.monitors.all();
    all.push(Arc::new(LiveMonitor::new(&rec, spec)));
    st.monitors.install(all);
    st.notifier.wake();
    (StatusCode::CREATED, axum::Json(MonitorAdded { id, model, columns })).into_response()
}

pub async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return r.into_response();
    }
    let monitors = st.monitors.all().iter().map(|m| info(m)).collect();
    axum::Json(MonitorList { monitors }).into_response()
}

pub async fn remove(State(st): State<Arc<AppState>>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return r.into_response();
    }
    let _guard = st.admin_lock.lock().await;
    match st
        .with_store(move |s| s.remove_monitor(id, super::admin::ADMIN_ACTOR))
        .await
    {
        Ok(true) => {
            let keep = st.monitors.all().into_iter().filter(|m| m.id != id).collect();
            st.monitors.install(keep);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no monitor {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct WindowsQuery {
    #[serde(default)]
    limit: Option<u32>,
}

pub async fn windows(
    State(st): State<Arc<AppState>>,
    Path(id): Path<i64>,
    Query(q): Query<WindowsQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_token(&st.token, &headers) {
        return r.into_response();
    }
    let Some(m) = st.monitors.all().into_iter().find(|m| m.id == id) else {
        return error(StatusCode::NOT_FOUND, format!("no monitor {id}"));
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    match st.with_store(move |s| s.monitor_windows(id, limit)).await {
        Ok(records) => {
            let windows = records
                .into_iter()
                .filter_map(|r| serde_json::from_value(r.result).ok())
                .collect();
            axum::Json(MonitorWindows {
                monitor: info(&m),
                windows,
            })
            .into_response()
        }
        Err(Error::Usage(m)) => error(StatusCode::NOT_FOUND, m),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
