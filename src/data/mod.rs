//! Streaming readers for CSV and JSONL files (gzip- or zstd-compressed too, by a `.gz` or
//! `.zst` suffix) and Parquet files: rows are visited one at a time with their line (or
//! row) number, so callers can report `file:line` and files of any size stay in constant
//! memory.

mod block;
pub(crate) mod gateway_logs;
pub mod parquet;
mod quoted;
pub mod typed;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// A finite number from a cell (fast-float2: the Eisel–Lemire algorithm, same results
/// as `str::parse::<f64>` for every decimal input, several times faster); `None` for
/// anything else, including NaN and infinities.
pub fn parse_f64(s: &str) -> Option<f64> {
    fast_float2::parse::<f64, _>(s).ok().filter(|v| v.is_finite())
}

/// Open a data file for streaming, gunzipping it when its name ends in `.gz` (multi-member
/// gzip too). Returns the reader and the lower-cased file name without `.gz`, whose suffix
/// tells the format (`.csv`, `.tsv`, `.jsonl`, …). The one opener of every file reader.
pub fn open(path: &Path) -> Result<(Box<dyn BufRead>, String)> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(inner) = name.strip_suffix(".gz") {
        Ok((
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f)),
            )),
            inner.to_string(),
        ))
    } else if let Some(inner) = name.strip_suffix(".zst") {
        let dec = zstd::stream::read::Decoder::new(f).map_err(|e| Error::io(path, e))?;
        Ok((Box::new(BufReader::with_capacity(1 << 16, dec)), inner.to_string()))
    } else {
        Ok((Box::new(BufReader::with_capacity(1 << 16, f)), name))
    }
}

/// Whether a (lower-cased, `.gz`-less) file name is JSON Lines.
pub fn is_jsonl(name: &str) -> bool {
    name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json")
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
    if parquet::is_parquet(path) {
        return parquet::scan(path, columns, f);
    }
    let (reader, name) = open(path)?;
    let at = |line: u64| format!("{}:{line}", path.display());
    let mut rows = 0u64;
    if is_jsonl(&name) {
        let mut lines = reader;
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
            "unknown file type: expected .csv, .tsv, .jsonl (optionally .gz or .zst) or .parquet",
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

/// Outcome of the parallel fast path.
pub enum FastScan<S> {
    /// Per-thread states (in file order) and the number of rows.
    Done(Vec<S>, u64),
    /// Not applicable (compressed, quoted fields, JSONL) or an error was met: run `scan`,
    /// which reports errors with exact line numbers.
    Fallback,
}

impl<S> From<Option<(Vec<S>, u64)>> for FastScan<S> {
    /// A parallel scan's states and rows, or `None` when one of its parts gave up.
    fn from(done: Option<(Vec<S>, u64)>) -> Self {
        done.map_or(FastScan::Fallback, |(states, rows)| FastScan::Done(states, rows))
    }
}

/// Parallel scan of an uncompressed CSV/TSV file (or a Parquet file): the data is split
/// into `threads` byte ranges at line boundaries, each scanned by its own thread into its
/// own state (`init` is told how many parts there are). A file with quotes is split again
/// at record boundaries and parsed as CSV (`quoted`). Any error makes it give up
/// (`Fallback`) so the sequential `scan` reports the exact `file:line`.
pub fn scan_parallel<S: Send>(
    path: &Path,
    columns: &[String],
    threads: usize,
    init: impl Fn(usize) -> S + Sync,
    visit: impl Fn(&mut S, &[Option<&str>]) -> Result<()> + Sync,
) -> Result<FastScan<S>> {
    scan_parallel_with(
        path,
        columns,
        threads,
        &init,
        &visit,
        |_| (),
        |state, (), layout, block| {
            block::scan_block(block, layout.delim, &layout.slot_of, layout.slots, |cells| {
                visit(state, cells).is_ok()
            })
        },
    )
}

/// `scan_parallel` with each column read as its `kinds` says: a plain CSV's wanted
/// fields are decoded in the same pass that finds them (`typed::Decoder`); quoted CSVs hand
/// their cells through `Value::from_cell`, Parquet files their numbers as they are stored
/// (`parquet::scan_parallel_typed`). Category ids are per part.
pub fn scan_parallel_typed<S: Send>(
    path: &Path,
    columns: &[String],
    kinds: &[typed::Kind],
    threads: usize,
    init: impl Fn(usize) -> S + Sync,
    visit: impl Fn(&mut S, &[typed::Value<'_>]) -> Result<()> + Sync,
) -> Result<FastScan<S>> {
    if parquet::is_parquet(path) {
        // Numbers straight from the column readers; any error: the sequential scan reports it.
        return Ok(parquet::scan_parallel_typed(path, columns, kinds, threads, init, visit)
            .ok()
            .into());
    }
    let cells = |state: &mut S, cells: &[Option<&str>]| typed::with_values(cells, kinds, |v| visit(state, v));
    scan_parallel_with(
        path,
        columns,
        threads,
        &init,
        &cells,
        |layout| {
            let plan = layout.slot_of.iter().map(|s| s.map(|s| (s, kinds[s]))).collect();
            typed::Decoder::new(layout.delim, plan, layout.slots)
        },
        |state, decoder, _, block| decoder.scan_block(block, |values| visit(state, values).is_ok()),
    )
}

/// Where the wanted columns are in each line of a plain CSV part.
struct Layout {
    delim: u8,
    /// Per field: its slot among the wanted cells.
    slot_of: Vec<Option<usize>>,
    slots: usize,
}

/// The parallel scan behind both front ends: `part` makes each plain-CSV part's reader,
/// `block` reads one block of whole lines with it; `visit` takes the cells of Parquet and
/// quoted CSV.
fn scan_parallel_with<S: Send, P>(
    path: &Path,
    columns: &[String],
    threads: usize,
    init: &(impl Fn(usize) -> S + Sync),
    visit: &(impl Fn(&mut S, &[Option<&str>]) -> Result<()> + Sync),
    part: impl Fn(&Layout) -> P + Sync,
    block: impl Fn(&mut S, &mut P, &Layout, &[u8]) -> Option<u64> + Sync,
) -> Result<FastScan<S>> {
    use std::io::{Seek, SeekFrom};
    if parquet::is_parquet(path) {
        // Any error: the sequential scan reports it with its row number.
        return Ok(parquet::scan_parallel(path, columns, threads, init, visit).ok().into());
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let delim = if name.ends_with(".csv") {
        b','
    } else if name.ends_with(".tsv") {
        b'\t'
    } else {
        return Ok(FastScan::Fallback);
    };
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = vec![0u8; len.min(64 * 1024) as usize];
    let n = read_full(&mut f, &mut head).map_err(|e| Error::io(path, e))?;
    head.truncate(n);
    let Some(eol) = memchr::memchr(b'\n', &head) else {
        return Ok(FastScan::Fallback);
    };
    let header = std::str::from_utf8(&head[..eol])
        .map_err(|_| Error::input(format!("{}:1", path.display()), "header is not UTF-8"))?;
    let names: Vec<String> = match csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delim)
        .from_reader(header.trim_end_matches('\r').as_bytes())
        .records()
        .next()
    {
        Some(Ok(rec)) => rec.iter().map(|h| h.trim().to_string()).collect(),
        _ => return Ok(FastScan::Fallback),
    };
    let Some(idx) = columns
        .iter()
        .map(|c| names.iter().position(|h| h == c))
        .collect::<Option<Vec<usize>>>()
    else {
        return Ok(FastScan::Fallback);
    };
    // A column asked for twice has one slot per field in a line: the sequential scan.
    if (1..idx.len()).any(|i| idx[..i].contains(&idx[i])) {
        return Ok(FastScan::Fallback);
    }
    let ncols = names.len();
    let data_start = eol as u64 + 1;
    // Split [data_start, len) into ranges; each range after the first starts after a newline.
    let threads = threads.max(1).min(((len - data_start) / (1 << 20)).max(1) as usize);
    let mut bounds = vec![data_start];
    for i in 1..threads {
        let guess = data_start + (len - data_start) * i as u64 / threads as u64;
        f.seek(SeekFrom::Start(guess)).map_err(|e| Error::io(path, e))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut pos = guess;
        loop {
            let n = read_full(&mut f, &mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                pos = len;
                break;
            }
            if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                pos += i as u64 + 1;
                break;
            }
            pos += n as u64;
        }
        bounds.push(pos.max(*bounds.last().unwrap_or(&data_start)));
    }
    bounds.push(len);
    let mut slot_of: Vec<Option<usize>> = vec![None; ncols];
    for (slot, &i) in idx.iter().enumerate() {
        slot_of[i] = Some(slot);
    }
    let layout = Layout {
        delim,
        slot_of,
        slots: idx.len(),
    };
    let parts = bounds.len() - 1;
    // A quote anywhere: the parts are cut again at record boundaries and parsed as CSV.
    let quoted = std::sync::atomic::AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                let (init, part, block, quoted, layout) = (&init, &part, &block, &quoted, &layout);
                scope.spawn(move || -> Result<Option<(S, u64)>> {
                    let mut state = init(parts);
                    let mut reader = part(layout);
                    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
                    f.seek(SeekFrom::Start(start)).map_err(|e| Error::io(path, e))?;
                    let mut remaining = end - start;
                    let mut buf = vec![0u8; 1 << 20];
                    let mut carry: Vec<u8> = Vec::new();
                    let mut rows = 0u64;
                    while remaining > 0 {
                        let want = remaining.min(buf.len() as u64) as usize;
                        let n = read_full(&mut f, &mut buf[..want]).map_err(|e| Error::io(path, e))?;
                        if n == 0 {
                            break;
                        }
                        remaining -= n as u64;
                        if memchr::memchr(b'"', &buf[..n]).is_some() {
                            quoted.store(true, std::sync::atomic::Ordering::Relaxed);
                            return Ok(None);
                        }
                        carry.extend_from_slice(&buf[..n]);
                        let last_nl = if remaining == 0 {
                            Some(carry.len())
                        } else {
                            memchr::memrchr(b'\n', &carry)
                        };
                        let Some(cut) = last_nl else { continue };
                        match block(&mut state, &mut reader, layout, &carry[..cut]) {
                            Some(n) => rows += n,
                            None => return Ok(None),
                        }
                        let consumed = (cut + 1).min(carry.len());
                        carry.drain(..consumed);
                    }
                    Ok(Some((state, rows)))
                })
            })
            .collect();
        join_parts(handles)
    });
    if quoted.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(quoted::scan(path, delim, data_start, len, &idx, ncols, threads, init, visit)?.into());
    }
    Ok(results?.into())
}

/// A scan thread: its part's state and row count, `None` when it gave up.
pub(crate) type PartHandle<'s, S> = std::thread::ScopedJoinHandle<'s, Result<Option<(S, u64)>>>;

/// Wait for the scan threads of one file: each part's state and row count in file order,
/// or `None` when any part gave up; an I/O error (or a panic) of any part is the error.
pub(crate) fn join_parts<S>(handles: Vec<PartHandle<'_, S>>) -> Result<Option<(Vec<S>, u64)>> {
    let mut states = Vec::with_capacity(handles.len());
    let mut rows = 0;
    let mut gave_up = false;
    for h in handles {
        match h
            .join()
            .unwrap_or_else(|_| Err(Error::State("scan thread panicked".into())))?
        {
            Some((s, n)) => {
                states.push(s);
                rows += n;
            }
            None => gave_up = true,
        }
    }
    Ok((!gave_up).then_some((states, rows)))
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The header row of a CSV/TSV file (compressed too), or a Parquet file's columns, into `out`.
pub fn scan_header(path: &Path, out: &mut Vec<String>) -> Result<()> {
    if parquet::is_parquet(path) {
        out.extend(parquet::columns(path)?);
        return Ok(());
    }
    let (reader, name) = open(path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(if name.ends_with(".tsv") { b'\t' } else { b',' })
        .from_reader(reader);
    let headers = rdr.headers().map_err(|e| {
        Error::input(
            format!("{}:1", path.display()),
            format!("cannot read the header row: {e}"),
        )
    })?;
    out.extend(headers.iter().map(|h| h.trim().to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quoted fields holding the delimiter, escaped quotes and newlines: the parallel scan
    /// takes them (no fallback to one thread) and sees exactly the sequential scan's rows.
    #[test]
    fn quoted_csv_is_scanned_in_parallel_like_the_sequential_scan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quoted.csv");
        let mut text = String::from("\"name, quoted\",value,note\n");
        for i in 0..120_000u64 {
            let note = match i % 4 {
                0 => "\"line one\nline two\"".to_string(),
                1 => "\"a \"\"quote\"\", and a comma\"".to_string(),
                2 => String::new(),
                _ => format!("plain{i}"),
            };
            text.push_str(&format!("\"n{}\",{}.5,{note}\n", i % 13, i % 1000));
        }
        std::fs::write(&path, &text).unwrap();
        let cols = vec!["name, quoted".to_string(), "value".to_string(), "note".to_string()];
        let mut seq: (u64, f64, u64) = (0, 0.0, 0);
        scan(&path, &cols, |_, c| {
            seq.0 += 1;
            seq.1 += parse_f64(c[1].unwrap()).unwrap();
            seq.2 += c[2].map_or(0, |n| n.len() as u64);
            Ok(())
        })
        .unwrap();
        let fast = scan_parallel(
            &path,
            &cols,
            4,
            |_| (0u64, 0.0f64, 0u64),
            |st, c| {
                st.0 += 1;
                st.1 += parse_f64(c[1].ok_or_else(|| Error::State("empty".into()))?).unwrap_or(f64::NAN);
                st.2 += c[2].map_or(0, |n| n.len() as u64);
                Ok(())
            },
        )
        .unwrap();
        let FastScan::Done(parts, rows) = fast else {
            panic!("a quoted CSV fell back to one thread")
        };
        assert!(parts.len() > 1, "{} part(s)", parts.len());
        let total = parts.iter().fold((0, 0.0, 0), |a, p| (a.0 + p.0, a.1 + p.1, a.2 + p.2));
        assert_eq!(rows, 120_000);
        assert_eq!((total.0, total.2), (seq.0, seq.2));
        assert!((total.1 - seq.1).abs() < 1e-6);
    }

    proptest::proptest! {
        /// Decimals as CSV writers print them (and junk): `parse_f64` agrees with
        /// `str::parse` bit for bit.
        #[test]
        fn parse_f64_equals_std_on_decimals(s in "[-+]?[0-9]{0,17}(\\.[0-9]{0,17})?", junk in "[0-9.eE+-]{0,12}") {
            for t in [&s, &junk] {
                let want = t.parse::<f64>().ok().filter(|v| v.is_finite());
                let got = parse_f64(t);
                proptest::prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{}", t);
            }
        }
    }

    #[test]
    fn parse_f64_agrees_with_std_and_refuses_non_numbers() {
        for s in [
            "0",
            "-0.0",
            "1.5",
            "+2",
            ".5",
            "5.",
            "1e-7",
            "-3.25E+10",
            "123456789012345678901234567890",
            "0.1234",
        ] {
            assert_eq!(parse_f64(s), s.parse::<f64>().ok(), "{s}");
        }
        for s in ["", "abc", "1,5", "1.2.3", "NaN", "inf", "-infinity", "1e999", " 1"] {
            assert_eq!(parse_f64(s), None, "{s}");
        }
    }
}
