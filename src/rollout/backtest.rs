//! `mlctl guards backtest`: replay the gateway's prediction and outcome logs through a
//! guard set, step by step, with the controller's evaluator and tick. Three timelines:
//! a real rollout's own steps (from the audit history, so the verdicts can be compared
//! with what the controller did), fixed-length steps between two versions, and A/A steps
//! that split the stable version's own traffic into two pseudo-arms by routing bucket —
//! the false-trip rate of the guard set on this model's real traffic.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::RolloutState;
use super::guard::{Evaluation, GuardValue, evaluate};
use super::scores::scores;
use super::stats::RolloutStats;
use crate::data::gateway_logs::{each_outcome, each_prediction, log_files};
use crate::error::{Error, Result};
use crate::wire::log::LogKind;

/// Half of the routing buckets (`serving` hashes keys into 10 000).
pub const AA_SPLIT_BUCKET: u16 = 5000;
/// Pseudo-arm names of an A/A backtest.
pub const AA_CONTROL: &str = "A";
pub const AA_TREATMENT: &str = "B";

/// One step to replay: its time span, the rollout state the guards judge it with, and
/// what the real controller decided at its end (when replaying a real rollout).
#[derive(Debug, Clone)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: RolloutState,
    pub real: Option<String>,
}

/// How the replay reads the logs.
#[derive(Debug, Clone)]
pub struct Replay {
    pub model: String,
    /// Evaluate every this much log time (the controller's tick).
    pub tick: Duration,
    /// A/A: only this version's routed records, split by bucket into arms A and B.
    pub aa: Option<String>,
    /// Judge the split against the weights (off when the weights are not known).
    pub check_split: bool,
}

/// The verdict of one replayed step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepVerdict {
    pub start: String,
    pub end: String,
    /// `tripped`, `passed`, `inconclusive` or `sample ratio mismatch`.
    pub verdict: String,
    /// The trip or inconclusive reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Log time of the trip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub requests: Vec<(String, u64)>,
    pub guards: Vec<GuardValue>,
    /// What the controller decided (real-rollout timeline only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real: Option<String>,
}

/// One log record, as much as the guards need, in time order.
enum Item {
    Prediction {
        arm: String,
        ok: bool,
        latency_us: u64,
        scores: Vec<f64>,
        request_id: String,
    },
    Outcome {
        request_id: String,
        metric: String,
        value: f64,
    },
}

fn ts(t: &DateTime<Utc>) -> String {
    crate::wire::log::timestamp(t)
}

/// The records of `replay.model` between the first span's start and the last one's end.
fn load(data_dir: &Path, replay: &Replay, spans: &[Span]) -> Result<Vec<(DateTime<Utc>, Item)>> {
    let (Some(from), Some(to)) = (spans.first().map(|s| s.start), spans.last().map(|s| s.end)) else {
        return Ok(Vec::new());
    };
    let need_scores = spans.iter().any(|s| s.state.spec.needs_scores());
    let need_outcomes = spans.iter().any(|s| s.state.spec.needs_outcomes());
    let mut items = Vec::new();
    for f in log_files(data_dir, LogKind::Predictions)? {
        each_prediction(&f, |p| {
            // A request counts when it finished, as the controller counted it (the record's
            // time is its start): one still in flight at a decision is not in that decision.
            let Some(t) = p
                .time()
                .map(|t| t + chrono::Duration::microseconds(p.latency_us as i64))
            else {
                return Ok(());
            };
            if p.model != replay.model.as_str() || !p.routed() || t < from || t > to {
                return Ok(());
            }
            let arm = if let Some(source) = &replay.aa {
                if p.version != source.as_str() {
                    return Ok(());
                }
                if p.bucket < AA_SPLIT_BUCKET {
                    AA_CONTROL
                } else {
                    AA_TREATMENT
                }
                .to_string()
            } else {
                p.version.to_string()
            };
            let scores = if need_scores {
                let tensors: Vec<_> = p
                    .outputs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(crate::wire::v2::tensor_from_json)
                    .collect();
                scores(&tensors)
            } else {
                Vec::new()
            };
            let request_id = if need_outcomes {
                p.request_id.to_string()
            } else {
                String::new()
            };
            items.push((
                t,
                Item::Prediction {
                    arm,
                    ok: p.status == 200,
                    latency_us: p.latency_us,
                    scores,
                    request_id,
                },
            ));
            Ok(())
        })?;
    }
    if need_outcomes && let Ok(files) = log_files(data_dir, LogKind::Outcomes) {
        for f in files {
            each_outcome(&f, |o| {
                if let (Some(t), Some(rid)) = (o.time(), o.request_id)
                    && t >= from
                    && t <= to
                {
                    let item = Item::Outcome {
                        request_id: rid,
                        metric: o.metric,
                        value: o.value,
                    };
                    items.push((t, item));
                }
                Ok(())
            })?;
        }
    }
    // Stable sort: records of the same microsecond keep their log order.
    items.sort_by_key(|(t, _)| *t);
    Ok(items)
}

/// Replay `spans` over the logs under `data_dir`: per span a fresh window, an evaluation
/// every `tick` of log time (the first trip ends the span, as it would a rollout step),
/// and a final evaluation at the span's end with the step-end rules.
pub fn backtest(data_dir: &Path, replay: &Replay, spans: &[Span]) -> Result<Vec<StepVerdict>> {
    let items = load(data_dir, replay, spans)?;
    let model = replay.model.as_str();
    let tick = chrono::Duration::from_std(replay.tick).map_err(|_| Error::Usage("--tick is too long".into()))?;
    let mut out = Vec::with_capacity(spans.len());
    let mut i = items.partition_point(|(t, _)| *t < spans.first().map_or(Utc::now(), |s| s.start));
    for (n, span) in spans.iter().enumerate() {
        let stats = RolloutStats::default();
        let step_id = n as u64 + 1;
        let track_outcomes = span.state.spec.needs_outcomes();
        let mut next_tick = span.start + tick;
        let mut verdict: Option<(Evaluation, DateTime<Utc>)> = None;
        while i < items.len() && items[i].0 < span.start {
            i += 1;
        }
        while i < items.len() && items[i].0 <= span.end {
            let (t, item) = &items[i];
            while *t >= next_tick && verdict.is_none() {
                let ev = evaluate(&span.state, &stats.snapshot(model, step_id), false);
                if ev.trip.is_some() || (replay.check_split && ev.sample_ratio_mismatch.is_some()) {
                    verdict = Some((ev, next_tick));
                }
                next_tick += tick;
            }
            if verdict.is_some() {
                break;
            }
            match item {
                Item::Prediction {
                    arm,
                    ok,
                    latency_us,
                    scores,
                    request_id,
                } => {
                    let rid = track_outcomes.then_some(request_id.as_str());
                    stats.record(model, step_id, arm, *ok, *latency_us, scores, rid);
                }
                Item::Outcome {
                    request_id,
                    metric,
                    value,
                } => {
                    stats.record_outcome(request_id, metric, *value);
                }
            }
            i += 1;
        }
        let (mut ev, at) = match verdict {
            Some((ev, at)) => (ev, Some(at)),
            None => (evaluate(&span.state, &stats.snapshot(model, step_id), true), None),
        };
        if !replay.check_split {
            ev.sample_ratio_mismatch = None;
        }
        let (word, reason) = if let Some(why) = &ev.sample_ratio_mismatch {
            ("sample ratio mismatch", Some(why.clone()))
        } else if let Some(trip) = &ev.trip {
            ("tripped", Some(format!("guard tripped: {trip}")))
        } else if let Some(why) = &ev.inconclusive {
            ("inconclusive", Some(why.clone()))
        } else {
            ("passed", None)
        };
        out.push(StepVerdict {
            start: ts(&span.start),
            end: ts(&span.end),
            verdict: word.into(),
            reason,
            at: at.as_ref().map(ts),
            requests: ev.requests,
            guards: ev.values,
            real: span.real.clone(),
        });
    }
    Ok(out)
}

/// Fixed-length spans of `step` from `from` to `to`, all judged with `state`.
pub fn fixed_spans(state: &RolloutState, from: DateTime<Utc>, to: DateTime<Utc>, step: Duration) -> Result<Vec<Span>> {
    let step = chrono::Duration::from_std(step)
        .ok()
        .filter(|d| *d > chrono::Duration::zero())
        .ok_or_else(|| Error::Usage("--step must be a positive duration".into()))?;
    let mut spans = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + step).min(to);
        spans.push(Span {
            start,
            end,
            state: state.clone(),
            real: None,
        });
        start = end;
    }
    Ok(spans)
}

/// A real rollout's steps from the model's audit events (oldest first): from its last
/// `rollout_start` to each controller or operator decision that ended a step. Extensions
/// do not end a step (its window carries on).
pub fn rollout_spans(events: &[crate::store::EventRecord]) -> Result<Vec<Span>> {
    let start_at = events
        .iter()
        .rposition(|e| e.kind == "rollout_start")
        .ok_or_else(|| Error::Usage("no rollout in this model's history (--last-rollout)".into()))?;
    let start = &events[start_at];
    let spec: super::strategy::RolloutSpec = serde_json::from_value(start.detail["spec"].clone())
        .map_err(|e| Error::State(format!("history event {}: unreadable rollout spec: {e}", start.id)))?;
    let stable = start.detail["stable"].as_str().unwrap_or_default().to_string();
    let time = |e: &crate::store::EventRecord| {
        crate::wire::log::parse_ts(&e.ts)
            .ok_or_else(|| Error::State(format!("history event {}: unreadable time {:?}", e.id, e.ts)))
    };
    let mut state = RolloutState::begin(spec, stable, start.ts.clone(), 1);
    let mut spans = Vec::new();
    let mut from = time(start)?;
    for e in &events[start_at + 1..] {
        let ends = matches!(e.kind.as_str(), "step" | "promote" | "rollback" | "pause");
        if !ends {
            continue;
        }
        let end = time(e)?;
        let reason = e.detail["reason"].as_str().map(str::to_string);
        let real = match (e.kind.as_str(), reason) {
            ("step" | "promote", _) => "passed".to_string(),
            (k, Some(r)) => format!("{k}: {r}"),
            (k, None) => k.to_string(),
        };
        spans.push(Span {
            start: from,
            end,
            state: state.clone(),
            real: Some(real),
        });
        if e.kind != "step" {
            break;
        }
        state.step += 1;
        from = end;
    }
    if spans.is_empty() {
        // Still running: its current step up to now.
        spans.push(Span {
            start: from,
            end: Utc::now(),
            state,
            real: None,
        });
    }
    Ok(spans)
}

/// The A/A summary: steps replayed, steps with a false trip, the estimated false-trip rate.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct AaSummary {
    pub steps: usize,
    pub tripped: usize,
    pub rate: f64,
}

pub fn aa_summary(steps: &[StepVerdict]) -> AaSummary {
    let judged: Vec<_> = steps
        .iter()
        .filter(|s| s.requests.iter().any(|(_, n)| *n > 0))
        .collect();
    let tripped = judged.iter().filter(|s| s.verdict == "tripped").count();
    AaSummary {
        steps: judged.len(),
        tripped,
        rate: if judged.is_empty() {
            0.0
        } else {
            tripped as f64 / judged.len() as f64
        },
    }
}

/// What the logs hold of one model, for the backtest's defaults.
#[derive(Debug, Default)]
pub struct Survey {
    /// Bucket-routed requests per version.
    pub versions: HashMap<String, u64>,
    /// First and last logged prediction of the model.
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

/// One pass over the prediction logs of `model`.
pub fn survey(data_dir: &Path, model: &str) -> Result<Survey> {
    let mut s = Survey::default();
    for f in log_files(data_dir, LogKind::Predictions)? {
        each_prediction(&f, |p| {
            if p.model != model {
                return Ok(());
            }
            if p.routed() {
                *s.versions.entry(p.version.to_string()).or_insert(0) += 1;
            }
            if let Some(t) = p.time() {
                s.first = Some(s.first.map_or(t, |f| f.min(t)));
                s.last = Some(s.last.map_or(t, |l| l.max(t)));
            }
            Ok(())
        })?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventRecord;
    use serde_json::json;

    fn event(id: i64, ts: &str, kind: &str, detail: serde_json::Value) -> EventRecord {
        EventRecord {
            id,
            ts: ts.into(),
            model: "m".into(),
            actor: "controller".into(),
            kind: kind.into(),
            from_state: None,
            to_state: None,
            detail,
        }
    }

    #[test]
    fn a_rollouts_steps_come_from_its_decisions_and_extensions_do_not_end_one() {
        let spec = json!({"strategy": "canary", "candidate": "2", "steps": [10.0, 50.0, 100.0], "interval_ms": 1000,
                          "guards": [{"kind": "error_rate", "max": 0.01}]});
        let events = vec![
            event(
                1,
                "2026-11-28T00:00:00Z",
                "rollout_start",
                json!({"spec": {"strategy": "single", "candidate": "1"}, "stable": "0"}),
            ),
            event(2, "2026-11-28T00:00:30Z", "promote", json!({})),
            event(
                3,
                "2026-11-28T01:00:00Z",
                "rollout_start",
                json!({"spec": spec, "stable": "1"}),
            ),
            event(4, "2026-11-28T01:00:01Z", "extend", json!({"reason": "inconclusive"})),
            event(5, "2026-11-28T01:00:02Z", "step", json!({})),
            event(
                6,
                "2026-11-28T01:00:03.5Z",
                "rollback",
                json!({"reason": "guard tripped: error_rate<0.01 on 2"}),
            ),
        ];
        let spans = rollout_spans(&events).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(ts(&spans[0].start), "2026-11-28T01:00:00.000000Z");
        assert_eq!(
            ts(&spans[0].end),
            "2026-11-28T01:00:02.000000Z",
            "the extension did not end the step"
        );
        assert_eq!(spans[0].real.as_deref(), Some("passed"));
        assert_eq!((spans[0].state.step, spans[1].state.step), (0, 1));
        assert_eq!(spans[1].state.weights()[0].percent, 50.0);
        assert_eq!(
            spans[1].real.as_deref(),
            Some("rollback: guard tripped: error_rate<0.01 on 2")
        );
        assert!(rollout_spans(&events[1..2]).is_err_and(|e| e.to_string().contains("no rollout")));
        // Still running: one open span up to now.
        let open = rollout_spans(&events[2..4]).unwrap();
        assert_eq!((open.len(), open[0].real.is_none()), (1, true));
    }
}
