//! `mlctl abtest analyze|plan`: significance on logged outcomes. Statistics live in
//! `crate::stats` (pure); this module reads files or gateway logs and builds reports.

pub mod analyze;
pub mod gateway;
pub mod plan;
pub mod spec;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::data::typed::{Kind, Value};
use crate::error::{Error, Result};
use analyze::{AbReport, AnalyzeOptions};
use spec::{Accumulator, MetricKind, MetricSpec, UnitValue, parse_binary, parse_number};

/// What to read.
pub enum Source {
    Files {
        files: Vec<PathBuf>,
        arm_col: String,
        unit_col: Option<String>,
    },
    Gateway {
        dir: PathBuf,
        model: Option<String>,
        since: Option<std::time::Duration>,
    },
}

/// Columns a file must provide, in the order `scan` hands them back:
/// arm, [unit], [covariate], then per metric its column and (ratios) denominator.
fn columns(arm: &str, unit: Option<&str>, cuped: Option<&str>, specs: &[MetricSpec]) -> Vec<String> {
    let mut cols = vec![arm.to_string()];
    cols.extend(unit.map(str::to_string));
    cols.extend(cuped.map(str::to_string));
    for s in specs {
        cols.push(s.column.clone());
        cols.extend(s.denominator.clone());
    }
    cols
}

/// How `scan` reads the columns of `columns`: the arm and unit as labels, a binary
/// metric as a 0/1 flag, every other column as a number.
fn kinds(unit: Option<&str>, cuped: Option<&str>, specs: &[MetricSpec]) -> Vec<Kind> {
    let mut kinds = vec![Kind::Category];
    kinds.extend(unit.map(|_| Kind::Text));
    kinds.extend(cuped.map(|_| Kind::Number));
    for s in specs {
        kinds.push(if s.kind == MetricKind::Binary {
            Kind::Flag
        } else {
            Kind::Number
        });
        kinds.extend(s.denominator.as_ref().map(|_| Kind::Number));
    }
    kinds
}

/// A number cell: `None` when empty; an error naming file:line and the column otherwise.
fn number(at: &dyn Fn() -> String, v: Value<'_>, col: &str) -> Result<Option<f64>> {
    match v {
        Value::Empty => Ok(None),
        Value::Num(x) => Ok(Some(x)),
        Value::Text(c) | Value::Cat(_, c) => parse_number(c)
            .map(Some)
            .ok_or_else(|| Error::input(at(), format!("column \"{col}\": expected a number, got {c:?}"))),
    }
}

/// Parse one row's metric values; errors name file:line and the column.
fn row_values(
    at: &dyn Fn() -> String,
    cells: &[Value<'_>],
    covariate: Option<Value<'_>>,
    specs: &[MetricSpec],
    cuped_col: Option<&str>,
    out: &mut Vec<Option<UnitValue>>,
) -> Result<()> {
    let x_cov = match (covariate, cuped_col) {
        (Some(v), Some(col)) => number(at, v, col)?,
        _ => None,
    };
    out.clear();
    let mut i = 0;
    for s in specs {
        let cell = cells[i];
        i += 1;
        let v = match s.kind {
            MetricKind::Binary => match cell {
                Value::Empty => None,
                Value::Num(y) => Some(y),
                Value::Text(c) | Value::Cat(_, c) => Some(parse_binary(c).ok_or_else(|| {
                    Error::input(at(), format!("column \"{}\": expected 0 or 1, got {c:?}", s.column))
                })?),
            }
            .map(|y| UnitValue { y, x: 0.0 }),
            MetricKind::Mean => match (number(at, cell, &s.column)?, cuped_col) {
                (Some(y), Some(_)) => x_cov.map(|x| UnitValue { y, x }),
                (Some(y), None) => Some(UnitValue { y, x: 0.0 }),
                (None, _) => None,
            },
            MetricKind::Ratio => {
                let den_col = s.denominator.as_deref().unwrap_or("");
                let d = cells[i];
                i += 1;
                match (cell, d) {
                    // Either side empty: the unit has no value (the other is not checked).
                    (Value::Empty, _) | (_, Value::Empty) => None,
                    (n, d) => number(at, n, &s.column)?
                        .zip(number(at, d, den_col)?)
                        .map(|(y, x)| UnitValue { y, x }),
                }
            }
        };
        out.push(v);
    }
    Ok(())
}

/// One part of a parallel scan: its arms, the row's values, and each category id's arm.
struct FastPart {
    acc: Accumulator,
    values: Vec<Option<UnitValue>>,
    arm_of: [Option<usize>; crate::data::typed::IDS],
}

impl FastPart {
    /// The arm of a row's arm cell (`None`: empty).
    fn arm(&mut self, cell: Value<'_>) -> Option<usize> {
        match cell {
            Value::Cat(id, name) => Some(*self.arm_of[id as usize].get_or_insert_with(|| self.acc.arm_index(name))),
            Value::Text(name) => Some(self.acc.arm_index(name)),
            Value::Empty | Value::Num(_) => None,
        }
    }
}

/// Per-unit aggregation for `--unit-col`: binary → any, mean → sum, ratio → sums,
/// covariate → first value. Memory is O(units).
#[derive(Clone)]
struct UnitAgg {
    arm: usize,
    values: Vec<Option<UnitValue>>,
}

pub fn read_files(
    files: &[PathBuf],
    arm_col: &str,
    unit_col: Option<&str>,
    cuped_col: Option<&str>,
    specs: &[MetricSpec],
) -> Result<Accumulator> {
    let mut acc = Accumulator::for_specs(specs, cuped_col.is_some());
    let cols = columns(arm_col, unit_col, cuped_col, specs);
    let kinds = kinds(unit_col, cuped_col, specs);
    let mut units: HashMap<String, UnitAgg> = HashMap::new();
    let mut total_rows = 0;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut values = Vec::with_capacity(specs.len());
    for file in files {
        if unit_col.is_none() {
            // Rows are independent: scan in parallel, one accumulator per thread, merged.
            let fast = crate::data::scan_parallel_typed(
                file,
                &cols,
                &kinds,
                threads,
                |_| FastPart {
                    acc: Accumulator::for_specs(specs, cuped_col.is_some()),
                    values: Vec::with_capacity(specs.len()),
                    arm_of: Default::default(),
                },
                |part: &mut FastPart, cells| {
                    let i = if cuped_col.is_some() { 2 } else { 1 };
                    let cov = cuped_col.map(|_| cells[1]);
                    row_values(&|| String::new(), &cells[i..], cov, specs, cuped_col, &mut part.values)?;
                    let a = part.arm(cells[0]).ok_or_else(|| Error::input("", ""))?;
                    part.acc.add(a, &part.values);
                    Ok(())
                },
            )?;
            if let crate::data::FastScan::Done(states, rows) = fast {
                for part in &states {
                    acc.merge(&part.acc);
                }
                total_rows += rows;
                continue;
            }
        }
        let rows = crate::data::scan(file, &cols, |line, cells| {
            let at = || format!("{}:{line}", file.display());
            let arm = cells[0].ok_or_else(|| Error::input(at(), format!("column \"{arm_col}\" is empty")))?;
            let mut i = 1;
            let unit = if unit_col.is_some() {
                i += 1;
                Some(
                    cells[1]
                        .ok_or_else(|| Error::input(at(), format!("column \"{}\" is empty", unit_col.unwrap_or(""))))?,
                )
            } else {
                None
            };
            let cov = cuped_col.map(|_| i);
            i += usize::from(cuped_col.is_some());
            crate::data::typed::with_values(cells, &kinds, |typed| {
                let covariate = cov.map(|c| typed[c]);
                row_values(&at, &typed[i..], covariate, specs, cuped_col, &mut values)
            })?;
            let arm_idx = acc.arm_index(arm);
            match unit {
                None => acc.add(arm_idx, &values),
                Some(u) => {
                    let e = units.entry(u.to_string()).or_insert_with(|| UnitAgg {
                        arm: arm_idx,
                        values: vec![None; specs.len()],
                    });
                    if e.arm != arm_idx {
                        return Err(Error::InvalidExperiment(format!(
                            "{}: unit {u:?} appears in arms {:?} and {:?}: assignment is not sticky, the experiment is invalid",
                            at(),
                            acc.arms[e.arm],
                            arm
                        )));
                    }
                    for ((slot, v), s) in e.values.iter_mut().zip(values.iter().copied()).zip(specs) {
                        *slot = match (*slot, v) {
                            (None, v) => v,
                            (s0, None) => s0,
                            (Some(a), Some(b)) => Some(match s.kind {
                                MetricKind::Binary => UnitValue {
                                    y: a.y.max(b.y),
                                    x: a.x,
                                },
                                MetricKind::Mean => UnitValue { y: a.y + b.y, x: a.x },
                                MetricKind::Ratio => UnitValue {
                                    y: a.y + b.y,
                                    x: a.x + b.x,
                                },
                            }),
                        };
                    }
                }
            }
            Ok(())
        })?;
        total_rows += rows;
    }
    if total_rows == 0 {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        return Err(Error::input(names.join(", "), "no data rows"));
    }
    for (_, u) in units {
        acc.add(u.arm, &u.values);
    }
    Ok(acc)
}

/// Read the source and analyse it.
pub fn run_analyze(
    source: &Source,
    specs: &[MetricSpec],
    cuped_col: Option<&str>,
    opts: &AnalyzeOptions,
) -> Result<AbReport> {
    let acc = match source {
        Source::Files {
            files,
            arm_col,
            unit_col,
        } => read_files(files, arm_col, unit_col.as_deref(), cuped_col, specs)?,
        Source::Gateway { dir, model, since } => gateway::read(dir, model.as_deref(), *since, specs)?,
    };
    analyze::analyze(&acc, specs, opts)
}

/// `control=50,b=50` → expected split (positive weights, any scale).
pub fn parse_split(s: &str) -> Result<Vec<(String, f64)>> {
    let pairs = crate::parse::parse_pairs("--expected-split", s)?;
    if let Some((k, _)) = pairs.iter().find(|(_, w)| *w <= 0.0) {
        return Err(Error::Usage(format!(
            "--expected-split {s:?}: the weight of {k:?} must be positive"
        )));
    }
    Ok(pairs)
}
