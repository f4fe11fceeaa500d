//! Gates against a real receiver: a refusing pre-rollout gate stops the rollout before any
//! traffic moves; confirm-promotion holds until the receiver says yes; `mlctl approve`
//! releases a manual gate; a pre-step gate refusing past its timeout rolls back.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::receiver::{Receiver, verify, wait_for};
use crate::common::{Server, deploy, events, wait_rollout};

const FAST: &[&str] = &["--controller-tick", "100ms"];

fn canary(s: &Server, version: &str, extra: &[&str]) -> std::process::Output {
    s.cli()
        .args(["deploy", "m", "--version", version, "--onnx"])
        .arg(common::fixture("models/churn_lr.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "500ms"])
        .args(extra)
        .output()
        .unwrap()
}

fn kinds(ev: &[serde_json::Value]) -> Vec<String> {
    ev.iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_pre_rollout_gate_stops_the_rollout_before_any_traffic_moves() {
    let (rx, base) = Receiver::start();
    rx.status.store(500, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    let out = canary(&s, "2", &["--gate", &format!("pre-rollout={base}/pre")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("pre-rollout gate refused: HTTP 500"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let ev = events(&s, "m").await;
    assert!(!kinds(&ev).contains(&"rollout_start".to_string()), "{ev:?}");
    assert_eq!(kinds(&ev).last().unwrap(), "gate_refused");
    let status = common::admin_get(&s, "/admin/v1/models/m/rollout").await;
    assert_eq!(status["live_version"], "1", "{status}");
    // The gate was told what would roll out, signed with the gateway's secret.
    let secret = std::fs::read_to_string(dir.path().join("notify-secret")).unwrap();
    let got = rx.on("/pre");
    assert_eq!(got.len(), 1);
    assert!(verify(&secret, &got[0]));
    assert_eq!(got[0].json()["gate"], "pre-rollout");
    assert_eq!(got[0].json()["candidate"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_promotion_holds_the_last_step_until_the_gate_says_yes() {
    let (rx, base) = Receiver::start();
    rx.status.store(503, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    let out = canary(&s, "2", &["--gate", &format!("confirm-promotion={base}/confirm")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Well past the step's 500 ms: held at 50%, asked again and again, recorded once.
    wait_for("a few gate calls", 15, || rx.on("/confirm").len() >= 2).await;
    let v = common::admin_get(&s, "/admin/v1/models/m/rollout").await;
    assert_eq!(v["rollout"]["phase"], "progressing", "{v}");
    assert!(
        v["evaluation"]["held"]
            .as_str()
            .unwrap()
            .contains("confirm-promotion gate refused: HTTP 503"),
        "{v}"
    );
    let ev = events(&s, "m").await;
    assert_eq!(kinds(&ev).iter().filter(|k| *k == "gate_hold").count(), 1, "{ev:?}");
    rx.status.store(200, Ordering::SeqCst);
    let v = wait_rollout(&s, "m", 15, |v| v["rollout"]["phase"] != "progressing").await;
    assert_eq!(v["rollout"]["phase"], "promoted", "{v}");
    assert_eq!(rx.on("/confirm").last().unwrap().json()["gate"], "confirm-promotion");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlctl_approve_releases_a_manual_gate() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    // Approving where there is nothing to approve is a usage error.
    s.cli().args(["approve", "m"]).assert().code(2);
    let out = canary(&s, "2", &["--gate", "manual"]);
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v = common::admin_get(&s, "/admin/v1/models/m/rollout").await;
    assert_eq!(v["rollout"]["phase"], "progressing", "{v}");
    assert!(
        v["evaluation"]["held"].as_str().unwrap().contains("mlctl approve"),
        "{v}"
    );
    s.cli().args(["approve", "m"]).assert().success();
    let v = wait_rollout(&s, "m", 10, |v| v["rollout"]["phase"] != "progressing").await;
    assert_eq!(v["rollout"]["phase"], "promoted", "{v}");
    let ev = events(&s, "m").await;
    let k = kinds(&ev);
    let at = |kind: &str| k.iter().position(|x| x == kind).unwrap();
    assert!(
        at("gate_hold") < at("approve") && at("approve") < at("promote"),
        "{k:?}"
    );
    assert_eq!(ev[at("approve")]["actor"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_step_gate_refusing_past_its_timeout_rolls_back() {
    let (rx, base) = Receiver::start();
    rx.status.store(500, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    let out = canary(
        &s,
        "2",
        &["--gate", &format!("pre-step={base}/step"), "--gate-timeout", "1s"],
    );
    assert!(out.status.success());
    let v = wait_rollout(&s, "m", 15, |v| v["rollout"]["phase"] != "progressing").await;
    assert_eq!(v["rollout"]["phase"], "rolled_back", "{v}");
    let reason = v["rollout"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("gate timeout (1s): held: pre-step gate refused: HTTP 500"),
        "{reason}"
    );
}

#[test]
fn bad_gates_exit_2_naming_the_flag() {
    for (gate, want) in [
        ("pre-flight=http://127.0.0.1:1/x", "unknown gate kind"),
        ("pre-step=ftp://x/y", "http(s) URL"),
        ("pre-step", "KIND=URL"),
    ] {
        let out = std::process::Command::new(common::bin())
            .args(["deploy", "m", "--version", "2", "--upstream", "http://127.0.0.1:1"])
            .args(["--strategy", "canary", "--gate", gate])
            .args(["--endpoint", "http://127.0.0.1:1", "--token", &"t".repeat(32)])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{gate}: {err}");
        assert!(err.contains("--gate") && err.contains(want), "{gate}: {err}");
    }
}
