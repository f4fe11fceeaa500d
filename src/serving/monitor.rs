//! Drift monitors inside the gateway, the registry side: every answer of a monitored
//! model feeds its outputs (and, for the `--log-inputs` sample, its inputs) into the window
//! in progress of each of the model's monitors, per version (`drift::monitor::Window`,
//! bounded memory). A model without monitors costs one map lookup per request. Closing
//! windows (judging, storing, alerting) is `monitor_tick`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::drift::monitor::{AlertState, Cell, MonitorSpec, Window};
use crate::store::monitors::MonitorRecord;
use crate::wire::v2::{Tensor, TensorData};

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

pub(super) struct Progress {
    pub(super) start: DateTime<Utc>,
    pub(super) versions: HashMap<String, Window>,
    /// Per version (drift) and per `quality:<version>`.
    pub(super) alerts: BTreeMap<String, AlertState>,
    /// Per version: the start of the last quality window judged.
    pub(super) quality_judged: BTreeMap<String, String>,
}

/// A monitor's state kept in the state DB across restarts.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Persisted {
    #[serde(default)]
    pub(super) alerts: BTreeMap<String, AlertState>,
    #[serde(default)]
    pub(super) quality_judged: BTreeMap<String, String>,
}

pub struct LiveMonitor {
    pub id: i64,
    pub spec: MonitorSpec,
    /// `spec.monitored_indices()`, resolved once.
    watched: Vec<usize>,
    sources: Vec<Source>,
    pub(super) progress: Mutex<Progress>,
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
