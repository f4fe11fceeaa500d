//! Header and cookie routing on a real gateway: every matching request reaches the
//! candidate at a 5% weight, and keys without the header keep the version their bucket
//! gave them before the rule existed.

use crate::common;

use std::collections::HashMap;

use crate::common::{Server, deploy, events};

const FAST: &[&str] = &["--controller-tick", "100ms"];

/// Send one request per key (optionally with extra headers); key → version that answered.
async fn route(s: &Server, keys: std::ops::Range<u32>, extra: &[(&str, &str)]) -> HashMap<u32, String> {
    let http = reqwest::Client::new();
    let mut out = HashMap::new();
    for k in keys {
        let mut req = http
            .post(format!("{}/v2/models/m/infer", s.url))
            .header("x-mlctl-key", format!("user-{k}"))
            .json(
                &serde_json::json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                                                  "data": [0.5, 40.0, -1.0, 450.0]}]}),
            );
        for (h, v) in extra {
            req = req.header(*h, *v);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success());
        let v = r.headers()["x-mlctl-variant"].to_str().unwrap().to_string();
        out.insert(k, v);
    }
    out
}

/// Requests the rollout status counts for `version` in this step.
fn arm_requests(status: &serde_json::Value, version: &str) -> usize {
    status["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["version"] == version)
        .and_then(|a| a["requests"].as_u64())
        .unwrap() as usize
}

fn canary(s: &Server, extra: &[&str]) {
    s.cli()
        .args(["deploy", "m", "--version", "2", "--onnx"])
        .arg(common::fixture("models/churn_lr.onnx"))
        .args(["--strategy", "canary", "--steps", "5,100", "--interval", "1h"])
        .args(extra)
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_requests_reach_the_candidate_and_the_rest_keep_their_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    // The same canary without a rule: where each key's bucket sends it.
    canary(&s, &[]);
    let before = route(&s, 0..400, &[]).await;
    let on_candidate = before.values().filter(|v| *v == "2").count();
    assert!((5..=40).contains(&on_candidate), "≈5% of 400 keys: {on_candidate}");
    s.cli().args(["rollback", "m"]).assert().success();

    canary(
        &s,
        &[
            "--match",
            "header:x-tenant=internal",
            "--match",
            "cookie:beta=1",
            "--match",
            "header:x-user-id~^emp-",
        ],
    );
    // Everyone matching goes to the candidate, whatever their bucket.
    for h in [
        ("x-tenant", "internal"),
        ("cookie", "a=b; beta=1"),
        ("x-user-id", "emp-7"),
    ] {
        let got = route(&s, 1000..1100, &[h]).await;
        assert!(got.values().all(|v| v == "2"), "{h:?}: {got:?}");
    }
    // Near misses do not match; keys without the header keep their version.
    let near = route(&s, 0..400, &[("x-tenant", "internal-2"), ("x-user-id", "cust-emp-1")]).await;
    assert_eq!(near, before, "non-matching keys keep the same version");

    // Matched traffic is logged under its own role and kept out of the guards' window.
    let v = common::admin_get(&s, "/admin/v1/models/m/rollout").await;
    assert_eq!(arm_requests(&v, "2"), on_candidate, "{v}");
    assert_eq!(v["rollout"]["spec"]["matches"].as_array().unwrap().len(), 3);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let logs = std::fs::read_dir(dir.path().join("logs")).unwrap();
    let mut matched = 0;
    for f in logs {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        matched += text.lines().filter(|l| l.contains("\"role\":\"matched\"")).count();
    }
    assert_eq!(matched, 300, "three rules × 100 requests");
    assert!(events(&s, "m").await.iter().any(|e| e["kind"] == "rollout_start"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn included_matched_traffic_counts_for_the_guards_but_not_against_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    canary(&s, &["--match", "header:x-tenant=internal", "--guard-include-matched"]);
    let matched = route(&s, 0..300, &[("x-tenant", "internal")]).await;
    let plain = route(&s, 300..700, &[]).await;
    let plain_on_2 = plain.values().filter(|v| *v == "2").count();
    assert!(matched.values().all(|v| v == "2"));
    // 300 extra requests on a 5% arm would be a glaring sample-ratio mismatch if they
    // counted as bucket-routed; they do not, so the rollout keeps progressing.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let v = common::admin_get(&s, "/admin/v1/models/m/rollout").await;
    assert_eq!(v["rollout"]["phase"], "progressing", "{v}");
    assert_eq!(arm_requests(&v, "2"), 300 + plain_on_2, "{v}");
}

#[test]
fn bad_match_rules_exit_2_naming_the_flag() {
    for (m, want) in [
        ("header:x-user~(unclosed", "bad regex"),
        ("query:a=1", "header: or cookie:"),
        ("header:x-tenant", "NAME=VALUE"),
    ] {
        let out = std::process::Command::new(common::bin())
            .args(["deploy", "m", "--version", "2", "--upstream", "http://127.0.0.1:1"])
            .args(["--strategy", "canary", "--match", m])
            .args(["--endpoint", "http://127.0.0.1:1", "--token", &"t".repeat(32)])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{m}: {err}");
        assert!(err.contains("--match") && err.contains(want), "{m}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{m}: {err}");
    }
}
