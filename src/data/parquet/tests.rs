//! The column reader against the record API it stands in for: random flat files (every
//! type the column reader takes, required and optional, dictionary or plain pages, several
//! row groups and pages) read both ways must give the same text cells and row numbers, and
//! the typed cells must be `Value::from_cell` of that text.

use std::sync::Arc;

use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Col {
    Bool(Vec<Option<bool>>),
    I32(&'static str, Vec<Option<i32>>),
    I64(Vec<Option<i64>>),
    F32(Vec<Option<f32>>),
    F64(Vec<Option<f64>>),
    Str(Vec<Option<String>>),
}

impl Col {
    fn schema(&self, name: &str, optional: bool) -> String {
        let rep = if optional { "optional" } else { "required" };
        match self {
            Col::Bool(_) => format!("{rep} boolean {name};"),
            Col::I32("", _) => format!("{rep} int32 {name};"),
            Col::I32(ann, _) => format!("{rep} int32 {name} ({ann});"),
            Col::I64(_) => format!("{rep} int64 {name};"),
            Col::F32(_) => format!("{rep} float {name};"),
            Col::F64(_) => format!("{rep} double {name};"),
            Col::Str(_) => format!("{rep} binary {name} (UTF8);"),
        }
    }
}

fn opt<T: std::fmt::Debug + Clone>(v: impl Strategy<Value = T>, rows: usize) -> impl Strategy<Value = Vec<Option<T>>> {
    proptest::collection::vec(proptest::option::weighted(0.85, v), rows)
}

fn col(rows: usize) -> impl Strategy<Value = Col> {
    let f64s = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(1.0),
        (-1e6f64..1e6).prop_map(|x| (x * 1000.0).round() / 1000.0),
    ];
    let ints = prop_oneof![any::<i64>(), -3i64..3, Just(9_007_199_254_740_993i64)];
    prop_oneof![
        opt(any::<bool>(), rows).prop_map(Col::Bool),
        (
            prop_oneof![Just(""), Just("INT_8"), Just("INT_16"), Just("INT_32")],
            opt(any::<i32>(), rows)
        )
            .prop_map(|(a, v)| Col::I32(a, v)),
        opt(ints, rows).prop_map(Col::I64),
        opt(prop_oneof![any::<f32>(), Just(0.1f32), Just(-0.0f32)], rows).prop_map(Col::F32),
        opt(f64s, rows).prop_map(Col::F64),
        opt(
            prop_oneof![
                Just("a".to_string()),
                Just(" b ".to_string()),
                Just(String::new()),
                "\\PC{0,12}"
            ],
            rows
        )
        .prop_map(Col::Str),
    ]
}

/// The values and definition levels of `v` (a required column's nulls written as defaults).
fn levels<T: Clone + Default>(v: &[Option<T>], optional: bool) -> (Vec<T>, Vec<i16>) {
    if !optional {
        return (v.iter().map(|x| x.clone().unwrap_or_default()).collect(), Vec::new());
    }
    (
        v.iter().flatten().cloned().collect(),
        v.iter().map(|x| i16::from(x.is_some())).collect(),
    )
}

/// Write `cols` (each optional or not) as a Parquet file with `group` rows per row group.
fn write(path: &Path, cols: &[(Col, bool)], rows: usize, group: usize, dict: bool, page_rows: usize) {
    let fields: String = cols
        .iter()
        .enumerate()
        .map(|(i, (c, o))| c.schema(&format!("c{i}"), *o))
        .collect();
    let schema = Arc::new(parse_message_type(&format!("message t {{ {fields} }}")).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_dictionary_enabled(dict)
            .set_data_page_row_count_limit(page_rows)
            .set_write_batch_size(page_rows)
            .build(),
    );
    let mut w = SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let mut start = 0;
    while start < rows {
        let end = (start + group).min(rows);
        let mut g = w.next_row_group().unwrap();
        for (c, optional) in cols {
            let mut cw = g.next_column().unwrap().unwrap();
            let defs = |d: Vec<i16>| if *optional { Some(d) } else { None };
            match c {
                Col::Bool(v) => {
                    let (vals, d) = levels(&v[start..end], *optional);
                    cw.typed::<BoolType>()
                        .write_batch(&vals, defs(d).as_deref(), None)
                        .unwrap();
                }
                Col::I32(_, v) => {
                    let (vals, d) = levels(&v[start..end], *optional);
                    cw.typed::<Int32Type>()
                        .write_batch(&vals, defs(d).as_deref(), None)
                        .unwrap();
                }
                Col::I64(v) => {
                    let (vals, d) = levels(&v[start..end], *optional);
                    cw.typed::<Int64Type>()
                        .write_batch(&vals, defs(d).as_deref(), None)
                        .unwrap();
                }
                Col::F32(v) => {
                    let (vals, d) = levels(&v[start..end], *optional);
                    cw.typed::<FloatType>()
                        .write_batch(&vals, defs(d).as_deref(), None)
                        .unwrap();
                }
                Col::F64(v) => {
                    let (vals, d) = levels(&v[start..end], *optional);
                    cw.typed::<DoubleType>()
                        .write_batch(&vals, defs(d).as_deref(), None)
                        .unwrap();
                }
                Col::Str(v) => {
                    let (vals, d) = levels(&v[start..end], *optional);
                    let vals: Vec<ByteArray> = vals.iter().map(|s| ByteArray::from(s.as_str())).collect();
                    cw.typed::<ByteArrayType>()
                        .write_batch(&vals, defs(d).as_deref(), None)
                        .unwrap();
                }
            }
            cw.close().unwrap();
        }
        g.close().unwrap();
        start = end;
    }
    w.close().unwrap();
}

/// Every row's text cells through the record API.
fn by_records(path: &Path, wanted: &[String]) -> Vec<(u64, Vec<Option<String>>)> {
    let reader = open(path).unwrap();
    let (proj, slots) = projection(path, &reader, wanted).unwrap();
    let mut out = Vec::new();
    visit_groups(
        path,
        &reader,
        &proj,
        &slots,
        0..reader.num_row_groups(),
        0,
        |n, cells| {
            out.push((n, cells.iter().map(|c| c.map(str::to_string)).collect()));
            Ok(())
        },
    )
    .unwrap();
    out
}

/// A typed cell as text (a category id is its label's text).
fn shown(v: &Value<'_>) -> String {
    match v {
        Value::Empty => "empty".into(),
        Value::Num(x) => format!("n{x:?}"),
        Value::Text(s) | Value::Cat(_, s) => format!("t{s}"),
    }
}

const KINDS: [Kind; 4] = [Kind::Number, Kind::Flag, Kind::Category, Kind::Text];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_column_reader_reads_what_the_record_api_reads(
        (rows, cols) in (0usize..300).prop_flat_map(|rows| {
            (Just(rows), proptest::collection::vec((col(rows), any::<bool>()), 1..5))
        }),
        group in 1usize..120,
        dict in any::<bool>(),
        page_rows in 1usize..64,
        picks in proptest::collection::vec((0usize..8, 0usize..4), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&path, &cols, rows, group, dict, page_rows);
        let wanted: Vec<String> = picks.iter().map(|(i, _)| format!("c{}", i % cols.len())).collect();
        let kinds: Vec<Kind> = picks.iter().map(|(_, k)| KINDS[*k]).collect();
        let reader = open(&path).unwrap();
        let plan = Plan::new(&reader, &wanted);
        prop_assert!(plan.is_some(), "every column here is one the column reader takes");
        let want = by_records(&path, &wanted);
        prop_assert_eq!(want.len(), rows);

        // Text, sequentially (`scan` takes the column reader).
        let mut got = Vec::new();
        let n = scan(&path, &wanted, |row, cells| {
            got.push((row, cells.iter().map(|c| c.map(str::to_string)).collect::<Vec<_>>()));
            Ok(())
        })
        .unwrap();
        prop_assert_eq!(n as usize, rows);
        prop_assert_eq!(&got, &want);

        // Typed, in parallel: each part's values are `from_cell` of the same text, in order.
        let (parts, n) = scan_parallel_typed(&path, &wanted, &kinds, 3, |_| Vec::new(), |seen: &mut Vec<Vec<String>>, vals| {
            seen.push(vals.iter().map(shown).collect());
            Ok(())
        })
        .unwrap();
        prop_assert_eq!(n as usize, rows);
        let typed: Vec<Vec<String>> = parts.into_iter().flatten().collect();
        let expected: Vec<Vec<String>> = want
            .iter()
            .map(|(_, cells)| {
                cells.iter().zip(&kinds).map(|(c, k)| shown(&Value::from_cell(c.as_deref(), *k))).collect()
            })
            .collect();
        prop_assert_eq!(typed, expected);

        // Text, in parallel.
        let (parts, n) = scan_parallel(&path, &wanted, 2, |_| Vec::new(), |seen: &mut Vec<Vec<Option<String>>>, cells| {
            seen.push(cells.iter().map(|c| c.map(str::to_string)).collect());
            Ok(())
        })
        .unwrap();
        prop_assert_eq!(n as usize, rows);
        let text: Vec<Vec<Option<String>>> = parts.into_iter().flatten().collect();
        let want_text: Vec<Vec<Option<String>>> = want.into_iter().map(|(_, c)| c).collect();
        prop_assert_eq!(text, want_text);
    }
}

#[test]
fn a_category_column_gives_ids_to_its_first_labels_and_text_to_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let labels: Vec<Option<String>> = (0..20)
        .map(|i| {
            Some(if i % 10 == 9 {
                "a-label-longer-than-seven".to_string()
            } else {
                format!("l{}", i % 10)
            })
        })
        .collect();
    write(&path, &[(Col::Str(labels), false)], 20, 7, true, 3);
    let (parts, _) = scan_parallel_typed(
        &path,
        &["c0".to_string()],
        &[Kind::Category],
        1,
        |_| Vec::new(),
        |seen: &mut Vec<String>, v| {
            seen.push(match v[0] {
                Value::Cat(id, s) => format!("{id}:{s}"),
                Value::Text(s) => format!("text:{s}"),
                other => format!("{other:?}"),
            });
            Ok(())
        },
    )
    .unwrap();
    let seen = &parts[0];
    assert_eq!(seen[0], "0:l0");
    assert_eq!(seen[7], "7:l7");
    // Past the first eight labels: text, the same on every row.
    assert_eq!(seen[8], "text:l8");
    assert_eq!(seen[9], "text:a-label-longer-than-seven");
    assert_eq!(seen[10], "0:l0");
    assert_eq!(seen[18], "text:l8");
}

#[test]
fn text_that_is_not_utf8_is_refused_with_its_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let schema = Arc::new(parse_message_type("message t { optional binary s (UTF8); }").unwrap());
    let mut w = SerializedFileWriter::new(std::fs::File::create(&path).unwrap(), schema, Default::default()).unwrap();
    let mut g = w.next_row_group().unwrap();
    let mut cw = g.next_column().unwrap().unwrap();
    let vals = [ByteArray::from("ok"), ByteArray::from(vec![0xffu8, 0xfe])];
    cw.typed::<ByteArrayType>()
        .write_batch(&vals, Some(&[1, 0, 1]), None)
        .unwrap();
    cw.close().unwrap();
    g.close().unwrap();
    w.close().unwrap();
    let err = scan(&path, &["s".to_string()], |_, _| Ok(())).unwrap_err().to_string();
    assert!(err.contains("row 3: column \"s\" is not UTF-8 text"), "{err}");
    assert!(err.contains("t.parquet"), "{err}");
}
