//! Step statistics across replicas: each replica publishes its window of the current step
//! (`ModelWindow::to_json`) and the controller judges the sum of all of them. Everything
//! a guard reads is mergeable: counts add, latency histograms add (hdrhistogram's V2
//! encoding on the wire), outcome sums and sums of squares add, shadow comparisons add.
//! Scores (the drift guard's) are the concatenation of each replica's first ones, up to
//! `SCORES_KEPT`; disagreement examples keep the largest.

use std::collections::HashMap;

use hdrhistogram::serialization::Serializer as _;
use serde::{Deserialize, Serialize};

use super::stats::{ArmWindow, Disagreement, ModelWindow, SCORES_KEPT};

#[derive(Serialize, Deserialize)]
struct ArmWire {
    requests: u64,
    #[serde(default)]
    matched: u64,
    errors: u64,
    /// hdrhistogram V2, hex.
    latency: String,
    #[serde(default)]
    scores: Vec<f64>,
    #[serde(default)]
    outcomes: HashMap<String, (f64, f64)>,
    #[serde(default)]
    compared: u64,
    #[serde(default)]
    agreed: u64,
    #[serde(default)]
    disagreements: Vec<Disagreement>,
}

#[derive(Serialize, Deserialize)]
struct WindowWire {
    step_id: u64,
    arms: HashMap<String, ArmWire>,
    #[serde(default)]
    shadow_dropped: u64,
}

fn encode_histogram(h: &hdrhistogram::Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match hdrhistogram::serialization::V2Serializer::new().serialize(h, &mut buf) {
        Ok(_) => hex::encode(buf),
        Err(_) => String::new(),
    }
}

fn decode_histogram(s: &str) -> Result<hdrhistogram::Histogram<u64>, String> {
    let bytes = hex::decode(s).map_err(|e| format!("latency histogram: {e}"))?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("latency histogram: {e:?}"))
}

impl ModelWindow {
    /// The window as published to the other replicas.
    pub fn to_json(&self) -> String {
        let wire = WindowWire {
            step_id: self.step_id,
            arms: self
                .arms
                .iter()
                .map(|(v, a)| {
                    (
                        v.clone(),
                        ArmWire {
                            requests: a.requests,
                            matched: a.matched,
                            errors: a.errors,
                            latency: encode_histogram(&a.latency_us),
                            scores: a.scores.clone(),
                            outcomes: a.outcomes.clone(),
                            compared: a.compared,
                            agreed: a.agreed,
                            disagreements: a.disagreements.clone(),
                        },
                    )
                })
                .collect(),
            shadow_dropped: self.shadow_dropped,
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// A window another replica published.
    pub fn from_json(text: &str) -> Result<ModelWindow, String> {
        let wire: WindowWire = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut arms = HashMap::new();
        for (v, a) in wire.arms {
            arms.insert(
                v,
                ArmWindow {
                    requests: a.requests,
                    matched: a.matched,
                    errors: a.errors,
                    latency_us: decode_histogram(&a.latency)?,
                    scores: a.scores,
                    outcomes: a.outcomes,
                    compared: a.compared,
                    agreed: a.agreed,
                    disagreements: a.disagreements,
                },
            );
        }
        Ok(ModelWindow {
            step_id: wire.step_id,
            arms,
            shadow_dropped: wire.shadow_dropped,
            prom: HashMap::new(),
        })
    }

    /// The sum of the windows other replicas published for step `step_id` (`(replica,
    /// JSON)` rows); unreadable ones are skipped with a warning.
    pub fn merge_published(step_id: u64, rows: &[(String, String)]) -> ModelWindow {
        let mut merged = ModelWindow {
            step_id,
            ..Default::default()
        };
        for (replica, json) in rows {
            match ModelWindow::from_json(json) {
                Ok(w) if w.step_id == step_id => merged.merge(&w),
                Ok(_) => {}
                Err(e) => tracing::warn!("replica {replica}'s statistics of step {step_id}: {e}"),
            }
        }
        merged
    }

    /// Add `other` (the same step, another replica) into this window.
    pub fn merge(&mut self, other: &ModelWindow) {
        self.shadow_dropped += other.shadow_dropped;
        for (version, o) in &other.arms {
            let a = self.arms.entry(version.clone()).or_default();
            a.requests += o.requests;
            a.matched += o.matched;
            a.errors += o.errors;
            if a.latency_us.add(&o.latency_us).is_err() {
                tracing::warn!("step statistics: a latency histogram could not be merged");
            }
            let room = SCORES_KEPT.saturating_sub(a.scores.len());
            a.scores.extend(o.scores.iter().take(room));
            for (metric, (sum, sq)) in &o.outcomes {
                let s = a.outcomes.entry(metric.clone()).or_insert((0.0, 0.0));
                s.0 += sum;
                s.1 += sq;
            }
            a.compared += o.compared;
            a.agreed += o.agreed;
            a.disagreements.extend(o.disagreements.iter().cloned());
            a.disagreements.sort_by(|x, y| y.delta.total_cmp(&x.delta));
            a.disagreements.truncate(10);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::RolloutStats;

    #[test]
    fn published_windows_merge_to_the_window_of_all_the_traffic() {
        let (a, b, all) = (
            RolloutStats::default(),
            RolloutStats::default(),
            RolloutStats::default(),
        );
        for i in 0..400u64 {
            let (side, version) = if i % 3 == 0 {
                (&a, "2")
            } else {
                (&b, if i % 2 == 0 { "1" } else { "2" })
            };
            let ok = i % 17 != 0;
            let latency = 500 + (i * 37) % 5000;
            let scores = [i as f64 / 400.0];
            side.record("m", 4, version, ok, latency, &scores, Some(&format!("r{i}")));
            all.record("m", 4, version, ok, latency, &scores, Some(&format!("r{i}")));
            if i % 5 == 0 {
                side.record_outcome(&format!("r{i}"), "revenue", i as f64);
                all.record_outcome(&format!("r{i}"), "revenue", i as f64);
            }
        }
        let mut merged = a.snapshot("m", 4);
        let wire = b.snapshot("m", 4).to_json();
        merged.merge(&super::ModelWindow::from_json(&wire).unwrap());
        let want = all.snapshot("m", 4);
        for v in ["1", "2"] {
            let (m, w) = (&merged.arms[v], &want.arms[v]);
            assert_eq!((m.requests, m.errors), (w.requests, w.errors), "arm {v}");
            assert_eq!(m.latency_us.len(), w.latency_us.len());
            for q in [0.5, 0.9, 0.99] {
                assert_eq!(m.latency_us.value_at_quantile(q), w.latency_us.value_at_quantile(q));
            }
            let (ms, ws) = (m.outcomes["revenue"], w.outcomes["revenue"]);
            assert!(
                (ms.0 - ws.0).abs() < 1e-9 && (ms.1 - ws.1).abs() < 1e-6,
                "{ms:?} {ws:?}"
            );
            assert_eq!(m.scores.len(), w.scores.len());
        }
        assert!(super::ModelWindow::from_json("{\"step_id\": 1}").is_err());
    }
}
