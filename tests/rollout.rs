//! Rollouts end to end against a real `mlctl serve` child process (controller tick 100 ms).

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Server, deploy, events, fixture, traffic, wait_rollout};
use predicates::prelude::*;
use serde_json::{Value, json};

const FAST: &[&str] = &["--controller-tick", "100ms"];

fn kinds(ev: &[Value]) -> Vec<String> {
    ev.iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

#[test]
fn buckets_split_100k_keys_within_1_percent_and_canary_growth_is_monotone() {
    use mlctl::rollout::bucket_ranges;
    use mlctl::serving::router::bucket;
    let weights = [50.0, 25.0, 25.0];
    let ranges = bucket_ranges(&weights);
    let mut counts = [0u32; 3];
    for i in 0..100_000 {
        let b = bucket("salt-1", &format!("k{i}"));
        counts[ranges.iter().position(|(s, e)| *s <= b && b < *e).unwrap()] += 1;
    }
    for (c, w) in counts.iter().zip(weights) {
        assert!((*c as f64 / 1000.0 - w).abs() < 1.0, "{counts:?}");
    }
    // every key on the canary at 5% is still on the canary at 25% and 50%
    let on = |w: f64, key: &str| {
        let (s, e) = bucket_ranges(&[w, 100.0 - w])[0];
        let b = bucket("salt-1", key);
        s <= b && b < e
    };
    for i in 0..100_000 {
        let k = format!("k{i}");
        if on(5.0, &k) {
            assert!(on(25.0, &k) && on(50.0, &k), "{k} left the canary");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_steps_through_and_promotes_with_an_audited_history() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr_bad");
    let url = s.url.clone();
    let load = tokio::spawn(async move { traffic(&url, "churn", 1500, 200, 0, Duration::from_millis(3)).await });
    let out = s
        .cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr.onnx"))
        .args([
            "--strategy",
            "canary",
            "--steps",
            "20,50,100",
            "--interval",
            "1s",
            "--guard",
            "error_rate<0.5",
            "--guard",
            "min_requests=10",
            "--wait",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("canary (promoted)"));
    let served = load.await.unwrap();
    assert!(served.iter().all(|r| r.status == 200));
    let ev = events(&s, "churn").await;
    assert_eq!(
        kinds(&ev),
        ["register", "route", "register", "rollout_start", "step", "promote"]
    );
    assert_eq!(ev[4]["actor"], "controller");
    assert!(ev[4]["detail"]["evidence"]["guards"][0]["guard"] == "error_rate<0.5");
    // after promotion everything goes to version 2
    let after = traffic(&s.url, "churn", 50, 50, 1000, Duration::ZERO).await;
    assert!(after.iter().all(|r| r.variant == "2"));
    s.cli()
        .args(["history", "churn"])
        .assert()
        .success()
        .stdout(predicate::str::contains("all steps passed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_are_sticky_per_key_and_close_to_the_canary_share() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args(["--strategy", "canary", "--steps", "30,100", "--interval", "1h"])
        .assert()
        .success();
    let first = traffic(&s.url, "churn", 2000, 2000, 0, Duration::ZERO).await;
    let share = first.iter().filter(|r| r.variant == "2").count() as f64 / 2000.0;
    // binomial sd at n = 2000 is ~0.01; allow 4 sd
    assert!((share - 0.30).abs() < 0.04, "canary share {share}");
    let again = traffic(&s.url, "churn", 2000, 2000, 0, Duration::ZERO).await;
    for (a, b) in first.iter().zip(&again) {
        assert_eq!((&a.key, &a.variant), (&b.key, &b.variant), "same key, same arm");
    }
    let status = s.cli().args(["status", "churn", "-o", "json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        v["rollouts"][0]["weights"],
        json!([{"version": "2", "role": "canary", "percent": 30.0}, {"version": "1", "role": "stable", "percent": 70.0}])
    );
    let metrics = common::metrics_text(&s).await;
    assert!(
        metrics.contains(r#"mlctl_route_weight_percent{model="churn",version="2"} 30"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_candidate_is_rolled_back_within_seconds_by_the_error_rate_guard() {
    // stable: a model that answers; candidate: an upstream that always fails (500). At
    // about 50 requests a second (half to the candidate) it is rolled back within 2 s.
    let (s, _dir) = failing_canary(&[], "50,100", "1h").await;
    let started = Instant::now();
    let url = s.url.clone();
    let load = tokio::spawn(async move { traffic(&url, "boom", 300, 300, 0, Duration::from_millis(20)).await });
    let v = wait_rollout(&s, "boom", 20, |v| v["rollout"]["phase"] == "rolled_back").await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "rollback took {took:?}");
    assert!(
        v["rollout"]["reason"].as_str().unwrap().contains("error_rate<0.1 on 2"),
        "{v}"
    );
    let served = load.await.unwrap();
    let tail: Vec<_> = served.iter().rev().take(50).collect();
    assert!(
        tail.iter().all(|r| r.variant == "1" && r.status == 200),
        "after rollback only stable answers"
    );
    let ev = events(&s, "boom").await;
    let rb = ev.iter().find(|e| e["kind"] == "rollback").unwrap();
    assert_eq!(rb["actor"], "controller");
    let g = &rb["detail"]["evidence"]["guards"][0];
    assert_eq!(
        (g["guard"].as_str(), g["pass"].as_bool()),
        (Some("error_rate<0.1"), Some(false))
    );
    assert!(g["value"].as_f64().unwrap() > 0.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_guard_rolls_back_a_candidate_that_converts_worse() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args([
            "--strategy",
            "canary",
            "--steps",
            "50,100",
            "--interval",
            "1h",
            "--guard",
            "outcome:converted>=control",
        ])
        .assert()
        .success();
    let http = reqwest::Client::new();
    let mut rolled_back = false;
    for round in 0..20 {
        let served = traffic(&s.url, "churn", 100, 100, round * 100, Duration::ZERO).await;
        let outcomes = common::conversions(&served);
        http.post(format!("{}/v1/outcomes", s.url))
            .bearer_auth(&s.token)
            .json(&outcomes)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let v = wait_rollout(&s, "churn", 5, |_| true).await;
        if v["rollout"]["phase"] == "rolled_back" {
            assert!(
                v["rollout"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("outcome:converted>=control"),
                "{v}"
            );
            rolled_back = true;
            break;
        }
    }
    assert!(rolled_back, "the worse candidate was never rolled back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_requests_pauses_an_underpowered_step_as_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    let out = s
        .cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args([
            "--strategy",
            "canary",
            "--steps",
            "10,100",
            "--interval",
            "1s",
            "--guard",
            "min_requests=1000",
            "--max-step-extensions",
            "1",
            "--wait",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ended paused: inconclusive: min_requests=1000"));
    // paused keeps its weights; resume restarts the timer; rollback from paused works
    s.cli().args(["resume", "churn"]).assert().success();
    s.cli().args(["pause", "churn"]).assert().success();
    s.cli()
        .args(["rollback", "churn", "--reason", "not enough traffic"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rolled_back"));
    let ev = events(&s, "churn").await;
    assert_eq!(
        kinds(&ev)[3..],
        ["rollout_start", "extend", "pause", "resume", "pause", "rollback"]
    );
    assert_eq!(ev[4]["detail"]["extension"], 1, "{:?}", ev[4]);
    assert_eq!(ev.last().unwrap()["detail"]["reason"], "not enough traffic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_works_from_every_state_and_to_an_older_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    deploy(&s, "m", "2", "churn_lr_bad");
    // progressing → rolled back
    s.cli()
        .args(["deploy", "m", "--version", "3", "--onnx"])
        .arg(fixture("models/churn_rf.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
        .assert()
        .success();
    let out = s.cli().args(["rollback", "m", "-o", "json"]).output().unwrap();
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["live_version"], "2");
    assert!(t["swap_ms"].as_f64().unwrap() < 1000.0);
    assert!(
        traffic(&s.url, "m", 30, 30, 0, Duration::ZERO)
            .await
            .iter()
            .all(|r| r.variant == "2")
    );
    // promoted → rolled back to the previous stable
    s.cli()
        .args(["deploy", "m", "--version", "3", "--onnx"])
        .arg(fixture("models/churn_rf.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
        .assert()
        .success();
    s.cli().args(["promote", "m"]).assert().success();
    assert!(
        traffic(&s.url, "m", 30, 30, 0, Duration::ZERO)
            .await
            .iter()
            .all(|r| r.variant == "3")
    );
    s.cli().args(["rollback", "m"]).assert().success();
    assert!(
        traffic(&s.url, "m", 30, 30, 0, Duration::ZERO)
            .await
            .iter()
            .all(|r| r.variant == "2")
    );
    // --to an older version
    s.cli()
        .args(["rollback", "m", "--to", "1", "--reason", "back to the first"])
        .assert()
        .success();
    assert!(
        traffic(&s.url, "m", 30, 30, 0, Duration::ZERO)
            .await
            .iter()
            .all(|r| r.variant == "1")
    );
    s.cli()
        .args(["rollback", "m", "--to", "9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no loaded version '9'"));
    s.cli()
        .args(["promote", "m"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to promote"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_step_resumes_the_same_step_without_lost_or_duplicated_events() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args(["--strategy", "canary", "--steps", "10,40,100", "--interval", "4s"])
        .assert()
        .success();
    wait_rollout(&s, "churn", 10, |v| v["rollout"]["step"] == 1).await;
    traffic(&s.url, "churn", 40, 40, 0, Duration::ZERO).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // past the log's 100 ms flush
    let before = wait_rollout(&s, "churn", 5, |_| true).await;
    let count = |v: &Value| -> u64 {
        v["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["requests"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(count(&before), 40);
    s.kill9();
    let s = Server::start_in(dir.path(), FAST);
    let after = wait_rollout(&s, "churn", 5, |_| true).await;
    assert_eq!(after["rollout"]["step"], 1, "resumed at the same step");
    assert_eq!(
        after["rollout"]["step_started_at"], before["rollout"]["step_started_at"],
        "same timer"
    );
    assert_eq!(after["weights"], before["weights"]);
    assert_eq!(
        count(&after),
        40,
        "the step's evidence was rebuilt from the prediction log"
    );
    assert_eq!(after["arms"], before["arms"]);
    wait_rollout(&s, "churn", 15, |v| v["rollout"]["phase"] == "promoted").await;
    let ev = events(&s, "churn").await;
    assert_eq!(
        kinds(&ev),
        ["register", "route", "register", "rollout_start", "step", "promote"]
    );
    let ids: Vec<i64> = ev.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "no gaps: {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_never_changes_live_answers_and_reports_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    // same model bytes under a new version: full agreement expected
    s.cli()
        .args(["deploy", "churn", "--version", "1b", "--onnx"])
        .arg(fixture("models/churn_lr.onnx"))
        .args(["--strategy", "shadow", "--guard", "shadow_agreement>0.99"])
        .assert()
        .success();
    let served = traffic(&s.url, "churn", 200, 200, 0, Duration::ZERO).await;
    assert!(served.iter().all(|r| r.variant == "1"), "shadow answers nothing live");
    let v = wait_rollout(&s, "churn", 10, |v| {
        v["arms"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["compared"].as_u64() >= Some(150)))
    })
    .await;
    let shadow = v["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["version"] == "1b")
        .unwrap();
    assert_eq!(shadow["agreement"], 1.0);
    assert_eq!(v["rollout"]["phase"], "progressing");
    // the shadow's answers are logged with role "shadow"
    s.cli().args(["promote", "churn"]).assert().success();
    assert!(
        traffic(&s.url, "churn", 20, 20, 0, Duration::ZERO)
            .await
            .iter()
            .all(|r| r.variant == "1b")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disagreeing_shadow_is_stopped_and_its_examples_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args(["--strategy", "shadow", "--guard", "shadow_agreement>0.95"])
        .assert()
        .success();
    let url = s.url.clone();
    tokio::spawn(async move { traffic(&url, "churn", 400, 400, 0, Duration::from_millis(2)).await });
    let v = wait_rollout(&s, "churn", 20, |v| v["rollout"]["phase"] == "rolled_back").await;
    assert!(
        v["rollout"]["reason"]
            .as_str()
            .unwrap()
            .contains("shadow_agreement>0.95"),
        "{v}"
    );
    let ev = events(&s, "churn").await;
    let rb = ev.iter().find(|e| e["kind"] == "rollback").unwrap();
    assert!(rb["detail"]["evidence"]["guards"][0]["value"].as_f64().unwrap() < 0.95);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_shadow_drops_mirrored_requests_instead_of_slowing_live_traffic() {
    let bad = common::start_bad_upstream();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "slow", "1", "churn_lr");
    s.cli()
        .args([
            "deploy",
            "slow",
            "--version",
            "2",
            "--upstream",
            &bad,
            "--timeout",
            "10s",
            "--strategy",
            "shadow",
        ])
        .assert()
        .success();
    // the shadow takes 5 s per request and the queue holds 1024: 1500 fast live requests overflow it
    let served = traffic(&s.url, "slow", 1500, 1500, 0, Duration::ZERO).await;
    assert!(served.iter().all(|r| r.status == 200 && r.variant == "1"));
    let metrics = common::metrics_text(&s).await;
    let dropped: f64 = metrics
        .lines()
        .find(|l| l.starts_with("mlctl_shadow_dropped_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(dropped >= 400.0, "dropped {dropped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_keeps_fixed_weights_until_one_arm_is_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
        .assert()
        .success();
    s.cli().args(["rollback", "churn"]).assert().success();
    s.cli()
        .args(["deploy", "churn", "--version", "3", "--onnx"])
        .arg(fixture("models/churn_rf.onnx"))
        .args(["--strategy", "flight", "--weights", "stable=50,2=25,3=25"])
        .assert()
        .success();
    let served = traffic(&s.url, "churn", 2000, 2000, 0, Duration::ZERO).await;
    for (v, w) in [("1", 0.5), ("2", 0.25), ("3", 0.25)] {
        let share = served.iter().filter(|r| r.variant == v).count() as f64 / 2000.0;
        assert!((share - w).abs() < 0.045, "{v}: {share}");
    }
    s.cli()
        .args(["promote", "churn"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("say which with --to"));
    s.cli().args(["promote", "churn", "--to", "3"]).assert().success();
    assert!(
        traffic(&s.url, "churn", 30, 30, 0, Duration::ZERO)
            .await
            .iter()
            .all(|r| r.variant == "3")
    );
}

#[test]
fn bad_rollout_requests_exit_2_with_one_line_and_admin_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    let onnx = fixture("models/churn_lr_bad.onnx");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--strategy", "canary", "--guard", "latency<3"], "unknown guard"),
        (
            vec!["--strategy", "canary", "--steps", "5,50"],
            "the last step must be 100",
        ),
        (
            vec!["--strategy", "single", "--steps", "5,100"],
            "--steps applies to --strategy canary",
        ),
        (vec!["--strategy", "flight"], "needs --weights"),
        (
            vec!["--strategy", "flight", "--weights", "stable=50,9=50"],
            "--weights must give the deployed version 2 a weight",
        ),
        (
            vec!["--strategy", "canary", "--guard", "shadow_agreement>0.9"],
            "does not apply to strategy canary",
        ),
        (vec!["--strategy", "shadow", "--mirror-pct", "150"], "--mirror-pct 150"),
    ];
    for (extra, needle) in cases {
        let out = s
            .cli()
            .args(["deploy", "m", "--version", "2", "--onnx"])
            .arg(&onnx)
            .args(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{err:?} should contain {needle:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    s.cli()
        .args(["pause", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown model 'nope'"));
    // without the token: 401 (exit 3) and nothing changes
    let mut c = assert_cmd::Command::new(common::bin());
    c.env("MLCTL_ENDPOINT", &s.url)
        .env("MLCTL_TOKEN", "wrong")
        .env("MLCTL_DATA_DIR", "/nonexistent");
    c.args(["rollback", "m", "--to", "1"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("401"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ev = rt.block_on(events(&s, "m"));
    assert_eq!(kinds(&ev), ["register", "route"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_guard_against_a_training_baseline_rolls_back_a_shifted_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "churn", "1", "churn_lr");
    // a baseline whose scores all sit in [0.9, 1.0): the candidate's look nothing like it
    let base_csv = dir.path().join("train_scores.csv");
    let mut text = String::from("score\n");
    for i in 0..2000 {
        text.push_str(&format!("{}\n", 0.9 + (i as f64 * 0.618_033_988_7 % 1.0) * 0.1));
    }
    std::fs::write(&base_csv, text).unwrap();
    let profile = dir.path().join("baseline.json");
    s.cli()
        .args(["drift", "baseline"])
        .arg(&base_csv)
        .arg("--out")
        .arg(&profile)
        .assert()
        .success();
    s.cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args([
            "--strategy",
            "single",
            "--guard",
            "drift_psi<0.2",
            "--watch-for",
            "1h",
            "--baseline",
        ])
        .arg(&profile)
        .assert()
        .success();
    traffic(&s.url, "churn", 120, 120, 0, Duration::ZERO).await;
    let v = wait_rollout(&s, "churn", 10, |v| v["rollout"]["phase"] == "rolled_back").await;
    assert!(
        v["rollout"]["reason"].as_str().unwrap().contains("drift_psi<0.2"),
        "{v}"
    );
    let ev = events(&s, "churn").await;
    let g = &ev.last().unwrap()["detail"]["evidence"]["guards"][0];
    assert!(g["note"].as_str().unwrap().contains("baseline column \"score\""), "{g}");
    assert!(g["value"].as_f64().unwrap() > 1.0);
    // without a drift guard the baseline is refused
    s.cli()
        .args(["deploy", "churn", "--version", "3", "--onnx"])
        .arg(fixture("models/churn_rf.onnx"))
        .args(["--strategy", "canary", "--baseline"])
        .arg(&profile)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("add --guard 'drift_psi<X'"));
}

/// A canary of an always-failing upstream (version 2) over a working stable version 1,
/// with `extra` deploy flags.
async fn failing_canary(extra: &[&str], steps: &str, interval: &str) -> (Server, tempfile::TempDir) {
    let bad = common::start_bad_upstream();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "boom", "1", "churn_lr");
    s.cli()
        .args([
            "deploy",
            "boom",
            "--version",
            "2",
            "--upstream",
            &bad,
            "--strategy",
            "canary",
        ])
        .args(["--steps", steps, "--interval", interval, "--guard", "error_rate<0.1"])
        .args(extra)
        .assert()
        .success();
    (s, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_trip_pause_holds_the_weights_for_an_operator_instead_of_rolling_back() {
    let (s, _dir) = failing_canary(&["--on-trip", "pause"], "50,100", "1h").await;
    let url = s.url.clone();
    let load = tokio::spawn(async move { traffic(&url, "boom", 200, 200, 0, Duration::from_millis(5)).await });
    let v = wait_rollout(&s, "boom", 20, |v| v["rollout"]["phase"] != "progressing").await;
    assert_eq!(v["rollout"]["phase"], "paused", "{v}");
    assert!(
        v["rollout"]["reason"].as_str().unwrap().contains("guard tripped"),
        "{v}"
    );
    // Paused keeps the canary's share: both versions still answer.
    let served = load.await.unwrap();
    let tail: Vec<_> = served.iter().rev().take(60).collect();
    assert!(tail.iter().any(|r| r.variant == "2") && tail.iter().any(|r| r.variant == "1"));
    s.cli().args(["rollback", "boom"]).assert().success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_guards_record_the_trip_they_would_make_and_let_the_rollout_proceed() {
    let (s, _dir) = failing_canary(&["--dry-run-guards"], "50,100", "3s").await;
    let url = s.url.clone();
    let load = tokio::spawn(async move { traffic(&url, "boom", 400, 400, 0, Duration::from_millis(10)).await });
    let v = wait_rollout(&s, "boom", 30, |v| v["rollout"]["phase"] != "progressing").await;
    assert_eq!(v["rollout"]["phase"], "promoted", "a dry run never acts: {v}");
    let ev = events(&s, "boom").await;
    let dry: Vec<_> = ev.iter().filter(|e| e["kind"] == "dry_run_trip").collect();
    assert_eq!(dry.len(), 1, "recorded once for the step: {ev:?}");
    assert_eq!(dry[0]["detail"]["would"], "rollback");
    assert!(dry[0]["detail"]["reason"].as_str().unwrap().contains("error_rate<0.1"));
    load.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_failing_like_its_stable_half_the_threshold_is_promoted() {
    let (_s, _dir, v) = common::flaky_canary("flaky05", 0, FAST).await;
    assert_eq!(v["rollout"]["phase"], "promoted", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_failing_five_times_the_threshold_is_rolled_back() {
    let (_s, _dir, v) = common::flaky_canary("flaky5", 0, FAST).await;
    assert_eq!(v["rollout"]["phase"], "rolled_back", "{v}");
    let reason = v["rollout"]["reason"].as_str().unwrap();
    assert!(reason.contains("error_rate<0.01"), "{reason}");
}
