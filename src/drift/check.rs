//! `drift check`: compare current data with a baseline profile, column by column.
//!
//! Methods (defaults as Evidently's data-drift preset): numeric — PSI over the baseline's
//! quantile bins (ε = 1e-4), two-sample KS, Wasserstein-1 normalised by the baseline std;
//! categorical — chi-square against the baseline shares, Jensen–Shannon distance.
//! `auto`: up to 1000 current rows KS / chi-square at p < 0.05, above that Wasserstein /
//! JS ≥ 0.1 (p-values flag everything on large samples; distances keep a fixed meaning).

use serde::Serialize;

use super::gateway;
use super::judge::{CURRENT_RESERVOIR, CurrentColumn, judge};
pub use super::judge::{ColumnDrift, Method};
use super::profile::{ColumnProfile, Profile};
use crate::data::typed::{Kind, Value};
use crate::error::{Error, Result};
use crate::output::{Grid, Report};

/// One part of the parallel scan: the columns' states, with each category id's rows
/// counted apart from `cats` (a label's first row goes through `push`, so labels enter
/// `cats`, and its cap, in the order the sequential scan sees them).
struct FastPart {
    cols: Vec<CurrentColumn>,
    /// Per column, per category id: the key its rows count under and the rows after the first.
    ids: Vec<[Option<(String, u64)>; crate::data::typed::IDS]>,
}

impl FastPart {
    fn push(&mut self, bases: &[&ColumnProfile], cells: &[Value<'_>]) -> std::result::Result<(), String> {
        for (((st, base), ids), v) in self.cols.iter_mut().zip(bases).zip(&mut self.ids).zip(cells) {
            match *v {
                // Only numeric columns are read as numbers.
                Value::Num(x) => st.push_number(base, x),
                Value::Cat(id, label) => match &mut ids[id as usize] {
                    Some((_, n)) => *n += 1,
                    slot @ None => {
                        st.push(base, Some(label))?;
                        // Past the cap a new label counts as "other" (the empty key).
                        let key = if st.cats.contains_key(label) { label } else { "" };
                        *slot = Some((key.to_string(), 0));
                    }
                },
                Value::Text(s) => st.push(base, Some(s))?,
                Value::Empty => st.push(base, None)?,
            }
        }
        Ok(())
    }

    /// The columns' states with the counted ids folded in.
    fn finish(mut self) -> Vec<CurrentColumn> {
        for (st, ids) in self.cols.iter_mut().zip(self.ids) {
            for (key, n) in ids.into_iter().flatten() {
                st.rows += n;
                *st.cats.entry(key).or_default() += n;
            }
        }
        self.cols
    }
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
    // A numeric column is read as numbers; a categorical one as labels.
    let kinds: Vec<Kind> = bases
        .iter()
        .map(|b| match (&b.kind, &b.numeric) {
            (super::profile::Kind::Numeric, Some(_)) => Kind::Number,
            _ => Kind::Category,
        })
        .collect();
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
            let fast = crate::data::scan_parallel_typed(
                f,
                &scan_cols,
                &kinds,
                super::PARTS,
                |parts| FastPart {
                    cols: bases
                        .iter()
                        .map(|b| CurrentColumn::new(b, CURRENT_RESERVOIR / parts))
                        .collect(),
                    ids: vec![Default::default(); bases.len()],
                },
                |part: &mut FastPart, cells| part.push(&bases, cells).map_err(Error::Usage),
            )?;
            if let crate::data::FastScan::Done(parts, n) = fast {
                fast_parts.extend(parts.into_iter().map(FastPart::finish));
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
