//! `mlctl monitor quality`: model quality from late labels (`drift::quality`).

use crate::cli::{GlobalArgs, MonitorQualityArgs};
use crate::drift::quality::{QualityOptions, QualityReport, quality};
use crate::error::{Error, Result};
use crate::output::{Grid, Report, fmt_num};

const METRICS: &[&str] = &["accuracy", "precision", "recall", "auc", "log_loss", "mae", "rmse"];

/// `auc>=0.75` → (metric, floor?, bound).
fn requirement(s: &str) -> Result<(String, bool, f64)> {
    let (name, floor, x) = if let Some((n, x)) = s.split_once(">=") {
        (n, true, x)
    } else if let Some((n, x)) = s.split_once("<=") {
        (n, false, x)
    } else {
        return Err(Error::Usage(format!(
            "--require {s:?}: expected METRIC>=X or METRIC<=X"
        )));
    };
    let name = name.trim();
    if !METRICS.contains(&name) {
        return Err(Error::Usage(format!(
            "--require {s:?}: metric is one of {}",
            METRICS.join(", ")
        )));
    }
    let x: f64 = x
        .trim()
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| Error::Usage(format!("--require {s:?}: expected a number after the comparison")))?;
    Ok((name.to_string(), floor, x))
}

impl Report for QualityReport {
    fn grids(&self) -> Vec<Grid> {
        let cell = |x: Option<f64>| x.map(fmt_num).unwrap_or_else(|| "-".into());
        let classifier = self.kind == "classifier";
        let headers: Vec<String> = if classifier {
            [
                "window start",
                "version",
                "pairs",
                "accuracy",
                "precision",
                "recall",
                "ROC AUC",
                "log loss",
            ]
            .map(String::from)
            .to_vec()
        } else {
            ["window start", "version", "pairs", "MAE", "RMSE"]
                .map(String::from)
                .to_vec()
        };
        let rows = self
            .windows
            .iter()
            .map(|w| {
                let mut r = vec![w.start.clone(), w.version.clone(), w.pairs.to_string()];
                if classifier {
                    r.extend([
                        cell(w.accuracy),
                        cell(w.precision),
                        cell(w.recall),
                        cell(w.roc_auc),
                        cell(w.log_loss),
                    ]);
                } else {
                    r.extend([cell(w.mae), cell(w.rmse)]);
                }
                r
            })
            .collect();
        vec![Grid {
            title: Some(format!(
                "{} ({}): {} of {} predictions labelled by outcome {:?}, windows of {}",
                self.model,
                self.kind,
                self.labelled,
                self.predictions,
                self.metric,
                humantime::format_duration(std::time::Duration::from_secs(self.window_s))
            )),
            headers,
            rows,
        }]
    }
}

fn html(r: &QualityReport) -> String {
    use crate::output::html::{esc, page, timeline_svg};
    let mut body = format!(
        "<h1>Model quality: {}</h1><p>{} of {} predictions labelled by outcome <b>{}</b> ({}).</p>",
        esc(&r.model),
        r.labelled,
        r.predictions,
        esc(&r.metric),
        esc(&r.kind)
    );
    let mut versions: Vec<&str> = r.windows.iter().map(|w| w.version.as_str()).collect();
    versions.dedup();
    versions.sort_unstable();
    versions.dedup();
    for m in METRICS {
        for v in &versions {
            let points: Vec<(String, Option<f64>, bool)> = r
                .windows
                .iter()
                .filter(|w| w.version == *v)
                .map(|w| (w.start.clone(), w.get(m), false))
                .collect();
            if points.iter().all(|p| p.1.is_none()) {
                continue;
            }
            body.push_str(&format!("<section><h2>{} — version {}</h2>", esc(m), esc(v)));
            body.push_str(&timeline_svg(&points, 0.0));
            body.push_str("</section>");
        }
    }
    page("mlctl quality report", &body)
}

/// The report, and the gate failure (a requirement unmet → exit 1) to return after printing.
pub fn quality_cmd(a: &MonitorQualityArgs, g: &GlobalArgs) -> Result<(QualityReport, Option<Error>)> {
    let reqs = a.require.iter().map(|s| requirement(s)).collect::<Result<Vec<_>>>()?;
    let dir = a.from_gateway.clone().unwrap_or_else(|| super::data_dir(g));
    let report = quality(
        &dir,
        &QualityOptions {
            model: &a.model,
            metric: &a.metric,
            version: a.version.as_deref(),
            since: a.since,
            window: a.window,
        },
    )?;
    if let Some(path) = &a.report {
        std::fs::write(path, html(&report)).map_err(|e| Error::io(path, e))?;
    }
    let mut failed = Vec::new();
    let mut latest: std::collections::BTreeMap<&str, &crate::drift::quality::QualityWindow> = Default::default();
    for w in &report.windows {
        latest.insert(w.version.as_str(), w);
    }
    for (name, floor, x) in &reqs {
        for (v, w) in &latest {
            if let Some(got) = w.get(name)
                && ((*floor && got < *x) || (!*floor && got > *x))
            {
                failed.push(format!(
                    "version {v}: {name} {} in the window from {} ({} pairs) is {} {x}",
                    fmt_num(got),
                    w.start,
                    w.pairs,
                    if *floor { "below" } else { "above" }
                ));
            }
        }
    }
    let gate =
        (!failed.is_empty()).then(|| Error::GateFailed(format!("quality requirement unmet: {}", failed.join("; "))));
    Ok((report, gate))
}
