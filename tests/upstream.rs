//! Upstream runtime: mlctl proxies to a real V2 server (another `mlctl serve`) and maps
//! misbehaving upstreams (hang, garbage, 5xx, gone) to 504/502 JSON errors.

use crate::common;

use crate::common::{Server, deploy, samples, start_bad_upstream};
use serde_json::{Value, json};

async fn infer(url: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new().post(url).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn gateway_proxies_to_a_real_v2_upstream_and_relabels_the_version() {
    let up_dir = tempfile::tempdir().unwrap();
    let upstream = Server::start_in(up_dir.path(), &[]);
    deploy(&upstream, "churn", "1", "churn_lr");
    let gw_dir = tempfile::tempdir().unwrap();
    let gw = Server::start_in(gw_dir.path(), &[]);
    gw.cli()
        .args([
            "deploy",
            "churn",
            "--version",
            "proxied",
            "--upstream",
            &upstream.url,
            "--timeout",
            "2s",
        ])
        .assert()
        .success();
    let sm = samples("churn_lr");
    let (st, body) = infer(
        &format!("{}/v2/models/churn/infer", gw.url),
        &json!({"id": "abc", "inputs": [sm["input"]]}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (
            body["model_name"].as_str(),
            body["model_version"].as_str(),
            body["id"].as_str()
        ),
        (Some("churn"), Some("proxied"), Some("abc"))
    );
    let got: Vec<f64> = body["outputs"][1]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want: Vec<f64> = sm["outputs"]["probabilities"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5));
    let meta: Value = reqwest::get(format!("{}/v2/models/churn", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["inputs"][0]["name"], "input", "{meta}");
    assert_eq!(meta["name"], "churn");
    // An upstream 400 stays the client's error.
    let (st, body) = infer(
        &format!("{}/v2/models/churn/infer", gw.url),
        &json!({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    // Upstream gone → 502, gateway still up.
    upstream.kill9();
    let (st, body) = infer(
        &format!("{}/v2/models/churn/infer", gw.url),
        &json!({"inputs": [sm["input"]]}),
    )
    .await;
    assert_eq!(st, 502, "{body}");
    assert!(body["error"].as_str().unwrap().contains("unreachable"), "{body}");
    assert_eq!(
        reqwest::get(format!("{}/v2/models/churn/ready", gw.url))
            .await
            .unwrap()
            .status(),
        503
    );
}

#[tokio::test]
async fn hanging_garbage_and_failing_upstreams_map_to_504_and_502() {
    let bad = start_bad_upstream();
    let dir = tempfile::tempdir().unwrap();
    let gw = Server::start_in(dir.path(), &[]);
    for m in ["slow", "garbage", "boom", "picky"] {
        gw.cli()
            .args(["deploy", m, "--version", "1", "--upstream", &bad, "--timeout", "300ms"])
            .assert()
            .success();
    }
    let body = json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]});
    let cases = [
        ("slow", 504, "timed out"),
        ("garbage", 502, "invalid V2 response"),
        ("boom", 502, "answered 500"),
        ("picky", 400, "input too small"),
    ];
    for (m, status, needle) in cases {
        let (st, reply) = infer(&format!("{}/v2/models/{m}/infer", gw.url), &body).await;
        assert_eq!(st, status, "{m}: {reply}");
        assert!(reply["error"].as_str().unwrap().contains(needle), "{m}: {reply}");
    }
}

#[test]
fn deploying_an_upstream_that_is_not_ready_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Server::start_in(dir.path(), &[]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    gw.cli()
        .args([
            "deploy",
            "m",
            "--version",
            "1",
            "--upstream",
            &format!("http://{closed}"),
        ])
        .assert()
        .code(3)
        .stderr(predicates::str::contains("is not ready"));
    gw.cli()
        .args(["status", "-o", "json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"models\": []"));
}

/// `mlctl_in_flight_requests` value from the metrics text.
async fn in_flight(gw: &Server) -> f64 {
    let text = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("mlctl_in_flight_requests "))
        .and_then(|v| v.trim().parse().ok())
        .expect("in-flight gauge in /metrics")
}

#[tokio::test]
async fn clients_that_hang_up_mid_request_leave_the_in_flight_gauge_at_zero() {
    let bad = start_bad_upstream();
    let dir = tempfile::tempdir().unwrap();
    let gw = Server::start_in(dir.path(), &[]);
    common::deploy_upstream(&gw, "slow", "1", &bad, &["--timeout", "10s"]);
    let body = json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]});
    // Five clients give up after 300 ms while the upstream takes 5 s.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}/v2/models/slow/infer", gw.url);
    let calls: Vec<_> = (0..5)
        .map(|_| tokio::spawn(client.post(&url).json(&body).send()))
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(
        in_flight(&gw).await >= 5.0,
        "the five requests are counted while in flight"
    );
    for c in calls {
        assert!(c.await.unwrap().is_err(), "every client gave up");
    }
    // The upstream still has ~4.5 s to go: a leaked count would show now.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while in_flight(&gw).await != 0.0 {
        assert!(std::time::Instant::now() < deadline, "in-flight gauge leaked");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
