//! A small HTTP server with known behaviour, for `mlctl loadtest`'s tests and benchmarks:
//! a fixed delay, a global stall of S every P (the first S of each period P, like a GC
//! pause: everything arriving then waits for it to end), an HTTP error every Nth request,
//! and round-robin `x-mlctl-variant` headers.
//!
//! ```text
//! cargo run --release --example loadtest_target -- --listen 127.0.0.1:0 --stall-every 2s --stall-for 1s
//! ```
//! Prints `listening on http://ADDR` once bound. The tests include this file as a module.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Added to every answer.
    pub delay: Duration,
    /// Period of the stall (none when zero).
    pub stall_every: Duration,
    /// Length of the stall at the start of each period.
    pub stall_for: Duration,
    /// Every Nth request (1-based count) answers `error_status` (none when zero).
    pub error_every: u64,
    pub error_status: u16,
    /// `x-mlctl-variant` values, assigned round-robin by request count.
    pub variants: Vec<String>,
    /// The first `slow_first` requests take `slow_for` longer (a cold start).
    pub slow_first: u64,
    pub slow_for: Duration,
    /// When set, requests must match (method, header `name: value`, body) or get a 400.
    pub expect: Option<Expect>,
}

#[derive(Debug, Clone)]
pub struct Expect {
    pub method: String,
    pub header: (String, String),
    pub body: Vec<u8>,
}

struct State {
    behaviour: Behaviour,
    t0: Instant,
    count: AtomicU64,
}

async fn answer(state: Arc<State>, req: axum::extract::Request) -> Response {
    let b = &state.behaviour;
    if let Some(e) = &b.expect {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
        let header_ok = parts
            .headers
            .get(e.header.0.as_str())
            .is_some_and(|v| v == e.header.1.as_str());
        if parts.method.as_str() != e.method || !header_ok || body.as_ref() != e.body.as_slice() {
            return (StatusCode::BAD_REQUEST, "unexpected request").into_response();
        }
    }
    let n = state.count.fetch_add(1, Ordering::Relaxed) + 1;
    if !b.stall_every.is_zero() {
        let period = b.stall_every.as_nanos();
        let phase = Duration::from_nanos((state.t0.elapsed().as_nanos() % period) as u64);
        if phase < b.stall_for {
            tokio::time::sleep(b.stall_for - phase).await;
        }
    }
    if !b.delay.is_zero() {
        tokio::time::sleep(b.delay).await;
    }
    if n <= b.slow_first {
        tokio::time::sleep(b.slow_for).await;
    }
    let status = if b.error_every > 0 && n.is_multiple_of(b.error_every) {
        StatusCode::from_u16(b.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    } else {
        StatusCode::OK
    };
    let mut resp = (status, "{\"ok\":true}").into_response();
    if !b.variants.is_empty() {
        let v = &b.variants[((n - 1) % b.variants.len() as u64) as usize];
        if let Ok(h) = HeaderValue::from_str(v) {
            resp.headers_mut().insert("x-mlctl-variant", h);
        }
    }
    resp
}

/// Serve on `listen` until the process ends; returns the bound address via `on_bound`.
pub async fn serve(listen: &str, behaviour: Behaviour, on_bound: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let state = Arc::new(State {
        behaviour,
        t0: Instant::now(),
        count: AtomicU64::new(0),
    });
    let app = Router::new().fallback(move |req: axum::extract::Request| answer(state.clone(), req));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, app).await
}

/// Start a server on 127.0.0.1 with a free port on its own thread and runtime.
pub fn spawn(behaviour: Behaviour) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test server runtime");
        rt.block_on(async move {
            let _ = serve("127.0.0.1:0", behaviour, |a| {
                let _ = tx.send(a);
            })
            .await;
        });
    });
    rx.recv().expect("test server bound")
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn duration(args: &[String], name: &str) -> Duration {
    flag(args, name)
        .map(|v| humantime::parse_duration(v).unwrap_or_else(|e| panic!("{name} {v}: {e}")))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let behaviour = Behaviour {
        delay: duration(&args, "--delay"),
        stall_every: duration(&args, "--stall-every"),
        stall_for: duration(&args, "--stall-for"),
        error_every: flag(&args, "--error-every").and_then(|v| v.parse().ok()).unwrap_or(0),
        error_status: flag(&args, "--error-status")
            .and_then(|v| v.parse().ok())
            .unwrap_or(500),
        variants: flag(&args, "--variants")
            .map(|v| v.split(',').map(String::from).collect())
            .unwrap_or_default(),
        slow_first: flag(&args, "--slow-first").and_then(|v| v.parse().ok()).unwrap_or(0),
        slow_for: duration(&args, "--slow-for"),
        expect: None,
    };
    let listen = flag(&args, "--listen").unwrap_or("127.0.0.1:0").to_string();
    serve(&listen, behaviour, |a| {
        println!("listening on http://{a}");
    })
    .await
}
