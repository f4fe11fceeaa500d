//! What a notification says: the JSON message of a rollout transition or a drift alert,
//! its Alertmanager form, and the targets an event names.

use serde_json::{Value, json};

use crate::store::EventRecord;

/// Drift monitor alerts: delivered to `serve --notify` targets and the monitor's own.
pub(super) const MONITOR_KINDS: &[&str] = &["monitor_alert", "monitor_resolve"];

/// A message's JSON, from its event and the rollout it belongs to.
pub fn message(e: &EventRecord, start: Option<&EventRecord>) -> Value {
    let spec = start.map(|s| &s.detail["spec"]);
    let stable = start.and_then(|s| s.detail["stable"].as_str());
    let candidate = spec.and_then(|s| s["candidate"].as_str());
    let reason = e.detail["reason"].as_str();
    let weights = e
        .detail
        .get("weights")
        .or_else(|| e.detail.get("evidence").and_then(|v| v.get("weights")));
    let what = match e.kind.as_str() {
        "rollout_start" => "rollout started".to_string(),
        "step" => format!("stepped to {}", e.to_state.as_deref().unwrap_or("the next step")),
        "extend" => "step extended (guards still deciding)".into(),
        "pause" => "paused".into(),
        "resume" => "resumed".into(),
        "promote" => "promoted".into(),
        "rollback" => "rolled back".into(),
        "dry_run_trip" => "dry run: a guard would have acted".into(),
        "route" => "route changed".into(),
        "gate_hold" => "held at a gate".into(),
        "approve" => "promotion approved".into(),
        "monitor_alert" => "drift alert".into(),
        "monitor_resolve" => "drift resolved".into(),
        k => k.to_string(),
    };
    let versions = match (candidate, stable) {
        (Some(c), Some(s)) => format!(" (candidate {c}, stable {s})"),
        _ => String::new(),
    };
    let text = format!(
        "mlctl: {}: {what}{versions} by {}{}",
        e.model,
        e.actor,
        reason.map(|r| format!(": {r}")).unwrap_or_default()
    );
    json!({
        "id": e.id,
        "ts": e.ts,
        "model": e.model,
        "kind": e.kind,
        "actor": e.actor,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "stable": stable,
        "candidate": candidate,
        "strategy": spec.map(|s| s["strategy"].clone()),
        "weights": weights,
        "reason": reason,
        "guard_tripped": reason.is_some_and(|r| r.starts_with("guard tripped")),
        "evidence": e.detail.get("evidence"),
        "text": text,
    })
}

/// Targets named in an event's own detail (a monitor's `notify`).
pub(super) fn detail_targets(e: &EventRecord) -> Vec<String> {
    e.detail["notify"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Alertmanager's `POST /api/v2/alerts` body: one alert, its identity in the labels
/// (`alertname`, model, and the monitor and version for drift), resolved by `endsAt`.
pub(super) fn alertmanager_body(e: &EventRecord, msg: &Value) -> Value {
    let monitor = MONITOR_KINDS.contains(&e.kind.as_str());
    let mut labels = json!({
        "alertname": if monitor { "MlctlDrift" } else { "MlctlRollout" },
        "model": e.model,
        "severity": if monitor || e.kind == "rollback" { "warning" } else { "info" },
    });
    if monitor {
        labels["monitor"] = json!(e.detail["monitor_id"].to_string());
        labels["version"] = e.detail["version"].clone();
    } else {
        labels["kind"] = json!(e.kind);
    }
    let mut alert = json!({
        "labels": labels,
        "annotations": {"summary": msg["text"], "reason": msg["reason"]},
        "startsAt": e.ts,
    });
    if e.kind == "monitor_resolve" || !monitor {
        alert["endsAt"] = json!(e.ts);
    }
    json!([alert])
}

/// The targets a rollout start names (`deploy --notify`).
pub(super) fn rollout_targets(start: &EventRecord) -> Vec<String> {
    start.detail["spec"]["notify"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}
