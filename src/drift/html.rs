//! `drift check --report drift.html`: one self-contained HTML file (no external assets):
//! a summary, and per column the baseline vs current shares as an inline SVG bar chart,
//! the statistic, and — with `--window` — the statistic's timeline against its threshold.

use super::check::{ColumnDrift, DriftReport};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(x: f64) -> String {
    crate::output::fmt_num(x)
}

/// Grouped bars: baseline (grey) and current (blue or red when drifted) per bin.
fn histogram_svg(c: &ColumnDrift) -> String {
    let (w, h, pad) = (560.0, 180.0, 28.0);
    let n = c.baseline_shares.len().max(1) as f64;
    let max = c
        .baseline_shares
        .iter()
        .chain(&c.current_shares)
        .fold(0.0f64, |a, b| a.max(*b))
        .max(1e-9);
    let slot = (w - 2.0 * pad) / n;
    let bar = slot * 0.38;
    let colour = if c.drift { "#d9534f" } else { "#2f7ed8" };
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" role="img" aria-label="baseline vs current shares of {}">"##,
        h + 40.0,
        esc(&c.column)
    );
    s.push_str(&format!(
        r##"<line x1="{pad}" y1="{h}" x2="{}" y2="{h}" stroke="#888"/>"##,
        w - pad
    ));
    for (i, (b, cur)) in c.baseline_shares.iter().zip(&c.current_shares).enumerate() {
        let x = pad + i as f64 * slot + slot * 0.1;
        let hb = (b / max) * (h - 10.0);
        let hc = (cur / max) * (h - 10.0);
        s.push_str(&format!(r##"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{hb:.1}" fill="#b8b8b8"><title>baseline {:.1}%</title></rect>"##, h - hb, b * 100.0));
        s.push_str(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{hc:.1}" fill="{colour}"><title>current {:.1}%</title></rect>"##,
            x + bar,
            h - hc,
            cur * 100.0
        ));
        if let Some(label) = c.labels.get(i) {
            let short: String = label.chars().take(12).collect();
            s.push_str(&format!(
                r##"<text x="{:.1}" y="{}" font-size="9" text-anchor="middle" fill="#444">{}</text>"##,
                x + bar,
                h + 14.0 + (i % 2) as f64 * 11.0,
                esc(&short)
            ));
        }
    }
    s.push_str("</svg>");
    s
}

/// The statistic per window as a line, with the threshold dashed.
fn timeline_svg(points: &[(String, Option<f64>, bool)], threshold: f64) -> String {
    let (w, h, pad) = (560.0, 140.0, 30.0);
    let max = points.iter().filter_map(|p| p.1).fold(threshold, f64::max).max(1e-9) * 1.15;
    let n = points.len().max(2) as f64;
    let x = |i: usize| pad + i as f64 * (w - 2.0 * pad) / (n - 1.0);
    let y = |v: f64| h - 10.0 - v / max * (h - 30.0);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" role="img" aria-label="statistic per window">"##,
        h + 10.0
    );
    s.push_str(&format!(
        r##"<line x1="{pad}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#d9534f" stroke-dasharray="4 3"/>"##,
        y(threshold),
        w - pad,
        y(threshold)
    ));
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.1.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
        .collect();
    s.push_str(&format!(
        r##"<polyline points="{}" fill="none" stroke="#2f7ed8" stroke-width="2"/>"##,
        path.join(" ")
    ));
    for (i, (label, v, drift)) in points.iter().enumerate() {
        if let Some(v) = v {
            let fill = if *drift { "#d9534f" } else { "#2f7ed8" };
            s.push_str(&format!(
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{fill}"><title>{} {}</title></circle>"##,
                x(i),
                y(*v),
                esc(label),
                num(*v)
            ));
        }
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        s.push_str(&format!(
            r##"<text x="{pad}" y="{}" font-size="9" fill="#444">{}</text>"##,
            h + 6.0,
            esc(&first.0)
        ));
        s.push_str(&format!(
            r##"<text x="{}" y="{}" font-size="9" text-anchor="end" fill="#444">{}</text>"##,
            w - pad,
            h + 6.0,
            esc(&last.0)
        ));
    }
    s.push_str("</svg>");
    s
}

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
            histogram_svg(c)
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
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mlctl drift report</title><style>
body{{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:980px}}
table{{border-collapse:collapse;margin:12px 0}}td,th{{border:1px solid #ddd;padding:4px 10px;text-align:left}}
.bad{{color:#c9302c;font-weight:600}}.good{{color:#2e7d32}}section{{margin-top:28px;border-top:1px solid #eee;padding-top:8px}}
.legend i{{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}}
</style></head><body>{body}<p style="color:#888;font-size:12px">generated by mlctl {}</p></body></html>
"#,
        env!("CARGO_PKG_VERSION")
    )
}
