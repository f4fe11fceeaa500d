//! The accept loop: hyper connections with the gateway's connection limits.
//!
//! - Every connection must send a request head within `idle_timeout` — on a fresh
//!   connection and between keep-alive requests alike (hyper's header-read timer), so idle
//!   and half-sent-header connections are closed instead of holding a descriptor forever.
//! - At most `max_connections` are served normally. Past that, `headroom` more are accepted
//!   with keep-alive off and marked `Overflow`: health, metrics and admin calls on them are
//!   answered (an operator can still roll back), anything else gets 503 with `Retry-After`.
//!   Past the headroom, new connections are closed at once. The soft limit on open files is
//!   raised towards the hard limit at start, and `max_connections` is lowered to fit under it.
//! - Accept errors (out of descriptors) pause accepting briefly instead of spinning.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Connection limits of `serve`.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    /// Connections accepted past `max_connections` for health, metrics and admin calls.
    pub headroom: usize,
    /// Longest wait for a request head (fresh or keep-alive connection).
    pub idle_timeout: Duration,
}

/// Marks a request that arrived on a connection past `max_connections`.
#[derive(Debug, Clone, Copy)]
pub struct Overflow;

/// Raise the soft open-files limit towards the hard one (unix) and return how many
/// descriptors the process may hold.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let (soft, hard) = rlimit::Resource::NOFILE.get().ok()?;
        let want = hard.min(1 << 20);
        if want > soft && rlimit::Resource::NOFILE.set(want, hard).is_ok() {
            return Some(want);
        }
        Some(soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

impl ConnLimits {
    /// Fit the limits under `fd_limit` descriptors, keeping 128 for the store, logs,
    /// blobs and upstream connections.
    pub fn fit(mut self, fd_limit: Option<u64>) -> ConnLimits {
        if let Some(fds) = fd_limit {
            let usable = (fds as usize).saturating_sub(128).max(16);
            self.headroom = self.headroom.min(usable / 4).max(1);
            self.max_connections = self.max_connections.min(usable - self.headroom).max(1);
        }
        self
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting and let open
/// connections finish their requests (at most `drain` long).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.idle_timeout);
    let mut overflow_builder = builder.clone();
    overflow_builder.http1().keep_alive(false);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let active = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE/ENFILE and friends: back off instead of spinning.
                tracing::warn!("accept error: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = ConnSlot::take(&active);
        if slot.n > limits.max_connections + limits.headroom {
            continue; // dropped: closed at once
        }
        let overflow = slot.n > limits.max_connections;
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            if overflow {
                req.extensions_mut().insert(Overflow);
            }
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(req.map(Body::new)).await.unwrap_or_else(|e| match e {})) }
        });
        let b = if overflow {
            overflow_builder.clone()
        } else {
            builder.clone()
        };
        let watcher = graceful.watcher();
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            // hyper's header timer starts once it knows the protocol, which takes a first
            // byte: a connection that never sends one is closed here.
            let mut first = [0u8; 1];
            if !matches!(tokio::time::timeout(idle, stream.peek(&mut first)).await, Ok(Ok(n)) if n > 0) {
                return;
            }
            let conn = b.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = super::repoll::Repoll::new(watcher.watch(conn.into_owned())).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {drain:?}; closing them");
    }
}

/// One counted connection; the count goes down when it is dropped.
struct ConnSlot {
    active: Arc<AtomicUsize>,
    n: usize,
}

impl ConnSlot {
    fn take(active: &Arc<AtomicUsize>) -> ConnSlot {
        let n = active.fetch_add(1, Ordering::AcqRel) + 1;
        ConnSlot {
            active: active.clone(),
            n,
        }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}
