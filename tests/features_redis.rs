//! The shared online feature store on a real `redis-server` (Debian's package) that the
//! test starts on a free port: a table loaded into Redis is served by a gateway with
//! `--feature-store`, pushes land in Redis, and when Redis dies a `fail` view answers 503
//! while a `default` view answers with its defaults (counted); after a restart the stored
//! values are served again.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Server;
use serde_json::{Value, json};

struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Redis {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        r.spawn();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Start (again) on the same port and directory: the append-only file restores the data.
    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (apt install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn view(on_store_error: &str) -> String {
    format!(
        r#"
input = "input"
on_store_error = "{on_store_error}"
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
[[feature]]
name = "prep_1h"
from = "restaurant_stats.avg_prep_1h"
key = "restaurant_id"
default = 0.5
"#
    )
}

async fn post(url: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn probabilities(s: &Server, model: &str, body: &Value) -> (u16, Value) {
    let (status, v) = post(&format!("{}/v2/models/{model}/infer", s.url), body, None).await;
    let p = v["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|t| t["name"] == "probabilities"))
        .map(|t| t["data"].clone())
        .unwrap_or(v);
    (status, p)
}

async fn direct(s: &Server, model: &str, row: [f32; 4]) -> Value {
    let body = json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": row}]});
    let (status, p) = probabilities(s, model, &body).await;
    assert_eq!(status, 200, "{p}");
    p
}

#[tokio::test]
#[ignore = "needs redis-server (apt install redis-server)"]
async fn redis_backed_views_serve_push_and_survive_an_outage() {
    let mut redis = Redis::start();
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("stats.csv");
    std::fs::write(
        &csv,
        "restaurant_id,event_ts,avg_prep_7d,avg_prep_1h\nr1,2026-11-20T00:00:00Z,12.5,14\nr1,2026-11-19T00:00:00Z,99,99\nr2,2026-11-20T00:00:00Z,30,\n",
    )
    .unwrap();
    let out = Command::new(common::bin())
        .arg("--data-dir")
        .arg(data.path())
        .args(["features", "load", "restaurant_stats", "--from"])
        .arg(&csv)
        .args([
            "--key",
            "restaurant_id",
            "--ts-col",
            "event_ts",
            "--feature-store",
            &redis.url(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(common::bin())
        .args([
            "features",
            "get",
            "restaurant_stats",
            "r1",
            "-o",
            "json",
            "--feature-store",
            &redis.url(),
        ])
        .output()
        .unwrap();
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["values"][0]["value"], 12.5, "the latest by event time: {got}");

    // A gateway with its own (empty) data dir: every value comes from Redis.
    let gw_dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(
        gw_dir.path(),
        &["--feature-store", &redis.url(), "--feature-timeout", "200ms"],
    );
    for (model, mode) in [("strict", "fail"), ("lenient", "default")] {
        let v = gw_dir.path().join(format!("{model}.toml"));
        std::fs::write(&v, view(mode)).unwrap();
        s.cli()
            .args(["deploy", model, "--version", "1", "--onnx"])
            .arg(common::fixture("models/churn_lr.onnx"))
            .arg("--features")
            .arg(&v)
            .assert()
            .success();
    }
    let r1 = json!({"parameters": {"restaurant_id": "r1", "hour": 13, "distance": 2.5}, "inputs": []});
    for model in ["strict", "lenient"] {
        let (status, p) = probabilities(&s, model, &r1).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(p, direct(&s, model, [13.0, 2.5, 12.5, 14.0]).await);
    }
    // A push lands in Redis (an older event time does not replace a newer value).
    let push = format!("{}/v1/features/restaurant_stats", s.url);
    let rows = json!({"rows": [
        {"entity": "r1", "ts": "2026-11-21T00:00:00Z", "values": {"avg_prep_1h": 20.0}},
        {"entity": "r1", "ts": "2026-11-01T00:00:00Z", "values": {"avg_prep_7d": 1.0}}
    ]});
    let (status, ack) = post(&push, &rows, Some(&s.token)).await;
    assert_eq!(status, 200, "{ack}");
    let (_, p) = probabilities(&s, "strict", &r1).await;
    assert_eq!(p, direct(&s, "strict", [13.0, 2.5, 12.5, 20.0]).await);

    // Redis dies: the fail view answers 503 naming the store, the default view its defaults.
    redis.kill();
    let (status, err) = post(&format!("{}/v2/models/strict/infer", s.url), &r1, None).await;
    assert_eq!(status, 503, "{err}");
    assert!(err["error"].as_str().unwrap().contains("on_store_error"), "{err}");
    let (status, p) = probabilities(&s, "lenient", &r1).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p, direct(&s, "lenient", [13.0, 2.5, -1.0, 0.5]).await);
    let metrics = common::metrics_text(&s).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("mlctl_feature_fallback_total{") && l.contains("store_error")),
        "{metrics}"
    );

    // Back up (the append-only file restores the values): served again.
    redis.spawn();
    let want = direct(&s, "strict", [13.0, 2.5, 12.5, 20.0]).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, p) = probabilities(&s, "strict", &r1).await;
        if status == 200 && p == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never served again after the restart: {status} {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
