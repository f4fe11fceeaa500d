//! The inner loop of the parallel CSV scan: one block of whole, unquoted lines, split in
//! one pass over the delimiter and newline positions (`memchr2`, SIMD), handing the
//! wanted cells of each line to the visitor. No per-line allocation; only the wanted
//! cells are checked for UTF-8.

/// `slot_of[f]`: where field `f` goes among the wanted cells (`None`: not wanted).
/// Visits each non-empty line; `None` when a line has another number of fields than
/// `slot_of.len()`, a wanted cell is not UTF-8, or the visitor says stop.
pub fn scan_block(
    block: &[u8],
    delim: u8,
    slot_of: &[Option<usize>],
    slots: usize,
    mut visit: impl FnMut(&[Option<&str>]) -> bool,
) -> Option<u64> {
    let ncols = slot_of.len();
    // One UTF-8 check for the whole block (cells are then slices of it, cut at ASCII
    // delimiters, so always on character boundaries); per cell only when it fails.
    let text = std::str::from_utf8(block).ok();
    let mut ranges: Vec<(usize, usize)> = vec![(0, 0); slots];
    let mut cells: Vec<Option<&str>> = Vec::with_capacity(slots);
    let mut rows = 0u64;
    let mut field = 0usize;
    let mut start = 0usize;
    let mut line_start = 0usize;
    // The end of the block ends its last line as a newline would.
    let ends = memchr::memchr2_iter(delim, b'\n', block).chain(std::iter::once(block.len()));
    for pos in ends {
        let newline = block.get(pos).is_none_or(|&b| b == b'\n');
        if field < ncols
            && let Some(slot) = slot_of[field]
        {
            ranges[slot] = cell_range(block, start, pos, newline);
        }
        field += 1;
        start = pos + 1;
        if !newline {
            continue;
        }
        // An empty line (or "\r") is skipped, as the sequential reader does.
        let line = &block[line_start..pos];
        let fields = std::mem::take(&mut field);
        line_start = start;
        if line.is_empty() || line == b"\r" {
            continue;
        }
        if fields != ncols {
            return None;
        }
        cells.clear();
        for &(a, b) in &ranges {
            let cell = match text {
                Some(t) => t.get(a..b)?,
                None => std::str::from_utf8(&block[a..b]).ok()?,
            };
            cells.push(Some(cell).filter(|c| !c.is_empty()));
        }
        if !visit(&cells) {
            return None;
        }
        rows += 1;
    }
    Some(rows)
}

/// The cell of the field from `start` to its terminator at `pos` (`newline`: the
/// terminator ends the line, as the block's end does): without a `\r` before a line's end
/// and without spaces and tabs at either end, as the sequential reader cuts cells. The
/// one rule of the untyped and the typed (`typed::Decoder`) block readers.
pub(super) fn cell_range(block: &[u8], start: usize, pos: usize, newline: bool) -> (usize, usize) {
    let end = if newline && pos > start && block[pos - 1] == b'\r' {
        pos - 1
    } else {
        pos
    };
    trim_range(block, start, end)
}

/// `block[a..b]` without spaces and tabs at either end.
fn trim_range(block: &[u8], mut a: usize, mut b: usize) -> (usize, usize) {
    while a < b && matches!(block[a], b' ' | b'\t') {
        a += 1;
    }
    while b > a && matches!(block[b - 1], b' ' | b'\t') {
        b -= 1;
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious reader: split lines, then fields; the cells of `want`.
    fn naive(block: &str, ncols: usize, want: &[usize]) -> Option<Vec<Vec<Option<String>>>> {
        let mut out = Vec::new();
        for line in block.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != ncols {
                return None;
            }
            out.push(
                want.iter()
                    .map(|&i| Some(fields[i].trim_matches([' ', '\t']).to_string()).filter(|c| !c.is_empty()))
                    .collect(),
            );
        }
        Some(out)
    }

    fn fast(block: &str, ncols: usize, want: &[usize]) -> Option<Vec<Vec<Option<String>>>> {
        let mut slot_of = vec![None; ncols];
        for (s, &i) in want.iter().enumerate() {
            slot_of[i] = Some(s);
        }
        let mut out = Vec::new();
        scan_block(block.as_bytes(), b',', &slot_of, want.len(), |cells| {
            out.push(cells.iter().map(|c| c.map(str::to_string)).collect());
            true
        })?;
        Some(out)
    }

    proptest! {
        /// Any block of lines of 0–4 fields (spaces, tabs, CRs, empty lines, non-ASCII):
        /// the same rows and cells as the naive reader, or both refuse it.
        #[test]
        fn the_one_pass_splitter_agrees_with_the_naive_reader(
            lines in proptest::collection::vec(proptest::collection::vec("[a-z0-9 \\té.]{0,4}", 1..5), 0..20),
            crlf in any::<bool>(), trailing in any::<bool>(), want in proptest::collection::vec(0usize..3, 0..3),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut block = lines.iter().map(|f| f.join(",")).collect::<Vec<_>>().join(eol);
            if trailing {
                block.push_str(eol);
            }
            let ncols = 3;
            let mut want = want;
            want.sort();
            want.dedup();
            prop_assert_eq!(fast(&block, ncols, &want), naive(&block, ncols, &want));
        }
    }

    #[test]
    fn cells_are_trimmed_and_empty_lines_skipped() {
        let got = fast("a, 1 ,x\n\n b\t,,y\r\nc,3,z", 3, &[0, 1]).unwrap();
        let want = vec![
            vec![Some("a".into()), Some("1".into())],
            vec![Some("b".into()), None],
            vec![Some("c".into()), Some("3".into())],
        ];
        assert_eq!(got, want);
        assert_eq!(fast("a,1\n", 3, &[0]), None, "a short line is refused");
    }
}
