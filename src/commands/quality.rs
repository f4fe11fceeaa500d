//! `mlctl monitor quality`: model quality from late labels (`drift::quality`).

use crate::cli::{GlobalArgs, MonitorQualityArgs};
use crate::drift::quality::{METRICS, QualityOptions, QualityReport, quality, requirement};
use crate::error::{Error, Result};
use crate::output::{Grid, Report, fmt_num};

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
    let reqs = a
        .require
        .iter()
        .map(|s| requirement(s).map_err(|e| Error::Usage(format!("--require {e}"))))
        .collect::<Result<Vec<_>>>()?;
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
    for r in &reqs {
        for (v, w) in &latest {
            if let Some(why) = r.unmet(w) {
                failed.push(format!("version {v}: {why}"));
            }
        }
    }
    let gate =
        (!failed.is_empty()).then(|| Error::GateFailed(format!("quality requirement unmet: {}", failed.join("; "))));
    Ok((report, gate))
}
