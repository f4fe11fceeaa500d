//! `drift check --from-gateway`: the rows of the gateway's prediction log as columns — each
//! output tensor by name (`label`, `probabilities[1]` for one column of a matrix) and, for
//! requests whose inputs were logged, `input:<name>[j]` — plus `ts`.

use std::collections::HashMap;

use crate::data::gateway_logs::{each_prediction, keep_from, prediction_files};
use crate::error::Result;
use crate::wire::log::{LogKind, PredictionRecord};

fn cell_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Rows (column → value) of one logged prediction.
fn logged_rows(p: &PredictionRecord<'_>) -> Vec<HashMap<String, String>> {
    let tensors = |v: &serde_json::Value, prefix: &str| -> Vec<(String, Vec<usize>, Vec<serde_json::Value>)> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let name = format!("{prefix}{}", t["name"].as_str()?);
                let shape: Vec<usize> = t["shape"]
                    .as_array()?
                    .iter()
                    .filter_map(|d| d.as_u64().map(|d| d as usize))
                    .collect();
                Some((name, shape, t["data"].as_array()?.clone()))
            })
            .collect()
    };
    let mut all = tensors(p.outputs.value(), "");
    if let Some(i) = &p.inputs {
        all.extend(tensors(i, "input:"));
    }
    let batch = all.first().and_then(|t| t.1.first().copied()).unwrap_or(1).max(1);
    (0..batch)
        .map(|r| {
            let mut row = HashMap::new();
            row.insert("ts".to_string(), p.ts.to_string());
            for (name, shape, data) in &all {
                let per_row: usize = shape.iter().skip(1).product::<usize>().max(1);
                for j in 0..per_row {
                    let key = if per_row == 1 {
                        name.clone()
                    } else {
                        format!("{name}[{j}]")
                    };
                    if let Some(v) = data.get(r * per_row + j).and_then(cell_text) {
                        row.insert(key, v);
                    }
                }
            }
            row
        })
        .collect()
}

/// Visit the rows of the gateway's prediction log for `model` (and `version`), newer
/// than `since`, handing `f` the values of `cols`.
pub(crate) fn scan_gateway(
    dir: &std::path::Path,
    model: &str,
    version: Option<&str>,
    since: Option<std::time::Duration>,
    cols: &[String],
    mut f: impl FnMut(&dyn Fn() -> String, &[Option<&str>]) -> Result<()>,
) -> Result<u64> {
    let cutoff = since.map(|d| chrono::Utc::now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
    let mut rows = 0;
    let mut files = prediction_files(dir)?;
    keep_from(&mut files, LogKind::Predictions, cutoff.map(|c| c.timestamp_micros()));
    for file in files {
        each_prediction(&file, |p| {
            if p.model != model || p.status != 200 || version.is_some_and(|v| v != p.version) {
                return Ok(());
            }
            if let Some(c) = cutoff
                && chrono::DateTime::parse_from_rfc3339(&p.ts).map_or(true, |t| t < c)
            {
                return Ok(());
            }
            for row in logged_rows(&p) {
                let cells: Vec<Option<&str>> = cols.iter().map(|c| row.get(c).map(String::as_str)).collect();
                let at = || format!("{} ({} request at {})", file.display(), p.model, p.ts);
                f(&at, &cells)?;
                rows += 1;
            }
            Ok(())
        })?;
    }
    Ok(rows)
}
