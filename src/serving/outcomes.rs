//! `POST /v1/outcomes`: business outcomes by request id or unit key, validated as a batch
//! (all or nothing), stored (written and fsync'd) before they are acknowledged, and fed to
//! the outcome guards of running rollouts.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::api::OutcomesAccepted;
use super::http::{authed_json, error, unavailable};
use super::state::AppState;
use crate::wire::log::{OutcomeRecord, day_of, timestamp};

/// How far ahead of the gateway's clock an outcome's `ts` may be (clock skew).
pub const OUTCOME_CLOCK_SKEW_MIN: i64 = 5;

/// One outcome record as posted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeIn {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    key: Option<String>,
    metric: String,
    value: Value,
    #[serde(default)]
    ts: Option<String>,
}

/// Validate one posted outcome into the logged form; the error names the item.
fn outcome_record(i: usize, v: Value) -> Result<(chrono::DateTime<chrono::Utc>, OutcomeRecord), String> {
    let o: OutcomeIn = serde_json::from_value(v).map_err(|e| format!("outcome [{i}]: {e}"))?;
    if o.request_id.as_deref().unwrap_or("").is_empty() && o.key.as_deref().unwrap_or("").is_empty() {
        return Err(format!("outcome [{i}]: needs request_id or key"));
    }
    let long = |v: &Option<String>| v.as_ref().is_some_and(|s| s.len() > crate::wire::v2::MAX_ID_LEN);
    if long(&o.request_id) || long(&o.key) {
        return Err(format!(
            "outcome [{i}]: request_id and key are at most {} bytes",
            crate::wire::v2::MAX_ID_LEN
        ));
    }
    if o.metric.is_empty() || o.metric.len() > 128 {
        return Err(format!("outcome [{i}]: metric must be 1-128 characters"));
    }
    let value = match &o.value {
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("outcome [{i}]: value must be finite"))?,
        other => {
            return Err(format!(
                "outcome [{i}]: value must be a number or a boolean, got {other}"
            ));
        }
    };
    let now = chrono::Utc::now();
    let ts = match &o.ts {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("outcome [{i}]: ts {t:?} is not RFC 3339: {e}"))?
            .with_timezone(&chrono::Utc),
        None => now,
    };
    if ts > now + chrono::Duration::minutes(OUTCOME_CLOCK_SKEW_MIN) {
        return Err(format!(
            "outcome [{i}]: ts {ts} is in the future (more than {OUTCOME_CLOCK_SKEW_MIN} minutes ahead of the gateway's clock)"
        ));
    }
    Ok((
        ts,
        OutcomeRecord {
            ts: timestamp(&ts),
            request_id: o.request_id,
            key: o.key,
            metric: o.metric,
            value,
        },
    ))
}

pub async fn post_outcomes(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let parsed: Value = match authed_json(
        &st.token,
        &headers,
        body,
        st.config.body_limit(),
        st.config.body_timeout,
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let items = match parsed {
        Value::Array(a) => a,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "expected an outcome object or an array of them",
            );
        }
    };
    // All or nothing: validate every item before writing any.
    let records: Result<Vec<_>, String> = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| outcome_record(i, v))
        .collect();
    let records = match records {
        Ok(r) => r,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    let n = records.len();
    // Stored (written and fsync'd) before acknowledged; the day of the file is the day
    // they arrived, whatever their `ts` says.
    let records: Vec<OutcomeRecord> = records.into_iter().map(|(_, r)| r).collect();
    if let Err(why) = st.outcomes.append_durable(day_of(&chrono::Utc::now()), &records).await {
        let r = unavailable(
            format!("outcomes not stored: {why}; nothing was accepted, retry later"),
            5,
        );
        return r;
    }
    // Outcomes of requests answered during a rollout step feed its outcome guards; of
    // replicas, the one that answered the request joins it (relayed through the database
    // while a rollout needs outcomes, committed before this answer).
    let mut unjoined = Vec::new();
    for rec in &records {
        if let Some(rid) = &rec.request_id
            && !st.rollouts.stats.record_outcome(rid, &rec.metric, rec.value)
        {
            unjoined.push((rid.clone(), rec.metric.clone(), rec.value));
        }
    }
    let wanted = st.routes.load().models.values().any(|r| r.track_outcomes);
    if let Some(rep) = st.replica.as_ref().filter(|_| wanted)
        && let Err(e) = super::replication::relay(&st, rep, unjoined).await
    {
        return unavailable(
            format!("{e}; the outcomes are stored here, posting them again is safe for the guards"),
            5,
        );
    }
    st.metrics.outcomes.inc_by(n as u64);
    (StatusCode::ACCEPTED, axum::Json(OutcomesAccepted { accepted: n })).into_response()
}
