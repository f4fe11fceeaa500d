//! The `/ui` status page in a real headless Chromium (Debian's `chromium`): it renders
//! the models, a monitor's drift timeline with the drifted column after shifted traffic
//! and the alert; without the token it shows only the login form.

use crate::common;

use std::process::Command;
use std::time::Duration;

use crate::common::Server;

/// The DOM Chromium builds for `url` (it follows the token → cookie redirect itself).
fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=3000", "--dump-dom", url])
        .output()
        .expect("chromium (apt install chromium)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium (apt install chromium)"]
async fn the_status_page_shows_a_drifted_column_and_refuses_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    common::deploy(&s, "churn", "1", "churn_lr");
    // A baseline far from what the model answers: every window drifts.
    let profile = common::score_baseline(&s, dir.path(), &common::far_scores());
    s.cli()
        .args(["monitor", "add", "churn", "--baseline"])
        .arg(&profile)
        .args(["--window", "1s", "--consecutive", "1", "--method", "ks"])
        .assert()
        .success();
    let load = common::spawn_traffic(&s.url, "churn", 1, 100_000, 1000, Duration::from_millis(10));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    load.iter().for_each(|l| l.abort());

    let url = s.url.clone();
    let token = s.token.clone();
    let page = tokio::task::spawn_blocking(move || dump_dom(&format!("{url}/ui?token={token}")))
        .await
        .unwrap();
    assert!(page.contains("mlctl status"), "{page}");
    assert!(page.contains("<td>churn</td>"), "the model is listed: {page}");
    assert!(page.contains("monitor 1: churn"), "{page}");
    assert!(page.contains("probabilities[1] — version 1 — ks"), "{page}");
    assert!(
        page.contains(r#"<span class="bad">drift</span>"#),
        "the drifted column: {page}"
    );
    assert!(page.contains("<svg"), "the timeline chart: {page}");
    assert!(page.contains("monitor_alert"), "the alert: {page}");
    assert!(!page.contains(&s.token), "the token never appears in the page");

    for bad in [format!("{}/ui", s.url), format!("{}/ui?token=wrong", s.url)] {
        let page = tokio::task::spawn_blocking(move || dump_dom(&bad)).await.unwrap();
        assert!(page.contains(r#"name="token""#), "the login form: {page}");
        assert!(!page.contains("probabilities"), "nothing without the token: {page}");
    }
}
