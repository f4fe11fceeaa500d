//! Streaming readers for CSV and JSONL files (gzip-compressed too, by a `.gz` suffix):
//! rows are visited one at a time with their line number, so callers can report
//! `file:line` and files of any size stay in constant memory.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

fn open(path: &Path) -> Result<(Box<dyn Read>, String)> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(inner) = name.strip_suffix(".gz") {
        Ok((
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f))),
            inner.to_string(),
        ))
    } else {
        Ok((Box::new(BufReader::with_capacity(1 << 16, f)), name))
    }
}

fn json_cell(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Visit every row of `path`, handing `f` the line number and the values of `columns`
/// (in that order; `None` where empty or absent). CSV needs a header row naming the
/// columns; JSONL rows are objects. Returns the number of rows visited.
pub fn scan(path: &Path, columns: &[String], mut f: impl FnMut(u64, &[Option<&str>]) -> Result<()>) -> Result<u64> {
    let (reader, name) = open(path)?;
    let at = |line: u64| format!("{}:{line}", path.display());
    let mut rows = 0u64;
    if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        let mut lines = BufReader::new(reader);
        let mut buf = String::new();
        let mut line = 0u64;
        let mut cells: Vec<Option<String>> = Vec::with_capacity(columns.len());
        loop {
            buf.clear();
            let n = lines
                .read_line(&mut buf)
                .map_err(|e| Error::input(at(line + 1), format!("cannot read: {e}")))?;
            if n == 0 {
                break;
            }
            line += 1;
            if buf.trim().is_empty() {
                continue;
            }
            let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&buf)
                .map_err(|e| Error::input(at(line), format!("expected a JSON object per line: {e}")))?;
            cells.clear();
            cells.extend(columns.iter().map(|c| obj.get(c).and_then(json_cell)));
            let refs: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref().filter(|s| !s.is_empty())).collect();
            f(line, &refs)?;
            rows += 1;
        }
        return Ok(rows);
    }
    if !name.ends_with(".csv") && !name.ends_with(".tsv") {
        return Err(Error::input(
            path.display().to_string(),
            "unknown file type: expected .csv, .tsv, .jsonl (optionally .gz)",
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(if name.ends_with(".tsv") { b'\t' } else { b',' })
        .flexible(false)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| Error::input(at(1), format!("cannot read the header row: {e}")))?
        .clone();
    if headers.is_empty() {
        return Err(Error::input(
            path.display().to_string(),
            "empty file: expected a header row",
        ));
    }
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            headers.iter().position(|h| h.trim() == c).ok_or_else(|| {
                let known: Vec<&str> = headers.iter().collect();
                Error::input(at(1), format!("no column \"{c}\" (columns: {})", known.join(", ")))
            })
        })
        .collect::<Result<_>>()?;
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(Error::input(at(line), format!("malformed CSV: {e}")));
            }
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let refs: Vec<Option<&str>> = idx
            .iter()
            .map(|&i| rec.get(i).map(str::trim).filter(|s| !s.is_empty()))
            .collect();
        f(line, &refs)?;
        rows += 1;
    }
    Ok(rows)
}
