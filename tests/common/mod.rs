//! Test helpers: a real `mlctl serve` child process on 127.0.0.1 with a free port and a
//! temporary data dir, stopped (SIGTERM, then kill) when dropped.
#![allow(dead_code)]

pub mod nginx;
pub mod onnx_gen;
pub mod pg;
pub mod receiver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mlctl"))
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

pub struct Server {
    pub child: Child,
    pub url: String,
    /// `host:port` of the gRPC listener, when started with `--grpc-listen`.
    pub grpc: Option<String>,
    pub data_dir: PathBuf,
    pub token: String,
}

impl Server {
    /// Start on a free port in `data_dir` with extra serve flags; waits for readiness.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with(data_dir, extra, &[], None)
    }

    /// Like `start_in`, with environment variables, and the token the server was given
    /// (`None`: the one it writes to its data dir).
    pub fn start_with(data_dir: &Path, extra: &[&str], env: &[(&str, &str)], token: Option<&str>) -> Server {
        let mut child = Command::new(bin())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .env_remove("MLCTL_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mlctl serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut grpc = None;
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("mlctl: gRPC listening on ") {
                        grpc = Some(rest.trim().to_string());
                    }
                    if let Some(rest) = line.strip_prefix("mlctl: listening on ") {
                        break rest.trim().to_string();
                    }
                }
                _ => panic!("mlctl serve exited before listening"),
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let token = match token {
            Some(t) => t.to_string(),
            None => std::fs::read_to_string(data_dir.join("token"))
                .expect("token file")
                .trim()
                .to_string(),
        };
        let s = Server {
            child,
            url,
            grpc,
            data_dir: data_dir.to_path_buf(),
            token,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get_ok(&format!("{}/v2/health/ready", self.url)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gateway at {} never became ready", self.url);
    }

    /// `mlctl` with --endpoint/--token/--data-dir pointing at this server.
    pub fn cli(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(bin());
        c.env("MLCTL_ENDPOINT", &self.url)
            .env("MLCTL_TOKEN", &self.token)
            .env("MLCTL_DATA_DIR", &self.data_dir)
            .env("NO_COLOR", "1");
        c
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::mem::forget(self);
        code
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal blocking GET over std TCP (no client dependency), true on HTTP 200.
pub fn http_get_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

/// Deploy a fixture model through the CLI; panics with its stderr on failure.
pub fn deploy(server: &Server, name: &str, version: &str, fixture_model: &str) {
    server
        .cli()
        .args(["deploy", name, "--version", version, "--onnx"])
        .arg(fixture(&format!("models/{fixture_model}.onnx")))
        .assert()
        .success();
}

/// Deploy `name` `version` as a proxy to `url` (single strategy), with extra flags.
pub fn deploy_upstream(server: &Server, name: &str, version: &str, url: &str, extra: &[&str]) {
    server
        .cli()
        .args(["deploy", name, "--version", version, "--upstream", url])
        .args(extra)
        .assert()
        .success();
}

/// churn v1 (churn_lr) live, then v2 (churn_rf) as a canary held at 50% for an hour.
pub fn deploy_half_canary(s: &Server) {
    deploy(s, "churn", "1", "churn_lr");
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_rf.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
        .assert()
        .success();
}

pub fn samples(model: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture(&format!("models/{model}.samples.json"))).unwrap()).unwrap()
}

/// One request of generated traffic and what answered it.
#[derive(Debug, Clone)]
pub struct Served {
    pub key: String,
    pub request_id: String,
    pub variant: String,
    pub status: u16,
}

/// Send `n` one-row requests to `model`, keys `user-{offset + i % keys}`, `pause` between.
pub async fn traffic(
    url: &str,
    model: &str,
    n: usize,
    keys: usize,
    offset: usize,
    pause: std::time::Duration,
) -> Vec<Served> {
    let http = reqwest::Client::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let key = format!("user-{}", offset + i % keys.max(1));
        let x = (i % 17) as f64;
        let body = serde_json::json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [x / 10.0, 40.0 + x, -1.0, 450.0 + 5.0 * x]}]});
        let r = http
            .post(format!("{url}/v2/models/{model}/infer"))
            .header("x-mlctl-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let h = |k: &str| {
            r.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        out.push(Served {
            key,
            request_id: h("x-request-id"),
            variant: h("x-mlctl-variant"),
            status: r.status().as_u16(),
        });
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    out
}

/// Outcomes for served requests where the stable version "1" converts 40% of the time
/// and the candidate "2" 10%: `{request_id, metric: "converted", value: 1}` for each.
pub fn conversions(served: &[Served]) -> Vec<serde_json::Value> {
    served
        .iter()
        .enumerate()
        .filter(|(i, r)| (r.variant == "1" && i % 5 < 2) || (r.variant == "2" && i % 10 == 0))
        .map(|(_, r)| serde_json::json!({"request_id": r.request_id, "metric": "converted", "value": 1}))
        .collect()
}

/// Every `every`-th call (per process) answers 500, the rest a valid V2 answer.
fn flaky(every: u64) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
    let n = CALLS[usize::from(every == 20)].fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_multiple_of(every) {
        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "flaky").into_response()
    } else {
        axum::Json(serde_json::json!({
            "model_name": "flaky",
            "outputs": [{"name": "p", "shape": [1], "datatype": "FP32", "data": [0.5]}]
        }))
        .into_response()
    }
}

/// A V2-looking upstream whose models misbehave in known ways (`slow`, `huge`,
/// `garbage`, `boom`, `picky`, `flaky05` and `flaky5` failing 0.5% and 5% of calls); runs on its own thread until the test process ends.
pub fn start_bad_upstream() -> String {
    use axum::Router;
    use axum::routing::{get, post};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/v2/models/{m}/ready", get(|| async { "ok" }))
        .route(
            "/v2/models/slow/infer",
            post(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/v2/models/flaky05/infer", post(|| async { flaky(200) }))
        .route("/v2/models/flaky5/infer", post(|| async { flaky(20) }))
        .route(
            "/v2/models/huge/infer",
            // 100 MB of JSON-looking bytes.
            post(|| async { vec![b' '; 100 << 20] }),
        )
        .route(
            "/v2/models/garbage/infer",
            post(|| async { "this is not a V2 response" }),
        )
        .route(
            "/v2/models/boom/infer",
            post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "kaboom") }),
        )
        .route(
            "/v2/models/picky/infer",
            post(|| async {
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(serde_json::json!({"error": "input too small"})),
                )
            }),
        );
    serve_in_thread(listener, app);
    format!("http://{addr}")
}

/// Serve `app` on `listener` from a thread of its own (until the test process ends).
pub fn serve_in_thread(listener: std::net::TcpListener, app: axum::Router) {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
}

/// `n` requests per client from `clients` concurrent clients (keys disjoint per client),
/// each task returning what answered.
pub fn spawn_traffic(
    url: &str,
    model: &str,
    clients: usize,
    n: usize,
    keys: usize,
    pause: Duration,
) -> Vec<tokio::task::JoinHandle<Vec<Served>>> {
    (0..clients)
        .map(|i| {
            let (url, model) = (url.to_string(), model.to_string());
            tokio::spawn(async move { traffic(&url, &model, n, keys, i * keys, pause).await })
        })
        .collect()
}

/// The gateway's `/metrics` text.
pub async fn metrics_text(s: &Server) -> String {
    reqwest::get(format!("{}/metrics", s.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Stable and candidate both behind `upstream_model` of the test upstream (`flaky05`:
/// 0.5% failures, `flaky5`: 5%), after `warmup` stable-only requests, a canary with
/// `error_rate<0.01` under two clients until it ends. Showing a 0.5% error rate below 1%
/// takes about 4000 candidate requests: steps of 8 s extended up to 3 times.
pub async fn flaky_canary(
    upstream_model: &str,
    warmup: usize,
    serve: &[&str],
) -> (Server, tempfile::TempDir, serde_json::Value) {
    let bad = start_bad_upstream();
    let up = format!("{bad}/v2/models/{upstream_model}");
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), serve);
    deploy_upstream(&s, "m", "1", &up, &[]);
    if warmup > 0 {
        traffic(&s.url, "m", warmup, warmup, 10_000, Duration::ZERO).await;
    }
    s.cli()
        .args([
            "deploy",
            "m",
            "--version",
            "2",
            "--upstream",
            &up,
            "--strategy",
            "canary",
        ])
        .args(["--steps", "50,100", "--interval", "8s", "--guard", "error_rate<0.01"])
        .args(["--max-step-extensions", "3"])
        .assert()
        .success();
    let loads = spawn_traffic(&s.url, "m", 2, 20_000, 4000, Duration::ZERO);
    let v = wait_rollout(&s, "m", 60, |v| v["rollout"]["phase"] != "progressing").await;
    loads.iter().for_each(|l| l.abort());
    (s, dir, v)
}

/// Poll the rollout status until `pred` holds (panics after `secs`).
pub async fn wait_rollout(
    s: &Server,
    model: &str,
    secs: u64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = admin_get(s, &format!("/admin/v1/models/{model}/rollout")).await;
        if pred(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "rollout of {model} never reached the expected state: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET an admin API path (`/admin/v1/...`) with the server's token; the JSON answer.
pub async fn admin_get(s: &Server, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}{path}", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn events(s: &Server, model: &str) -> Vec<serde_json::Value> {
    let v = admin_get(s, &format!("/admin/v1/models/{model}/events")).await;
    v["events"].as_array().cloned().unwrap_or_default()
}

/// Peak resident memory (VmHWM) of a process in MiB (Linux).
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// A drift baseline profile in `dir` of one column, `probabilities[1]`, holding `values`
/// (made by `mlctl drift baseline`, as a user would).
#[allow(dead_code)]
pub fn score_baseline(s: &Server, dir: &Path, values: &[f64]) -> PathBuf {
    let mut csv = String::from("probabilities[1]\n");
    for v in values {
        csv += &format!("{v}\n");
    }
    let train = dir.join("train_scores.csv");
    std::fs::write(&train, csv).unwrap();
    let profile = dir.join("profile.json");
    s.cli()
        .args(["drift", "baseline"])
        .arg(&train)
        .arg("--out")
        .arg(&profile)
        .args(["--sample", "1000"])
        .assert()
        .success();
    profile
}

/// Scores no churn model answers: a baseline every window drifts from.
#[allow(dead_code)]
pub fn far_scores() -> Vec<f64> {
    (0..500).map(|i| 0.001 * f64::from(i % 10)).collect()
}

/// `mlctl --data-dir DATA ARGS…` (no gateway needed), its output.
#[allow(dead_code)]
pub fn mlctl_in(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

/// `mlctl features load restaurant_stats --from FROM --key restaurant_id --ts-col event_ts
/// -o json` on `data` (the feature tests' table).
pub fn load_restaurant_stats(data: &Path, from: &str) -> std::process::Output {
    mlctl_in(
        data,
        &[
            "features",
            "load",
            "restaurant_stats",
            "--from",
            from,
            "--key",
            "restaurant_id",
            "--ts-col",
            "event_ts",
            "-o",
            "json",
        ],
    )
}
