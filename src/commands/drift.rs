//! `mlctl drift baseline|check`.

use serde::Serialize;

use crate::cli::{DriftBaselineArgs, DriftCheckArgs};
use crate::drift::check::{DriftReport, check};
use crate::drift::profile::{Profile, merge};
use crate::drift::{BaselineOptions, baseline};
use crate::error::{Error, Result};
use crate::output::{Grid, Report};

#[derive(Debug, Serialize)]
pub struct BaselineReport {
    pub out: String,
    pub rows: u64,
    pub bytes: u64,
    pub columns: Vec<serde_json::Value>,
}

impl Report for BaselineReport {
    fn grids(&self) -> Vec<Grid> {
        let rows = self
            .columns
            .iter()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
                vec![
                    s("name"),
                    s("kind"),
                    c["count"].to_string(),
                    c["missing"].to_string(),
                    s("summary"),
                ]
            })
            .collect();
        vec![Grid {
            title: Some(format!(
                "profile of {} rows written to {} ({} bytes)",
                self.rows, self.out, self.bytes
            )),
            headers: ["column", "kind", "count", "missing", "summary"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows,
        }]
    }
}

pub fn baseline_cmd(a: DriftBaselineArgs) -> Result<BaselineReport> {
    let profile = if a.merge.is_empty() {
        baseline(
            &a.files,
            &BaselineOptions {
                columns: a.columns,
                numeric: a.numeric,
                categorical: a.categorical,
                bins: a.bins,
                sample: a.sample,
            },
        )?
    } else {
        let parts = a.merge.iter().map(|p| Profile::read(p)).collect::<Result<Vec<_>>>()?;
        merge(&parts, a.sample)?
    };
    let json = serde_json::to_vec_pretty(&profile).map_err(|e| Error::State(format!("profile: {e}")))?;
    let tmp = a.out.with_extension("tmp");
    std::fs::write(&tmp, &json).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &a.out).map_err(|e| Error::io(&a.out, e))?;
    let columns = profile
        .columns
        .iter()
        .map(|c| {
            let summary = match (&c.numeric, &c.categorical) {
                (Some(n), _) => format!(
                    "mean {}, std {}, range [{}, {}], {} bins",
                    crate::output::fmt_num(n.mean),
                    crate::output::fmt_num(n.std),
                    crate::output::fmt_num(n.min),
                    crate::output::fmt_num(n.max),
                    n.proportions.len()
                ),
                (_, Some(k)) => format!(
                    "{} categories{}: {}",
                    k.top.len(),
                    if k.other > 0 { " + other" } else { "" },
                    k.top.iter().take(5).map(|(v, _)| v.as_str()).collect::<Vec<_>>().join(", ")
                ),
                _ => String::new(),
            };
            serde_json::json!({"name": c.name, "kind": c.kind, "count": c.count, "missing": c.missing, "summary": summary})
        })
        .collect();
    Ok(BaselineReport {
        out: a.out.display().to_string(),
        rows: profile.rows,
        bytes: json.len() as u64,
        columns,
    })
}

/// The report, and the gate failure (dataset drift → exit 1) to return after printing.
pub fn check_cmd(a: DriftCheckArgs) -> Result<(DriftReport, Option<Error>)> {
    let profile = Profile::read(&a.baseline)?;
    if !(0.0 < a.drift_share && a.drift_share <= 1.0) {
        return Err(Error::Usage(format!(
            "--drift-share {}: must be in (0, 1]",
            a.drift_share
        )));
    }
    let columns = a
        .columns
        .unwrap_or_else(|| profile.columns.iter().map(|c| c.name.clone()).collect());
    let thresholds = a
        .thresholds
        .iter()
        .map(|t| crate::parse::parse_pairs("--threshold", t))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let windowing = match (&a.window, &a.time_col) {
        (Some(w), _) if w.is_zero() => return Err(Error::Usage("--window must be longer than 0s".into())),
        (Some(w), Some(t)) => Some(crate::drift::check::Windowing {
            time_col: t.clone(),
            length: *w,
        }),
        _ => None,
    };
    let current = match (&a.from_gateway, &a.model) {
        (Some(dir), Some(model)) => crate::drift::check::Current::Gateway {
            dir: dir.clone(),
            model: model.clone(),
            version: a.version.clone(),
            since: a.since,
        },
        _ => crate::drift::check::Current::Files(a.files.clone()),
    };
    let report = check(
        &profile,
        &current,
        &columns,
        a.method,
        &thresholds,
        a.drift_share,
        windowing.as_ref(),
    )?;
    if let Some(path) = &a.report {
        let html = crate::drift::html::render(&report);
        std::fs::write(path, html).map_err(|e| Error::io(path, e))?;
    }
    let gate = report.dataset_drift.then(|| {
        let cols: Vec<&str> = report
            .columns
            .iter()
            .filter(|c| c.drift)
            .map(|c| c.column.as_str())
            .collect();
        Error::GateFailed(format!(
            "dataset drift: {} of {} columns drifted ({})",
            report.drifted,
            report.columns.len(),
            cols.join(", ")
        ))
    });
    Ok((report, gate))
}
