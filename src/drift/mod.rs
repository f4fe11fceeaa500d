//! `mlctl drift baseline|check`: profiles of training data and their comparison with
//! live data. Statistics live in `crate::stats::drift` (pure).

pub mod check;
mod gateway;
pub mod html;
pub mod judge;
pub mod monitor;
pub mod profile;
pub mod quality;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use profile::{ColumnBuilder, Kind, Profile};

/// Column names of a CSV/TSV header or of the first JSONL object.
pub fn header_columns(path: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let (reader, name) = crate::data::open(path)?;
    if crate::data::is_jsonl(&name) {
        // Keys of the first object, in their order of appearance.
        use std::io::BufRead;
        for line in reader.lines() {
            let line = line.map_err(|e| Error::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line).map_err(|e| {
                Error::input(
                    format!("{}:1", path.display()),
                    format!("expected a JSON object per line: {e}"),
                )
            })?;
            names = obj.keys().cloned().collect();
            break;
        }
    } else {
        crate::data::scan_header(path, &mut names)?;
    }
    if names.is_empty() {
        return Err(Error::input(path.display().to_string(), "no columns found"));
    }
    Ok(names)
}

/// Parts a plain CSV is split into for parallel profiling and checking.
pub const PARTS: usize = 4;

pub struct BaselineOptions {
    pub columns: Option<Vec<String>>,
    pub numeric: Vec<String>,
    pub categorical: Vec<String>,
    pub bins: usize,
    pub sample: usize,
}

/// `drift baseline`'s defaults: every column, kinds inferred, 10 bins, 1000 sampled values.
impl Default for BaselineOptions {
    fn default() -> Self {
        BaselineOptions {
            columns: None,
            numeric: Vec::new(),
            categorical: Vec::new(),
            bins: 10,
            sample: 1000,
        }
    }
}

/// One streaming pass over `files` into a profile.
pub fn baseline(files: &[PathBuf], o: &BaselineOptions) -> Result<Profile> {
    let first = files
        .first()
        .ok_or_else(|| Error::Usage("give at least one data file".into()))?;
    if !(2..=100).contains(&o.bins) {
        return Err(Error::Usage(format!("--bins {}: between 2 and 100", o.bins)));
    }
    let columns = match &o.columns {
        Some(c) => c.clone(),
        None => header_columns(first)?,
    };
    for c in o.numeric.iter().chain(&o.categorical) {
        if !columns.contains(c) {
            return Err(Error::Usage(format!(
                "--numeric/--categorical {c:?}: not among the profiled columns"
            )));
        }
    }
    let mut builders: Vec<ColumnBuilder> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let forced = if o.numeric.contains(c) {
                Some(Kind::Numeric)
            } else if o.categorical.contains(c) {
                Some(Kind::Categorical)
            } else {
                None
            };
            ColumnBuilder::new(c, forced, o.sample, 1000 + i as u64)
        })
        .collect();
    let mut rows = 0;
    for f in files {
        // Plain CSV: a builder per part of the file (a fixed number of parts, so the
        // profile does not depend on the machine's core count), merged in order.
        let fast = crate::data::scan_parallel(
            f,
            &columns,
            PARTS,
            |parts| builders.iter().map(|b| b.for_part(parts)).collect::<Vec<_>>(),
            |part: &mut Vec<ColumnBuilder>, cells| {
                for (b, cell) in part.iter_mut().zip(cells) {
                    b.push(*cell);
                }
                Ok(())
            },
        )?;
        if let crate::data::FastScan::Done(parts, n) = fast {
            for part in parts {
                for (b, p) in builders.iter_mut().zip(&part) {
                    b.merge(p);
                }
            }
            rows += n;
            continue;
        }
        rows += crate::data::scan(f, &columns, |_, cells| {
            for (b, cell) in builders.iter_mut().zip(cells) {
                b.push(*cell);
            }
            Ok(())
        })?;
    }
    if rows == 0 {
        return Err(Error::input(first.display().to_string(), "no data rows to profile"));
    }
    let at = first.display().to_string();
    let columns = builders
        .into_iter()
        .map(|b| b.finish(o.bins, &at))
        .collect::<Result<Vec<_>>>()?;
    Ok(Profile {
        format: profile::FORMAT.into(),
        version: profile::VERSION,
        rows,
        bins: o.bins,
        columns,
    })
}
