//! Three `mlctl serve --state postgres://…` replicas on a real PostgreSQL (started by the
//! test), behind a real nginx: route changes through any replica reach every replica,
//! the elected controller can die mid-step, and outcomes posted to one replica count for
//! requests another served.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::nginx::Nginx;
use crate::common::pg::Postgres;
use crate::common::{Server, admin_get, bin, deploy, events, fixture, traffic, wait_rollout};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const TOKEN: &str = "replicas-test-token-0123456789abcdef";
const TICK_MS: u64 = 200;

struct Cluster {
    replicas: Vec<Option<Server>>,
    /// The replicas' data dirs are `root/r0`, `root/r1`, …
    root: tempfile::TempDir,
    _pg: Postgres,
}

impl Cluster {
    fn start(n: usize) -> Cluster {
        Cluster::start_with(n, &[])
    }

    /// `n` replicas with `extra` serve flags each.
    fn start_with(n: usize, extra: &[&str]) -> Cluster {
        let pg = Postgres::start();
        let url = pg.database("mlctl");
        let root = tempfile::tempdir().unwrap();
        let tick = format!("{TICK_MS}ms");
        let replicas = (0..n)
            .map(|i| {
                let id = format!("r{i}");
                let mut args = vec![
                    "--state",
                    url.as_str(),
                    "--replica-id",
                    id.as_str(),
                    "--controller-tick",
                    tick.as_str(),
                ];
                args.extend_from_slice(extra);
                let dir = root.path().join(&id);
                Some(Server::start_with(&dir, &args, &[("MLCTL_TOKEN", TOKEN)], Some(TOKEN)))
            })
            .collect();
        Cluster {
            replicas,
            root,
            _pg: pg,
        }
    }

    fn get(&self, i: usize) -> &Server {
        self.replicas[i].as_ref().expect("a live replica")
    }

    fn live(&self) -> impl Iterator<Item = &Server> {
        self.replicas.iter().flatten()
    }

    fn urls(&self) -> Vec<String> {
        self.live().map(|s| s.url.clone()).collect()
    }

    /// Wait until every live replica serves `model` (loaded and routed).
    fn wait_serving(&self, model: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        for s in self.live() {
            while !common::http_get_ok(&format!("{}/v2/models/{model}/ready", s.url)) {
                assert!(Instant::now() < deadline, "{} never served {model}", s.url);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn ts(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// (time, version, role) of every prediction a replica logged.
fn logged(data_dir: &Path) -> Vec<(DateTime<Utc>, String, String)> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(data_dir.join("logs")).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        if !name.starts_with("predictions-") {
            continue;
        }
        assert!(
            name.contains(".r"),
            "per-replica log names carry the replica id: {name}"
        );
        for line in std::fs::read_to_string(f.path()).unwrap().lines() {
            let Ok(r) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            out.push((
                ts(&r["ts"]),
                r["version"].as_str().unwrap_or("").to_string(),
                r["role"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// `mlctl loadtest` through `endpoint` at `rate` for `secs`, in the background.
fn load(endpoint: &str, rate: &str, secs: u64) -> std::process::Child {
    Command::new(bin())
        .args(["loadtest", "--endpoint", endpoint, "--model", "churn", "--rate", rate])
        .args([
            "--duration",
            &format!("{secs}s"),
            "--routing-keys",
            "1000",
            "-o",
            "json",
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn report(child: std::process::Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "loadtest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn event_ts(evs: &[Value], kind: &str) -> DateTime<Utc> {
    let e = evs
        .iter()
        .rev()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event in {evs:?}"));
    ts(&e["ts"])
}

fn ms(d: chrono::Duration) -> f64 {
    d.num_microseconds().unwrap() as f64 / 1000.0
}

#[test]
#[ignore = "needs PostgreSQL and nginx (apt install postgresql nginx-light)"]
fn a_canary_started_on_one_replica_and_rolled_back_on_another_reaches_every_replica_under_load() {
    let c = Cluster::start(3);
    deploy(c.get(0), "churn", "1", "churn_lr");
    c.wait_serving("churn");
    let urls = c.urls();
    let lb = Nginx::start(&urls.iter().map(String::as_str).collect::<Vec<_>>());
    let traffic = load(&lb.url, "300/s", 7);
    std::thread::sleep(Duration::from_millis(1500));
    c.get(0)
        .cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
        .assert()
        .success();
    std::thread::sleep(Duration::from_millis(2500));
    c.get(2).cli().args(["rollback", "churn"]).assert().success();
    let r = report(traffic);
    assert_eq!(r["errors"], json!(0), "no request failed during the changes: {r}");
    assert!(r["requests"].as_f64().unwrap() >= 1900.0, "{r}");
    std::thread::sleep(Duration::from_millis(400)); // logs flushed
    let rt = tokio::runtime::Runtime::new().unwrap();
    let evs = rt.block_on(events(c.get(1), "churn"));
    let (start, rollback) = (event_ts(&evs, "rollout_start"), event_ts(&evs, "rollback"));
    let mut to_canary = Vec::new();
    let mut to_stable = Vec::new();
    for (i, s) in c.live().enumerate() {
        let recs = logged(&s.data_dir);
        let during: Vec<_> = recs.iter().filter(|(t, ..)| *t > start && *t < rollback).collect();
        let first_canary = during
            .iter()
            .find(|(_, v, _)| v == "2")
            .unwrap_or_else(|| panic!("replica r{i} never served the canary"));
        to_canary.push(ms(first_canary.0 - start));
        let last_canary = recs
            .iter()
            .filter(|(_, v, _)| v == "2")
            .map(|(t, ..)| *t)
            .max()
            .unwrap();
        to_stable.push(ms(last_canary - rollback).max(0.0));
        assert!(
            recs.iter().filter(|(t, ..)| *t > rollback).count() > 100,
            "replica r{i} kept serving after the rollback"
        );
    }
    eprintln!("first canary answer after the start commit, per replica (ms): {to_canary:?}");
    eprintln!("last canary answer after the rollback commit, per replica (ms): {to_stable:?}");
    for (i, lag) in to_stable.iter().enumerate() {
        assert!(
            *lag < 100.0,
            "replica r{i} served the canary {lag} ms after the rollback"
        );
    }
    // A first canary answer waits for a request whose key is in the canary's half: at
    // ~100 requests/s per replica that adds a few ms, so 250 ms is generous.
    for (i, lag) in to_canary.iter().enumerate() {
        assert!(
            *lag < 250.0,
            "replica r{i} first routed to the canary {lag} ms after the start"
        );
    }
    // `mlctl status` through any replica lists all three, one of them the leader, none behind.
    let out = c.get(1).cli().args(["status", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reps = st["replicas"]["replicas"].as_array().unwrap();
    let ids: Vec<&str> = reps.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["r0", "r1", "r2"], "{st}");
    assert_eq!(reps.iter().filter(|r| r["leader"] == json!(true)).count(), 1, "{st}");
    assert_eq!(st["replicas"]["this"], "r1");
    let table = c.get(1).cli().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("replicas (leader epoch") && text.contains("r1 (this)"),
        "{text}"
    );
    // Each replica measured the same from the commit's timestamp.
    for s in c.live() {
        let m = rt.block_on(common::metrics_text(s));
        assert!(m.contains("mlctl_route_propagation_seconds_count"), "{m}");
    }
}

/// The leader epoch and the replicas, as `s` reports them.
fn epoch_of(rt: &tokio::runtime::Runtime, s: &Server) -> (i64, Vec<Value>) {
    let v = rt.block_on(admin_get(s, "/admin/v1/replicas"));
    (
        v["leader_epoch"].as_i64().unwrap(),
        v["replicas"].as_array().cloned().unwrap_or_default(),
    )
}

#[test]
#[ignore = "needs PostgreSQL and nginx (apt install postgresql nginx-light)"]
fn when_the_leader_is_killed_mid_step_another_replica_continues_the_same_step_and_timer() {
    let mut c = Cluster::start(3);
    deploy(c.get(0), "churn", "1", "churn_lr");
    c.wait_serving("churn");
    let urls = c.urls();
    let lb = Nginx::start(&urls.iter().map(String::as_str).collect::<Vec<_>>());
    let traffic = load(&lb.url, "300/s", 14);
    std::thread::sleep(Duration::from_millis(800));
    c.get(1)
        .cli()
        .args(["deploy", "churn", "--version", "2", "--onnx"])
        .arg(fixture("models/churn_lr_bad.onnx"))
        .args(["--strategy", "canary", "--steps", "20,50,100", "--interval", "4s"])
        .assert()
        .success();
    std::thread::sleep(Duration::from_millis(1500));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (epoch, rows) = epoch_of(&rt, c.get(0));
    let leader = rows
        .iter()
        .find(|r| r["leader"] == json!(true))
        .and_then(|r| r["id"].as_str())
        .expect("a leader")
        .to_string();
    let k: usize = leader[1..].parse().unwrap();
    // The step's timer runs from the state's step_started_at (set just before the
    // rollout_start event is committed, a few ms earlier under load).
    let before = rt.block_on(admin_get(c.get(0), "/admin/v1/models/churn/rollout"));
    assert_eq!(before["rollout"]["step"], 0, "{before}");
    let step_started = ts(&before["rollout"]["step_started_at"]);
    let dead_dir = c.get(k).data_dir.clone();
    let killed = Instant::now();
    c.replicas[k].take().unwrap().kill9();
    let survivor = (0..3).find(|i| *i != k).unwrap();
    let failover = loop {
        let (now, _) = epoch_of(&rt, c.get(survivor));
        if now > epoch {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(5), "no replica took over");
        std::thread::sleep(Duration::from_millis(10));
    };
    eprintln!("leader r{k} killed; a new leader after {failover:?}");
    assert!(
        failover < Duration::from_millis(3 * TICK_MS + 100),
        "fail-over took {failover:?} (> 3 ticks)"
    );
    let v = rt.block_on(wait_rollout(c.get(survivor), "churn", 30, |v| {
        v["rollout"]["phase"] != "progressing"
    }));
    assert_eq!(v["rollout"]["phase"], "promoted", "{v}");
    let r = report(traffic);
    eprintln!("load through nginx: {} requests, {} errors", r["requests"], r["errors"]);
    assert_eq!(
        r["errors"],
        json!(0),
        "nginx moved every request of the dead replica on: {r}"
    );
    let evs = rt.block_on(events(c.get(survivor), "churn"));
    let kinds: Vec<&str> = evs
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| !["register", "route"].contains(k))
        .collect();
    assert_eq!(
        kinds,
        ["rollout_start", "step", "promote"],
        "each transition exactly once"
    );
    // The same step and timer: step 1 ended 4 s after it started, not 4 s after the kill.
    let (start, step) = (event_ts(&evs, "rollout_start"), event_ts(&evs, "step"));
    let took = ms(step - step_started);
    assert!(
        (4000.0..4000.0 + 3.0 * TICK_MS as f64 + 300.0).contains(&took),
        "step 1 took {took} ms"
    );
    // The guards' counts of step 1 are the replicas' logs of step 1 (each replica counted
    // as of its last publication: at most a tick behind; the killed one as of its death).
    let step_ev = evs.iter().find(|e| e["kind"] == "step").unwrap();
    let counted: Vec<(String, u64)> =
        serde_json::from_value(step_ev["detail"]["evidence"]["requests"].clone()).unwrap();
    let mut dirs: Vec<std::path::PathBuf> = c.live().map(|s| s.data_dir.clone()).collect();
    dirs.push(dead_dir);
    for (version, n) in counted {
        let logged_n: usize = dirs
            .iter()
            .map(|d| {
                logged(d)
                    .iter()
                    .filter(|(t, v, role)| *t > start && *t < step && *v == version && role != "matched")
                    .count()
            })
            .sum();
        let diff = (n as f64 - logged_n as f64).abs();
        eprintln!("step 1, version {version}: guards counted {n}, the logs hold {logged_n}");
        // ~300 requests/s over 3 replicas: one tick of each is ~20 requests.
        assert!(
            diff <= 60.0_f64.max(0.05 * logged_n as f64),
            "version {version}: {n} vs {logged_n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (apt install postgresql)"]
async fn outcomes_posted_to_one_replica_join_predictions_served_by_another() {
    let c = tokio::task::spawn_blocking(|| {
        let c = Cluster::start(2);
        deploy(c.get(0), "churn", "1", "churn_lr");
        c.get(0)
            .cli()
            .args(["deploy", "churn", "--version", "2", "--onnx"])
            .arg(fixture("models/churn_lr_bad.onnx"))
            .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1h"])
            .args(["--guard", "outcome:converted>=control"])
            .assert()
            .success();
        c
    })
    .await
    .unwrap();
    let (a, b) = (c.get(0), c.get(1));
    let http = reqwest::Client::new();
    let mut rolled_back = None;
    for round in 0..30 {
        // Served by A only; the outcomes go to B only.
        let served = traffic(&a.url, "churn", 100, 100, round * 100, Duration::ZERO).await;
        let outcomes = common::conversions(&served);
        let r = http
            .post(format!("{}/v1/outcomes", b.url))
            .bearer_auth(TOKEN)
            .json(&outcomes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        tokio::time::sleep(Duration::from_millis(2 * TICK_MS)).await;
        let v = admin_get(b, "/admin/v1/models/churn/rollout").await;
        if v["rollout"]["phase"] == "rolled_back" {
            rolled_back = Some(v);
            break;
        }
    }
    let v = rolled_back.expect("the worse candidate was never rolled back");
    assert!(
        v["rollout"]["reason"]
            .as_str()
            .unwrap()
            .contains("outcome:converted>=control"),
        "{v}"
    );
    // Offline, the logs of both replicas together join A's predictions with B's outcomes
    // (a glob or a list of data dirs); A's alone have no outcomes.
    let both = c.root.path().join("r*");
    let list = format!("{},{}", a.data_dir.display(), b.data_dir.display());
    let means = |from: &str| -> Vec<f64> {
        let out = std::process::Command::new(bin())
            .args(["abtest", "analyze", "--from-gateway", from, "--model", "churn"])
            // A few hundred requests over 100 keys per round: the sticky split is lumpy by
            // key, so the sample-ratio check (not under test here) is off.
            .args([
                "--metric",
                "converted:binary",
                "--min-n",
                "10",
                "--ignore-srm",
                "-o",
                "json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut arms: Vec<(String, f64)> = rep["metrics"][0]["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["arm"].as_str().unwrap().to_string(), a["mean"].as_f64().unwrap()))
            .collect();
        arms.sort_by(|x, y| x.0.cmp(&y.0));
        arms.into_iter().map(|(_, m)| m).collect()
    };
    let joined = means(both.to_str().unwrap());
    let listed = means(&list);
    assert!(
        joined.iter().zip(&listed).all(|(x, y)| (x - y).abs() < 1e-9),
        "{joined:?} {listed:?}"
    );
    assert!(
        joined[0] > joined[1] && joined[1] > 0.0,
        "version 1 (stable) converts more: {joined:?}"
    );
    assert!(means(a.data_dir.to_str().unwrap()).iter().all(|m| *m == 0.0));
}

#[test]
#[ignore = "needs PostgreSQL (apt install postgresql)"]
fn webhooks_go_out_once_from_the_leader_and_the_next_leader_resumes_them() {
    const SECRET: &str = "shared-webhook-secret-0123456789abcdef";
    let (rx, base) = common::receiver::Receiver::start();
    let target = format!("{base}/hooks");
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("notify-secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let secret_arg = secret_file.to_str().unwrap();
    let mut c = Cluster::start_with(2, &["--notify", &target, "--notify-secret-file", secret_arg]);
    deploy(c.get(0), "churn", "1", "churn_lr");
    let canary = |s: &Server, version: &str| {
        s.cli()
            .args(["deploy", "churn", "--version", version, "--onnx"])
            .arg(fixture("models/churn_lr.onnx"))
            .args(["--strategy", "canary", "--steps", "50,100", "--interval", "1s"])
            .assert()
            .success();
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let promoted = |s: &Server| {
        let v = rt.block_on(wait_rollout(s, "churn", 20, |v| v["rollout"]["phase"] != "progressing"));
        assert_eq!(v["rollout"]["phase"], "promoted", "{v}");
    };
    canary(c.get(1), "2");
    promoted(c.get(1));
    std::thread::sleep(Duration::from_millis(1500)); // the first rollout's messages go out
    // Kill the leader; the other replica takes over delivery from the shared cursor.
    let (_, rows) = epoch_of(&rt, c.get(0));
    let leader = rows.iter().find(|r| r["leader"] == json!(true)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let k: usize = leader[1..].parse().unwrap();
    c.replicas[k].take().unwrap().kill9();
    let survivor = 1 - k;
    canary(c.get(survivor), "3");
    promoted(c.get(survivor));
    let want = ["route", "rollout_start", "promote", "rollout_start", "promote"];
    let deadline = Instant::now() + Duration::from_secs(15);
    while rx.all().len() < want.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500)); // nothing more (no duplicates) comes
    let got = rx.all();
    let kinds: Vec<String> = got
        .iter()
        .map(|r| r.json()["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, want, "each transition once, in order");
    let ids: Vec<i64> = got.iter().map(|r| r.delivery).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for r in &got {
        assert!(common::receiver::verify(SECRET, r), "signed with the shared secret");
    }
}
