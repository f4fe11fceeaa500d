//! `drift check`: compare current data with a baseline profile, column by column.
//!
//! Methods (defaults as Evidently's data-drift preset): numeric — PSI over the baseline's
//! quantile bins (ε = 1e-4), two-sample KS, Wasserstein-1 normalised by the baseline std;
//! categorical — chi-square against the baseline shares, Jensen–Shannon distance.
//! `auto`: up to 1000 current rows KS / chi-square at p < 0.05, above that Wasserstein /
//! JS ≥ 0.1 (p-values flag everything on large samples; distances keep a fixed meaning).

use serde::Serialize;

use super::gateway;
use super::profile::{ColumnProfile, Kind, Profile, Reservoir, bin_of};
use crate::error::{Error, Result};
use crate::output::{Grid, Report};
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

#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub baseline_rows: u64,
    pub current_rows: u64,
    pub columns: Vec<ColumnDrift>,
    pub drifted: usize,
    pub drift_share: f64,
    pub drift_share_threshold: f64,
    pub dataset_drift: bool,
    /// With `--window`: the same judgement per consecutive window (a drift timeline).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowDrift>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowDrift {
    pub start: String,
    pub end: String,
    pub rows: u64,
    pub drifted: usize,
    pub drift_share: f64,
    pub dataset_drift: bool,
    pub columns: Vec<ColumnDrift>,
}

/// `--window` settings: the time column and the window length.
pub struct Windowing {
    pub time_col: String,
    pub length: std::time::Duration,
}

/// Values kept per numeric column per window.
pub const WINDOW_RESERVOIR: usize = 10_000;

/// Where the current data comes from.
pub enum Current {
    Files(Vec<std::path::PathBuf>),
    /// The gateway's prediction log: outputs (and inputs where logged) become columns —
    /// `label`, `probabilities[1]`, `input:input[0]`, … — one row per batch row; `ts` is
    /// the request time.
    Gateway {
        dir: std::path::PathBuf,
        model: String,
        version: Option<String>,
        since: Option<std::time::Duration>,
    },
}

/// Seconds since the epoch from RFC 3339 or a number of seconds.
fn parse_time(s: &str) -> Option<f64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros() as f64 / 1e6);
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn label(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
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

impl Report for DriftReport {
    fn grids(&self) -> Vec<Grid> {
        let rows = self
            .columns
            .iter()
            .map(|c| {
                let n = |v: Option<f64>| v.map(crate::output::fmt_num).unwrap_or_else(|| "-".into());
                vec![
                    c.column.clone(),
                    format!("{:?}", c.kind).to_lowercase(),
                    c.method.clone(),
                    n(c.statistic),
                    n(c.p_value),
                    crate::output::fmt_num(c.threshold),
                    if c.drift { "DRIFT".into() } else { "ok".into() },
                    c.rows.to_string(),
                    c.note.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let mut grids = vec![Grid {
            title: Some(format!(
                "{} of {} columns drifted ({:.0}%, threshold {:.0}%) → {} ({} baseline rows, {} current rows)",
                self.drifted,
                self.columns.len(),
                self.drift_share * 100.0,
                self.drift_share_threshold * 100.0,
                if self.dataset_drift {
                    "DATASET DRIFT"
                } else {
                    "no dataset drift"
                },
                self.baseline_rows,
                self.current_rows
            )),
            headers: [
                "column",
                "kind",
                "method",
                "statistic",
                "p-value",
                "threshold",
                "",
                "rows",
                "note",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows,
        }];
        if !self.windows.is_empty() {
            let mut headers = vec!["window start".to_string(), "rows".into()];
            headers.extend(self.columns.iter().map(|c| c.column.clone()));
            headers.push("dataset".into());
            let rows = self
                .windows
                .iter()
                .map(|w| {
                    let mut r = vec![w.start.clone(), w.rows.to_string()];
                    for c in &self.columns {
                        r.push(match w.columns.iter().find(|x| x.column == c.column) {
                            Some(x) => format!(
                                "{}{}",
                                x.p_value
                                    .or(x.statistic)
                                    .map(crate::output::fmt_num)
                                    .unwrap_or_else(|| "-".into()),
                                if x.drift { " DRIFT" } else { "" }
                            ),
                            None => "no data".into(),
                        });
                    }
                    r.push(if w.dataset_drift {
                        "DRIFT".into()
                    } else if w.rows == 0 {
                        "-".into()
                    } else {
                        "ok".into()
                    });
                    r
                })
                .collect();
            grids.push(Grid {
                title: Some("timeline".into()),
                headers,
                rows,
            });
        }
        grids
    }
}

/// Scan `files` against `profile` for `columns`, then judge each column.
pub fn check(
    profile: &Profile,
    current: &Current,
    columns: &[String],
    method: Method,
    thresholds: &[(String, f64)],
    drift_share: f64,
    window: Option<&Windowing>,
) -> Result<DriftReport> {
    let bases: Vec<&ColumnProfile> = columns
        .iter()
        .map(|c| {
            profile.column(c).ok_or_else(|| {
                let known: Vec<&str> = profile.columns.iter().map(|c| c.name.as_str()).collect();
                Error::Usage(format!(
                    "column \"{c}\" is not in the baseline profile (profile columns: {})",
                    known.join(", ")
                ))
            })
        })
        .collect::<Result<_>>()?;
    for (c, _) in thresholds {
        if !columns.contains(c) {
            return Err(Error::Usage(format!(
                "--threshold {c}=…: \"{c}\" is not a checked column"
            )));
        }
    }
    let mut state: Vec<CurrentColumn> = bases.iter().map(|b| CurrentColumn::new(b, CURRENT_RESERVOIR)).collect();
    let mut per_window: std::collections::BTreeMap<i64, (u64, Vec<CurrentColumn>)> = Default::default();
    let wlen = window.map(|w| w.length.as_secs().max(1) as i64);
    let mut scan_cols = columns.to_vec();
    if let Some(w) = window {
        scan_cols.push(w.time_col.clone());
    }
    // States of parallel-scanned parts, merged in file order after the scans.
    let mut fast_parts: Vec<Vec<CurrentColumn>> = Vec::new();
    // One row of the sequential or gateway scan: into the whole-data state and, with
    // --window, into its window's state.
    let mut ingest = |at: &dyn Fn() -> String, cells: &[Option<&str>]| -> Result<()> {
        for ((st, base), cell) in state.iter_mut().zip(&bases).zip(cells) {
            st.push(base, *cell).map_err(|m| Error::input(at(), m))?;
        }
        if let (Some(w), Some(len)) = (window, wlen) {
            let t = cells[columns.len()].and_then(parse_time).ok_or_else(|| {
                Error::input(
                    at(),
                    format!("column \"{}\": expected an RFC 3339 time or epoch seconds", w.time_col),
                )
            })?;
            let start = (t / len as f64).floor() as i64 * len;
            let slot = per_window.entry(start).or_insert_with(|| {
                (
                    0,
                    bases.iter().map(|b| CurrentColumn::new(b, WINDOW_RESERVOIR)).collect(),
                )
            });
            slot.0 += 1;
            for ((st, base), cell) in slot.1.iter_mut().zip(&bases).zip(cells) {
                st.push(base, *cell).map_err(|m| Error::input(at(), m))?;
            }
        }
        Ok(())
    };
    let mut rows = 0;
    let files: &[std::path::PathBuf] = match current {
        Current::Files(f) => f,
        Current::Gateway { .. } => &[],
    };
    for f in files {
        if window.is_none() {
            // Plain CSV without windows: parts scanned in parallel, merged in order; any
            // error falls back to the sequential scan, which reports it with its line.
            let fast = crate::data::scan_parallel(
                f,
                &scan_cols,
                super::PARTS,
                |parts| {
                    bases
                        .iter()
                        .map(|b| CurrentColumn::new(b, CURRENT_RESERVOIR / parts))
                        .collect::<Vec<_>>()
                },
                |part: &mut Vec<CurrentColumn>, cells| {
                    for ((st, base), cell) in part.iter_mut().zip(&bases).zip(cells) {
                        st.push(base, *cell).map_err(Error::Usage)?;
                    }
                    Ok(())
                },
            )?;
            if let crate::data::FastScan::Done(parts, n) = fast {
                fast_parts.extend(parts);
                rows += n;
                continue;
            }
        }
        rows += crate::data::scan(f, &scan_cols, |line, cells| {
            ingest(&|| format!("{}:{line}", f.display()), cells)
        })?;
    }
    if let Current::Gateway {
        dir,
        model,
        version,
        since,
    } = current
    {
        rows += gateway::scan_gateway(dir, model, version.as_deref(), *since, &scan_cols, |at, cells| {
            ingest(at, cells)
        })?;
    }
    for part in &fast_parts {
        for (st, p) in state.iter_mut().zip(part) {
            st.merge(p);
        }
    }
    if rows == 0 {
        let names: Vec<String> = match current {
            Current::Files(files) => files.iter().map(|f| f.display().to_string()).collect(),
            Current::Gateway { dir, model, .. } => vec![format!("{} (model {model})", dir.display())],
        };
        return Err(Error::input(names.join(", "), "no data rows to check"));
    }
    let judged: Vec<ColumnDrift> = bases
        .iter()
        .zip(&state)
        .map(|(b, s)| {
            judge(
                b,
                s,
                method,
                thresholds.iter().find(|(c, _)| *c == b.name).map(|(_, t)| *t),
            )
        })
        .collect();
    let drifted = judged.iter().filter(|c| c.drift).count();
    let share = drifted as f64 / judged.len().max(1) as f64;
    let threshold_of = |name: &str| thresholds.iter().find(|(c, _)| c == name).map(|(_, t)| *t);
    let mut windows = Vec::new();
    if let (Some(len), Some(first), Some(last)) = (
        wlen,
        per_window.keys().next().copied(),
        per_window.keys().last().copied(),
    ) {
        if (last - first) / len > 10_000 {
            return Err(Error::Usage(
                "--window: more than 10 000 windows; choose a longer window".into(),
            ));
        }
        let mut start = first;
        while start <= last {
            let (n, cols) = match per_window.remove(&start) {
                Some((n, cols)) => (
                    n,
                    bases
                        .iter()
                        .zip(&cols)
                        .map(|(b, s)| judge(b, s, method, threshold_of(&b.name)))
                        .collect::<Vec<_>>(),
                ),
                // A gap in the data: reported, judged on nothing.
                None => (0, Vec::new()),
            };
            let d = cols.iter().filter(|c| c.drift).count();
            let sh = d as f64 / cols.len().max(1) as f64;
            windows.push(WindowDrift {
                start: label(start),
                end: label(start + len),
                rows: n,
                drifted: d,
                drift_share: sh,
                dataset_drift: sh >= drift_share && d > 0,
                columns: cols,
            });
            start += len;
        }
    }
    Ok(DriftReport {
        baseline_rows: profile.rows,
        current_rows: rows,
        columns: judged,
        drifted,
        drift_share: share,
        drift_share_threshold: drift_share,
        dataset_drift: share >= drift_share && drifted > 0,
        windows,
    })
}
