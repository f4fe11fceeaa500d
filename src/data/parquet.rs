//! Parquet input (`.parquet`, `.pq`): only the needed columns are read (a projection),
//! row groups in parallel for the parallel scan. Cells reach the callers as text, exactly
//! like CSV cells, so every command that reads CSV reads Parquet the same way; a "line"
//! in a message is the row number (1-based, over the whole file).
//!
//! Flat columns of any physical type are supported (booleans as `true`/`false`, numbers
//! in their shortest round-trip form, strings as they are, timestamps and dates as RFC
//! 3339 UTC, nulls as empty); a nested (group) column is refused with its name.

use std::path::Path;
use std::sync::Arc;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;

use crate::error::{Error, Result};

/// Whether `path` names a Parquet file.
pub fn is_parquet(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.ends_with(".parquet") || name.ends_with(".pq")
}

fn fail(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::input(path.display().to_string(), format!("not a readable Parquet file: {e}"))
}

fn open(path: &Path) -> Result<SerializedFileReader<std::fs::File>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    SerializedFileReader::new(f).map_err(|e| fail(path, e))
}

/// The top-level column names, in file order.
pub fn columns(path: &Path) -> Result<Vec<String>> {
    let reader = open(path)?;
    let schema = reader.metadata().file_metadata().schema_descr();
    Ok(schema
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect())
}

/// The projection of the file's schema onto `columns` (each once, in file order) and,
/// for each wanted column, its position in a projected row.
fn projection(
    path: &Path,
    reader: &SerializedFileReader<std::fs::File>,
    columns: &[String],
) -> Result<(Type, Vec<usize>)> {
    let root = reader.metadata().file_metadata().schema_descr().root_schema();
    let fields = root.get_fields();
    let mut picked: Vec<Arc<Type>> = Vec::new();
    for c in columns {
        let Some(f) = fields.iter().find(|f| f.name() == c) else {
            let known: Vec<&str> = fields.iter().map(|f| f.name()).collect();
            return Err(Error::input(
                path.display().to_string(),
                format!("no column \"{c}\" (columns: {})", known.join(", ")),
            ));
        };
        if f.is_group() {
            return Err(Error::input(
                path.display().to_string(),
                format!("column \"{c}\" is nested (a group); only flat columns can be read"),
            ));
        }
        if !picked.iter().any(|p| p.name() == c) {
            picked.push(f.clone());
        }
    }
    // File order (the record reader's order), then each wanted column's slot in it.
    picked.sort_by_key(|p| fields.iter().position(|f| f.name() == p.name()));
    let slots = columns
        .iter()
        .map(|c| picked.iter().position(|p| p.name() == c).unwrap_or(0))
        .collect();
    let proj = Type::group_type_builder(root.name())
        .with_fields(picked)
        .build()
        .map_err(|e| fail(path, e))?;
    Ok((proj, slots))
}

/// A cell as text (`None` for null).
fn cell(f: &Field, buf: &mut String) -> bool {
    use std::fmt::Write;
    buf.clear();
    match f {
        Field::Null => return false,
        Field::Bool(b) => buf.push_str(if *b { "true" } else { "false" }),
        Field::Str(s) => buf.push_str(s),
        Field::Float(x) => {
            let _ = write!(buf, "{x}");
        }
        Field::Double(x) => {
            let _ = write!(buf, "{x}");
        }
        Field::Int(x) => {
            let _ = write!(buf, "{x}");
        }
        Field::Long(x) => {
            let _ = write!(buf, "{x}");
        }
        // Times as RFC 3339 (UTC), the form every time column of mlctl reads.
        Field::TimestampMillis(ms) => match chrono::DateTime::from_timestamp_millis(*ms) {
            Some(t) => buf.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            None => return false,
        },
        Field::TimestampMicros(us) => match chrono::DateTime::from_timestamp_micros(*us) {
            Some(t) => buf.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            None => return false,
        },
        Field::Date(days) => match chrono::DateTime::from_timestamp(i64::from(*days) * 86_400, 0) {
            Some(t) => buf.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            None => return false,
        },
        other => {
            let _ = write!(buf, "{other}");
        }
    }
    true
}

/// The text of `row`'s value in each of `slots` into `texts` (`None` for null; the
/// strings are reused from row to row).
fn fill(row: &parquet::record::Row, slots: &[usize], texts: &mut [Option<String>]) {
    let values: Vec<&Field> = row.get_column_iter().map(|(_, v)| v).collect();
    for (text, slot) in texts.iter_mut().zip(slots) {
        let buf = text.get_or_insert_with(String::new);
        if !values.get(*slot).is_some_and(|v| cell(v, buf)) {
            *text = None;
        }
    }
}

/// Visit the rows of row groups `groups` (in order), numbering them from `first_row`.
fn visit_groups(
    path: &Path,
    reader: &SerializedFileReader<std::fs::File>,
    proj: &Type,
    slots: &[usize],
    groups: std::ops::Range<usize>,
    first_row: u64,
    mut f: impl FnMut(u64, &[Option<&str>]) -> Result<()>,
) -> Result<u64> {
    let mut texts: Vec<Option<String>> = vec![None; slots.len()];
    let mut row_no = first_row;
    for g in groups {
        let group = reader.get_row_group(g).map_err(|e| fail(path, e))?;
        let rows = group.get_row_iter(Some(proj.clone())).map_err(|e| fail(path, e))?;
        for row in rows {
            let row = row.map_err(|e| fail(path, format!("row {}: {e}", row_no + 1)))?;
            row_no += 1;
            fill(&row, slots, &mut texts);
            let cells: Vec<Option<&str>> = texts
                .iter()
                .map(|t| t.as_deref().map(str::trim).filter(|t| !t.is_empty()))
                .collect();
            f(row_no, &cells)?;
        }
    }
    Ok(row_no - first_row)
}

/// Every flat column's name, and the file's rows as text cells (`None` for null), read
/// lazily row group by row group (for readers that pull rows, like `features load`).
#[allow(clippy::type_complexity)]
pub fn rows(path: &Path) -> Result<(Vec<String>, Box<dyn Iterator<Item = Result<Vec<Option<String>>>>>)> {
    let names = columns(path)?;
    let reader = open(path)?;
    let (proj, slots) = projection(path, &reader, &names)?;
    let shown = path.to_path_buf();
    let iter = parquet::record::reader::RowIter::from_file_into(Box::new(reader))
        .project(Some(proj))
        .map_err(|e| fail(path, e))?;
    let rows = iter.enumerate().map(move |(n, row)| {
        let row = row.map_err(|e| fail(&shown, format!("row {}: {e}", n + 1)))?;
        let mut texts = vec![None; slots.len()];
        fill(&row, &slots, &mut texts);
        Ok(texts)
    });
    Ok((names, Box::new(rows)))
}

/// Visit every row of a Parquet file with the values of `columns` (as `data::scan`).
pub fn scan(path: &Path, columns: &[String], f: impl FnMut(u64, &[Option<&str>]) -> Result<()>) -> Result<u64> {
    let reader = open(path)?;
    let (proj, slots) = projection(path, &reader, columns)?;
    let n = reader.num_row_groups();
    visit_groups(path, &reader, &proj, &slots, 0..n, 0, f)
}

/// The row groups split into at most `threads` contiguous parts, each scanned by its own
/// thread into its own state (in file order); the states and the number of rows.
pub fn scan_parallel<S: Send>(
    path: &Path,
    columns: &[String],
    threads: usize,
    init: impl Fn(usize) -> S + Sync,
    visit: impl Fn(&mut S, &[Option<&str>]) -> Result<()> + Sync,
) -> Result<(Vec<S>, u64)> {
    let reader = open(path)?;
    let (proj, slots) = projection(path, &reader, columns)?;
    let groups = reader.num_row_groups();
    let parts = threads.clamp(1, groups.max(1));
    // Rows before each group, so every part numbers its rows as the file does.
    let meta = reader.metadata();
    let mut before = vec![0u64; groups + 1];
    for g in 0..groups {
        before[g + 1] = before[g] + meta.row_group(g).num_rows().max(0) as u64;
    }
    let ranges: Vec<std::ops::Range<usize>> = (0..parts)
        .map(|p| (p * groups / parts)..((p + 1) * groups / parts))
        .collect();
    let joined = std::thread::scope(|scope| {
        let handles: Vec<_> = ranges
            .into_iter()
            .map(|r| {
                let (init, visit, proj, slots, before) = (&init, &visit, &proj, &slots, &before);
                scope.spawn(move || -> Result<Option<(S, u64)>> {
                    let reader = open(path)?;
                    let mut state = init(parts);
                    let first = before[r.start];
                    let n = visit_groups(path, &reader, proj, slots, r, first, |_, cells| {
                        visit(&mut state, cells)
                    })?;
                    Ok(Some((state, n)))
                })
            })
            .collect();
        super::join_parts(handles)
    })?;
    joined.ok_or_else(|| Error::State("a Parquet scan part gave up".into()))
}
