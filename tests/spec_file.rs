//! `mlctl deploy -f rollout.yaml` against a real gateway: the file's rollout runs exactly as
//! the same flags would, and a bad file exits 2 naming its line.

use crate::common;

use crate::common::{Server, deploy, traffic, wait_rollout};

const FAST: &[&str] = &["--controller-tick", "100ms"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_file_deploys_like_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), FAST);
    deploy(&s, "m", "1", "churn_lr");
    let files = tempfile::tempdir().unwrap();
    std::fs::copy(common::fixture("models/churn_lr.onnx"), files.path().join("v2.onnx")).unwrap();
    let file = files.path().join("rollout.yaml");
    std::fs::write(
        &file,
        "# reviewed in a pull request\nmodel: m\nversion: \"2\"\nonnx: v2.onnx\nstrategy: canary\nsteps: [50, 100]\n\
         interval: 500ms\nguards:\n  - min_requests=10\nmatch:\n  - header:x-tenant=internal\nmax_step_extensions: 4\n",
    )
    .unwrap();
    let url = s.url.clone();
    let load =
        tokio::spawn(async move { traffic(&url, "m", 100_000, 500, 0, std::time::Duration::from_millis(5)).await });
    s.cli()
        .arg("deploy")
        .arg("-f")
        .arg(&file)
        .arg("--wait")
        .assert()
        .success();
    load.abort();
    let v = wait_rollout(&s, "m", 5, |v| v["rollout"]["phase"] == "promoted").await;
    let spec = &v["rollout"]["spec"];
    assert_eq!(spec["strategy"], "canary");
    assert_eq!(spec["steps"], serde_json::json!([50.0, 100.0]));
    assert_eq!(spec["matches"][0]["name"], "x-tenant");
    assert_eq!(spec["max_step_extensions"], 4);
}

#[test]
fn bad_rollout_files_exit_2_naming_file_and_line() {
    let files = tempfile::tempdir().unwrap();
    for (text, extra, want) in [
        (
            "model: m\nversion: 2\nstrategy: canary\nguards:\n  - latency<3\n",
            vec![],
            "rollout.yaml:4: --guard \"latency<3\": unknown guard",
        ),
        ("model: m\nversion: 2\nstrategy: sideways\n", vec![], "rollout.yaml:3:"),
        (
            "model: m\nversion: 2\nintervall: 5m\n",
            vec![],
            "rollout.yaml:3: unknown key \"intervall\"",
        ),
        (
            "model: m\nversion: 2\nstrategy: canary\ngates: [pre-flight=http://x/y]\n",
            vec![],
            "rollout.yaml:4: --gate",
        ),
        (
            "model: m\nversion: 2\n",
            vec!["--strategy", "canary"],
            "--strategy: with -f",
        ),
    ] {
        let file = files.path().join("rollout.yaml");
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(common::bin())
            .args(["deploy", "-f"])
            .arg(&file)
            .args(&extra)
            .args(["--endpoint", "http://127.0.0.1:1", "--token", &"t".repeat(32)])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(err.contains(want), "{text:?}: want {want:?} in {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
