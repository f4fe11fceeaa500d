//! Model quality when the labels arrive late: outcomes posted to `/v1/outcomes` (by
//! request id, or by the routing key) days after their predictions are joined to them in
//! the gateway's logs, and the pairs are scored per version and per *prediction-time*
//! window (`stats::quality`, scikit-learn's definitions). A classifier is a model with a
//! `probabilities` output (the last column is the positive class's score) or a `label`
//! output; anything else is scored as a regressor on its first output.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::data::gateway_logs::{each_outcome, each_prediction, keep_from, log_files, prediction_files};
use crate::error::{Error, Result};
use crate::stats::quality;
use crate::wire::log::{LogKind, parse_ts};

/// The metrics a requirement may name.
pub const METRICS: &[&str] = &["accuracy", "precision", "recall", "auc", "log_loss", "mae", "rmse"];

/// A floor or ceiling on a quality metric (`auc>=0.75`, `log_loss<=0.5`).
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub metric: String,
    pub floor: bool,
    pub bound: f64,
}

/// Parse `auc>=0.75`; the error says what is expected.
pub fn requirement(s: &str) -> Result<Requirement> {
    let (name, floor, x) = if let Some((n, x)) = s.split_once(">=") {
        (n, true, x)
    } else if let Some((n, x)) = s.split_once("<=") {
        (n, false, x)
    } else {
        return Err(Error::Usage(format!("{s:?}: expected METRIC>=X or METRIC<=X")));
    };
    let name = name.trim();
    if !METRICS.contains(&name) {
        return Err(Error::Usage(format!(
            "{s:?}: the metric is one of {}",
            METRICS.join(", ")
        )));
    }
    let bound: f64 = x
        .trim()
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| Error::Usage(format!("{s:?}: expected a number after the comparison")))?;
    Ok(Requirement {
        metric: name.to_string(),
        floor,
        bound,
    })
}

impl Requirement {
    /// Why window `w` does not meet it (None: it does, or the metric is not defined there).
    pub fn unmet(&self, w: &QualityWindow) -> Option<String> {
        let got = w.get(&self.metric)?;
        let bad = if self.floor { got < self.bound } else { got > self.bound };
        bad.then(|| {
            format!(
                "{} {} in the window from {} ({} pairs) is {} {}",
                self.metric,
                crate::output::fmt_num(got),
                w.start,
                w.pairs,
                if self.floor { "below" } else { "above" },
                self.bound
            )
        })
    }
}

pub struct QualityOptions<'a> {
    pub model: &'a str,
    /// The outcome metric holding the true label (or target).
    pub metric: &'a str,
    pub version: Option<&'a str>,
    pub since: Option<Duration>,
    pub window: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct QualityWindow {
    pub version: String,
    pub start: String,
    pub pairs: u64,
    pub accuracy: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub roc_auc: Option<f64>,
    pub log_loss: Option<f64>,
    pub mae: Option<f64>,
    pub rmse: Option<f64>,
}

impl QualityWindow {
    /// A metric by its name (`accuracy`, `precision`, `recall`, `auc`, `log_loss`, `mae`, `rmse`).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "accuracy" => self.accuracy,
            "precision" => self.precision,
            "recall" => self.recall,
            "auc" | "roc_auc" => self.roc_auc,
            "log_loss" => self.log_loss,
            "mae" => self.mae,
            "rmse" => self.rmse,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    pub model: String,
    pub metric: String,
    /// `classifier` or `regressor`.
    pub kind: String,
    pub window_s: u64,
    pub predictions: u64,
    pub labelled: u64,
    pub windows: Vec<QualityWindow>,
}

/// One logged prediction: version, time (µs), predicted label, score or estimate.
struct Predicted {
    version: String,
    at_us: i64,
    label: Option<f64>,
    score: Option<f64>,
}

fn first_row(outputs: &serde_json::Value, name: &str) -> Option<Vec<f64>> {
    let t = outputs.as_array()?.iter().find(|t| t["name"] == name)?;
    let shape: Vec<u64> = t["shape"].as_array()?.iter().filter_map(|d| d.as_u64()).collect();
    let per_row = shape.iter().skip(1).product::<u64>().max(1) as usize;
    let data = t["data"].as_array()?;
    data.iter().take(per_row).map(|v| v.as_f64()).collect()
}

/// Join the outcomes of `o.metric` to `o.model`'s predictions under `dir` and score them.
pub fn quality(dir: &Path, o: &QualityOptions<'_>) -> Result<QualityReport> {
    if o.window.is_zero() {
        return Err(Error::Usage("--window must be longer than 0s".into()));
    }
    let cutoff = o
        .since
        .map(|d| chrono::Utc::now().timestamp_micros() - d.as_micros().min(i64::MAX as u128) as i64);
    // Only the days from the cut-off on (a prediction's outcome is received after it).
    // Labels by request id and by key (the last posted wins).
    let mut by_id: HashMap<String, f64> = HashMap::new();
    let mut by_key: HashMap<String, f64> = HashMap::new();
    let mut outcome_files = log_files(dir, LogKind::Outcomes)?;
    keep_from(&mut outcome_files, LogKind::Outcomes, cutoff);
    for f in outcome_files {
        each_outcome(&f, |r| {
            if r.metric == o.metric {
                if let Some(id) = r.request_id {
                    by_id.insert(id, r.value);
                } else if let Some(k) = r.key {
                    by_key.insert(k, r.value);
                }
            }
            Ok(())
        })?;
    }
    let mut predicted: Vec<(Predicted, f64)> = Vec::new();
    let mut predictions = 0u64;
    let mut classifier = false;
    let mut files = prediction_files(dir)?;
    keep_from(&mut files, LogKind::Predictions, cutoff);
    for f in files {
        each_prediction(&f, |p| {
            if p.model != o.model || p.status != 200 || o.version.is_some_and(|v| v != p.version) {
                return Ok(());
            }
            let Some(at_us) = parse_ts(&p.ts).map(|t| t.timestamp_micros()) else {
                return Ok(());
            };
            if cutoff.is_some_and(|c| at_us < c) {
                return Ok(());
            }
            predictions += 1;
            let truth = by_id
                .get(p.request_id.as_ref())
                .or_else(|| p.key.as_ref().and_then(|k| by_key.get(k.as_ref())));
            let Some(&truth) = truth else { return Ok(()) };
            let probs = first_row(p.outputs.value(), "probabilities");
            let label = first_row(p.outputs.value(), "label").and_then(|v| v.first().copied());
            let (label, score) = match (&probs, label) {
                (Some(pr), l) => {
                    classifier = true;
                    let s = pr.last().copied();
                    (l.or_else(|| s.map(|s| f64::from(u8::from(s >= 0.5)))), s)
                }
                (None, Some(l)) => {
                    classifier = true;
                    (Some(l), None)
                }
                (None, None) => {
                    let first = p
                        .outputs
                        .as_array()
                        .and_then(|a| a.first())
                        .and_then(|t| t["data"][0].as_f64());
                    (None, first)
                }
            };
            predicted.push((
                Predicted {
                    version: p.version.to_string(),
                    at_us,
                    label,
                    score,
                },
                truth,
            ));
            Ok(())
        })?;
    }
    let w_us = o.window.as_micros().min(i64::MAX as u128) as i64;
    let mut groups: BTreeMap<(i64, String), Vec<&(Predicted, f64)>> = BTreeMap::new();
    for pair in &predicted {
        groups
            .entry((pair.0.at_us.div_euclid(w_us), pair.0.version.clone()))
            .or_default()
            .push(pair);
    }
    let windows = groups
        .into_iter()
        .map(|((slot, version), pairs)| {
            let y: Vec<f64> = pairs.iter().map(|p| p.1).collect();
            let start = chrono::DateTime::from_timestamp_micros(slot * w_us)
                .map(|t| crate::wire::log::timestamp(&t))
                .unwrap_or_default();
            let mut w = QualityWindow {
                version,
                start,
                pairs: pairs.len() as u64,
                accuracy: None,
                precision: None,
                recall: None,
                roc_auc: None,
                log_loss: None,
                mae: None,
                rmse: None,
            };
            if classifier {
                let labelled: Vec<(f64, f64)> = pairs.iter().filter_map(|p| p.0.label.map(|l| (p.1, l))).collect();
                let (yl, pl): (Vec<f64>, Vec<f64>) = labelled.into_iter().unzip();
                w.accuracy = quality::accuracy(&yl, &pl);
                if !yl.is_empty() {
                    w.precision = Some(quality::precision(&yl, &pl));
                    w.recall = Some(quality::recall(&yl, &pl));
                }
                let scored: Vec<(f64, f64)> = pairs.iter().filter_map(|p| p.0.score.map(|s| (p.1, s))).collect();
                let (ys, ss): (Vec<f64>, Vec<f64>) = scored.into_iter().unzip();
                w.roc_auc = quality::roc_auc(&ys, &ss);
                w.log_loss = quality::log_loss(&ys, &ss);
            } else {
                let est: Vec<f64> = pairs.iter().map(|p| p.0.score.unwrap_or(f64::NAN)).collect();
                w.mae = quality::mae(&y, &est);
                w.rmse = quality::rmse(&y, &est);
            }
            w
        })
        .collect();
    Ok(QualityReport {
        model: o.model.to_string(),
        metric: o.metric.to_string(),
        kind: if classifier { "classifier" } else { "regressor" }.into(),
        window_s: o.window.as_secs(),
        predictions,
        labelled: predicted.len() as u64,
        windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requirements_parse_and_name_what_is_wrong() {
        assert_eq!(
            requirement("auc>=0.75").unwrap(),
            Requirement {
                metric: "auc".into(),
                floor: true,
                bound: 0.75
            }
        );
        assert!(!requirement(" log_loss <= 0.5").unwrap().floor);
        for (bad, want) in [
            ("auc>0.7", "METRIC>=X"),
            ("f1>=0.5", "one of"),
            ("auc>=high", "a number"),
        ] {
            let e = requirement(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    proptest! {
        #[test]
        fn requirement_parsing_never_panics(s in "(?s).{0,40}") {
            let _ = requirement(&s);
        }
    }
}
