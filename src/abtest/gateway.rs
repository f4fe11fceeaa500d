//! `abtest analyze --from-gateway DIR`: join the gateway's prediction log (which arm —
//! version — answered each request, and the routing key when the client sent one) with
//! its outcome log (metric values by request id or key). A unit is the routing key when
//! there is one, else the request. Each unit's metric value is the sum of its outcomes
//! (0 when it has none: no conversion is a 0); binary metrics are clipped to 1.
//! Memory is O(units in the window).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::spec::{Accumulator, MetricKind, MetricSpec, UnitValue};
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct Prediction {
    ts: String,
    request_id: String,
    model: String,
    version: String,
    #[serde(default)]
    key: Option<String>,
    status: u16,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize)]
struct Outcome {
    ts: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    key: Option<String>,
    metric: String,
    value: f64,
}

fn log_files(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let logs = if dir.join("logs").is_dir() {
        dir.join("logs")
    } else {
        dir.to_path_buf()
    };
    let rd = std::fs::read_dir(&logs).map_err(|e| Error::io(&logs, e))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && (n.ends_with(".jsonl") || n.ends_with(".jsonl.gz")))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn each_line<T: for<'de> Deserialize<'de>>(path: &Path, mut f: impl FnMut(T) -> Result<()>) -> Result<()> {
    // The gateway's own schema: scan rows as whole objects.
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    for (i, line) in std::io::BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| Error::input(format!("{}:{}", path.display(), i + 1), e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        // A torn last line (machine crash inside the fsync window) is skipped, not fatal.
        match serde_json::from_str::<T>(&line) {
            Ok(v) => f(v)?,
            Err(e) if !line.ends_with('}') => {
                tracing::warn!("{}:{}: skipping a torn record: {e}", path.display(), i + 1);
            }
            Err(e) => {
                return Err(Error::input(
                    format!("{}:{}", path.display(), i + 1),
                    format!("not a log record: {e}"),
                ));
            }
        }
    }
    Ok(())
}

pub fn read(dir: &Path, model: Option<&str>, since: Option<Duration>, specs: &[MetricSpec]) -> Result<Accumulator> {
    let cutoff = since.map(|d| chrono::Utc::now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
    let in_window = |ts: &str| match (cutoff, chrono::DateTime::parse_from_rfc3339(ts)) {
        (Some(c), Ok(t)) => t >= c,
        (Some(_), Err(_)) => false,
        (None, _) => true,
    };
    let mut acc = Accumulator::new(specs.len());
    // unit -> (arm, metric sums); request id -> unit
    let mut units: HashMap<String, (usize, Vec<f64>)> = HashMap::new();
    let mut by_request: HashMap<String, String> = HashMap::new();
    let mut models_seen: Vec<String> = Vec::new();
    let pred_files = log_files(dir, "predictions-")?;
    if pred_files.is_empty() {
        return Err(Error::input(
            dir.display().to_string(),
            "no predictions-*.jsonl gateway logs here",
        ));
    }
    for f in &pred_files {
        each_line(f, |p: Prediction| {
            if !models_seen.contains(&p.model) {
                models_seen.push(p.model.clone());
            }
            if model.is_some_and(|m| m != p.model) || p.status != 200 || !in_window(&p.ts) {
                return Ok(());
            }
            if p.role.as_deref() == Some("explicit") || p.role.as_deref() == Some("shadow") {
                return Ok(());
            }
            let unit = p.key.clone().unwrap_or_else(|| p.request_id.clone());
            let arm = acc.arm_index(&p.version);
            units
                .entry(unit.clone())
                .or_insert_with(|| (arm, vec![0.0; specs.len()]));
            by_request.insert(p.request_id, unit);
            Ok(())
        })?;
    }
    if model.is_none() && models_seen.len() > 1 {
        return Err(Error::Usage(format!(
            "the logs hold several models ({}): choose one with --model",
            models_seen.join(", ")
        )));
    }
    for spec in specs {
        if spec.kind == MetricKind::Ratio {
            return Err(Error::Usage(format!(
                "--from-gateway: ratio metric {:?} is not supported on gateway logs (outcomes are per request); use binary or mean",
                spec.name
            )));
        }
    }
    for f in log_files(dir, "outcomes-")? {
        each_line(&f, |o: Outcome| {
            if !in_window(&o.ts) {
                return Ok(());
            }
            let Some(mi) = specs.iter().position(|s| s.column == o.metric) else {
                return Ok(());
            };
            let unit = match (&o.request_id, &o.key) {
                (Some(r), _) if by_request.contains_key(r) => by_request.get(r).cloned(),
                (_, Some(k)) if units.contains_key(k) => Some(k.clone()),
                _ => None,
            };
            if let Some(u) = unit
                && let Some((_, sums)) = units.get_mut(&u)
            {
                sums[mi] += o.value;
            }
            Ok(())
        })?;
    }
    for (_, (arm, sums)) in units {
        let values: Vec<Option<UnitValue>> = sums
            .iter()
            .zip(specs)
            .map(|(v, s)| {
                Some(UnitValue {
                    y: if s.kind == MetricKind::Binary {
                        v.clamp(0.0, 1.0)
                    } else {
                        *v
                    },
                    x: 0.0,
                })
            })
            .collect();
        acc.add(arm, &values);
    }
    if acc.arms.is_empty() {
        return Err(Error::input(
            dir.display().to_string(),
            "no successful predictions in the window",
        ));
    }
    Ok(acc)
}
