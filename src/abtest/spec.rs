//! Metric specifications (`--metric`) and per-arm accumulation.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::stats::moments::{CoMoments, Moments};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Binary,
    Mean,
    Ratio,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricSpec {
    /// Display name: the column, or `num/den` for ratios.
    pub name: String,
    pub kind: MetricKind,
    /// Value column (numerator for ratios).
    pub column: String,
    /// Denominator column (ratios only).
    pub denominator: Option<String>,
}

/// `converted:binary`, `revenue:mean`, `revenue` (mean), `clicks/sessions:ratio`,
/// `ctr:ratio=clicks/sessions`.
pub fn parse_metric(s: &str) -> Result<MetricSpec> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "--metric {s:?}: {why} (forms: col:binary, col:mean, num/den:ratio, name:ratio=num/den)"
        ))
    };
    let ratio = |name: &str, num_den: &str| -> Result<MetricSpec> {
        let (n, d) = num_den.split_once('/').ok_or_else(|| bad("a ratio needs num/den"))?;
        if n.is_empty() || d.is_empty() {
            return Err(bad("a ratio needs num/den"));
        }
        Ok(MetricSpec {
            name: name.into(),
            kind: MetricKind::Ratio,
            column: n.into(),
            denominator: Some(d.into()),
        })
    };
    let (lhs, kind) = match s.rsplit_once(':') {
        Some((l, k)) => (l, k),
        None => (s, "mean"),
    };
    if lhs.is_empty() {
        return Err(bad("missing column"));
    }
    match kind {
        "binary" | "mean" => {
            if lhs.contains('/') {
                return Err(bad("a '/' metric is a ratio"));
            }
            let kind = if kind == "binary" {
                MetricKind::Binary
            } else {
                MetricKind::Mean
            };
            Ok(MetricSpec {
                name: lhs.into(),
                kind,
                column: lhs.into(),
                denominator: None,
            })
        }
        "ratio" => ratio(lhs, lhs),
        k if k.starts_with("ratio=") => ratio(lhs, &k["ratio=".len()..]),
        other => Err(bad(&format!("unknown kind {other:?}"))),
    }
}

/// One unit's value for a metric: `y` (numerator for ratios) and `x` (denominator for
/// ratios, the CUPED covariate for means when `--cuped-col` is given, else 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitValue {
    pub y: f64,
    pub x: f64,
}

/// Accumulated statistics of one metric in one arm.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MetricAcc {
    pub y: Moments,
    /// (x = covariate or denominator, y = value or numerator)
    pub pair: CoMoments,
    pub missing: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ArmAcc {
    pub units: u64,
    pub metrics: Vec<MetricAcc>,
}

/// Arms in first-seen order with their accumulators: O(arms × metrics) memory.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    pub arms: Vec<String>,
    index: HashMap<String, usize>,
    pub per_arm: Vec<ArmAcc>,
    n_metrics: usize,
    /// Metrics whose (covariate, value) co-moments are needed (ratio metrics, CUPED);
    /// empty: all of them.
    paired: Vec<bool>,
}

impl Accumulator {
    pub fn new(n_metrics: usize) -> Self {
        Accumulator {
            n_metrics,
            ..Default::default()
        }
    }

    /// An accumulator for `specs` that keeps co-moments only where the analysis reads
    /// them (ratio metrics; mean metrics under CUPED): the rest cost one Welford update a
    /// row instead of three.
    pub fn for_specs(specs: &[MetricSpec], cuped: bool) -> Self {
        Accumulator {
            n_metrics: specs.len(),
            paired: specs
                .iter()
                .map(|s| s.kind == MetricKind::Ratio || (s.kind == MetricKind::Mean && cuped))
                .collect(),
            ..Default::default()
        }
    }

    pub fn arm_index(&mut self, arm: &str) -> usize {
        // Few arms: a linear scan beats hashing on the per-row path.
        if self.arms.len() <= 8 {
            if let Some(i) = self.arms.iter().position(|a| a == arm) {
                return i;
            }
        } else if let Some(&i) = self.index.get(arm) {
            return i;
        }
        let i = self.arms.len();
        self.arms.push(arm.to_string());
        self.index.insert(arm.to_string(), i);
        self.per_arm.push(ArmAcc {
            units: 0,
            metrics: vec![MetricAcc::default(); self.n_metrics],
        });
        i
    }

    /// Fold `other` (e.g. another thread's share of the file) into this one, by arm name
    /// (Chan et al. merge of the moments).
    pub fn merge(&mut self, other: &Accumulator) {
        for (name, a) in other.arms.iter().zip(&other.per_arm) {
            let i = self.arm_index(name);
            let mine = &mut self.per_arm[i];
            mine.units += a.units;
            for (m, o) in mine.metrics.iter_mut().zip(&a.metrics) {
                m.y.merge(&o.y);
                m.pair.merge(&o.pair);
                m.missing += o.missing;
            }
        }
    }

    /// Add one unit: `values[m]` is `None` where metric m is missing for it.
    pub fn add(&mut self, arm: usize, values: &[Option<UnitValue>]) {
        let a = &mut self.per_arm[arm];
        a.units += 1;
        for (k, (m, v)) in a.metrics.iter_mut().zip(values).enumerate() {
            match v {
                Some(v) => {
                    m.y.push(v.y);
                    if self.paired.get(k).copied().unwrap_or(true) {
                        m.pair.push(v.x, v.y);
                    }
                }
                None => m.missing += 1,
            }
        }
    }
}

/// Parse a binary cell: 0/1/true/false (any case).
pub fn parse_binary(s: &str) -> Option<f64> {
    match s {
        "0" | "0.0" => Some(0.0),
        "1" | "1.0" => Some(1.0),
        _ if s.eq_ignore_ascii_case("true") => Some(1.0),
        _ if s.eq_ignore_ascii_case("false") => Some(0.0),
        _ => None,
    }
}

/// Parse a numeric cell (finite only).
pub fn parse_number(s: &str) -> Option<f64> {
    crate::data::parse_f64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_forms() {
        assert_eq!(parse_metric("converted:binary").unwrap().kind, MetricKind::Binary);
        assert_eq!(parse_metric("revenue").unwrap().kind, MetricKind::Mean);
        let r = parse_metric("clicks/sessions:ratio").unwrap();
        assert_eq!(
            (r.column.as_str(), r.denominator.as_deref()),
            ("clicks", Some("sessions"))
        );
        let r = parse_metric("ctr:ratio=clicks/views").unwrap();
        assert_eq!((r.name.as_str(), r.column.as_str()), ("ctr", "clicks"));
        for bad in ["x:median", ":binary", "a/b:mean", "a/:ratio", "x:ratio"] {
            assert!(parse_metric(bad).is_err(), "{bad}");
        }
    }
}
