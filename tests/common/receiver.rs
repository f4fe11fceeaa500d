//! A webhook and gate receiver for tests: records every POST (path, signature, delivery
//! id, body), answers `status` (settable), or hangs when told to.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub signature: String,
    pub delivery: i64,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    pub hang: Arc<AtomicBool>,
    /// The HTTP status it answers (200 unless set).
    pub status: Arc<AtomicU16>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver {
            got: Default::default(),
            hang: Default::default(),
            status: Arc::new(AtomicU16::new(200)),
        }
    }
}

impl Receiver {
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn on(&self, path: &str) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.path == path).collect()
    }

    /// Serve on `addr` (a bound std listener) from a thread of its own.
    pub fn serve(&self, listener: std::net::TcpListener) {
        use axum::Router;
        use axum::routing::post;
        let me = self.clone();
        let app = Router::new().route(
            "/{*path}",
            post(
                move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let me = me.clone();
                    async move {
                        if me.hang.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                        me.got.lock().unwrap().push(Received {
                            path: uri.path().to_string(),
                            signature: h("x-mlctl-signature"),
                            delivery: h("x-mlctl-delivery").parse().unwrap_or(-1),
                            body: body.to_vec(),
                        });
                        let code = me.status.load(Ordering::SeqCst);
                        (axum::http::StatusCode::from_u16(code).unwrap(), "ok")
                    }
                },
            ),
        );
        super::serve_in_thread(listener, app);
    }

    pub fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        r.serve(l);
        (r, url)
    }
}

pub fn verify(secret: &str, r: &Received) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    r.signature == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
