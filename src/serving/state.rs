//! Shared gateway state: the durable store, the loaded model versions and the route
//! table (an `ArcSwap`, swapped only after the change it reflects is committed).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use bytes::Bytes;

use super::log::LogSink;
use super::metrics::{LiveLabels, Metrics};
use super::runtime::LoadedVersion;
use crate::error::{Error, Result};
use crate::rollout::host::{Host, Rollouts, Routed};
use crate::rollout::strategy::Strategy;
use crate::rollout::{RolloutState, bucket_ranges};
use crate::store::{DeploymentRecord, RouteChange, Store};
use crate::wire::v2::{InferRequest, Tensor};

/// Gateway settings (from `mlctl serve` flags).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: String,
    /// V2 over gRPC on this address too.
    pub grpc_listen: Option<String>,
    pub data_dir: PathBuf,
    /// The admin token to accept; `None`: the data dir's token file (created on first start).
    pub token: Option<String>,
    pub max_body: usize,
    pub max_blob: usize,
    /// Longest time to receive a request body (408 past it).
    pub body_timeout: Duration,
    /// Connections: how many, and how long one may stay silent.
    pub conn_limits: super::listener::ConnLimits,
    pub require_token_for_inference: bool,
    /// Share of requests whose inputs are written to the prediction log (0..=1).
    pub log_inputs: f64,
    /// Share of feature-view requests whose assembled features are logged (0..=1).
    pub log_features: f64,
    /// `--feature-store`: a shared Redis URL; `None`: the embedded store.
    pub feature_store: Option<String>,
    /// Longest wait for the feature store on a request.
    pub feature_timeout: Duration,
    pub log_policy: super::log::LogPolicy,
    pub default_upstream_timeout: Duration,
    /// Worker threads for the async runtime and permits for concurrent inferences.
    pub inference_threads: usize,
    /// How often the rollout controller evaluates guards and step timers.
    pub controller_tick: Duration,
    /// Longest time a model may take to load on deploy.
    pub load_timeout: Duration,
    /// Largest upstream answer read (502 past it).
    pub max_response: usize,
    /// Request bytes being served at once (503 past it).
    pub max_inflight_bytes: usize,
    /// While the prediction log cannot be written: keep serving (readiness says degraded)
    /// or refuse inference with 503.
    pub on_log_failure: LogFailurePolicy,
    /// Server-wide webhook targets (`--notify`).
    pub notify: Vec<String>,
    /// The webhook signing secret's file [default: `<data>/notify-secret`, created].
    pub notify_secret_file: Option<PathBuf>,
    /// How long one webhook message is retried before it is given up.
    pub notify_retry_for: Duration,
    /// `--state`: the data dir's SQLite file, or a PostgreSQL database shared by replicas.
    pub state: crate::store::StateUrl,
    /// `--replica-id`: this replica's name among those sharing the database (in its log
    /// file names, heartbeats and published statistics).
    pub replica_id: Option<String>,
    /// `--advertise`: the address other replicas and `status` show for this one
    /// [default: the bound address].
    pub advertise: Option<String>,
}

/// `--on-log-failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFailurePolicy {
    /// Keep answering; records are counted as dropped; ready stays 200 with `degraded`.
    Serve,
    /// Answer inference with 503 and ready with 503 until the log writes again.
    Refuse,
}

impl ServeConfig {
    /// `--max-body`, for `read_body`.
    pub fn body_limit(&self) -> super::http::Limit {
        super::http::Limit {
            bytes: self.max_body,
            flag: "--max-body",
        }
    }

    /// The defaults of `mlctl serve`'s flags, for `listen` and `data_dir`.
    pub fn new(listen: impl Into<String>, data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            listen: listen.into(),
            grpc_listen: None,
            data_dir: data_dir.into(),
            token: None,
            max_body: 8 << 20,
            max_blob: 1 << 30,
            body_timeout: Duration::from_secs(30),
            conn_limits: super::listener::ConnLimits {
                max_connections: 4096,
                headroom: 64,
                idle_timeout: Duration::from_secs(30),
            },
            require_token_for_inference: false,
            log_inputs: 0.0,
            log_features: 1.0,
            feature_store: None,
            feature_timeout: Duration::from_millis(100),
            log_policy: super::log::LogPolicy::default(),
            default_upstream_timeout: Duration::from_secs(30),
            inference_threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            controller_tick: Duration::from_secs(1),
            load_timeout: Duration::from_secs(60),
            max_response: 64 << 20,
            max_inflight_bytes: 256 << 20,
            on_log_failure: LogFailurePolicy::Serve,
            notify: Vec::new(),
            notify_secret_file: None,
            notify_retry_for: Duration::from_secs(600),
            state: crate::store::StateUrl::Sqlite,
            replica_id: None,
            advertise: None,
        }
    }
}

/// A routed arm: requests whose bucket is in `[start, end)` go to `version`.
#[derive(Clone)]
pub struct RoutedArm {
    pub version: Arc<LoadedVersion>,
    pub role: String,
    pub start: u16,
    pub end: u16,
}

/// Mirror target of a shadow rollout.
#[derive(Clone)]
pub struct ShadowRoute {
    pub version: Arc<LoadedVersion>,
    pub mirror_pct: f64,
    pub tolerance: f64,
}

/// One model's routes: every loaded version, the stable one, and the rollout's arms.
#[derive(Clone)]
pub struct ModelRoute {
    /// The stable version (serves 100% when there are no arms).
    pub live: Option<Arc<LoadedVersion>>,
    pub salt: String,
    pub versions: BTreeMap<String, Arc<LoadedVersion>>,
    /// Weighted arms of an active rollout (empty: everything to `live`).
    pub arms: Vec<RoutedArm>,
    pub shadow: Option<ShadowRoute>,
    /// The rollout (active or finished) this route reflects.
    pub rollout: Option<Arc<RolloutState>>,
    /// The guards need output scores (drift) / request ids for outcome joins.
    pub track_scores: bool,
    pub track_outcomes: bool,
    /// `--match` rules of the active rollout and the version matched requests go to.
    pub matchers: Vec<crate::rollout::matching::Matcher>,
    pub matched: Option<Arc<LoadedVersion>>,
    /// Matched requests count in the guards' windows (`--guard-include-matched`).
    pub count_matched: bool,
}

impl ModelRoute {
    pub fn new(salt: String) -> Self {
        ModelRoute {
            live: None,
            salt,
            versions: BTreeMap::new(),
            arms: Vec::new(),
            shadow: None,
            rollout: None,
            track_scores: false,
            track_outcomes: false,
            matchers: Vec::new(),
            matched: None,
            count_matched: false,
        }
    }

    /// The version a request goes to by its headers (`--match`), if any rule matches.
    pub fn match_headers(&self, headers: &axum::http::HeaderMap) -> Option<Arc<LoadedVersion>> {
        let target = self.matched.as_ref()?;
        let values =
            |name: &str| -> Vec<&str> { headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect() };
        self.matchers.iter().any(|m| m.matches(values)).then(|| target.clone())
    }

    /// The version and role that serve `bucket`.
    pub fn select(&self, bucket: u16) -> Option<(Arc<LoadedVersion>, &str)> {
        if let Some(a) = self.arms.iter().find(|a| a.start <= bucket && bucket < a.end) {
            return Some((a.version.clone(), a.role.as_str()));
        }
        self.live.clone().map(|v| (v, "stable"))
    }

    /// The step the statistics belong to, when a rollout is active.
    pub fn active_step(&self) -> Option<u64> {
        self.rollout.as_ref().filter(|r| r.phase.active()).map(|r| r.step_id)
    }

    /// Set `live`, `arms`, `shadow` and `rollout` from a deployment row.
    pub fn apply(&mut self, dep: &DeploymentRecord) {
        self.salt = dep.salt.clone();
        self.live = self.versions.get(&dep.live_version).cloned();
        self.arms.clear();
        self.shadow = None;
        self.rollout = dep
            .rollout
            .as_deref()
            .and_then(|j| serde_json::from_str::<RolloutState>(j).ok())
            .map(Arc::new);
        self.track_scores = false;
        self.track_outcomes = false;
        self.matchers.clear();
        self.matched = None;
        self.count_matched = false;
        let Some(r) = self.rollout.clone() else { return };
        if !r.phase.active() {
            return;
        }
        self.track_scores = r.spec.needs_scores();
        self.track_outcomes = r.spec.needs_outcomes();
        let weights = r.weights();
        let ranges = bucket_ranges(&weights.iter().map(|w| w.percent).collect::<Vec<_>>());
        let mut arms = Vec::new();
        for (w, (start, end)) in weights.iter().zip(ranges) {
            match self.versions.get(&w.version) {
                Some(v) => arms.push(RoutedArm {
                    version: v.clone(),
                    role: w.role.clone(),
                    start,
                    end,
                }),
                // A version that failed to load: keep serving the stable version.
                None => return,
            }
        }
        self.arms = arms;
        if !r.spec.matches.is_empty() {
            self.matchers = r
                .spec
                .matches
                .iter()
                .filter_map(crate::rollout::matching::Matcher::new)
                .collect();
            self.matched = self.versions.get(&r.spec.candidate).cloned();
            self.count_matched = r.spec.guard_include_matched;
        }
        if r.spec.strategy == Strategy::Shadow
            && let Some(v) = self.versions.get(&r.spec.candidate)
        {
            self.shadow = Some(ShadowRoute {
                version: v.clone(),
                mirror_pct: r.spec.mirror_pct,
                tolerance: r.spec.tolerance,
            });
        }
    }
}

#[derive(Clone, Default)]
pub struct RouteTable {
    pub models: HashMap<String, ModelRoute>,
}

pub struct AppState {
    pub config: ServeConfig,
    pub token: String,
    pub store: Arc<Mutex<Store>>,
    pub routes: ArcSwap<RouteTable>,
    /// Serialises admin changes (store commit + route swap) against each other.
    pub admin_lock: tokio::sync::Mutex<()>,
    pub metrics: Metrics,
    pub predictions: LogSink,
    pub outcomes: LogSink,
    /// Whether the logs are being written (readiness, `--on-log-failure`).
    pub prediction_log: Arc<super::log::LogHealth>,
    pub outcome_log: Arc<super::log::LogHealth>,
    pub infer_permits: Arc<tokio::sync::Semaphore>,
    pub http: reqwest::Client,
    /// Per-step statistics of active rollouts (read by the guards) and the controller's
    /// latest evaluation per model.
    pub rollouts: Rollouts,
    /// Mirror queue to the shadow worker (bounded; full → drop and count).
    pub shadow_tx: tokio::sync::mpsc::Sender<ShadowJob>,
    /// Versions that are registered but failed to load at start, with the reason.
    pub load_failures: Mutex<LoadFailures>,
    /// Request bytes in flight on the data plane, in KiB (`--max-inflight-bytes`).
    pub inflight_kib: Arc<tokio::sync::Semaphore>,
    /// One model load at a time (see `load_isolated`).
    pub load_permit: Arc<tokio::sync::Semaphore>,
    /// The store's blob directory (blobs are read without holding the store).
    pub blob_dir: PathBuf,
    /// Webhook delivery of rollout transitions (reads the events table).
    pub notifier: Arc<super::notify::Notifier>,
    /// The online feature store that feature views read (`--feature-store`).
    pub features: crate::features::backend::OnlineStore,
    /// Drift monitors, fed by the data plane.
    pub monitors: super::monitor::Monitors,
    /// This gateway as a replica sharing a PostgreSQL database (`None`: a lone gateway).
    pub replica: Option<Arc<super::replica::Replica>>,
}

impl AppState {
    /// Run `f` on the store from the blocking pool (SQLite fsyncs must not stall the
    /// async workers).
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while the store was held rolled its transaction back (rusqlite's
            // Transaction drops as a rollback): the connection is usable, take it back.
            let mut guard = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::State(format!("store task failed: {e}")))?
    }

    /// Publish a new route table (after its change was committed) and update gauges.
    pub fn publish(&self, table: RouteTable) {
        self.metrics.live_weight.clear();
        for (name, route) in &table.models {
            if route.arms.is_empty()
                && let Some(live) = &route.live
            {
                let labels = LiveLabels {
                    model: name.clone(),
                    version: live.version.clone(),
                };
                self.metrics.live_weight.get_or_create(&labels).set(100);
            }
            for a in &route.arms {
                let pct = ((a.end - a.start) as f64 / 100.0).round() as i64;
                self.metrics
                    .live_weight
                    .get_or_create(&LiveLabels {
                        model: name.clone(),
                        version: a.version.version.clone(),
                    })
                    .inc_by(pct);
            }
        }
        self.routes.store(Arc::new(table));
    }
}

impl AppState {
    /// A commit refused because another replica changed the row first: reload now, so
    /// that a retry sees the change; the error is passed on.
    pub fn after_conflict(&self, e: Error) -> Error {
        if let (Error::Conflict(_), Some(rep)) = (&e, &self.replica) {
            rep.reload.notify_one();
        }
        e
    }

    /// The deployment row this gateway routes `model` by, as a compare-and-swap
    /// expectation for a commit.
    pub fn expected(&self, model: &str) -> crate::store::Expected {
        let table = self.routes.load();
        crate::store::Expected(table.models.get(model).and_then(|r| {
            let live = r.live.as_ref()?.version.clone();
            let rollout = r.rollout.as_deref().and_then(|x| serde_json::to_value(x).ok());
            Some((live, rollout))
        }))
    }
}

impl Host for AppState {
    fn routed(&self, model: &str) -> Option<Routed> {
        let table = self.routes.load();
        let route = table.models.get(model)?;
        Some(Routed {
            rollout: route.rollout.as_deref().cloned(),
            live: route.live.as_ref().map(|v| v.version.clone()),
            loaded: route.versions.keys().cloned().collect(),
        })
    }

    fn progressing(&self) -> Vec<String> {
        self.routes
            .load()
            .models
            .iter()
            .filter(|(_, r)| {
                r.rollout
                    .as_ref()
                    .is_some_and(|x| x.phase == crate::rollout::Phase::Progressing)
            })
            .map(|(m, _)| m.clone())
            .collect()
    }

    fn admin_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.admin_lock
    }

    /// The database first (one transaction, fsync'd), then the route swap. Replicas
    /// sharing a database commit only if the deployment row is still the one this
    /// replica routes by, and the controller only with its current leader epoch.
    async fn commit(&self, change: RouteChange) -> Result<()> {
        let model = change.model.clone();
        let labels = super::metrics::TransitionLabels {
            model: model.clone(),
            kind: change.kind.clone(),
        };
        let (expect, fence) = match &self.replica {
            None => (None, None),
            Some(rep) => {
                let fence = (change.actor == crate::rollout::controller::ACTOR).then(|| rep.epoch().unwrap_or(-1));
                (Some(self.expected(&model)), fence)
            }
        };
        let dep = match self
            .with_store(move |s| s.commit_route_if(change, expect.as_ref(), fence))
            .await
        {
            Ok(dep) => dep,
            Err(e) => return Err(self.after_conflict(e)),
        };
        let mut table = (**self.routes.load()).clone();
        if let Some(route) = table.models.get_mut(&model) {
            route.apply(&dep);
        }
        self.publish(table);
        self.metrics.transitions.get_or_create(&labels).inc();
        // After the swap: the webhook workers never hold a route change back.
        self.notifier.wake();
        Ok(())
    }

    fn rollouts(&self) -> &Rollouts {
        &self.rollouts
    }

    /// Replicas: read the others' latest publications of this step (one query).
    async fn refresh_window(&self, model: &str, step_id: u64) {
        let Some(rep) = &self.replica else { return };
        let (m, id) = (model.to_string(), rep.id.clone());
        match self.with_store(move |s| s.step_stats(&m, step_id, &id)).await {
            Ok(rows) => self.rollouts.set_remote(
                model,
                crate::rollout::stats::ModelWindow::merge_published(step_id, &rows),
            ),
            Err(e) => tracing::warn!("replica {}: other replicas' statistics: {e}", rep.id),
        }
    }

    fn is_controller(&self) -> bool {
        self.replica.as_ref().is_none_or(|r| r.epoch().is_some())
    }

    async fn record_event(&self, model: &str, kind: &str, detail: serde_json::Value) -> Result<()> {
        let labels = super::metrics::TransitionLabels {
            model: model.to_string(),
            kind: kind.to_string(),
        };
        let (model, kind) = (model.to_string(), kind.to_string());
        self.with_store(move |s| s.record_event(&model, "controller", &kind, &detail))
            .await?;
        self.metrics.transitions.get_or_create(&labels).inc();
        self.notifier.wake();
        Ok(())
    }

    async fn call_gate(&self, url: &str, payload: serde_json::Value) -> std::result::Result<(), String> {
        let kind = payload["gate"].as_str().unwrap_or("gate").to_string();
        self.notifier.call(url, &format!("gate:{kind}"), &payload).await
    }
}

/// Capacity of the mirror queue to the shadow worker.
pub const SHADOW_QUEUE: usize = 1024;

/// A request mirrored to a shadow version, with the stable version's answer.
pub struct ShadowJob {
    pub model: String,
    pub version: Arc<LoadedVersion>,
    pub step_id: u64,
    pub request: InferRequest,
    pub raw: Bytes,
    pub header_len: Option<String>,
    pub request_id: String,
    pub bucket: u16,
    pub primary: Vec<Tensor>,
    pub tolerance: f64,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Versions that failed to load, by (model, version), with the reason.
pub type LoadFailures = BTreeMap<(String, String), String>;
