//! CLI surface: completions are current, exit codes for bad flags, bad files and
//! unreachable endpoints, and one clear line per error.

use assert_cmd::Command;
use predicates::prelude::*;

fn mlctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlctl"));
    c.env_remove("MLCTL_ENDPOINT")
        .env_remove("MLCTL_TOKEN")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn committed_completions_and_man_page_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (args, file) in [
        (vec!["completions", "bash"], "mlctl.bash"),
        (vec!["completions", "zsh"], "_mlctl"),
        (vec!["completions", "fish"], "mlctl.fish"),
        (vec!["man"], "mlctl.1"),
    ] {
        let out = mlctl().args(&args).output().unwrap();
        assert!(out.status.success());
        let committed = std::fs::read(dir.join(file)).unwrap();
        assert!(
            out.stdout == committed,
            "completions/{file} is stale: regenerate with `mlctl {}` > completions/{file}",
            args.join(" ")
        );
    }
}

#[test]
fn help_documents_the_exit_codes() {
    mlctl()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("4  invalid experiment"));
}

#[test]
fn bad_flags_exit_2() {
    mlctl()
        .args(["serve", "--max-body", "8 parsecs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown size unit"));
    mlctl().args(["serve", "--log-inputs", "1.5"]).assert().code(2);
    mlctl()
        .args(["deploy", "m", "--version", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--onnx"));
    mlctl()
        .args(["deploy", "m", "--version", "1", "--onnx", "a", "--upstream", "http://x"])
        .assert()
        .code(2);
    mlctl()
        .args(["deploy", "m", "--version", "1", "--onnx", "a", "--timeout", "1s"])
        .assert()
        .code(2);
    mlctl()
        .args(["status", "--endpoint", "ftp://x", "--token", "t"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected http://"));
}

#[test]
fn unreachable_gateway_exits_3_with_one_line() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = mlctl()
        .args(["status", "--endpoint", &format!("http://{closed}"), "--token", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("mlctl: cannot reach gateway at http://127.0.0.1:"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn missing_or_malformed_input_files_exit_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let ep = format!("http://{closed}");
    let jsonl = dir.path().join("reqs.jsonl");
    std::fs::write(
        &jsonl,
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}\n\n{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1]}]}\n",
    )
    .unwrap();
    mlctl()
        .args(["predict", "m", "--endpoint", &ep, "--input"])
        .arg(&jsonl)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:3: input 'input': shape [1, 2] needs 2 elements, data has 1",
            jsonl.display()
        )));
    mlctl()
        .args(["predict", "m", "--endpoint", &ep, "--input", "/nonexistent/x.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/x.json: No such file"));
    let txt = dir.path().join("x.txt");
    std::fs::write(&txt, "1,2").unwrap();
    mlctl()
        .args(["predict", "m", "--endpoint", &ep, "--input"])
        .arg(&txt)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown file type"));
    mlctl()
        .args([
            "deploy",
            "m",
            "--version",
            "1",
            "--endpoint",
            &ep,
            "--token",
            "t",
            "--onnx",
            "/nonexistent/m.onnx",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/m.onnx"));
}

#[test]
fn csv_rows_are_checked_against_the_model_input() {
    use mlctl::commands::predict::from_csv;
    let dir = tempfile::tempdir().unwrap();
    let meta: mlctl::wire::v2::TensorMetadata =
        serde_json::from_value(serde_json::json!({"name": "input", "datatype": "FP32", "shape": [-1, 4]})).unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "a,b,c,d\n1,2,3,4\n5,6,7,8\n").unwrap();
    let reqs = from_csv(&good, &meta).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["inputs"][0]["shape"], serde_json::json!([2, 4]));
    assert_eq!(
        body["inputs"][0]["data"],
        serde_json::json!([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b,c,d\n1,2,3,4\n5,x,7,8\n").unwrap();
    let e = from_csv(&bad, &meta).unwrap_err().to_string();
    assert_eq!(e, format!("{}:3:2: expected a number, got \"x\"", bad.display()));
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "1,2,3,4\n5,6,7\n").unwrap();
    assert!(
        from_csv(&ragged, &meta)
            .unwrap_err()
            .to_string()
            .ends_with(":2: expected 4 columns, got 3")
    );
    let narrow = dir.path().join("narrow.csv");
    std::fs::write(&narrow, "1,2,3\n").unwrap();
    assert!(
        from_csv(&narrow, &meta)
            .unwrap_err()
            .to_string()
            .contains("takes 4 columns, file has 3")
    );
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    assert!(
        from_csv(&empty, &meta)
            .unwrap_err()
            .to_string()
            .contains("no data rows")
    );
}

#[test]
fn demo_rolls_back_the_bad_model_and_promotes_the_good_one() {
    let out = mlctl().args(["demo", "--seed", "7", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acts = report["acts"].as_array().unwrap();
    assert_eq!(acts[0]["result"], "rolled_back", "{report}");
    assert!(
        acts[0]["reason"]
            .as_str()
            .unwrap()
            .contains("outcome:converted>=control")
    );
    assert_eq!(acts[1]["result"], "promoted", "{report}");
    assert_eq!(report["live_version"], "3");
    let kinds: Vec<&str> = report["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"register"));
    assert_eq!(kinds.last(), Some(&"monitor_alert"), "the drift act ends the history");
    assert!(kinds.contains(&"promote") && kinds.contains(&"monitor_add"));
    assert!(kinds.contains(&"rollback"));
    // The features act: answers equal the model on the hand-joined rows; no skew.
    let calls = report["features"]["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 4, "{report}");
    for c in calls {
        let (a, b) = (c["answer"].as_f64().unwrap(), c["hand_joined"].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-6, "{c}");
    }
    assert!(
        report["features"]["skew"]
            .as_str()
            .unwrap()
            .ends_with("no training/serving skew"),
        "{}",
        report["features"]
    );
    // The demo's webhook receiver heard every transition once, each correctly signed.
    let transitions = kinds
        .iter()
        .filter(|k| mlctl::serving::notify::NOTIFIED_KINDS.contains(k))
        .count();
    // … and the features act's one route change (model eta).
    let hook = &report["webhook"];
    assert_eq!(hook["received"].as_u64(), Some(transitions as u64 + 1), "{hook}");
    assert_eq!(hook["verified"], hook["received"], "{hook}");
    let messages: Vec<&str> = hook["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("mlctl: eta: route changed")),
        "{messages:?}"
    );
    // The drift act: one alert, after two drifted windows of the other population.
    let alerts: Vec<&&str> = messages
        .iter()
        .filter(|m| m.starts_with("mlctl: churn: drift alert"))
        .collect();
    assert_eq!(alerts.len(), 1, "{messages:?}");
    assert!(
        report["drift"]["alert"]
            .as_str()
            .unwrap()
            .starts_with("drift in probabilities[1] (ks p = ")
    );
    let windows = report["drift"]["windows"].as_array().unwrap();
    assert!(
        windows.iter().any(|w| w["drift"] == true) && windows.iter().any(|w| w["drift"] == false),
        "{windows:?}"
    );
    let last = *messages
        .iter()
        .rfind(|m| m.starts_with("mlctl: churn: promoted"))
        .unwrap();
    assert!(
        last.starts_with("mlctl: churn: promoted (candidate 3, stable 1)"),
        "{last}"
    );
}
