//! `prom:` guards against a real Prometheus (Debian's `prometheus` package) that the test
//! starts on a free port, scraping the gateway every second: a failing candidate is
//! rolled back on an error-ratio query; a query for a metric that does not exist never
//! passes (the step pauses as inconclusive).

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Server, deploy, wait_rollout};

const FAST: &[&str] = &["--controller-tick", "100ms"];

/// A Prometheus child process scraping `target` (host:port) every second; killed on drop.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        Prometheus::start_with_rules(target, None)
    }

    /// Scraping `target`, evaluating `rules` (a rule file's YAML) every second.
    fn start_with_rules(target: &str, rules: Option<&str>) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let rule_files = match rules {
            Some(yaml) => {
                std::fs::write(dir.path().join("rules.yml"), yaml).unwrap();
                format!("rule_files:\n  - {}\n", dir.path().join("rules.yml").display())
            }
            None => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{rule_files}scrape_configs:\n  - job_name: mlctl\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (apt install prometheus)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !common::http_get_ok(&format!("{url}/-/ready")) {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        Prometheus { child, url, _dir: dir }
    }
}

/// One instant query against `prom`: the API's JSON answer.
async fn query(prom: &Prometheus, q: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}/api/v1/query", prom.url))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt install prometheus)"]
async fn a_failing_candidate_is_rolled_back_on_a_prometheus_error_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    let prom = Prometheus::start(host_port(&s.url));
    deploy(&s, "m", "1", "churn_lr");
    let bad = common::start_bad_upstream();
    let query = r#"prom:sum(rate(mlctl_request_errors_total{version="{{candidate}}"}[30s])) / sum(rate(mlctl_requests_total{version="{{candidate}}"}[30s])) < 0.01"#;
    s.cli()
        .args([
            "deploy",
            "m",
            "--version",
            "2",
            "--upstream",
            &format!("{bad}/v2/models/boom"),
        ])
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
        .args(["--guard", query, "--prometheus", &prom.url, "--prom-interval", "1s"])
        .assert()
        .success();
    let load = common::spawn_traffic(&s.url, "m", 1, 100_000, 1000, Duration::from_millis(20));
    let v = wait_rollout(&s, "m", 60, |v| v["rollout"]["phase"] != "progressing").await;
    load.iter().for_each(|l| l.abort());
    assert_eq!(v["rollout"]["phase"], "rolled_back", "{v}");
    let reason = v["rollout"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("guard tripped: prom:sum(rate(mlctl_request_errors_total"),
        "{reason}"
    );
    assert!(reason.contains("must be < 0.01; 2 breach(es) in a row"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt install prometheus)"]
async fn a_query_for_a_metric_that_does_not_exist_never_passes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    let prom = Prometheus::start(host_port(&s.url));
    deploy(&s, "m", "1", "churn_lr");
    s.cli()
        .args(["deploy", "m", "--version", "2", "--onnx"])
        .arg(common::fixture("models/churn_lr.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "3s"])
        .args([
            "--guard",
            "prom:sum(mlctl_no_such_metric_total)<1",
            "--prometheus",
            &prom.url,
        ])
        .args(["--prom-interval", "1s", "--max-step-extensions", "0"])
        .assert()
        .success();
    let load = common::spawn_traffic(&s.url, "m", 1, 100_000, 1000, Duration::from_millis(20));
    let v = wait_rollout(&s, "m", 30, |v| v["rollout"]["phase"] != "progressing").await;
    load.iter().for_each(|l| l.abort());
    assert_eq!(v["rollout"]["phase"], "paused", "{v}");
    let reason = v["rollout"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("inconclusive: prom:sum(mlctl_no_such_metric_total)<1"),
        "{reason}"
    );
    assert!(reason.contains("no data: the query returned nothing"), "{reason}");
}

#[test]
fn prometheus_guards_need_a_reachable_prometheus_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (extra, want) in [
        (vec![], "prom: guards need --prometheus URL"),
        (
            vec!["--prometheus".to_string(), format!("http://127.0.0.1:{closed}")],
            "unreachable",
        ),
    ] {
        let out = s
            .cli()
            .args(["deploy", "m", "--version", "2", "--onnx"])
            .arg(common::fixture("models/churn_lr.onnx"))
            .args(["--strategy", "canary", "--guard", "prom:up<1"])
            .args(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// Every expression of `mlctl monitor dashboard` is PromQL a real Prometheus accepts, and
/// the traffic panels have data once it has scraped a gateway under load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt install prometheus)"]
async fn the_dashboards_queries_run_on_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    let prom = Prometheus::start(host_port(&s.url));
    deploy(&s, "m", "1", "churn_lr");
    let load = common::spawn_traffic(&s.url, "m", 1, 100_000, 100, Duration::from_millis(10));
    // Rates need two scrapes with traffic between them: wait for three.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = query(&prom, "count_over_time(mlctl_in_flight_requests[1m])").await;
        let scrapes = v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
        if scrapes >= 3.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "prometheus never scraped the gateway: {v}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut with_data = 0;
    for expr in mlctl::commands::dashboard::expressions() {
        // [5m] windows need two scrapes; 4 s of 1 s scrapes are enough.
        let v = query(&prom, &expr).await;
        assert_eq!(v["status"], "success", "{expr}: {v}");
        with_data += usize::from(!v["data"]["result"].as_array().unwrap().is_empty());
    }
    load.iter().for_each(|l| l.abort());
    assert!(
        with_data >= 4,
        "traffic, errors, latency and weights panels have data ({with_data})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt install prometheus)"]
async fn prometheus_fires_the_drift_alert_from_a_monitors_gauge() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    let rules = s.cli().args(["monitor", "rules"]).output().unwrap();
    assert!(rules.status.success());
    let prom = Prometheus::start_with_rules(host_port(&s.url), Some(&String::from_utf8_lossy(&rules.stdout)));
    deploy(&s, "m", "1", "churn_lr");
    // A baseline the model's answers are far from: every window drifts.
    let profile = common::score_baseline(&s, dir.path(), &common::far_scores());
    s.cli()
        .args(["monitor", "add", "m", "--baseline"])
        .arg(&profile)
        .args(["--window", "1s", "--consecutive", "1", "--method", "ks"])
        .assert()
        .success();
    let load = common::spawn_traffic(&s.url, "m", 1, 100_000, 1000, Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = query(&prom, "ALERTS{alertname=\"MlctlDriftDetected\",alertstate=\"firing\"}").await;
        let firing = v["data"]["result"].as_array().map_or(0, Vec::len);
        if firing > 0 {
            assert_eq!(v["data"]["result"][0]["metric"]["column"], "probabilities[1]", "{v}");
            assert_eq!(v["data"]["result"][0]["metric"]["model"], "m", "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "the drift alert never fired: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    load.iter().for_each(|l| l.abort());
}
