//! `mlctl guards backtest` on logs written by real gateway runs: the replay of a rollout
//! reaches the controller's verdicts, and the A/A mode estimates a guard set's false-trip
//! rate on the stable version's own traffic.

use crate::common;

use std::time::Duration;

use crate::common::Server;
use serde_json::Value;

const FAST: &[&str] = &["--controller-tick", "100ms", "--log-flush", "10ms"];

/// A canary run of the test upstream's `upstream_model` after 3000 stable-only requests
/// (the A/A backtest's material); the log writer flushes every 10 ms, and the last records
/// are given time to reach the file.
async fn rollout_run(upstream_model: &str) -> (Server, tempfile::TempDir, Value) {
    let run = common::flaky_canary(upstream_model, 3000, FAST).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    run
}

fn backtest(s: &Server, dir: &std::path::Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = s
        .cli()
        .args(["guards", "backtest", "--model", "m", "--data-dir"])
        .arg(dir)
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), v, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_rollout_replays_to_the_same_trip_and_aa_of_a_good_guard_set_passes() {
    let (s, dir, v) = rollout_run("flaky5").await;
    assert_eq!(v["rollout"]["phase"], "rolled_back", "{v}");
    let (code, rep, err) = backtest(&s, dir.path(), &["--last-rollout", "--tick", "100ms"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rep["timeline"], "last-rollout");
    assert_eq!(rep["guards"][0], "error_rate<0.01");
    let steps = rep["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{rep}");
    assert_eq!(steps[0]["verdict"], "tripped", "{rep}");
    assert!(
        steps[0]["real"]
            .as_str()
            .unwrap()
            .starts_with("rollback: guard tripped: error_rate<0.01")
    );
    assert_eq!(rep["disagreements"], 0, "{rep}");

    // A/A on the stable version's own traffic: both halves fail 5%, far above 1%, so a
    // threshold of 1% "trips" identical arms nearly every step: exit 1.
    let (code, rep, err) = backtest(
        &s,
        dir.path(),
        &["--aa", "--stable", "1", "--guard", "error_rate<0.01", "--step", "2s"],
    );
    assert_eq!(code, Some(1), "{rep} {err}");
    assert!(err.contains("A/A false-trip rate"), "{err}");
    assert!(rep["aa"]["tripped"].as_u64().unwrap() > 0, "{rep}");
    // The comparative guard asks the right question of identical arms: no false trips.
    let (code, rep, err) = backtest(
        &s,
        dir.path(),
        &[
            "--aa",
            "--stable",
            "1",
            "--guard",
            "error_rate<=control+0.01",
            "--step",
            "2s",
        ],
    );
    assert_eq!(code, Some(0), "{rep} {err}");
    assert!(rep["aa"]["steps"].as_u64().unwrap() >= 1, "{rep}");
    assert_eq!(rep["aa"]["tripped"], 0, "{rep}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_rollout_replays_to_a_pass_and_a_what_if_guard_to_a_trip() {
    let (s, dir, v) = rollout_run("flaky05").await;
    assert_eq!(v["rollout"]["phase"], "promoted", "{v}");
    let (code, rep, err) = backtest(&s, dir.path(), &["--last-rollout", "--tick", "100ms"]);
    assert_eq!(code, Some(0), "{err}");
    let steps = rep["steps"].as_array().unwrap();
    assert_eq!(steps[0]["verdict"], "passed", "{rep}");
    assert_eq!(steps[0]["real"], "passed");
    assert_eq!(rep["disagreements"], 0, "{rep}");
    // The same timeline judged by a guard the run did not have: 0.5% errors (about ten
    // in the step) are shown above 0.01%, a trip the controller never made.
    let (code, rep, err) = backtest(
        &s,
        dir.path(),
        &["--last-rollout", "--tick", "100ms", "--guard", "error_rate<0.0001"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rep["steps"][0]["verdict"], "tripped", "{rep}");
    assert_eq!(rep["disagreements"], 1, "{rep}");
}

#[test]
fn bad_backtest_flags_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (vec!["--last-rollout"], "no mlctl state here"),
        (
            vec!["--guard", "error_rate<0.1", "--candidate", "2"],
            "no logged predictions of model \"m\" under",
        ),
        (vec!["--guard", "nonsense", "--aa"], "unknown guard"),
        (vec!["--aa"], "--guard is required"),
    ] {
        let out = std::process::Command::new(common::bin())
            .args(["guards", "backtest", "--model", "m", "--data-dir"])
            .arg(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}
