//! Drift monitors inside a real `mlctl serve`: a baseline of the model's training
//! predictions, same-distribution traffic (no alert), shifted inputs (the drift gauge goes
//! to 1 and exactly one alert reaches a webhook receiver after --consecutive windows), back
//! to normal (exactly one resolve); the monitor and its windows survive kill -9.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::Server;
use crate::common::receiver::{Receiver, wait_for};
use serde_json::{Value, json};

fn traffic_fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(common::fixture("models/churn_traffic.json")).unwrap()).unwrap()
}

fn rows() -> Vec<Vec<f64>> {
    traffic_fixture()["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        .collect()
}

/// The fixture rows' true labels (0/1).
fn labels() -> Vec<f64> {
    traffic_fixture()["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Post outcome records to `s` with its admin token; they must be accepted (202).
async fn post_outcomes(s: &Server, outcomes: &[Value]) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/outcomes", s.url))
        .bearer_auth(&s.token)
        .json(outcomes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
}

async fn infer(url: &str, row: &[f64]) -> f64 {
    infer_as(url, None, row).await
}

/// The answer's probability of class 1, for a request with id `id` if given.
async fn infer_as(url: &str, id: Option<&str>, row: &[f64]) -> f64 {
    let mut body = json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": row}]});
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    let v: Value = reqwest::Client::new()
        .post(format!("{url}/v2/models/churn/infer"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "probabilities")
        .unwrap();
    p["data"][1].as_f64().unwrap()
}

/// Send traffic for `secs`: rows drawn in turn from the pool, the first feature shifted.
async fn traffic(url: &str, pool: &[Vec<f64>], offset: &mut usize, shift: f64, secs: f64) {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < until {
        let mut row = pool[*offset % pool.len()].clone();
        row[0] += shift;
        row[3] *= 1.0 + shift.abs() / 2.0;
        infer(url, &row).await;
        *offset += 7;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

fn alerts(rx: &Receiver) -> Vec<Value> {
    rx.on("/hook")
        .iter()
        .map(|r| r.json())
        .filter(|m| m["kind"].as_str().is_some_and(|k| k.starts_with("monitor_")))
        .collect()
}

#[tokio::test]
async fn a_shift_fires_one_alert_and_its_end_one_resolve() {
    let (rx, base) = Receiver::start();
    let data = tempfile::tempdir().unwrap();
    let s = Server::start_in(data.path(), &[]);
    common::deploy(&s, "churn", "1", "churn_lr");
    let pool = rows();
    // The baseline: the model's predictions on its training rows.
    let mut scores = Vec::new();
    for r in pool.iter().take(1000) {
        scores.push(infer(&s.url, r).await);
    }
    let profile = common::score_baseline(&s, data.path(), &scores);
    let out = s
        .cli()
        .args(["monitor", "add", "churn", "--baseline"])
        .arg(&profile)
        .args(["--window", "2s", "--consecutive", "2", "--method", "ks"])
        .args(["--threshold", "probabilities[1]=0.001", "-o", "json", "--notify"])
        .arg(format!("{base}/hook"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = added["id"].as_i64().unwrap();
    assert_eq!(added["columns"], json!(["probabilities[1]"]));

    // Three windows of the training distribution: no alert.
    let mut at = 1;
    traffic(&s.url, &pool, &mut at, 0.0, 6.5).await;
    assert!(alerts(&rx).is_empty(), "{:?}", alerts(&rx));
    let metrics = common::metrics_text(&s).await;
    assert!(
        metrics.contains("mlctl_drift_detected{model=\"churn\",version=\"1\",column=\"probabilities[1]\"} 0"),
        "{metrics}"
    );
    // Shifted inputs: after two drifted windows, one alert with the evidence.
    traffic(&s.url, &pool, &mut at, 3.0, 6.5).await;
    wait_for("the drift alert", 10, || !alerts(&rx).is_empty()).await;
    let metrics = common::metrics_text(&s).await;
    assert!(
        metrics.contains("mlctl_drift_detected{model=\"churn\",version=\"1\",column=\"probabilities[1]\"} 1"),
        "{metrics}"
    );
    let got = alerts(&rx);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["kind"], "monitor_alert");
    assert!(
        got[0]["reason"]
            .as_str()
            .unwrap()
            .contains("drift in probabilities[1] (ks p = "),
        "{}",
        got[0]
    );
    // Back to normal: exactly one resolve after two clean windows.
    traffic(&s.url, &pool, &mut at, 0.0, 7.0).await;
    wait_for("the resolve", 10, || alerts(&rx).len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = alerts(&rx);
    let kinds: Vec<&str> = got.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["monitor_alert", "monitor_resolve"]);

    // kill -9: the monitor, its windows and its alert state come back.
    let status = |s: &Server| -> Value {
        let out = s
            .cli()
            .args(["monitor", "status", &id.to_string(), "--last", "50", "-o", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = status(&s)["windows"].as_array().unwrap().len();
    assert!(before >= 9, "{before} windows");
    let dir = s.data_dir.clone();
    s.kill9();
    let s = Server::start_in(&dir, &[]);
    let after = status(&s);
    assert_eq!(after["windows"].as_array().unwrap().len(), before);
    assert_eq!(after["monitor"]["firing"]["1"], false);
    // The window in progress restarted: new traffic makes new windows.
    traffic(&s.url, &pool, &mut at, 0.0, 2.5).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(&s)["windows"].as_array().unwrap().len() == before {
        assert!(Instant::now() < deadline, "no window after the restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.cli().args(["monitor", "rm", &id.to_string()]).assert().success();
    let ls = s.cli().args(["monitor", "ls", "-o", "json"]).output().unwrap();
    let ls: Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(ls["monitors"], json!([]));
}

/// AUC by its definition (every positive–negative pair), independent of `stats::quality`.
fn brute_auc(pairs: &[(f64, f64)]) -> f64 {
    let (mut wins, mut n) = (0.0, 0.0);
    for (y1, s1) in pairs.iter().filter(|p| p.0 == 1.0) {
        let _ = y1;
        for (_, s0) in pairs.iter().filter(|p| p.0 == 0.0) {
            n += 1.0;
            wins += if s1 > s0 {
                1.0
            } else if s1 == s0 {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / n
}

#[tokio::test]
async fn late_labels_give_the_per_window_quality_of_their_predictions() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start_in(data.path(), &[]);
    common::deploy(&s, "churn", "1", "churn_lr");
    let labels = labels();
    let pool = rows();
    let mut today = Vec::new();
    for i in 0..240 {
        let p = infer_as(&s.url, Some(&format!("q{i}")), &pool[i]).await;
        today.push((labels[i], p));
    }
    // The labels arrive later (the first 40 never do).
    let outcomes: Vec<Value> = (40..240)
        .map(|i| json!({"request_id": format!("q{i}"), "metric": "churned", "value": labels[i]}))
        .collect();
    post_outcomes(&s, &outcomes).await;
    assert_eq!(s.terminate(), Some(0));
    let args = [
        "monitor", "quality", "churn", "--metric", "churned", "--window", "1d", "-o", "json",
    ];
    let out = common::mlctl_in(data.path(), &[&args[..], &["--require", "auc>=0.99"]].concat());
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "the AUC is below 0.99: exit 1");
    assert_eq!(v["labelled"], 200);
    assert_eq!(v["predictions"], 240);
    let w = &v["windows"][0];
    assert_eq!(w["pairs"], 200);
    let want = brute_auc(&today[40..]);
    assert!((w["roc_auc"].as_f64().unwrap() - want).abs() < 1e-9, "{w} vs {want}");
    let acc = today[40..].iter().filter(|(y, p)| (*p >= 0.5) == (*y == 1.0)).count() as f64 / 200.0;
    assert!((w["accuracy"].as_f64().unwrap() - acc).abs() < 1e-9, "{w} vs {acc}");
}

#[tokio::test]
async fn a_quality_requirement_alerts_once_late_labels_show_it_unmet() {
    let (rx, base) = Receiver::start();
    let data = tempfile::tempdir().unwrap();
    let s = Server::start_in(data.path(), &["--log-flush", "20ms"]);
    common::deploy(&s, "churn", "1", "churn_lr");
    let pool = rows();
    let mut scores = Vec::new();
    for r in pool.iter().take(300) {
        scores.push(infer(&s.url, r).await);
    }
    let profile = common::score_baseline(&s, data.path(), &scores);
    s.cli()
        .args(["monitor", "add", "churn", "--baseline"])
        .arg(&profile)
        .args([
            "--window",
            "1s",
            "--consecutive",
            "1",
            "--threshold",
            "probabilities[1]=0",
        ])
        .args([
            "--quality",
            "auc>=0.99",
            "--quality-metric",
            "churned",
            "--quality-min-pairs",
            "30",
        ])
        .arg("--notify")
        .arg(format!("{base}/hook"))
        .assert()
        .success();
    let labels = labels();
    let client = reqwest::Client::new();
    let until = Instant::now() + Duration::from_millis(2500);
    let mut i = 0;
    while Instant::now() < until {
        let body = json!({"id": format!("q{i}"), "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": pool[i % pool.len()]}]});
        client
            .post(format!("{}/v2/models/churn/infer", s.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(alerts(&rx).is_empty(), "no label yet, no verdict: {:?}", alerts(&rx));
    // The labels arrive after their windows ended.
    let outcomes: Vec<Value> = (0..i)
        .map(|k| json!({"request_id": format!("q{k}"), "metric": "churned", "value": labels[k % labels.len()]}))
        .collect();
    post_outcomes(&s, &outcomes).await;
    wait_for("the quality alert", 15, || !alerts(&rx).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = alerts(&rx);
    assert_eq!(got.len(), 1, "one alert, not one per window: {got:?}");
    assert_eq!(got[0]["kind"], "monitor_alert");
    let reason = got[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("quality: auc 0.") && reason.contains("is below 0.99"),
        "{reason}"
    );
}
