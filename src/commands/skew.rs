//! `mlctl skew check`: training/serving skew of a feature view (`features::skew`).

use crate::cli::SkewCheckArgs;
use crate::error::{Error, Result};
use crate::features::skew::{SkewOptions, SkewReport, check, render_html};
use crate::output::{Grid, Report, fmt_num};

impl Report for SkewReport {
    fn grids(&self) -> Vec<Grid> {
        let pct = |x: f64| format!("{:.2}%", x * 100.0);
        let rows = self
            .features
            .iter()
            .map(|f| {
                vec![
                    f.feature.clone(),
                    pct(f.match_rate),
                    fmt_num(f.max_abs_diff),
                    fmt_num(f.mean_abs_diff),
                    format!("{} / {}", pct(f.served_missing), pct(f.offline_missing)),
                    format!("{} / {}", pct(f.served_defaulted), pct(f.offline_defaulted)),
                    f.psi.map(fmt_num).unwrap_or_else(|| "-".into()),
                    if f.skewed { "SKEW".into() } else { "ok".into() },
                ]
            })
            .collect();
        vec![Grid {
            title: Some(format!(
                "{}: {} served rows paired by {} ({} unpaired), {} offline rows; skew = more than {} of pairs differ by > {}",
                self.model,
                self.paired,
                self.key,
                self.served_unpaired,
                self.offline_rows,
                pct(self.max_mismatch),
                fmt_num(self.tolerance)
            )),
            headers: [
                "feature",
                "match",
                "max |diff|",
                "mean |diff|",
                "missing served / offline",
                "defaulted served / offline",
                "PSI",
                "verdict",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }]
    }
}

/// The report, and the gate failure (a skewed feature → exit 1) to return after printing.
pub fn check_cmd(a: &SkewCheckArgs) -> Result<(SkewReport, Option<Error>)> {
    if !(a.tolerance >= 0.0 && a.tolerance.is_finite()) {
        return Err(Error::Usage(format!(
            "--tolerance {}: expected a number ≥ 0",
            a.tolerance
        )));
    }
    let view = crate::features::view::parse_view(&a.view)?;
    let since_us = a
        .since
        .map(|d| chrono::Utc::now().timestamp_micros() - d.as_micros().min(i64::MAX as u128) as i64);
    let report = check(
        &view,
        &a.offline,
        &a.from_gateway,
        &SkewOptions {
            model: &a.model,
            key: &a.key,
            since_us,
            tolerance: a.tolerance,
            max_mismatch: a.max_mismatch,
        },
    )?;
    if let Some(path) = &a.report {
        std::fs::write(path, render_html(&report)).map_err(|e| Error::io(path, e))?;
    }
    let gate = (!report.skewed.is_empty()).then(|| {
        Error::GateFailed(format!(
            "training/serving skew in {} (more than {:.2}% of pairs differ)",
            report.skewed.join(", "),
            a.max_mismatch * 100.0
        ))
    });
    Ok((report, gate))
}
