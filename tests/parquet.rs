//! Parquet (`fixtures/abtest/experiment.parquet`, written by pandas + pyarrow with snappy
//! pages and 1000-row row groups: `fixtures/abtest/make_parquet.py`) and zstd-compressed
//! CSV read exactly as the CSV they came from: the same A/B analysis and the same drift
//! profile.

use crate::common;

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

fn mlctl() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("mlctl").unwrap();
    c.env("NO_COLOR", "1");
    c
}

fn fixture(name: &str) -> PathBuf {
    common::fixture(&format!("abtest/{name}"))
}

fn analyze(file: &Path) -> Value {
    let out = mlctl()
        .args(["abtest", "analyze"])
        .arg(file)
        .args(["--metric", "converted:binary", "--metric", "revenue:mean", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every number of `a` equals the one at the same place in `b` to 1e-9 (relative).
fn same_numbers(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                same_numbers(p, q, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            for (k, p) in x {
                // `sample`: values kept by a seeded reservoir per part; the parts of a
                // Parquet file (row groups) are not the CSV's (byte ranges).
                if k == "file" || k == "files" || k == "input" || k == "sample" {
                    continue;
                }
                same_numbers(p, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn parquet_and_zstd_csv_give_the_csv_analysis() {
    let csv = analyze(&fixture("experiment.csv"));
    same_numbers(&analyze(&fixture("experiment.parquet")), &csv, "parquet");
    let dir = tempfile::tempdir().unwrap();
    let zst = dir.path().join("experiment.csv.zst");
    let raw = std::fs::read(fixture("experiment.csv")).unwrap();
    std::fs::write(&zst, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    same_numbers(&analyze(&zst), &csv, "csv.zst");
}

#[test]
fn a_drift_profile_of_parquet_equals_the_csvs() {
    let dir = tempfile::tempdir().unwrap();
    let profile = |file: &Path, out: &str| -> Value {
        let path = dir.path().join(out);
        mlctl()
            .args([
                "drift",
                "baseline",
                "--columns",
                "variant,revenue,clicks,converted",
                "--out",
            ])
            .arg(&path)
            .arg(file)
            .assert()
            .success();
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let a = profile(&fixture("experiment.csv"), "csv.json");
    let b = profile(&fixture("experiment.parquet"), "parquet.json");
    same_numbers(&b["columns"], &a["columns"], "columns");
    // A column with nulls: counted as missing, not as values.
    let out = mlctl()
        .args(["drift", "baseline", "--columns", "score", "--out"])
        .arg(dir.path().join("score.json"))
        .arg(fixture("experiment.parquet"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let score: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("score.json")).unwrap()).unwrap();
    let text = score.to_string();
    assert!(text.contains("\"missing\":645"), "645 of 4510 rows are null: {text}");
}

#[test]
fn unreadable_parquet_and_missing_columns_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, "variant,converted\nb,1\n").unwrap();
    mlctl()
        .args(["abtest", "analyze"])
        .arg(&bad)
        .args(["--metric", "converted:binary"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("bad.parquet").and(predicates::str::contains("not a readable Parquet file")));
    mlctl()
        .args(["abtest", "analyze"])
        .arg(fixture("experiment.parquet"))
        .args(["--metric", "nope:binary"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no column \"nope\""));
}
