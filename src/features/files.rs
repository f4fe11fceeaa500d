//! Feature tables and spines from CSV files: header names the columns; times are RFC 3339
//! or Unix seconds. Bad cells are errors naming the file, the line and the column.

use std::path::Path;

use super::store::Row;
use crate::error::{Error, Result};

/// A time cell in µs since the epoch: RFC 3339 (`2026-11-28T10:00:00Z`) or Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = crate::wire::log::parse_ts(s) {
        return Some(t.timestamp_micros());
    }
    let secs: f64 = s.parse().ok().filter(|x: &f64| x.is_finite())?;
    let us = secs * 1e6;
    (us.abs() < 9.2e18).then_some(us.round() as i64)
}

fn reader(path: &Path) -> Result<csv::Reader<Box<dyn std::io::Read>>> {
    let (r, _) = crate::data::open(path)?;
    Ok(csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(Box::new(r) as Box<dyn std::io::Read>))
}

fn headers(path: &Path, r: &mut csv::Reader<Box<dyn std::io::Read>>) -> Result<Vec<String>> {
    Ok(r.headers()
        .map_err(|e| Error::input(path.display().to_string(), format!("unreadable CSV header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect())
}

fn column(path: &Path, headers: &[String], name: &str, flag: &str) -> Result<usize> {
    headers.iter().position(|h| h == name).ok_or_else(|| {
        Error::input(
            format!("{}:1", path.display()),
            format!("{flag} {name:?}: no such column (columns: {})", headers.join(", ")),
        )
    })
}

/// A feature table file: its value columns and its rows (entity from `key`, event time
/// from `ts_col` or `now_us`, every other column a number; an empty cell is missing).
pub fn table_rows(
    path: &Path,
    key: &str,
    ts_col: Option<&str>,
    now_us: i64,
) -> Result<(Vec<String>, impl Iterator<Item = Result<Row>>)> {
    // Cells of each record with its line (CSV: the header is line 1) or row (Parquet).
    type Cells = Box<dyn Iterator<Item = Result<(usize, Vec<String>)>>>;
    let shown = path.display().to_string();
    let (headers, records): (Vec<String>, Cells) = if crate::data::parquet::is_parquet(path) {
        let (names, rows) = crate::data::parquet::rows(path)?;
        let cells = rows
            .enumerate()
            .map(|(n, r)| r.map(|cells| (n + 1, cells.into_iter().map(Option::unwrap_or_default).collect())));
        (names, Box::new(cells))
    } else {
        let mut r = reader(path)?;
        let headers = headers(path, &mut r)?;
        let shown = shown.clone();
        let cells = r.into_records().enumerate().map(move |(n, rec)| {
            let line = n + 2;
            let rec = rec.map_err(|e| Error::input(format!("{shown}:{line}"), format!("unreadable CSV row: {e}")))?;
            Ok((line, rec.iter().map(str::to_string).collect()))
        });
        (headers, Box::new(cells))
    };
    let ki = column(path, &headers, key, "--key")?;
    let ti = ts_col.map(|t| column(path, &headers, t, "--ts-col")).transpose()?;
    let value_cols: Vec<usize> = (0..headers.len()).filter(|i| *i != ki && Some(*i) != ti).collect();
    let names: Vec<String> = value_cols.iter().map(|i| headers[*i].clone()).collect();
    let rows = records.map(move |rec| {
        let (line, rec) = rec?;
        let at = |col: &str| format!("{shown}:{line}: column {col}");
        let get = |i: usize| rec.get(i).map(String::as_str);
        let entity = get(ki).unwrap_or("").trim().to_string();
        if entity.is_empty() {
            return Err(Error::input(
                at(&headers[ki]),
                "expected an entity id, found an empty cell",
            ));
        }
        let ts_us = match ti {
            Some(i) => parse_time(get(i).unwrap_or(""))
                .ok_or_else(|| Error::input(at(&headers[i]), "expected a time (RFC 3339 or Unix seconds)"))?,
            None => now_us,
        };
        let values = value_cols
            .iter()
            .map(|&i| {
                let cell = get(i).unwrap_or("").trim();
                if cell.is_empty() {
                    Ok(f64::NAN)
                } else {
                    cell.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| Error::input(at(&headers[i]), format!("expected a number, found {cell:?}")))
                }
            })
            .collect::<Result<Vec<f64>>>()?;
        Ok(Row { entity, ts_us, values })
    });
    Ok((names, rows))
}

/// A spine's records, read as they are needed.
pub type Records = csv::StringRecordsIntoIter<Box<dyn std::io::Read>>;

/// A spine: its header and records, for `features join`.
pub fn spine(path: &Path) -> Result<(Vec<String>, Records)> {
    let mut r = reader(path)?;
    let h = headers(path, &mut r)?;
    Ok((h, r.into_records()))
}

/// The index of `name` in a spine's header, or an error naming the flag.
pub fn spine_column(path: &Path, headers: &[String], name: &str, flag: &str) -> Result<usize> {
    column(path, headers, name, flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_time("2.5"), Some(2_500_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("1e300"), None);
    }

    #[test]
    fn bad_cells_name_the_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "id,ts,a\nr1,10,1.5\nr2,11,oops\n").unwrap();
        let (cols, rows) = table_rows(&p, "id", Some("ts"), 0).unwrap();
        assert_eq!(cols, vec!["a"]);
        let rows: Vec<_> = rows.collect();
        assert_eq!(rows[0].as_ref().unwrap().ts_us, 10_000_000);
        let e = rows[1].as_ref().unwrap_err().to_string();
        assert!(
            e.ends_with("t.csv:3: column a: expected a number, found \"oops\""),
            "{e}"
        );
        let e = table_rows(&p, "nope", None, 0).err().unwrap().to_string();
        assert!(e.contains("t.csv:1: --key \"nope\": no such column"), "{e}");
    }
}
