//! `mlctl monitor rules`: the rule file parses, every rule is there, and — with Debian's
//! `prometheus` package — `promtool check rules` accepts it and `promtool test rules`
//! fires each alert on synthetic series exactly when it should (and not for a healthy
//! version): `fixtures/monitor/rules_test.yml`.

use crate::common;

use std::process::Command;

fn rules(args: &[&str]) -> std::process::Output {
    Command::new(common::bin())
        .args(["monitor", "rules"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_rule_file_holds_every_alert_and_bad_thresholds_exit_2() {
    let out = rules(&[]);
    assert!(out.status.success());
    let doc: yaml_serde::Value = yaml_serde::from_slice(&out.stdout).unwrap();
    let alerts: Vec<&str> = doc["groups"][0]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        alerts,
        [
            "MlctlRolledBack",
            "MlctlRolloutPaused",
            "MlctlHighErrorRate",
            "MlctlHighP99Latency",
            "MlctlPredictionLogDropping",
            "MlctlWebhookFailing",
            "MlctlDriftDetected"
        ]
    );
    let custom =
        String::from_utf8(rules(&["--error-rate", "0.05", "--p99-ms", "80", "--window", "1m"]).stdout).unwrap();
    assert!(
        custom.contains("[1m])) > 0.05") && custom.contains("> 0.08"),
        "{custom}"
    );
    for bad in [["--error-rate", "1.5"], ["--p99-ms", "-1"]] {
        let out = rules(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
#[ignore = "needs promtool (apt install prometheus)"]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = rules(&[]);
    assert!(out.status.success());
    std::fs::write(dir.path().join("rules.yml"), &out.stdout).unwrap();
    std::fs::copy(common::fixture("monitor/rules_test.yml"), dir.path().join("test.yml")).unwrap();
    for args in [["check", "rules", "rules.yml"], ["test", "rules", "test.yml"]] {
        let run = Command::new("promtool")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("promtool (apt install prometheus)");
        assert!(
            run.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

#[test]
fn the_dashboard_is_a_grafana_model_with_a_model_variable() {
    let out = Command::new(common::bin())
        .args(["monitor", "dashboard"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["templating"]["list"][1]["name"], "model");
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    for p in panels {
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{p}");
        assert!(
            targets.iter().all(|t| t["expr"].as_str().unwrap().contains("mlctl_")),
            "{p}"
        );
    }
}
