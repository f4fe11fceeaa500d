//! The gateway as the last thing standing: connection limits, idle and slow clients, early
//! answers clients can read, tokens from flags and files, private files. Each test runs a
//! real `mlctl serve` process.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{Server, deploy, http_get_ok};

fn addr(s: &Server) -> String {
    s.url.trim_start_matches("http://").to_string()
}

/// Whether the server closed `conn` (EOF or reset) within `within`.
fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    conn.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Send raw bytes, then read the whole answer (the server closes after it).
fn raw_exchange(s: &Server, request: &[u8]) -> String {
    raw_to(&addr(s), request)
}

fn raw_to(addr: &str, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Write everything before reading, as urllib does; a server that closed early breaks
    // this write or the read below.
    c.write_all(request).expect("the server lets the client finish writing");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if let Some(body_start) = find(&out, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&out[..body_start]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if out.len() >= body_start + 4 + len {
                        break;
                    }
                }
            }
            Err(e) => panic!(
                "reading the answer failed: {e} (got {:?})",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--idle-timeout", "1s", "--body-timeout", "1s"]);
    let started = Instant::now();
    let mut idle = TcpStream::connect(addr(&s)).unwrap();
    let mut half_head = TcpStream::connect(addr(&s)).unwrap();
    half_head
        .write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)),
        "idle connection closed"
    );
    assert!(
        closed_within(&mut half_head, Duration::from_secs(5)),
        "half-sent head closed"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    // A kept-alive connection that answered once and then stays silent is closed too.
    let mut kept = TcpStream::connect(addr(&s)).unwrap();
    kept.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = kept.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut kept, Duration::from_secs(5)),
        "idle keep-alive closed"
    );
    // A half-sent body gets 408 once --body-timeout passes.
    let mut half_body = TcpStream::connect(addr(&s)).unwrap();
    half_body
        .write_all(b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inp")
        .unwrap();
    // Unknown model answers 404 only after draining: the drain gives up with the timeout.
    half_body.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 2048];
    let n = half_body.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 404") || answer.is_empty(), "{answer}");
    assert!(http_get_ok(&format!("{}/v2/health/ready", s.url)));
}

#[test]
fn a_half_sent_body_to_a_real_model_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--body-timeout", "1s"]);
    deploy(&s, "churn", "1", "churn_lr");
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.write_all(b"POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inp")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 2048];
    let n = c.read(&mut buf).unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("--body-timeout"), "{answer}");
}

#[test]
fn past_max_connections_health_and_admin_answer_and_inference_gets_503() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--max-connections", "20", "--idle-timeout", "60s"]);
    deploy(&s, "churn", "1", "churn_lr");
    let hogs: Vec<TcpStream> = (0..25).map(|_| TcpStream::connect(addr(&s)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        http_get_ok(&format!("{}/v2/health/ready", s.url)),
        "health still answers"
    );
    let infer = format!(
        "POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        BODY.len(),
        BODY
    );
    let answer = raw_exchange(&s, infer.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    // The operator can still act: an admin call on an overflow connection works.
    s.cli().args(["status", "-o", "json"]).assert().success();
    drop(hogs);
    std::thread::sleep(Duration::from_millis(300));
    let answer = raw_exchange(&s, infer.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

const BODY: &str = r#"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1.2,55.0,-0.9,530.0]}]}"#;

#[test]
fn early_401_and_413_are_readable_by_clients_that_write_the_whole_body_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--max-body", "64KiB"]);
    deploy(&s, "churn", "1", "churn_lr");
    let big = vec![b'x'; 2 << 20];
    let answer = post_bytes(&s, "/admin/v1/blobs", &big, "");
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(answer.contains("\"error\""));
    let answer = post_bytes(&s, "/v2/models/churn/infer", &big, "");
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(answer.contains("--max-body"));
}

#[test]
fn method_and_path_errors_are_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let answer = raw_exchange(
        &s,
        b"DELETE /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(answer.contains("{\"error\""), "{answer}");
    let answer = raw_exchange(&s, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 404") && answer.contains("{\"error\""),
        "{answer}"
    );
}

const GIVEN: &str = "0123456789abcdef0123456789abcdef-given";

#[test]
fn serve_takes_its_token_from_a_file_or_the_environment_and_the_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin.token");
    std::fs::write(&file, format!("{GIVEN}\n")).unwrap();
    let data = dir.path().join("data");
    let s = Server::start_with(&data, &["--token-file", file.to_str().unwrap()], &[], Some(GIVEN));
    assert!(
        !data.join("token").exists(),
        "no token file is generated when one is given"
    );
    s.cli().args(["status"]).assert().success();
    s.cli()
        .env("MLCTL_TOKEN", "x".repeat(40))
        .args(["status"])
        .assert()
        .code(3);
    let lower = format!(
        "GET /admin/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: bearer {GIVEN}\r\nConnection: close\r\n\r\n"
    );
    let answer = raw_exchange(&s, lower.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(s);

    let data2 = dir.path().join("data2");
    let s = Server::start_with(&data2, &[], &[("MLCTL_TOKEN", GIVEN)], Some(GIVEN));
    s.cli().args(["status"]).assert().success();
    drop(s);

    let short = assert_cmd::Command::new(common::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data3"))
        .env("MLCTL_TOKEN", "short")
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&short.get_output().stderr).into_owned();
    assert!(err.contains("at least 32"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_data_dir_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    // A permissive umask for the server process.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' serve --listen 127.0.0.1:0 --data-dir '{}'",
            common::bin().display(),
            data.display()
        ))
        .env_remove("MLCTL_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("token")), 0o600);
    assert_eq!(mode(&data.join("mlctl.db")), 0o600);
    assert_eq!(mode(&data.join("logs")), 0o700);
    assert_eq!(mode(&data.join("blobs")), 0o700);
    let _ = child.kill();
    let _ = child.wait();
}

/// Write `bytes` as an ONNX file in `dir`.
fn onnx_file(dir: &std::path::Path, name: &str, bytes: Vec<u8>) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[cfg(feature = "onnx")]
#[test]
fn allocation_bombs_are_refused_and_rollback_and_serving_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    deploy(&s, "churn", "1", "churn_lr");
    deploy(&s, "churn", "2", "churn_lr_bad");
    for (v, bytes, needle) in [
        ("3", common::onnx_gen::allocation_bomb(), "limit is"),
        ("4", common::onnx_gen::allocation_bomb_indirect(), "ONNX loader failed"),
    ] {
        let path = onnx_file(dir.path(), &format!("bomb{v}.onnx"), bytes);
        let out = s
            .cli()
            .args(["deploy", "churn", "--version", v, "--onnx"])
            .arg(&path)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(needle), "version {v}: {err}");
    }
    // The gateway is intact: rollback works, the stable version serves.
    s.cli()
        .args(["rollback", "churn", "--to", "1", "--reason", "bomb drill"])
        .assert()
        .success();
    let answer = raw_exchange(
        &s,
        format!(
            "POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            BODY.len()
        )
        .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-mlctl-variant: 1"), "{answer}");
}

#[cfg(feature = "onnx")]
#[test]
fn a_slow_model_load_fails_its_deploy_only_and_rollback_works_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &["--load-timeout", "2s"]);
    deploy(&s, "churn", "1", "churn_lr");
    deploy(&s, "churn", "2", "churn_lr_bad");
    let chain = onnx_file(dir.path(), "chain.onnx", common::onnx_gen::chain(10_000));
    let mut slow = s.cli();
    slow.args(["deploy", "churn", "--version", "3", "--onnx"]).arg(&chain);
    let loading = std::thread::spawn(move || slow.assert().code(2).get_output().stderr.clone());
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    s.cli()
        .args(["rollback", "churn", "--to", "1", "--reason", "while a model loads"])
        .assert()
        .success();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "rollback waited {:?}",
        t.elapsed()
    );
    let err = String::from_utf8_lossy(&loading.join().unwrap()).into_owned();
    assert!(err.contains("--load-timeout"), "{err}");
    s.cli().args(["status", "churn", "-o", "json"]).assert().success();
}

fn post_json(s: &Server, path: &str, body: &str, extra_headers: &str) -> String {
    post_bytes(
        s,
        path,
        body.as_bytes(),
        &format!("Content-Type: application/json\r\n{extra_headers}"),
    )
}

/// POST `body` (written whole before the answer is read) and return the answer.
fn post_bytes(s: &Server, path: &str, body: &[u8], extra_headers: &str) -> String {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw_exchange(s, &req)
}

#[test]
fn repeated_outputs_and_oversized_ids_are_refused_without_growing_memory() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    deploy(&s, "churn", "1", "churn_lr");
    // 10 000 rows, the same output asked 1000 times: once made a 390 MB answer.
    let rows: Vec<String> = (0..10_000).map(|_| "1.2,55.0,-0.9,530.0".to_string()).collect();
    let outputs: Vec<&str> = (0..1000).map(|_| r#"{"name":"probabilities"}"#).collect();
    let body = format!(
        r#"{{"inputs":[{{"name":"input","shape":[10000,4],"datatype":"FP32","data":[{}]}}],"outputs":[{}]}}"#,
        rows.join(","),
        outputs.join(",")
    );
    let answer = post_json(&s, "/v2/models/churn/infer", &body, "");
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "{}",
        &answer[..200.min(answer.len())]
    );
    assert!(answer.contains("requested more than once"), "{answer}");
    let long = "k".repeat(300);
    let answer = post_json(&s, "/v2/models/churn/infer", BODY, &format!("x-mlctl-key: {long}\r\n"));
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("routing key"),
        "{answer}"
    );
    let answer = post_json(&s, "/v2/models/churn/infer", BODY, &format!("x-request-id: {long}\r\n"));
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("x-request-id"),
        "{answer}"
    );
    let with_id = BODY.replacen('{', &format!("{{\"id\":\"{long}\","), 1);
    let answer = post_json(&s, "/v2/models/churn/infer", &with_id, "");
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("request id"),
        "{answer}"
    );
    let rss = common::peak_rss_mib(s.child.id()).unwrap_or(0.0);
    assert!(rss < 400.0, "peak RSS {rss:.0} MiB");
}

#[test]
fn a_huge_upstream_answer_is_refused_with_502_and_never_buffered_whole() {
    let bad = common::start_bad_upstream();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--max-response", "4MiB"]);
    common::deploy_upstream(&s, "huge", "1", &bad, &[]);
    let before = common::peak_rss_mib(s.child.id()).unwrap_or(0.0);
    for _ in 0..3 {
        let answer = post_json(&s, "/v2/models/huge/infer", BODY, "");
        assert!(
            answer.starts_with("HTTP/1.1 502"),
            "{}",
            &answer[..200.min(answer.len())]
        );
        assert!(answer.contains("--max-response"), "{answer}");
    }
    let after = common::peak_rss_mib(s.child.id()).unwrap_or(0.0);
    assert!(
        after - before < 64.0,
        "peak RSS grew from {before:.0} to {after:.0} MiB"
    );
    // Nothing of it was logged either.
    let logs = std::fs::read_dir(dir.path().join("logs")).unwrap();
    let total: u64 = logs.map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(total < 1 << 20, "logs hold {total} bytes");
}

#[test]
fn past_the_in_flight_byte_budget_requests_get_503_with_retry_after() {
    let bad = common::start_bad_upstream();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--max-inflight-bytes", "1MiB", "--max-body", "1MiB"]);
    common::deploy_upstream(&s, "slow", "1", &bad, &["--timeout", "2s"]);
    let pad = " ".repeat(700 << 10);
    let big = format!("{BODY}{pad}");
    let first = {
        let (a, req) = (
            addr(&s),
            format!(
                "POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
                big.len()
            ),
        );
        std::thread::spawn(move || raw_to(&a, req.as_bytes()))
    };
    std::thread::sleep(Duration::from_millis(500));
    let answer = post_json(&s, "/v2/models/slow/infer", &big, "");
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "{}",
        &answer[..200.min(answer.len())]
    );
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));
    assert!(answer.contains("--max-inflight-bytes"));
    // Small requests still fit beside the big one.
    let small = post_json(&s, "/v2/models/nothing/infer", BODY, "");
    assert!(small.starts_with("HTTP/1.1 404"), "{small}");
    let first = first.join().unwrap();
    assert!(
        first.starts_with("HTTP/1.1 504"),
        "the first one ran (and the slow upstream timed out): {first}"
    );
}

#[cfg(feature = "onnx")]
#[test]
fn answers_too_large_to_log_are_logged_without_their_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--log-flush", "10ms"]);
    deploy(&s, "churn", "1", "churn_lr");
    let rows: Vec<&str> = (0..40_000).map(|_| "1.2,55.0,-0.9,530.0").collect();
    let body = format!(
        r#"{{"id":"big","inputs":[{{"name":"input","shape":[40000,4],"datatype":"FP32","data":[{}]}}]}}"#,
        rows.join(",")
    );
    let answer = post_json(&s, "/v2/models/churn/infer", &body, "");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..200.min(answer.len())]
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("predictions-"))
        .unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    let rec: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(rec["request_id"], "big");
    assert_eq!(rec["outputs_omitted"], true);
    assert!(rec["outputs"].is_null());
    assert!(text.len() < 10_000, "the record is small: {} bytes", text.len());
}

/// Today's (UTC) log file name of `kind`.
fn todays(kind: &str) -> String {
    format!("{kind}-{}.jsonl", chrono::Utc::now().format("%Y%m%d"))
}

fn metric(s: &Server, line_start: &str) -> f64 {
    let answer = raw_exchange(s, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    answer
        .lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn ready(s: &Server) -> (u16, serde_json::Value) {
    let answer = raw_exchange(
        s,
        b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// Point today's log files at /dev/full: every write fails with ENOSPC, as on a full disk.
#[cfg(unix)]
fn fill_disk(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    ["predictions", "outcomes"]
        .iter()
        .map(|k| {
            let p = data.join("logs").join(todays(k));
            let _ = std::fs::remove_file(&p);
            std::os::unix::fs::symlink("/dev/full", &p).unwrap();
            p
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn with_a_full_disk_outcomes_are_refused_not_lost_and_prediction_losses_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--log-flush", "10ms", "--log-fsync", "50ms"]);
    deploy(&s, "churn", "1", "churn_lr");
    let full = fill_disk(dir.path());
    let auth = format!("Authorization: Bearer {}\r\n", s.token);
    let outcome = r#"[{"request_id":"r1","metric":"converted","value":1},{"key":"u2","metric":"converted","value":0}]"#;
    let answer = post_json(&s, "/v1/outcomes", outcome, &auth);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("outcomes not stored"), "{answer}");
    for _ in 0..20 {
        let answer = post_json(&s, "/v2/models/churn/infer", BODY, "");
        assert!(answer.starts_with("HTTP/1.1 200"), "serving goes on: {answer}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(metric(&s, "mlctl_log_dropped_total{log=\"predictions\"} ") >= 20.0);
    assert!(metric(&s, "mlctl_log_write_errors_total{log=\"predictions\"} ") >= 1.0);
    let (st, body) = ready(&s);
    assert_eq!(st, 200, "{body}");
    assert!(body["degraded"].as_array().is_some_and(|d| !d.is_empty()), "{body}");
    // Space is freed: the next records are written and the outcome retry is stored.
    for p in &full {
        std::fs::remove_file(p).unwrap();
    }
    let answer = post_json(&s, "/v2/models/churn/infer", BODY, "x-request-id: after\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"));
    let answer = post_json(&s, "/v1/outcomes", outcome, &auth);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    std::thread::sleep(Duration::from_millis(300));
    let (_, body) = ready(&s);
    assert_eq!(body["degraded"], serde_json::json!([]), "{body}");
    let logs = dir.path().join("logs");
    let stored = std::fs::read_to_string(logs.join(todays("outcomes"))).unwrap();
    // Blank lines are the writer's probes while the disk was full (readers skip them).
    let records = stored.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(records, 2, "{stored}");
    let preds = std::fs::read_to_string(logs.join(todays("predictions"))).unwrap();
    assert!(preds.contains("\"after\""), "{preds}");
}

#[cfg(unix)]
#[test]
fn with_on_log_failure_refuse_inference_and_readiness_answer_503_while_the_log_fails() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--log-flush", "10ms", "--on-log-failure", "refuse"]);
    deploy(&s, "churn", "1", "churn_lr");
    let full = fill_disk(dir.path());
    let first = post_json(&s, "/v2/models/churn/infer", BODY, "");
    assert!(
        first.starts_with("HTTP/1.1 200"),
        "the failure is not known yet: {first}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let answer = post_json(&s, "/v2/models/churn/infer", BODY, "");
    assert!(
        answer.starts_with("HTTP/1.1 503") && answer.contains("--on-log-failure"),
        "{answer}"
    );
    assert_eq!(ready(&s).0, 503);
    for p in &full {
        std::fs::remove_file(p).unwrap();
    }
    // Space is back: the writer's probe notices within a sync interval (1 s).
    let deadline = Instant::now() + Duration::from_secs(5);
    while ready(&s).0 != 200 {
        assert!(Instant::now() < deadline, "readiness never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = post_json(&s, "/v2/models/churn/infer", BODY, "");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn an_outcome_from_the_future_is_refused_and_ts_does_not_pick_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let auth = format!("Authorization: Bearer {}\r\n", s.token);
    let future = r#"{"request_id":"r","metric":"m","value":1,"ts":"9999-12-31T00:00:00Z"}"#;
    let answer = post_json(&s, "/v1/outcomes", future, &auth);
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("in the future"),
        "{answer}"
    );
    let old = r#"{"request_id":"r","metric":"m","value":1,"ts":"2020-01-01T00:00:00Z"}"#;
    let answer = post_json(&s, "/v1/outcomes", old, &auth);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&todays("outcomes")), "{names:?}");
    assert!(
        !names.iter().any(|n| n.contains("2020") || n.contains("9999")),
        "{names:?}"
    );
}

#[test]
fn names_are_checked_before_upload_and_cannot_reach_another_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    deploy(&s, "good", "1", "churn_lr");
    let model = common::fixture("models/churn_lr.onnx");
    for (name, version) in [
        ("zzz/../good", "9"),
        ("good", "../9"),
        ("good?x=1", "9"),
        (".hidden", "1"),
    ] {
        let out = s
            .cli()
            .args(["deploy", name, "--version", version, "--onnx"])
            .arg(&model)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains("expected 1-64 characters"), "{name}/{version}: {err}");
    }
    let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert_eq!(blobs, 1, "only the first model's blob was uploaded");
    // Names that are valid but unusual still travel as one path segment each.
    s.cli().args(["status", "good", "-o", "json"]).assert().success();
    s.cli().args(["history", "no.such-model_1"]).assert().code(2);
}

#[cfg(feature = "onnx")]
#[test]
fn a_version_with_another_signature_needs_allow_signature_change_and_a_same_route_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    deploy(&s, "churn", "1", "churn_lr");
    let events = |s: &Server| {
        let out = s.cli().args(["history", "churn", "-o", "json"]).assert().success();
        let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        v["events"].as_array().unwrap().len()
    };
    let before = events(&s);
    // The live version again: nothing changes, nothing is written.
    s.cli()
        .args(["deploy", "churn", "--version", "1", "--onnx"])
        .arg(common::fixture("models/churn_lr.onnx"))
        .assert()
        .success();
    assert_eq!(events(&s), before, "re-routing the live version wrote an event");
    let other = common::fixture("models/price_rf.onnx");
    for extra in [
        &[][..],
        &["--strategy", "canary", "--steps", "50,100", "--interval", "1h"][..],
    ] {
        let out = s
            .cli()
            .args(["deploy", "churn", "--version", "2", "--onnx"])
            .arg(&other)
            .args(extra)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains("another signature") && err.contains("--allow-signature-change"),
            "{err}"
        );
    }
    s.cli()
        .args([
            "deploy",
            "churn",
            "--version",
            "2",
            "--allow-signature-change",
            "--onnx",
        ])
        .arg(&other)
        .assert()
        .success();
    let out = s.cli().args(["status", "churn", "-o", "json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["models"][0]["live_version"], "2");
}

#[test]
fn framework_rejections_are_json_errors_too() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    // A path segment that is not UTF-8 (%FF) reaches the extractor and is rejected.
    let answer = raw_exchange(
        &s,
        b"GET /v2/models/%FF/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("application/json") && answer.contains("{\"error\""),
        "{answer}"
    );
}

#[test]
fn a_blob_id_that_is_not_a_sha256_is_a_400_not_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let auth = format!("Authorization: Bearer {}\r\n", s.token);
    let answer = post_json(
        &s,
        "/admin/v1/models/m/versions",
        r#"{"version":"1","onnx_sha256":"../../token"}"#,
        &auth,
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("64 hex digits"), "{answer}");
}

#[test]
fn the_gateway_log_has_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(common::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "mlctl=debug")
        .env_remove("NO_COLOR")
        .env_remove("MLCTL_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let url = line.trim().trim_start_matches("mlctl: listening on ").to_string();
    // Something for the log to say: a request to an unknown model and a bad token.
    let _ = common::http_get_ok(&format!("{url}/v2/models/none/ready"));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("mlctl"), "the gateway logged something: {err}");
    assert!(!err.contains('\u{1b}'), "escape codes in a piped log: {err:?}");
}
