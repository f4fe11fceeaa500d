//! HTML for the self-contained reports (`drift check --report`, `skew check --report`):
//! escaping, the page shell and its style, inline SVG charts.

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn num(x: f64) -> String {
    super::fmt_num(x)
}

/// Grouped bars per bin: `baseline` (grey) and `current` shares (blue, red when `alert`).
pub fn bars_svg(name: &str, baseline: &[f64], current: &[f64], labels: &[String], alert: bool) -> String {
    let (w, h, pad) = (560.0, 180.0, 28.0);
    let n = baseline.len().max(1) as f64;
    let max = baseline.iter().chain(current).fold(0.0f64, |a, b| a.max(*b)).max(1e-9);
    let slot = (w - 2.0 * pad) / n;
    let bar = slot * 0.38;
    let colour = if alert { "#d9534f" } else { "#2f7ed8" };
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" role="img" aria-label="baseline vs current shares of {}">"##,
        h + 40.0,
        esc(name)
    );
    s.push_str(&format!(
        r##"<line x1="{pad}" y1="{h}" x2="{}" y2="{h}" stroke="#888"/>"##,
        w - pad
    ));
    for (i, (b, cur)) in baseline.iter().zip(current).enumerate() {
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
        if let Some(label) = labels.get(i) {
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
pub fn timeline_svg(points: &[(String, Option<f64>, bool)], threshold: f64) -> String {
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

/// A self-contained HTML page (no external assets) with the reports' shared style.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{}</title><style>
body{{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:980px}}
table{{border-collapse:collapse;margin:12px 0}}td,th{{border:1px solid #ddd;padding:4px 10px;text-align:left}}
.bad{{color:#c9302c;font-weight:600}}.good{{color:#2e7d32}}section{{margin-top:28px;border-top:1px solid #eee;padding-top:8px}}
.legend i{{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}}
</style></head><body>{body}<p style="color:#888;font-size:12px">generated by mlctl {}</p></body></html>
"#,
        esc(title),
        env!("CARGO_PKG_VERSION")
    )
}
