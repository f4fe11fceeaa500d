//! Test helpers: a real `mlctl serve` child process on 127.0.0.1 with a free port and a
//! temporary data dir, stopped (SIGTERM, then kill) when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mlctl"))
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub token: String,
}

impl Server {
    /// Start on a free port in `data_dir` with extra serve flags; waits for readiness.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mlctl serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("mlctl: listening on ") {
                        break rest.trim().to_string();
                    }
                }
                _ => panic!("mlctl serve exited before listening"),
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let token = std::fs::read_to_string(data_dir.join("token"))
            .expect("token file")
            .trim()
            .to_string();
        let s = Server {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            token,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get_ok(&format!("{}/v2/health/ready", self.url)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gateway at {} never became ready", self.url);
    }

    /// `mlctl` with --endpoint/--token/--data-dir pointing at this server.
    pub fn cli(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(bin());
        c.env("MLCTL_ENDPOINT", &self.url)
            .env("MLCTL_TOKEN", &self.token)
            .env("MLCTL_DATA_DIR", &self.data_dir)
            .env("NO_COLOR", "1");
        c
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::mem::forget(self);
        code
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal blocking GET over std TCP (no client dependency), true on HTTP 200.
pub fn http_get_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

/// Deploy a fixture model through the CLI; panics with its stderr on failure.
pub fn deploy(server: &Server, name: &str, version: &str, fixture_model: &str) {
    server
        .cli()
        .args(["deploy", name, "--version", version, "--onnx"])
        .arg(fixture(&format!("models/{fixture_model}.onnx")))
        .assert()
        .success();
}

pub fn samples(model: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture(&format!("models/{model}.samples.json"))).unwrap()).unwrap()
}
