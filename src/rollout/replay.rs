//! After a restart, rebuild each active rollout's step statistics from the gateway's own
//! logs, so a `kill -9` mid-step loses no evidence: every prediction answered by a live
//! arm since the step started is counted again (status, latency, scores), and outcomes
//! posted since then are joined again by request id. Shadow comparisons are not logged
//! with their verdicts, so a shadow step's agreement restarts from zero.

use std::path::Path;

use serde::Deserialize;

use crate::data::gateway_logs::{each_record, log_files};
use crate::error::Result;
use crate::serving::state::AppState;

#[derive(Deserialize)]
struct Logged {
    ts: String,
    request_id: String,
    model: String,
    version: String,
    role: String,
    latency_us: u64,
    status: u16,
    #[serde(default)]
    outputs: serde_json::Value,
}

#[derive(Deserialize)]
struct LoggedOutcome {
    ts: String,
    #[serde(default)]
    request_id: Option<String>,
    metric: String,
    value: f64,
}

fn since(ts: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Replay the logs under `data_dir` into `st.rollout_stats`; returns the records replayed.
pub fn replay(st: &AppState, data_dir: &Path) -> Result<u64> {
    let table = st.routes.load();
    let active: Vec<(String, u64, chrono::DateTime<chrono::Utc>, bool, bool)> = table
        .models
        .iter()
        .filter_map(|(m, r)| {
            let ro = r.rollout.as_ref().filter(|ro| ro.phase.active())?;
            Some((
                m.clone(),
                ro.step_id,
                since(&ro.step_started_at)?,
                r.track_scores,
                r.track_outcomes,
            ))
        })
        .collect();
    if active.is_empty() || !data_dir.join("logs").is_dir() {
        return Ok(0);
    }
    let earliest = active.iter().map(|a| a.2).min().unwrap_or_else(chrono::Utc::now);
    let first_day = earliest.format("%Y%m%d").to_string();
    let wanted = |name: &Path| {
        name.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('-').nth(1))
            .is_some_and(|day| day[..8.min(day.len())] >= first_day[..])
    };
    let mut n = 0;
    for f in log_files(data_dir, "predictions-")?.into_iter().filter(|f| wanted(f)) {
        each_record(&f, |p: Logged| {
            let Some((_, step_id, start, scores, outcomes)) = active.iter().find(|a| a.0 == p.model) else {
                return Ok(());
            };
            if matches!(p.role.as_str(), "explicit" | "shadow") || since(&p.ts).is_none_or(|t| t < *start) {
                return Ok(());
            }
            let tensors: Vec<_> = if *scores {
                p.outputs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(crate::commands::predict::tensor_from_json)
                    .collect()
            } else {
                Vec::new()
            };
            let s = crate::serving::shadow::scores(&tensors);
            let rid = outcomes.then_some(p.request_id.as_str());
            st.rollout_stats
                .record(&p.model, *step_id, &p.version, p.status == 200, p.latency_us, &s, rid);
            n += 1;
            Ok(())
        })?;
    }
    if active.iter().any(|a| a.4) {
        for f in log_files(data_dir, "outcomes-")?.into_iter().filter(|f| wanted(f)) {
            each_record(&f, |o: LoggedOutcome| {
                if let Some(rid) = &o.request_id
                    && since(&o.ts).is_some_and(|t| t >= earliest)
                {
                    st.rollout_stats.record_outcome(rid, &o.metric, o.value);
                    n += 1;
                }
                Ok(())
            })?;
        }
    }
    Ok(n)
}
