//! Features at the gateway: a version with a feature view gets its input assembled from
//! the request and the online store before it runs (`features::assemble`), and
//! `POST /v1/features/{table}` (admin token) pushes near-real-time values.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{ADMIN_BODY, authed_json, error};
use super::metrics::{FeatureLabels, FeatureTableLabels};
use super::runtime::LoadedVersion;
use super::state::AppState;
use crate::error::Error;
use crate::features::assemble::{self, AssembleError};
use crate::features::online::PushRow;
use crate::wire::v2::InferRequest;

/// How often the gateway looks for feature snapshots loaded by other processes.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// What the assembly leaves for the log record.
#[derive(Default)]
pub struct Assembly {
    pub logged: Option<Value>,
    pub flags: Vec<String>,
}

/// Assemble `req`'s model input from `v`'s feature view (when it has one and the request
/// does not already carry that input), counting defaults and fallbacks. The request's
/// JSON body is rewritten for upstream runtimes.
pub async fn assemble(
    st: &AppState,
    v: &LoadedVersion,
    req: &mut InferRequest,
    raw: &mut bytes::Bytes,
    header_len: &mut Option<String>,
) -> std::result::Result<Assembly, (StatusCode, String)> {
    let Some(view) = v.view.as_deref() else {
        return Ok(Assembly::default());
    };
    if assemble::passes_through(view, req) {
        return Ok(Assembly::default());
    }
    let rows = assemble::read_request(view, req).map_err(status_of)?;
    let fetched = st.features.fetch(&rows.wanted(view)).await;
    let now = chrono::Utc::now().timestamp_micros();
    let done = rows.finish(view, &fetched, now).map_err(status_of)?;
    for c in &done.counted {
        if c.reason == "store_error" {
            st.metrics
                .feature_fallback
                .get_or_create(&FeatureTableLabels {
                    table: c.table.clone(),
                    reason: c.reason.to_string(),
                })
                .inc();
        } else {
            st.metrics
                .feature_missing
                .get_or_create(&FeatureLabels {
                    table: c.table.clone(),
                    feature: c.feature.clone(),
                    reason: c.reason.to_string(),
                })
                .inc();
        }
    }
    assemble::apply(view, req, done.tensor);
    if matches!(v.runtime, super::runtime::Runtime::Upstream(_)) {
        *raw = bytes::Bytes::from(crate::wire::v2::request_json(req));
        *header_len = None;
    }
    let logged = (st.config.log_features >= 1.0 || rand::random::<f64>() < st.config.log_features)
        .then_some(Value::Object(done.logged));
    Ok(Assembly {
        logged,
        flags: done.flags,
    })
}

fn status_of(e: AssembleError) -> (StatusCode, String) {
    let status = match e {
        AssembleError::BadRequest(_) => StatusCode::BAD_REQUEST,
        AssembleError::Missing(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AssembleError::StoreDown(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.to_string())
}

/// One pushed row.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushIn {
    entity: Value,
    /// Event time: RFC 3339 or Unix seconds [default: now].
    #[serde(default)]
    ts: Option<Value>,
    values: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushBody {
    rows: Vec<Value>,
}

fn push_row(i: usize, v: Value, now_us: i64) -> std::result::Result<PushRow, String> {
    let r: PushIn = serde_json::from_value(v).map_err(|e| format!("row [{i}]: {e}"))?;
    let entity = match r.entity {
        Value::String(s) if !s.is_empty() && s.len() <= crate::wire::v2::MAX_ID_LEN => s,
        Value::Number(n) => n.to_string(),
        _ => return Err(format!("row [{i}]: entity: expected a non-empty id (string or number)")),
    };
    let ts = match r.ts {
        None => now_us,
        Some(Value::String(s)) => crate::features::files::parse_time(&s)
            .ok_or_else(|| format!("row [{i}]: ts: expected RFC 3339 or Unix seconds"))?,
        Some(Value::Number(n)) => crate::features::files::parse_time(&n.to_string())
            .ok_or_else(|| format!("row [{i}]: ts: expected RFC 3339 or Unix seconds"))?,
        Some(_) => return Err(format!("row [{i}]: ts: expected RFC 3339 or Unix seconds")),
    };
    if r.values.is_empty() {
        return Err(format!("row [{i}]: values: expected at least one column"));
    }
    let mut values = Vec::with_capacity(r.values.len());
    for (c, v) in r.values {
        match v.as_f64().filter(|x| x.is_finite()) {
            Some(x) => values.push((c, x)),
            None => return Err(format!("row [{i}]: values.{c}: expected a finite number")),
        }
    }
    Ok((entity, ts, values))
}

/// `POST /v1/features/{table}` (admin token): `{"rows": [{"entity": "r42", "ts":
/// "2026-11-28T10:00:00Z", "values": {"avg_prep_1h": 12.5}}]}` (or one row object).
/// Validated whole, stored durably, then served: 200 `{"table", "rows"}`.
pub async fn push(
    State(st): State<Arc<AppState>>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let v: Value = match authed_json(&st.token, &headers, body, ADMIN_BODY, st.config.body_timeout).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let items = match v {
        Value::Object(ref o) if o.contains_key("rows") => match serde_json::from_value::<PushBody>(v) {
            Ok(b) => b.rows,
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        },
        Value::Object(_) => vec![v],
        _ => return error(StatusCode::BAD_REQUEST, "expected {\"rows\": [...]} or one row object"),
    };
    let now = chrono::Utc::now().timestamp_micros();
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match push_row(i, item, now) {
            Ok(r) => rows.push(r),
            Err(m) => return error(StatusCode::BAD_REQUEST, m),
        }
    }
    match st.features.push(&table, rows).await {
        Ok(n) => (StatusCode::OK, axum::Json(json!({"table": table, "rows": n}))).into_response(),
        Err(Error::Usage(m)) => error(StatusCode::NOT_FOUND, m),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("feature store: {e}")),
    }
}

/// Follow snapshots loaded by `mlctl features load` while the gateway runs.
pub async fn refresh_loop(st: Arc<AppState>) {
    let mut failing = false;
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        match st.features.refresh().await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!("feature store: {e}");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pushed_rows_are_checked_field_by_field() {
        let now = 1_000_000;
        let ok = push_row(
            0,
            json!({"entity": "r1", "ts": "2026-11-28T10:00:00Z", "values": {"a": 1.5}}),
            now,
        )
        .unwrap();
        assert_eq!(ok.0, "r1");
        assert_eq!(ok.2, vec![("a".to_string(), 1.5)]);
        assert_eq!(
            push_row(0, json!({"entity": 42, "values": {"a": 1}}), now).unwrap().1,
            now,
            "ts defaults to now"
        );
        for (bad, want) in [
            (json!({"entity": "", "values": {"a": 1}}), "entity"),
            (json!({"entity": "r", "values": {}}), "at least one column"),
            (json!({"entity": "r", "values": {"a": "x"}}), "values.a"),
            (json!({"entity": "r", "ts": "yesterday", "values": {"a": 1}}), "ts"),
            (json!({"entity": "r", "values": {"a": 1}, "extra": 1}), "unknown field"),
        ] {
            let e = push_row(3, bad, now).unwrap_err();
            assert!(e.starts_with("row [3]") && e.contains(want), "{e}");
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(|x| json!(x)),
            any::<i64>().prop_map(|x| json!(x)),
            "[a-z0-9:T.-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("(entity|ts|values|[a-z]{1,3})", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever JSON a client pushes, a row or an error naming it; never a panic.
        #[test]
        fn push_row_never_panics(v in json_value()) {
            if let Err(e) = push_row(7, v, 0) {
                prop_assert!(e.starts_with("row [7]"));
            }
        }
    }
}
