//! After a restart, rebuild each active rollout's step statistics from the gateway's own
//! logs, so a `kill -9` mid-step loses no evidence: every prediction answered by a live
//! arm since the step started is counted again (status, latency, scores), and outcomes
//! posted since then are joined again by request id. Shadow comparisons are not logged
//! with their verdicts, so a shadow step's agreement restarts from zero.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::scores::scores;
use super::stats::RolloutStats;
use crate::data::gateway_logs::{each_outcome, each_prediction, log_files_from};
use crate::error::Result;
use crate::wire::log::{LogKind, day_of, parse_ts};

/// One active rollout step whose statistics are rebuilt.
#[derive(Debug, Clone)]
pub struct ActiveStep {
    pub model: String,
    pub step_id: u64,
    /// When the step started: records before it belong to earlier steps.
    pub since: DateTime<Utc>,
    /// Its guards need output scores (drift) / outcomes joined by request id.
    pub track_scores: bool,
    pub track_outcomes: bool,
}

impl ActiveStep {
    /// The active step of a rollout, `None` when it is over or its start is unreadable.
    pub fn of(model: &str, rollout: &super::RolloutState) -> Option<ActiveStep> {
        if !rollout.phase.active() {
            return None;
        }
        Some(ActiveStep {
            model: model.to_string(),
            step_id: rollout.step_id,
            since: parse_ts(&rollout.step_started_at)?,
            track_scores: rollout.spec.needs_scores(),
            track_outcomes: rollout.spec.needs_outcomes(),
        })
    }
}

/// Replay the logs under `data_dir` into `stats` for the `active` steps; returns the
/// number of records replayed.
pub fn replay(stats: &RolloutStats, active: &[ActiveStep], data_dir: &Path) -> Result<u64> {
    if active.is_empty() || !data_dir.join(crate::wire::log::LOGS_DIR).is_dir() {
        return Ok(0);
    }
    let earliest = active.iter().map(|a| a.since).min().unwrap_or_else(Utc::now);
    let first_day = day_of(&earliest);
    let mut n = 0;
    for f in log_files_from(data_dir, LogKind::Predictions, &first_day)? {
        each_prediction(&f, |p| {
            let Some(a) = active.iter().find(|a| a.model == p.model) else {
                return Ok(());
            };
            if !p.routed() || p.time().is_none_or(|t| t < a.since) {
                return Ok(());
            }
            let tensors: Vec<_> = if a.track_scores {
                p.outputs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(crate::wire::v2::tensor_from_json)
                    .collect()
            } else {
                Vec::new()
            };
            let rid = a.track_outcomes.then_some(p.request_id.as_ref());
            stats.record(
                &p.model,
                a.step_id,
                &p.version,
                p.status == 200,
                p.latency_us,
                &scores(&tensors),
                rid,
            );
            n += 1;
            Ok(())
        })?;
    }
    if active.iter().any(|a| a.track_outcomes) {
        for f in log_files_from(data_dir, LogKind::Outcomes, &first_day)? {
            each_outcome(&f, |o| {
                if let Some(rid) = &o.request_id
                    && o.time().is_some_and(|t| t >= earliest)
                {
                    stats.record_outcome(rid, &o.metric, o.value);
                    n += 1;
                }
                Ok(())
            })?;
        }
    }
    Ok(n)
}
