//! Webhooks against a real receiver in the test: one signed message per rollout
//! transition, in order; a receiver that is down gets the backlog once it is back; a
//! hanging receiver never delays a route change.

use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::receiver::{Receiver, verify, wait_for};
use crate::common::{Server, deploy, events, traffic, wait_rollout};

const FAST: &[&str] = &["--controller-tick", "100ms"];

/// The audit events of `model` that are transitions (what webhooks carry).
async fn transitions(s: &Server, model: &str) -> Vec<(i64, String)> {
    events(s, model)
        .await
        .iter()
        .filter(|e| mlctl::serving::notify::NOTIFIED_KINDS.contains(&e["kind"].as_str().unwrap()))
        .map(|e| (e["id"].as_i64().unwrap(), e["kind"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transition_reaches_the_receivers_once_in_order_and_signed() {
    let (rx, base) = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let all = format!("{base}/all");
    let s = Server::start_in(dir.path(), &[FAST, &["--notify", &all]].concat());
    let secret = std::fs::read_to_string(dir.path().join("notify-secret")).unwrap();
    deploy(&s, "churn", "1", "churn_lr");
    // A canary that is promoted: enough clean requests for min_requests in 1 s steps.
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(common::fixture("models/churn_lr.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1s"])
        .args(["--guard", "min_requests=20"])
        .assert()
        .success();
    let url = s.url.clone();
    let load = tokio::spawn(async move { traffic(&url, "churn", 100_000, 500, 0, Duration::from_millis(2)).await });
    wait_rollout(&s, "churn", 30, |v| v["rollout"]["phase"] == "promoted").await;
    // A canary that is rolled back: its own --notify target hears only its transitions.
    let bad = common::start_bad_upstream();
    let mine = format!("slack+{base}/rollout-3");
    s.cli()
        .args([
            "deploy",
            "churn",
            "--version",
            "3",
            "--upstream",
            &format!("{bad}/v2/models/boom"),
        ])
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
        .args(["--guard", "error_rate<0.1", "--notify", &mine])
        .assert()
        .success();
    wait_rollout(&s, "churn", 30, |v| v["rollout"]["phase"] == "rolled_back").await;
    load.abort();

    let want = transitions(&s, "churn").await;
    let kinds: Vec<&str> = want.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"route"), "{kinds:?}");
    assert!(
        kinds.contains(&"promote") && kinds.last() == Some(&"rollback"),
        "{kinds:?}"
    );
    wait_for("every transition at /all", 15, || rx.on("/all").len() >= want.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.on("/all");
    let ids: Vec<i64> = got.iter().map(|r| r.delivery).collect();
    assert_eq!(
        ids,
        want.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        "once each, in order"
    );
    for r in &got {
        assert!(verify(&secret, r), "signature of delivery {}", r.delivery);
        let m = r.json();
        assert_eq!(m["model"], "churn");
        assert_eq!(m["id"].as_i64(), Some(r.delivery));
    }
    let rollback = got.last().unwrap().json();
    assert_eq!(rollback["kind"], "rollback");
    assert_eq!(rollback["guard_tripped"], true);
    assert_eq!(
        (rollback["candidate"].as_str(), rollback["stable"].as_str()),
        (Some("3"), Some("2"))
    );
    assert!(
        rollback["evidence"]["guards"][0]["guard"] == "error_rate<0.1",
        "{rollback}"
    );

    // The rollout's own target: its start and its rollback, in Slack's format.
    wait_for("the rollout's own target", 10, || rx.on("/rollout-3").len() >= 2).await;
    let slack = rx.on("/rollout-3");
    assert_eq!(slack.len(), 2, "{slack:?}");
    assert!(slack.iter().all(|r| verify(&secret, r)));
    let text = slack[1].json()["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("mlctl: churn: rolled back (candidate 3, stable 2)"),
        "{text}"
    );
    assert_eq!(slack[1].json().as_object().unwrap().len(), 1, "Slack gets only text");

    // Status shows the targets, redacted, with their counts; history hides the URL path.
    let st = common::admin_get(&s, "/admin/v1/notify").await;
    let targets = st["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{st}");
    assert!(
        targets
            .iter()
            .all(|t| t["failed"] == 0 && t["behind"].as_i64() == Some(0)),
        "{st}"
    );
    assert!(!st.to_string().contains("rollout-3"), "paths are redacted: {st}");
    assert!(
        !events(&s, "churn")
            .await
            .iter()
            .any(|e| e.to_string().contains("rollout-3"))
    );
    let metrics = common::metrics_text(&s).await;
    assert!(metrics.contains("mlctl_notify_deliveries_total{"), "{metrics}");
    // What `mlctl monitor rules` alerts on.
    assert!(
        metrics.contains("mlctl_rollout_transitions_total{model=\"churn\",kind=\"rollback\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_3_seconds_gets_every_message_once_when_it_is_back() {
    // Reserve a port, leave it closed: connection refused until the receiver starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = format!("http://{addr}/hook");
    let s = Server::start_in(dir.path(), &[FAST, &["--notify", &target]].concat());
    let down_since = Instant::now();
    deploy(&s, "m", "1", "churn_lr");
    deploy(&s, "m", "2", "churn_lr");
    s.cli().args(["rollback", "m", "--to", "1"]).assert().success();
    // Retries are visible while it is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let st = common::admin_get(&s, "/admin/v1/notify").await;
    assert!(
        st["targets"][0]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("connection failed"),
        "{st}"
    );
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(down_since.elapsed())).await;
    let rx = Receiver::default();
    rx.serve(std::net::TcpListener::bind(addr).unwrap());
    let want = transitions(&s, "m").await;
    assert_eq!(want.len(), 3, "{want:?}");
    wait_for("the backlog", 20, || rx.all().len() >= want.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<i64> = rx.all().iter().map(|r| r.delivery).collect();
    assert_eq!(ids, want.iter().map(|(id, _)| *id).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_never_delays_a_rollback() {
    /// Median route-swap time (`swap_ms`, measured by the gateway) of 9 rollbacks, in µs.
    fn median_swap_us(s: &Server) -> u64 {
        let mut us: Vec<u64> = ["1", "2", "1", "2", "1", "2", "1", "2", "1"]
            .iter()
            .map(|to| {
                let out = s
                    .cli()
                    .args(["rollback", "m", "--to", to, "-o", "json"])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                (v["swap_ms"].as_f64().unwrap() * 1000.0) as u64
            })
            .collect();
        us.sort_unstable();
        us[4]
    }
    let quiet_dir = tempfile::tempdir().unwrap();
    let quiet = Server::start_in(quiet_dir.path(), FAST);
    deploy(&quiet, "m", "1", "churn_lr");
    deploy(&quiet, "m", "2", "churn_lr");
    let without = median_swap_us(&quiet);

    let (rx, base) = Receiver::start();
    rx.hang.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[FAST, &["--notify", &format!("{base}/slow")]].concat());
    deploy(&s, "m", "1", "churn_lr");
    deploy(&s, "m", "2", "churn_lr");
    // The first message is now stuck in the receiver; route changes go on regardless.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let with = median_swap_us(&s);
    eprintln!("median rollback swap: {without} µs without webhooks, {with} µs with a hanging receiver");
    assert!(with < 5 * without + 5_000, "{with} µs vs {without} µs");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "9 rollbacks took {:?}",
        t.elapsed()
    );
    assert!(rx.all().is_empty());
}

#[test]
fn bad_notify_urls_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--notify",
            "ftp://x/secret-path",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--notify") && !err.contains("secret-path"), "{err}");
}
