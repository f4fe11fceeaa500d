//! Continuous drift monitoring: what a monitor watches (`MonitorSpec`), the streaming
//! state of one window (`Window`: the same per-column state `drift check` keeps —
//! `CurrentColumn`, bounded by `WINDOW_RESERVOIR` values per numeric column whatever the
//! traffic), its verdict (`evaluate`: `judge::judge` per column, the statistics `drift
//! check` computes on the same rows), and the alert state machine (`AlertState`).
//!
//! **Error rate.** A window is *drifted* when any monitored column drifts. With a test
//! method (KS, χ² — `auto` picks them for windows of ≤ 1000 rows) a column of an unchanged
//! distribution drifts with probability α (its p-value threshold, 0.05) per window, so a
//! window of m columns is falsely drifted with probability at most 1 − (1 − α)^m, and an
//! alert needs `consecutive` such windows in a row: at most (1 − (1 − α)^m)^k per k-window
//! run (windows are independent samples). One column at α = 0.05 with k = 2: 0.25% per
//! window pair; the simulation in this file's tests confirms it over 1000 runs. Distance
//! methods (PSI, Wasserstein, JS) compare an estimate with a fixed threshold: their false
//! alarm rate depends on the window's size (the estimate's noise shrinks as 1/√n); choose
//! windows of ≥ 1000 rows for them (the `auto` default switches at that size).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::WINDOW_RESERVOIR;
use super::judge::{ColumnDrift, CurrentColumn, Method, judge};
use super::profile::{ColumnProfile, Profile};
use crate::error::{Error, Result};

fn default_consecutive() -> u32 {
    2
}

/// What one monitor watches and how it judges (stored as JSON in the state DB).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    pub model: String,
    /// The training baseline (`mlctl drift baseline`).
    pub baseline: Profile,
    /// Columns to watch (outputs `label`, `probabilities[1]`, …; sampled inputs
    /// `input:<name>[j]`) [default: every baseline column].
    #[serde(default)]
    pub columns: Vec<String>,
    pub window_ms: u64,
    #[serde(default = "default_method")]
    pub method: Method,
    /// Per-column thresholds (a p-value level for tests, a distance otherwise).
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// Drifted (clean) windows in a row that fire (resolve) the alert.
    #[serde(default = "default_consecutive")]
    pub consecutive: u32,
    /// How long window results are kept.
    #[serde(default)]
    pub retention_ms: u64,
    /// Webhook targets for this monitor's alerts (besides `serve --notify`).
    #[serde(default)]
    pub notify: Vec<String>,
    /// Quality requirements on late labels (`auc>=0.75`), judged per prediction-time
    /// window once it has ended and holds `quality_min_pairs` labelled predictions.
    #[serde(default)]
    pub quality: Vec<String>,
    /// The outcome metric holding the true label.
    #[serde(default)]
    pub quality_metric: Option<String>,
    /// The prediction-time window of quality [default: the drift window].
    #[serde(default)]
    pub quality_window_ms: Option<u64>,
    #[serde(default = "default_min_pairs")]
    pub quality_min_pairs: u64,
}

fn default_min_pairs() -> u64 {
    30
}

fn default_method() -> Method {
    Method::Auto
}

impl MonitorSpec {
    /// Check the spec; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(m));
        if self.window_ms < 100 {
            return bad(format!("window: {} ms is too short (at least 100 ms)", self.window_ms));
        }
        if self.consecutive == 0 || self.consecutive > 100 {
            return bad(format!("consecutive: {} (expected 1 to 100)", self.consecutive));
        }
        for c in &self.columns {
            if self.baseline.column(c).is_none() {
                let known: Vec<&str> = self.baseline.columns.iter().map(|c| c.name.as_str()).collect();
                return bad(format!(
                    "column {c:?} is not in the baseline (columns: {})",
                    known.join(", ")
                ));
            }
        }
        for (c, t) in &self.thresholds {
            if self.baseline.column(c).is_none() {
                return bad(format!("threshold for {c:?}: not a baseline column"));
            }
            if !t.is_finite() || *t < 0.0 {
                return bad(format!("threshold for {c:?}: {t} (expected a number ≥ 0)"));
            }
        }
        if self.monitored().is_empty() {
            return bad("the baseline has no columns".into());
        }
        for q in &self.quality {
            super::quality::requirement(q).map_err(|e| Error::Usage(format!("quality {e}")))?;
        }
        if !self.quality.is_empty() && self.quality_metric.as_deref().unwrap_or("").is_empty() {
            return bad("quality requirements need quality_metric (the outcome holding the true label)".into());
        }
        Ok(())
    }

    /// The positions in the baseline of the columns watched, in order (resolved once, so
    /// the request path does no name lookups).
    pub fn monitored_indices(&self) -> Vec<usize> {
        if self.columns.is_empty() {
            (0..self.baseline.columns.len()).collect()
        } else {
            self.columns
                .iter()
                .filter_map(|c| self.baseline.columns.iter().position(|b| &b.name == c))
                .collect()
        }
    }

    /// The baseline columns watched, in order.
    pub fn monitored(&self) -> Vec<&ColumnProfile> {
        self.monitored_indices()
            .into_iter()
            .map(|i| &self.baseline.columns[i])
            .collect()
    }
}

/// A cell handed to a window: a number, or a category's text.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Num(f64),
    Text(&'a str),
}

/// One version's rows in the window in progress.
pub struct Window {
    pub rows: u64,
    pub columns: Vec<CurrentColumn>,
}

impl Window {
    pub fn new(spec: &MonitorSpec) -> Window {
        Window {
            rows: 0,
            columns: spec
                .monitored()
                .into_iter()
                .map(|b| CurrentColumn::new(b, WINDOW_RESERVOIR))
                .collect(),
        }
    }

    /// Add one row: a cell per monitored column (None: missing); `watched` is
    /// `spec.monitored_indices()`.
    pub fn push(&mut self, spec: &MonitorSpec, watched: &[usize], cells: &[Option<Cell<'_>>]) {
        self.rows += 1;
        let bases = watched.iter().map(|i| &spec.baseline.columns[*i]);
        for ((col, base), cell) in self.columns.iter_mut().zip(bases).zip(cells) {
            match cell {
                None => col.missing += 1,
                Some(Cell::Num(x)) => col.push_number(base, *x),
                Some(Cell::Text(s)) => {
                    // A number column fed text it cannot parse counts as missing.
                    if col.push(base, Some(s)).is_err() {
                        col.missing += 1;
                    }
                }
            }
        }
    }

    /// Approximate bytes held (for `monitor status`).
    pub fn bytes(&self) -> usize {
        self.columns
            .iter()
            .map(|c| c.sample.values.capacity() * 8 + c.bins.len() * 8 + c.cats.len() * 48)
            .sum()
    }
}

/// One finished window of one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowResult {
    pub version: String,
    pub start: String,
    pub end: String,
    pub rows: u64,
    pub drift: bool,
    pub drifted: Vec<String>,
    pub columns: Vec<ColumnSummary>,
}

/// A column's verdict in a window (the report's numbers, without the shares).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    pub column: String,
    pub method: String,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: f64,
    pub drift: bool,
    pub rows: u64,
}

impl From<ColumnDrift> for ColumnSummary {
    fn from(c: ColumnDrift) -> Self {
        ColumnSummary {
            column: c.column,
            method: c.method,
            statistic: c.statistic,
            p_value: c.p_value,
            threshold: c.threshold,
            drift: c.drift,
            rows: c.rows,
        }
    }
}

/// Judge a finished window: each monitored column as `drift check` would.
pub fn evaluate(spec: &MonitorSpec, w: &Window, version: &str, start: String, end: String) -> WindowResult {
    let columns: Vec<ColumnSummary> = spec
        .monitored()
        .into_iter()
        .zip(&w.columns)
        .map(|(base, cur)| judge(base, cur, spec.method, spec.thresholds.get(&base.name).copied()).into())
        .collect();
    let drifted: Vec<String> = columns.iter().filter(|c| c.drift).map(|c| c.column.clone()).collect();
    WindowResult {
        version: version.to_string(),
        start,
        end,
        rows: w.rows,
        drift: !drifted.is_empty(),
        drifted,
        columns,
    }
}

/// Fire after `consecutive` drifted windows in a row, resolve after as many clean ones:
/// one transition per change, never a flap inside a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    pub firing: bool,
    pub drifted_run: u32,
    pub clean_run: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Fire,
    Resolve,
}

impl AlertState {
    pub fn observe(&mut self, drift: bool, consecutive: u32) -> Option<Transition> {
        if drift {
            self.drifted_run += 1;
            self.clean_run = 0;
        } else {
            self.clean_run += 1;
            self.drifted_run = 0;
        }
        match (self.firing, drift) {
            (false, true) if self.drifted_run >= consecutive => {
                self.firing = true;
                Some(Transition::Fire)
            }
            (true, false) if self.clean_run >= consecutive => {
                self.firing = false;
                Some(Transition::Resolve)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn baseline(rng: &mut rand::rngs::StdRng) -> Profile {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.csv");
        let mut text = String::from("score\n");
        for _ in 0..2000 {
            text += &format!("{}\n", rng.random::<f64>());
        }
        std::fs::write(&p, text).unwrap();
        super::super::baseline(
            &[p],
            &super::super::BaselineOptions {
                sample: 2000,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn spec(b: Profile, consecutive: u32) -> MonitorSpec {
        MonitorSpec {
            model: "m".into(),
            baseline: b,
            columns: vec![],
            window_ms: 1000,
            method: Method::Ks,
            thresholds: BTreeMap::new(),
            consecutive,
            retention_ms: 0,
            notify: vec![],
            quality: vec![],
            quality_metric: None,
            quality_window_ms: None,
            quality_min_pairs: 30,
        }
    }

    #[test]
    fn alerts_fire_and_resolve_once_per_run() {
        let mut a = AlertState::default();
        let seen: Vec<Option<Transition>> = [true, false, true, true, true, false, true, false, false, false]
            .iter()
            .map(|d| a.observe(*d, 2))
            .collect();
        assert_eq!(
            seen,
            vec![
                None,
                None,
                None,
                Some(Transition::Fire),
                None,
                None,
                None,
                None,
                Some(Transition::Resolve),
                None
            ]
        );
    }

    /// The stated error rate: no drift, KS at α = 0.05 on one column, 2 consecutive
    /// windows of 300 rows: a false alert within a window pair ≤ α² = 0.25% (+ noise); and
    /// a shifted distribution (+0.15 on a uniform) alerts within 2 windows in ≥ 95% of runs.
    #[test]
    fn false_alerts_stay_within_the_stated_rate_and_shifts_are_caught() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let s = spec(baseline(&mut rng), 2);
        let watched = s.monitored_indices();
        let window = |rng: &mut rand::rngs::StdRng, shift: f64| {
            let mut w = Window::new(&s);
            for _ in 0..300 {
                w.push(&s, &watched, &[Some(Cell::Num(rng.random::<f64>() + shift))]);
            }
            evaluate(&s, &w, "1", String::new(), String::new()).drift
        };
        let runs = 1000;
        let mut false_alerts = 0;
        let mut caught = 0;
        for _ in 0..runs {
            let mut a = AlertState::default();
            let fired = [window(&mut rng, 0.0), window(&mut rng, 0.0)]
                .iter()
                .any(|d| a.observe(*d, 2) == Some(Transition::Fire));
            false_alerts += u32::from(fired);
            let mut b = AlertState::default();
            let fired = [window(&mut rng, 0.15), window(&mut rng, 0.15)]
                .iter()
                .any(|d| b.observe(*d, 2) == Some(Transition::Fire));
            caught += u32::from(fired);
        }
        let rate = f64::from(false_alerts) / f64::from(runs);
        assert!(rate <= 0.0025 + 0.005, "false alert rate {rate}");
        assert!(f64::from(caught) / f64::from(runs) >= 0.95, "caught {caught} of {runs}");
    }
}
