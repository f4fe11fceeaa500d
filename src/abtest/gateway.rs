//! `abtest analyze --from-gateway DIR`: join the gateway's prediction log (which arm —
//! version — answered each request, and the routing key when the client sent one) with
//! its outcome log (metric values by request id or key). A unit is the routing key when
//! there is one, else the request. Each unit's metric value is the sum of its outcomes
//! (0 when it has none: no conversion is a 0); binary metrics are clipped to 1.
//! Memory is O(units in the window).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::spec::{Accumulator, MetricKind, MetricSpec, UnitValue};
use crate::data::gateway_logs::{each_outcome, each_prediction, log_files, prediction_files};
use crate::error::{Error, Result};
use crate::wire::log::LogKind;

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
    for f in &prediction_files(dir)? {
        each_prediction(f, |p| {
            if !models_seen.iter().any(|m| *m == p.model) {
                models_seen.push(p.model.to_string());
            }
            if model.is_some_and(|m| m != p.model) || p.status != 200 || !in_window(&p.ts) || !p.routed() {
                return Ok(());
            }
            let unit = p.key.as_deref().unwrap_or(&p.request_id).to_string();
            let arm = acc.arm_index(&p.version);
            units
                .entry(unit.clone())
                .or_insert_with(|| (arm, vec![0.0; specs.len()]));
            by_request.insert(p.request_id.into_owned(), unit);
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
    for f in log_files(dir, LogKind::Outcomes)? {
        each_outcome(&f, |o| {
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
