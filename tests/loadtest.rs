//! `mlctl loadtest` against servers with known behaviour (`examples/loadtest_target.rs`,
//! started in this process on 127.0.0.1 with a free port) and against a real gateway.

mod common;

#[path = "../examples/loadtest_target.rs"]
#[allow(dead_code)]
mod target;

use std::time::Duration;

use common::{Server, bin, samples};
use predicates::prelude::*;
use serde_json::Value;
use target::Behaviour;

/// The tests here measure latency to ±10% with a load generator and a server on the same
/// two cores: run side by side, one test's load is another's jitter (a 20 ms stall in one of
/// 40 requests moves a p99). They take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn loadtest(url: &str) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(bin());
    c.arg("loadtest")
        .arg(url)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(120));
    c
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Run with `-o json`, expect exit 0, return the report.
fn report_ok(url: &str, args: &[&str]) -> Value {
    let out = loadtest(url).args(args).args(["-o", "json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{path} in {v}"))
}

fn url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}/")
}

#[test]
fn fixed_delay_percentiles_are_within_ten_percent_of_the_delay() {
    let _serial = serial();
    let addr = target::spawn(Behaviour {
        delay: Duration::from_millis(200),
        ..Behaviour::default()
    });
    for load in [
        vec!["--rate", "20/s", "--duration", "2s"],
        vec!["--concurrency", "8", "--requests", "40"],
    ] {
        let r = report_ok(&url(addr), &load);
        for p in ["p50", "p90", "p99"] {
            let v = f(&r, &format!("/latency_ms/{p}"));
            assert!((200.0..=220.0).contains(&v), "{load:?} {p} = {v} ms, want 200 ms ± 10%");
        }
        assert_eq!(f(&r, "/errors"), 0.0);
    }
}

#[test]
fn open_loop_charges_a_stall_to_every_request_due_during_it() {
    let _serial = serial();
    // Stalled for the first second of every two: half the requests wait U(0, 1 s); the
    // true p99 is 1 s × (1 − 0.01 / 0.5) = 980 ms.
    let addr = target::spawn(Behaviour {
        stall_every: Duration::from_secs(2),
        stall_for: Duration::from_secs(1),
        ..Behaviour::default()
    });
    let open = report_ok(&url(addr), &["--rate", "100/s", "--duration", "4s"]);
    let p99 = f(&open, "/latency_ms/p99");
    assert!(p99 >= 500.0, "corrected p99 {p99} ms hides the stall");
    assert!(
        (p99 - 980.0).abs() <= 49.0,
        "corrected p99 {p99} ms, analytic 980 ms ± 5%"
    );
    assert_eq!(f(&open, "/requests"), 400.0);

    // A closed loop on the same server only ever has its few in-flight requests stalled.
    let closed = report_ok(&url(addr), &["--concurrency", "2", "--duration", "4s"]);
    let p99 = f(&closed, "/latency_ms/p99");
    assert!(
        p99 < 100.0,
        "closed-loop p99 {p99} ms (coordinated omission hides the stall)"
    );
    assert!(f(&closed, "/latency_ms/max") >= 500.0, "the stall is still its max");
}

#[test]
fn warmup_requests_are_excluded_from_the_results() {
    let _serial = serial();
    // A cold start: the first answers take 300 ms more.
    let cold = |slow_first| {
        target::spawn(Behaviour {
            slow_first,
            slow_for: Duration::from_millis(300),
            ..Behaviour::default()
        })
    };
    let warm = report_ok(
        &url(cold(20)),
        &["--rate", "50/s", "--duration", "1s", "--warmup", "1s"],
    );
    assert_eq!(warm["requests"], 50, "only the measured second counts");
    assert_eq!(f(&warm, "/warmup_s"), 1.0);
    assert!(f(&warm, "/latency_ms/max") < 250.0, "{}", warm["latency_ms"]);
    // Without the warm-up the cold start is in the figures.
    let cold_run = report_ok(&url(cold(20)), &["--rate", "50/s", "--duration", "1s"]);
    assert!(f(&cold_run, "/latency_ms/max") >= 300.0, "{}", cold_run["latency_ms"]);
    // Closed loop: two workers go through the 4 cold answers in 600 ms of warm-up, and
    // --requests counts measured requests only.
    let closed = report_ok(&url(cold(4)), &["-c", "2", "-n", "30", "--warmup", "800ms"]);
    assert_eq!(closed["requests"], 30);
    assert!(f(&closed, "/latency_ms/max") < 250.0, "{}", closed["latency_ms"]);
}

#[test]
fn answers_slower_than_the_timeout_are_counted_as_timeouts() {
    let _serial = serial();
    let addr = target::spawn(Behaviour {
        delay: Duration::from_millis(400),
        ..Behaviour::default()
    });
    let out = loadtest(&url(addr))
        .args([
            "-c",
            "2",
            "-n",
            "4",
            "--timeout",
            "100ms",
            "-o",
            "json",
            "--slo",
            "error_rate<0.5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_of(&out);
    assert_eq!(r["errors_by_kind"], serde_json::json!({"timeout": 4}));
    assert_eq!(r["errors"], 4);
    assert_eq!(r["status_codes"], serde_json::json!({}));
}

#[test]
fn error_counts_by_status_are_exact() {
    let _serial = serial();
    let addr = target::spawn(Behaviour {
        error_every: 4,
        error_status: 503,
        ..Behaviour::default()
    });
    let r = report_ok(&url(addr), &["-c", "3", "-n", "200"]);
    assert_eq!(r["requests"], 200);
    assert_eq!(r["status_codes"], serde_json::json!({"200": 150, "503": 50}));
    assert_eq!(r["errors"], 50);
    assert_eq!(r["errors_by_kind"], serde_json::json!({"http_503": 50}));
    assert_eq!(f(&r, "/error_rate"), 0.25);
}

#[test]
fn variants_are_broken_down_from_the_response_header() {
    let _serial = serial();
    let addr = target::spawn(Behaviour {
        variants: vec!["stable".into(), "canary".into(), "canary".into()],
        ..Behaviour::default()
    });
    let r = report_ok(&url(addr), &["-c", "2", "-n", "300"]);
    assert_eq!(r["variants"]["stable"]["requests"], 100);
    assert_eq!(r["variants"]["canary"]["requests"], 200);
    assert!(f(&r, "/variants/canary/latency_ms/p99") > 0.0);
    // The same over HTTP/2 (h2c): the split and the counts do not depend on the protocol.
    let h2 = report_ok(&url(addr), &["-c", "2", "-n", "300", "--http2"]);
    assert_eq!(h2["variants"]["stable"]["requests"], 100);
    assert_eq!(h2["variants"]["canary"]["requests"], 200);
    assert_eq!(f(&h2, "/errors"), 0.0);
    // People see the same split.
    loadtest(&url(addr))
        .args(["-c", "2", "-n", "30"])
        .assert()
        .success()
        .stdout(predicate::str::contains("by variant (x-mlctl-variant)"))
        .stdout(predicate::str::contains("33.3%"));
}

#[test]
fn every_slo_form_passes_or_fails_with_its_exit_code() {
    let _serial = serial();
    let addr = target::spawn(Behaviour {
        delay: Duration::from_millis(5),
        error_every: 10,
        error_status: 500,
        ..Behaviour::default()
    });
    // 10% errors, ~5 ms latency, 100 requests.
    let passing = [
        "p50<50ms",
        "p90<=0.05s",
        "p95<50000us",
        "p99_ms<50",
        "p999<50",
        "max<1s",
        "mean<50ms",
        "error_rate<0.2",
        "error_rate<=10%",
        "errors>=10",
        "rps>1",
        "requests>=100",
    ];
    let mut cmd = loadtest(&url(addr));
    cmd.args(["-c", "2", "-n", "100", "-o", "json"]);
    for s in passing {
        cmd.args(["--slo", s]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_of(&out);
    let slo = r["slo"].as_array().unwrap();
    assert_eq!(slo.len(), passing.len());
    assert!(slo.iter().all(|s| s["pass"] == true), "{slo:?}");
    assert_eq!(f(&r, "/slo/7/value"), 0.1);

    for failing in ["p99<1ms", "error_rate<0.001", "rps>=1000000", "errors<1", "mean<1us"] {
        let out = loadtest(&url(addr))
            .args(["-c", "2", "-n", "50", "--slo", "p99<1s", "--slo", failing])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{failing}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().find(|l| l.contains(failing)).expect("SLO row");
        assert!(line.contains("FAIL"), "{line}");
        let passing_line = stdout.lines().find(|l| l.contains("p99<1s")).unwrap();
        assert!(passing_line.contains("pass"), "{passing_line}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("SLO failed") && stderr.contains(failing), "{stderr}");
    }
}

#[test]
fn a_sweep_reports_the_highest_rate_that_meets_the_slos() {
    let _serial = serial();
    // 1 connection and a 20 ms answer: at most ~50 req/s can be served on time.
    let addr = target::spawn(Behaviour {
        delay: Duration::from_millis(20),
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = loadtest(&url(addr))
        .args(["--sweep", "10,20,200/s", "--duration", "1s", "--connections", "1"])
        .args(["--slo", "p99<100ms", "-o", "json", "--save-hdr"])
        .arg(dir.path().join("sweep.hlog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_of(&out);
    assert_eq!(r["knee_rps"], 20.0);
    let runs = r["sweep"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[2]["slo"][0]["pass"], false);
    assert!(f(&runs[2], "/latency_ms/p99") > 100.0);
    for rate in ["10", "20", "200"] {
        let log = dir.path().join(format!("sweep.{rate}.hlog"));
        assert!(
            std::fs::read_to_string(&log).unwrap().contains("Tag=latency"),
            "{log:?}"
        );
    }

    // Not even the first rate: exit 1.
    loadtest(&url(addr))
        .args(["--sweep", "200,400/s", "--duration", "1s", "--connections", "1"])
        .args(["--slo", "p99<100ms"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("knee: none"));
}

#[test]
fn the_hdr_log_holds_every_answer() {
    let _serial = serial();
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let addr = target::spawn(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.hlog");
    let out = loadtest(&url(addr))
        .args(["--rate", "200/s", "--duration", "2s", "-o", "json", "--save-hdr"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = json_of(&out);
    let text = std::fs::read(&log).unwrap();
    let mut total = 0u64;
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&text) {
        if let LogEntry::Interval(iv) = entry.unwrap() {
            intervals += 1;
            let bytes = decode_base64(iv.encoded_histogram());
            let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .unwrap();
            total += h.len();
        }
    }
    assert!(intervals >= 2, "{intervals} intervals");
    assert_eq!(total, r["requests"].as_u64().unwrap());
}

fn decode_base64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut buf, mut bits) = (Vec::new(), 0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        buf = (buf << 6) | A.iter().position(|&a| a == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn any_url_takes_a_method_headers_and_a_body_from_a_file() {
    let _serial = serial();
    let addr = target::spawn(Behaviour {
        expect: Some(target::Expect {
            method: "PUT".into(),
            header: ("x-team".into(), "ranking".into()),
            body: br#"{"q": "shoes"}"#.to_vec(),
        }),
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("req.json");
    std::fs::write(&body, br#"{"q": "shoes"}"#).unwrap();
    let at_file = format!("@{}", body.display());
    let ok = report_ok(
        &url(addr),
        &[
            "-c",
            "2",
            "-n",
            "20",
            "--method",
            "put",
            "-H",
            "x-team: ranking",
            "--body",
            &at_file,
        ],
    );
    assert_eq!(ok["status_codes"], serde_json::json!({"200": 20}));
    // The same request without the header is refused by the server: 400s, counted by status.
    let refused = report_ok(
        &url(addr),
        &["-c", "2", "-n", "20", "--method", "PUT", "--body", &at_file],
    );
    assert_eq!(refused["errors_by_kind"], serde_json::json!({"http_400": 20}));
}

#[test]
fn an_unreachable_endpoint_exits_3() {
    let _serial = serial();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    loadtest(&format!("http://127.0.0.1:{port}/"))
        .args(["--rate", "10/s", "--duration", "1s"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot reach"));
}

#[test]
fn bad_flags_and_inputs_exit_2_with_one_clear_line() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let bad_jsonl = dir.path().join("bad.jsonl");
    std::fs::write(&bad_jsonl, "{\"a\": 1}\n{not json\n").unwrap();
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, "1,2\n3,4\n").unwrap();
    let txt = dir.path().join("req.txt");
    std::fs::write(&txt, "hello").unwrap();
    let addr = target::spawn(Behaviour::default());
    let u = url(addr);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "--rate <RATE>"),
        (vec!["--rate".into(), "fast".into()], "expected a rate like 500/s"),
        (
            vec!["--rate".into(), "10/s".into(), "--slo".into(), "p98<1ms".into()],
            "unknown metric",
        ),
        (
            vec!["--rate".into(), "10/s".into(), "--timeout".into(), "0s".into()],
            "--timeout",
        ),
        (vec!["-c".into(), "0".into()], "--concurrency must be at least 1"),
        (
            vec!["-c".into(), "2".into(), "--connections".into(), "4".into()],
            "--connections applies to",
        ),
        (vec!["--sweep".into(), "400,200/s".into()], "rates must increase"),
        (
            vec![
                "--rate".into(),
                "10/s".into(),
                "--input".into(),
                bad_jsonl.display().to_string(),
            ],
            "bad.jsonl:2: not JSON",
        ),
        (
            vec![
                "--rate".into(),
                "10/s".into(),
                "--input".into(),
                rows.display().to_string(),
            ],
            "CSV input needs --model",
        ),
        (
            vec![
                "--rate".into(),
                "10/s".into(),
                "--input".into(),
                txt.display().to_string(),
            ],
            "unknown file type",
        ),
        (
            vec![
                "--rate".into(),
                "10/s".into(),
                "--input".into(),
                "/nonexistent/x.jsonl".into(),
            ],
            "/nonexistent/x.jsonl",
        ),
        (
            vec![
                "--rate".into(),
                "10/s".into(),
                "--save-hdr".into(),
                "/nonexistent/dir/x.hlog".into(),
            ],
            "no such directory",
        ),
    ];
    for (args, want) in cases {
        let out = loadtest(&u).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // A URL that is not plain HTTP.
    loadtest("https://127.0.0.1:1/")
        .args(["--rate", "1/s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("https is not supported"));
}

#[test]
fn model_traffic_from_csv_rows_follows_routing_keys_through_a_canary() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--controller-tick", "100ms"]);
    common::deploy_half_canary(&s);
    let sample = samples("churn_lr");
    let cols = sample["input"]["shape"][1].as_u64().unwrap() as usize;
    let data: Vec<String> = sample["input"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let csv: String = data.chunks(cols).map(|r| r.join(",") + "\n").collect();
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, format!("a,b,c,d\n{csv}")).unwrap();

    let run = |keys: &str, extra: &[&str]| {
        let out = s
            .cli()
            .args(["loadtest", "--model", "churn", "--input"])
            .arg(&rows)
            .args(["-c", "2", "-n", "400", "--routing-keys", keys, "-o", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json_of(&out)
    };
    // One key: sticky, a single variant answers everything.
    let one = run("1", &[]);
    assert_eq!(one["status_codes"], serde_json::json!({"200": 400}));
    let variants = one["variants"].as_object().unwrap();
    assert_eq!(variants.len(), 1, "{variants:?}");
    // Many keys: the 50% canary gets about half.
    for extra in [&[][..], &["--http2"]] {
        let many = run("1000", extra);
        let canary = many["variants"]["2"]["requests"].as_f64().unwrap_or(0.0);
        assert!(
            (120.0..=280.0).contains(&canary),
            "{extra:?}: canary served {canary} of 400"
        );
        assert_eq!(f(&many, "/errors"), 0.0, "{extra:?}");
    }

    // Without --input the request is built from the model's metadata.
    let out = s
        .cli()
        .args([
            "loadtest",
            "--model",
            "churn",
            "--version",
            "1",
            "-c",
            "1",
            "-n",
            "5",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_of(&out)["status_codes"], serde_json::json!({"200": 5}));
}

#[test]
fn ctrl_c_prints_the_partial_report_and_exits_130() {
    let _serial = serial();
    let addr = target::spawn(Behaviour::default());
    let child = std::process::Command::new(bin())
        .args([
            "loadtest",
            &url(addr),
            "--rate",
            "20/s",
            "--duration",
            "60s",
            "-o",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped within the 100 ms check"
    );
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_of(&out);
    assert_eq!(r["interrupted"], true);
    let n = r["requests"].as_u64().unwrap();
    assert!((15..=40).contains(&n), "{n} requests in ~1.5 s at 20/s");
    assert_eq!(
        r["errors"], 0,
        "slots not yet due are not unsent: {}",
        r["errors_by_kind"]
    );
    assert!(f(&r, "/duration_s") < 5.0);
}
