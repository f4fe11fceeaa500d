//! Per-step statistics of each arm of a rollout, fed by the data plane, the shadow
//! worker and `/v1/outcomes`, read by the guards. A window belongs to one `step_id`; a
//! record for a newer step starts a fresh window, so each step is judged on its own data.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Scores kept per arm for PSI: the first ones of the step, in arrival order. The drift
/// guard's bounds are anytime-valid on a growing prefix, so its evidence simply stops
/// growing here (a reservoir sample would replace old scores and break that).
pub const SCORES_KEPT: usize = 4096;
/// Requests remembered for joining outcomes (oldest forgotten first).
const INDEX_CAP: usize = 500_000;
/// Disagreeing shadow examples kept (largest differences).
const TOP_DISAGREEMENTS: usize = 10;

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s at 3 significant digits; the bounds are constants, cannot fail.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!())
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Disagreement {
    pub request_id: String,
    pub delta: f64,
}

#[derive(Debug, Clone)]
pub struct ArmWindow {
    pub requests: u64,
    /// Of `requests`, routed by a `--match` rule.
    pub matched: u64,
    pub errors: u64,
    pub latency_us: Histogram<u64>,
    pub scores: Vec<f64>,
    /// metric → (Σ per-request total, Σ per-request total²)
    pub outcomes: HashMap<String, (f64, f64)>,
    // Shadow side (when this arm is mirrored to).
    pub compared: u64,
    pub agreed: u64,
    pub disagreements: Vec<Disagreement>,
}

impl Default for ArmWindow {
    fn default() -> Self {
        ArmWindow {
            requests: 0,
            matched: 0,
            errors: 0,
            latency_us: histogram(),
            scores: Vec::new(),
            outcomes: HashMap::new(),
            compared: 0,
            agreed: 0,
            disagreements: Vec::new(),
        }
    }
}

impl ArmWindow {
    fn push_scores(&mut self, scores: &[f64]) {
        let room = SCORES_KEPT.saturating_sub(self.scores.len());
        self.scores.extend(scores.iter().take(room));
    }

    /// One answered request: its status, latency and scores.
    fn count(&mut self, ok: bool, latency_us: u64, scores: &[f64]) {
        self.requests += 1;
        if !ok {
            self.errors += 1;
        }
        let _ = self.latency_us.record(latency_us.max(1));
        self.push_scores(scores);
    }

    pub fn p99_ms(&self) -> Option<f64> {
        (!self.latency_us.is_empty()).then(|| self.latency_us.value_at_quantile(0.99) as f64 / 1000.0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ModelWindow {
    pub step_id: u64,
    pub arms: HashMap<String, ArmWindow>,
    pub shadow_dropped: u64,
    /// Readings of the step's `prom:` guards by expression (filled by the controller).
    pub prom: HashMap<String, super::prom::Reading>,
}

struct IndexEntry {
    model: String,
    version: String,
    step_id: u64,
    totals: Vec<(String, f64)>,
}

#[derive(Default)]
struct RequestIndex {
    map: HashMap<String, IndexEntry>,
    order: VecDeque<String>,
}

impl RequestIndex {
    /// Remember `id` (a repeated id replaces its entry and keeps its place), forgetting the
    /// oldest ids beyond `cap`: memory is O(cap) whatever clients send.
    fn insert(&mut self, id: &str, entry: IndexEntry, cap: usize) {
        if let Some(e) = self.map.get_mut(id) {
            *e = entry;
            return;
        }
        while self.map.len() >= cap.max(1) {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(id.to_string());
        self.map.insert(id.to_string(), entry);
    }
}

/// The window of `version`, created on first use (no allocation on the hot path after).
fn arm<'a>(w: &'a mut ModelWindow, version: &str) -> &'a mut ArmWindow {
    if !w.arms.contains_key(version) {
        w.arms.insert(version.to_string(), ArmWindow::default());
    }
    w.arms
        .get_mut(version)
        .unwrap_or_else(|| unreachable!("inserted just above"))
}

#[derive(Default)]
pub struct RolloutStats {
    models: Mutex<HashMap<String, ModelWindow>>,
    index: Mutex<RequestIndex>,
}

impl RolloutStats {
    fn with_window<T>(&self, model: &str, step_id: u64, f: impl FnOnce(&mut ModelWindow) -> T) -> T {
        let mut models = self.models.lock().unwrap_or_else(|p| p.into_inner());
        if !models.contains_key(model) {
            models.insert(model.to_string(), ModelWindow::default());
        }
        let Some(w) = models.get_mut(model) else {
            unreachable!("inserted just above")
        };
        if w.step_id != step_id {
            *w = ModelWindow {
                step_id,
                ..Default::default()
            };
        }
        f(w)
    }

    /// A live request answered by `version`; `request_id` is remembered for outcome
    /// joins only when given.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        model: &str,
        step_id: u64,
        version: &str,
        ok: bool,
        latency_us: u64,
        scores: &[f64],
        request_id: Option<&str>,
    ) {
        self.with_window(model, step_id, |w| arm(w, version).count(ok, latency_us, scores));
        // Request ids are only remembered when an outcome guard needs to join them.
        let Some(request_id) = request_id else { return };
        let entry = IndexEntry {
            model: model.into(),
            version: version.into(),
            step_id,
            totals: Vec::new(),
        };
        self.index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request_id, entry, INDEX_CAP);
    }

    /// A mirrored request answered by the shadow `version`; `agreed` is None when the
    /// outputs could not be compared (the shadow failed).
    #[allow(clippy::too_many_arguments)]
    pub fn record_shadow(
        &self,
        model: &str,
        step_id: u64,
        version: &str,
        ok: bool,
        latency_us: u64,
        agreed: Option<bool>,
        delta: f64,
        request_id: &str,
        scores: &[f64],
    ) {
        self.with_window(model, step_id, |w| {
            let a = arm(w, version);
            a.count(ok, latency_us, scores);
            if let Some(agreed) = agreed {
                a.compared += 1;
                if agreed {
                    a.agreed += 1;
                } else {
                    a.disagreements.push(Disagreement {
                        request_id: request_id.to_string(),
                        delta,
                    });
                    a.disagreements.sort_by(|x, y| y.delta.total_cmp(&x.delta));
                    a.disagreements.truncate(TOP_DISAGREEMENTS);
                }
            }
        });
    }

    /// A request counted by `record` that a `--match` rule routed (not its bucket): the
    /// sample-ratio check leaves it out.
    pub fn record_matched(&self, model: &str, step_id: u64, version: &str) {
        self.with_window(model, step_id, |w| arm(w, version).matched += 1);
    }

    pub fn record_dropped(&self, model: &str, step_id: u64) {
        self.with_window(model, step_id, |w| w.shadow_dropped += 1);
    }

    /// An outcome for a request answered during a rollout step; false when the request is
    /// not one this gateway answered (another replica may have).
    pub fn record_outcome(&self, request_id: &str, metric: &str, value: f64) -> bool {
        let (model, version, step_id, before, after) = {
            let mut idx = self.index.lock().unwrap_or_else(|p| p.into_inner());
            let Some(e) = idx.map.get_mut(request_id) else {
                return false;
            };
            let slot = match e.totals.iter().position(|(m, _)| m == metric) {
                Some(i) => i,
                None => {
                    e.totals.push((metric.to_string(), 0.0));
                    e.totals.len() - 1
                }
            };
            let before = e.totals[slot].1;
            e.totals[slot].1 += value;
            (e.model.clone(), e.version.clone(), e.step_id, before, before + value)
        };
        let mut models = self.models.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = models.get_mut(&model)
            && w.step_id == step_id
        {
            let o = w
                .arms
                .entry(version)
                .or_default()
                .outcomes
                .entry(metric.to_string())
                .or_insert((0.0, 0.0));
            o.0 += value;
            o.1 += after * after - before * before;
        }
        true
    }

    /// A copy of the current window (or an empty one when `step_id` has no data yet).
    pub fn snapshot(&self, model: &str, step_id: u64) -> ModelWindow {
        let models = self.models.lock().unwrap_or_else(|p| p.into_inner());
        match models.get(model) {
            Some(w) if w.step_id == step_id => w.clone(),
            _ => ModelWindow {
                step_id,
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> IndexEntry {
        IndexEntry {
            model: "m".into(),
            version: "1".into(),
            step_id: 1,
            totals: Vec::new(),
        }
    }

    #[test]
    fn the_request_index_stays_within_its_cap_whatever_ids_arrive() {
        let mut idx = RequestIndex::default();
        for round in 0..50 {
            for i in 0..20 {
                // repeated ids (the same 20 every round) and fresh ones
                idx.insert(&format!("same-{i}"), entry(), 100);
                idx.insert(&format!("fresh-{round}-{i}"), entry(), 100);
            }
            assert!(idx.map.len() <= 100 && idx.order.len() == idx.map.len());
        }
        assert!(idx.map.contains_key("fresh-49-19"), "the newest are kept");
    }
}
