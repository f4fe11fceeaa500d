//! Drift monitors inside the gateway, the ticking side: a ticker closes windows as they
//! end, judges them off the async workers, stores the results and the alert transitions
//! (events the webhook notifier delivers) in one transaction, and updates the drift gauges;
//! quality requirements are judged on late labels at the same moments.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::metrics::{DriftLabels, DriftRowsLabels};
use super::monitor::{LiveMonitor, Persisted};
use super::state::AppState;
use crate::drift::monitor::{Transition, WindowResult, evaluate};
use crate::error::Result;
use crate::store::monitors::WindowRecord;

/// How often windows are checked for their end.
pub const TICK: Duration = Duration::from_millis(200);

/// Judge the quality windows that ended and hold enough labelled predictions since the
/// last look, each once; the alert transitions they cause.
async fn judge_quality(st: &AppState, m: &Arc<LiveMonitor>, now: DateTime<Utc>) -> Vec<(String, serde_json::Value)> {
    let window = Duration::from_millis(m.spec.quality_window_ms.unwrap_or(m.spec.window_ms).max(1));
    let (dir, model, metric) = (
        st.config.data_dir.clone(),
        m.spec.model.clone(),
        m.spec.quality_metric.clone().unwrap_or_default(),
    );
    let report = tokio::task::spawn_blocking(move || {
        crate::drift::quality::quality(
            &dir,
            &crate::drift::quality::QualityOptions {
                model: &model,
                metric: &metric,
                version: None,
                since: Some(window * 30),
                window,
            },
        )
    })
    .await;
    let report = match report {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!("monitor {}: quality: {e}", m.id);
            return Vec::new();
        }
        Err(_) => return Vec::new(),
    };
    let reqs: Vec<_> = m
        .spec
        .quality
        .iter()
        .filter_map(|q| crate::drift::quality::requirement(q).ok())
        .collect();
    let window_us = window.as_micros() as i64;
    let mut out = Vec::new();
    let mut p = m.progress.lock().unwrap_or_else(PoisonError::into_inner);
    for w in &report.windows {
        let Some(start) = crate::wire::log::parse_ts(&w.start) else {
            continue;
        };
        let ended = start.timestamp_micros() + window_us <= now.timestamp_micros();
        let judged = p.quality_judged.get(&w.version).is_some_and(|j| *j >= w.start);
        if !ended || judged || w.pairs < m.spec.quality_min_pairs {
            continue;
        }
        p.quality_judged.insert(w.version.clone(), w.start.clone());
        let unmet: Vec<String> = reqs.iter().filter_map(|r| r.unmet(w)).collect();
        let alert = p.alerts.entry(format!("quality:{}", w.version)).or_default();
        if let Some(t) = alert.observe(!unmet.is_empty(), m.spec.consecutive) {
            let fire = t == Transition::Fire;
            let reason = if fire {
                format!(
                    "quality: {} (version {}, monitor {})",
                    unmet.join("; "),
                    w.version,
                    m.id
                )
            } else {
                format!(
                    "quality back within {} for {} windows (version {}, monitor {})",
                    m.spec.quality.join(", "),
                    m.spec.consecutive,
                    w.version,
                    m.id
                )
            };
            out.push((
                if fire { "monitor_alert" } else { "monitor_resolve" }.to_string(),
                json!({
                    "monitor_id": m.id,
                    "version": w.version,
                    "state": if fire { "firing" } else { "resolved" },
                    "reason": reason,
                    "notify": m.spec.notify,
                    "quality": w,
                    "requirements": m.spec.quality,
                }),
            ));
        }
    }
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The alert event's detail: the evidence of the window that changed the state.
fn alert_detail(m: &LiveMonitor, r: &WindowResult, t: Transition) -> serde_json::Value {
    let drifted: Vec<String> = r
        .columns
        .iter()
        .filter(|c| c.drift)
        .map(|c| {
            let stat = match c.p_value {
                Some(p) => format!("{} p = {} < {}", c.method, crate::output::fmt_num(p), c.threshold),
                None => format!(
                    "{} {} > {}",
                    c.method,
                    c.statistic.map(crate::output::fmt_num).unwrap_or_default(),
                    c.threshold
                ),
            };
            format!("{} ({stat})", c.column)
        })
        .collect();
    let reason = match t {
        Transition::Fire => format!(
            "drift in {} for {} windows (version {}, monitor {})",
            drifted.join(", "),
            m.spec.consecutive,
            r.version,
            m.id
        ),
        Transition::Resolve => format!(
            "no drift for {} windows (version {}, monitor {})",
            m.spec.consecutive, r.version, m.id
        ),
    };
    json!({
        "monitor_id": m.id,
        "version": r.version,
        "state": if t == Transition::Fire { "firing" } else { "resolved" },
        "reason": reason,
        "notify": m.spec.notify,
        "consecutive": m.spec.consecutive,
        "window": {"start": r.start, "end": r.end, "rows": r.rows},
        "columns": r.columns,
        "baseline_rows": m.spec.baseline.rows,
    })
}

/// Close the windows that ended: judge, store (with alert transitions), update gauges.
async fn close_windows(st: &AppState, m: &Arc<LiveMonitor>, now: DateTime<Utc>) -> Result<()> {
    let length = chrono::Duration::milliseconds(m.spec.window_ms as i64);
    // Take the finished windows out under the lock (the data plane keeps feeding the next
    // one), judge them on the blocking pool (KS sorts up to 10 000 values a column: not work
    // for an async worker serving requests), then update the alert states.
    let (start, end, windows) = {
        let mut p = m.progress.lock().unwrap_or_else(PoisonError::into_inner);
        if now < p.start + length {
            return Ok(());
        }
        let (start, end) = (rfc3339(p.start), rfc3339(p.start + length));
        // The next window starts where this one ended (or now, after a long stall).
        p.start = if now - (p.start + length) > length {
            now
        } else {
            p.start + length
        };
        (start, end, std::mem::take(&mut p.versions))
    };
    let judged = m.clone();
    let results = tokio::task::spawn_blocking(move || {
        let mut versions: Vec<_> = windows.into_iter().filter(|(_, w)| w.rows > 0).collect();
        versions.sort_by(|a, b| a.0.cmp(&b.0));
        versions
            .into_iter()
            .map(|(version, w)| evaluate(&judged.spec, &w, &version, start.clone(), end.clone()))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| crate::error::Error::State(format!("monitor {}: judging a window failed: {e}", m.id)))?;
    let mut transitions = Vec::new();
    {
        let mut p = m.progress.lock().unwrap_or_else(PoisonError::into_inner);
        for r in &results {
            let alert = p.alerts.entry(r.version.clone()).or_default();
            if let Some(t) = alert.observe(r.drift, m.spec.consecutive) {
                let kind = if t == Transition::Fire {
                    "monitor_alert"
                } else {
                    "monitor_resolve"
                };
                transitions.push((kind.to_string(), alert_detail(m, r, t)));
            }
        }
    }
    if !m.spec.quality.is_empty() {
        transitions.extend(judge_quality(st, m, now).await);
    }
    let state = {
        let p = m.progress.lock().unwrap_or_else(PoisonError::into_inner);
        serde_json::to_value(Persisted {
            alerts: p.alerts.clone(),
            quality_judged: p.quality_judged.clone(),
        })
        .unwrap_or_default()
    };
    for r in &results {
        for c in &r.columns {
            let labels = DriftLabels {
                model: m.spec.model.clone(),
                version: r.version.clone(),
                column: c.column.clone(),
            };
            st.metrics.drift_detected.get_or_create(&labels).set(i64::from(c.drift));
            if let Some(s) = c.p_value.or(c.statistic) {
                st.metrics
                    .drift_statistic
                    .get_or_create(&super::metrics::DriftStatLabels {
                        model: m.spec.model.clone(),
                        version: r.version.clone(),
                        column: c.column.clone(),
                        method: c.method.clone(),
                    })
                    .set(s);
            }
        }
        st.metrics
            .monitor_window_rows
            .get_or_create(&DriftRowsLabels {
                model: m.spec.model.clone(),
                version: r.version.clone(),
                monitor: m.id.to_string(),
            })
            .set(r.rows as i64);
    }
    let records: Vec<WindowRecord> = results
        .iter()
        .map(|r| WindowRecord {
            monitor_id: m.id,
            version: r.version.clone(),
            start: r.start.clone(),
            end: r.end.clone(),
            rows: r.rows,
            drift: r.drift,
            result: serde_json::to_value(r).unwrap_or_default(),
        })
        .collect();
    let keep_after =
        (m.spec.retention_ms > 0).then(|| rfc3339(now - chrono::Duration::milliseconds(m.spec.retention_ms as i64)));
    let (id, alerting) = (m.id, !transitions.is_empty());
    st.with_store(move |s| s.finish_windows(id, &records, &state, &transitions, keep_after.as_deref()))
        .await?;
    if alerting {
        st.notifier.wake();
    }
    Ok(())
}

/// Close windows as they end, for as long as the gateway runs.
pub async fn ticker(st: Arc<AppState>) {
    loop {
        tokio::time::sleep(TICK).await;
        // Of replicas, the controller closes the windows (each window once, in one place).
        if st.replica.as_ref().is_some_and(|r| r.epoch().is_none()) {
            continue;
        }
        let now = Utc::now();
        for m in st.monitors.all() {
            if let Err(e) = close_windows(&st, &m, now).await {
                tracing::warn!("monitor {}: {e}", m.id);
            }
        }
    }
}
