//! Typed decoding of a block of whole, unquoted CSV lines: each wanted field is read
//! straight into what its reader needs (a number, a 0/1 flag, a small category id, or
//! text) in one pass over the bytes, with no split-then-parse round trip.
//!
//! The fast path works on fixed 8-byte windows with word arithmetic (SWAR), so its work
//! per field does not branch on the data: a plain decimal (`-?d{1,7}(.d{1,7})?`) is found
//! and converted by the eight-digit multiply of Lemire's fast_float (`parse_eight_digits`)
//! and one correctly rounded division (Clinger's exact case: both operands below 2^53),
//! so it is bit-identical to `parse_f64`; a category of 1–7 ASCII bytes is a packed `u64`
//! compared against at most eight known keys. Any other field (longer numbers, exponents,
//! spaces to trim, a `\r`, non-ASCII, an empty cell) takes the general path: found with
//! `memchr2`, trimmed, checked for UTF-8 and, for numbers, parsed by `parse_f64`, exactly
//! as `block::scan_block` hands cells to the untyped readers.

/// What a wanted column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number: `Value::Num` when the cell parses (`parse_f64`), else `Value::Text`.
    Number,
    /// A 0/1 flag: `Value::Num(0.0 | 1.0)` for exactly `0` or `1`, else `Value::Text`
    /// (the caller decides what else it accepts, e.g. `true`).
    Flag,
    /// A label with few distinct values: `Value::Cat` with an id stable within one
    /// decoder and column (its first eight distinct labels of up to 7 ASCII bytes), else
    /// `Value::Text`.
    Category,
    /// Text as it is.
    Text,
}

/// One decoded cell. Cells are trimmed of spaces and tabs; an empty cell is `Empty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Empty,
    Num(f64),
    Cat(u32, &'a str),
    Text(&'a str),
}

impl<'a> Value<'a> {
    /// A cell as the untyped readers see it (a number must be parsed: `Kind::Number`).
    pub fn from_cell(cell: Option<&'a str>, kind: Kind) -> Self {
        match cell {
            None => Value::Empty,
            Some(s) => match kind {
                Kind::Number => super::parse_f64(s).map_or(Value::Text(s), Value::Num),
                Kind::Flag => match s {
                    "0" => Value::Num(0.0),
                    "1" => Value::Num(1.0),
                    _ => Value::Text(s),
                },
                Kind::Category | Kind::Text => Value::Text(s),
            },
        }
    }
}

/// `f` of the cells typed by their columns' kinds (`Value::from_cell`); no allocation
/// for up to 16 cells.
pub fn with_values<R>(cells: &[Option<&str>], kinds: &[Kind], f: impl FnOnce(&[Value<'_>]) -> R) -> R {
    with_slice(cells.len(), Value::Empty, |i| Value::from_cell(cells[i], kinds[i]), f)
}

/// `f` of the slice `[item(0), …, item(n - 1)]`, built on the stack for up to 16 items
/// (one row's cells or values, handed to a visitor per row) and in a `Vec` past that.
pub fn with_slice<T: Copy, R>(n: usize, empty: T, mut item: impl FnMut(usize) -> T, f: impl FnOnce(&[T]) -> R) -> R {
    let mut stack = [empty; 16];
    if n <= stack.len() {
        for (i, slot) in stack.iter_mut().enumerate().take(n) {
            *slot = item(i);
        }
        f(&stack[..n])
    } else {
        f(&(0..n).map(item).collect::<Vec<_>>())
    }
}

/// Up to this many labels of a column get ids: a `Value::Cat` id is always below it, so
/// readers can keep per-id state in a fixed array.
pub const IDS: usize = 8;
const DICT: usize = IDS;
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const POW10: [f64; 8] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];
const POW10_INT: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// One scan part's decoder: the field plan and the part's category ids.
#[derive(Debug, Clone)]
pub struct Decoder {
    delim: u8,
    /// Per field of a line: its slot among the wanted cells and its kind.
    plan: Vec<Option<(usize, Kind)>>,
    slots: usize,
    /// Per slot: its category keys (packed label bytes and length) and how many.
    dicts: Vec<([u64; DICT], usize)>,
}

impl Decoder {
    /// `plan[f]`: where field `f` of each line goes among `slots` wanted cells, and how
    /// it is read (`None`: skipped).
    pub fn new(delim: u8, plan: Vec<Option<(usize, Kind)>>, slots: usize) -> Self {
        Decoder {
            delim,
            plan,
            slots,
            dicts: vec![([0; DICT], 0); slots],
        }
    }

    /// Visit each non-empty line of `block` with its wanted cells. `None` when a line
    /// has another number of fields than the plan, a wanted cell is not UTF-8, or the
    /// visitor says stop (the same refusals as `block::scan_block`).
    pub fn scan_block<'b>(&mut self, block: &'b [u8], mut visit: impl FnMut(&[Value<'b>]) -> bool) -> Option<u64> {
        let n = block.len();
        let ncols = self.plan.len();
        let mut values = vec![Value::Empty; self.slots];
        // Each category id's text, checked for UTF-8 once per block.
        let mut names: Vec<[&'b str; DICT]> = vec![[""; DICT]; self.slots];
        let mut rows = 0u64;
        let mut p = 0usize;
        while p < n {
            // An empty line (or "\r") is skipped, as the sequential reader does.
            match (block[p], at(block, p + 1)) {
                (b'\n', _) => {
                    p += 1;
                    continue;
                }
                (b'\r', b'\n') => {
                    p += 2;
                    continue;
                }
                _ => {}
            }
            for f in 0..ncols {
                let end = match self.plan[f] {
                    Some((slot, kind)) => {
                        let (v, end) = self.field(block, p, kind, slot, &mut names[slot])?;
                        values[slot] = v;
                        end
                    }
                    None => field_end(block, p, self.delim),
                };
                let last = f + 1 == ncols;
                let t = at(block, end);
                if (t == self.delim && last) || (t == b'\n' && !last) {
                    return None;
                }
                p = end + 1;
            }
            if !visit(&values) {
                return None;
            }
            rows += 1;
        }
        Some(rows)
    }

    /// The cell starting at `p` and the position of its terminator (delimiter, newline
    /// or the block's end).
    #[inline(always)]
    fn field<'b>(
        &mut self,
        block: &'b [u8],
        p: usize,
        kind: Kind,
        slot: usize,
        names: &mut [&'b str; DICT],
    ) -> Option<(Value<'b>, usize)> {
        let fast = match kind {
            Kind::Number => number(block, p, self.delim).map(|(x, end)| (Value::Num(x), end)),
            Kind::Flag => {
                let c = at(block, p);
                let t = at(block, p + 1);
                ((c == b'0' || c == b'1') && (t == self.delim || t == b'\n'))
                    .then(|| (Value::Num(f64::from(c - b'0')), p + 1))
            }
            Kind::Category => self.category(block, p, slot, names),
            Kind::Text => None,
        };
        if fast.is_some() {
            return fast;
        }
        let pos = field_end(block, p, self.delim);
        let (a, b) = super::block::cell_range(block, p, pos, at(block, pos) == b'\n');
        let s = std::str::from_utf8(&block[a..b]).ok()?;
        let cell = (!s.is_empty()).then_some(s);
        Some((Value::from_cell(cell, kind), pos))
    }

    /// A label of 1–7 printable ASCII bytes (no space or tab at its ends) among the
    /// first `DICT` distinct ones: its id, without a branch on which one it is.
    #[inline(always)]
    fn category<'b>(
        &mut self,
        block: &'b [u8],
        p: usize,
        slot: usize,
        names: &mut [&'b str; DICT],
    ) -> Option<(Value<'b>, usize)> {
        let w = load8(block, p);
        let stop = zero_bytes(w ^ (ONES * u64::from(self.delim))) | zero_bytes(w ^ (ONES * u64::from(b'\n')));
        let len = (stop.trailing_zeros() / 8) as usize;
        if len == 0 || len == 8 {
            return None;
        }
        let key = w & ((1u64 << (8 * len)) - 1);
        let first = w as u8;
        let last = (w >> (8 * (len - 1))) as u8;
        if key & HIGH != 0 || matches!(first, b' ' | b'\t') || matches!(last, b' ' | b'\t' | b'\r') {
            return None;
        }
        // Byte 7 of a key is always 0 (len ≤ 7): the length goes there, so no key is 0.
        let packed = key | ((len as u64) << 56);
        // Over the keys in use: a count that soon stops changing, so a loop the branch
        // predictor learns; which key matches is a select, not a branch.
        let (keys, used) = &mut self.dicts[slot];
        let mut id = DICT;
        for (i, &k) in keys[..*used].iter().enumerate() {
            id = if k == packed { i } else { id };
        }
        if id == DICT {
            if *used == DICT {
                return None;
            }
            id = *used;
            keys[id] = packed;
            *used += 1;
        }
        if names[id].is_empty() {
            names[id] = std::str::from_utf8(&block[p..p + len]).ok()?;
        }
        Some((Value::Cat(id as u32, names[id]), p + len))
    }
}

/// The byte at `i`, or a newline past the end (the block's end ends its last line).
#[inline]
fn at(block: &[u8], i: usize) -> u8 {
    block.get(i).copied().unwrap_or(b'\n')
}

/// The position of the delimiter or newline ending the field that starts at `p`.
fn field_end(block: &[u8], p: usize, delim: u8) -> usize {
    match block.get(p..) {
        Some(rest) => memchr::memchr2(delim, b'\n', rest).map_or(block.len(), |i| p + i),
        None => block.len(),
    }
}

/// Eight bytes from `p`, little-endian (byte 0 is `block[p]`); newlines past the end.
#[inline]
fn load8(block: &[u8], p: usize) -> u64 {
    match block.get(p..p + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([b'\n'; 8])),
        None => {
            let mut w = [b'\n'; 8];
            let rest = block.get(p..).unwrap_or(&[]);
            w[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(w)
        }
    }
}

/// High bit set in each byte of `x` that is zero, at least for the lowest zero byte
/// (bytes above it may be false positives: use `trailing_zeros` only).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// How many of the window's first bytes are ASCII digits (0–8), and the window with
/// each byte minus `'0'`.
#[inline]
fn digits(w: u64) -> (usize, u64) {
    let t = w ^ (ONES * 0x30);
    // A byte is a digit iff t ≤ 9: adding 0x76 to its low 7 bits sets bit 7 otherwise
    // (no carry crosses bytes: 0x7f + 0x76 < 0x100), and t ≥ 0x80 sets it already.
    let non_digit = (((t & !HIGH) + ONES * 0x76) | t) & HIGH;
    ((non_digit.trailing_zeros() / 8) as usize, t)
}

/// The value of the first `n` (1–7) digit values of `t`, byte 0 the most significant:
/// shifted up so they are the last of eight, then Lemire's eight-digit multiply.
#[inline]
fn digits_value(t: u64, n: usize) -> u64 {
    let v = t << (8 * (8 - n));
    let v = (v.wrapping_mul(10)).wrapping_add(v >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100)).wrapping_add(v >> 16) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000)).wrapping_add(v >> 32) & 0xFFFF_FFFF
}

/// A plain decimal `-?d{1,7}(.d{1,7})?` at `p` followed by the delimiter, a newline or
/// the end: its value (exactly `parse_f64`'s) and where it ends; `None` for anything
/// else.
#[inline(always)]
fn number(block: &[u8], p: usize, delim: u8) -> Option<(f64, usize)> {
    let neg = at(block, p) == b'-';
    let q = p + usize::from(neg);
    let (n1, t1) = digits(load8(block, q));
    if n1 == 0 || n1 == 8 {
        return None;
    }
    let int = digits_value(t1, n1);
    let mut end = q + n1;
    let (m, k) = if at(block, end) == b'.' {
        let (n2, t2) = digits(load8(block, end + 1));
        if n2 == 0 || n2 == 8 {
            return None;
        }
        end += 1 + n2;
        (int * POW10_INT[n2] + digits_value(t2, n2), n2)
    } else {
        (int, 0)
    };
    let t = at(block, end);
    if t != delim && t != b'\n' {
        return None;
    }
    // m < 10^14 < 2^53 and 10^k are exact: one IEEE division rounds the decimal correctly.
    // (Through i64: a signed conversion is one instruction on x86-64, and m fits.)
    let x = m as i64 as f64 / POW10[k];
    // The sign as a bit, not a branch: signs of real data are a coin toss to a predictor.
    Some((f64::from_bits(x.to_bits() | (u64::from(neg) << 63)), end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The untyped scan's cells, typed by `Value::from_cell`.
    fn reference<'a>(block: &'a str, kinds: &[Option<Kind>]) -> Option<Vec<Vec<Value<'a>>>> {
        let want: Vec<usize> = (0..kinds.len()).filter(|&i| kinds[i].is_some()).collect();
        let mut slot_of = vec![None; kinds.len()];
        for (s, &i) in want.iter().enumerate() {
            slot_of[i] = Some(s);
        }
        // The visitor's cells cannot outlive it: keep their places in the block.
        let mut out: Vec<Vec<Value<'_>>> = Vec::new();
        let mut rows: Vec<Vec<Option<(usize, usize)>>> = Vec::new();
        let base = block.as_ptr() as usize;
        super::super::block::scan_block(block.as_bytes(), b',', &slot_of, want.len(), |cells| {
            rows.push(
                cells
                    .iter()
                    .map(|c| c.map(|s| (s.as_ptr() as usize - base, s.len())))
                    .collect(),
            );
            true
        })?;
        for r in rows {
            out.push(
                r.iter()
                    .zip(&want)
                    .map(|(c, &i)| Value::from_cell(c.map(|(a, l)| &block[a..a + l]), kinds[i].unwrap_or(Kind::Text)))
                    .collect(),
            );
        }
        Some(out)
    }

    fn typed<'a>(block: &'a str, kinds: &[Option<Kind>]) -> Option<Vec<Vec<Value<'a>>>> {
        let mut plan = Vec::new();
        let mut slots = 0;
        for k in kinds {
            plan.push(k.map(|k| {
                slots += 1;
                (slots - 1, k)
            }));
        }
        let mut dec = Decoder::new(b',', plan, slots);
        let mut ids: Vec<(usize, u32, &str)> = Vec::new();
        let mut out: Vec<Vec<Value<'a>>> = Vec::new();
        dec.scan_block(block.as_bytes(), |vals| {
            out.push(vals.to_vec());
            true
        })?;
        // Ids are consistent: one label per id of a column.
        for row in &out {
            for (col, v) in row.iter().enumerate() {
                if let Value::Cat(id, s) = *v {
                    match ids.iter().find(|(c, i, _)| (*c, *i) == (col, id)) {
                        Some(&(_, _, t)) => assert_eq!(t, s, "column {col} id {id}"),
                        None => ids.push((col, id, s)),
                    }
                }
            }
        }
        // Compare as the untyped reader would see them: a Cat is its text.
        Some(
            out.into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|v| match v {
                            Value::Cat(_, s) => Value::Text(s),
                            v => v,
                        })
                        .collect()
                })
                .collect(),
        )
    }

    fn same(a: &Option<Vec<Vec<Value<'_>>>>, b: &Option<Vec<Vec<Value<'_>>>>) -> bool {
        // Bit-identical numbers (-0.0 is not 0.0).
        let key = |v: &Value<'_>| match v {
            Value::Num(x) => format!("n{}", x.to_bits()),
            Value::Text(s) | Value::Cat(_, s) => format!("t{s}"),
            Value::Empty => "e".into(),
        };
        let flat = |x: &Option<Vec<Vec<Value<'_>>>>| {
            x.as_ref().map(|r| {
                r.iter()
                    .map(|r| r.iter().map(key).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            })
        };
        flat(a) == flat(b)
    }

    fn kind_of(i: u8) -> Option<Kind> {
        [
            None,
            Some(Kind::Number),
            Some(Kind::Flag),
            Some(Kind::Category),
            Some(Kind::Text),
        ][i as usize % 5]
    }

    proptest! {
        /// Blocks of numbers, flags, labels and junk (spaces, CRs, empty lines and
        /// cells, exponents, long digit runs, non-ASCII): the typed decoder hands the
        /// same cells as the untyped scan parsed afterwards, numbers bit for bit, or
        /// both refuse the block.
        #[test]
        fn typed_cells_equal_the_untyped_scan_parsed(
            lines in proptest::collection::vec(proptest::collection::vec(
                "(-?[0-9]{0,9}(\\.[0-9]{0,9})?|[01]|[a-e]{1,9}|[ \t]?[0-9.eE+-]{0,6}[ \t\r]?|é|)", 3), 0..24),
            crlf in any::<bool>(), trailing in any::<bool>(), kinds in proptest::collection::vec(0u8..5, 3),
            odd in proptest::option::of((0usize..24, any::<bool>())),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut lines = lines;
            // Now and then one line with a field too few or too many.
            if let Some((i, more)) = odd && i < lines.len() {
                if more { lines[i].push("9".into()) } else { lines[i].pop(); }
            }
            let mut block = lines.iter().map(|f| f.join(",")).collect::<Vec<_>>().join(eol);
            if trailing {
                block.push_str(eol);
            }
            let kinds: Vec<Option<Kind>> = kinds.into_iter().map(kind_of).collect();
            let (want, got) = (reference(&block, &kinds), typed(&block, &kinds));
            prop_assert!(same(&want, &got), "{block:?} {kinds:?}\n{want:?}\n{got:?}");
        }

        /// Plain decimals of up to 7 + 7 digits: the fast path's value is `parse_f64`'s.
        #[test]
        fn fast_decimals_are_bit_identical_to_parse_f64(int in "-?[0-9]{1,7}", frac in "(\\.[0-9]{1,7})?") {
            let s = format!("{int}{frac}");
            let (x, end) = number(s.as_bytes(), 0, b',').unwrap();
            prop_assert_eq!(end, s.len());
            prop_assert_eq!(Some(x.to_bits()), super::super::parse_f64(&s).map(f64::to_bits), "{}", s);
        }
    }

    #[test]
    fn the_fast_paths_take_what_they_should_and_nothing_else() {
        assert_eq!(number(b"12.345,x", 0, b','), Some((12.345, 6)));
        assert_eq!(
            number(b"-0\n", 0, b',').map(|(x, _)| x.to_bits()),
            Some((-0.0f64).to_bits())
        );
        for s in ["1e5", "12345678", "1.", ".5", "+1", "-", "1 ", "0x1", "1.23456789"] {
            assert_eq!(number(s.as_bytes(), 0, b','), None, "{s}");
        }
        let mut dec = Decoder::new(b',', vec![Some((0, Kind::Category))], 1);
        let labels = [
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "g",
            "h",
            "i",
            "a",
            "control",
            "long label",
        ];
        let block = labels.join("\n");
        let mut seen = Vec::new();
        dec.scan_block(block.as_bytes(), |v| {
            seen.push(v[0]);
            true
        })
        .unwrap();
        assert_eq!(seen[0], Value::Cat(0, "a"));
        assert_eq!(seen[7], Value::Cat(7, "h"));
        assert_eq!(seen[8], Value::Text("i"), "a ninth label has no id");
        assert_eq!(seen[9], Value::Cat(0, "a"));
        assert_eq!(seen[11], Value::Text("long label"));
    }

    #[test]
    fn digits_value_reads_one_to_seven_digits() {
        for s in ["0", "7", "42", "907", "1234567", "0000001"] {
            let mut w = [b'\n'; 8];
            w[..s.len()].copy_from_slice(s.as_bytes());
            let (n, t) = digits(u64::from_le_bytes(w));
            assert_eq!(n, s.len());
            assert_eq!(digits_value(t, n), s.parse::<u64>().unwrap(), "{s}");
        }
    }
}
