//! One column's verdict: the streaming state of a column of the current data and its
//! judgement against the baseline's profile by the chosen method (see `check` for the
//! methods and their defaults).

use serde::Serialize;

use super::profile::{ColumnProfile, Kind, Reservoir, bin_of};
use crate::stats::distance::psi_shares;
use crate::stats::drift::{chi_square, jensen_shannon, ks_2samp, wasserstein_1};

/// Current rows up to which `auto` uses tests (KS, chi-square) rather than distances.
pub const AUTO_SMALL_N: u64 = 1000;
/// Values kept per numeric column for KS and Wasserstein (exact below this many rows).
pub const CURRENT_RESERVOIR: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Auto,
    Psi,
    Ks,
    Wasserstein,
    Chisquare,
    Js,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Psi => "psi",
            Method::Ks => "ks",
            Method::Wasserstein => "wasserstein",
            Method::Chisquare => "chisquare",
            Method::Js => "js",
        }
    }
    /// Default threshold: p-value level for tests, distance for the rest.
    pub fn default_threshold(self) -> f64 {
        match self {
            Method::Psi => 0.2,
            Method::Ks | Method::Chisquare => 0.05,
            Method::Wasserstein | Method::Js => 0.1,
            Method::Auto => 0.1,
        }
    }
    fn is_test(self) -> bool {
        matches!(self, Method::Ks | Method::Chisquare)
    }
}

/// Streaming state for one column of the current data.
pub struct CurrentColumn {
    pub rows: u64,
    pub missing: u64,
    pub sample: Reservoir,
    pub bins: Vec<u64>,
    pub cats: rustc_hash::FxHashMap<String, u64>,
}

impl CurrentColumn {
    pub fn new(base: &ColumnProfile, reservoir: usize) -> Self {
        let bins = base.numeric.as_ref().map_or(0, |n| n.edges.len() + 1);
        CurrentColumn {
            rows: 0,
            missing: 0,
            sample: Reservoir::new(reservoir, 11),
            bins: vec![0; bins],
            cats: Default::default(),
        }
    }

    /// Fold in the state of another part of the data (parallel scans).
    pub fn merge(&mut self, o: &CurrentColumn) {
        self.rows += o.rows;
        self.missing += o.missing;
        self.sample.merge(&o.sample);
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            *a += b;
        }
        for (k, v) in &o.cats {
            *self.cats.entry(k.clone()).or_default() += v;
        }
    }

    /// Add one number (a numeric column's cell without the text round trip; a categorical
    /// column counts its text form).
    pub fn push_number(&mut self, base: &ColumnProfile, x: f64) {
        match (&base.kind, &base.numeric) {
            (Kind::Numeric, Some(n)) if x.is_finite() => {
                self.rows += 1;
                self.sample.push(x);
                self.bins[bin_of(&n.edges, x)] += 1;
            }
            (Kind::Numeric, _) => self.missing += 1,
            _ if x == x.trunc() && x.abs() < 1e15 => {
                // Class labels: an integer's text without an allocation on the hot path.
                let mut buf = [0u8; 24];
                let mut w = std::io::Cursor::new(&mut buf[..]);
                let _ = std::io::Write::write_fmt(&mut w, format_args!("{}", x as i64));
                let n = w.position() as usize;
                let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
                let _ = self.push(base, Some(text));
            }
            _ => {
                let text = crate::output::fmt_num(x);
                let _ = self.push(base, Some(&text));
            }
        }
    }

    /// Add one cell; `Err(msg)` when a numeric column gets a non-number.
    pub fn push(&mut self, base: &ColumnProfile, cell: Option<&str>) -> std::result::Result<(), String> {
        let Some(v) = cell else {
            self.missing += 1;
            return Ok(());
        };
        self.rows += 1;
        match (&base.kind, &base.numeric) {
            (Kind::Numeric, Some(n)) => {
                let x = crate::data::parse_f64(v).ok_or_else(|| {
                    format!(
                        "column \"{}\": expected a number (the baseline profile says numeric), got {v:?}",
                        base.name
                    )
                })?;
                self.sample.push(x);
                self.bins[bin_of(&n.edges, x)] += 1;
            }
            _ => {
                if let Some(c) = self.cats.get_mut(v) {
                    *c += 1;
                } else if self.cats.len() < super::profile::MAX_CATEGORIES {
                    self.cats.insert(v.to_string(), 1);
                } else {
                    *self.cats.entry(String::new()).or_default() += 1;
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    pub kind: Kind,
    pub method: String,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: f64,
    pub drift: bool,
    pub rows: u64,
    pub missing: u64,
    /// Baseline and current shares per bin (numeric) or category (+ other), for reports.
    pub baseline_shares: Vec<f64>,
    pub current_shares: Vec<f64>,
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Judge one column.
pub fn judge(base: &ColumnProfile, cur: &CurrentColumn, method: Method, threshold: Option<f64>) -> ColumnDrift {
    let mut out = ColumnDrift {
        column: base.name.clone(),
        kind: base.kind,
        method: String::new(),
        statistic: None,
        p_value: None,
        threshold: 0.0,
        drift: false,
        rows: cur.rows,
        missing: cur.missing,
        baseline_shares: vec![],
        current_shares: vec![],
        labels: vec![],
        note: None,
    };
    let numeric = base.kind == Kind::Numeric;
    let small = cur.rows <= AUTO_SMALL_N;
    let applicable = |m: Method| match m {
        Method::Ks | Method::Wasserstein => numeric,
        Method::Chisquare | Method::Js => !numeric,
        _ => true,
    };
    let chosen = match method {
        Method::Auto => match (numeric, small) {
            (true, true) => Method::Ks,
            (true, false) => Method::Wasserstein,
            (false, true) => Method::Chisquare,
            (false, false) => Method::Js,
        },
        m if applicable(m) => m,
        m => {
            out.note = Some(format!(
                "{} does not apply to a {} column; used the auto choice",
                m.name(),
                if numeric { "numeric" } else { "categorical" }
            ));
            match (numeric, small) {
                (true, true) => Method::Ks,
                (true, false) => Method::Wasserstein,
                (false, true) => Method::Chisquare,
                (false, false) => Method::Js,
            }
        }
    };
    out.method = chosen.name().into();
    out.threshold = threshold.unwrap_or(chosen.default_threshold());
    // Shares over the baseline's bins or categories (+ other).
    let (base_shares, cur_counts, labels): (Vec<f64>, Vec<f64>, Vec<String>) = if let Some(n) = &base.numeric {
        let labels = (0..=n.edges.len())
            .map(
                |i| match (i.checked_sub(1).and_then(|j| n.edges.get(j)), n.edges.get(i)) {
                    (None, Some(hi)) => format!("< {}", crate::output::fmt_num(*hi)),
                    (Some(lo), None) => format!("≥ {}", crate::output::fmt_num(*lo)),
                    (Some(lo), Some(hi)) => {
                        format!("{}–{}", crate::output::fmt_num(*lo), crate::output::fmt_num(*hi))
                    }
                    (None, None) => "all".into(),
                },
            )
            .collect();
        (
            n.proportions.clone(),
            cur.bins.iter().map(|&c| c as f64).collect(),
            labels,
        )
    } else {
        let k = base
            .categorical
            .as_ref()
            .map(|c| (c.top.clone(), c.other))
            .unwrap_or_default();
        let total = (base.count.max(1)) as f64;
        let mut shares: Vec<f64> = k.0.iter().map(|(_, c)| *c as f64 / total).collect();
        shares.push(k.1 as f64 / total);
        let mut counts = vec![0.0; k.0.len() + 1];
        for (v, c) in &cur.cats {
            let i = k.0.iter().position(|(b, _)| b == v).unwrap_or(k.0.len());
            counts[i] += *c as f64;
        }
        let mut labels: Vec<String> = k.0.iter().map(|(v, _)| v.clone()).collect();
        labels.push("(other)".into());
        (shares, counts, labels)
    };
    let cur_total: f64 = cur_counts.iter().sum();
    out.baseline_shares = base_shares.clone();
    out.current_shares = cur_counts.iter().map(|c| c / cur_total.max(1.0)).collect();
    out.labels = labels;
    if cur.rows == 0 {
        out.note = Some("no current values".into());
        return out;
    }
    match chosen {
        Method::Psi => {
            out.statistic = Some(psi_shares(&base_shares, &out.current_shares));
        }
        Method::Ks => {
            if let Some(r) = base
                .numeric
                .as_ref()
                .and_then(|n| ks_2samp(&n.sample, &cur.sample.values))
            {
                out.statistic = Some(r.statistic);
                out.p_value = Some(r.p_value);
            }
        }
        Method::Wasserstein => {
            if let Some(n) = &base.numeric {
                let w = wasserstein_1(&n.sample, &cur.sample.values).unwrap_or(0.0);
                out.statistic = Some(if n.std > 0.0 { w / n.std } else { w });
            }
        }
        Method::Chisquare => {
            if let Some(r) = chi_square(&cur_counts, &base_shares) {
                out.statistic = Some(r.statistic);
                out.p_value = Some(r.p_value);
            }
        }
        Method::Js => {
            out.statistic = jensen_shannon(&base_shares, &cur_counts);
        }
        Method::Auto => {}
    }
    out.drift = if chosen.is_test() {
        out.p_value.is_some_and(|p| p < out.threshold)
    } else {
        out.statistic.is_some_and(|s| s >= out.threshold)
    };
    out
}
