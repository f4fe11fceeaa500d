//! `drift check --report drift.html`: one self-contained HTML file (no external assets):
//! a summary, and per column the baseline vs current shares as an inline SVG bar chart,
//! the statistic, and — with `--window` — the statistic's timeline against its threshold.

use super::check::DriftReport;
use crate::output::html::{bars_svg, esc, num, timeline_svg};

pub fn render(report: &DriftReport) -> String {
    let mut body = String::new();
    body.push_str(&format!(
        r#"<h1>Drift report</h1><p class="{}"><b>{}</b>: {} of {} columns drifted ({:.0}%, dataset threshold {:.0}%). Baseline {} rows, current {} rows.</p>"#,
        if report.dataset_drift { "bad" } else { "good" },
        if report.dataset_drift { "Dataset drift" } else { "No dataset drift" },
        report.drifted,
        report.columns.len(),
        report.drift_share * 100.0,
        report.drift_share_threshold * 100.0,
        report.baseline_rows,
        report.current_rows
    ));
    body.push_str("<table><tr><th>column</th><th>kind</th><th>method</th><th>statistic</th><th>p-value</th><th>threshold</th><th>drift</th></tr>");
    for c in &report.columns {
        body.push_str(&format!(
            r##"<tr><td><a href="#col-{0}">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td class="{6}">{7}</td></tr>"##,
            esc(&c.column),
            format!("{:?}", c.kind).to_lowercase(),
            esc(&c.method),
            c.statistic.map(num).unwrap_or_else(|| "-".into()),
            c.p_value.map(num).unwrap_or_else(|| "-".into()),
            num(c.threshold),
            if c.drift { "bad" } else { "good" },
            if c.drift { "drift" } else { "ok" }
        ));
    }
    body.push_str("</table>");
    for c in &report.columns {
        body.push_str(&format!(
            r#"<section id="col-{0}"><h2>{0} <span class="{1}">{2}</span></h2><p>{3} = {4}{5} (threshold {6}); {7} current values, {8} missing. <span class="legend"><i style="background:#b8b8b8"></i>baseline <i style="background:#2f7ed8"></i>current</span></p>{9}"#,
            esc(&c.column),
            if c.drift { "bad" } else { "good" },
            if c.drift { "drift" } else { "ok" },
            esc(&c.method),
            c.statistic.map(num).unwrap_or_else(|| "-".into()),
            c.p_value.map(|p| format!(", p = {}", num(p))).unwrap_or_default(),
            num(c.threshold),
            c.rows,
            c.missing,
            bars_svg(&c.column, &c.baseline_shares, &c.current_shares, &c.labels, c.drift)
        ));
        let points: Vec<(String, Option<f64>, bool)> = report
            .windows
            .iter()
            .map(|w| {
                let col = w.columns.iter().find(|x| x.column == c.column);
                (
                    w.start.clone(),
                    col.and_then(|x| {
                        if x.method == "ks" || x.method == "chisquare" {
                            x.p_value
                        } else {
                            x.statistic
                        }
                    }),
                    col.is_some_and(|x| x.drift),
                )
            })
            .collect();
        if points.len() >= 2 {
            body.push_str(&format!(
                "<h3>timeline ({} per window)</h3>{}",
                esc(&c.method),
                timeline_svg(&points, c.threshold)
            ));
        }
        body.push_str("</section>");
    }
    crate::output::html::page("mlctl drift report", &body)
}
