//! Drift monitors inside the gateway: every answer of a monitored model feeds its
//! outputs (and, for the `--log-inputs` sample, its inputs) into the window in progress
//! of each of the model's monitors, per version (`drift::monitor::Window`, bounded memory);
//! a ticker closes windows as they end, judges them, stores the results and the alert
//! transitions (events the webhook notifier delivers) in one transaction, and updates the
//! drift gauges. A model without monitors costs one map lookup per request.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::metrics::{DriftLabels, DriftRowsLabels};
use super::state::AppState;
use crate::drift::monitor::{AlertState, Cell, MonitorSpec, Transition, Window, WindowResult, evaluate};
use crate::error::Result;
use crate::store::monitors::{MonitorRecord, WindowRecord};
use crate::wire::v2::{Tensor, TensorData};

/// How often windows are checked for their end.
pub const TICK: Duration = Duration::from_millis(200);

/// Where a monitored column's value comes from: tensor `name`, element `j` of each row.
#[derive(Debug, Clone, PartialEq)]
struct Source {
    input: bool,
    tensor: String,
    j: Option<usize>,
}

/// `label` → output label; `probabilities[1]` → element 1 of output probabilities;
/// `input:x[3]` → element 3 of input x (the names `drift check --from-gateway` uses).
fn source_of(column: &str) -> Source {
    let (input, rest) = match column.strip_prefix("input:") {
        Some(r) => (true, r),
        None => (false, column),
    };
    let (tensor, j) = match rest.strip_suffix(']').and_then(|r| r.rsplit_once('[')) {
        Some((t, j)) if j.parse::<usize>().is_ok() => (t.to_string(), j.parse().ok()),
        _ => (rest.to_string(), None),
    };
    Source { input, tensor, j }
}

struct Progress {
    start: DateTime<Utc>,
    versions: HashMap<String, Window>,
    /// Per version (drift) and per `quality:<version>`.
    alerts: BTreeMap<String, AlertState>,
    /// Per version: the start of the last quality window judged.
    quality_judged: BTreeMap<String, String>,
}

/// A monitor's state kept in the state DB across restarts.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Persisted {
    #[serde(default)]
    alerts: BTreeMap<String, AlertState>,
    #[serde(default)]
    quality_judged: BTreeMap<String, String>,
}

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

pub struct LiveMonitor {
    pub id: i64,
    pub spec: MonitorSpec,
    /// `spec.monitored_indices()`, resolved once.
    watched: Vec<usize>,
    sources: Vec<Source>,
    progress: Mutex<Progress>,
}

impl LiveMonitor {
    pub fn new(rec: &MonitorRecord, spec: MonitorSpec) -> LiveMonitor {
        let sources = spec.monitored().iter().map(|c| source_of(&c.name)).collect();
        // The state as stored (older rows: the alert map alone).
        let persisted: Persisted = serde_json::from_value(rec.state.clone())
            .ok()
            .filter(|p: &Persisted| !p.alerts.is_empty() || !p.quality_judged.is_empty())
            .or_else(|| {
                serde_json::from_value(rec.state.clone()).ok().map(|alerts| Persisted {
                    alerts,
                    quality_judged: BTreeMap::new(),
                })
            })
            .unwrap_or_default();
        LiveMonitor {
            id: rec.id,
            watched: spec.monitored_indices(),
            spec,
            sources,
            progress: Mutex::new(Progress {
                start: Utc::now(),
                versions: HashMap::new(),
                alerts: persisted.alerts,
                quality_judged: persisted.quality_judged,
            }),
        }
    }

    fn wants_inputs(&self) -> bool {
        self.sources.iter().any(|s| s.input)
    }

    /// Fold one answer into the window in progress.
    fn observe(&self, version: &str, outputs: &[Tensor], inputs: Option<&[Tensor]>) {
        let find = |s: &Source| -> Option<&Tensor> {
            let pool = if s.input { inputs? } else { outputs };
            pool.iter().find(|t| t.name == s.tensor)
        };
        let tensors: Vec<Option<&Tensor>> = self.sources.iter().map(find).collect();
        let rows = outputs
            .first()
            .and_then(|t| t.shape.first().copied())
            .unwrap_or(1)
            .max(1);
        let mut text: Vec<String> = Vec::new();
        let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        if !p.versions.contains_key(version) {
            p.versions.insert(version.to_string(), Window::new(&self.spec));
        }
        let Some(w) = p.versions.get_mut(version) else { return };
        for r in 0..rows {
            text.clear();
            let mut cells: Vec<Option<Cell<'_>>> = Vec::with_capacity(self.sources.len());
            // Bytes cells are decoded first so the cells can borrow them.
            for (s, t) in self.sources.iter().zip(&tensors) {
                if let Some(TensorData::Bytes(b)) = t.map(|t| &t.data) {
                    let per_row = b.len() / rows.max(1);
                    let i = r * per_row.max(1) + s.j.unwrap_or(0);
                    text.push(
                        b.get(i)
                            .map(|x| String::from_utf8_lossy(x).into_owned())
                            .unwrap_or_default(),
                    );
                }
            }
            let mut ti = 0;
            for (s, t) in self.sources.iter().zip(&tensors) {
                let cell = match t {
                    None => None,
                    Some(t) if matches!(t.data, TensorData::Bytes(_)) => {
                        ti += 1;
                        Some(Cell::Text(text[ti - 1].as_str()))
                    }
                    Some(t) => {
                        let per_row = t.data.len() / rows;
                        t.data.get_f64(r * per_row + s.j.unwrap_or(0)).map(Cell::Num)
                    }
                };
                cells.push(cell);
            }
            w.push(&self.spec, &self.watched, &cells);
        }
    }
}

/// The monitors of every model (swapped whole on add/remove).
#[derive(Default)]
pub struct Monitors {
    by_model: ArcSwap<HashMap<String, Vec<Arc<LiveMonitor>>>>,
}

impl Monitors {
    pub fn all(&self) -> Vec<Arc<LiveMonitor>> {
        let mut v: Vec<_> = self.by_model.load().values().flatten().cloned().collect();
        v.sort_by_key(|m| m.id);
        v
    }

    /// Replace the set (on start, add, remove), keeping windows in progress of monitors
    /// that stay.
    pub fn install(&self, monitors: Vec<Arc<LiveMonitor>>) {
        let mut map: HashMap<String, Vec<Arc<LiveMonitor>>> = HashMap::new();
        for m in monitors {
            map.entry(m.spec.model.clone()).or_default().push(m);
        }
        self.by_model.store(Arc::new(map));
    }

    /// Whether `model` has a monitor reading inputs (so the request's inputs are kept).
    pub fn wants_inputs(&self, model: &str) -> bool {
        self.by_model
            .load()
            .get(model)
            .is_some_and(|ms| ms.iter().any(|m| m.wants_inputs()))
    }

    pub fn watches(&self, model: &str) -> bool {
        self.by_model.load().contains_key(model)
    }

    /// Feed one successful answer of `model` `version`.
    pub fn observe(&self, model: &str, version: &str, outputs: &[Tensor], inputs: Option<&[Tensor]>) {
        if let Some(ms) = self.by_model.load().get(model) {
            for m in ms {
                m.observe(version, outputs, inputs);
            }
        }
    }
}

/// Load the stored monitors (on start): windows restart now, alert states continue.
pub fn restore(records: &[MonitorRecord]) -> Vec<Arc<LiveMonitor>> {
    records
        .iter()
        .filter_map(|r| match serde_json::from_value::<MonitorSpec>(r.spec.clone()) {
            Ok(spec) => Some(Arc::new(LiveMonitor::new(r, spec))),
            Err(e) => {
                tracing::warn!("monitor {}: stored spec unreadable ({e}); skipped", r.id);
                None
            }
        })
        .collect()
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
        let now = Utc::now();
        for m in st.monitors.all() {
            if let Err(e) = close_windows(&st, &m, now).await {
                tracing::warn!("monitor {}: {e}", m.id);
            }
        }
    }
}

/// Approximate bytes held by a monitor's window in progress.
pub fn window_bytes(m: &LiveMonitor) -> usize {
    let p = m.progress.lock().unwrap_or_else(PoisonError::into_inner);
    p.versions.values().map(Window::bytes).sum()
}

/// Rows in the window in progress, per version.
pub fn window_rows(m: &LiveMonitor) -> BTreeMap<String, u64> {
    let p = m.progress.lock().unwrap_or_else(PoisonError::into_inner);
    p.versions.iter().map(|(v, w)| (v.clone(), w.rows)).collect()
}

/// Alert state per version.
pub fn alert_states(m: &LiveMonitor) -> BTreeMap<String, AlertState> {
    m.progress.lock().unwrap_or_else(PoisonError::into_inner).alerts.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_map_to_tensor_elements() {
        assert_eq!(
            source_of("probabilities[1]"),
            Source {
                input: false,
                tensor: "probabilities".into(),
                j: Some(1)
            }
        );
        assert_eq!(
            source_of("label"),
            Source {
                input: false,
                tensor: "label".into(),
                j: None
            }
        );
        assert_eq!(
            source_of("input:input[3]"),
            Source {
                input: true,
                tensor: "input".into(),
                j: Some(3)
            }
        );
    }
}
