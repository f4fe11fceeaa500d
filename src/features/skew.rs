//! Training/serving skew: the features the gateway served (its prediction log's `features`)
//! against the offline rows of the same requests or entities (a training set, e.g. from
//! `features join`), per feature of the view.
//!
//! Pairing: `--key request_id` pairs a served row with the offline row of the same request
//! id (a request of N rows with the offline rows of that id, in order); any other key is
//! an entity field — each served row is paired with the *last* offline row of its entity.
//! Per feature over the pairs: the match share (|served − offline| ≤ tolerance, plus 1e-12
//! relative for decimal round trips; missing on both sides matches, on one side does not),
//! max and mean absolute difference over pairs with both values, the missing and
//! defaulted shares on each side (defaulted: equal to the view's default), and the PSI of
//! the served values against the offline ones (`stats::distance::psi`, 10 bins at the
//! offline deciles). Verdict: skewed when the mismatch share exceeds `max_mismatch` — a
//! deterministic rule on the pairs, not a test, so its error rate is that of the pairing
//! itself (no sampling: every logged row in the window is used).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::view::{Source, View};
use crate::data::gateway_logs::{each_prediction, keep_from, prediction_files};
use crate::error::{Error, Result};
use crate::wire::log::LogKind;

pub struct SkewOptions<'a> {
    pub model: &'a str,
    /// `request_id` or an entity field of the view.
    pub key: &'a str,
    pub since_us: Option<i64>,
    pub tolerance: f64,
    pub max_mismatch: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeatureSkew {
    pub feature: String,
    pub pairs: u64,
    pub matched: u64,
    pub match_rate: f64,
    pub mismatch_share: f64,
    pub max_abs_diff: f64,
    pub mean_abs_diff: f64,
    pub served_missing: f64,
    pub offline_missing: f64,
    pub served_defaulted: f64,
    pub offline_defaulted: f64,
    pub psi: Option<f64>,
    pub skewed: bool,
    /// For the report's chart: served and offline shares over the offline deciles.
    #[serde(skip)]
    pub shares: (Vec<f64>, Vec<f64>),
}

#[derive(Debug, Clone, Serialize)]
pub struct SkewReport {
    pub model: String,
    pub key: String,
    pub served_rows: u64,
    pub offline_rows: u64,
    pub paired: u64,
    pub served_unpaired: u64,
    pub tolerance: f64,
    pub max_mismatch: f64,
    pub features: Vec<FeatureSkew>,
    pub skewed: Vec<String>,
}

/// A served row's values and its offline row's.
type Pair<'a> = (&'a [Option<f64>], &'a [Option<f64>]);

/// One served row: the key and each feature's value (None: absent).
struct Served {
    key: String,
    values: Vec<Option<f64>>,
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn cell(v: &Value, i: usize, n: usize) -> Option<&Value> {
    match v {
        Value::Array(a) if n > 1 || a.len() > 1 => a.get(i),
        Value::Array(a) => a.first(),
        other => Some(other),
    }
}

/// Read the served rows of `model` from the prediction logs under `data_dir`.
fn served_rows(view: &View, data_dir: &Path, o: &SkewOptions<'_>) -> Result<Vec<Served>> {
    let mut out = Vec::new();
    let mut files = prediction_files(data_dir)?;
    keep_from(&mut files, LogKind::Predictions, o.since_us);
    for file in files {
        each_prediction(&file, |r| {
            if r.model != o.model || r.status != 200 {
                return Ok(());
            }
            let Some(features) = &r.features else { return Ok(()) };
            if let Some(since) = o.since_us {
                let t = crate::wire::log::parse_ts(&r.ts).map(|t| t.timestamp_micros());
                if t.is_some_and(|t| t < since) {
                    return Ok(());
                }
            }
            // Rows: the length of the arrays (1 when scalars).
            let n = features
                .as_object()
                .and_then(|m| m.values().find_map(|v| v.as_array().map(Vec::len)))
                .unwrap_or(1);
            for i in 0..n {
                let key = if o.key == "request_id" {
                    r.request_id.to_string()
                } else {
                    match features.get(o.key).and_then(|v| cell(v, i, n)) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(x)) => x.to_string(),
                        _ => continue,
                    }
                };
                let values = view
                    .features
                    .iter()
                    .map(|f| features.get(&f.name).and_then(|v| cell(v, i, n)).and_then(number))
                    .collect();
                out.push(Served { key, values });
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Compare the served features of `o.model` (logs under `data_dir`) with `offline`.
pub fn check(view: &View, offline: &Path, data_dir: &Path, o: &SkewOptions<'_>) -> Result<SkewReport> {
    let key_ok = o.key == "request_id"
        || view
            .features
            .iter()
            .any(|f| matches!(&f.source, Source::Lookup { key, .. } if key == o.key));
    if !key_ok {
        return Err(Error::Usage(format!(
            "--key {:?}: expected request_id or an entity field of the view",
            o.key
        )));
    }
    let served = served_rows(view, data_dir, o)?;
    // Offline rows by key: a list (request ids: in order; entities: the last row wins).
    let mut columns: Vec<String> = vec![o.key.to_string()];
    columns.extend(view.features.iter().map(|f| f.name.clone()));
    let mut offline_rows: HashMap<String, Vec<Vec<Option<f64>>>> = HashMap::new();
    let shown = offline.display().to_string();
    let n_off = crate::data::scan(offline, &columns, |line, cells| {
        let key = cells[0].unwrap_or("").trim().to_string();
        let mut vals = Vec::with_capacity(view.features.len());
        for (f, c) in view.features.iter().zip(&cells[1..]) {
            let c = c.unwrap_or("").trim();
            vals.push(if c.is_empty() {
                None
            } else {
                Some(crate::data::parse_f64(c).filter(|x| x.is_finite()).ok_or_else(|| {
                    Error::input(
                        format!("{shown}:{line}: column {}", f.name),
                        format!("expected a number, found {c:?}"),
                    )
                })?)
            });
        }
        let slot = offline_rows.entry(key).or_default();
        if o.key == "request_id" {
            slot.push(vals);
        } else {
            *slot = vec![vals];
        }
        Ok(())
    })?;
    let k = view.features.len();
    let mut pairs: Vec<Pair<'_>> = Vec::new();
    let mut used: HashMap<&str, usize> = HashMap::new();
    for s in &served {
        let Some(rows) = offline_rows.get(&s.key) else { continue };
        let i = if o.key == "request_id" {
            let u = used.entry(s.key.as_str()).or_insert(0);
            *u += 1;
            *u - 1
        } else {
            0
        };
        if let Some(off) = rows.get(i) {
            pairs.push((&s.values, off));
        }
    }
    if pairs.is_empty() {
        return Err(Error::input(
            shown,
            format!(
                "no served row of model {:?} ({} logged with features) has a {} in this file",
                o.model,
                served.len(),
                o.key
            ),
        ));
    }
    let mut features = Vec::with_capacity(k);
    for (j, f) in view.features.iter().enumerate() {
        let default = match &f.source {
            Source::Lookup { default, .. } => *default,
            Source::Request => None,
        };
        let (mut matched, mut diffs_n, mut sum, mut max) = (0u64, 0u64, 0.0f64, 0.0f64);
        let (mut sm, mut om, mut sd, mut od) = (0u64, 0u64, 0u64, 0u64);
        let (mut sv, mut ov) = (Vec::new(), Vec::new());
        for (s, off) in &pairs {
            let (a, b) = (s[j], off[j]);
            sm += u64::from(a.is_none());
            om += u64::from(b.is_none());
            sd += u64::from(a.is_some() && a == default);
            od += u64::from(b.is_some() && b == default);
            match (a, b) {
                (Some(a), Some(b)) => {
                    let d = (a - b).abs();
                    diffs_n += 1;
                    sum += d;
                    max = max.max(d);
                    if d <= o.tolerance + 1e-12 * a.abs().max(b.abs()) {
                        matched += 1;
                    }
                    sv.push(a);
                    ov.push(b);
                }
                (None, None) => matched += 1,
                _ => {}
            }
        }
        let n = pairs.len() as f64;
        let mismatch = 1.0 - matched as f64 / n;
        let (psi, offline_shares, served_shares) = match crate::stats::distance::psi_binned(&ov, &sv, 10) {
            Some((p, o, s)) => (Some(p), o, s),
            None => (None, Vec::new(), Vec::new()),
        };
        features.push(FeatureSkew {
            feature: f.name.clone(),
            pairs: pairs.len() as u64,
            matched,
            match_rate: matched as f64 / n,
            mismatch_share: mismatch,
            max_abs_diff: max,
            mean_abs_diff: if diffs_n > 0 { sum / diffs_n as f64 } else { 0.0 },
            served_missing: sm as f64 / n,
            offline_missing: om as f64 / n,
            served_defaulted: sd as f64 / n,
            offline_defaulted: od as f64 / n,
            psi,
            skewed: mismatch > o.max_mismatch,
            shares: (served_shares, offline_shares),
        });
    }
    let skewed = features
        .iter()
        .filter(|f| f.skewed)
        .map(|f| f.feature.clone())
        .collect();
    Ok(SkewReport {
        model: o.model.to_string(),
        key: o.key.to_string(),
        served_rows: served.len() as u64,
        offline_rows: n_off,
        paired: pairs.len() as u64,
        served_unpaired: (served.len() - pairs.len()) as u64,
        tolerance: o.tolerance,
        max_mismatch: o.max_mismatch,
        features,
        skewed,
    })
}

/// `skew check --report FILE`: the drift report's page and charts, one section per feature.
pub fn render_html(r: &SkewReport) -> String {
    use crate::output::html::{bars_svg, esc, num};
    let mut body = format!(
        r#"<h1>Training/serving skew: {}</h1><p class="{}"><b>{}</b>: {} served rows paired with offline rows by {} ({} unpaired); a feature is skewed when more than {:.2}% of pairs differ by more than {}.</p>"#,
        esc(&r.model),
        if r.skewed.is_empty() { "good" } else { "bad" },
        if r.skewed.is_empty() {
            "No skew".to_string()
        } else {
            format!("Skew in {}", esc(&r.skewed.join(", ")))
        },
        r.paired,
        esc(&r.key),
        r.served_unpaired,
        r.max_mismatch * 100.0,
        num(r.tolerance)
    );
    body.push_str("<table><tr><th>feature</th><th>match</th><th>max |diff|</th><th>mean |diff|</th><th>missing served / offline</th><th>defaulted served / offline</th><th>PSI</th><th>verdict</th></tr>");
    for f in &r.features {
        body.push_str(&format!(
            r##"<tr><td><a href="#f-{0}">{0}</a></td><td>{1:.2}%</td><td>{2}</td><td>{3}</td><td>{4:.1}% / {5:.1}%</td><td>{6:.1}% / {7:.1}%</td><td>{8}</td><td class="{9}">{10}</td></tr>"##,
            esc(&f.feature),
            f.match_rate * 100.0,
            num(f.max_abs_diff),
            num(f.mean_abs_diff),
            f.served_missing * 100.0,
            f.offline_missing * 100.0,
            f.served_defaulted * 100.0,
            f.offline_defaulted * 100.0,
            f.psi.map(num).unwrap_or_else(|| "-".into()),
            if f.skewed { "bad" } else { "good" },
            if f.skewed { "skew" } else { "ok" }
        ));
    }
    body.push_str("</table>");
    for f in &r.features {
        body.push_str(&format!(
            r#"<section id="f-{0}"><h2>{0} <span class="{1}">{2}</span></h2><p>served vs offline shares over the offline deciles. <span class="legend"><i style="background:#b8b8b8"></i>offline <i style="background:#2f7ed8"></i>served</span></p>{3}</section>"#,
            esc(&f.feature),
            if f.skewed { "bad" } else { "good" },
            if f.skewed { "skew" } else { "ok" },
            bars_svg(&f.feature, &f.shares.1, &f.shares.0, &[], f.skewed)
        ));
    }
    crate::output::html::page("mlctl skew report", &body)
}
