//! `mlctl serve` end to end: a real child process on 127.0.0.1, driven over HTTP.

use crate::common;

use crate::common::{Server, deploy, fixture, samples};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn infer_json(s: &Server, path: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = client()
        .post(format!("{}{path}", s.url))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn assert_close(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_array().unwrap(), want.as_array().unwrap());
    assert_eq!(g.len(), w.len(), "{what}: length");
    for (i, (a, b)) in g.iter().zip(w).enumerate() {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() <= 1e-5, "{what}[{i}]: {a} vs {b}");
    }
}

#[tokio::test]
async fn deployed_onnx_model_answers_like_onnxruntime_over_v2_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    deploy(&s, "churn", "1", "churn_lr");
    let sm = samples("churn_lr");
    let (status, headers, body) = infer_json(
        &s,
        "/v2/models/churn/infer",
        &json!({"id": "r-1", "inputs": [sm["input"]]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-mlctl-variant"], "1");
    assert_eq!(body["model_name"], "churn");
    assert_eq!(body["model_version"], "1");
    assert_eq!(body["id"], "r-1");
    for out in body["outputs"].as_array().unwrap() {
        let name = out["name"].as_str().unwrap();
        assert_close(&out["data"], &sm["outputs"][name]["data"], name);
    }
    // metadata, readiness, explicit version path
    let meta: Value = client()
        .get(format!("{}/v2/models/churn", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["inputs"][0]["name"], "input");
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, 4]));
    assert_eq!(meta["versions"], json!(["1"]));
    let ready = client()
        .get(format!("{}/v2/models/churn/versions/1/ready", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let (status, _, body) = infer_json(
        &s,
        "/v2/models/churn/versions/1/infer",
        &json!({"inputs": [sm["input"]]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["model_version"], "1");
    let server: Value = client()
        .get(format!("{}/v2", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(server["name"], "mlctl");
}

#[tokio::test]
async fn binary_tensor_extension_round_trips_inputs_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    deploy(&s, "iris", "1", "iris_gbt");
    let sm = samples("iris_gbt");
    let rows: Vec<f32> = sm["input"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let n = rows.len() / 4;
    let header = json!({
        "inputs": [{"name": "input", "shape": [n, 4], "datatype": "FP32", "parameters": {"binary_data_size": rows.len() * 4}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": true}}, {"name": "label", "parameters": {"binary_data": false}}],
    })
    .to_string();
    let mut body = header.clone().into_bytes();
    for v in &rows {
        body.extend_from_slice(&v.to_le_bytes());
    }
    let r = client()
        .post(format!("{}/v2/models/iris/infer", s.url))
        .header("Inference-Header-Content-Length", header.len())
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let hl: usize = r.headers()["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    let json_part: Value = serde_json::from_slice(&bytes[..hl]).unwrap();
    let outs = json_part["outputs"].as_array().unwrap();
    assert_eq!(outs[0]["name"], "probabilities");
    let size = outs[0]["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
    assert_eq!(size, n * 3 * 4);
    let probs: Vec<Value> = bytes[hl..hl + size]
        .chunks_exact(4)
        .map(|c| json!(f32::from_le_bytes(c.try_into().unwrap())))
        .collect();
    assert_close(
        &Value::Array(probs),
        &sm["outputs"]["probabilities"]["data"],
        "probabilities",
    );
    assert_eq!(outs[1]["data"], sm["outputs"]["label"]["data"]);
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--max-body", "4KiB"]);
    deploy(&s, "churn", "1", "churn_lr");
    let ok = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]});
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}),
            400,
            "expected datatype FP32, got FP64",
        ),
        (
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]}),
            400,
            "needs 4 elements, data has 3",
        ),
        (
            json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}),
            400,
            "expected shape [-1, 4]",
        ),
        (
            json!({"inputs": [{"name": "other", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}),
            400,
            "missing input 'input'",
        ),
        (
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FLOAT", "data": [1, 2, 3, 4]}]}),
            400,
            "unknown datatype",
        ),
        (
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, "x", 3, 4]}]}),
            400,
            "data[1]: expected a number",
        ),
        (json!({"inputs": []}), 400, "no inputs"),
        (
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "outputs": [{"name": "nope"}]}),
            400,
            "'nope'",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, _, reply) = infer_json(&s, "/v2/models/churn/infer", &body).await;
        assert_eq!(got, status, "{body} → {reply}");
        let msg = reply["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field: {reply}"));
        assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
    }
    let (st, _, reply) = infer_json(&s, "/v2/models/nope/infer", &ok).await;
    assert_eq!((st, reply["error"].as_str().unwrap()), (404, "unknown model 'nope'"));
    let (st, _, _) = infer_json(&s, "/v2/models/churn/versions/9/infer", &ok).await;
    assert_eq!(st, 404);
    let malformed = client()
        .post(format!("{}/v2/models/churn/infer", s.url))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("malformed")
    );
    let big = client()
        .post(format!("{}/v2/models/churn/infer", s.url))
        .body(vec![b' '; 8192])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    assert!(
        big.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("--max-body")
    );
    let (st, _, _) = infer_json(&s, "/v2/models/churn/infer", &ok).await;
    assert_eq!(st, 200, "server still serves after bad input");
}

#[tokio::test]
async fn admin_calls_and_outcomes_need_the_token_and_change_nothing_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let meta = std::fs::metadata(dir.path().join("token")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(s.token.len(), 64);
    let c = client();
    for auth in [None, Some("Bearer wrong"), Some("Basic abc")] {
        let mut reqs = vec![
            c.post(format!("{}/admin/v1/blobs", s.url)).body("x"),
            c.post(format!("{}/admin/v1/models/m/versions", s.url))
                .json(&json!({"version": "1", "upstream_url": "http://127.0.0.1:9"})),
            c.put(format!("{}/admin/v1/models/m/route", s.url))
                .json(&json!({"version": "1"})),
            c.get(format!("{}/admin/v1/models", s.url)),
            c.post(format!("{}/v1/outcomes", s.url))
                .json(&json!({"request_id": "r", "metric": "m", "value": 1})),
        ];
        for r in reqs.drain(..) {
            let r = match auth {
                Some(a) => r.header("authorization", a),
                None => r,
            };
            assert_eq!(r.send().await.unwrap().status(), 401);
        }
    }
    assert!(
        std::fs::read_dir(dir.path().join("blobs")).unwrap().next().is_none(),
        "no blob stored"
    );
    let listed = common::admin_get(&s, "/admin/v1/models").await;
    assert_eq!(listed["models"], json!([]));
    // inference stays open unless --require-token-for-inference
    let s2dir = tempfile::tempdir().unwrap();
    let s2 = Server::start_in(s2dir.path(), &["--require-token-for-inference"]);
    deploy(&s2, "churn", "1", "churn_lr");
    let body = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]});
    assert_eq!(
        c.post(format!("{}/v2/models/churn/infer", s2.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let authed = c
        .post(format!("{}/v2/models/churn/infer", s2.url))
        .bearer_auth(&s2.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(authed.status(), 200);
}

#[tokio::test]
async fn kill_9_and_restart_serves_the_same_version_with_no_lost_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    deploy(&s, "churn", "1", "churn_lr_bad");
    deploy(&s, "churn", "2", "churn_lr");
    deploy(&s, "price", "1", "price_rf");
    s.kill9();
    let s = Server::start_in(dir.path(), &[]);
    let sm = samples("churn_lr");
    let (st, headers, body) = infer_json(&s, "/v2/models/churn/infer", &json!({"inputs": [sm["input"]]})).await;
    assert_eq!(st, 200);
    assert_eq!(body["model_version"], "2");
    assert_eq!(headers["x-mlctl-variant"], "2");
    assert_close(
        &body["outputs"][1]["data"],
        &sm["outputs"]["probabilities"]["data"],
        "probabilities after restart",
    );
    let (st, _, body) = infer_json(
        &s,
        "/v2/models/churn/versions/1/infer",
        &json!({"inputs": [sm["input"]]}),
    )
    .await;
    assert_eq!((st, body["model_version"].as_str()), (200, Some("1")));
    let out = s.cli().args(["status", "-o", "json"]).output().unwrap();
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = status["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["churn", "price"]);
    assert_eq!(status["models"][0]["live_version"], "2");
    let events = common::admin_get(&s, "/admin/v1/models/churn/events").await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["register", "route", "register", "route"]);
}

#[test]
fn models_that_cannot_load_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"definitely not protobuf \xff\xff\xff").unwrap();
    s.cli()
        .args(["deploy", "m", "--version", "1", "--onnx"])
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not an ONNX model"));
    s.cli()
        .args(["deploy", "m", "--version", "1", "--onnx"])
        .arg(fixture("models/unsupported_op.onnx"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "unsupported operator com.example.Frobnicate (node 'frob')",
        ));
    s.cli()
        .args(["status", "-o", "json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"models\": []"));
    // and a good one still deploys afterwards
    deploy(&s, "m", "1", "churn_lr");
}

#[tokio::test]
async fn predictions_and_outcomes_are_logged_and_flushed_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--log-inputs", "1"]);
    deploy(&s, "churn", "1", "churn_lr");
    let body = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0.5, 40, -1, 480]}]});
    let r = client()
        .post(format!("{}/v2/models/churn/infer", s.url))
        .header("x-mlctl-key", "user-7")
        .json(&body)
        .send()
        .await
        .unwrap();
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(r.status(), 200);
    let c = client();
    let one = c
        .post(format!("{}/v1/outcomes", s.url))
        .bearer_auth(&s.token)
        .json(&json!({"request_id": request_id, "metric": "converted", "value": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 202);
    let many = json!([{"key": "user-7", "metric": "revenue", "value": 12.5, "ts": "2026-11-27T10:00:00Z"}, {"request_id": "x", "metric": "converted", "value": 0}]);
    let r = c
        .post(format!("{}/v1/outcomes", s.url))
        .bearer_auth(&s.token)
        .json(&many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 2);
    let bad = json!([{"request_id": "ok", "metric": "m", "value": 1}, {"metric": "m", "value": 1}]);
    let r = c
        .post(format!("{}/v1/outcomes", s.url))
        .bearer_auth(&s.token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("outcome [1]: needs request_id or key")
    );
    assert_eq!(s.terminate(), Some(0), "graceful exit");
    let logs = dir.path().join("logs");
    let read_all = |prefix: &str| -> Vec<Value> {
        let mut out = vec![];
        for e in std::fs::read_dir(&logs).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_str().unwrap().starts_with(prefix) {
                out.extend(
                    std::fs::read_to_string(&p)
                        .unwrap()
                        .lines()
                        .map(|l| serde_json::from_str::<Value>(l).unwrap()),
                );
            }
        }
        out
    };
    let preds = read_all("predictions-");
    assert_eq!(preds.len(), 1);
    let p = &preds[0];
    assert_eq!(p["request_id"], request_id.as_str());
    assert_eq!(
        (
            p["model"].as_str(),
            p["version"].as_str(),
            p["role"].as_str(),
            p["status"].as_u64()
        ),
        (Some("churn"), Some("1"), Some("stable"), Some(200))
    );
    assert!(p["bucket"].as_u64().unwrap() < 10_000 && p["latency_us"].as_u64().is_some() && p["ts"].is_string());
    assert_eq!(p["outputs"][0]["name"], "label");
    assert_eq!(p["inputs"][0]["data"], json!([0.5, 40.0, -1.0, 480.0]));
    let outcomes = read_all("outcomes-");
    assert_eq!(outcomes.len(), 3, "the rejected batch wrote nothing");
    assert!(
        outcomes
            .iter()
            .any(|o| o["metric"] == "revenue" && o["value"] == 12.5 && o["key"] == "user-7")
    );
    // An outcome's own `ts` does not choose the file: the day it arrived does.
    let today = format!("outcomes-{}.jsonl", chrono::Utc::now().format("%Y%m%d"));
    let names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("outcomes-"))
        .collect();
    assert_eq!(names, vec![today]);
}

#[tokio::test]
async fn metrics_count_requests_and_errors_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    deploy(&s, "churn", "1", "churn_lr");
    let ok = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]});
    for _ in 0..3 {
        infer_json(&s, "/v2/models/churn/infer", &ok).await;
    }
    infer_json(
        &s,
        "/v2/models/churn/infer",
        &json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}),
    )
    .await;
    let text = client()
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"mlctl_requests_total{model="churn",version="1",role="stable",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mlctl_request_errors_total{model="churn",version="1",role="stable",status="400"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mlctl_request_duration_seconds_count{model="churn",version="1",role="stable"} 4"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mlctl_route_weight_percent{model="churn",version="1"} 100"#),
        "{text}"
    );
}
