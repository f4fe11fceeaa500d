//! Assemble and run the gateway: token, store, restore, routes, graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};

use super::listener::{self, Overflow};
use super::loading::{LoadContext, restore};
use super::log::LogSink;
use super::metrics::Metrics;
use super::notify::{Notifier, NotifyConfig};
use super::replica::Replica;
use super::state::{AppState, SHADOW_QUEUE, ServeConfig, http_client};
use super::{admin, dataplane, http, outcomes};
use crate::error::{Error, Result};
use crate::rollout::replay::{ActiveStep, replay};
use crate::store::{StateUrl, Store, private_dir, private_file};
use crate::wire::TOKEN_FILE;
use crate::wire::log::{LOGS_DIR, LogKind};

/// Read the admin token from `<data>/token`, creating it (256 random bits, hex, mode
/// 0600) on first start. Returns the token and whether it was just created.
pub fn ensure_token(data_dir: &Path) -> Result<(String, bool)> {
    private_dir(data_dir).map_err(|e| Error::io(data_dir, e))?;
    ensure_secret(&data_dir.join(TOKEN_FILE), "token")
}

/// Read a secret file (≥ 32 characters), or create it (0600, 32 random bytes as hex).
pub fn ensure_secret(path: &Path, what: &str) -> Result<(String, bool)> {
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim().len() >= 32 => return Ok((t.trim().to_string(), false)),
        Ok(_) => {
            return Err(Error::State(format!(
                "{}: {what} file is too short (need ≥ 32 characters)",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    use std::io::Write;
    let mut f = private_file()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(token.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, e))?;
    Ok((token, true))
}

/// Build the axum router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v2", get(dataplane::server_metadata))
        .route("/v2/health/live", get(dataplane::live))
        .route("/v2/health/ready", get(dataplane::ready))
        .route("/v2/models/{model}", get(dataplane::model_metadata))
        .route("/v2/models/{model}/ready", get(dataplane::model_ready))
        .route("/v2/models/{model}/infer", post(dataplane::infer_live))
        .route(
            "/v2/models/{model}/versions/{version}",
            get(dataplane::version_metadata),
        )
        .route(
            "/v2/models/{model}/versions/{version}/ready",
            get(dataplane::version_ready),
        )
        .route(
            "/v2/models/{model}/versions/{version}/infer",
            post(dataplane::infer_version),
        )
        .route("/v1/outcomes", post(outcomes::post_outcomes))
        .route("/v1/features/{table}", post(super::features::push))
        .route("/metrics", get(admin::metrics))
        .route("/ui", get(super::ui::page_handler))
        .route("/ui/login", post(super::ui::login))
        .route("/admin/v1/blobs", post(admin::upload_blob))
        .route("/admin/v1/models", get(admin::list_models))
        .route("/admin/v1/notify", get(admin::notify_status))
        .route("/admin/v1/replicas", get(super::replication::list))
        .route(
            "/admin/v1/monitors",
            get(super::monitor_api::list).post(super::monitor_api::add),
        )
        .route(
            "/admin/v1/monitors/{id}",
            axum::routing::delete(super::monitor_api::remove),
        )
        .route("/admin/v1/monitors/{id}/windows", get(super::monitor_api::windows))
        .route("/admin/v1/models/{model}/versions", post(admin::register_version))
        .route("/admin/v1/models/{model}/route", put(admin::set_route))
        .route("/admin/v1/models/{model}/events", get(admin::model_events))
        .route("/admin/v1/models/{model}/rollouts", post(admin::start_rollout))
        .route("/admin/v1/models/{model}/rollout", get(admin::rollout_status))
        .route("/admin/v1/models/{model}/{action}", post(admin::rollout_command))
        .fallback(|| async { http::error(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            http::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .layer(axum::middleware::from_fn(overflow_gate))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// Every error is `{"error": …}`: the framework's own rejections (a path that is not
/// UTF-8, a malformed header value) come as plain text and are wrapped here. The status
/// page's own HTML answers (its login form is a 401) stay HTML.
async fn json_errors(r: Response) -> Response {
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json || !(r.status().is_client_error() || r.status().is_server_error()) {
        return r;
    }
    let (parts, body) = r.into_parts();
    let text = match axum::body::to_bytes(body, 64 << 10).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).trim().to_string(),
        _ => parts.status.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut out = http::error(parts.status, text);
    for (k, v) in parts
        .headers
        .iter()
        .filter(|(k, _)| *k != header::CONTENT_TYPE && *k != header::CONTENT_LENGTH)
    {
        out.headers_mut().insert(k.clone(), v.clone());
    }
    out
}

/// On a connection past `--max-connections`, only health, metrics and admin calls are
/// served (so an operator can still look and roll back); the rest get 503.
async fn overflow_gate(req: Request, next: Next) -> Response {
    if req.extensions().get::<Overflow>().is_some() {
        let path = req.uri().path();
        let exempt = path.starts_with("/v2/health/") || path.starts_with("/admin/") || path == "/metrics";
        if !exempt {
            let r = http::unavailable("too many connections (--max-connections); retry shortly", 1);
            return http::reject(req.into_body(), r).await;
        }
    }
    next.run(req).await
}

/// A running gateway's handles.
pub struct Gateway {
    pub state: Arc<AppState>,
    pub addr: SocketAddr,
    /// Where V2 over gRPC is served (`--grpc-listen`).
    pub grpc_addr: Option<SocketAddr>,
}

/// Open the store, restore every registered version and route, bind, and serve until
/// `shutdown` resolves; then drain in-flight requests and flush and fsync the logs.
/// `on_bound` is called with the bound address once the gateway accepts requests.
pub async fn serve(
    config: ServeConfig,
    on_bound: impl FnOnce(&Gateway, bool),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (token, created) = match &config.token {
        Some(t) => {
            private_dir(&config.data_dir).map_err(|e| Error::io(&config.data_dir, e))?;
            (t.clone(), false)
        }
        None => ensure_token(&config.data_dir)?,
    };
    let data_dir = config.data_dir.clone();
    let http = http_client();
    let remote = match &config.feature_store {
        Some(url) => Some(crate::features::redis::RedisStore::new(url, config.feature_timeout)?),
        None => None,
    };
    let embedded = remote.is_none();
    let (store, table, failures, blob_dir, features, monitors) = {
        let ctx = LoadContext {
            http: http.clone(),
            max_response: config.max_response,
        };
        let state_url = config.state.clone();
        tokio::task::spawn_blocking(move || -> Result<_> {
            let store = Store::open_at(&data_dir, &state_url)?;
            let (table, failures) = restore(&store, &ctx)?;
            let blob_dir = store.blob_dir().to_path_buf();
            let monitors = super::monitor::restore(&store.monitors()?);
            let features = match embedded {
                false => None,
                true => Some(crate::features::online::Embedded::open(&data_dir)?),
            };
            Ok((store, table, failures, blob_dir, features, monitors))
        })
        .await
        .map_err(|e| Error::State(format!("startup task failed: {e}")))??
    };
    let replica_id = config.replica_id.as_deref();
    let logs = config.data_dir.join(LOGS_DIR);
    let metrics = Metrics::new();
    let prediction_log = Arc::new(metrics.log_health(LogKind::Predictions));
    let outcome_log = Arc::new(metrics.log_health(LogKind::Outcomes));
    let (predictions, pred_task) = LogSink::start(
        &logs,
        LogKind::Predictions,
        replica_id,
        config.log_policy,
        prediction_log.clone(),
    )
    .map_err(|e| Error::io(&logs, e))?;
    let (outcomes, out_task) = LogSink::start(
        &logs,
        LogKind::Outcomes,
        replica_id,
        config.log_policy,
        outcome_log.clone(),
    )
    .map_err(|e| Error::io(&logs, e))?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| Error::Usage(format!("--listen {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("--listen {}: {e}", config.listen)))?;
    let grpc_listener = match &config.grpc_listen {
        Some(at) => {
            let l = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| Error::Usage(format!("--grpc-listen {at}: {e}")))?;
            let bound = l
                .local_addr()
                .map_err(|e| Error::Usage(format!("--grpc-listen {at}: {e}")))?;
            Some((l, bound))
        }
        None => None,
    };
    let permits = config.inference_threads.max(1);
    // The in-flight budget must fit at least one largest request.
    let inflight_kib = config.max_inflight_bytes.max(config.max_body).div_ceil(1024);
    let tick = config.controller_tick;
    let (shadow_tx, shadow_rx) = tokio::sync::mpsc::channel(SHADOW_QUEUE);
    let secret_file = config
        .notify_secret_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join(crate::wire::NOTIFY_SECRET_FILE));
    let (secret, _) = ensure_secret(&secret_file, "notify secret")?;
    let store = Arc::new(Mutex::new(store));
    let notifier = Arc::new(Notifier::new(
        NotifyConfig {
            targets: config.notify.clone(),
            secret: secret.into_bytes(),
            retry_for: config.notify_retry_for,
        },
        store.clone(),
        metrics.notify.clone(),
    ));
    let state = Arc::new(AppState {
        token,
        store,
        notifier: notifier.clone(),
        routes: ArcSwap::from_pointee(Default::default()),
        admin_lock: tokio::sync::Mutex::new(()),
        metrics,
        prediction_log,
        outcome_log,
        predictions,
        outcomes,
        infer_permits: Arc::new(tokio::sync::Semaphore::new(permits)),
        http,
        rollouts: Default::default(),
        shadow_tx,
        load_failures: Mutex::new(failures),
        load_permit: Arc::new(tokio::sync::Semaphore::new(1)),
        inflight_kib: Arc::new(tokio::sync::Semaphore::new(inflight_kib)),
        blob_dir,
        features: match (features, remote) {
            (Some(e), _) => crate::features::backend::OnlineStore::Embedded(Arc::new(e)),
            (None, Some(r)) => crate::features::backend::OnlineStore::Redis(Arc::new(r)),
            (None, None) => return Err(Error::State("no feature store".into())),
        },
        monitors: Default::default(),
        replica: match &config.state {
            StateUrl::Postgres(url) => Some(Arc::new(Replica::new(
                config.replica_id.clone().unwrap_or_else(|| "mlctl".into()),
                url.clone(),
            ))),
            StateUrl::Sqlite => None,
        },
        config,
    });
    state.monitors.install(monitors);
    state.publish(table);
    // Evidence of a step interrupted by a restart is rebuilt from the logs before serving.
    {
        let active: Vec<ActiveStep> = state
            .routes
            .load()
            .models
            .iter()
            .filter_map(|(m, r)| ActiveStep::of(m, r.rollout.as_deref()?))
            .collect();
        let (st, dir) = (state.clone(), state.config.data_dir.clone());
        match tokio::task::spawn_blocking(move || replay(&st.rollouts.stats, &active, &dir)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!("rollout statistics: replayed {n} logged records"),
            Ok(Err(e)) => tracing::warn!("rollout statistics could not be replayed from the logs: {e}"),
            _ => {}
        }
    }
    notifier.start().await?;
    let shadow_task = tokio::spawn(super::shadow::worker(state.clone(), shadow_rx));
    let controller = tokio::spawn(crate::rollout::controller::run(state.clone(), tick));
    let replication = match &state.replica {
        Some(rep) => {
            let _ = rep
                .address
                .set(state.config.advertise.clone().unwrap_or_else(|| addr.to_string()));
            tracing::info!(
                "replica {} of {} (routes from the shared database)",
                rep.id,
                state.config.state.redacted()
            );
            super::replication::start(&state, rep)
        }
        None => Vec::new(),
    };
    if let Err(e) = state.features.refresh().await {
        tracing::warn!(
            "feature store {}: {e} (lookups fail or default until it answers)",
            state.features.describe()
        );
    }
    let feature_refresh = tokio::spawn(super::features::refresh_loop(state.clone()));
    let monitor_ticker = tokio::spawn(super::monitor_tick::ticker(state.clone()));
    let gateway = Gateway {
        state: state.clone(),
        addr,
        grpc_addr: grpc_listener.as_ref().map(|(_, a)| *a),
    };
    on_bound(&gateway, created);
    let app = router(state.clone());
    let limits = state.config.conn_limits.fit(listener::raise_fd_limit());
    // One shutdown for both listeners; each drains its own connections.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let grpc_task = grpc_listener.map(|(l, _)| {
        let app = super::grpc::router(state.clone());
        tokio::spawn(listener::serve(l, app, limits, stopped(), Duration::from_secs(30)))
    });
    let http = listener::serve(listener, app, limits, stopped(), Duration::from_secs(30));
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(http, signal);
    if let Some(t) = grpc_task {
        let _ = t.await;
    }
    controller.abort();
    for task in replication {
        task.abort();
    }
    shadow_task.abort();
    feature_refresh.abort();
    monitor_ticker.abort();
    // Drained: write out the logs (flush + fsync) and stop their writers.
    state.predictions.stop().await;
    state.outcomes.stop().await;
    let _ = pred_task.await;
    let _ = out_task.await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
