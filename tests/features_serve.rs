//! Feature views at the gateway, end to end on a real `mlctl serve`: a loaded table, a
//! model deployed with a view, requests that carry only entity ids and request fields —
//! the answers equal a direct inference on the hand-joined rows, the prediction log holds
//! the assembled vectors, pushes and new snapshots are served, faults are counted.

use crate::common;

use crate::common::Server;
use serde_json::{Value, json};

const VIEW: &str = r#"
input = "input"
[[feature]]
name = "hour"
from = "request"
[[feature]]
name = "distance"
from = "request"
[[feature]]
name = "prep_7d"
from = "restaurant_stats.avg_prep_7d"
key = "restaurant_id"
default = -1.0
max_age = "7d"
[[feature]]
name = "prep_1h"
from = "restaurant_stats.avg_prep_1h"
key = "restaurant_id"
default = 0.5
"#;

fn load(data: &std::path::Path, csv: &str) {
    let file = data.join("stats-upload.csv");
    std::fs::write(&file, csv).unwrap();
    let out = common::load_restaurant_stats(data, file.to_str().unwrap());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A gateway on `data` serving model eta (churn_lr) through `VIEW`.
fn serve_eta(data: &std::path::Path) -> Server {
    let s = Server::start_in(data, &[]);
    let view = data.join("view.toml");
    std::fs::write(&view, VIEW).unwrap();
    s.cli()
        .args(["deploy", "eta", "--version", "1", "--onnx"])
        .arg(common::fixture("models/churn_lr.onnx"))
        .arg("--features")
        .arg(&view)
        .assert()
        .success();
    s
}

fn ago(hours: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339()
}

async fn post(url: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The model's outputs for hand-joined rows, through the version URL with the input given.
async fn direct(s: &Server, rows: &[[f32; 4]]) -> Value {
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    let body = json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [rows.len(), 4], "data": data}]});
    let (status, v) = post(&format!("{}/v2/models/eta/versions/1/infer", s.url), &body, None).await;
    assert_eq!(status, 200, "{v}");
    v["outputs"].clone()
}

fn assert_outputs_close(a: &Value, b: &Value) {
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["name"], y["name"]);
        assert_eq!(x["shape"], y["shape"]);
        for (p, q) in x["data"].as_array().unwrap().iter().zip(y["data"].as_array().unwrap()) {
            match (p.as_f64(), q.as_f64()) {
                (Some(p), Some(q)) => assert!((p - q).abs() <= 1e-6, "{p} vs {q}"),
                _ => assert_eq!(p, q),
            }
        }
    }
}

#[tokio::test]
async fn a_view_assembles_the_input_from_the_request_and_the_store() {
    let data = tempfile::tempdir().unwrap();
    load(
        data.path(),
        &format!(
            "restaurant_id,event_ts,avg_prep_7d,avg_prep_1h\n\
             r1,{},12.5,14\n\
             r2,{},30,\n\
             r3,{},99,1\n",
            ago(2),
            ago(1),
            ago(24 * 10)
        ),
    );
    let s = serve_eta(data.path());
    let infer = format!("{}/v2/models/eta/infer", s.url);

    // One row as parameters.
    let (status, got) = post(
        &infer,
        &json!({"id": "one", "parameters": {"restaurant_id": "r1", "hour": 13, "distance": 2.5}, "inputs": []}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_outputs_close(&got["outputs"], &direct(&s, &[[13.0, 2.5, 12.5, 14.0]]).await);

    // Three rows as [N] inputs; distance as a parameter applies to each. r2 has no 1h
    // value (default 0.5), r3's values are 10 days old (> max_age 7d for prep_7d: default
    // -1; prep_1h has no max_age: 1), r9 is unknown (defaults).
    let body = json!({
        "id": "many",
        "parameters": {"distance": 1.0},
        "inputs": [
            {"name": "restaurant_id", "datatype": "BYTES", "shape": [4], "data": ["r2", "r3", "r9", "r1"]},
            {"name": "hour", "datatype": "INT64", "shape": [4], "data": [1, 2, 3, 4]}
        ]
    });
    let (status, got) = post(&infer, &body, None).await;
    assert_eq!(status, 200, "{got}");
    let want = direct(
        &s,
        &[
            [1.0, 1.0, 30.0, 0.5],
            [2.0, 1.0, -1.0, 1.0],
            [3.0, 1.0, -1.0, 0.5],
            [4.0, 1.0, 12.5, 14.0],
        ],
    )
    .await;
    assert_outputs_close(&got["outputs"], &want);

    // A request missing a field: 400 naming it.
    let (status, got) = post(
        &infer,
        &json!({"parameters": {"restaurant_id": "r1"}, "inputs": []}),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(got["error"].as_str().unwrap().contains("\"hour\""), "{got}");

    // A push (admin token): durable, then served.
    let push = format!("{}/v1/features/restaurant_stats", s.url);
    let row = json!({"rows": [{"entity": "r1", "values": {"avg_prep_1h": 20.0}}]});
    assert_eq!(post(&push, &row, None).await.0, 401);
    let bad = json!({"rows": [{"entity": "r1", "values": {"nope": 1.0}}]});
    assert_eq!(post(&push, &bad, Some(&s.token)).await.0, 404);
    let (status, ack) = post(&push, &row, Some(&s.token)).await;
    assert_eq!((status, ack["rows"].clone()), (200, json!(1)), "{ack}");
    let (_, got) = post(
        &infer,
        &json!({"parameters": {"restaurant_id": "r1", "hour": 13, "distance": 2.5}, "inputs": []}),
        None,
    )
    .await;
    assert_outputs_close(&got["outputs"], &direct(&s, &[[13.0, 2.5, 12.5, 20.0]]).await);

    // A new snapshot loaded by another process is served within the refresh period.
    load(
        data.path(),
        &format!("restaurant_id,event_ts,avg_prep_7d,avg_prep_1h\nr1,{},40,41\n", ago(1)),
    );
    let want = direct(&s, &[[13.0, 2.5, 40.0, 41.0]]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, got) = post(
            &infer,
            &json!({"parameters": {"restaurant_id": "r1", "hour": 13, "distance": 2.5}, "inputs": []}),
            None,
        )
        .await;
        if got["outputs"][0]["data"] == want[0]["data"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new snapshot was never served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let metrics = common::metrics_text(&s).await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("mlctl_feature_missing_total{")
                && l.contains("feature=\"prep_7d\"")
                && l.contains("reason=\"stale\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    assert!(metrics.contains("reason=\"unknown_entity\""));

    // The prediction log holds the assembled vectors.
    let logs = data.path().join("logs");
    assert_eq!(s.terminate(), Some(0));
    let mut records: Vec<Value> = Vec::new();
    for e in std::fs::read_dir(&logs).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_str().unwrap().starts_with("predictions-") {
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                records.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    let one = records.iter().find(|r| r["request_id"] == "one").unwrap();
    assert_eq!(
        one["features"],
        json!({"hour": 13.0, "distance": 2.5, "restaurant_id": "r1", "prep_7d": 12.5, "prep_1h": 14.0})
    );
    let many = records.iter().find(|r| r["request_id"] == "many").unwrap();
    assert_eq!(many["features"]["prep_7d"], json!([30.0, -1.0, -1.0, 12.5]));
    assert_eq!(many["features"]["restaurant_id"], json!(["r2", "r3", "r9", "r1"]));
}

#[test]
fn deploying_a_bad_view_or_one_on_a_missing_table_fails_clearly() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start_in(data.path(), &[]);
    let view = data.path().join("view.toml");
    let deploy = || {
        s.cli()
            .args(["deploy", "eta", "--version", "1", "--onnx"])
            .arg(common::fixture("models/churn_lr.onnx"))
            .arg("--features")
            .arg(&view)
            .output()
            .unwrap()
    };
    std::fs::write(&view, VIEW.replace("max_age = \"7d\"", "max_age = \"soon\"")).unwrap();
    let out = deploy();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("view.toml:14: feature 3 (prep_7d): max_age"), "{err}");
    // A good view on a table never loaded: refused, naming the table and the fix.
    std::fs::write(&view, VIEW).unwrap();
    let out = deploy();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("\"restaurant_stats\" is not in the feature store"),
        "{err}"
    );
    // A view with the wrong width for the model: refused at load.
    load(
        data.path(),
        "restaurant_id,event_ts,avg_prep_7d,avg_prep_1h\nr1,0,1,1\n",
    );
    let three = VIEW.replace("[[feature]]\nname = \"distance\"\nfrom = \"request\"\n", "");
    std::fs::write(&view, three).unwrap();
    let out = deploy();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("3 features, but the model's input \"input\" has 4 columns"),
        "{err}"
    );
}

#[tokio::test]
async fn skew_check_flags_only_the_feature_transformed_differently() {
    let data = tempfile::tempdir().unwrap();
    let mut table = String::from("restaurant_id,event_ts,avg_prep_7d,avg_prep_1h\n");
    for r in 0..20 {
        table += &format!("r{r},{},{},{}\n", ago(3), 10.0 + r as f64 * 1.5, 5.0 + r as f64 * 0.25);
    }
    load(data.path(), &table);
    let s = serve_eta(data.path());
    let view = data.path().join("view.toml");
    // 300 requests; the spine of the training set holds the same events.
    let infer = format!("{}/v2/models/eta/infer", s.url);
    let mut spine = String::from("request_id,restaurant_id,hour,distance,event_ts\n");
    for i in 0..300 {
        let (r, hour, dist) = (format!("r{}", (i * 7) % 23), i % 24, (i % 10) as f64 * 0.5);
        let body = json!({"id": format!("q{i}"), "parameters": {"restaurant_id": r, "hour": hour, "distance": dist}, "inputs": []});
        let (status, v) = post(&infer, &body, None).await;
        assert_eq!(status, 200, "{v}");
        spine += &format!("q{i},{r},{hour},{dist},{}\n", chrono::Utc::now().to_rfc3339());
    }
    assert_eq!(s.terminate(), Some(0));
    let files = tempfile::tempdir().unwrap();
    let spine_path = files.path().join("spine.csv");
    std::fs::write(&spine_path, spine).unwrap();
    let train = files.path().join("train.csv");
    let run = |args: &[&str]| common::mlctl_in(data.path(), args);
    let out = run(&[
        "features",
        "join",
        "--spine",
        spine_path.to_str().unwrap(),
        "--at",
        "event_ts",
        "--view",
        view.to_str().unwrap(),
        "--out",
        train.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let skew = |offline: &std::path::Path, report: &std::path::Path| {
        let out = run(&[
            "skew",
            "check",
            "--view",
            view.to_str().unwrap(),
            "--offline",
            offline.to_str().unwrap(),
            "--from-gateway",
            data.path().to_str().unwrap(),
            "--model",
            "eta",
            "--report",
            report.to_str().unwrap(),
            "-o",
            "json",
        ]);
        let v: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    // The same definitions online and offline: no skew (r20..r22 are unknown: defaults on
    // both sides, so they match too).
    let (code, v) = skew(&train, &files.path().join("ok.html"));
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["paired"], 300);
    assert_eq!(v["skewed"], json!([]));
    let prep = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "prep_7d")
        .unwrap();
    assert_eq!(prep["match_rate"], 1.0);
    assert!(prep["served_defaulted"].as_f64().unwrap() > 0.0, "{prep}");

    // An offline pipeline that computes prep_7d in seconds instead of minutes.
    let text = std::fs::read_to_string(&train).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "prep_7d").unwrap();
    let mut changed = header.join(",") + "\n";
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        let x: f64 = cells[col].parse().unwrap();
        cells[col] = if x < 0.0 { x.to_string() } else { (x * 60.0).to_string() };
        changed += &(cells.join(",") + "\n");
    }
    let seconds = files.path().join("train_seconds.csv");
    std::fs::write(&seconds, changed).unwrap();
    let html = files.path().join("skew.html");
    let (code, v) = skew(&seconds, &html);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["skewed"], json!(["prep_7d"]), "that feature only");
    let prep = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "prep_7d")
        .unwrap();
    assert!(
        prep["psi"].as_f64().unwrap() > 1.0 && prep["max_abs_diff"].as_f64().unwrap() > 100.0,
        "{prep}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Skew in prep_7d") && page.contains("<svg"), "{page}");
}
