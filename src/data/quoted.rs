//! The parallel scan of a CSV/TSV whose fields are quoted (a quoted field may hold the
//! delimiter, quotes (`""`) and newlines). One pass with `memchr2` finds split points:
//! newlines outside quotes (quote parity from the start of the data, which `""` escapes
//! keep), nearest after each even share of the bytes. Each part is then parsed by the
//! `csv` crate on its own thread. Any malformed row gives up (`None`): the sequential scan
//! reports it with its line number.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};

/// Byte offsets `[data_start, …, len]` splitting the data into at most `parts` ranges at
/// record boundaries.
fn split_points(path: &Path, data_start: u64, len: u64, parts: usize) -> Result<Vec<u64>> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(data_start)).map_err(|e| Error::io(path, e))?;
    let targets: Vec<u64> = (1..parts)
        .map(|i| data_start + (len - data_start) * i as u64 / parts as u64)
        .collect();
    let mut bounds = vec![data_start];
    let mut next = 0;
    let mut in_quotes = false;
    let mut pos = data_start;
    let mut buf = vec![0u8; 1 << 20];
    while next < targets.len() {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        for i in memchr::memchr2_iter(b'"', b'\n', &buf[..n]) {
            if buf[i] == b'"' {
                in_quotes = !in_quotes;
            } else if !in_quotes && pos + i as u64 >= targets[next] {
                bounds.push(pos + i as u64 + 1);
                next += 1;
                if next == targets.len() {
                    break;
                }
            }
        }
        pos += n as u64;
    }
    bounds.push(len);
    bounds.dedup();
    Ok(bounds)
}

/// Scan `[data_start, len)` of `path` in parallel; `idx` are the wanted columns' positions
/// among `ncols`. `None` when a part could not be parsed.
#[allow(clippy::too_many_arguments)]
pub fn scan<S: Send>(
    path: &Path,
    delim: u8,
    data_start: u64,
    len: u64,
    idx: &[usize],
    ncols: usize,
    threads: usize,
    init: &(impl Fn(usize) -> S + Sync),
    visit: &(impl Fn(&mut S, &[Option<&str>]) -> Result<()> + Sync),
) -> Result<Option<(Vec<S>, u64)>> {
    let bounds = split_points(path, data_start, len, threads.max(1))?;
    let parts = bounds.len() - 1;
    std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                scope.spawn(move || -> Result<Option<(S, u64)>> {
                    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
                    f.seek(SeekFrom::Start(start)).map_err(|e| Error::io(path, e))?;
                    let mut rdr = csv::ReaderBuilder::new()
                        .has_headers(false)
                        .delimiter(delim)
                        .flexible(false)
                        .buffer_capacity(1 << 20)
                        .from_reader(f.take(end - start));
                    let mut state = init(parts);
                    let mut rec = csv::ByteRecord::new();
                    let mut rows = 0u64;
                    loop {
                        match rdr.read_byte_record(&mut rec) {
                            Ok(true) => {}
                            Ok(false) => break,
                            Err(_) => return Ok(None),
                        }
                        if rec.len() == 1 && rec.get(0).is_some_and(|c| c.is_empty()) {
                            continue; // a blank line
                        }
                        if rec.len() != ncols {
                            return Ok(None);
                        }
                        let mut cells: Vec<Option<&str>> = Vec::with_capacity(idx.len());
                        for &i in idx {
                            match rec.get(i).map(std::str::from_utf8) {
                                Some(Ok(c)) => cells.push(Some(c.trim()).filter(|c| !c.is_empty())),
                                _ => return Ok(None),
                            }
                        }
                        if visit(&mut state, &cells).is_err() {
                            return Ok(None);
                        }
                        rows += 1;
                    }
                    Ok(Some((state, rows)))
                })
            })
            .collect();
        super::join_parts(handles)
    })
}
