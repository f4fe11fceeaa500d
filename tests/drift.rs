//! `mlctl drift baseline|check` end to end: statistics through the CLI equal scipy's
//! (fixtures/drift/reference.json), exit codes, large-sample behaviour of `auto`, bad input.

use crate::common;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::io::Write;

fn mlctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlctl"));
    c.env("NO_COLOR", "1");
    c
}

fn write_column(path: &std::path::Path, name: &str, values: impl Iterator<Item = f64>) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "{name}").unwrap();
    for v in values {
        writeln!(f, "{v}").unwrap();
    }
}

fn golden(n: u64, scale: f64, shift: f64) -> impl Iterator<Item = f64> {
    (0..n).map(move |i| ((i as f64 * 0.6180339887498949) % 1.0) * scale + shift)
}

fn silver(n: u64, scale: f64, shift: f64) -> impl Iterator<Item = f64> {
    (0..n).map(move |i| ((i as f64 * 0.4142135623730951) % 1.0) * scale + shift)
}

/// `mlctl drift baseline DATA --out PROFILE`, expected to succeed.
fn baseline(data: &std::path::Path, profile: &std::path::Path) {
    mlctl()
        .args(["drift", "baseline"])
        .arg(data)
        .arg("--out")
        .arg(profile)
        .assert()
        .success();
}

/// Standard normal quantile of a uniform draw (clamped away from 0 and 1).
fn normal(u: f64) -> f64 {
    mlctl::stats::dist::norm_ppf(u.clamp(1e-9, 1.0 - 1e-9))
}

fn check_json(baseline: &std::path::Path, current: &std::path::Path, extra: &[&str]) -> (Option<i32>, Value) {
    let out = mlctl()
        .args(["drift", "check", "--baseline"])
        .arg(baseline)
        .arg(current)
        .args(["-o", "json"])
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

#[test]
fn ks_and_wasserstein_through_the_cli_equal_scipy() {
    let r: Value = serde_json::from_slice(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/drift/reference.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // "unequal_n": golden(80) vs silver(125, 1.2, -0.05); the baseline keeps all 80 values.
    let (b, c, p) = (
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
        dir.path().join("p.json"),
    );
    write_column(&b, "x", golden(80, 1.0, 0.0));
    write_column(&c, "x", silver(125, 1.2, -0.05));
    baseline(&b, &p);
    let (_, ks) = check_json(&p, &c, &["--method", "ks"]);
    let want = &r["ks"]["unequal_n"];
    let col = &ks["columns"][0];
    assert!((col["statistic"].as_f64().unwrap() - want["statistic"].as_f64().unwrap()).abs() < 1e-9);
    assert!(
        (col["p_value"].as_f64().unwrap() - want["p_value"].as_f64().unwrap()).abs()
            < 1e-6 * want["p_value"].as_f64().unwrap()
    );
    let (_, w) = check_json(&p, &c, &["--method", "wasserstein"]);
    let xs: Vec<f64> = golden(80, 1.0, 0.0).collect();
    let mean = xs.iter().sum::<f64>() / 80.0;
    let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 79.0).sqrt();
    let want_w = r["wasserstein"]["unequal_n"].as_f64().unwrap() / std;
    let got_w = w["columns"][0]["statistic"].as_f64().unwrap();
    assert!((got_w - want_w).abs() < 1e-6 * want_w, "{got_w} vs {want_w}");
}

#[test]
fn psi_matches_a_hand_computed_value() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, p) = (
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
        dir.path().join("p.json"),
    );
    // baseline 0..100 → 2 bins split at 50; current: 80 values below 50, 20 above
    write_column(&b, "x", (0..100).map(f64::from));
    write_column(
        &c,
        "x",
        (0..80)
            .map(|i| f64::from(i % 50))
            .chain((0..20).map(|i| 50.0 + f64::from(i))),
    );
    mlctl()
        .args(["drift", "baseline", "--bins", "2"])
        .arg(&b)
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    let (_, v) = check_json(&p, &c, &["--method", "psi"]);
    let want = (0.8 - 0.5) * (0.8f64 / 0.5).ln() + (0.2 - 0.5) * (0.2f64 / 0.5).ln();
    assert!((v["columns"][0]["statistic"].as_f64().unwrap() - want).abs() < 1e-12);
    assert_eq!(v["columns"][0]["drift"], true, "PSI {want} ≥ 0.2");
}

#[test]
fn auto_ignores_a_million_same_distribution_rows_and_flags_a_half_sigma_shift() {
    let dir = tempfile::tempdir().unwrap();
    let (b, same, shifted, p) = (
        dir.path().join("b.csv"),
        dir.path().join("same.csv"),
        dir.path().join("shift.csv"),
        dir.path().join("p.json"),
    );
    // standard normal by inverse CDF of well-spread uniforms
    write_column(&b, "score", golden(200_000, 1.0, 0.0).map(normal));
    write_column(&same, "score", silver(1_000_000, 1.0, 0.0).map(normal));
    write_column(&shifted, "score", silver(100_000, 1.0, 0.0).map(|u| normal(u) + 0.5));
    baseline(&b, &p);
    let (code, v) = check_json(&p, &same, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["columns"][0]["method"], "wasserstein");
    assert_eq!(v["columns"][0]["drift"], false);
    let (code, v) = check_json(&p, &shifted, &[]);
    assert_eq!(code, Some(1), "{v}");
    assert!(v["columns"][0]["statistic"].as_f64().unwrap() > 0.4);
    assert_eq!(v["dataset_drift"], true);
}

#[test]
fn categorical_columns_use_chi_square_then_js_and_thresholds_can_be_set_per_column() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, p) = (
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
        dir.path().join("p.json"),
    );
    let mut text = String::from("segment,score\n");
    for i in 0..3000 {
        text.push_str(&format!("{},{}\n", ["a", "b", "c"][i % 3], (i % 100) as f64 / 100.0));
    }
    std::fs::write(&b, text).unwrap();
    let mut text = String::from("segment,score\n");
    for i in 0..600 {
        text.push_str(&format!(
            "{},{}\n",
            ["a", "a", "b", "c", "d"][i % 5],
            (i % 100) as f64 / 100.0
        ));
    }
    std::fs::write(&c, text).unwrap();
    baseline(&b, &p);
    let (code, v) = check_json(&p, &c, &[]);
    let seg = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "segment")
        .unwrap()
        .clone();
    assert_eq!(seg["method"], "chisquare");
    assert_eq!(seg["drift"], true);
    assert_eq!(seg["labels"].as_array().unwrap().last().unwrap(), "(other)");
    assert_eq!(code, Some(1), "1 of 2 columns is a share of 0.5 ≥ 0.5: {v}");
    let (code, _) = check_json(&p, &c, &["--drift-share", "0.6"]);
    assert_eq!(code, Some(0), "0.5 < 0.6");
    let (code, v) = check_json(&p, &c, &["--threshold", "segment=0.0"]);
    assert_eq!(code, Some(0), "a p-value threshold of 0 never flags: {v}");
    assert_eq!(v["drifted"], 0);
}

#[test]
fn merged_profiles_count_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    write_column(&a, "x", golden(3000, 1.0, 0.0));
    write_column(&b, "x", silver(2000, 1.0, 0.0));
    let (pa, pb, pm) = (
        dir.path().join("a.json"),
        dir.path().join("b.json"),
        dir.path().join("m.json"),
    );
    baseline(&a, &pa);
    baseline(&b, &pb);
    mlctl()
        .args(["drift", "baseline", "--out"])
        .arg(&pm)
        .arg("--merge")
        .arg(&pa)
        .arg(&pb)
        .assert()
        .success();
    let m: Value = serde_json::from_slice(&std::fs::read(&pm).unwrap()).unwrap();
    assert_eq!(m["rows"], 5000);
    assert_eq!(m["columns"][0]["count"], 5000);
    let all: Vec<f64> = golden(3000, 1.0, 0.0).chain(silver(2000, 1.0, 0.0)).collect();
    let mean = all.iter().sum::<f64>() / 5000.0;
    assert!((m["columns"][0]["numeric"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert_eq!(m["columns"][0]["numeric"]["sample"].as_array().unwrap().len(), 1000);
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let (b, p) = (dir.path().join("b.csv"), dir.path().join("p.json"));
    write_column(&b, "x", golden(100, 1.0, 0.0));
    baseline(&b, &p);
    let text_col = dir.path().join("t.csv");
    std::fs::write(&text_col, "x\n0.5\nhello\n").unwrap();
    let empty = dir.path().join("e.csv");
    std::fs::write(&empty, "x\n").unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(
        &corrupt,
        b"{\"format\": \"mlctl-drift-profile\", \"version\": 1, \"rows\": 3}",
    )
    .unwrap();
    let newer = dir.path().join("newer.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["version"] = 99.into();
    std::fs::write(&newer, v.to_string()).unwrap();
    let cases: Vec<(Vec<std::ffi::OsString>, String)> = vec![
        (
            vec!["--baseline".into(), p.clone().into(), text_col.clone().into()],
            format!("{}:3: column \"x\": expected a number", text_col.display()),
        ),
        (
            vec!["--baseline".into(), p.clone().into(), empty.clone().into()],
            "no data rows to check".into(),
        ),
        (
            vec![
                "--baseline".into(),
                p.clone().into(),
                b.clone().into(),
                "--columns".into(),
                "nope".into(),
            ],
            "column \"nope\" is not in the baseline profile".into(),
        ),
        (
            vec!["--baseline".into(), corrupt.clone().into(), b.clone().into()],
            "corrupted drift profile".into(),
        ),
        (
            vec!["--baseline".into(), newer.clone().into(), b.clone().into()],
            "profile version 99 is newer".into(),
        ),
        (
            vec!["--baseline".into(), b.clone().into(), b.clone().into()],
            "not a drift profile".into(),
        ),
    ];
    for (args, needle) in cases {
        let out = mlctl().args(["drift", "check"]).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&needle), "{err:?} should contain {needle:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    mlctl()
        .args(["drift", "baseline", "--numeric", "x"])
        .arg(&text_col)
        .arg("--out")
        .arg(dir.path().join("q.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("declared numeric but has 1 non-numeric"));
}

#[test]
fn windows_show_when_a_gradual_shift_starts_and_the_html_report_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, p, html) = (
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
        dir.path().join("p.json"),
        dir.path().join("r.html"),
    );
    write_column(&b, "score", golden(20_000, 1.0, 0.0).map(normal));
    // 4 hours of one row per 2 s; the score drifts by 1 sigma during the last two hours
    let mut text = String::from("ts,score\n");
    let values: Vec<f64> = silver(7200, 1.0, 0.0).map(normal).collect();
    for (i, v) in values.iter().enumerate() {
        let shift = if i < 3600 { 0.0 } else { 1.0 };
        text.push_str(&format!("{},{}\n", 1_800_000_000 + 2 * i as i64, v + shift));
    }
    std::fs::write(&c, text).unwrap();
    baseline(&b, &p);
    let out = mlctl()
        .args(["drift", "check", "--baseline"])
        .arg(&p)
        .arg(&c)
        .args([
            "--columns",
            "score",
            "--window",
            "1h",
            "--time-col",
            "ts",
            "-o",
            "json",
            "--report",
        ])
        .arg(&html)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let flags: Vec<bool> = v["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["columns"][0]["drift"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [false, false, true, true], "{v}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.matches("<svg").count() >= 2, "histogram and timeline");
    for external in ["<script", "<link", "src=", "url("] {
        assert!(!page.contains(external), "external asset: {external}");
    }
    mlctl()
        .args(["drift", "check", "--baseline"])
        .arg(&p)
        .arg(&c)
        .args(["--columns", "score", "--window", "0s", "--time-col", "ts"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--window must be longer than 0s"));
    let bad_time = dir.path().join("bt.csv");
    std::fs::write(&bad_time, "ts,score\nyesterday,0.5\n").unwrap();
    mlctl()
        .args(["drift", "check", "--baseline"])
        .arg(&p)
        .arg(&bad_time)
        .args(["--columns", "score", "--window", "1h", "--time-col", "ts"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bt.csv:2: column \"ts\": expected an RFC 3339 time",
        ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_the_gateway_prediction_log_by_model_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::Server::start_in(dir.path(), &[]);
    common::deploy(&s, "churn", "1", "churn_lr");
    common::traffic(&s.url, "churn", 150, 150, 0, std::time::Duration::ZERO).await;
    common::deploy(&s, "churn", "2", "churn_lr_bad");
    common::traffic(&s.url, "churn", 50, 50, 0, std::time::Duration::ZERO).await;
    assert_eq!(s.terminate(), Some(0));
    // a baseline whose positive-class probabilities all sit in [0.9, 1.0)
    let base = dir.path().join("train.csv");
    let mut text = String::from("probabilities[1],label\n");
    for i in 0..1000 {
        text.push_str(&format!("{},1\n", 0.9 + (i as f64 * 0.618_033_988_7 % 1.0) * 0.1));
    }
    std::fs::write(&base, text).unwrap();
    let profile = dir.path().join("p.json");
    mlctl()
        .args(["drift", "baseline", "--categorical", "label"])
        .arg(&base)
        .arg("--out")
        .arg(&profile)
        .assert()
        .success();
    let run = |extra: &[&str]| {
        let out = mlctl()
            .args(["drift", "check", "--baseline"])
            .arg(&profile)
            .arg("--from-gateway")
            .arg(dir.path())
            .args(["--model", "churn", "-o", "json"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, v, err) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(v["current_rows"], 200);
    let probs = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "probabilities[1]")
        .unwrap();
    assert_eq!(probs["drift"], true);
    let (_, v, _) = run(&["--version", "2"]);
    assert_eq!(v["current_rows"], 50);
    let (code, _, err) = run(&["--version", "9"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no data rows to check"), "{err}");
}

/// A plain CSV over a few MB is read by four parts with the typed decoder; the same data
/// gzipped takes the sequential reader. Bin counts, category counts (with more labels
/// than the decoder gives ids, long ones, and more than the profile's category cap),
/// rows and missing cells must be the same; cells off the fast path (exponents, spaces,
/// empty cells, CRLF) are in the data.
#[test]
fn the_parallel_typed_scan_counts_what_the_sequential_scan_counts() {
    let dir = tempfile::tempdir().unwrap();
    let labels = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "jj", "a longer label", "k"];
    let row = |i: u64, shift: f64| {
        let x = normal(((i as f64 * 0.6180339887498949) % 1.0).max(1e-6)) + shift;
        let y = match i % 500 {
            7 => format!("{:e}", x),
            8 => format!(" {x:.3} "),
            9 => String::new(),
            _ => format!("{x:.4}"),
        };
        let many = i % 1500; // more distinct values than the profile keeps
        format!("{x:.4},{y},{},{many}", labels[(i * 7 % 12) as usize])
    };
    let mut reference = String::from("x,y,label,many\n");
    for i in 0..20_000 {
        reference.push_str(&row(i, 0.0));
        reference.push('\n');
    }
    let mut current = String::from("x,y,label,many\r\n");
    for i in 0..180_000 {
        current.push_str(&row(i * 3 + 1, 0.2));
        current.push_str("\r\n");
    }
    assert!(
        current.len() > 4 << 20,
        "{} bytes: big enough for four parts",
        current.len()
    );
    let (ref_csv, profile) = (dir.path().join("ref.csv"), dir.path().join("p.json"));
    std::fs::write(&ref_csv, reference).unwrap();
    mlctl()
        .args(["drift", "baseline"])
        .arg(&ref_csv)
        .args(["--out"])
        .arg(&profile)
        .args(["--categorical", "many"])
        .assert()
        .success();
    let plain = dir.path().join("cur.csv");
    std::fs::write(&plain, &current).unwrap();
    let gz = dir.path().join("cur.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(current.as_bytes()).unwrap();
    enc.finish().unwrap();
    let (a, b) = (check_json(&profile, &plain, &[]).1, check_json(&profile, &gz, &[]).1);
    assert_eq!(a["current_rows"], 180_000);
    let columns = |r: &Value| {
        r["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["column"].clone(),
                    c["rows"].clone(),
                    c["missing"].clone(),
                    c["labels"].clone(),
                    c["current_shares"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let (ca, cb) = (columns(&a), columns(&b));
    assert_eq!(ca.len(), 4);
    assert_eq!(ca[1].2, 180_000 / 500, "the empty y cells are missing");
    assert_eq!(ca, cb);
}
