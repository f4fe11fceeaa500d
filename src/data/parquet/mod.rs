//! Parquet input (`.parquet`, `.pq`): only the needed columns are read (a projection),
//! row groups in parallel for the parallel scan. Cells reach the callers as text, exactly
//! like CSV cells, so every command that reads CSV reads Parquet the same way; a "line"
//! in a message is the row number (1-based, over the whole file).
//!
//! Flat columns of any physical type are supported (booleans as `true`/`false`, numbers
//! in their shortest round-trip form, strings as they are, timestamps and dates as RFC
//! 3339 UTC, nulls as empty); a nested (group) column is refused with its name.
//!
//! The scans read flat columns of the common types batch by batch with the column readers
//! (`columns`); other columns (dates, timestamps, decimals, …) go through the record API.
//! Both hand the same text.

mod columns;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;

use self::columns::{Cell, Plan};
use super::typed::{Kind, Value, with_slice};
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

/// A cell as text (`None` for null). The plain values are written by `Cell::write`, as
/// the column reader writes them.
fn cell(f: &Field, buf: &mut String) -> bool {
    use std::fmt::Write;
    let plain = match f {
        Field::Null => Some(Cell::Null),
        Field::Bool(b) => Some(Cell::Bool(*b)),
        Field::Str(s) => Some(Cell::Str(s)),
        Field::Float(x) => Some(Cell::Float(*x)),
        Field::Double(x) => Some(Cell::Double(*x)),
        Field::Int(x) => Some(Cell::Int(i64::from(*x))),
        Field::Long(x) => Some(Cell::Int(*x)),
        _ => None,
    };
    if let Some(c) = plain {
        return c.write(buf);
    }
    buf.clear();
    match f {
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
    let n = reader.num_row_groups();
    match How::of(path, &reader, columns)? {
        How::Columns(plan) => visit_text(path, &reader, &plan, 0..n, 0, f),
        How::Records(proj, slots) => visit_groups(path, &reader, &proj, &slots, 0..n, 0, f),
    }
}

/// The rows of `groups` through the column reader, as text cells (as `visit_groups`).
fn visit_text(
    path: &Path,
    reader: &SerializedFileReader<std::fs::File>,
    plan: &Plan,
    groups: std::ops::Range<usize>,
    first_row: u64,
    mut f: impl FnMut(u64, &[Option<&str>]) -> Result<()>,
) -> Result<u64> {
    let mut texts = vec![String::new(); plan.slots().len()];
    columns::visit(
        reader,
        plan,
        groups,
        first_row,
        |row, cells| with_text(cells, plan.slots(), &mut texts, |t| f(row, t)),
        |e| fail(path, e),
    )
}

/// `f` of the wanted columns' cells as text: what the record reader shows, trimmed,
/// `None` for null or empty. Strings are borrowed; numbers are written into `texts`.
fn with_text<R>(cells: &[Cell<'_>], slots: &[usize], texts: &mut [String], f: impl FnOnce(&[Option<&str>]) -> R) -> R {
    for (slot, buf) in slots.iter().zip(texts.iter_mut()) {
        if cells[*slot].needs_buffer() {
            cells[*slot].write(buf);
        }
    }
    with_slice(slots.len(), None, |k| cells[slots[k]].text(&texts[k]), f)
}

/// What typing a part's cells keeps from row to row: each wanted column's text buffer and,
/// for a category column, the labels given ids so far (the first `typed::IDS`).
struct Typer<'k> {
    kinds: &'k [Kind],
    texts: Vec<String>,
    labels: Vec<Labels>,
}

/// A category column's labels with ids: each as a key (a label of at most 7 bytes packed
/// with its length into a `u64`, compared as one number) and as text.
#[derive(Default, Clone)]
struct Labels {
    keys: Vec<u64>,
    names: Vec<String>,
}

impl Labels {
    fn key(t: &str) -> Option<u64> {
        (t.len() <= 7).then(|| {
            let bytes = t
                .bytes()
                .enumerate()
                .fold(0u64, |k, (i, c)| k | u64::from(c) << (8 * i));
            bytes | (t.len() as u64) << 56
        })
    }

    /// The label's id, giving it the next one while fewer than `typed::IDS` are given.
    fn id(&mut self, t: &str) -> Option<u32> {
        let key = Labels::key(t);
        let found = match key {
            Some(key) => self.keys.iter().position(|k| *k == key),
            None => self.names.iter().position(|n| n == t),
        };
        if let Some(i) = found {
            return Some(i as u32);
        }
        (self.names.len() < super::typed::IDS).then(|| {
            self.keys.push(key.unwrap_or(u64::MAX));
            self.names.push(t.to_string());
            self.names.len() as u32 - 1
        })
    }
}

impl<'k> Typer<'k> {
    fn new(kinds: &'k [Kind]) -> Self {
        Typer {
            kinds,
            texts: vec![String::new(); kinds.len()],
            labels: vec![Labels::default(); kinds.len()],
        }
    }

    /// A number or a 0/1 flag straight from an integer or a finite double: the same
    /// value as `Value::from_cell` of its text (`x as f64` and the shortest round-trip
    /// text parsed back are the same number; a flag's text is exactly `0` or `1`).
    fn direct(&self, k: usize, cell: Cell<'_>) -> Option<f64> {
        let x = match cell {
            Cell::Int(x) => x as f64,
            Cell::Double(x) if x.is_finite() => x,
            _ => return None,
        };
        match self.kinds[k] {
            Kind::Number => Some(x),
            // The text of -0.0 is "-0", not a flag.
            Kind::Flag if (x == 0.0 && x.is_sign_positive()) || x == 1.0 => Some(x),
            _ => None,
        }
    }

    /// `f` of the wanted columns' cells typed by their kinds: `Value::from_cell` of their
    /// text (`with_text`), numbers taken directly where `direct` can, and a category's
    /// first `typed::IDS` distinct labels given ids (stable within this part).
    fn with_values<R>(&mut self, cells: &[Cell<'_>], slots: &[usize], f: impl FnOnce(&[Value<'_>]) -> R) -> R {
        let n = slots.len();
        let mut ids = [None; 16];
        for k in 0..n {
            let cell = cells[slots[k]];
            if cell.needs_buffer() && self.direct(k, cell).is_none() {
                cell.write(&mut self.texts[k]);
            }
            if self.kinds[k] == Kind::Category
                && let (Some(t), Some(id)) = (cell.text(&self.texts[k]), ids.get_mut(k))
            {
                *id = self.labels[k].id(t);
            }
        }
        let this = &*self;
        let value = |k: usize| -> Value<'_> {
            let cell = cells[slots[k]];
            if let Some(x) = this.direct(k, cell) {
                return Value::Num(x);
            }
            let text = cell.text(&this.texts[k]);
            match (ids.get(k).copied().flatten(), text) {
                (Some(id), Some(t)) => Value::Cat(id, t),
                _ => Value::from_cell(text, this.kinds[k]),
            }
        };
        with_slice(n, Value::Empty, value, f)
    }
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
    parallel(
        path,
        columns,
        threads,
        init,
        |reader, how, groups, first, state| match how {
            How::Columns(plan) => visit_text(path, reader, plan, groups, first, |_, cells| visit(state, cells)),
            How::Records(proj, slots) => {
                visit_groups(path, reader, proj, slots, groups, first, |_, cells| visit(state, cells))
            }
        },
    )
}

/// `scan_parallel` with each column typed as `kinds` says (as `typed::with_values`).
pub fn scan_parallel_typed<S: Send>(
    path: &Path,
    columns: &[String],
    kinds: &[Kind],
    threads: usize,
    init: impl Fn(usize) -> S + Sync,
    visit: impl Fn(&mut S, &[Value<'_>]) -> Result<()> + Sync,
) -> Result<(Vec<S>, u64)> {
    parallel(
        path,
        columns,
        threads,
        init,
        |reader, how, groups, first, state| match how {
            How::Columns(plan) => {
                let mut typer = Typer::new(kinds);
                columns::visit(
                    reader,
                    plan,
                    groups,
                    first,
                    |_, cells| typer.with_values(cells, plan.slots(), |v| visit(state, v)),
                    |e| fail(path, e),
                )
            }
            How::Records(proj, slots) => visit_groups(path, reader, proj, slots, groups, first, |_, cells| {
                super::typed::with_values(cells, kinds, |v| visit(state, v))
            }),
        },
    )
}

/// How a scan reads its columns: batch by batch (`columns`), or row by row through the
/// record API (a projection and each wanted column's slot in it).
enum How {
    Columns(Plan),
    Records(Type, Vec<usize>),
}

impl How {
    /// The column reader when it takes every wanted column, else the record API. The
    /// projection is made either way: it refuses unknown and nested columns by name.
    fn of(path: &Path, reader: &SerializedFileReader<std::fs::File>, columns: &[String]) -> Result<How> {
        let (proj, slots) = projection(path, reader, columns)?;
        Ok(match Plan::new(reader, columns) {
            Some(plan) => How::Columns(plan),
            None => How::Records(proj, slots),
        })
    }
}

/// The parallel scan behind both front ends: `part` reads one contiguous range of row
/// groups (numbering rows from the given first) into its state.
fn parallel<S: Send>(
    path: &Path,
    columns: &[String],
    threads: usize,
    init: impl Fn(usize) -> S + Sync,
    part: impl Fn(&SerializedFileReader<std::fs::File>, &How, std::ops::Range<usize>, u64, &mut S) -> Result<u64> + Sync,
) -> Result<(Vec<S>, u64)> {
    let reader = open(path)?;
    let how = How::of(path, &reader, columns)?;
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
                let (init, part, how, before) = (&init, &part, &how, &before);
                scope.spawn(move || -> Result<Option<(S, u64)>> {
                    let reader = open(path)?;
                    let mut state = init(parts);
                    let n = part(&reader, how, r.clone(), before[r.start], &mut state)?;
                    Ok(Some((state, n)))
                })
            })
            .collect();
        super::join_parts(handles)
    })?;
    joined.ok_or_else(|| Error::State("a Parquet scan part gave up".into()))
}
